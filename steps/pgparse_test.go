package steps

import (
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
		want PGStatus
		err  bool
	}{
		{"standby streaming", "node|t|0/3000BC0|0/3000BC0||2026-11-26 01:10:10.394651+00|0.480|streaming\n",
			PGStatus{InRecovery: true, ReceiveLSN: "0/3000BC0", ReplayLSN: "0/3000BC0", LastReplay: "2026-11-26 01:10:10.394651+00", ReplayDelay: 0.48, Receiver: "streaming"}, false},
		{"standby never replayed", "node|t||||||\n", PGStatus{InRecovery: true, ReplayDelay: -1}, false},
		{"primary with a replica", "node|f|||0/5000060|||\nreplica|walreceiver|198.51.100.12|streaming|0/5000060|0/5000060|async|0.001\n",
			PGStatus{CurrentLSN: "0/5000060", ReplayDelay: -1, Replicas: []PGReplica{{Name: "walreceiver", Client: "198.51.100.12", State: "streaming", SyncState: "async", SentLSN: "0/5000060", ReplayLSN: "0/5000060", ReplayLagSeconds: 0.001}}}, false},
		{"primary catching up replica", "node|f|||0/5000060|||\nreplica|mn2|198.51.100.12|catchup|0/4000000||async|0\n",
			PGStatus{CurrentLSN: "0/5000060", ReplayDelay: -1, Replicas: []PGReplica{{Name: "mn2", Client: "198.51.100.12", State: "catchup", SyncState: "async", SentLSN: "0/4000000"}}}, false},
		{"no status row", "psql: error: connection to server failed\n", PGStatus{ReplayDelay: -1}, true},
		{"bad delay", "node|t|0/1|0/1||x|soon|\n", PGStatus{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePGStatus(tt.out)
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
	st := PGStatus{InRecovery: true, ReceiveLSN: "0/3000000", ReplayLSN: "0/2FFF000", LastReplay: "2026-11-26 01:10:10+00", ReplayDelay: 2}
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
	got, err := ParsePGSettings("wal_level = replica\n# comment\n\nlisten_addresses += 198.51.100.10; hot_standby=on\n")
	want := []PGSetting{{Key: "wal_level", Value: "replica"}, {Key: "listen_addresses", Value: "198.51.100.10", Add: true}, {Key: "hot_standby", Value: "on"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParsePGSettings = %+v, %v", got, err)
	}
	for _, bad := range []string{"wal_level", "= x", "a b = c"} {
		if _, err := ParsePGSettings(bad); err == nil {
			t.Errorf("ParsePGSettings(%q): no error", bad)
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
		set      []PGSetting
		changed  []string
		contains []string
		value    map[string]string
	}{
		{"replace active setting", pgConf, []PGSetting{{Key: "wal_level", Value: "replica"}}, []string{"wal_level"},
			[]string{"#wal_level = minimal   # comment # replaced by hamnflow", "wal_level = 'replica' # set by hamnflow"}, map[string]string{"wal_level": "replica"}},
		{"already so", pgConf, []PGSetting{{Key: "port", Value: "5432"}}, nil, nil, map[string]string{"port": "5432"}},
		{"add to default listen list", pgConf, []PGSetting{{Key: "listen_addresses", Value: "198.51.100.10", Add: true}}, []string{"listen_addresses"},
			[]string{"listen_addresses = 'localhost,198.51.100.10' # set by hamnflow"}, map[string]string{"listen_addresses": "localhost,198.51.100.10"}},
		{"star covers every address", pgConf + "listen_addresses = '*'\n", []PGSetting{{Key: "listen_addresses", Value: "198.51.100.10", Add: true}}, nil, nil, map[string]string{"listen_addresses": "*"}},
		{"address already listed", "listen_addresses='localhost, 198.51.100.10'\n", []PGSetting{{Key: "listen_addresses", Value: "198.51.100.10", Add: true}}, nil, nil, nil},
		{"last setting wins", "wal_level = replica\nwal_level = minimal\n", []PGSetting{{Key: "wal_level", Value: "replica"}}, []string{"wal_level"},
			[]string{"#wal_level = replica # replaced by hamnflow", "#wal_level = minimal # replaced by hamnflow"}, map[string]string{"wal_level": "replica"}},
		{"quoted value with quote", "x = 'it''s'\n", []PGSetting{{Key: "x", Value: "it's"}}, nil, nil, map[string]string{"x": "it's"}},
		{"new key", "", []PGSetting{{Key: "wal_log_hints", Value: "on"}}, []string{"wal_log_hints"}, []string{"wal_log_hints = 'on'"}, map[string]string{"wal_log_hints": "on"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := EditPGConf(tt.conf, tt.set)
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
				if got, _ := PGConfValue(got, k); got != v {
					t.Errorf("%s = %q after edit, want %q", k, got, v)
				}
			}
			if again, ch := EditPGConf(got, tt.set); len(ch) != 0 || again != got {
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
	want := PGControl{State: "shut down", CheckpointLSN: "0/5000028", TimeLine: "2"}
	if got := ParsePGControlData(out); got != want {
		t.Errorf("ParsePGControlData = %+v, want %+v", got, want)
	}
}
