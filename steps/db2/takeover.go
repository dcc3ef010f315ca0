package db2

import (
	"fmt"
	"strings"
	"time"
)

// TakeoverKind is the flavour of TAKEOVER HADR a status allows.
type TakeoverKind int

const (
	// TakeoverRefuse: no takeover may be issued from this database.
	TakeoverRefuse TakeoverKind = iota
	// TakeoverGraceful: role switch, no data loss (standby in Peer, connected).
	TakeoverGraceful
	// TakeoverPeerWindowOnly: forced takeover that Db2 itself refuses
	// outside the peer window (SQL1770N reason code 9).
	TakeoverPeerWindowOnly
	// TakeoverForce: forced takeover that can lose committed transactions.
	TakeoverForce
)

func (k TakeoverKind) String() string {
	switch k {
	case TakeoverGraceful:
		return "graceful"
	case TakeoverPeerWindowOnly:
		return "by force peer window only"
	case TakeoverForce:
		return "by force"
	}
	return "refuse"
}

// TakeoverDecision is what ChooseTakeover recommends for a standby.
type TakeoverDecision struct {
	Kind TakeoverKind
	// Command is the CLP command to run on the standby ("" when refused).
	Command string
	// Reason explains the choice.
	Reason string
	// NeedsFencing is set when the command may only run once the old primary
	// is proven down (fenced) or an operator has confirmed the data loss.
	NeedsFencing bool
	// FenceBy is, for a peer-window-only takeover, the end of the peer
	// window: the old primary must be down by then or it can go on
	// committing on its own (split brain).
	FenceBy time.Time
	// LossWarning spells out what may be lost; empty when nothing can be.
	LossWarning string
}

