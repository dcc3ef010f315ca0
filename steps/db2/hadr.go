// Package db2 reads the output of IBM Db2's command line tools the way
// hamnflow needs it for the HADR steps of the xCAT HA management-node guide:
// db2pd -hadr (the Db2 9.7 column layout shown in the guide and the
// field-per-line layout of Db2 10.1 and later), the HADR section of
// GET SNAPSHOT FOR DB, the backup timestamp, GET DB CFG and SQL message codes.
//
// It also holds the decisions hamnflow derives from a status: whether the
// pair is healthy (Check) and which TAKEOVER is safe (ChooseTakeover).
//
// Parsers are tolerant of the line wrapping and markdown escapes found in the
// guide's copies of the samples, and strict about content: output that lacks
// the fields a decision needs is an error naming what is missing.
package db2

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Database is the name of the xCAT database the guide replicates.
const Database = "XCATDB"

// Normalised HADR roles.
const (
	RolePrimary  = "Primary"
	RoleStandby  = "Standby"
	RoleStandard = "Standard"
)

// Normalised HADR states.
const (
	StatePeer                 = "Peer"
	StateLocalCatchup         = "Local catchup"
	StateRemoteCatchupPending = "Remote catchup pending"
	StateRemoteCatchup        = "Remote catchup"
	StateDisconnectedPeer     = "Disconnected peer"
	StateDisconnected         = "Disconnected"
)

// Normalised HADR connection states.
const (
	ConnConnected    = "Connected"
	ConnDisconnected = "Disconnected"
	ConnCongested    = "Congested"
)

// ErrHADRNotActive is wrapped by the parsers when the output says the
// database is not an HADR database (role Standard, "HADR is not active").
var ErrHADRNotActive = errors.New("HADR is not active on this database")

// ErrDatabaseNotActive is wrapped when db2pd reports that the database is
// not activated, so no HADR information is available.
var ErrDatabaseNotActive = errors.New("database is not active")

// LogPosition is a position in a database's log stream.
type LogPosition struct {
	// File is the log file name, e.g. "S0000002.LOG".
	File string
	// Page is the page number within File.
	Page int
	// LSN is the position as Db2 printed it without any "0x" prefix: a
	// 16-digit hexadecimal LSN in Db2 9.7 output, the decimal byte offset
	// (POS) in Db2 10.1+ db2pd output.
	LSN string
}

// String renders the position like the snapshot does.
func (p LogPosition) String() string {
	if p.File == "" {
		return "unknown"
	}
	return fmt.Sprintf("%s, %d, %s", p.File, p.Page, p.LSN)
}

// HADRStatus is the HADR state of one database as seen from one side of the
// pair. Fields a given output layout does not carry are left zero (for
// example Db2 10.1+ db2pd does not print the local and remote service names).
type HADRStatus struct {
	Role, State, SyncMode, ConnectStatus string
	ConnectTime                          time.Time
	HeartbeatsMissed                     int
	PeerWindowEnd                        time.Time
	PeerWindow                           time.Duration
	LocalHost, LocalService              string
	RemoteHost, RemoteService            string
	RemoteInstance                       string
	Timeout                              time.Duration
	PrimaryLog, StandbyLog               LogPosition
	LogGap                               int64
}

// NormalizeRole maps any spelling Db2 uses for a role (PRIMARY, Primary,
// primary) to Primary, Standby or Standard; it returns "" for anything else.
func NormalizeRole(s string) string {
	switch squash(s) {
	case "primary":
		return RolePrimary
	case "standby":
		return RoleStandby
	case "standard":
		return RoleStandard
	}
	return ""
}

// NormalizeState maps the spellings of HADR states (PEER, Peer,
// REMOTE_CATCHUP_PENDING, RemoteCatchupPending, "Remote catchup pending",
// ...) to the constants of this package; it returns "" for anything else.
func NormalizeState(s string) string {
	switch squash(s) {
	case "peer":
		return StatePeer
	case "localcatchup":
		return StateLocalCatchup
	case "remotecatchuppending":
		return StateRemoteCatchupPending
	case "remotecatchup":
		return StateRemoteCatchup
	case "disconnectedpeer":
		return StateDisconnectedPeer
	case "disconnected":
		return StateDisconnected
	}
	return ""
}

// NormalizeConnectStatus maps CONNECTED/Connected etc. to Connected,
// Disconnected or Congested; it returns "" for anything else.
func NormalizeConnectStatus(s string) string {
	switch squash(s) {
	case "connected":
		return ConnConnected
	case "disconnected":
		return ConnDisconnected
	case "congested":
		return ConnCongested
	}
	return ""
}

