package db2

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// guideStatus is what both of the guide's samples say (5.1.8), except the
// log positions and peer window end, which differ between its two samples.
func guideStatus() HADRStatus {
	return HADRStatus{
		Role: RolePrimary, State: StatePeer, SyncMode: "Nearsync", ConnectStatus: ConnConnected,
		ConnectTime: time.Unix(1281011580, 0), PeerWindow: 120 * time.Second,
		LocalHost: "9.114.47.103", LocalService: "DB2_HADR_1",
		RemoteHost: "9.114.47.104", RemoteService: "DB2_HADR_2", RemoteInstance: "xcatdb",
		Timeout: 3 * time.Second,
	}
}

func assertStatus(t *testing.T, got, want HADRStatus) {
	t.Helper()
	eqTime := func(name string, g, w time.Time) {
		if !g.Equal(w) {
			t.Errorf("%s = %v, want %v", name, g, w)
		}
	}
	eqTime("ConnectTime", got.ConnectTime, want.ConnectTime)
	eqTime("PeerWindowEnd", got.PeerWindowEnd, want.PeerWindowEnd)
	got.ConnectTime, want.ConnectTime = time.Time{}, time.Time{}
	got.PeerWindowEnd, want.PeerWindowEnd = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("status mismatch\n got  %+v\n want %+v", got, want)
	}
}

