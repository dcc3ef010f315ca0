package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/steps"
	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/workflow"
)

func actionsCommand() *cli.Command {
	return &cli.Command{
		Name:      "actions",
		Usage:     "list the actions steps can name, with their arguments (with:) and types",
		ArgsUsage: "[ACTION...]",
		Action: func(c *cli.Context) error {
			set := steps.Actions(&act.Env{}, steps.Config{})
			names := c.Args().Slice()
			if len(names) == 0 {
				for n := range set {
					names = append(names, n)
				}
				slices.Sort(names)
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			defer tw.Flush()
			for _, n := range names {
				a, ok := set[n]
				if !ok {
					var all []string
					for k := range set {
						all = append(all, k)
					}
					if near := nearest(n, all); near != "" {
						return usage("hamnflow actions "+near, "no action %q (did you mean %s?)", n, near)
					}
					return usage("hamnflow actions", "no action %q", n)
				}
				fmt.Fprintf(tw, "%s\t%s\n", n, describeArgs(a))
			}
			return nil
		},
	}
}

// describeArgs lists an action's arguments: name, type, required, values.
func describeArgs(a workflow.Action) string {
	args := a.NewArgs()
	fields := workflow.SpecOf(args).Fields
	if d, ok := args.(workflow.ArgDecoder); ok && len(fields) == 0 {
		return strings.Join(d.ArgNames(), ", ") + " (text)"
	}
	var parts []string
	for _, f := range fields {
		p := f.Name + ": " + f.Type
		if len(f.OneOf) > 0 {
			p = f.Name + ": " + strings.Join(f.OneOf, "|")
		}
		if f.Required {
			p += " (required)"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "(no arguments)"
	}
	return strings.Join(parts, "; ")
}