// NormalizeSyncMode maps NEARSYNC/Nearsync etc. to Sync, Nearsync, Async or
// Superasync (the snapshot's spelling); it returns "" for anything else.
func NormalizeSyncMode(s string) string {
	switch squash(s) {
	case "sync":
		return "Sync"
	case "nearsync":
		return "Nearsync"
	case "async":
		return "Async"
	case "superasync":
		return "Superasync"
	}
	return ""
}

// squash lower-cases s and drops spaces, underscores and dashes so that
// "REMOTE_CATCHUP_PENDING", "RemoteCatchupPending" and "Remote catchup
// pending" compare equal.
func squash(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		if r == ' ' || r == '_' || r == '-' || r == '\t' {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Problem is one reason an HADR status is not healthy.
type Problem struct {
	// Field is the status field that is wrong: Role, State or ConnectStatus.
	Field string
	// Got is the value found, Want the value a healthy pair shows.
	Got, Want string
	// Hint says what to check.
	Hint string
}

func (p Problem) String() string {
	got := p.Got
	if got == "" {
		got = "(none)"
	}
	return fmt.Sprintf("%s is %q, want %q: %s", p.Field, got, p.Want, p.Hint)
}

// Check compares s with a healthy HADR pair as the guide defines it (5.1.8):
// Role is wantRole (Primary or Standby), State is Peer and ConnectStatus is
// Connected. It returns one Problem per deviating field, nil when healthy.
func (s HADRStatus) Check(wantRole string) []Problem {
	var ps []Problem
	want := NormalizeRole(wantRole)
	role := NormalizeRole(s.Role)
	switch {
	case want != RolePrimary && want != RoleStandby:
		ps = append(ps, Problem{Field: "Role", Got: s.Role, Want: wantRole,
			Hint: "a healthy HADR database is either Primary or Standby; ask for one of those"})
	case role == want:
	case role == RoleStandard || role == "":
		ps = append(ps, Problem{Field: "Role", Got: s.Role, Want: want,
			Hint: "HADR is not started on this database: run START HADR ON DATABASE XCATDB AS " +
				strings.ToUpper(want) + " (the standby first, then the primary)"})
	default:
		ps = append(ps, Problem{Field: "Role", Got: s.Role, Want: want,
			Hint: "the roles are swapped, a takeover happened: decide which management node must be primary " +
				"and run TAKEOVER HADR on it before going on"})
	}
	if st := NormalizeState(s.State); st != StatePeer {
		ps = append(ps, Problem{Field: "State", Got: s.State, Want: StatePeer, Hint: stateHint(st, s)})
	}
	if cs := NormalizeConnectStatus(s.ConnectStatus); cs != ConnConnected {
		hint := "the HADR TCP connection is down: check that both MNs reach each other on the HADR_LOCAL_SVC/" +
			"HADR_REMOTE_SVC ports (/etc/services, firewall), that HADR_REMOTE_INST names the partner's " +
			"instance and that HADR_TIMEOUT and HADR_PEER_WINDOW are equal on both"
		if cs == ConnCongested {
			hint = "the HADR TCP link is congested: the standby cannot receive as fast as the primary logs; " +
				"check network bandwidth and the load on the standby MN"
		}
		ps = append(ps, Problem{Field: "ConnectStatus", Got: s.ConnectStatus, Want: ConnConnected, Hint: hint})
	}
	return ps
}

func stateHint(st string, s HADRStatus) string {
	switch st {
	case StateLocalCatchup:
		return "the standby is still replaying its local log files; wait and check again"
	case StateRemoteCatchupPending:
		return "the standby cannot reach the primary's log stream: check HADR_REMOTE_HOST/SVC and " +
			"/etc/services on both MNs and that the primary is active (START HADR ... AS PRIMARY)"
	case StateRemoteCatchup:
		return fmt.Sprintf("the standby is connected and catching up on the primary's log (gap %d bytes); "+
			"wait for Peer, and if the gap does not shrink check the network and the standby's disk", s.LogGap)
	case StateDisconnectedPeer:
		end := "the end of the peer window"
		if !s.PeerWindowEnd.IsZero() {
			end = s.PeerWindowEnd.Format(time.RFC3339)
		}
		return "the pair lost its connection while in peer state; the primary blocks commits until " + end +
			": check the network and the partner MN"
	case StateDisconnected:
		return "the primary has no standby: check that the standby MN's database is started as standby " +
			"(START HADR ... AS STANDBY), HADR_REMOTE_HOST/SVC, /etc/services and the firewall on both MNs"
	case "":
		return "the state is unknown: the status output could not be read"
	}
	return "unexpected HADR state"
}
