// Command hamnflow runs the xCAT high-availability management node
// procedures (failover, failback, replication and sync setup) as journaled,
// resumable workflows with an operator in the loop.
//
// One file per command: run.go, resume.go, ... Flags common to several
// commands are in flags.go, the wiring of the engine in env.go, and
// errors.go maps every error to its exit code, in one place.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"sync/atomic"
	"syscall"

	"github.com/urfave/cli/v2"
)

func main() {
	// SIGHUP (the operator's terminal went away) ends a run like SIGTERM:
	// the step in flight is journaled as interrupted, and resume goes on.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	// A soft memory limit: the garbage collector works harder as the heap
	// nears it, so that parsing a big playbook does not leave the run
	// with a heap twice what it uses (GOMEMLIMIT overrides it).
	app := newApp()
	args := normalizeArgs(app, os.Args)
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit(args))
	}
	// Until the engine takes the signals over (a run journals how it was
	// interrupted, and stops its step), an interrupt ends hamnflow at once:
	// validate, plan and the parsing before a run honour Ctrl-C whatever
	// they are doing.
	engaged := new(atomic.Bool)
	ctx = context.WithValue(ctx, engagedKey{}, engaged)
	go func() {
		<-ctx.Done()
		if !engaged.Load() {
			fmt.Fprintln(os.Stderr, "hamnflow: interrupted; nothing was changed")
			os.Exit(exitInterrupted)
		}
	}()
	err := app.RunContext(ctx, args)
	engaged.Store(true) // the command is over: stop cancels ctx, not a signal
	stop()
	if err != nil {
		if msg := message(err); msg != "" { // "": the command's output said it (check)
			fmt.Fprintln(os.Stderr, "hamnflow:", msg)
		}
	}
	os.Exit(exitCode(err))
}

// engagedKey holds, in the command's context, the flag that says the
// engine handles interrupts from now on.
type engagedKey struct{}

// engage hands interrupts over to the engine: from now on SIGINT, SIGTERM
// and SIGHUP cancel the context, and the run journals how it stopped.
func engage(ctx context.Context) {
	if b, ok := ctx.Value(engagedKey{}).(*atomic.Bool); ok {
		b.Store(true)
	}
}

// memoryLimit is the soft limit on hamnflow's memory for a command line:
// 80 MiB for the commands that run steps, which hold little once the
// playbook is parsed (a 10,000-step run stays under 100 MB), 192 MiB for
// the others (validating a 1 MiB playbook takes some 2.5 s then; with
// less the collector's extra work makes it slower).
func memoryLimit(args []string) int64 {
	for _, a := range args[1:] {
		switch a {
		case "run", "resume", "retry", "rollback":
			return 80 << 20
		}
	}
	return 192 << 20
}

func newApp() *cli.App {
	app := &cli.App{
		Name:  "hamnflow",
		Usage: "run xCAT management-node failover, failback and sync procedures as resumable, journaled workflows",
		Description: `hamnflow turns the xCAT high-availability management node procedures into
DAG workflows of steps run over SSH. Every step is journaled before it acts
and after it ends, so an interrupted run can be resumed (hamnflow resume) or
unwound (hamnflow rollback), with an operator confirming what matters.

Exit codes: 0 success; 1 a step failed; 2 bad input (usage, playbook,
inventory or journal); 3 waiting for an operator (confirmation or an
in-doubt step); 4 refused: another run holds the cluster's lock;
5 interrupted (SIGINT/SIGTERM/SIGHUP or aborted by the operator); 6 the
journal could not be written (a full disk, say): nothing more ran.`,
		EnableBashCompletion: true,
		// --set nodes=cn01,cn02 is one value: noderanges have commas.
		DisableSliceFlagSeparator: true,
		Flags:                     globalFlags(),
		Before:                    checkGlobalFlags,
		Commands: []*cli.Command{
			runCommand(), resumeCommand(), retryCommand(), rollbackCommand(),
			historyCommand(), showCommand(), journalCommand(),
			planCommand(), graphCommand(), validateCommand(), playbooksCommand(), actionsCommand(),
			inventoryCommand(), checkCommand(),
			manCommand(), completionCommand(),
		},
		CommandNotFound: func(c *cli.Context, name string) {}, // reported by the app's Action
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return unknownCommand(c, c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
		// Errors are reported once, by main, with their exit code.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	app.OnUsageError = onUsageError
	for _, cmd := range app.Commands {
		setUsageErrors(cmd)
	}
	return app
}

// setUsageErrors makes every command report a usage error in one line
// with a hint, instead of printing its whole help.
func setUsageErrors(cmd *cli.Command) {
	cmd.OnUsageError = onUsageError
	for _, sub := range cmd.Subcommands {
		setUsageErrors(sub)
	}
}
