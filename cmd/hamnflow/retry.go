package main

import "github.com/urfave/cli/v2"

func retryCommand() *cli.Command {
	return &cli.Command{
		Name:      "retry",
		Usage:     "run a step of a run again, and everything downstream of it",
		ArgsUsage: "RUN-ID --from STEP",
		Flags:     append([]cli.Flag{&cli.StringFlag{Name: "from", Required: true, Usage: "the `STEP` to run again"}}, engineFlags()...),
		Action: func(c *cli.Context) error {
			return onRun(c, "hamnflow retry RUN-ID --from STEP", func(w *wired, id string) error {
				return finish(c, w, id, w.engine.Retry(c.Context, id, c.String("from")), "succeeded")
			})
		},
	}
}
