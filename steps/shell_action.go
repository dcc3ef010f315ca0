package steps

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hamnflow/hamnflow/workflow"
)

// Shell runs a shell script on the step's host.
//
//	with:
//	  cmd: the script (/bin/sh)
//	  user: run as this user (su - USER -c), e.g. the Db2 instance owner
//	  ok_exit: exit statuses that count as success, e.g. "0,1" (default 0)
//	  items: "lines" to offer each stdout line as a fan-out item {name: line}
//
// Outputs: stdout (trimmed), exit.
type Shell struct{ Env *Env }

// Params implements workflow.Action.
func (Shell) Params() ([]string, []string) {
	return []string{"cmd"}, []string{"user", "ok_exit", "items"}
}

// Describe implements workflow.Action.
func (Shell) Describe(host string, a map[string]string) string {
	s := a["cmd"]
	if a["user"] != "" {
		s = "[as " + a["user"] + "] " + s
	}
	return strings.TrimSpace(s)
}

// Run implements workflow.Action.
func (s Shell) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	var ok []int
	if v := c.Args["ok_exit"]; v != "" {
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return workflow.Outcome{}, fmt.Errorf("ok_exit %q: not a list of numbers", v)
			}
			ok = append(ok, n)
		}
	}
	o, res, err := runText(s.Env, ctx, c, c.Args["cmd"], c.Args["user"], ok)
	o.Outputs = map[string]string{"stdout": strings.TrimSpace(o.Stdout), "exit": strconv.Itoa(res.Exit)}
	if c.Args["items"] == "lines" {
		for _, l := range strings.Split(o.Stdout, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				o.Items = append(o.Items, map[string]string{"name": l})
			}
		}
	}
	return o, err
}

// Sleep waits; a no-op step for drills and benchmarks.
type Sleep struct{}

// Params implements workflow.Action.
func (Sleep) Params() ([]string, []string) { return nil, []string{"for"} }

// Describe implements workflow.Action.
func (Sleep) Describe(_ string, a map[string]string) string { return "sleep " + a["for"] }

// Run implements workflow.Action.
func (Sleep) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	d := time.Duration(0)
	if v := c.Args["for"]; v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return workflow.Outcome{}, fmt.Errorf("for %q: %w", v, err)
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return workflow.Outcome{Ran: true, Command: "sleep " + d.String()}, nil
	case <-ctx.Done():
		return workflow.Outcome{Command: "sleep " + d.String()}, ctx.Err()
	}
}