// ChooseTakeover picks the takeover for a standby from its role, HADR
// state, connect status and sync mode, the way the Pacemaker db2 resource
// agent promotes one (ClusterLabs resource-agents heartbeat/db2,
// db2_promote) within the rules IBM documents for Db2 11.5. The sources,
// paraphrased (decide_test.go names one per row):
//
//   - TAKEOVER HADR can only be issued on a standby (IBM 11.5 "TAKEOVER
//     HADR command"; SQL1770N reason code 1 otherwise).
//   - Graceful in Peer state while connected (same page: BY FORCE is needed
//     when the pair is not in peer state; agent: STANDBY/PEER/CONNECTED).
//     CONGESTED is a connected status whose link is congested (IBM 11.5
//     MON_GET_HADR, hadr_connect_status: CONNECTED, CONGESTED,
//     DISCONNECTED), so Peer+Congested is graceful too.
//   - Under SUPERASYNC the pair never reaches Peer and a graceful takeover
//     is allowed in Remote catchup (TAKEOVER HADR command, BY FORCE: "unless
//     you are using SUPERASYNC"; IBM HADR wiki, SUPERASYNC mode).
//   - A standby that lost its primary in Peer state (Disconnected peer, or
//     Peer but Disconnected until HADR_TIMEOUT: the agent's
//     STANDBY/*PEER/DISCONNECTED) takes over BY FORCE PEER WINDOW ONLY. The
//     peer window needs SYNC or NEARSYNC; under ASYNC and SUPERASYNC
//     hadr_peer_window is ignored (IBM 11.5 hadr_peer_window), so there
//     only BY FORCE remains.
//   - A standby in Local catchup is refused: it is replaying its own logs
//     and Db2 answers SQL1770N reason code 2.
//   - Any other standby state takes over BY FORCE, only once the old
//     primary is fenced or an operator accepts the loss (the agent refuses
//     REMOTE_CATCHUP_PENDING/DISCONNECTED: "Manual intervention required").
func ChooseTakeover(s HADRStatus) TakeoverDecision {
	base := "TAKEOVER HADR ON DATABASE " + Database
	role, state, conn := NormalizeRole(s.Role), NormalizeState(s.State), NormalizeConnectStatus(s.ConnectStatus)
	mode := NormalizeSyncMode(s.SyncMode)
	if role != RoleStandby {
		r := role
		if r == "" {
			r = "unknown"
		}
		return TakeoverDecision{Kind: TakeoverRefuse, Reason: fmt.Sprintf(
			"TAKEOVER HADR can only be issued on the standby; this database's role is %s (Db2 would answer SQL1770N reason code 1)", r)}
	}
	connected := conn == ConnConnected || conn == ConnCongested
	noWindow := mode == "Async" || mode == "Superasync"
	switch {
	case state == StatePeer && connected:
		r := "standby is in Peer state and connected: a role switch loses nothing"
		if conn == ConnCongested {
			r = "standby is in Peer state and connected (congested, still connected): a role switch loses nothing"
		}
		return TakeoverDecision{Kind: TakeoverGraceful, Command: base, Reason: r}
	case state == StateRemoteCatchup && connected && mode == "Superasync":
		return TakeoverDecision{Kind: TakeoverGraceful, Command: base,
			Reason: "standby is in Remote catchup and connected under SUPERASYNC, where Db2 allows a graceful takeover: the primary ships what it has before the roles switch"}
	case (state == StateDisconnectedPeer || state == StatePeer) && !noWindow:
		d := TakeoverDecision{Kind: TakeoverPeerWindowOnly, Command: base + " BY FORCE PEER WINDOW ONLY",
			Reason: "standby lost the primary while in peer state and is inside the peer window; Db2 refuses this " +
				"command (SQL1770N reason code 9) once the window has ended",
			FenceBy: s.PeerWindowEnd}
		end := "the end of the peer window"
		if !s.PeerWindowEnd.IsZero() {
			end = "the end of the peer window (" + s.PeerWindowEnd.Format(time.RFC3339) + ")"
		}
		d.LossWarning = "no committed transaction is lost provided the old primary is stopped before " + end +
			"; if it keeps running past that it commits on its own and the two databases diverge (split brain)"
		return d
	case state == StateLocalCatchup:
		return TakeoverDecision{Kind: TakeoverRefuse,
			Reason: "standby is still in local catchup (replaying its own log files); wait until it leaves that state"}
	}
	st := s.State
	if st == "" {
		st = "unknown"
	}
	why := ""
	if noWindow && (state == StateDisconnectedPeer || state == StatePeer) {
		why = fmt.Sprintf(" (under %s there is no peer window, so BY FORCE PEER WINDOW ONLY is not available)", strings.ToUpper(mode))
	}
	return TakeoverDecision{Kind: TakeoverForce, Command: base + " BY FORCE", NeedsFencing: true,
		Reason: fmt.Sprintf("standby is in state %s (connection %s)%s: only a forced takeover is possible; run it only "+
			"when the old primary is fenced (proven down) or an operator accepts the loss", st, orUnknown(s.ConnectStatus), why),
		LossWarning: lossWarning(s)}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func lossWarning(s HADRStatus) string {
	pos := "an unknown standby log position"
	if known(s.StandbyLog) {
		pos = fmt.Sprintf("the standby's log position %s page %d (LSN %s)", s.StandbyLog.File, s.StandbyLog.Page, s.StandbyLog.LSN)
	}
	w := "transactions committed on the primary after " + pos + " may be lost"
	if known(s.PrimaryLog) {
		w += fmt.Sprintf("; the primary was last seen at %s page %d (LSN %s)", s.PrimaryLog.File, s.PrimaryLog.Page, s.PrimaryLog.LSN)
	}
	w += fmt.Sprintf("; last reported log gap %d bytes", s.LogGap)
	if NormalizeConnectStatus(s.ConnectStatus) != ConnConnected {
		w += " (the gap is as of the last contact and may have grown since)"
	}
	return w + ". If the old primary is still running it must be stopped, or both will accept writes."
}

// known tells a real log position from the zeros (S0000000.LOG, 0, 0) Db2
// prints for a partner it has not heard from.
func known(p LogPosition) bool {
	return p.File != "" && (p.Page != 0 || strings.Trim(p.LSN, "0x") != "" || p.File != "S0000000.LOG")
}
