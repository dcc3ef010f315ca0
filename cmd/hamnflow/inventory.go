package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/playbooks"
)

func inventoryCommand() *cli.Command {
	return &cli.Command{
		Name:  "inventory",
		Usage: "work with the cluster inventory",
		Subcommands: []*cli.Command{{
			Name:  "check",
			Usage: "validate the inventory (file:line errors); with --remote also reach every host over SSH",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "remote", Usage: "also connect to every host and check what can be checked there"}, &cli.BoolFlag{Name: "accept-new-host-keys"}},
			Action: func(c *cli.Context) error {
				path := inventoryPath(c)
				if path == "" {
					return usage("hamnflow inventory check --inventory FILE", "no inventory: give --inventory FILE or set $HAMNFLOW_INVENTORY")
				}
				inv, _, err := playbooks.LoadInventory(path)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "%s: ok: cluster %s, %d hosts, primary %s, standby %s, database %s, mode %s\n",
					path, inv.Cluster, len(inv.Hosts), inv.Primary, inv.Standby, inv.Database.Type, inv.Mode)
				if !c.Bool("remote") {
					return nil
				}
				return checkRemote(c, inv)
			},
		}},
	}
}
