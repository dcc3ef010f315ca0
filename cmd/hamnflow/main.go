// Command hamnflow runs the xCAT high-availability management node
// procedures (failover, failback, replication and sync setup) as journaled,
// resumable workflows with an operator in the loop.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/workflow"
)

// Exit codes, documented in the README and the man page.
const (
	exitOK          = 0
	exitStepFailed  = 1
	exitBadInput    = 2
	exitWaiting     = 3
	exitLocked      = 4
	exitInterrupted = 5
	exitJournal     = 6
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	app := newApp()
	err := app.RunContext(ctx, interspersed(app, os.Args))
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hamnflow:", err)
	}
	os.Exit(exitCode(err))
}

func exitCode(err error) int {
	var locked *workflow.LockedError
	var diags workflow.Diagnostics
	var ec cli.ExitCoder
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &locked):
		return exitLocked
	case errors.Is(err, workflow.ErrJournal):
		return exitJournal
	case errors.Is(err, workflow.ErrWaiting):
		return exitWaiting
	case errors.Is(err, workflow.ErrInterrupted), errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, workflow.ErrStepFailed):
		return exitStepFailed
	case errors.As(err, &diags), errors.As(err, &ec):
		return exitBadInput
	}
	return exitBadInput
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "hamnflow",
		Usage: "run xCAT management-node failover, failback and sync procedures as resumable, journaled workflows",
		Description: `hamnflow turns the xCAT high-availability management node procedures into
DAG workflows of steps run over SSH. Every step is journaled before it acts
and after it ends, so an interrupted run can be resumed (hamnflow resume) or
unwound (hamnflow rollback), with an operator confirming what matters.

Exit codes: 0 success; 1 a step failed; 2 bad input (usage, playbook,
inventory or journal); 3 waiting for an operator (confirmation or an
in-doubt step); 4 refused: another run holds the cluster's lock;
5 interrupted (SIGINT/SIGTERM or aborted by the operator); 6 the journal
could not be written (a full disk, say): nothing more ran.`,
		EnableBashCompletion: true,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("unknown command %q: see `hamnflow help`", c.Args().First()), exitBadInput)
			}
			return cli.ShowAppHelp(c)
		},
		// --set nodes=cn01,cn02 is one value: noderanges have commas.
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "journal", EnvVars: []string{"HAMNFLOW_JOURNAL"}, Usage: "journal file (default " + defaultJournalHelp + ")"},
			&cli.StringFlag{Name: "inventory", Aliases: []string{"i"}, EnvVars: []string{"HAMNFLOW_INVENTORY"}, Usage: "cluster inventory (default /etc/hamnflow/inventory.yaml if it exists)"},
			&cli.StringFlag{Name: "playbook-dir", EnvVars: []string{"HAMNFLOW_PLAYBOOKS"}, Usage: "directory whose NAME.yaml files override built-in playbooks"},
			&cli.StringFlag{Name: "log-format", Value: "auto", Usage: "auto (readable on a terminal, JSON otherwise), text or json"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		},
		Commands: []*cli.Command{
			runCommand(), resumeCommand(), retryCommand(), rollbackCommand(),
			historyCommand(), showCommand(),
			planCommand(), graphCommand(), validateCommand(), playbooksCommand(),
			inventoryCommand(), labCommand(),
			manCommand(), completionCommand(),
		},
	}
}
