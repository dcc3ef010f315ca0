package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/workflow"
)

// Status (pg_status) reads a server's replication state: its role, WAL
// positions, replay delay and its streaming replicas, with one psql of two
// queries; it then checks what the step expects.
//
//	with: bin_dir, user, port, socket (the inventory's by default);
//	allow_down (a server that does not answer is role "down", not a
//	failure); expect_role primary|standby; primary_lsn (the primary's
//	last known position: adds the loss window); min_replicas N (streaming
//	replicas required); min_replay_lsn (fail until the standby replayed
//	this far)
//
// Outputs: role (primary|standby|down), receive_lsn, replay_lsn,
// current_lsn, last_replay, replay_delay, receiver, replicas,
// max_replay_lag, loss_bytes, loss_window. Items: the replicas.
type Status struct {
	Env      *act.Env
	Settings Settings
}

// StatusArgs are pg_status's arguments.
type StatusArgs struct {
	Conn
	AllowDown    bool   `arg:"allow_down"`
	ExpectRole   string `arg:"expect_role" oneof:"primary|standby"`
	PrimaryLSN   string `arg:"primary_lsn"`    // "" when the primary's position is unknown
	MinReplicas  int    `arg:"min_replicas"`   // 0: none required
	MinReplayLSN string `arg:"min_replay_lsn"` // "": no wait
}

// NewArgs implements workflow.Action.
func (s Status) NewArgs() any { return &StatusArgs{Conn: Conn{set: s.Settings}} }

// ArgNames implements workflow.ArgDecoder.
func (a *StatusArgs) ArgNames() []string { return workflow.SpecOf(a).Names() }

// DecodeArgs implements workflow.ArgDecoder.
func (a *StatusArgs) DecodeArgs(vals map[string]any, unknown map[string]bool) []error {
	return decode(a, vals, unknown)
}

func (a *StatusArgs) check(known func(string) bool) []error {
	errs := a.server().check(false)
	if a.MinReplicas < 0 {
		errs = append(errs, argErr("min_replicas", fmt.Sprintf("argument min_replicas: %d is negative", a.MinReplicas)))
	}
	if a.MinReplayLSN != "" && known("min_replay_lsn") {
		if _, err := ParseLSN(a.MinReplayLSN); err != nil {
			errs = append(errs, argErr("min_replay_lsn", "argument min_replay_lsn: "+err.Error()))
		}
	}
	return errs
}

// script is the one command pg_status runs.
func (a *StatusArgs) script() act.Script {
	s := a.server()
	return s.script(s.psql("postgres", statusSQL...))
}

// Plan implements workflow.Action.
func (Status) Plan(_ string, args any) []string {
	return []string{args.(*StatusArgs).script().Shown()}
}

// Run implements workflow.Action.
func (s Status) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*StatusArgs)
	host := act.HostLabel(c.Host)
	if err := valid(a); err != nil {
		return workflow.Outcome{}, fmt.Errorf("pg_status on %s: %w", host, err)
	}
	script := a.script()
	o, _, err := s.Env.Run(ctx, c, script)
	o.Command = script.Shown()
	if err != nil {
		if a.AllowDown && ctx.Err() == nil {
			o.Outputs = map[string]string{"role": "down", "current_lsn": "", "receive_lsn": "", "replay_lsn": "", "loss_bytes": "-1",
				"loss_window": "server does not answer: " + err.Error()}
			return o, nil
		}
		return o, fmt.Errorf("query PostgreSQL status on %s: %w", host, err)
	}
	st, err := ParseStatus(o.Stdout)
	if err != nil {
		return o, fmt.Errorf("read PostgreSQL status on %s: %w", host, err)
	}
	streaming, maxLag := 0, 0.0
	for _, r := range st.Replicas {
		if r.State == "streaming" {
			streaming++
		}
		maxLag = max(maxLag, r.ReplayLagSeconds)
		o.Items = append(o.Items, map[string]string{"name": r.Name, "client": r.Client, "state": r.State,
			"sent_lsn": r.SentLSN, "replay_lsn": r.ReplayLSN, "sync_state": r.SyncState,
			"replay_lag": strconv.FormatFloat(r.ReplayLagSeconds, 'f', 3, 64)})
	}
	o.Outputs = map[string]string{
		"role": st.Role(), "receive_lsn": st.ReceiveLSN, "replay_lsn": st.ReplayLSN, "current_lsn": st.CurrentLSN,
		"last_replay": st.LastReplay, "replay_delay": strconv.FormatFloat(st.ReplayDelay, 'f', 3, 64),
		"receiver": st.Receiver, "replicas": strconv.Itoa(streaming), "max_replay_lag": strconv.FormatFloat(maxLag, 'f', 3, 64),
	}
	if st.InRecovery {
		n, words := st.LossWindow(a.PrimaryLSN)
		o.Outputs["loss_bytes"], o.Outputs["loss_window"] = strconv.FormatInt(n, 10), words
		act.Say(c, &o, "loss window: "+words)
	}
	if a.ExpectRole != "" && a.ExpectRole != st.Role() {
		return o, fmt.Errorf("PostgreSQL on %s is a %s, expected a %s", host, st.Role(), a.ExpectRole)
	}
	if streaming < a.MinReplicas {
		return o, fmt.Errorf("PostgreSQL on %s has %d streaming replica(s), want at least %d (pg_stat_replication: %d row(s))", host, streaming, a.MinReplicas, len(st.Replicas))
	}
	if a.MinReplayLSN != "" {
		want, _ := ParseLSN(a.MinReplayLSN) // checked by valid
		got, err := ParseLSN(st.ReplayLSN)
		if err != nil || got < want {
			return o, fmt.Errorf("standby %s replayed WAL up to %s, not yet %s", host, orNone(st.ReplayLSN), a.MinReplayLSN)
		}
	}
	return o, nil
}