func TestParseDb2pdHADR(t *testing.T) {
	guide := guideStatus()
	guide.PeerWindowEnd = time.Unix(1281016327, 0)
	guide.PrimaryLog = LogPosition{"S0000002.LOG", 66, "000000000FA4869D"}
	guide.StandbyLog = guide.PrimaryLog

	tests := []struct {
		file string
		want HADRStatus
	}{
		{"guide_db2pd.txt", guide},
		{"wiki_db2pd.txt", guide},
		{"ibm_v97_db2pd.txt", HADRStatus{
			Role: RolePrimary, State: StatePeer, SyncMode: "Sync", ConnectStatus: ConnConnected,
			ConnectTime: time.Unix(1158008709, 0), LogGap: 1412, Timeout: 8 * time.Second,
			LocalHost: "server1.ibm.com", LocalService: "hdr_svc1",
			RemoteHost: "server2.ibm.com", RemoteService: "hdr_svc2", RemoteInstance: "accounting",
			PrimaryLog: LogPosition{"S0000833.LOG", 0, "0000000001CA4000"},
			StandbyLog: LogPosition{"S0000832.LOG", 3, "0000000001CA3A77"},
		}},
		{"ibm_v101_db2pd.txt", HADRStatus{
			Role: RolePrimary, State: StatePeer, SyncMode: "Sync", ConnectStatus: ConnConnected,
			ConnectTime: time.Unix(1307565490, 199479000), Timeout: 100 * time.Second,
			LocalHost: "hostP.ibm.com", RemoteHost: "hostS1.ibm.com", RemoteInstance: "db2inst",
			PrimaryLog: LogPosition{"S0000009.LOG", 1, "49262315"},
			StandbyLog: LogPosition{"S0000009.LOG", 1, "49262315"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, err := ParseDb2pdHADR(readTestdata(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			assertStatus(t, got, tc.want)
		})
	}
}

// A standby of a current Db2 that lost its primary inside the peer window.
const v115StandbyDisconnectedPeer = `
Database Member 0 -- Database XCATDB -- Standby -- Up 0 days 00:10:02 -- Date 2024-05-02-10.11.12.000000

                            HADR_ROLE = STANDBY
                          REPLAY_TYPE = PHYSICAL
                        HADR_SYNCMODE = NEARSYNC
                           STANDBY_ID = 0
                        LOG_STREAM_ID = 0
                           HADR_STATE = DISCONNECTED_PEER
                           HADR_FLAGS =
                  PRIMARY_MEMBER_HOST = 10.0.0.1
                     PRIMARY_INSTANCE = xcatdb
                       PRIMARY_MEMBER = 0
                  STANDBY_MEMBER_HOST = 10.0.0.2
                     STANDBY_INSTANCE = xcatdb
                       STANDBY_MEMBER = 0
                  HADR_CONNECT_STATUS = DISCONNECTED
             HADR_CONNECT_STATUS_TIME = 05/02/2024 10:11:05.250000 (1714644665)
          HEARTBEAT_INTERVAL(seconds) = 1
                     HEARTBEAT_MISSED = 3
                   HEARTBEAT_EXPECTED = 40
                HADR_TIMEOUT(seconds) = 3
        TIME_SINCE_LAST_RECV(seconds) = 4
            PRIMARY_LOG_FILE,PAGE,POS = S0000003.LOG, 7, 12611772
            STANDBY_LOG_FILE,PAGE,POS = S0000003.LOG, 6, 12607676
                  HADR_LOG_GAP(bytes) = 4096
                 PEER_WINDOW(seconds) = 120
                      PEER_WINDOW_END = 05/02/2024 10:13:04.000000 (1714644784)
             READS_ON_STANDBY_ENABLED = N
`

func TestParseDb2pdHADRCurrentStandby(t *testing.T) {
	got, err := ParseDb2pdHADR([]byte(v115StandbyDisconnectedPeer))
	if err != nil {
		t.Fatal(err)
	}
	assertStatus(t, got, HADRStatus{
		Role: RoleStandby, State: StateDisconnectedPeer, SyncMode: "Nearsync", ConnectStatus: ConnDisconnected,
		ConnectTime: time.Unix(1714644665, 250000000), HeartbeatsMissed: 3,
		PeerWindowEnd: time.Unix(1714644784, 0), PeerWindow: 120 * time.Second, Timeout: 3 * time.Second,
		LocalHost: "10.0.0.2", RemoteHost: "10.0.0.1", RemoteInstance: "xcatdb",
		PrimaryLog: LogPosition{"S0000003.LOG", 7, "12611772"},
		StandbyLog: LogPosition{"S0000003.LOG", 6, "12607676"},
		LogGap:     4096,
	})
}

func TestParseDb2pdHADRBroken(t *testing.T) {
	tests := []struct {
		name, in string
		is       error
		mention  []string
	}{
		{"empty", "", nil, []string{"empty"}},
		{"blank", "  \n\n", nil, []string{"empty"}},
		{"not hadr v97", "Database Partition 0 -- Database XCATDB -- Active -- Up 0 days 00:00:11\n\nHADR is not active.\n", ErrHADRNotActive, nil},
		{"inactive db", "Option -hadr requires -db <database> or -alldbs option and active database.\n", ErrDatabaseNotActive, nil},
		{"garbage", "hello world\n", nil, []string{"Role", "State", "ConnectStatus"}},
		{"v101 without state", "HADR_ROLE = PRIMARY\nHADR_CONNECT_STATUS = CONNECTED\n", nil, []string{"HADR_STATE"}},
		{"v101 bad role", "HADR_ROLE = LEADER\nHADR_STATE = PEER\nHADR_CONNECT_STATUS = CONNECTED\n", nil, []string{"HADR_ROLE", "LEADER"}},
		{"v101 bad position", "HADR_ROLE = PRIMARY\nHADR_STATE = PEER\nHADR_CONNECT_STATUS = CONNECTED\nPRIMARY_LOG_FILE,PAGE,POS = S0000001.LOG\n", nil, []string{"PRIMARY_LOG_FILE"}},
		{"v97 truncated", "HADR Information:\nRole State SyncMode HeartBeatsMissed LogGapRunAvg (bytes)\nPrimary Peer Nearsync 0 0\n", nil, []string{"ConnectStatus"}},
		{"v97 bad state", "HADR Information:\nRole State SyncMode HeartBeatsMissed LogGapRunAvg (bytes)\nPrimary Sleepy Nearsync 0 0\nConnectStatus ConnectTime Timeout\nConnected Thu Aug 5 20:33:00 2010 (1281011580) 3\n", nil, []string{"State", "Sleepy"}},
		{"v97 bad number", "HADR Information:\nRole State SyncMode HeartBeatsMissed LogGapRunAvg (bytes)\nPrimary Peer Nearsync zero 0\nConnectStatus ConnectTime Timeout\nConnected Thu Aug 5 20:33:00 2010 (1281011580) 3\n", nil, []string{"HeartBeatsMissed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDb2pdHADR([]byte(tc.in))
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestParseSnapshot(t *testing.T) {
	// The guide's MN ran in UTC+8: its snapshot's local connection time
	// 20:33:00.412948 is the db2pd sample's epoch 1281011580.
	loc := time.FixedZone("guide", 8*3600)
	want := guideStatus()
	want.ConnectTime = time.Unix(1281011580, 412948000)
	want.PeerWindowEnd = time.Unix(1281013387, 0)
	want.PrimaryLog = LogPosition{"S0000002.LOG", 18, "000000000FA18D7C"}
	want.StandbyLog = want.PrimaryLog
	for _, f := range []string{"guide_snapshot.txt", "wiki_snapshot.txt"} {
		t.Run(f, func(t *testing.T) {
			got, err := ParseSnapshotIn(readTestdata(t, f), loc)
			if err != nil {
				t.Fatal(err)
			}
			assertStatus(t, got, want)
		})
	}
}

func TestParseSnapshotInSection(t *testing.T) {
	out := `
              Database Snapshot

Database name                              = XCATDB
Database status                            = Active
Applications connected currently           = 0

HADR Status
  Role                   = Standby
  State                  = Remote catchup pending
  Synchronization mode   = Nearsync
  Connection status      = Disconnected, 05/02/2024 10:11:05.250000
  Peer window end        = Null (0)
  Peer window (seconds)  = 120
  Heartbeats missed      = 0
  Local host             = 10.0.0.2
  Local service          = DB2_HADR_2
  Remote host            = 10.0.0.1
  Remote service         = DB2_HADR_1
  Remote instance        = xcatdb
  timeout(seconds)       = 3
  Primary log position(file, page, LSN) = S0000003.LOG, 7, 0000000000C06FBC
  Standby log position(file, page, LSN) = S0000003.LOG, 6, 0000000000C05FBC
  Log gap running average(bytes) = 4096

Memory usage for database:
  Node number                                  = 0
`
	got, err := ParseSnapshotIn([]byte(out), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	assertStatus(t, got, HADRStatus{
		Role: RoleStandby, State: StateRemoteCatchupPending, SyncMode: "Nearsync", ConnectStatus: ConnDisconnected,
		ConnectTime: time.Date(2024, 5, 2, 10, 11, 5, 250000000, time.UTC), PeerWindow: 120 * time.Second,
		LocalHost: "10.0.0.2", LocalService: "DB2_HADR_2", RemoteHost: "10.0.0.1", RemoteService: "DB2_HADR_1",
		RemoteInstance: "xcatdb", Timeout: 3 * time.Second,
		PrimaryLog: LogPosition{"S0000003.LOG", 7, "0000000000C06FBC"},
		StandbyLog: LogPosition{"S0000003.LOG", 6, "0000000000C05FBC"},
		LogGap:     4096,
	})
}

func TestParseSnapshotBroken(t *testing.T) {
	tests := []struct {
		name, in string
		is       error
		mention  string
	}{
		{"empty", "", nil, "empty"},
		{"no section", "Database name = XCATDB\n", nil, "HADR Status"},
		{"error message", "SQL1611W  No data was returned by Database System Monitor.\n", nil, "SQL1611W"},
		{"standard", "HADR Status\n  Role = Standard\n", ErrHADRNotActive, ""},
		{"no role", "HADR Status\n  State = Peer\n", nil, "Role"},
		{"no state", "HADR Status\n  Role = Primary\n  Connection status = Connected, 08/05/2010 20:33:00.412948\n", nil, "State"},
		{"bad gap", "HADR Status\n Role = Primary\n State = Peer\n Connection status = Connected, 08/05/2010 20:33:00.412948\n Log gap running average(bytes) = lots\n", nil, "Log gap"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSnapshotIn([]byte(tc.in), time.UTC)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
}

func TestParseBackupTimestamp(t *testing.T) {
	for _, f := range []string{"guide_backup.txt", "backup.txt", "wiki_backup.txt"} {
		ts, err := ParseBackupTimestamp(readTestdata(t, f))
		if err != nil || ts != "20100805161232" {
			t.Errorf("%s: got %q, %v", f, ts, err)
		}
	}
	_, err := ParseBackupTimestamp(readTestdata(t, "backup_inuse.txt"))
	if err == nil || !strings.Contains(err.Error(), "SQL1035N") {
		t.Errorf("in-use backup: err = %v, want SQL1035N", err)
	}
	if _, err := ParseBackupTimestamp([]byte("Backup successful. The timestamp for this backup image is : 2010")); err == nil {
		t.Error("short timestamp accepted")
	}
	if _, err := ParseBackupTimestamp(nil); err == nil {
		t.Error("empty output accepted")
	}
}

func TestParseDBCfg(t *testing.T) {
	cfg, err := ParseDBCfg(readTestdata(t, "dbcfg_v97.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"HADR_LOCAL_HOST": "9.114.47.103", "HADR_LOCAL_SVC": "DB2_HADR_1", "HADR_REMOTE_HOST": "9.114.47.104",
		"HADR_REMOTE_SVC": "DB2_HADR_2", "HADR_REMOTE_INST": "xcatdb", "HADR_TIMEOUT": "3",
		"HADR_SYNCMODE": "NEARSYNC", "HADR_PEER_WINDOW": "120", "LOGRETAIN": "RECOVERY",
		"TRACKMOD": "ON", "LOGINDEXBUILD": "ON", "INDEXREC": "RESTART", "LOGFILSIZ": "1024",
		"ALT_COLLATE": "", "HADR database role": "PRIMARY", "Rollforward pending": "NO",
		"First active log file": "S0000002.LOG",
	}
	for k, v := range want {
		if got, ok := cfg[k]; !ok || got != v {
			t.Errorf("%s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if _, err := ParseDBCfg([]byte("SQL1013N  The database alias name or database name \"XCATDB\" could not be found.  SQLSTATE=42705\n")); err == nil || !strings.Contains(err.Error(), "SQL1013N") {
		t.Errorf("error output: err = %v", err)
	}
	if _, err := ParseDBCfg([]byte("nothing here\n")); err == nil {
		t.Error("garbage accepted")
	}
}

// TestParseDBCfg115 reads Db2 11.5's layout (IBM 11.5 "GET DATABASE
// CONFIGURATION command"): no LOGRETAIN line, LOGARCHMETH1 and the
// informational log retain / user exit status lines.
func TestParseDBCfg115(t *testing.T) {
	cfg, err := ParseDBCfg(readTestdata(t, "dbcfg_v115.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"HADR_LOCAL_HOST": "9.114.47.103", "HADR_SYNCMODE": "NEARSYNC", "HADR_PEER_WINDOW": "120",
		"HADR_TARGET_LIST": "", "LOGARCHMETH1": "DISK:/var/lib/db2/backup", "LOGARCHMETH2": "OFF",
		"Log retain for recovery status": "NO", "User exit for logging status": "YES",
		"Database configuration release level": "0x1500", "HADR database role": "PRIMARY",
		"Update to database level pending": "NO (0x0)",
	}
	for k, v := range want {
		if got, ok := cfg[k]; !ok || got != v {
			t.Errorf("%s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if _, ok := cfg["LOGRETAIN"]; ok {
		t.Error("LOGRETAIN read from 11.5 output")
	}
}

func TestMessageCodes(t *testing.T) {
	out := []byte(`SQL1117N  A connection to or activation of database "XCATDB" cannot be made because of ROLL-FORWARD PENDING.  SQLSTATE=57019
DB20000I  The SQL command completed successfully.
SQL1117N again; SQL1768N  Unable to start HADR.  Reason code = "7".`)
	got := MessageCodes(out)
	want := []string{"SQL1117N", "DB20000I", "SQL1768N"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("MessageCodes = %v, want %v", got, want)
	}
	if rc, ok := ReasonCode(out, "SQL1768N"); !ok || rc != 7 {
		t.Errorf("ReasonCode = %d, %v", rc, ok)
	}
	if _, ok := ReasonCode(out, "SQL1117N"); ok {
		t.Error("SQL1117N has no reason code")
	}
	if MessageCodes([]byte("SQLSTATE=57019 xSQL1234Ny")) != nil {
		t.Error("found codes in noise")
	}
}

func FuzzParseDb2pdHADR(f *testing.F) {
	for _, name := range []string{"guide_db2pd.txt", "wiki_db2pd.txt", "ibm_v97_db2pd.txt", "ibm_v101_db2pd.txt"} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte(v115StandbyDisconnectedPeer))
	f.Add([]byte("Role State\nPrimary\nConnectTime\n(1)"))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ParseDb2pdHADR(in)
		if err == nil && (s.Role == "" || s.State == "" || s.ConnectStatus == "") {
			t.Fatalf("no error but incomplete status %+v", s)
		}
		_, _ = ParseSnapshot(in)
	})
}
