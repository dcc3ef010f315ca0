package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "start a run of a playbook (e.g. hamnflow run failover)",
		ArgsUsage: "PLAYBOOK",
		Flags: append([]cli.Flag{setFlag(),
			&cli.BoolFlag{Name: "preflight-only", Usage: "check what can be checked before the first step acts (hosts answer with known keys, secrets read, templates and arguments) and stop"},
		}, engineFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usage("hamnflow run failover [--set NAME=VALUE ...]", "run: name one playbook (hamnflow playbooks lists them)")
			}
			if err := checkEngineFlags(c); err != nil {
				return err
			}
			p, err := prepare(c, c.Args().First())
			if err != nil {
				return err
			}
			if diags := checker(p).Validate(p.Playbook, p.Data); len(diags) > 0 {
				return diags
			}
			j, err := openJournal(c)
			if err != nil {
				return err
			}
			defer j.Close()
			w, err := newEngine(c, j, p)
			if err != nil {
				return err
			}
			defer w.close()
			if err := w.preflight(c, p); err != nil {
				return err
			}
			if c.Bool("preflight-only") {
				fmt.Fprintf(c.App.Writer, "preflight of %s: ok (%d steps)\n", p.Playbook.Name, len(p.Playbook.Steps))
				return nil
			}
			p.Source.Options = map[string]string{"parallel": fmt.Sprint(c.Int("parallel"))}
			cluster := "local"
			if p.Inventory != nil {
				cluster = p.Inventory.Cluster
			}
			id, err := w.engine.Start(c.Context, p.Playbook, p.Source, p.Data, cluster)
			return finish(c, w, id, err, "succeeded")
		},
	}
}

// finish closes the run's view and prints its outcome line for people and
// scripts.
func finish(c *cli.Context, w *wired, id string, err error, done string) error {
	if w.view != nil {
		w.view.Close()
	}
	printReports(c.App.Writer, w.engine.Store, id, w.reports)
	if id != "" && err == nil {
		fmt.Fprintf(c.App.Writer, "run %s %s\n", id, done)
	}
	return err
}
