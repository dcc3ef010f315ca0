package main

import "github.com/urfave/cli/v2"

// labCommand is wired to integration/lab once it lands.
func labCommand() *cli.Command {
	return &cli.Command{Name: "lab", Usage: "bring up, inspect or tear down a rehearsal lab of namespaced hosts", Hidden: true}
}
