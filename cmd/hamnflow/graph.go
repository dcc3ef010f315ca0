package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/workflow"
)

func graphCommand() *cli.Command {
	return &cli.Command{
		Name:      "graph",
		Usage:     "print a playbook's DAG for this cluster as Graphviz DOT or Mermaid",
		ArgsUsage: "PLAYBOOK",
		Flags:     []cli.Flag{setFlag(), &cli.StringFlag{Name: "format", Value: "dot", Usage: "dot or mermaid"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usage("hamnflow graph failover --format mermaid", "graph: name one playbook")
			}
			if err := oneOf(c, "format", "dot", "mermaid"); err != nil {
				return err
			}
			p, err := prepare(c, c.Args().First())
			if err != nil {
				return err
			}
			// A DAG with a cycle or a missing need is not drawn as if it
			// were fine.
			if diags := checker(p).Validate(p.Playbook, p.Data); len(diags) > 0 {
				return diags
			}
			switch c.String("format") {
			case "dot":
				fmt.Fprint(c.App.Writer, workflow.DOT(p.Playbook))
			case "mermaid":
				fmt.Fprint(c.App.Writer, workflow.Mermaid(p.Playbook))
			}
			return nil
		},
	}
}
