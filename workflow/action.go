package workflow

import (
	"context"
	"io"
)

// Action is something a step can do. The caller of the engine supplies
// the actions by kind (see Engine.Actions); steps name them in YAML.
type Action interface {
	// NewArgs returns a pointer to a new argument struct of the action,
	// with its defaults set (see DecodeArgs for the struct's form). The
	// engine decodes a step's `with:` into it.
	NewArgs() any
	// Plan returns the command lines Run will run on host with args, in
	// order, exactly as they will run; secrets in args are already masked.
	// It runs nothing: plans, prompts and the journal show what it says.
	Plan(host string, args any) []string
	// Run does it. It returns an error when the action failed; Outcome.Ran
	// tells whether a command ran to completion (with any exit status)
	// rather than never starting or being cut off.
	Run(ctx context.Context, c Call) (Outcome, error)
}

// Reverser is an action that knows its own undo: Reverse gives the
// arguments that put back what a run with args changed, from the outputs
// that run recorded (nil when planning, before anything ran). A step of
// such an action without an `undo:` is undone that way.
type Reverser interface {
	Reverse(args any, outputs map[string]string) any
}

// ArgDecoder is an argument type that decodes `with:` itself instead of
// through its struct tags.
type ArgDecoder interface {
	ArgNames() []string
	DecodeArgs(vals map[string]any, unknown map[string]bool) []error
}

// Call is one invocation of an action.
type Call struct {
	RunID   string
	Step    string // step id, fan-out children as "parent[key]"
	Host    string // inventory host name; "" or "local" for this machine
	Args    any    // the action's argument struct (NewArgs), decoded
	Attempt int
	// Secrets are the secret values the arguments use; an action that
	// prints or passes on its arguments must not reveal them.
	Secrets []string
	// Output receives the action's output as it arrives, already masked.
	Output io.Writer
}

// Outcome is what an action reports.
type Outcome struct {
	Command string // what ran, as shown to people
	Ran     bool   // a command ran to completion and reported a status
	Exit    int
	Stdout  string
	Stderr  string
	// Outputs are typed values the action parsed from its commands, for
	// later steps' templates ({{ .steps.ID.out.KEY }}).
	Outputs map[string]string
	// Items is a list for fan-out ({{ .steps.ID.items }}).
	Items []map[string]string
}

// ActionSet maps action kinds to actions.
type ActionSet map[string]Action

// argNames lists an action's argument names.
func argNames(a Action) []string {
	args := a.NewArgs()
	if d, ok := args.(ArgDecoder); ok {
		return d.ArgNames()
	}
	return SpecOf(args).Names()
}

// decode fills a new argument struct of a from vals.
func decode(a Action, vals map[string]any, unknown map[string]bool) (any, []error) {
	args := a.NewArgs()
	if d, ok := args.(ArgDecoder); ok {
		return args, d.DecodeArgs(vals, unknown)
	}
	return args, DecodeArgs(args, vals, unknown)
}
