// Package act is what every domain package of steps shares to turn a
// command into an action's outcome: the hosts and transport an action runs
// on (Env), running a script there with its exit statuses and stdin, and
// reading what commands print as key=value lines.
package act

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// Env is what actions need: a way to run commands and to find hosts.
type Env struct {
	Transport remote.Transport
	// Hosts resolves an inventory host name; "local" is this machine.
	Hosts func(name string) (remote.Host, error)
}

// Host resolves a step's host name.
func (e *Env) Host(name string) (remote.Host, error) {
	if name == "" || name == "local" {
		return remote.Host{Name: "local", Local: true}, nil
	}
	if e.Hosts == nil {
		return remote.Host{}, fmt.Errorf("no inventory to find host %q", name)
	}
	return e.Hosts(name)
}

// Script is one command an action runs on its step's host.
type Script struct {
	Text   string // run by /bin/sh -c
	AsUser string // "" runs as the login user
	Stdin  string // fed to the command, for values that must not appear on a command line
	OK     []int  // exit statuses that count as success; empty: 0
}

// Shown is how plans and the journal show the script: its text, prefixed
// with "[as USER] " when it runs as another user (the transport runs it
// through su - USER -c, or sudo -n -u USER when the login user is not
// root). Stdin is never shown.
func (s Script) Shown() string {
	if s.AsUser != "" {
		return "[as " + s.AsUser + "] " + s.Text
	}
	return s.Text
}

// Run runs s on the call's host and turns the result into an Outcome. A
// command that could not be run (no connection, a timeout) is an error with
// Outcome.Ran false; one that exited with a status not in s.OK is an error
// with the status and the end of its stderr.
func (e *Env) Run(ctx context.Context, c workflow.Call, s Script) (workflow.Outcome, remote.Result, error) {
	o := workflow.Outcome{Command: s.Text}
	h, err := e.Host(c.Host)
	if err != nil {
		return o, remote.Result{Exit: -1}, err
	}
	cmd := remote.Command{Script: s.Text, AsUser: s.AsUser, Stream: c.Output}
	if s.Stdin != "" {
		cmd.Stdin = strings.NewReader(s.Stdin + "\n")
	}
	start := time.Now()
	res, err := e.Transport.Exec(ctx, h, cmd)
	o.Stdout, o.Stderr, o.Exit = string(res.Stdout), string(res.Stderr), res.Exit
	if err != nil {
		return o, res, err
	}
	o.Ran = true
	if (len(s.OK) == 0 && res.Exit == 0) || slices.Contains(s.OK, res.Exit) {
		return o, res, nil
	}
	took := ""
	if d := time.Since(start); d >= 10*time.Second {
		took = " after " + d.Round(time.Second).String()
	}
	return o, res, fmt.Errorf("exit status %d on %s%s%s", res.Exit, h.Label(), took, Tail(res.Stderr, res.Stdout))
}

// RunReach is Run for steps that may meet a dead host: with ifReachable, a
// host that cannot be reached is reported as done (Outputs reachable=false)
// rather than failed, and reached is false.
func (e *Env) RunReach(ctx context.Context, c workflow.Call, s Script, ifReachable bool) (o workflow.Outcome, reached bool, err error) {
	o, _, err = e.Run(ctx, c, s)
	if err != nil && !o.Ran && ifReachable && ctx.Err() == nil {
		o.Outputs = map[string]string{"reachable": "false"}
		Say(c, &o, "host unreachable, counted as down: "+err.Error())
		return o, false, nil
	}
	if o.Ran && o.Outputs == nil {
		o.Outputs = map[string]string{"reachable": "true"}
	}
	return o, true, err
}

// Say adds a line of the action's own to its output, and to the live
// stream when there is one.
func Say(c workflow.Call, o *workflow.Outcome, line string) {
	o.Stdout += line + "\n"
	if c.Output != nil {
		io.WriteString(c.Output, line+"\n")
	}
}

// KeyValues reads "key=value" lines.
func KeyValues(out string) map[string]string {
	kv := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok && k != "" && !strings.ContainsAny(k, " \t") {
			kv[k] = v
		}
	}
	return kv
}

// HostLabel names a step's host in messages.
func HostLabel(h string) string {
	if h == "" {
		return "local"
	}
	return h
}

// Tail gives the last line of stderr (or stdout) for an error message.
func Tail(stderr, stdout []byte) string {
	s := strings.TrimSpace(string(stderr))
	if s == "" {
		s = strings.TrimSpace(string(stdout))
	}
	if s == "" {
		return ""
	}
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return ": " + s
}
