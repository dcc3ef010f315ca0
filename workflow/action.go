package workflow

import (
	"context"
	"io"
)

// Action is something a step can do. The caller of the engine supplies
// the actions by kind (see Engine.Actions); steps name them in YAML.
type Action interface {
	// Params lists the arguments the action takes (the keys of `with:`).
	Params() (required, optional []string)
	// Describe says exactly what Run will do on host with args, e.g. the
	// command line, for plans, prompts and the journal. Secrets in args are
	// already masked.
	Describe(host string, args map[string]string) string
	// Run does it. It returns an error when the action failed; Outcome.Ran
	// tells whether a command ran to completion (with any exit status)
	// rather than never starting or being cut off.
	Run(ctx context.Context, c Call) (Outcome, error)
}

// Call is one invocation of an action.
type Call struct {
	RunID   string
	Step    string // step id, fan-out children as "parent[key]"
	Host    string // inventory host name; "" or "local" for this machine
	Args    map[string]string
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
