package main

import (
	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/workflow"
)

func rollbackCommand() *cli.Command {
	return &cli.Command{
		Name:      "rollback",
		Usage:     "undo a run's steps, latest first; run again to continue an interrupted rollback",
		ArgsUsage: "RUN-ID",
		Flags:     append(append([]cli.Flag{&cli.StringFlag{Name: "to", Usage: "unwind only what came after `STEP`"}}, decisionFlags()...), engineFlags()...),
		Action: func(c *cli.Context) error {
			return onRun(c, "hamnflow rollback RUN-ID [--to STEP]", func(w *wired, id string) error {
				err := w.engine.Rollback(c.Context, id, workflow.RollbackOptions{
					To: c.String("to"), AssumeDone: c.StringSlice("assume-done"), Redo: c.StringSlice("redo"),
				})
				return finish(c, w, id, err, "rolled back")
			})
		},
	}
}
