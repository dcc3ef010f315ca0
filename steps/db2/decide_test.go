package db2

import (
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	healthy := HADRStatus{Role: RolePrimary, State: StatePeer, ConnectStatus: ConnConnected}
	if ps := healthy.Check("primary"); ps != nil {
		t.Errorf("healthy primary: %v", ps)
	}
	sb := healthy
	sb.Role = RoleStandby
	if ps := sb.Check("Standby"); ps != nil {
		t.Errorf("healthy standby: %v", ps)
	}

	tests := []struct {
		name   string
		s      HADRStatus
		want   string
		fields []string
		hints  []string
	}{
		{"standby cannot reach primary",
			HADRStatus{Role: RoleStandby, State: StateRemoteCatchupPending, ConnectStatus: ConnDisconnected}, RoleStandby,
			[]string{"State", "ConnectStatus"},
			[]string{"HADR_REMOTE_HOST/SVC and /etc/services on both MNs and that the primary is active", "HADR_REMOTE_INST"}},
		{"swapped", HADRStatus{Role: RoleStandby, State: StatePeer, ConnectStatus: ConnConnected}, RolePrimary,
			[]string{"Role"}, []string{"takeover"}},
		{"not started", HADRStatus{Role: RoleStandard}, RoleStandby,
			[]string{"Role", "State", "ConnectStatus"}, []string{"START HADR ON DATABASE XCATDB AS STANDBY"}},
		{"disconnected peer", HADRStatus{Role: RolePrimary, State: StateDisconnectedPeer, ConnectStatus: ConnDisconnected,
			PeerWindowEnd: time.Unix(1281016327, 0).UTC()}, RolePrimary,
			[]string{"State", "ConnectStatus"}, []string{"2010-08-05T13:52:07Z"}},
		{"congested", HADRStatus{Role: RolePrimary, State: StatePeer, ConnectStatus: ConnCongested}, RolePrimary,
			[]string{"ConnectStatus"}, []string{"congested"}},
		{"bad wanted role", healthy, "Standard", []string{"Role"}, []string{"Primary or Standby"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := tc.s.Check(tc.want)
			var fields []string
			var all strings.Builder
			for _, p := range ps {
				fields = append(fields, p.Field)
				all.WriteString(p.String() + "\n")
				if p.Hint == "" || p.Want == "" {
					t.Errorf("problem without hint/want: %+v", p)
				}
			}
			if strings.Join(fields, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("fields = %v, want %v", fields, tc.fields)
			}
			for _, h := range tc.hints {
				if !strings.Contains(all.String(), h) {
					t.Errorf("problems do not mention %q:\n%s", h, all.String())
				}
			}
		})
	}
}

func TestChooseTakeover(t *testing.T) {
	pos := func(page int, lsn string) LogPosition { return LogPosition{"S0000002.LOG", page, lsn} }
	tests := []struct {
		name    string
		s       HADRStatus
		kind    TakeoverKind
		cmd     string
		fence   bool
		warning []string
	}{
		{"primary refused", HADRStatus{Role: RolePrimary, State: StatePeer, ConnectStatus: ConnConnected},
			TakeoverRefuse, "", false, nil},
		{"standard refused", HADRStatus{Role: RoleStandard}, TakeoverRefuse, "", false, nil},
		{"peer", HADRStatus{Role: RoleStandby, State: StatePeer, ConnectStatus: ConnConnected},
			TakeoverGraceful, "TAKEOVER HADR ON DATABASE XCATDB", false, nil},
		{"disconnected peer", HADRStatus{Role: RoleStandby, State: StateDisconnectedPeer, ConnectStatus: ConnDisconnected,
			PeerWindowEnd: time.Unix(1281016327, 0)},
			TakeoverPeerWindowOnly, "TAKEOVER HADR ON DATABASE XCATDB BY FORCE PEER WINDOW ONLY", false,
			[]string{"split brain", "peer window"}},
		{"remote catchup pending", HADRStatus{Role: RoleStandby, State: StateRemoteCatchupPending, ConnectStatus: ConnDisconnected,
			PrimaryLog: pos(66, "000000000FA4869D"), StandbyLog: pos(18, "000000000FA18D7C"), LogGap: 195873},
			TakeoverForce, "TAKEOVER HADR ON DATABASE XCATDB BY FORCE", true,
			[]string{"after the standby's log position S0000002.LOG page 18 (LSN 000000000FA18D7C) may be lost",
				"log gap 195873 bytes", "S0000002.LOG page 66"}},
		{"remote catchup", HADRStatus{Role: RoleStandby, State: StateRemoteCatchup, ConnectStatus: ConnConnected},
			TakeoverForce, "TAKEOVER HADR ON DATABASE XCATDB BY FORCE", true, []string{"unknown standby log position"}},
		{"local catchup", HADRStatus{Role: RoleStandby, State: StateLocalCatchup, ConnectStatus: ConnDisconnected},
			TakeoverRefuse, "", false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := ChooseTakeover(tc.s)
			if d.Kind != tc.kind || d.Command != tc.cmd || d.NeedsFencing != tc.fence {
				t.Fatalf("decision %+v, want kind %v cmd %q fencing %v", d, tc.kind, tc.cmd, tc.fence)
			}
			if d.Reason == "" {
				t.Error("no reason")
			}
			for _, w := range tc.warning {
				if !strings.Contains(d.LossWarning, w) {
					t.Errorf("warning %q lacks %q", d.LossWarning, w)
				}
			}
			if tc.warning == nil && d.LossWarning != "" {
				t.Errorf("unexpected warning %q", d.LossWarning)
			}
		})
	}
}

