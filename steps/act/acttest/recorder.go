// Package acttest helps the tests of action packages: a transport that
// records every command an action runs and answers it as the test says,
// so that a test can hold what Run executed against what Plan said.
package acttest

import (
	"context"
	"io"
	"strings"
	"sync"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
)

// Exec is one command a Recorder was given.
type Exec struct {
	Host   string // the host's inventory name ("local" for this machine)
	Script string
	AsUser string
	Stdin  string // what the command read on stdin, "" for none
}

// Reply is what a Recorder answers to one command.
type Reply struct {
	Stdout, Stderr string
	Exit           int
	Err            error // the command could not be run (Exit is then -1)
}

// Recorder is a remote.Transport that runs nothing: it records each
// command and answers it with Answer's reply (exit status 0 and no output
// when Answer is nil or returns the zero Reply).
type Recorder struct {
	Answer func(e Exec) Reply

	mu    sync.Mutex
	execs []Exec
}

var _ remote.Transport = (*Recorder)(nil)

// Exec implements remote.Transport.
func (r *Recorder) Exec(_ context.Context, h remote.Host, c remote.Command) (remote.Result, error) {
	e := Exec{Host: h.Name, Script: c.Script, AsUser: c.AsUser}
	if c.Stdin != nil {
		b, _ := io.ReadAll(c.Stdin)
		e.Stdin = string(b)
	}
	r.mu.Lock()
	r.execs = append(r.execs, e)
	r.mu.Unlock()
	var rep Reply
	if r.Answer != nil {
		rep = r.Answer(e)
	}
	if rep.Err != nil {
		return remote.Result{Stdout: []byte(rep.Stdout), Stderr: []byte(rep.Stderr), Exit: -1}, rep.Err
	}
	if c.Stream != nil {
		io.WriteString(c.Stream, rep.Stdout+rep.Stderr)
	}
	return remote.Result{Stdout: []byte(rep.Stdout), Stderr: []byte(rep.Stderr), Exit: rep.Exit}, nil
}

// Close implements remote.Transport.
func (*Recorder) Close() error { return nil }

// Execs returns the commands recorded so far, in order.
func (r *Recorder) Execs() []Exec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Exec(nil), r.execs...)
}

// Scripts returns the scripts recorded so far, in order.
func (r *Recorder) Scripts() []string {
	var out []string
	for _, e := range r.Execs() {
		out = append(out, e.Script)
	}
	return out
}

// Reset forgets the commands recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.execs = nil
	r.mu.Unlock()
}

// Env is an act.Env on r whose inventory knows every host name.
func Env(r *Recorder) *act.Env {
	return &act.Env{Transport: r, Hosts: func(name string) (remote.Host, error) {
		return remote.Host{Name: name, Address: name}, nil
	}}
}

// Contains is an Answer helper: the reply of the longest key that is a
// substring of the script, else the zero Reply.
func Contains(replies map[string]Reply) func(Exec) Reply {
	return func(e Exec) Reply {
		best, bestLen := Reply{}, -1
		for k, rep := range replies {
			if strings.Contains(e.Script, k) && len(k) > bestLen {
				best, bestLen = rep, len(k)
			}
		}
		return best
	}
}
