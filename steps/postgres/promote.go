package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/workflow"
)

// Promote (pg_promote) ends recovery on a standby (pg_ctl promote -w) and
// checks that it did. A server that is already a primary is left as it
// is. One script, as the server's owner.
//
//	with: bin_dir, data_dir, conf_dir, user, port, socket (the
//	inventory's by default)
//
// Outputs: promoted (true, or false when it already was a primary).
type Promote struct {
	Env      *act.Env
	Settings Settings
}

// PromoteArgs are pg_promote's arguments.
type PromoteArgs struct {
	Cluster
}

// NewArgs implements workflow.Action.
func (p Promote) NewArgs() any { return &PromoteArgs{Cluster{Conn: Conn{set: p.Settings}}} }

// ArgNames implements workflow.ArgDecoder.
func (a *PromoteArgs) ArgNames() []string { return workflow.SpecOf(a).Names() }

// DecodeArgs implements workflow.ArgDecoder.
func (a *PromoteArgs) DecodeArgs(vals map[string]any, unknown map[string]bool) []error {
	return decode(a, vals, unknown)
}

func (a *PromoteArgs) check(func(string) bool) []error { return a.server().check(true) }

func (a *PromoteArgs) script() act.Script {
	s := a.server()
	inRecovery := s.psql("postgres", "SELECT pg_is_in_recovery()")
	return s.script(`set -e
r=$(` + inRecovery + `)
if [ "$r" = f ]; then echo "promoted=no (already a primary)"; exit 0; fi
` + s.pgctl("promote -w -t 120") + `
r=$(` + inRecovery + `)
[ "$r" = f ] || { echo "still in recovery after pg_ctl promote" >&2; exit 1; }
echo "promoted=yes"
`)
}

// Plan implements workflow.Action.
func (Promote) Plan(_ string, args any) []string {
	return []string{args.(*PromoteArgs).script().Shown()}
}

// Run implements workflow.Action.
func (p Promote) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*PromoteArgs)
	host := act.HostLabel(c.Host)
	if err := valid(a); err != nil {
		return workflow.Outcome{}, fmt.Errorf("promote PostgreSQL on %s: %w", host, err)
	}
	script := a.script()
	o, _, err := p.Env.Run(ctx, c, script)
	o.Command = script.Shown()
	if err != nil {
		return o, fmt.Errorf("promote PostgreSQL on %s: %w", host, err)
	}
	o.Outputs = map[string]string{"promoted": strconv.FormatBool(strings.HasPrefix(act.KeyValues(o.Stdout)["promoted"], "yes"))}
	return o, nil
}
