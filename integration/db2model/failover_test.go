//go:build lab

package db2model

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/steps/db2"
)

// TestPrimaryDies: when the primary's daemon dies, the standby sees the
// link go (Disconnected) and stays in Disconnected peer until the peer
// window ends, then Remote catchup pending; the takeover advice follows.
func TestPrimaryDies(t *testing.T) {
	pr := setup(t, 1, 3)
	killed := time.Now()
	if err := syscall.Kill(pr.p.daemonPID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s := pr.s.waitHADR("disconnected peer", 2*time.Second,
		isState(db2.RoleStandby, db2.StateDisconnectedPeer, db2.ConnDisconnected))
	if s.PeerWindowEnd.Before(killed) || s.PeerWindowEnd.After(killed.Add(4*time.Second)) {
		t.Errorf("peer window end %v, killed at %v", s.PeerWindowEnd, killed)
	}
	if d := db2.ChooseTakeover(s); d.Kind != db2.TakeoverPeerWindowOnly {
		t.Errorf("decision in disconnected peer: %+v", d)
	}
	s = pr.s.waitHADR("remote catchup pending", 5*time.Second,
		isState(db2.RoleStandby, db2.StateRemoteCatchupPending, db2.ConnDisconnected))
	if time.Since(killed) < 2*time.Second {
		t.Errorf("left disconnected peer %v after the kill, before the peer window", time.Since(killed))
	}
	d := db2.ChooseTakeover(s)
	if d.Kind != db2.TakeoverForce || !d.NeedsFencing || !strings.Contains(d.LossWarning, "S0000002.LOG") {
		t.Errorf("decision in remote catchup pending: %+v", d)
	}
	ps := s.Check("Standby")
	if len(ps) != 2 || !strings.Contains(ps[0].Hint, "HADR_REMOTE_HOST/SVC") {
		t.Errorf("problems: %v", ps)
	}
	// The crashed primary: db2pd has nothing, the database is inactive.
	out, _ := pr.p.exec("", nil, "db2pd", "-d", "xcatdb", "-hadr")
	if _, err := db2.ParseDb2pdHADR([]byte(out)); err == nil || !strings.Contains(err.Error(), "not active") {
		t.Errorf("crashed primary: %v\n%s", err, out)
	}
	// Outside the peer window only a plain forced takeover works.
	pr.s.must("TAKEOVER HADR ON DATABASE XCATDB", 4, `SQL1770N Takeover HADR cannot complete. Reason code = "3".`)
	pr.s.must("TAKEOVER HADR ON DATABASE XCATDB BY FORCE PEER WINDOW ONLY", 4, `Reason code = "9".`)
	pr.s.must("TAKEOVER HADR ON DATABASE XCATDB USER xcatdb USING cluster BY FORCE", 0, "DB20000I")
	pr.s.waitHADR("forced primary", 2*time.Second, isState(db2.RolePrimary, db2.StateDisconnected, db2.ConnDisconnected))
	pr.s.must("CONNECT TO XCATDB", 0)
	pr.s.must("INSERT INTO nodelist VALUES ('n9','compute',NULL)", 0)
}

// TestStandbyDies: the primary goes to Disconnected peer and holds commits
// until the peer window ends, then Disconnected; an orderly DEACTIVATE of
// the standby skips the peer window.
func TestStandbyDies(t *testing.T) {
	pr := setup(t, 1, 3)
	pr.p.must("CONNECT TO XCATDB", 0)
	if err := syscall.Kill(pr.s.daemonPID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s := pr.p.waitHADR("disconnected peer", 2*time.Second,
		isState(db2.RolePrimary, db2.StateDisconnectedPeer, db2.ConnDisconnected))
	pr.p.must("INSERT INTO nodelist VALUES ('blocked','compute','')", 0)
	if now := time.Now(); now.Before(s.PeerWindowEnd.Add(-300 * time.Millisecond)) {
		t.Errorf("commit returned at %v, inside the peer window ending %v", now, s.PeerWindowEnd)
	}
	pr.p.waitHADR("disconnected", 3*time.Second, isState(db2.RolePrimary, db2.StateDisconnected, db2.ConnDisconnected))
	start := time.Now()
	pr.p.must("INSERT INTO nodelist VALUES ('free','compute','')", 0)
	if time.Since(start) > 2*time.Second {
		t.Errorf("commit in Disconnected state took %v", time.Since(start))
	}
	pr.p.must("CONNECT RESET", 0)

	// The standby comes back and catches up the two rows.
	pr.s.must("START HADR ON DATABASE XCATDB AS STANDBY", 0, "DB20000I")
	pr.p.waitHADR("peer again", 5*time.Second, isState(db2.RolePrimary, db2.StatePeer, db2.ConnConnected))
	ps, _ := pr.p.hadr()
	ss := pr.s.waitHADR("standby caught up", 3*time.Second, func(s db2.HADRStatus) bool {
		return s.State == db2.StatePeer && s.StandbyLog == ps.PrimaryLog
	})
	if ss.LogGap != 0 {
		t.Errorf("log gap %d in peer", ss.LogGap)
	}

	// Deactivating the standby is orderly: no peer window.
	pr.s.must("DEACTIVATE DATABASE XCATDB", 0, "DB20000I The DEACTIVATE DATABASE command completed successfully.")
	pr.p.waitHADR("disconnected at once", 500*time.Millisecond, isState(db2.RolePrimary, db2.StateDisconnected, db2.ConnDisconnected))
}

// TestPeerWindowOnly: BY FORCE PEER WINDOW ONLY succeeds inside the
// window (and disables a reachable old primary) and fails outside it.
func TestPeerWindowOnly(t *testing.T) {
	t.Run("inside", func(t *testing.T) {
		pr := setup(t, 1, 4)
		pr.s.must("TAKEOVER HADR ON DATABASE XCATDB BY FORCE PEER WINDOW ONLY", 0, "DB20000I")
		pr.s.waitHADR("new primary", 2*time.Second, isState(db2.RolePrimary, db2.StateDisconnected, db2.ConnDisconnected))
		// The old primary was told to stop: inactive, no writes.
		out, _ := pr.p.exec("", nil, "db2pd", "-d", "xcatdb", "-hadr")
		if !strings.Contains(out, "not activated") {
			t.Errorf("old primary still active:\n%s", out)
		}
		pr.p.must("INSERT INTO nodelist VALUES ('x','y','z')", 4, "SQL1024N")
		pr.p.must("CONNECT TO XCATDB", 4, `SQL1768N Unable to start HADR. Reason code = "7".`)
		cfg, _ := db2.ParseDBCfg([]byte(pr.p.must("GET DB CFG FOR XCATDB", 0)))
		if cfg["HADR database role"] != "PRIMARY" {
			t.Errorf("old primary's role %q", cfg["HADR database role"])
		}
		// Reintegration of the old primary as the new standby.
		pr.p.must("START HADR ON DATABASE XCATDB AS STANDBY", 0, "DB20000I")
		pr.s.waitHADR("peer with the old primary", 5*time.Second, isState(db2.RolePrimary, db2.StatePeer, db2.ConnConnected))
	})
	t.Run("outside", func(t *testing.T) {
		pr := setup(t, 1, 2)
		_ = syscall.Kill(pr.p.daemonPID(), syscall.SIGKILL)
		pr.s.waitHADR("disconnected peer", 2*time.Second, isState(db2.RoleStandby, db2.StateDisconnectedPeer, db2.ConnDisconnected))
		pr.s.waitHADR("window over", 4*time.Second, isState(db2.RoleStandby, db2.StateRemoteCatchupPending, db2.ConnDisconnected))
		pr.s.must("TAKEOVER HADR ON DATABASE XCATDB BY FORCE PEER WINDOW ONLY", 4,
			`SQL1770N Takeover HADR cannot complete. Reason code = "9".`)
	})
}

// TestSplitBrainRefused: an old primary that committed after a forced
// takeover cannot rejoin as standby: its log is not part of the new
// primary's, so the new primary rejects it and it stays in remote catchup
// pending.
func TestSplitBrainRefused(t *testing.T) {
	pr := setup(t, 1, 2)
	// Cut the primary off: kill its daemon, take over by force, then bring
	// the old primary back alone and let it commit.
	_ = syscall.Kill(pr.p.daemonPID(), syscall.SIGKILL)
	pr.s.waitHADR("disconnected peer", 2*time.Second, isState(db2.RoleStandby, db2.StateDisconnectedPeer, db2.ConnDisconnected))
	pr.s.must("TAKEOVER HADR ON DATABASE XCATDB BY FORCE", 0, "DB20000I")
	pr.s.must("DEACTIVATE DATABASE XCATDB", 0)
	pr.p.must("START HADR ON DATABASE XCATDB AS PRIMARY BY FORCE", 0)
	pr.p.must("CONNECT TO XCATDB", 0)
	pr.p.must("INSERT INTO nodelist VALUES ('lost','compute','')", 0)
	pr.p.must("CONNECT RESET", 0)
	pr.p.must("DEACTIVATE DATABASE XCATDB", 0)
	pr.s.must("ACTIVATE DATABASE XCATDB", 4, `SQL1768N Unable to start HADR. Reason code = "7".`)
	pr.s.must("START HADR ON DATABASE XCATDB AS PRIMARY BY FORCE", 0)
	pr.p.must("START HADR ON DATABASE XCATDB AS STANDBY", 0)
	time.Sleep(1500 * time.Millisecond)
	s, err := pr.p.hadr()
	if err != nil || s.State != db2.StateRemoteCatchupPending {
		t.Fatalf("diverged standby: %+v %v", s, err)
	}
	var lastErr string
	if in, err := (&cli{store: pr.p.store}).hadrStatus("XCATDB"); err == nil {
		lastErr = in.LastError
	}
	if !strings.Contains(lastErr, "not part of the primary's log") {
		t.Errorf("standby's last error %q", lastErr)
	}
}

// TestStopHADROnStandby: an active standby must be deactivated first; then
// it is a standard database in roll-forward pending until ROLLFORWARD.
func TestStopHADROnStandby(t *testing.T) {
	pr := setup(t, 1, 2)
	pr.s.must("STOP HADR ON DATABASE XCATDB", 4, `SQL1769N Stop HADR cannot complete. Reason code = "2".`)
	pr.s.must("DEACTIVATE DATABASE XCATDB USER XCATDB USING cluster", 0)
	pr.s.must("STOP HADR ON DATABASE XCATDB", 0, "DB20000I The STOP HADR ON DATABASE command completed successfully.")
	const sql1117 = `SQL1117N A connection to or activation of database "XCATDB" cannot be made because of ROLL-FORWARD PENDING. SQLSTATE=57019`
	pr.s.must("CONNECT TO XCATDB", 4, sql1117)
	pr.s.must("ACTIVATE DATABASE XCATDB", 4, sql1117)
	pr.s.must("ROLLFORWARD DATABASE XCATDB TO END OF LOG", 4, "SQL0104N")
	pr.s.must("ROLLFORWARD DATABASE XCATDB TO END OF LOGS AND COMPLETE", 0, "not pending", "DB20000I The ROLLFORWARD command completed successfully.")
	pr.s.must("CONNECT TO XCATDB", 0)
	pr.s.must("SELECT COUNT(*) FROM nodelist", 0, "          3")
	pr.s.must("STOP HADR ON DATABASE XCATDB", 4, `SQL1769N Stop HADR cannot complete. Reason code = "1".`)
	// The primary, left alone, goes to Disconnected; STOP HADR there keeps
	// the database online as a standard one.
	pr.p.waitHADR("primary alone", 3*time.Second, isState(db2.RolePrimary, db2.StateDisconnected, db2.ConnDisconnected))
	pr.p.must("STOP HADR ON DATABASE XCATDB", 0, "DB20000I")
	out, _ := pr.p.exec("", nil, "db2pd", "-d", "xcatdb", "-hadr")
	if !strings.Contains(out, "HADR is not active") {
		t.Errorf("db2pd after STOP HADR on the primary:\n%s", out)
	}
	pr.p.must("CONNECT TO XCATDB", 0)
	pr.p.must("INSERT INTO nodelist VALUES ('std','compute','')", 0)
}

// TestLinkCut: a primary that stops answering without closing the
// connection (frozen, or a network cut) is noticed by the heartbeat
// timeout, not at once; when it answers again the pair returns to Peer.
func TestLinkCut(t *testing.T) {
	pr := setup(t, 2, 4)
	pid := pr.p.daemonPID()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT)
	cut := time.Now()
	time.Sleep(time.Second)
	s, err := pr.s.hadr()
	if err != nil || s.State != db2.StatePeer || s.ConnectStatus != db2.ConnConnected || s.HeartbeatsMissed == 0 {
		t.Errorf("1s into the cut (HADR_TIMEOUT 2s): %+v %v", s, err)
	}
	pr.s.waitHADR("disconnected peer", 3*time.Second, isState(db2.RoleStandby, db2.StateDisconnectedPeer, db2.ConnDisconnected))
	// The timeout runs from the last heartbeat heard, up to one heartbeat
	// interval (HADR_TIMEOUT/4) before the cut.
	if d := time.Since(cut); d < 1500*time.Millisecond {
		t.Errorf("link dropped %v after the cut, before HADR_TIMEOUT", d)
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	pr.s.waitHADR("peer again", 5*time.Second, isState(db2.RoleStandby, db2.StatePeer, db2.ConnConnected))
	pr.p.waitHADR("peer again", 5*time.Second, isState(db2.RolePrimary, db2.StatePeer, db2.ConnConnected))
}
