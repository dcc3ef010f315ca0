package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

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

// usageError is a command line hamnflow cannot use: what is wrong, and
// what to type instead.
type usageError struct {
	msg string
	try string // a command line, e.g. "hamnflow run PLAYBOOK"
}

func (e *usageError) Error() string {
	if e.try == "" {
		return e.msg
	}
	return e.msg + "\ntry: " + e.try
}

// usage is a usageError.
func usage(try, format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...), try: try}
}

// onUsageError turns urfave/cli's flag errors into one line and a hint.
func onUsageError(c *cli.Context, err error, _ bool) error {
	name := "hamnflow"
	if c.Command != nil && c.Command.Name != "" {
		name = "hamnflow " + c.Command.FullName()
	}
	return usage(name+" --help", "%s: %v", name, err)
}

// unknownCommand names the nearest command.
func unknownCommand(c *cli.Context, name string) error {
	var names []string
	for _, cmd := range c.App.Commands {
		names = append(names, cmd.Name)
	}
	if near := nearest(name, names); near != "" {
		return usage("hamnflow "+near+" --help", "unknown command %q (did you mean %s?)", name, near)
	}
	return usage("hamnflow help", "unknown command %q", name)
}

// nearest returns the candidate closest to s, if it is a likely typo.
func nearest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := distance(s, c); d < bestD || strings.HasPrefix(c, s) && len(s) > 1 {
			best, bestD = c, d
		}
	}
	return best
}

func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// message is what main prints for err.
func message(err error) string {
	var re *workflow.RunError
	if errors.As(err, &re) {
		// "run ID: a step failed: step x failed; ..." says "failed" twice;
		// the specifics say it all.
		return fmt.Sprintf("run %s: %s", re.RunID, re.Msg)
	}
	return err.Error()
}

// exitCode maps every error to the exit code the README documents.
func exitCode(err error) int {
	var locked *workflow.LockedError
	var diags workflow.Diagnostics
	var ue *usageError
	var ve *verdictError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ve): // check's verdict: Nagios' exit codes (check.go)
		return ve.ExitCode()
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
	case errors.As(err, &diags), errors.As(err, &ue):
		return exitBadInput
	}
	return exitBadInput
}
