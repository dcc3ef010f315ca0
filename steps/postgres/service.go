package postgres

import (
	"context"
	"fmt"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/workflow"
)

// Service (pg_service) brings the server to a state: running or stopped
// (fast shutdown); with check: true it only checks the state (a probe).
// Stopping reports where the stopped cluster's WAL ends (pg_controldata).
// One script, as the server's owner.
//
//	with: bin_dir, data_dir, conf_dir, user, port, socket, log (the
//	inventory's by default); state running|stopped (required); check;
//	if_reachable (a host that cannot be reached counts as stopped)
//
// Outputs: was (running|stopped), state, reachable; after a stop:
// cluster_state and checkpoint_lsn.
//
// Service is a workflow.Reverser: its undo puts the server back in the
// state it recorded in was (stopped when the host could not be reached);
// before a run (in plans) it is the other state. The undo of a check is
// the same check.
type Service struct {
	Env      *act.Env
	Settings Settings
}

// ServiceArgs are pg_service's arguments.
type ServiceArgs struct {
	Cluster
	Log         string `arg:"log"`
	State       string `arg:"state,required" oneof:"running|stopped"`
	Check       bool   `arg:"check"`
	IfReachable bool   `arg:"if_reachable"`
}

// NewArgs implements workflow.Action.
func (ps Service) NewArgs() any { return &ServiceArgs{Cluster: Cluster{Conn: Conn{set: ps.Settings}}} }

// ArgNames implements workflow.ArgDecoder.
func (a *ServiceArgs) ArgNames() []string { return workflow.SpecOf(a).Names() }

// DecodeArgs implements workflow.ArgDecoder.
func (a *ServiceArgs) DecodeArgs(vals map[string]any, unknown map[string]bool) []error {
	return decode(a, vals, unknown)
}

func (a *ServiceArgs) check(func(string) bool) []error {
	errs := a.server().check(true)
	if a.State != "running" && a.State != "stopped" {
		errs = append(errs, argErr("state", fmt.Sprintf("argument state: %q is not one of running, stopped", a.State)))
	}
	return errs
}

func (a *ServiceArgs) script() act.Script {
	s := a.server().withLog(a.Log)
	var verb string
	switch {
	case a.Check:
		verb = `[ "$was" = ` + a.State + ` ] || { echo "PostgreSQL is $was, not ` + a.State + `" >&2; exit 1; }`
	case a.State == "running":
		verb = `[ "$was" = running ] || ` + s.start() + ` >/dev/null`
	default:
		verb = `[ "$was" = stopped ] || ` + s.stop() + ` >/dev/null`
	}
	return s.script(`if ` + s.pgctl("status") + ` >/dev/null 2>&1; then was=running; else was=stopped; fi
echo "was=$was"
set -e
` + verb + `
if ` + s.pgctl("status") + ` >/dev/null 2>&1; then echo "state=running"; else echo "state=stopped"
	` + s.exe("pg_controldata") + ` -D ` + quote(s.data) + ` 2>/dev/null || true; fi
`)
}

// Plan implements workflow.Action.
func (ps Service) Plan(host string, args any) []string {
	a := *args.(*ServiceArgs)
	a.on(ps.Env, host)
	return []string{a.script().Shown()}
}

// Reverse implements workflow.Reverser.
func (Service) Reverse(args any, outputs map[string]string) any {
	a := *args.(*ServiceArgs)
	if a.Check {
		return &a
	}
	switch {
	case outputs["was"] == "running" || outputs["was"] == "stopped":
		a.State = outputs["was"]
	case outputs["reachable"] == "false":
		a.State = "stopped" // it changed nothing: leave it down
	case a.State == "running":
		a.State = "stopped"
	default:
		a.State = "running"
	}
	return &a
}

// Run implements workflow.Action.
func (ps Service) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*ServiceArgs)
	a.on(ps.Env, c.Host)
	host := act.HostLabel(c.Host)
	if err := valid(a); err != nil {
		return workflow.Outcome{}, fmt.Errorf("PostgreSQL %s on %s: %w", a.State, host, err)
	}
	script := a.script()
	o, reached, err := ps.Env.RunReach(ctx, c, script, a.IfReachable)
	o.Command = script.Shown()
	if !reached {
		return o, nil
	}
	if err != nil {
		return o, fmt.Errorf("PostgreSQL %s on %s: %w", a.State, host, err)
	}
	st := ParseServiceOutput(o.Stdout)
	o.Outputs = map[string]string{"was": st.Was, "state": st.State, "reachable": "true",
		"cluster_state": st.Control.State, "checkpoint_lsn": st.Control.CheckpointLSN}
	if st.State != a.State {
		return o, fmt.Errorf("PostgreSQL on %s is %s, wanted %s", host, st.State, a.State)
	}
	return o, nil
}
