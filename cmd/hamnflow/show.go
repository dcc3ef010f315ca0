package main

import (
	"bufio"

	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/workflow"
)

func showCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show a run: every step of its DAG with durations, outputs and who confirmed what",
		ArgsUsage: "RUN-ID",
		Flags:     []cli.Flag{outputFlag(), &cli.BoolFlag{Name: "events", Usage: "list every journal event"}},
		Action: func(c *cli.Context) error {
			if err := oneOf(c, "output", "text", "json"); err != nil {
				return err
			}
			id, err := idArg(c, "hamnflow show RUN-ID")
			if err != nil {
				return err
			}
			j, err := openJournal(c)
			if err != nil {
				return err
			}
			defer j.Close()
			run, err := j.Run(id)
			if err != nil {
				return err
			}
			evs, err := j.Events(run.ID)
			if err != nil {
				return err
			}
			sum := workflow.Summarize(evs)
			// Every step of the DAG, also those that never started.
			if src, err := j.Source(run.ID); err == nil && src.Resolved != "" {
				if pb, err := workflow.FromResolved(src.Resolved); err == nil {
					sum = workflow.WithPending(pb, sum)
				}
			}
			if c.String("output") == "json" {
				return writeJSON(c, struct {
					Run    workflow.Run           `json:"run"`
					Steps  []workflow.StepSummary `json:"steps"`
					Events []workflow.Event       `json:"events"`
				}{run, sum, evs})
			}
			w := bufio.NewWriter(c.App.Writer)
			writeShow(w, run, sum, evs, c.Bool("events"))
			return w.Flush()
		},
	}
}
