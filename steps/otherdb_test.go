package steps

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/remote"
)

func TestParseReplicaStatus(t *testing.T) {
	mariadb := `*************************** 1. row ***************************
                Slave_IO_State: Waiting for master to send event
                   Master_Host: 198.51.100.11
                   Master_User: repl
              Slave_IO_Running: Yes
             Slave_SQL_Running: Yes
                 Last_IO_Error: 
                Last_SQL_Error: 
         Seconds_Behind_Master: 0
`
	mysql8 := `*************************** 1. row ***************************
             Replica_IO_State: Connecting to source
                  Source_Host: 10.0.0.1
           Replica_IO_Running: Connecting
          Replica_SQL_Running: Yes
                Last_IO_Error: error connecting to master 'repl@10.0.0.1:3306' - retry-time: 60 retries: 1
        Seconds_Behind_Source: NULL
`
	tests := []struct {
		name    string
		out     string
		want    ReplicaStatus
		healthy bool
		wantErr bool
	}{
		{"mariadb running", mariadb, ReplicaStatus{Configured: true, SourceHost: "198.51.100.11", IORunning: "Yes", SQLRunning: "Yes"}, true, false},
		{"mysql 8 connecting", mysql8, ReplicaStatus{Configured: true, SourceHost: "10.0.0.1", IORunning: "Connecting", SQLRunning: "Yes", SecondsBehind: -1,
			LastIOError: "error connecting to master 'repl@10.0.0.1:3306' - retry-time: 60 retries: 1"}, false, false},
		{"no replica", "", ReplicaStatus{SecondsBehind: -1}, false, false},
		{"bad lag", "Slave_IO_Running: Yes\nSlave_SQL_Running: Yes\nSeconds_Behind_Master: soon\n", ReplicaStatus{}, false, true},
		{"threads missing", "Master_Host: x\n", ReplicaStatus{}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReplicaStatus(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr {
				return
			}
			if got != tt.want || got.Healthy() != tt.healthy {
				t.Errorf("got %+v (healthy %v), want %+v", got, got.Healthy(), tt.want)
			}
		})
	}
}

func TestSyntaxFor(t *testing.T) {
	tests := []struct{ version, change, start, dump string }{
		{"10.11.6-MariaDB-0+deb12u1", "CHANGE MASTER TO", "START SLAVE", "--master-data"},
		{"5.7.44-log", "CHANGE MASTER TO", "START SLAVE", "--master-data"},
		{"8.0.22", "CHANGE MASTER TO", "START REPLICA", "--master-data"},
		{"8.0.23", "CHANGE REPLICATION SOURCE TO", "START REPLICA", "--master-data"},
		{"8.0.36", "CHANGE REPLICATION SOURCE TO", "START REPLICA", "--source-data"},
		{"8.4.0", "CHANGE REPLICATION SOURCE TO", "START REPLICA", "--source-data"},
	}
	for _, tt := range tests {
		s, err := SyntaxFor(tt.version)
		if err != nil || s.Change != tt.change || s.Start != tt.start || s.DumpFlag != tt.dump {
			t.Errorf("SyntaxFor(%q) = %+v, %v", tt.version, s, err)
		}
	}
	if _, err := SyntaxFor("unknown"); err == nil {
		t.Error("a version without numbers was accepted")
	}
	s, _ := SyntaxFor("8.0.36")
	want := `CHANGE REPLICATION SOURCE TO SOURCE_HOST='h', SOURCE_PORT=3306, SOURCE_USER='repl', SOURCE_PASSWORD='it''s', SOURCE_CONNECT_RETRY=5`
	if got := s.ChangeSource("h", 3306, "repl", "it's"); got != want {
		t.Errorf("ChangeSource =\n %s\nwant\n %s", got, want)
	}
}

func TestCatchUpSyntax(t *testing.T) {
	tests := []struct{ version, status, wait string }{
		{"10.11.6-MariaDB-0+deb12u1", "SHOW MASTER STATUS", "MASTER_POS_WAIT"},
		{"8.0.25", "SHOW MASTER STATUS", "MASTER_POS_WAIT"},
		{"8.0.26", "SHOW MASTER STATUS", "SOURCE_POS_WAIT"},
		{"8.2.0", "SHOW BINARY LOG STATUS", "SOURCE_POS_WAIT"},
		{"8.4.0", "SHOW BINARY LOG STATUS", "SOURCE_POS_WAIT"},
	}
	for _, tt := range tests {
		s, err := SyntaxFor(tt.version)
		if err != nil || s.SourceStatus != tt.status || s.PosWait != tt.wait {
			t.Errorf("SyntaxFor(%q) = %q %q, %v; want %q %q", tt.version, s.SourceStatus, s.PosWait, err, tt.status, tt.wait)
		}
	}
}

