//go:build lab

package db2model

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/steps/db2"
)

func singleHost(t *testing.T) *host {
	t.Helper()
	services := filepath.Join(t.TempDir(), "services")
	if err := os.WriteFile(services, []byte("DB2_HADR_1 55001/tcp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return newHost(t, "mn1", services)
}

// TestBackupInUse: an open connection (xcatd) makes an offline backup fail
// with SQL1035N until the applications are forced off.
func TestBackupInUse(t *testing.T) {
	h := singleHost(t)
	dir := t.TempDir()
	xcatd := []string{EnvSession + "=xcatd"}
	if out, rc := h.exec("", xcatd, "db2", "CONNECT TO XCATDB"); rc != 0 {
		t.Fatalf("xcatd connect: %d\n%s", rc, out)
	}
	h.must("BACKUP DB XCATDB TO "+dir, 4, "SQL1035N The database is currently in use. SQLSTATE=57019")
	h.must("ACTIVATE DATABASE XCATDB", 0)
	h.must("FORCE APPLICATIONS ALL", 0, "DB20000I The FORCE APPLICATION command completed successfully.", "DB21024I")
	h.must("BACKUP DB XCATDB TO "+dir, 4, "SQL1035N")
	h.must("DEACTIVATE DB XCATDB", 0)
	out := h.must("BACKUP DB XCATDB TO "+dir, 0)
	ts, err := db2.ParseBackupTimestamp([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "XCATDB.0.xcatdb.NODE0000.CATN0000."+ts+".001")); err != nil {
		t.Error(err)
	}
	h.must("BACKUP DB XCATDB ONLINE TO "+dir, 4, "SQL2413N")
	h.must("BACKUP DB XCATDB TO "+dir+"/missing", 4, "SQL2036N")
	// Switching on log retention requires a full backup first.
	h.must("UPDATE DB CFG FOR XCATDB USING LOGARCHMETH1 "+h.archive(), 0)
	h.must("CONNECT TO XCATDB", 4, "SQL1116N")
	h.must("BACKUP DATABASE XCATDB TO "+dir, 0, "Backup successful")
	h.must("CONNECT TO XCATDB", 0)
	h.must("BACKUP DATABASE XCATDB ONLINE TO "+dir, 0, "Backup successful")
}

// TestSyntax: the guide's dangling "USING" and its wrapped lines are
// rejected as Db2 rejects them; unknown commands and empty results.
func TestSyntax(t *testing.T) {
	h := singleHost(t)
	h.must("UPDATE DB CFG FOR XCATDB USING", 4,
		`SQL0104N An unexpected token "END-OF-STATEMENT" was found following "FOR XCATDB USING". Expected tokens may include: "<parameter-name>". SQLSTATE=42601`)
	// 5.1.6 as printed: the value is on the next line, i.e. another command.
	h.must("UPDATE DB CFG FOR XCATDB USING HADR_LOCAL_HOST", 4, `SQL0104N An unexpected token "END-OF-STATEMENT"`)
	h.must("UPDATE DB CFG FOR XCATDB USING NO_SUCH_PARAM 1", 4, `SQL0104N An unexpected token "NO_SUCH_PARAM"`)
	h.must("UPDATE DB CFG FOR XCATDB USING HADR_TIMEOUT 0", 4, "SQL5130N")
	h.must("UPDATE DB CFG FOR XCATDB USING HADR_SYNCMODE FAST", 4, "SQL0104N")
	h.must("UPDATE DB CFG FOR NODB USING HADR_TIMEOUT 3", 4, "SQL1013N")
	h.must("9.114.47.103", 4, "DB21034E", "SQL0104N")
	h.must("FROBNICATE XCATDB", 4, "DB21034E")
	h.must("GET DB CFG", 4, "SQL1024N")
	h.must("SELECT * FROM nodelist", 4, "SQL1024N")
	h.must("CONNECT TO XCATDB USER xcatdb USING nope", 4, `SQL30082N Security processing failed with reason "24"`)
	h.must("CONNECT TO XCATDB USER xcatdb USING cluster", 0)
	h.must("SELECT * FROM nodelist WHERE node='none'", 1, "0 record(s) selected.")
	h.must("DELETE FROM nodelist WHERE node='none'", 1, "SQL0100W")
	h.must("INSERT INTO nodelist VALUES ('node01','x','y')", 4, "SQL0803N")
	h.must("INSERT INTO nodelist VALUES ('a','b')", 4, "SQL0117N")
	h.must("SELECT * FROM site", 4, `SQL0204N "XCATDB.SITE" is an undefined name.`)
	h.must("UPDATE nodelist SET status='down' WHERE node='node02'", 0, "DB20000I")
	out := h.must("SELECT node, status FROM nodelist WHERE node='node02'", 0, "1 record(s) selected.")
	if !strings.Contains(out, "node02") || !strings.Contains(out, "down") {
		t.Errorf("update not visible:\n%s", out)
	}
	out = h.must("SELECT * FROM nodelist", 0, "3 record(s) selected.")
	if !strings.Contains(out, "NODE ") || !strings.Contains(out, "-----") {
		t.Errorf("no CLP header:\n%s", out)
	}
	h.must("LIST TABLES", 0, "NODELIST")
	h.must("QUIESCE DATABASE IMMEDIATE FORCE CONNECTIONS", 0)
	h.must("UNQUIESCE DATABASE", 0)
	h.must("TERMINATE", 0, "DB20000I The TERMINATE command completed successfully.")
	h.must("QUIESCE DATABASE IMMEDIATE FORCE CONNECTIONS", 4, "SQL1024N")
	// Implicit connection through DB2DBDFT, kept by the session.
	if out, rc := h.exec("", []string{EnvDefaultDB + "=XCATDB"}, "db2", "SELECT COUNT(*) FROM nodelist"); rc != 0 {
		t.Fatalf("DB2DBDFT select: %d\n%s", rc, out)
	}
	h.must("BACKUP DB XCATDB TO "+t.TempDir(), 4, "SQL1035N")
	h.must("LIST DB DIRECTORY", 0, "Database alias                       = XCATDB")
}

// TestRestorePrompt: without WITHOUT PROMPTING the restore asks; anything
// but y leaves the database alone.
func TestRestorePrompt(t *testing.T) {
	h := singleHost(t)
	dir := t.TempDir()
	h.must("UPDATE DB CFG FOR XCATDB USING LOGARCHMETH1 "+h.archive(), 0)
	ts, err := db2.ParseBackupTimestamp([]byte(h.must("BACKUP DB XCATDB TO "+dir, 0)))
	if err != nil {
		t.Fatal(err)
	}
	h.must("CONNECT TO XCATDB", 0)
	h.must("INSERT INTO nodelist VALUES ('after','compute','')", 0)
	h.must("CONNECT RESET", 0)
	restore := `RESTORE DATABASE XCATDB FROM "` + dir + `" TAKEN AT ` + ts + ` REPLACE HISTORY FILE`
	for _, answer := range []string{"n\n", ""} {
		out, rc := h.exec(answer, nil, "db2", restore)
		if rc != 4 || !strings.Contains(out, "SQL2539W") || !strings.Contains(out, "Do you want to continue ? (y/n)") ||
			!strings.Contains(out, "SQL2001N") {
			t.Fatalf("answer %q: rc %d\n%s", answer, rc, out)
		}
		h.must("CONNECT TO XCATDB", 0)
		h.must("SELECT * FROM nodelist WHERE node='after'", 0, "1 record(s) selected.")
		h.must("CONNECT RESET", 0)
	}
	h.must("CONNECT TO XCATDB", 0)
	h.must(restore, 4, "SQL1035N")
	h.must("CONNECT RESET", 0)
	out, rc := h.exec("y\n", nil, "db2", restore)
	if rc != 0 || !strings.Contains(out, "DB20000I The RESTORE DATABASE command completed successfully.") {
		t.Fatalf("answer y: rc %d\n%s", rc, out)
	}
	h.must("CONNECT TO XCATDB", 4, "SQL1117N")
	h.must("ROLLFORWARD DB XCATDB TO END OF LOGS", 0, "DB working")
	h.must("ROLLFORWARD DB XCATDB COMPLETE", 0, "not pending")
	h.must("CONNECT TO XCATDB", 0)
	h.must("SELECT * FROM nodelist WHERE node='after'", 1)
	h.must("CONNECT RESET", 0)
	h.must(`RESTORE DATABASE XCATDB FROM "`+dir+`" TAKEN AT 19990101000000`, 4, "SQL2542N")
}

// TestInstanceTools: db2stop refuses while a database is active, the
// host name change of the guide's failover needs db2gcf -u before db2start.
func TestInstanceTools(t *testing.T) {
	h := singleHost(t)
	h.must("ACTIVATE DATABASE XCATDB", 0, "DB20000I The ACTIVATE DATABASE command completed successfully.")
	h.must("ACTIVATE DATABASE XCATDB", 2, "SQL1490W")
	if out, rc := h.exec("", nil, "db2stop"); rc == 0 || !strings.Contains(out, "SQL1025N") {
		t.Fatalf("db2stop: %d\n%s", rc, out)
	}
	if out, rc := h.exec("", nil, "db2stop", "force"); rc != 0 || !strings.Contains(out, "SQL1064N DB2STOP processing was successful.") {
		t.Fatalf("db2stop force: %d\n%s", rc, out)
	}
	h.must("CONNECT TO XCATDB", 4, "SQL1032N")
	if out, _ := h.exec("", nil, "db2pd", "-d", "xcatdb", "-hadr"); !strings.Contains(out, "Unable to attach") {
		t.Errorf("db2pd with instance down:\n%s", out)
	}
	renamed := []string{EnvHostname + "=aixmn1"}
	if out, rc := h.exec("", renamed, "db2start"); rc == 0 || !strings.Contains(out, "SQL6048N") {
		t.Fatalf("db2start after host rename: %d\n%s", rc, out)
	}
	out, rc := h.exec("", renamed, "db2gcf", "-u", "-p", "0", "-i", "xcatdb")
	if rc != 0 || out != "Instance  : xcatdb\nDB2 Start : Success\nPartition 0 : Success\n" {
		t.Fatalf("db2gcf -u: %d\n%q", rc, out)
	}
	b, _ := os.ReadFile(filepath.Join(h.root, instHome, "sqllib/db2nodes.cfg"))
	if string(b) != "0 aixmn1 0\n" {
		t.Errorf("db2nodes.cfg = %q", b)
	}
	if out, rc := h.exec("", renamed, "db2start"); rc != 1 || !strings.Contains(out, "SQL1026N") {
		t.Errorf("second db2start: %d\n%s", rc, out)
	}
	if out, rc := h.exec("", renamed, "db2gcf", "-s", "-p", "0", "-i", "xcatdb"); rc != 0 || !strings.Contains(out, "Available") {
		t.Errorf("db2gcf -s: %d\n%s", rc, out)
	}
	if out, rc := h.exec("", renamed, "db2gcf", "-d", "-p", "0", "-i", "xcatdb"); rc != 0 || !strings.Contains(out, "DB2 Stop  : Success") {
		t.Errorf("db2gcf -d: %d\n%s", rc, out)
	}
	if out, rc := h.exec("", renamed, "db2gcf", "-s", "-p", "0", "-i", "xcatdb"); rc != 1 || !strings.Contains(out, "Not Operable") {
		t.Errorf("db2gcf -s when down: %d\n%s", rc, out)
	}
	// Install leaves a login environment that finds the commands.
	prof, _ := os.ReadFile(filepath.Join(h.root, instHome, ".profile"))
	if !strings.Contains(string(prof), instHome+"/sqllib/bin") {
		t.Errorf(".profile: %s", prof)
	}
	if err := Install(h.root, modelExe, "xcatdb", instHome); err != nil {
		t.Fatalf("second Install: %v", err)
	}
}

// TestParserRoundTrip: what steps/db2 reads from the model's db2pd (both
// layouts) and snapshot is the daemon's real state.
func TestParserRoundTrip(t *testing.T) {
	pr := setup(t, 2, 5)
	pr.p.must("CONNECT TO XCATDB", 0)
	pr.p.must("INSERT INTO nodelist VALUES ('rt','compute','')", 0)
	for _, h := range []*host{pr.p, pr.s} {
		in, err := (&cli{store: h.store}).hadrStatus("XCATDB")
		if err != nil {
			t.Fatal(err)
		}
		var dbs Database
		_ = h.store.View(func(st *State) error { dbs = *st.DBs["XCATDB"]; return nil })
		pos := func(lsn uint64, hex bool) db2.LogPosition {
			p := db2.LogPosition{File: dbs.LogFile(lsn), Page: dbs.LogPage(lsn)}
			if hex {
				p.LSN = fmt.Sprintf("%016X", lsn)
			} else {
				p.LSN = strconv.FormatUint(lsn, 10)
			}
			return p
		}
		want := db2.HADRStatus{
			Role: db2.NormalizeRole(in.Role), State: db2.NormalizeState(in.State), SyncMode: "Nearsync",
			ConnectStatus: db2.NormalizeConnectStatus(in.ConnectStatus), ConnectTime: in.ConnectTime.Truncate(time.Microsecond),
			PeerWindow: 5 * time.Second, Timeout: 2 * time.Second, LocalHost: "127.0.0.1", RemoteHost: "127.0.0.1",
			RemoteInstance: "xcatdb", PrimaryLog: pos(in.PrimaryLSN, false), StandbyLog: pos(in.StandbyLSN, false), LogGap: in.LogGap,
		}
		got, err := h.hadr()
		if err != nil {
			t.Fatal(err)
		}
		compare := func(layout string, got, want db2.HADRStatus) {
			t.Helper()
			if !got.ConnectTime.Equal(want.ConnectTime) {
				t.Errorf("%s %s: ConnectTime %v, want %v", h.name, layout, got.ConnectTime, want.ConnectTime)
			}
			if got.PeerWindowEnd.IsZero() || got.PeerWindowEnd.Before(want.ConnectTime) {
				t.Errorf("%s %s: PeerWindowEnd %v", h.name, layout, got.PeerWindowEnd)
			}
			got.ConnectTime, want.ConnectTime, got.PeerWindowEnd, got.HeartbeatsMissed = time.Time{}, time.Time{}, time.Time{}, 0
			if got != want {
				t.Errorf("%s %s:\n got  %+v\n want %+v", h.name, layout, got, want)
			}
		}
		compare("db2pd", got, want)

		svcLocal, svcRemote := "DB2_HADR_1", "DB2_HADR_2"
		if h == pr.s {
			svcLocal, svcRemote = svcRemote, svcLocal
		}
		want.LocalService, want.RemoteService = svcLocal, svcRemote
		want.PrimaryLog, want.StandbyLog = pos(in.PrimaryLSN, true), pos(in.StandbyLSN, true)
		out, _ := h.exec("", []string{EnvDb2pdLayout + "=v97"}, "db2pd", "-d", "xcatdb", "-hadr")
		got, err = db2.ParseDb2pdHADR([]byte(out))
		if err != nil {
			t.Fatal(err)
		}
		w97 := want
		w97.ConnectTime = want.ConnectTime.Truncate(time.Second)
		compare("db2pd v97", got, w97)

		got, err = db2.ParseSnapshot([]byte(h.must("GET SNAPSHOT FOR DATABASE ON XCATDB", 0)))
		if err != nil {
			t.Fatal(err)
		}
		compare("snapshot", got, want)
	}
}

// TestDb2115: the model follows Db2 11.5 by default. LOGRETAIN and USEREXIT
// are discontinued since 10.1 and rejected by the CLP's parser (SQL0104N);
// LOGARCHMETH1 is updatable and moves the database to backup pending; the
// CONNECT banner and GET DB CFG are 11.5's; DB2MODEL_VERSION=10.5 selects
// 10.5's banner and release level.
func TestDb2115(t *testing.T) {
	h := singleHost(t)
	h.must("UPDATE DB CFG FOR XCATDB USING LOGRETAIN ON", 4,
		`SQL0104N An unexpected token "LOGRETAIN" was found following "FOR XCATDB USING".`)
	h.must("UPDATE DB CFG FOR XCATDB USING USEREXIT ON", 4, `SQL0104N An unexpected token "USEREXIT"`)
	h.must("UPDATE DB CFG FOR XCATDB USING LOGARCHMETH1 DISK:/no/such/dir", 4, `SQL5099N`)
	h.must("UPDATE DB CFG FOR XCATDB USING LOGARCHMETH1 SOMEWHERE", 4, `SQL5099N`)
	h.must("CONNECT TO XCATDB", 0, " Database server        = DB2/LINUXX8664 11.5.9.0")
	h.must("CONNECT RESET", 0)
	h.must("UPDATE DB CFG FOR XCATDB USING LOGARCHMETH1 "+h.archive(), 0, "DB20000I")
	h.must("CONNECT TO XCATDB", 4, "SQL1116N")
	out := h.must("GET DB CFG FOR XCATDB", 0,
		" Database configuration release level                    = 0x1500",
		" First log archive method                 (LOGARCHMETH1) = "+h.archive(),
		" User exit for logging status                            = YES",
		" Log retain for recovery status                          = NO")
	if strings.Contains(strings.ToUpper(out), "(LOGRETAIN)") || strings.Contains(out, "(USEREXIT)") {
		t.Errorf("11.5's GET DB CFG has no LOGRETAIN/USEREXIT parameter:\n%s", out)
	}
	cfg, err := db2.ParseDBCfg([]byte(out))
	if err != nil || cfg["LOGARCHMETH1"] != h.archive() || cfg["Backup pending"] != "YES" {
		t.Errorf("parsed %v, %v", cfg, err)
	}
	h.must("UPDATE DB CFG FOR XCATDB USING LOGARCHMETH1 LOGRETAIN", 0)
	h.must("GET DB CFG FOR XCATDB", 0, " Log retain for recovery status                          = RECOVERY")
	h.must("BACKUP DB XCATDB TO "+t.TempDir(), 0, "Backup successful")

	if out, rc := h.exec("", []string{EnvVersion + "=10.5"}, "db2", "GET DB CFG FOR XCATDB"); rc != 0 ||
		!strings.Contains(out, "Database configuration release level                    = 0x1000") {
		t.Errorf("10.5 GET DB CFG: %d\n%s", rc, out)
	}
	if out, rc := h.exec("", []string{EnvVersion + "=10.5"}, "db2", "CONNECT TO XCATDB"); rc != 0 ||
		!strings.Contains(out, "DB2/LINUXX8664 10.5.11") {
		t.Errorf("10.5 banner: %d\n%s", rc, out)
	}
}
