package postgres

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseLSN(t *testing.T) {
	for in, want := range map[string]LSN{"0/0": 0, "0/3000BC0": 0x3000BC0, "16/B374D848": 0x16B374D848, " 1/0 ": 1 << 32} {
		got, err := ParseLSN(in)
		if err != nil || got != want {
			t.Errorf("ParseLSN(%q) = %v, %v; want %v", in, got, err, want)
		}
		if err == nil && strings.TrimSpace(in) != got.String() {
			t.Errorf("LSN(%q).String() = %s", in, got)
		}
	}
	for _, bad := range []string{"", "3000BC0", "0/xyz", "100000000/0"} {
		if _, err := ParseLSN(bad); err == nil {
			t.Errorf("ParseLSN(%q): no error", bad)
		}
	}
}

func TestParsePGStatus(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want ServerStatus
		err  bool
	}{
		{"standby streaming", "node|t|0/3000BC0|0/3000BC0||2026-11-26 01:10:10.394651+00|0.480|streaming\n",
			ServerStatus{InRecovery: true, ReceiveLSN: "0/3000BC0", ReplayLSN: "0/3000BC0", LastReplay: "2026-11-26 01:10:10.394651+00", ReplayDelay: 0.48, Receiver: "streaming"}, false},
		{"standby never replayed", "node|t||||||\n", ServerStatus{InRecovery: true, ReplayDelay: -1}, false},
		{"primary with a replica", "node|f|||0/5000060|||\nreplica|walreceiver|198.51.100.12|streaming|0/5000060|0/5000060|async|0.001\n",
			ServerStatus{CurrentLSN: "0/5000060", ReplayDelay: -1, Replicas: []Replica{{Name: "walreceiver", Client: "198.51.100.12", State: "streaming", SyncState: "async", SentLSN: "0/5000060", ReplayLSN: "0/5000060", ReplayLagSeconds: 0.001}}}, false},
		{"primary catching up replica", "node|f|||0/5000060|||\nreplica|mn2|198.51.100.12|catchup|0/4000000||async|0\n",
			ServerStatus{CurrentLSN: "0/5000060", ReplayDelay: -1, Replicas: []Replica{{Name: "mn2", Client: "198.51.100.12", State: "catchup", SyncState: "async", SentLSN: "0/4000000"}}}, false},
		{"no status row", "psql: error: connection to server failed\n", ServerStatus{ReplayDelay: -1}, true},
		{"bad delay", "node|t|0/1|0/1||x|soon|\n", ServerStatus{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatus(tt.out)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if !tt.err && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestLossWindow(t *testing.T) {
	st := ServerStatus{InRecovery: true, ReceiveLSN: "0/3000000", ReplayLSN: "0/2FFF000", LastReplay: "2026-11-26 01:10:10+00", ReplayDelay: 2}
	tests := []struct {
		primary string
		bytes   int64
		saying  string
	}{
		{"0/3000000", 0, "no loss"},
		{"0/2000000", 0, "no loss"},
		{"0/3000100", 256, "256 bytes of WAL (0/3000000 to 0/3000100)"},
		{"", -1, "primary position unknown: transactions committed on the primary after WAL 0/3000000 may be lost"},
		{"junk", -1, "unreadable"},
	}
	for _, tt := range tests {
		n, words := st.LossWindow(tt.primary)
		if n != tt.bytes || !strings.Contains(words, tt.saying) || !strings.Contains(words, "(2.0s ago)") {
			t.Errorf("LossWindow(%q) = %d, %q; want %d and %q", tt.primary, n, words, tt.bytes, tt.saying)
		}
	}
}

func TestParsePGSettings(t *testing.T) {
	got, err := ParseSettings("wal_level = replica\n# comment\n\nlisten_addresses += 198.51.100.10; hot_standby=on\n")
	want := []Setting{{Key: "wal_level", Value: "replica"}, {Key: "listen_addresses", Value: "198.51.100.10", Add: true}, {Key: "hot_standby", Value: "on"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseSettings = %+v, %v", got, err)
	}
	for _, bad := range []string{"wal_level", "= x", "a b = c"} {
		if _, err := ParseSettings(bad); err == nil {
			t.Errorf("ParseSettings(%q): no error", bad)
		}
	}
}

const pgConf = `# PostgreSQL configuration file
#listen_addresses = 'localhost'		# what IP address(es) to listen on;
port = 5432				# (change requires restart)
wal_level = minimal   # comment
shared_buffers = 128MB
`

func TestEditPGConf(t *testing.T) {
	tests := []struct {
		name     string
		conf     string
		set      []Setting
		changed  []string
		contains []string
		value    map[string]string
	}{
		{"replace active setting", pgConf, []Setting{{Key: "wal_level", Value: "replica"}}, []string{"wal_level"},
			[]string{"#wal_level = minimal   # comment # replaced by hamnflow", "wal_level = 'replica' # set by hamnflow"}, map[string]string{"wal_level": "replica"}},
		{"already so", pgConf, []Setting{{Key: "port", Value: "5432"}}, nil, nil, map[string]string{"port": "5432"}},
		{"add to default listen list", pgConf, []Setting{{Key: "listen_addresses", Value: "198.51.100.10", Add: true}}, []string{"listen_addresses"},
			[]string{"listen_addresses = 'localhost,198.51.100.10' # set by hamnflow"}, map[string]string{"listen_addresses": "localhost,198.51.100.10"}},
		{"star covers every address", pgConf + "listen_addresses = '*'\n", []Setting{{Key: "listen_addresses", Value: "198.51.100.10", Add: true}}, nil, nil, map[string]string{"listen_addresses": "*"}},
		{"address already listed", "listen_addresses='localhost, 198.51.100.10'\n", []Setting{{Key: "listen_addresses", Value: "198.51.100.10", Add: true}}, nil, nil, nil},
		{"last setting wins", "wal_level = replica\nwal_level = minimal\n", []Setting{{Key: "wal_level", Value: "replica"}}, []string{"wal_level"},
			[]string{"#wal_level = replica # replaced by hamnflow", "#wal_level = minimal # replaced by hamnflow"}, map[string]string{"wal_level": "replica"}},
		{"quoted value with quote", "x = 'it''s'\n", []Setting{{Key: "x", Value: "it's"}}, nil, nil, map[string]string{"x": "it's"}},
		{"new key", "", []Setting{{Key: "wal_log_hints", Value: "on"}}, []string{"wal_log_hints"}, []string{"wal_log_hints = 'on'"}, map[string]string{"wal_log_hints": "on"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := EditConf(tt.conf, tt.set)
			if !reflect.DeepEqual(changed, tt.changed) {
				t.Errorf("changed %v, want %v", changed, tt.changed)
			}
			if len(tt.changed) == 0 && got != tt.conf {
				t.Errorf("text changed without a change:\n%s", got)
			}
			for _, c := range tt.contains {
				if !strings.Contains(got, c) {
					t.Errorf("no %q in\n%s", c, got)
				}
			}
			for k, v := range tt.value {
				if got, _ := ConfValue(got, k); got != v {
					t.Errorf("%s = %q after edit, want %q", k, got, v)
				}
			}
			if again, ch := EditConf(got, tt.set); len(ch) != 0 || again != got {
				t.Errorf("second edit changed %v", ch)
			}
		})
	}
}

func TestEditHBA(t *testing.T) {
	hba := "# TYPE  DATABASE  USER  ADDRESS  METHOD\nlocal   all   all   trust\nhost    all   all   198.51.100.0/24   trust\n"
	got, added := EditHBA(hba, []string{"host all all 198.51.100.0/24 trust", "host  replication replicator 198.51.100.12/32  scram-sha-256", "", "# note"})
	if !reflect.DeepEqual(added, []string{"host replication replicator 198.51.100.12/32 scram-sha-256"}) {
		t.Errorf("added %v", added)
	}
	if !strings.HasPrefix(got, hba) || !strings.HasSuffix(got, "host\treplication\treplicator\t198.51.100.12/32\tscram-sha-256\t# added by hamnflow\n") {
		t.Errorf("edited pg_hba.conf:\n%s", got)
	}
	if again, added := EditHBA(got, []string{"host replication replicator 198.51.100.12/32 scram-sha-256"}); len(added) != 0 || again != got {
		t.Errorf("second edit added %v", added)
	}
	if got, _ := EditHBA("local all all trust", []string{"host all all 1.2.3.4/32 md5"}); got != "local all all trust\nhost\tall\tall\t1.2.3.4/32\tmd5\t# added by hamnflow\n" {
		t.Errorf("no final newline: %q", got)
	}
}

func TestParsePGControlData(t *testing.T) {
	out := `pg_control version number:            1300
Catalog version number:               202209061
Database system identifier:           7441234567890123456
Database cluster state:               shut down
pg_control last modified:             Thu 26 Nov 2026 01:10:12 AM UTC
Latest checkpoint location:           0/5000028
Latest checkpoint's REDO location:    0/5000028
Latest checkpoint's TimeLineID:       2
`
	want := Control{State: "shut down", CheckpointLSN: "0/5000028", TimeLine: 2}
	if got := ParseControlData(out); got != want {
		t.Errorf("ParseControlData = %+v, want %+v", got, want)
	}
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Real psql output of pg_status's queries on PostgreSQL 15 (captured by
// testdata/capture.sh: a primary and a standby streaming over a Unix
// socket, so client_addr is NULL).
func TestParseStatusReal(t *testing.T) {
	tests := []struct {
		file string
		want ServerStatus
		role string
		err  string
	}{
		{"status_primary_streaming.txt", ServerStatus{CurrentLSN: "0/3015FD0", ReplayDelay: -1,
			Replicas: []Replica{{Name: "walreceiver", State: "streaming", SyncState: "async", SentLSN: "0/3015FD0", ReplayLSN: "0/3015FD0", ReplayLagSeconds: 0.044}}}, "primary", ""},
		{"status_standby_streaming.txt", ServerStatus{InRecovery: true, ReceiveLSN: "0/3015FD0", ReplayLSN: "0/3015FD0",
			LastReplay: "2026-12-03 09:31:42.419406+00", ReplayDelay: 1.092, Receiver: "streaming"}, "standby", ""},
		// The primary shut down: the receiver is gone, the standby has
		// replayed the shutdown checkpoint too.
		{"status_standby_primary_gone.txt", ServerStatus{InRecovery: true, ReceiveLSN: "0/3016060", ReplayLSN: "0/3016060",
			LastReplay: "2026-12-03 09:31:42.419406+00", ReplayDelay: 2.267}, "standby", ""},
		// A promoted standby still reports what it received and replayed.
		{"status_promoted.txt", ServerStatus{ReceiveLSN: "0/3000000", ReplayLSN: "0/3016060", CurrentLSN: "0/3016140", ReplayDelay: -1}, "primary", ""},
		{"status_down.txt", ServerStatus{}, "", "no status row"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseStatus(readTestdata(t, tt.file))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if got.Role() != tt.role {
				t.Errorf("role %s, want %s", got.Role(), tt.role)
			}
		})
	}
}

// A field that is neither NULL nor an LSN is an error, not a position.
func TestParseStatusBadLSN(t *testing.T) {
	for _, out := range []string{"node|t|junk|0/1||||\n", "node|f|||0/1|||\nreplica|r||streaming|0/1|x/y|async|0\n"} {
		if _, err := ParseStatus(out); err == nil || !strings.Contains(err.Error(), "LSN") {
			t.Errorf("ParseStatus(%q): err = %v", out, err)
		}
	}
}

// Real pg_controldata output of PostgreSQL 15 (testdata/capture.sh).
func TestParseControlDataReal(t *testing.T) {
	tests := []struct {
		file string
		want Control
	}{
		{"controldata_primary_stopped.txt", Control{State: "shut down", CheckpointLSN: "0/3015FD0", TimeLine: 1}},
		{"controldata_standby_running.txt", Control{State: "in archive recovery", CheckpointLSN: "0/2000060", TimeLine: 1}},
		{"controldata_standby_stopped.txt", Control{State: "shut down in recovery", CheckpointLSN: "0/3015FD0", TimeLine: 1}},
		{"controldata_promoted_stopped.txt", Control{State: "shut down", CheckpointLSN: "0/3016140", TimeLine: 2}},
	}
	for _, tt := range tests {
		if got := ParseControlData(readTestdata(t, tt.file)); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.file, got, tt.want)
		}
	}
}

// What pg_service's script prints: its own was=/state= lines, then, for a
// stopped server, pg_controldata's (real, testdata/capture.sh).
func TestParseServiceOutput(t *testing.T) {
	stopped := "was=running\nstate=stopped\n" + readTestdata(t, "controldata_primary_stopped.txt")
	tests := []struct {
		name, out string
		want      ServiceState
	}{
		{"stopped it", stopped, ServiceState{Was: "running", State: "stopped", Control: Control{State: "shut down", CheckpointLSN: "0/3015FD0", TimeLine: 1}}},
		{"started it", "was=stopped\nstate=running\n", ServiceState{Was: "stopped", State: "running"}},
		{"no pg_controldata", "was=stopped\nstate=stopped\n", ServiceState{Was: "stopped", State: "stopped"}},
		{"nothing", "", ServiceState{}},
	}
	for _, tt := range tests {
		if got := ParseServiceOutput(tt.out); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// The standby replayed the stopped primary's last checkpoint: the wait of
// activate/failback (min_replay_lsn: checkpoint_lsn) ends, on real values.
func TestReplayedCheckpointReal(t *testing.T) {
	cp := ParseControlData(readTestdata(t, "controldata_primary_stopped.txt")).CheckpointLSN
	st, err := ParseStatus(readTestdata(t, "status_standby_primary_gone.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want, err1 := ParseLSN(cp)
	got, err2 := ParseLSN(st.ReplayLSN)
	if err1 != nil || err2 != nil || got < want {
		t.Errorf("replay %s < checkpoint %s (%v, %v)", st.ReplayLSN, cp, err1, err2)
	}
	if n, words := st.LossWindow(cp); n != 0 || !strings.HasPrefix(words, "no loss") {
		t.Errorf("LossWindow(%s) = %d, %q", cp, n, words)
	}
}
