// Package shell holds the general actions: shell, a script on the step's
// host, and sleep, a wait.
package shell

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/workflow"
)

// Actions returns the general actions, bound to env.
func Actions(env *act.Env) map[string]workflow.Action {
	return map[string]workflow.Action{
		"shell": Shell{Env: env},
		"sleep": Sleep{},
	}
}

// Shell runs a shell script (/bin/sh -c) on the step's host. Its plan is
// the script, prefixed with "[as USER] " when it runs as another user.
//
//	with:
//	  cmd: the script (required)
//	  user: run as this user (su - USER -c), e.g. the Db2 instance owner
//	  ok_exit: exit statuses that count as success: a list of numbers, or
//	    "0,1" (default 0)
//	  items: lines, to offer each stdout line as a fan-out item {name: line}
//
// Outputs: stdout (trimmed), exit.
type Shell struct{ Env *act.Env }

// ShellArgs are shell's arguments.
type ShellArgs struct {
	Cmd   string   `arg:"cmd,required"`
	User  string   `arg:"user"`
	OK    []string `arg:"ok_exit"` // as given; decoded into OKExit
	Items string   `arg:"items" oneof:"lines"`

	// OKExit are the exit statuses that count as success (empty: 0),
	// from ok_exit.
	OKExit []int `arg:"-"`
}

// NewArgs implements workflow.Action.
func (Shell) NewArgs() any { return &ShellArgs{} }

// ArgNames implements workflow.ArgDecoder.
func (a *ShellArgs) ArgNames() []string { return workflow.SpecOf(a).Names() }

// DecodeArgs implements workflow.ArgDecoder: ok_exit's elements (or its
// comma-separated values) become OKExit.
func (a *ShellArgs) DecodeArgs(vals map[string]any, unknown map[string]bool) []error {
	if errs := workflow.DecodeArgs(a, vals, unknown); len(errs) > 0 || unknown["ok_exit"] {
		return errs
	}
	a.OKExit = nil
	for _, e := range a.OK {
		for _, f := range strings.Split(e, ",") {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			n, err := strconv.Atoi(f)
			if err != nil || n < 0 || n > 255 {
				return []error{&workflow.ArgError{Arg: "ok_exit", Msg: fmt.Sprintf("argument ok_exit: %q is not an exit status (0 to 255)", f)}}
			}
			a.OKExit = append(a.OKExit, n)
		}
	}
	return nil
}

func (a *ShellArgs) script() act.Script { return act.Script{Text: a.Cmd, AsUser: a.User, OK: a.OKExit} }

// Plan implements workflow.Action.
func (Shell) Plan(_ string, args any) []string {
	return []string{args.(*ShellArgs).script().Shown()}
}

// Run implements workflow.Action.
func (s Shell) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*ShellArgs)
	script := a.script()
	o, res, err := s.Env.Run(ctx, c, script)
	o.Command = script.Shown()
	o.Outputs = map[string]string{"stdout": strings.TrimSpace(o.Stdout), "exit": strconv.Itoa(res.Exit)}
	if a.Items == "lines" {
		for _, l := range strings.Split(o.Stdout, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				o.Items = append(o.Items, map[string]string{"name": l})
			}
		}
	}
	return o, err
}

// Sleep waits, in hamnflow itself: a no-op step for drills and
// benchmarks. Nothing runs on the host; its plan is the equivalent
// command, sleep SECONDS.
//
//	with: for: how long, e.g. 30s (default 0)
type Sleep struct{}

// SleepArgs are sleep's arguments.
type SleepArgs struct {
	For time.Duration `arg:"for"`
}

// NewArgs implements workflow.Action.
func (Sleep) NewArgs() any { return &SleepArgs{} }

func (a *SleepArgs) command() string {
	return "sleep " + strconv.FormatFloat(a.For.Seconds(), 'f', -1, 64)
}

// Plan implements workflow.Action.
func (Sleep) Plan(_ string, args any) []string { return []string{args.(*SleepArgs).command()} }

// Run implements workflow.Action.
func (Sleep) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*SleepArgs)
	t := time.NewTimer(a.For)
	defer t.Stop()
	select {
	case <-t.C:
		return workflow.Outcome{Ran: true, Command: a.command()}, nil
	case <-ctx.Done():
		return workflow.Outcome{Command: a.command()}, ctx.Err()
	}
}
