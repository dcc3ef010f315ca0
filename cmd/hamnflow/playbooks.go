package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func playbooksCommand() *cli.Command {
	return &cli.Command{
		Name:  "playbooks",
		Usage: "list the playbooks hamnflow knows (built-in, and overrides from --playbook-dir)",
		Action: func(c *cli.Context) error {
			for _, i := range library(c).List() {
				origin := ""
				if i.Origin != "built-in" {
					origin = "  [" + i.Origin + "]"
				}
				fmt.Fprintf(c.App.Writer, "%-16s %s%s\n", i.Name, i.Description, origin)
			}
			return nil
		},
	}
}
