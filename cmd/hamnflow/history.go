package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/workflow"
)

// runStatuses are the values of --status.
var runStatuses = []string{
	string(workflow.RunRunning), string(workflow.RunSucceeded), string(workflow.RunFailed), string(workflow.RunInterrupted),
	string(workflow.RunWaiting), string(workflow.RunRollingBack), string(workflow.RunRolledBack), string(workflow.RunRollbackFailed),
}

func historyCommand() *cli.Command {
	return &cli.Command{
		Name:  "history",
		Usage: "list runs, newest first",
		Flags: []cli.Flag{
			outputFlag(),
			&cli.StringFlag{Name: "playbook", Usage: "only runs of this playbook"},
			&cli.StringFlag{Name: "cluster", Usage: "only runs on this cluster"},
			&cli.StringFlag{Name: "status", Usage: "only runs with this status (running, succeeded, failed, interrupted, waiting, rolled-back, ...)"},
			&cli.DurationFlag{Name: "since", Usage: "only runs started within this `DURATION` (e.g. 24h)"},
			&cli.IntFlag{Name: "limit", Value: 20, Usage: "at most `N` runs (0: all)"},
		},
		Action: func(c *cli.Context) error {
			if err := oneOf(c, "output", "text", "json"); err != nil {
				return err
			}
			if s := c.String("status"); s != "" && !slices.Contains(runStatuses, s) {
				return usage("hamnflow history --status failed", "--status %q: use one of %v", s, runStatuses)
			}
			if c.Duration("since") < 0 {
				return usage("hamnflow history --since 24h", "--since %s: give how far back to look, e.g. 24h", c.Duration("since"))
			}
			if c.Int("limit") < 0 {
				return usage("hamnflow history --limit 50", "--limit %d: give a number of runs, or 0 for all", c.Int("limit"))
			}
			if missing, path, err := journalMissing(c); err != nil {
				return err
			} else if missing {
				// Nothing has run yet: say so without creating a journal.
				if c.String("output") == "json" {
					return writeJSON(c, []workflow.Run{})
				}
				fmt.Fprintf(c.App.ErrWriter, "no runs yet: %s does not exist\n", path)
				return nil
			}
			j, err := openJournal(c)
			if err != nil {
				return err
			}
			defer j.Close()
			f := workflow.Filter{Playbook: c.String("playbook"), Cluster: c.String("cluster"), Status: workflow.RunStatus(c.String("status")), Limit: c.Int("limit")}
			if d := c.Duration("since"); d > 0 {
				f.Since = time.Now().Add(-d)
			}
			runs, err := j.Runs(f)
			if err != nil {
				return err
			}
			if c.String("output") == "json" {
				return writeJSON(c, runs)
			}
			w := bufio.NewWriter(c.App.Writer) // one write, not one per cell
			writeHistory(w, runs, time.Now())
			return w.Flush()
		},
	}
}

func writeJSON(c *cli.Context, v any) error {
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
