//go:build lab

package db2model

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/steps/db2"
)

// TestGuideSequence runs 5.1.2-5.1.8 and checks what 5.1.8 asks for with
// both monitoring commands, in both db2pd layouts.
func TestGuideSequence(t *testing.T) {
	pr := setup(t, 2, 3)
	for _, side := range []struct {
		h    *host
		role string
	}{{pr.p, db2.RolePrimary}, {pr.s, db2.RoleStandby}} {
		s, err := side.h.hadr()
		if err != nil {
			t.Fatal(err)
		}
		if ps := s.Check(side.role); ps != nil {
			t.Errorf("%s db2pd: %v", side.h.name, ps)
		}
		out, rc := side.h.exec("", []string{EnvDb2pdLayout + "=v97"}, "db2pd", "-d", "xcatdb", "-hadr")
		s97, err := db2.ParseDb2pdHADR([]byte(out))
		if err != nil || rc != 0 {
			t.Fatalf("%s v97 db2pd: %v\n%s", side.h.name, err, out)
		}
		if ps := s97.Check(side.role); ps != nil {
			t.Errorf("%s db2pd v97: %v", side.h.name, ps)
		}
		snap := side.h.must("GET SNAPSHOT FOR DB ON XCATDB", 0, "HADR Status")
		ss, err := db2.ParseSnapshot([]byte(snap))
		if err != nil {
			t.Fatalf("%s snapshot: %v\n%s", side.h.name, err, snap)
		}
		if ps := ss.Check(side.role); ps != nil {
			t.Errorf("%s snapshot: %v", side.h.name, ps)
		}
	}
	cfg, err := db2.ParseDBCfg([]byte(pr.p.must("GET DB CFG FOR XCATDB", 0)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg["HADR database role"] != "PRIMARY" || cfg["HADR_LOCAL_SVC"] != "DB2_HADR_1" || cfg["LOGARCHMETH1"] != pr.p.archive() || cfg["User exit for logging status"] != "YES" ||
		cfg["HADR_TIMEOUT"] != "2" || cfg["INDEXREC"] != "RESTART" {
		t.Errorf("primary cfg: %v", cfg)
	}
	// The standby accepts no connections.
	pr.s.must("CONNECT TO XCATDB", 4, `SQL1776N The command cannot be issued on an HADR standby database. Reason code = "1".`)
}

// TestWriteReplicatedAndTakeover is the guide's 5.1.9: a node added on the
// primary is there after a takeover on the standby, and a delete there is
// gone after taking over back.
func TestWriteReplicatedAndTakeover(t *testing.T) {
	pr := setup(t, 2, 3)
	pr.p.must("CONNECT TO XCATDB", 0)
	pr.p.must("INSERT INTO nodelist VALUES ('testnode','compute','')", 0, "DB20000I The SQL command completed successfully.")
	pr.p.must("CONNECT RESET", 0)
	// The standby replayed the insert into its own copy of the table.
	var replicated bool
	_ = pr.s.store.View(func(st *State) error {
		for _, r := range st.DBs["XCATDB"].Tables["NODELIST"].Rows {
			replicated = replicated || r[0] != nil && *r[0] == "testnode"
		}
		return nil
	})
	if !replicated {
		t.Error("insert not replayed on the standby")
	}
	ps, _ := pr.p.hadr()
	// NEARSYNC: the commit returned after the standby received the record.
	ss, err := pr.s.hadr()
	if err != nil {
		t.Fatal(err)
	}
	if ss.StandbyLog != ps.PrimaryLog || ps.PrimaryLog == (db2.LogPosition{}) {
		t.Errorf("standby log %v, primary log %v", ss.StandbyLog, ps.PrimaryLog)
	}

	pr.s.must("TAKEOVER HADR ON DATABASE XCATDB USER xcatdb USING wrong", 4, "SQL30082N")
	pr.p.must("TAKEOVER HADR ON DATABASE XCATDB", 4, `SQL1770N Takeover HADR cannot complete. Reason code = "1".`)
	pr.s.must("TAKEOVER HADR ON DATABASE XCATDB USER xcatdb USING cluster", 0,
		"DB20000I The TAKEOVER HADR ON DATABASE command completed successfully.")
	pr.s.waitHADR("new primary", 3*time.Second, isState(db2.RolePrimary, db2.StatePeer, db2.ConnConnected))
	pr.p.waitHADR("new standby", 3*time.Second, isState(db2.RoleStandby, db2.StatePeer, db2.ConnConnected))

	pr.s.must("CONNECT TO XCATDB", 0)
	out := pr.s.must("SELECT node, groups FROM nodelist WHERE node='testnode'", 0, "1 record(s) selected.")
	if !strings.Contains(out, "testnode") || !strings.Contains(out, "compute") {
		t.Errorf("replicated row missing:\n%s", out)
	}
	pr.s.must("DELETE FROM nodelist WHERE node='testnode'", 0, "DB20000I")
	pr.s.must("CONNECT RESET", 0)

	pr.p.must("TAKEOVER HADR ON DATABASE XCATDB USER xcatdb USING cluster", 0, "DB20000I")
	pr.p.waitHADR("primary again", 3*time.Second, isState(db2.RolePrimary, db2.StatePeer, db2.ConnConnected))
	pr.p.must("CONNECT TO XCATDB", 0)
	pr.p.must("SELECT * FROM nodelist WHERE node='testnode'", 1, "0 record(s) selected.")
	pr.p.must("SELECT COUNT(*) FROM nodelist", 0, "          3")
}

// TestStartPrimaryWithoutStandby: AS PRIMARY needs the standby within
// HADR_TIMEOUT (SQL1768N reason 7) unless BY FORCE; a standby needs a
// restored image and log retention.
func TestStartErrors(t *testing.T) {
	pr := newPair(t)
	pr.p.must("START HADR ON DATABASE XCATDB AS STANDBY", 4, `SQL1768N Unable to start HADR. Reason code = "1".`)
	pr.prepare(1, 2)
	fresh := newHost(t, "mn3", pr.s.services)
	fresh.must("UPDATE DB CFG FOR XCATDB USING LOGARCHMETH1 "+fresh.archive()+" HADR_LOCAL_HOST 127.0.0.1 HADR_LOCAL_SVC 55998 "+
		"HADR_REMOTE_HOST 127.0.0.1 HADR_REMOTE_SVC DB2_HADR_1 HADR_REMOTE_INST xcatdb", 0)
	fresh.must("START HADR ON DATABASE XCATDB AS STANDBY", 4, `SQL1767N Start HADR cannot complete. Reason code = "1".`)

	start := time.Now()
	pr.p.must("START HADR ON DATABASE XCATDB AS PRIMARY", 4, `SQL1768N Unable to start HADR. Reason code = "7".`)
	if d := time.Since(start); d < time.Second {
		t.Errorf("gave up after %v, before HADR_TIMEOUT", d)
	}
	if pid := pr.p.daemonPID(); pid != 0 {
		t.Errorf("daemon %d left running", pid)
	}
	cfg, _ := db2.ParseDBCfg([]byte(pr.p.must("GET DB CFG FOR XCATDB", 0)))
	if cfg["HADR database role"] != "STANDARD" {
		t.Errorf("role after failed start: %q", cfg["HADR database role"])
	}
	pr.p.must("START HADR ON DATABASE XCATDB AS PRIMARY BY FORCE", 0, "DB20000I")
	s := pr.p.waitHADR("forced primary", 2*time.Second, isState(db2.RolePrimary, db2.StateDisconnected, db2.ConnDisconnected))
	if ps := s.Check("Primary"); len(ps) != 2 {
		t.Errorf("problems %v", ps)
	}
	pr.p.must("START HADR ON DATABASE XCATDB AS PRIMARY", 4, "SQL1777N HADR is already started.")
	// The standby joins a primary started by force later.
	pr.s.must("START HADR ON DATABASE XCATDB AS STANDBY", 0, "DB20000I")
	pr.p.waitHADR("peer after late standby", 5*time.Second, isState(db2.RolePrimary, db2.StatePeer, db2.ConnConnected))

	// Service names must resolve through /etc/services.
	bad := newPair(t)
	bad.p.must("UPDATE DB CFG FOR XCATDB USING LOGARCHMETH1 "+bad.p.archive()+" HADR_LOCAL_HOST 127.0.0.1 HADR_LOCAL_SVC DB2_HADR_9 "+
		"HADR_REMOTE_HOST 127.0.0.1 HADR_REMOTE_SVC DB2_HADR_2 HADR_REMOTE_INST xcatdb", 0)
	bad.p.must("BACKUP DB XCATDB TO "+bad.p.root, 0)
	bad.p.must("START HADR ON DATABASE XCATDB AS PRIMARY BY FORCE", 4, `SQL1768N Unable to start HADR. Reason code = "5".`)
	bad.p.must("UPDATE DB CFG FOR XCATDB USING HADR_LOCAL_SVC 55999 HADR_REMOTE_SVC NO_SUCH_SVC", 0)
	bad.p.must("START HADR ON DATABASE XCATDB AS PRIMARY BY FORCE", 4, `SQL1768N Unable to start HADR. Reason code = "6".`)
	bad.p.must("UPDATE DB CFG FOR XCATDB USING HADR_REMOTE_INST", 4, "SQL0104N")
}

// TestMismatchedConfig: HADR_TIMEOUT must be equal on both sides; the
// primary refuses the standby and cannot start (SQL1768N reason 7).
func TestMismatchedConfig(t *testing.T) {
	pr := newPair(t)
	pr.prepare(1, 2)
	pr.s.must("UPDATE DB CFG FOR XCATDB USING HADR_TIMEOUT 2", 0)
	pr.s.must("START HADR ON DATABASE XCATDB AS STANDBY", 0)
	pr.p.must("START HADR ON DATABASE XCATDB AS PRIMARY", 4, `SQL1768N Unable to start HADR. Reason code = "7".`)
	in, err := (&cli{store: pr.s.store}).hadrStatus("XCATDB")
	if err != nil || !strings.Contains(in.LastError, "HADR_TIMEOUT differs") {
		t.Errorf("standby's last error: %+v %v", in, err)
	}
	b, _ := os.ReadFile(pr.p.store.path("hadr-XCATDB.log"))
	if !strings.Contains(string(b), "HADR_TIMEOUT differs") {
		t.Errorf("primary's HADR log:\n%s", b)
	}
}

// TestHomeOverride: DB2MODEL_HOME points the binary at a state directory,
// wherever the binary is.
func TestHomeOverride(t *testing.T) {
	h := singleHost(t)
	cmd := exec.Command(modelExe, "db2", "GET DB CFG FOR XCATDB")
	cmd.Env = append(append([]string{}, h.env...), EnvHome+"="+h.store.Dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "(HADR_TIMEOUT) = 120") {
		t.Fatalf("%v\n%s", err, out)
	}
	cmd = exec.Command(modelExe, "db2", "GET DB CFG FOR XCATDB")
	cmd.Env = append(append([]string{}, h.env...), EnvHome+"="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "no Db2 model state") {
		t.Fatalf("empty home: %v\n%s", err, out)
	}
}
