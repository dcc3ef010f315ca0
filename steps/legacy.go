package steps

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// Call is one invocation of an action that takes its arguments as text by
// name. The actions of this package are moving to typed argument structs
// in their own packages (steps/<domain>); until each has, legacy adapts it
// to workflow.Action.
type Call struct {
	RunID   string
	Step    string
	Host    string
	Args    map[string]string
	Attempt int
	Secrets []string
	Output  interface{ Write([]byte) (int, error) }
}

// textAction is an action with text arguments.
type textAction interface {
	Params() (required, optional []string)
	Describe(host string, args map[string]string) string
	Run(ctx context.Context, c Call) (workflow.Outcome, error)
}

// legacy adapts a textAction to workflow.Action.
type legacy struct{ a textAction }

// textArgs are the arguments of a textAction: declared names, text values.
type textArgs struct {
	req, opt []string
	vals     map[string]string
}

func (l legacy) NewArgs() any {
	req, opt := l.a.Params()
	return &textArgs{req: req, opt: opt}
}

func (l legacy) Plan(host string, args any) []string {
	return []string{strings.TrimSpace(l.a.Describe(host, args.(*textArgs).vals))}
}

func (l legacy) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	return l.a.Run(ctx, Call{RunID: c.RunID, Step: c.Step, Host: c.Host, Args: c.Args.(*textArgs).vals,
		Attempt: c.Attempt, Secrets: c.Secrets, Output: c.Output})
}

func (t *textArgs) ArgNames() []string { return append(slices.Clone(t.req), t.opt...) }

func (t *textArgs) DecodeArgs(vals map[string]any, _ map[string]bool) []error {
	var errs []error
	t.vals = make(map[string]string, len(vals))
	for k, v := range vals {
		if !slices.Contains(t.req, k) && !slices.Contains(t.opt, k) {
			errs = append(errs, &workflow.ArgError{Arg: k, Msg: workflow.UnknownArg(k, t.ArgNames())})
			continue
		}
		switch v := v.(type) {
		case string:
			t.vals[k] = v
		case []string:
			t.vals[k] = strings.Join(v, "\n")
		}
	}
	for _, r := range t.req {
		if _, ok := vals[r]; !ok {
			errs = append(errs, &workflow.ArgError{Arg: r, Msg: fmt.Sprintf("needs argument %q", r)})
		}
	}
	return errs
}

// Env is what the actions of this package run on.
type Env = act.Env

// wf is the call as the engine made it, for act's helpers.
func (c Call) wf() workflow.Call {
	var out io.Writer
	if c.Output != nil {
		out = c.Output
	}
	return workflow.Call{RunID: c.RunID, Step: c.Step, Host: c.Host, Attempt: c.Attempt, Secrets: c.Secrets, Output: out}
}

func hostOf(e *Env, name string) (remote.Host, error) { return e.Host(name) }

// runText runs a script on the call's host (see act.Env.Run).
func runText(e *Env, ctx context.Context, c Call, script, asUser string, okExit []int) (workflow.Outcome, remote.Result, error) {
	return e.Run(ctx, c.wf(), act.Script{Text: script, AsUser: asUser, OK: okExit})
}

// runReach is runText for a host that may be down (if_reachable "true").
func runReach(e *Env, ctx context.Context, c Call, script, asUser string, okExit []int) (workflow.Outcome, bool, error) {
	return e.RunReach(ctx, c.wf(), act.Script{Text: script, AsUser: asUser, OK: okExit}, c.Args["if_reachable"] == "true")
}

func say(c Call, o *workflow.Outcome, line string) { act.Say(c.wf(), o, line) }