// takeoverRule is one row of the takeover decision as IBM and the
// ClusterLabs agent describe it: the states, connect statuses and sync
// modes it covers ("" in a set is the status field left empty), the kind
// of takeover and where that comes from.
type takeoverRule struct {
	states, conns, modes []string
	kind                 TakeoverKind
	source               string
}

var (
	allConns  = []string{ConnConnected, ConnCongested, ConnDisconnected}
	allModes  = []string{"Sync", "Nearsync", "Async", "Superasync", ""}
	connected = []string{ConnConnected, ConnCongested}
	window    = []string{"Sync", "Nearsync", ""}
	noWindow  = []string{"Async", "Superasync"}
)

// standbyRules cover every (state, connect status, sync mode) of a
// standby exactly once.
var standbyRules = []takeoverRule{
	{[]string{StatePeer}, connected, allModes, TakeoverGraceful,
		"IBM 11.5 TAKEOVER HADR command (graceful in peer state); ClusterLabs heartbeat/db2 db2_promote STANDBY/PEER/CONNECTED; " +
			"IBM 11.5 MON_GET_HADR hadr_connect_status: CONGESTED is connected"},
	{[]string{StateRemoteCatchup}, connected, []string{"Superasync"}, TakeoverGraceful,
		"IBM 11.5 TAKEOVER HADR command, BY FORCE: needed outside peer state unless SUPERASYNC; IBM HADR wiki, SUPERASYNC mode: " +
			"non-forced takeover allowed in remote catchup"},
	{[]string{StateRemoteCatchup}, connected, []string{"Sync", "Nearsync", "Async", ""}, TakeoverForce,
		"IBM 11.5 TAKEOVER HADR command, BY FORCE: required when the pair is not in peer state"},
	{[]string{StateRemoteCatchup}, []string{ConnDisconnected}, allModes, TakeoverForce,
		"IBM 11.5 TAKEOVER HADR command, BY FORCE: required when the pair is not in peer state"},
	{[]string{StatePeer}, []string{ConnDisconnected}, window, TakeoverPeerWindowOnly,
		"ClusterLabs heartbeat/db2 db2_promote STANDBY/*PEER/DISCONNECTED: by force peer window only (Peer until HADR_TIMEOUT)"},
	{[]string{StateDisconnectedPeer}, allConns, window, TakeoverPeerWindowOnly,
		"ClusterLabs heartbeat/db2 db2_promote Standby/DisconnectedPeer; IBM 11.5 TAKEOVER HADR command, PEER WINDOW ONLY"},
	{[]string{StatePeer}, []string{ConnDisconnected}, noWindow, TakeoverForce,
		"IBM 11.5 hadr_peer_window: ignored under ASYNC and SUPERASYNC, so no PEER WINDOW ONLY"},
	{[]string{StateDisconnectedPeer}, allConns, noWindow, TakeoverForce,
		"IBM 11.5 hadr_peer_window: ignored under ASYNC and SUPERASYNC, so no PEER WINDOW ONLY"},
	{[]string{StateLocalCatchup}, allConns, allModes, TakeoverRefuse,
		"IBM 11.5 SQL1770N reason code 2: the standby is in local catchup"},
	{[]string{StateRemoteCatchupPending}, allConns, allModes, TakeoverForce,
		"ClusterLabs heartbeat/db2 db2_promote REMOTE_CATCHUP_PENDING/DISCONNECTED: manual intervention (here: fenced=true)"},
	{[]string{StateDisconnected}, allConns, allModes, TakeoverForce,
		"IBM 11.5 TAKEOVER HADR command, BY FORCE: required when the pair is not in peer state"},
}

func in(s string, set []string) bool {
	for _, x := range set {
		if x == s {
			return true
		}
	}
	return false
}

// TestTakeoverTable checks the decision over every (role, state, connect
// status, sync mode): a database that is not a standby is refused (IBM
// 11.5 SQL1770N reason code 1), a standby follows standbyRules.
func TestTakeoverTable(t *testing.T) {
	states := []string{StatePeer, StateLocalCatchup, StateRemoteCatchupPending, StateRemoteCatchup, StateDisconnectedPeer, StateDisconnected}
	rows := 0
	for _, role := range []string{RolePrimary, RoleStandard, RoleStandby, ""} {
		for _, state := range states {
			for _, conn := range allConns {
				for _, mode := range allModes {
					rows++
					s := HADRStatus{Role: role, State: state, ConnectStatus: conn, SyncMode: mode}
					name := role + "/" + state + "/" + conn + "/" + mode
					want, source := TakeoverRefuse, "IBM 11.5 TAKEOVER HADR command: only on the standby (SQL1770N reason code 1)"
					if role == RoleStandby {
						var match []takeoverRule
						for _, r := range standbyRules {
							if in(state, r.states) && in(conn, r.conns) && in(mode, r.modes) {
								match = append(match, r)
							}
						}
						if len(match) != 1 {
							t.Fatalf("%s: %d rules match", name, len(match))
						}
						want, source = match[0].kind, match[0].source
					}
					d := ChooseTakeover(s)
					if d.Kind != want {
						t.Errorf("%s: %v, want %v (%s); reason %s", name, d.Kind, want, source, d.Reason)
					}
					if (d.Kind == TakeoverForce) != d.NeedsFencing || (d.Kind == TakeoverRefuse) != (d.Command == "") || d.Reason == "" {
						t.Errorf("%s: inconsistent decision %+v", name, d)
					}
				}
			}
		}
	}
	if rows != 4*6*3*5 {
		t.Errorf("%d rows", rows)
	}
}
