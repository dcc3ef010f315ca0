package db2

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSession(t *testing.T) {
	out := "db2 => CONNECT TO XCATDB\n\n   Database Connection Information\n\n Local database alias   = XCATDB\n\ndb2 <= 0\n" +
		"db2 => DEACTIVATE DATABASE XCATDB\nSQL1496W Deactivate database is successful, but the database was not activated.\ndb2 <= 2\n" +
		"db2 => START HADR ON DATABASE XCATDB AS STANDBY\nSQL1777N HADR is already started.\ndb2 <= 4 tolerated\n" +
		"db2 => SELECT node FROM nodelist\n\nNODE\n----\ntestnode\n\n  1 record(s) selected.\n\ndb2 <= 0\n" +
		"db2 => STOP HADR ON DATABASE XCATDB\nSQL1769N Stop HADR cannot complete. Reason code = \"2\".\ndb2 <= 4\n"
	cmds := ParseSession([]byte(out))
	if len(cmds) != 5 {
		t.Fatalf("got %d commands: %+v", len(cmds), cmds)
	}
	for i, want := range []struct {
		exit    int
		tol     bool
		records int
		err     bool
	}{{0, false, -1, false}, {2, false, -1, false}, {4, true, -1, false}, {0, false, 1, false}, {4, false, -1, true}} {
		c := cmds[i]
		if c.Exit != want.exit || c.Tolerated != want.tol || c.Records != want.records || (c.Err() != nil) != want.err {
			t.Errorf("command %d %q: exit %d tolerated %v records %d err %v", i, c.Command, c.Exit, c.Tolerated, c.Records, c.Err())
		}
	}
	var ce *CLPError
	if err := cmds[4].Err(); !errors.As(err, &ce) || ce.Code != "SQL1769N" || ce.Reason != 2 ||
		!strings.Contains(err.Error(), "DEACTIVATE DATABASE XCATDB first") ||
		!strings.HasPrefix(err.Error(), "db2 STOP HADR ON DATABASE XCATDB: SQL1769N Stop HADR cannot complete.") {
		t.Errorf("error %v (%+v)", err, ce)
	}
	// A session cut off before the command reported.
	cut := ParseSession([]byte("db2 => BACKUP DATABASE XCATDB TO /x\n"))
	if len(cut) != 1 || cut[0].Exit != -1 || cut[0].Err() == nil ||
		!strings.Contains(cut[0].Err().Error(), "session ended") {
		t.Errorf("cut session: %+v", cut)
	}
}

func TestCLPErrorCode(t *testing.T) {
	out := "DB21034E The command was processed as an SQL statement because it was not a valid Command Line Processor command. " +
		"During SQL processing it returned:\nSQL0104N An unexpected token \"X\" was found following \"BEGIN-OF-STATEMENT\". SQLSTATE=42601\n"
	c := CLPCommand{Command: "X", Exit: 4, Output: out, Codes: MessageCodes([]byte(out))}
	var ce *CLPError
	if !errors.As(c.Err(), &ce) || ce.Code != "SQL0104N" || !strings.HasPrefix(ce.Message, "SQL0104N An unexpected token") {
		t.Errorf("%+v", ce)
	}
	c = CLPCommand{Command: "Y", Exit: 8}
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "exit 8 without a Db2 message") {
		t.Errorf("%v", err)
	}
}

func TestEnsureServices(t *testing.T) {
	want := []Service{{"DB2_HADR_1", 55001}, {"DB2_HADR_2", 55002}}
	base := "ssh\t\t22/tcp\n# comment 55001/tcp\n"
	got, changed, err := EnsureServices(base, want)
	if err != nil || !changed || got != base+"DB2_HADR_1      55001/tcp\nDB2_HADR_2      55002/tcp\n" {
		t.Fatalf("%q %v %v", got, changed, err)
	}
	again, changed, err := EnsureServices(got, want)
	if err != nil || changed || again != got {
		t.Errorf("second run changed it: %q %v %v", again, changed, err)
	}
	moved, changed, err := EnsureServices("DB2_HADR_1 50001/tcp\n", want[:1])
	if err != nil || !changed || moved != "DB2_HADR_1      55001/tcp\n" {
		t.Errorf("port fix: %q %v %v", moved, changed, err)
	}
	if _, _, err := EnsureServices("other 55002/tcp\n", want); err == nil || !strings.Contains(err.Error(), "already the service other") {
		t.Errorf("conflict: %v", err)
	}
	if _, err := ParseServices("DB2_HADR_1:55001, DB2_HADR_2:55002"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "X", "X:0", "A B:1", "X:70000"} {
		if _, err := ParseServices(bad); err == nil {
			t.Errorf("ParseServices(%q) accepted", bad)
		}
	}
}

// TestHintTakeover7: SQL1770N reason code 7 says what to do next.
func TestHintTakeover7(t *testing.T) {
	if h := Hint("SQL1770N", 7); !strings.Contains(h, "HADR_TIMEOUT") || !strings.Contains(h, "PEER WINDOW ONLY") {
		t.Errorf("hint %q", h)
	}
}
