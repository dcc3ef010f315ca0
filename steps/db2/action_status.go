package db2

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// Status (action db2_hadr_status) reads the HADR status of the database
// on the step's host (guide 5.1.8) and, with want_role, checks it: Role is
// want_role, State Peer and ConnectStatus Connected, or the step fails
// naming each wrong field and what to check.
//
// Outputs: role, state, syncmode, connect_status, log_gap, heartbeats_missed,
// peer_window, peer_window_end (RFC 3339), primary_log, standby_log,
// local_host, remote_host, remote_instance, active (false when the database
// is not active), healthy, takeover (what db2_takeover would choose here).
type Status struct {
	Env      *act.Env
	Settings Settings
}

// StatusArgs are the arguments of db2_hadr_status.
type StatusArgs struct {
	Target
	// Source: db2pd (db2pd -d DB -hadr) or snapshot (GET SNAPSHOT FOR DB
	// ON DB, which the primary only answers).
	Source   string `arg:"source" oneof:"db2pd|snapshot"`
	WantRole string `arg:"want_role" oneof:"Primary|Standby|primary|standby|PRIMARY|STANDBY"`
	// Wait: with want_role, keep reading until healthy for up to this long.
	Wait time.Duration `arg:"wait"`
}

// NewArgs implements workflow.Action.
func (*Status) NewArgs() any { return &StatusArgs{Source: "db2pd"} }

// statusPoll is how often a status is read again while waiting.
const statusPoll = 500 * time.Millisecond

// statusCommand is the command that reads the status, run as the owner.
func (s Settings) statusCommand(t Target, source string) string {
	db := strings.ToLower(s.database(t.Database))
	if source == "snapshot" {
		return "db2 get snapshot for db on " + db
	}
	return "db2pd -d " + db + " -hadr"
}

// Plan implements workflow.Action.
func (d *Status) Plan(_ string, args any) []string {
	a := args.(*StatusArgs)
	cmd := shown(d.Settings.owner(a.Owner), d.Settings.statusCommand(a.Target, a.Source))
	if a.WantRole != "" && a.Wait > 0 {
		cmd = when(fmt.Sprintf("read again every %s, for up to %s, until Role is %s, State Peer and ConnectStatus Connected",
			statusPoll, a.Wait, NormalizeRole(a.WantRole)), cmd)
	}
	return []string{cmd}
}

// Run implements workflow.Action.
func (d *Status) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*StatusArgs)
	want := a.WantRole
	if want != "" && NormalizeRole(want) != RolePrimary && NormalizeRole(want) != RoleStandby {
		return workflow.Outcome{}, fmt.Errorf("want_role %q: use Primary or Standby", want)
	}
	deadline := time.Now().Add(a.Wait)
	for {
		o, st, err := d.Settings.hadrStatus(d.Env, ctx, c, a.Target, a.Source)
		if err != nil || want == "" {
			return o, err
		}
		ps := st.Check(want)
		if len(ps) == 0 {
			return o, nil
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			fmt.Fprintf(&b, "HADR on %s is not a healthy %s", c.Host, NormalizeRole(want))
			if a.Wait > 0 {
				fmt.Fprintf(&b, " after %s", a.Wait)
			}
			for _, p := range ps {
				b.WriteString("; " + p.String())
			}
			return o, errors.New(b.String())
		}
		select {
		case <-ctx.Done():
			return o, ctx.Err()
		case <-time.After(statusPoll):
		}
	}
}

// hadrStatus reads and parses the status once. A database that is not
// active or not in HADR is a status (active=false, role Standard), not an
// error.
func (s Settings) hadrStatus(e *act.Env, ctx context.Context, c workflow.Call, t Target, source string) (workflow.Outcome, HADRStatus, error) {
	cmd := s.statusCommand(t, source)
	h, err := e.Host(c.Host)
	if err != nil {
		return workflow.Outcome{}, HADRStatus{}, err
	}
	own := s.owner(t.Owner)
	o := workflow.Outcome{Command: shown(own, cmd)}
	res, err := e.Transport.Exec(ctx, h, remote.Command{Script: cmd, AsUser: own})
	o.Stdout, o.Stderr, o.Exit = mask(string(res.Stdout), c.Secrets), mask(string(res.Stderr), c.Secrets), res.Exit
	if err != nil {
		return o, HADRStatus{}, fmt.Errorf("read HADR status on %s: %w", h.Label(), err)
	}
	o.Ran = true
	var st HADRStatus
	if source == "snapshot" {
		if res.Exit >= ExitError {
			// GET SNAPSHOT needs only an instance attachment and works on a
			// standby too (IBM 11.5 "Monitoring HADR"), so no SQL1776N here.
			err := CLPCommand{Command: cmd, Exit: res.Exit, Output: string(res.Stdout), Codes: MessageCodes(res.Stdout)}.Err()
			return o, st, fmt.Errorf("on %s: %w", h.Label(), err)
		}
		st, err = ParseSnapshot(res.Stdout)
	} else {
		if res.Exit != 0 {
			return o, st, fmt.Errorf("%s on %s: exit status %d%s", cmd, h.Label(), res.Exit, act.Tail(res.Stderr, res.Stdout))
		}
		st, err = ParseDb2pdHADR(res.Stdout)
	}
	active := "true"
	switch {
	case errors.Is(err, ErrDatabaseNotActive):
		active, st.Role = "false", ""
	case errors.Is(err, ErrHADRNotActive):
		st.Role = RoleStandard
	case err != nil:
		return o, st, fmt.Errorf("HADR status on %s: %w", h.Label(), err)
	}
	o.Outputs = statusOutputs(st)
	o.Outputs["active"] = active
	return o, st, nil
}

func statusOutputs(s HADRStatus) map[string]string {
	out := map[string]string{
		"role": s.Role, "state": s.State, "syncmode": s.SyncMode, "connect_status": s.ConnectStatus,
		"log_gap": strconv.FormatInt(s.LogGap, 10), "heartbeats_missed": strconv.Itoa(s.HeartbeatsMissed),
		"peer_window": strconv.Itoa(int(s.PeerWindow / time.Second)), "peer_window_end": "",
		"primary_log": s.PrimaryLog.String(), "standby_log": s.StandbyLog.String(),
		"local_host": s.LocalHost, "remote_host": s.RemoteHost, "remote_instance": s.RemoteInstance,
	}
	if !s.PeerWindowEnd.IsZero() {
		out["peer_window_end"] = s.PeerWindowEnd.Format(time.RFC3339)
	}
	healthy := false
	if r := NormalizeRole(s.Role); r == RolePrimary || r == RoleStandby {
		healthy = len(s.Check(r)) == 0
	}
	out["healthy"] = strconv.FormatBool(healthy)
	d := ChooseTakeover(s)
	out["takeover"] = d.Kind.String()
	return out
}
