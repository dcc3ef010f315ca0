// Command hamnflow-lab brings up, inspects and tears down hamnflow's
// rehearsal lab: an operator host, two management nodes and service nodes
// on one machine, each in network namespaces of its own, with real sshd,
// PostgreSQL and (on request) xCAT. It needs root, and it is not part of
// the hamnflow binary: operators install hamnflow only.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	app := &cli.App{
		Name:     "hamnflow-lab",
		Usage:    "bring up, inspect or tear down a rehearsal lab of namespaced hosts (root)",
		Commands: labCommands(),
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return fmt.Errorf("%v\ntry: hamnflow-lab --help", err)
		},
	}
	err := app.RunContext(ctx, os.Args)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hamnflow-lab:", err)
		if errors.Is(err, context.Canceled) {
			os.Exit(5)
		}
		os.Exit(1)
	}
}
