package main

import (
	"github.com/hamnflow/hamnflow/workflow"
	"github.com/urfave/cli/v2"
)

func planCommand() *cli.Command {
	return &cli.Command{
		Name:      "plan",
		Usage:     "print a playbook's steps for this cluster in order, with the exact commands and hosts; nothing runs",
		ArgsUsage: "PLAYBOOK",
		Flags:     []cli.Flag{setFlag(), outputFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usage("hamnflow plan failover --inventory FILE", "plan: name one playbook")
			}
			if err := oneOf(c, "output", "text", "json"); err != nil {
				return err
			}
			p, err := prepare(c, c.Args().First())
			if err != nil {
				return err
			}
			ck := checker(p)
			if diags := ck.Validate(p.Playbook, p.Data); len(diags) > 0 {
				return diags
			}
			plan, err := ck.Plan(p.Playbook, p.Data)
			if err != nil {
				return err
			}
			if c.String("output") == "json" {
				return writeJSON(c, plan)
			}
			workflow.WritePlan(c.App.Writer, p.Playbook, plan)
			return nil
		},
	}
}
