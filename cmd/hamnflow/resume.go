package main

import (
	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/workflow"
)

func resumeCommand() *cli.Command {
	return &cli.Command{
		Name:      "resume",
		Usage:     "continue a run that failed, was interrupted or killed, or waits for an operator",
		ArgsUsage: "RUN-ID",
		Flags:     append(decisionFlags(), engineFlags()...),
		Action: func(c *cli.Context) error {
			return onRun(c, "hamnflow resume RUN-ID [--assume-done STEP] [--redo STEP]", func(w *wired, id string) error {
				err := w.engine.Resume(c.Context, id, workflow.ResumeOptions{AssumeDone: c.StringSlice("assume-done"), Redo: c.StringSlice("redo")})
				return finish(c, w, id, err, "succeeded")
			})
		},
	}
}