func TestParseBinlogPosition(t *testing.T) {
	tests := []struct {
		name, out string
		want      BinlogPosition
		wantErr   bool
	}{
		{"mariadb", "*************************** 1. row ***************************\n            File: mysql-bin.000002\n        Position: 1307\n    Binlog_Do_DB: \nBinlog_Ignore_DB: \n", BinlogPosition{"mysql-bin.000002", 1307}, false},
		{"mysql 8.4 with gtid", "File: source-bin.000002\nPosition: 4\nExecuted_Gtid_Set: 3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5\n", BinlogPosition{"source-bin.000002", 4}, false},
		{"no binary log", "", BinlogPosition{}, true},
		{"bad position", "File: b.000001\nPosition: x\n", BinlogPosition{}, true},
		{"no file", "Position: 7\n", BinlogPosition{}, true},
	}
	for _, tt := range tests {
		got, err := ParseBinlogPosition(tt.out)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("%s: got %+v, %v", tt.name, got, err)
		}
	}
}

func TestParsePosWait(t *testing.T) {
	for out, want := range map[string]int{"0\n": 0, "3": 3} {
		if n, err := ParsePosWait(out); err != nil || n != want {
			t.Errorf("ParsePosWait(%q) = %d, %v", out, n, err)
		}
	}
	for _, out := range []string{"NULL\n", "-1", "", "soon"} {
		if _, err := ParsePosWait(out); err == nil {
			t.Errorf("ParsePosWait(%q) succeeded", out)
		}
	}
	if _, err := ParsePosWait("NULL"); !strings.Contains(err.Error(), "SQL thread") {
		t.Errorf("NULL: %v", err)
	}
}

func TestParseIntegrityReport(t *testing.T) {
	r, err := ParseIntegrityReport("== /etc/xcat/site.sqlite\nok\n== /etc/xcat/nodelist.sqlite\n*** in database main ***\nPage 3: btreeInitPage() returns error code 11\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() || len(r.Files) != 2 || len(r.Problems["/etc/xcat/nodelist.sqlite"]) != 2 || r.Problems["/etc/xcat/site.sqlite"] != nil {
		t.Errorf("got %+v", r)
	}
	if r, _ := ParseIntegrityReport("== a\nok\n"); !r.OK() {
		t.Errorf("one sound file: %+v", r)
	}
	if r, _ := ParseIntegrityReport("== a\n"); r.OK() {
		t.Error("a file without an answer counted as sound")
	}
	if _, err := ParseIntegrityReport("ok\n"); err == nil {
		t.Error("output before any file parsed")
	}
}

func TestSQLiteCheckLocal(t *testing.T) {
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Fatal("sqlite3 is not installed (apt-get install sqlite3)")
	}
	dir := t.TempDir()
	for _, n := range []string{"site", "nodelist"} {
		if out, err := exec.Command("sqlite3", filepath.Join(dir, n+".sqlite"), "CREATE TABLE t(x); INSERT INTO t VALUES(1);").CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	check := textActions(&Env{Transport: remote.Router{Local: remote.Local{}}})["sqlite_check"]
	o, err := check.Run(context.Background(), Call{Args: map[string]string{"path": dir}})
	if err != nil || o.Outputs["files"] != "2" {
		t.Fatalf("check of two sound files: %v %v", o.Outputs, err)
	}
	if err := exec.Command("sh", "-c", "printf garbage | dd of="+filepath.Join(dir, "site.sqlite")+" bs=1 seek=100 conv=notrunc 2>/dev/null").Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := check.Run(context.Background(), Call{Args: map[string]string{"path": dir}}); err == nil || !strings.Contains(err.Error(), "site.sqlite") {
		t.Errorf("a damaged file passed: %v", err)
	}
	if _, err := check.Run(context.Background(), Call{Args: map[string]string{"path": filepath.Join(dir, "none")}}); err == nil {
		t.Error("a missing database passed")
	}
	if _, err := textActions(&Env{})["sqlite_sync"].Run(context.Background(), Call{Args: map[string]string{"path": "/etc/x y", "to": "mn2"}}); err == nil {
		t.Error("a path with a space was accepted")
	}
}
