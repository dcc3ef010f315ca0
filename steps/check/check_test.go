package check

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The lab's outputs were recorded on the real lab (systemd hosts, real
// xCAT 2.19 on PostgreSQL 15) after pg-setup and sync-setup, at about
// 17:33 UTC on 2026-12-03 by the lab's clock.
var labNow = time.Date(2026, 12, 3, 17, 35, 0, 0, time.UTC)

func labConfig() Config {
	return Config{
		Cluster: "lab",
		Primary: Host{Name: "mn1", Hostname: "mn1", Address: "198.51.100.11"},
		Standby: Host{Name: "mn2", Hostname: "mn2", Address: "198.51.100.12"},
		DB:      Database{Type: "postgresql", BinDir: "/usr/lib/postgresql/15/bin"},
		Now:     func() time.Time { return labNow },
		History: history{"sync-setup": labNow.Add(-20 * time.Minute)},
	}
}

type history map[string]time.Time

func (h history) LastSucceeded(_ string, pbs ...string) (JournalRun, bool, error) {
	var best JournalRun
	for _, pb := range pbs {
		if t, ok := h[pb]; ok && t.After(best.Ended) {
			best = JournalRun{ID: "20261203-164149-3ad1", Playbook: pb, Ended: t}
		}
	}
	return best, !best.Ended.IsZero(), nil
}

type brokenHistory struct{}

func (brokenHistory) LastSucceeded(string, ...string) (JournalRun, bool, error) {
	return JournalRun{}, false, errors.New("journal is locked")
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// facts parses a recorded output as if the host answered with a clock
// that agrees with the checker's.
func facts(t *testing.T, host, file string) Facts {
	t.Helper()
	f := ParseFacts(host, read(t, file))
	f.Sent = time.Unix(0, int64(f.Clock*1e9))
	return f
}

func find(rs []Result, label string) (Result, bool) {
	for _, r := range rs {
		if r.Label() == label {
			return r, true
		}
	}
	return Result{}, false
}

func TestSplitSections(t *testing.T) {
	out := "banner\n@@hf clock\n1796316176.2\n@@hf cert ca\nnotAfter=x\n@@rc 1\n\n@@hf ssh\n@@rc 255\nPermission denied (publickey).\n"
	secs := SplitSections(out)
	if len(secs) != 3 {
		t.Fatalf("sections: %v", secs)
	}
	if s := secs["cert ca"]; s.Name != "cert" || s.Arg != "ca" || s.Exit != 1 || s.Text() != "notAfter=x" {
		t.Errorf("cert ca: %+v", s)
	}
	if s := secs["clock"]; s.Exit != -1 || s.Text() != "1796316176.2" {
		t.Errorf("clock: %+v", s)
	}
	if s := secs["ssh"]; s.Exit != 255 || s.Tail() != "Permission denied (publickey)." {
		t.Errorf("ssh: %+v", s)
	}
}

func TestParseFactsLab(t *testing.T) {
	p := ParseFacts("mn1", read(t, "lab_primary.txt"))
	s := ParseFacts("mn2", read(t, "lab_standby.txt"))
	if p.PG == nil || p.PG.InRecovery || p.PG.CurrentLSN != "0/3000000" || len(p.PG.Replicas) != 1 || p.PG.Replicas[0].State != "streaming" {
		t.Errorf("primary's PostgreSQL: %+v (%v)", p.PG, p.DBError)
	}
	if s.PG == nil || !s.PG.InRecovery || s.PG.Receiver != "streaming" || s.PG.ReplayLSN != "0/3000000" {
		t.Errorf("standby's PostgreSQL: %+v (%v)", s.PG, s.DBError)
	}
	if len(p.Sums) != 33 || p.Sums["etc/xcat/cert/server-cert.pem"] != "9e3a5a34e516f2a9ad9c34791fc3aafc17f78d2a054882ae890d5e9f8c7c2e5e" {
		t.Errorf("primary's sums: %d files, server-cert %q", len(p.Sums), p.Sums["etc/xcat/cert/server-cert.pem"])
	}
	if got := p.Certs["server"].NotAfter; !got.Equal(time.Date(2046, 11, 28, 17, 31, 39, 0, time.UTC)) {
		t.Errorf("server cert notAfter %v (%v)", got, p.Certs["server"].Err)
	}
	if got := p.Certs["ca"].NotAfter; !got.Equal(time.Date(2046, 12, 3, 17, 31, 39, 0, time.UTC)) {
		t.Errorf("ca cert notAfter %v", got)
	}
	if st := s.Services["dhcp"]; st.Unit != "isc-dhcp-server" || st.Running || st.Enabled {
		t.Errorf("standby's dhcp: %+v", st)
	}
	if p.Clock != 1796319193 || p.Info["resolve"] != "198.51.100.12" || p.SSH.Exit != 0 {
		t.Errorf("primary: clock %v, resolve %q, ssh %d", p.Clock, p.Info["resolve"], p.SSH.Exit)
	}
	for _, set := range []string{"credentials", "install+network"} {
		if d, ok := p.Drift[set]; !ok || d.Err != nil || len(d.Changes) != 0 {
			t.Errorf("drift %s: %+v", set, d)
		}
	}
}

// TestEvaluate drives each check to OK, WARNING and CRITICAL with
// recorded outputs of the real lab, healthy and broken.
func TestEvaluate(t *testing.T) {
	type want struct {
		label  string
		status Status
		msg    string // in the message
	}
	cases := []struct {
		name    string
		primary string
		standby string
		change  func(c *Config, p, s *Facts)
		verdict Status
		want    []want
	}{
		{name: "healthy lab", primary: "lab_primary.txt", standby: "lab_standby.txt", verdict: OK, want: []want{
			{"pg_streaming_mn2", OK, "streaming"},
			{"pg_replay_lag_bytes_mn2", OK, "0B behind"},
			{"pg_replay_lag_mn2", OK, "0.1s"},
			{"cred_parity_mn2", OK, "33 files"},
			{"cert_days_mn1_server", OK, "2046-11-28"},
			{"standby_service_mn2_dhcp", OK, "stopped, not enabled"},
			{"standby_service_mn2_console", OK, "conserver-server"},
			{"ssh_trust_mn2_mn1", OK, "works"},
			{"sync_drift_mn1_install", OK, "same files"},
			{"sync_age", OK, "20m ago"},
			{"drill_age", OK, "rehearse one"},
			{"clock_skew_mn2", OK, "+0s from mn1's (to a second)"},
		}},
		{name: "WAL receiver stopped, dhcpd enabled", primary: "lab_primary.txt", standby: "lab_standby_faults.txt", verdict: Critical, want: []want{
			{"pg_streaming_mn2", Critical, "WAL receiver is none, not streaming (pg_stat_wal_receiver): check primary_conninfo"},
			{"standby_service_mn2_dhcp", Critical, "isc-dhcp-server is enabled at boot on the standby mn2: a reboot or an upgrade starts it beside the primary's: systemctl disable isc-dhcp-server"},
			{"standby_service_mn2_xcatd", OK, ""},
		}},
		{name: "a file changed on the primary", primary: "lab_primary_drift.txt", standby: "lab_standby.txt", verdict: Warning, want: []want{
			{"sync_drift_mn1_install", Warning, "install: 1 item(s) differ on mn2 (/install/postscripts/h15-test): run hamnflow run sync"},
			{"sync_drift_mn1_network", Warning, "(/etc/hosts)"},
			// rsync -R's parent directory, newer only in time: not drift.
			{"sync_drift_mn1_credentials", OK, "same files"},
			{"pg_replay_lag_bytes_mn2", OK, "behind"},
		}},
		{name: "standby lags", primary: "lab_primary.txt", standby: "lab_standby.txt", verdict: Critical,
			change: func(c *Config, p, s *Facts) {
				p.PG.CurrentLSN = "0/5000000" // 32 MiB ahead of the standby's replay
				p.PG.Replicas[0].ReplayLagSeconds = 400
			}, want: []want{
				{"pg_replay_lag_bytes_mn2", Warning, "32MiB behind"},
				{"pg_replay_lag_mn2", Critical, "400.0s"},
			}},
		{name: "certificates near and past expiry", primary: "lab_primary.txt", standby: "lab_standby.txt", verdict: Critical,
			change: func(c *Config, p, s *Facts) {
				c.Now = func() time.Time { return time.Date(2046, 11, 10, 0, 0, 0, 0, time.UTC) }
				c.History = history{"sync": time.Date(2046, 11, 9, 23, 0, 0, 0, time.UTC)}
				s.Certs["server"] = CertEnd{NotAfter: time.Date(2046, 11, 1, 0, 0, 0, 0, time.UTC)}
			}, want: []want{
				{"cert_days_mn1_server", Warning, "expires on 2046-11-28 (in 18 days): renew it (xcatconfig -c"},
				{"cert_days_mn2_server", Critical, "expired on 2046-11-01"},
				{"cert_days_mn1_ca", Warning, "in 23 days"},
			}},
		// Recorded on the lab with mn2's sshd stopped.
		{name: "standby's sshd stopped", primary: "lab_primary_peer_down.txt", standby: "lab_standby.txt", verdict: Critical,
			change: func(c *Config, p, s *Facts) {
				*s = Facts{Host: "mn2", Err: errors.New("dial tcp 198.51.100.102:22: connect: connection refused")}
			}, want: []want{
				{"reach_mn2", Critical, "cannot run the checks on mn2: dial tcp 198.51.100.102:22: connect: connection refused: check that sshd runs there"},
				{"ssh_trust_mn1_mn2", Critical, "ssh -o BatchMode=yes mn1 -> mn2 (198.51.100.12) fails: ssh: connect to host 198.51.100.12 port 22: Connection refused: start sshd on mn2"},
				{"sync_drift_mn1_install", Critical, "install: rsync from mn1 to mn2 fails, so its sync does too: rsync -n exit status 255: ssh: connect to host mn2 port 22: Connection refused"},
				{"standby_service_mn2_dhcp", Unknown, "did not answer"},
				{"clock_skew_mn2", Unknown, "both MNs must answer"},
			}},
		{name: "clock ahead, no sync recorded", primary: "lab_primary.txt", standby: "lab_standby.txt", verdict: Warning,
			change: func(c *Config, p, s *Facts) {
				s.Sent = s.Sent.Add(-3 * time.Second)
				c.History = history{}
			}, want: []want{
				{"clock_skew_mn2", Warning, "mn2's clock is +3s from mn1's (to a second): synchronise the clocks"},
				{"sync_age", Warning, "no successful sync or sync-setup run in the journal"},
			}},
		{name: "journal unreadable", primary: "lab_primary.txt", standby: "lab_standby.txt", verdict: Unknown,
			change: func(c *Config, p, s *Facts) { c.History = brokenHistory{} },
			want:   []want{{"sync_age", Unknown, "journal is locked"}, {"drill_age", Unknown, "journal is locked"}}},
		{name: "old sync and drill", primary: "lab_primary.txt", standby: "lab_standby.txt", verdict: Critical,
			change: func(c *Config, p, s *Facts) {
				c.History = history{"sync": labNow.Add(-8 * 24 * time.Hour), "deactivate": labNow.Add(-200 * 24 * time.Hour)}
			}, want: []want{
				{"sync_age", Critical, "8d ago: run hamnflow run sync"},
				{"drill_age", Warning, "last successful deactivate run"},
			}},
		{name: "credentials differ", primary: "lab_primary.txt", standby: "lab_standby.txt", verdict: Critical,
			change: func(c *Config, p, s *Facts) {
				s.Sums["etc/xcat/cert/server-cert.pem"] = strings.Repeat("0", 64)
				delete(s.Sums, "root/.xcat/ca.pem")
			}, want: []want{
				{"cred_parity_mn2", Critical, "2 credential file(s) differ between the MNs (/etc/xcat/cert/server-cert.pem, /root/.xcat/ca.pem (missing))"},
			}},
		{name: "one dry run for two path sets", primary: "lab_primary.txt", standby: "lab_standby.txt", verdict: Warning,
			change: func(c *Config, p, s *Facts) {
				delete(p.Drift, "install")
				delete(p.Drift, "network")
				p.Drift["install+network"] = ParseDrift(Section{Lines: []string{"@@item .d..t...... /install/postscripts/",
					"@@item <f+++++++++ /install/postscripts/a", "@@item <f+++++++++ /install/postscripts/b", "@@item <f.st...... /etc/hosts", "@@item .d...p..... /etc/"}})
			}, want: []want{
				{"sync_drift_mn1_install", Warning, "install: 2 item(s) differ on mn2 (/install/postscripts/a, /install/postscripts/b)"},
				{"sync_drift_mn1_network", Warning, "network: 1 item(s) differ on mn2 (/etc/hosts)"},
			}},
		{name: "sync's rsync fails", primary: "lab_primary.txt", standby: "lab_standby.txt", verdict: Critical,
			change: func(c *Config, p, s *Facts) {
				p.Drift["install"] = ParseDrift(Section{Exit: 255, Lines: []string{"ssh: Could not resolve hostname mn2: Name or service not known",
					"rsync: connection unexpectedly closed (0 bytes received so far) [sender]", "rsync error: unexplained error (code 255) at io.c(285) [sender=3.5.0]"}})
			}, want: []want{
				{"sync_drift_mn1_install", Critical, "install: rsync from mn1 to mn2 fails, so its sync does too: rsync -n exit status 255: ssh: Could not resolve hostname mn2"},
			}},
		{name: "standby is a primary", primary: "lab_primary.txt", standby: "lab_standby.txt", verdict: Critical,
			change: func(c *Config, p, s *Facts) { s.PG.InRecovery = false },
			want:   []want{{"pg_streaming_mn2", Critical, "split brain"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := labConfig()
			p, s := facts(t, "mn1", tc.primary), facts(t, "mn2", tc.standby)
			if tc.change != nil {
				tc.change(&c, &p, &s)
			}
			rs := Evaluate(c, p, s)
			if v := Verdict(rs); v != tc.verdict {
				for _, r := range rs {
					t.Logf("%-8s %s: %s", r.Status, r.Label(), r.Message)
				}
				t.Errorf("verdict %s, want %s", v, tc.verdict)
			}
			for _, w := range tc.want {
				r, ok := find(rs, w.label)
				if !ok {
					t.Errorf("no result %s", w.label)
					continue
				}
				if r.Status != w.status || !strings.Contains(r.Message, w.msg) {
					t.Errorf("%s: %s %q, want %s with %q", w.label, r.Status, r.Message, w.status, w.msg)
				}
			}
		})
	}
}

func TestEvaluateDatabases(t *testing.T) {
	db2pd := read(t, "../../db2/testdata/ibm_v101_db2pd.txt")
	standbyDb2pd := strings.Replace(db2pd, "HADR_ROLE = PRIMARY", "HADR_ROLE = STANDBY", 1)
	cases := []struct {
		name    string
		db      Database
		primary string // the db section's output and exit status
		standby string
		want    map[string]Status
		msg     string
	}{
		{name: "db2 peer", db: Database{Type: "db2", Instance: "xcatdb", Name: "xcatdb"}, primary: db2pd + "\n@@rc 0", standby: standbyDb2pd + "\n@@rc 0",
			want: map[string]Status{"db2_role_mn1": OK, "db2_role_mn2": OK, "db2_state_mn2": OK, "db2_connect_mn2": OK, "db2_log_gap_mn2": OK}},
		{name: "db2 disconnected", db: Database{Type: "db2", Instance: "xcatdb", Name: "xcatdb"}, primary: db2pd + "\n@@rc 0",
			standby: strings.NewReplacer("HADR_STATE = PEER", "HADR_STATE = REMOTE_CATCHUP_PENDING", "HADR_CONNECT_STATUS = CONNECTED", "HADR_CONNECT_STATUS = DISCONNECTED").Replace(standbyDb2pd) + "\n@@rc 0",
			want:    map[string]Status{"db2_state_mn2": Warning, "db2_connect_mn2": Critical}, msg: "HADR connect status on mn2 is Disconnected"},
		{name: "db2 both primaries", db: Database{Type: "db2", Instance: "xcatdb", Name: "xcatdb"}, primary: db2pd + "\n@@rc 0", standby: db2pd + "\n@@rc 0",
			want: map[string]Status{"db2_role_mn2": Critical}, msg: "Db2 HADR role on mn2 is Primary, want Standby"},
		{name: "mariadb running", db: Database{Type: "mysql"}, standby: read(t, "../../mysql/testdata/mariadb_slave_running.txt") + "\n@@rc 0",
			want: map[string]Status{"mysql_io_thread_mn2": OK, "mysql_sql_thread_mn2": OK, "mysql_seconds_behind_mn2": OK}},
		{name: "mariadb sql error", db: Database{Type: "mysql"}, standby: read(t, "../../mysql/testdata/mariadb_slave_sql_error.txt") + "\n@@rc 0",
			want: map[string]Status{"mysql_sql_thread_mn2": Critical}, msg: "START REPLICA"},
		{name: "mariadb no replica", db: Database{Type: "mysql"}, standby: "\n@@rc 0",
			want: map[string]Status{"mysql_threads_mn2": Critical}, msg: "is no replica"},
		{name: "mysql client fails", db: Database{Type: "mysql"}, standby: "ERROR 2002 (HY000): Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2)\n@@rc 1",
			want: map[string]Status{"mysql_threads_mn2": Unknown}, msg: "Can't connect"},
		{name: "sqlite fresh", db: Database{Type: "sqlite", File: "/etc/xcat"}, standby: "1796319130 /etc/xcat/site.sqlite\n1796316000 /etc/xcat/nodelist.sqlite\n@@rc 0",
			want: map[string]Status{"sqlite_age_mn2": OK}, msg: "1m old"},
		{name: "sqlite stale", db: Database{Type: "sqlite", File: "/etc/xcat"}, standby: "1796216176 /etc/xcat/site.sqlite\n@@rc 0",
			want: map[string]Status{"sqlite_age_mn2": Critical}, msg: "28h36m old"},
		{name: "sqlite missing", db: Database{Type: "sqlite", File: "/etc/xcat"}, standby: "@@rc 1",
			want: map[string]Status{"sqlite_age_mn2": Critical}, msg: "has no copy"},
		{name: "psql fails", db: Database{Type: "postgresql", BinDir: "/usr/lib/postgresql/15/bin"}, primary: "node|f|||0/31074C0|||\n@@rc 0",
			standby: "psql: error: connection to server on socket \"/var/run/postgresql/.s.PGSQL.5432\" failed: No such file or directory\n@@rc 2",
			want:    map[string]Status{"pg_streaming_mn2": Unknown, "pg_role_mn1": OK}, msg: "No such file or directory"},
	}
	base := func(t *testing.T, file, db, section string) Facts {
		out := demux(read(t, file))
		if i := strings.Index(out, "@@hf db "); i >= 0 {
			j := strings.Index(out[i:], "@@hf sums")
			out = out[:i] + out[i+j:]
		}
		if section != "" {
			out += "@@hf db " + db + "\n" + section + "\n"
		}
		f := ParseFacts(strings.TrimSuffix(strings.TrimPrefix(file, "lab_"), ".txt"), out)
		f.Sent = time.Unix(0, int64(f.Clock*1e9))
		return f
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := labConfig()
			c.DB = tc.db
			p, s := base(t, "lab_primary.txt", tc.db.Type, tc.primary), base(t, "lab_standby.txt", tc.db.Type, tc.standby)
			rs := Evaluate(c, p, s)
			var msgs []string
			for label, st := range tc.want {
				r, ok := find(rs, label)
				if !ok || r.Status != st {
					t.Errorf("%s: %+v, want %s", label, r, st)
				}
				msgs = append(msgs, r.Message)
			}
			if !strings.Contains(strings.Join(msgs, "\n"), tc.msg) {
				t.Errorf("no %q in %q", tc.msg, msgs)
			}
		})
	}
}

func TestParseEndDate(t *testing.T) {
	for _, tc := range []struct {
		out  string
		exit int
		want time.Time
		err  string
	}{
		{"notAfter=Dec  3 17:31:39 2046 GMT", 0, time.Date(2046, 12, 3, 17, 31, 39, 0, time.UTC), ""},
		{"notAfter=Nov 28 17:31:39 2046 GMT", 0, time.Date(2046, 11, 28, 17, 31, 39, 0, time.UTC), ""},
		{"Could not open file or uri for loading certificate from /etc/xcat/cert/server-cert.pem\n40F7A1D6A77F0000:error:16000069:STORE routines:ossl_store_get0_loader_int:unregistered scheme:../crypto/store/store_register.c:237:scheme=file", 1, time.Time{}, "exit status 1"},
		{"notAfter=sometime", 0, time.Time{}, "notAfter"},
		{"", 0, time.Time{}, "no notAfter"},
	} {
		got := ParseEndDate(Section{Lines: strings.Split(tc.out, "\n"), Exit: tc.exit})
		if tc.err != "" {
			if got.Err == nil || !strings.Contains(got.Err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.out, got.Err, tc.err)
			}
			continue
		}
		if got.Err != nil || !got.NotAfter.Equal(tc.want) {
			t.Errorf("%q: %v %v", tc.out, got.NotAfter, got.Err)
		}
	}
}

func TestParseDrift(t *testing.T) {
	for _, tc := range []struct {
		lines   []string
		exit    int
		n, ign  int
		errText string
	}{
		{[]string{"@@item .d..t...... /install/postscripts/", "@@item <f+++++++++ /install/postscripts/h15-test"}, 0, 1, 1, ""},
		{[]string{"@@item <f.st...... /etc/hosts"}, 0, 1, 0, ""},
		{[]string{"@@item *deleting   /etc/xcat/cert/old.pem", "@@item cd+++++++++ /root/.xcat/"}, 0, 2, 0, ""},
		{nil, 0, 0, 0, ""},
		{[]string{"Host key verification failed.", "rsync: connection unexpectedly closed (0 bytes received so far) [sender]", "rsync error: unexplained error (code 255) at io.c(231) [sender=3.2.7]"}, 255, 0, 0, "rsync -n exit status 255: Host key verification failed.; rsync: connection"},
		{[]string{"@@item ?what /x"}, 0, 0, 0, "rsync itemized line"},
	} {
		d := ParseDrift(Section{Lines: tc.lines, Exit: tc.exit})
		if tc.errText != "" {
			if d.Err == nil || !strings.Contains(d.Err.Error(), tc.errText) {
				t.Errorf("%q: err %v, want %q", tc.lines, d.Err, tc.errText)
			}
			continue
		}
		if d.Err != nil || len(d.Changes) != tc.n || d.Ignored != tc.ign {
			t.Errorf("%q: %d changes, %d ignored, err %v; want %d, %d", tc.lines, len(d.Changes), d.Ignored, d.Err, tc.n, tc.ign)
		}
	}
}

func TestParseSums(t *testing.T) {
	if _, err := ParseSums(Section{Lines: []string{"abc  etc/x"}, Exit: 0}); err == nil {
		t.Error("a short hash parsed")
	}
	if _, err := ParseSums(Section{Lines: []string{"sha256sum: etc/x: Permission denied"}, Exit: 1}); err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Errorf("a failed sha256sum: %v", err)
	}
}

func TestParseClock(t *testing.T) {
	for in, want := range map[string]float64{"1796316176.266371998": 1796316176.266371998, "1796316176.N": 1796316176, "1796316176": 1796316176} {
		if got := parseClock(in); got != want {
			t.Errorf("parseClock(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestLimits(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		in   string
		want float64
		err  bool
	}{
		{Seconds, "30s", 30, false}, {Seconds, "5m", 300, false}, {Seconds, "2h", 7200, false}, {Seconds, "7d", 604800, false},
		{Seconds, "45", 45, false}, {Bytes, "16MiB", 16 << 20, false}, {Bytes, "1G", 1 << 30, false}, {Bytes, "4096", 4096, false},
		{Days, "30d", 30, false}, {Count, "0", 0, false}, {Count, "3x", 0, true}, {Seconds, "-1s", 0, true}, {Bytes, "lots", 0, true},
	} {
		got, err := ParseValue(tc.kind, tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("ParseValue(%v, %q) = %v, %v", tc.kind, tc.in, got, err)
		}
	}
	if v, err := ParseValue(Seconds, "off"); err != nil || !math.IsNaN(v) {
		t.Errorf("off: %v %v", v, err)
	}
	l := Defaults()
	if err := l.Set("clock_skew", "warn", "10s"); err != nil || l["clock_skew"].Warn != 10 || l["clock_skew"].Crit != 5 {
		t.Errorf("Set clock_skew: %v %+v", err, l["clock_skew"])
	}
	if err := l.Set("lag", "warn", "1"); err == nil || !strings.Contains(err.Error(), "replay_lag") {
		t.Errorf("unknown threshold: %v", err)
	}
	if err := l.Set("drift", "high", "1"); err == nil {
		t.Error("a bad which")
	}
	for _, tc := range []struct {
		l    Limit
		v    float64
		want Status
	}{
		{Limit{Warn: 1, Crit: 5}, 1, OK}, {Limit{Warn: 1, Crit: 5}, 2, Warning}, {Limit{Warn: 1, Crit: 5}, 6, Critical},
		{Limit{Warn: 30, Crit: 7, Below: true}, 31, OK}, {Limit{Warn: 30, Crit: 7, Below: true}, 20, Warning}, {Limit{Warn: 30, Crit: 7, Below: true}, -1, Critical},
		{Limit{Warn: Off, Crit: Off}, 1e9, OK}, {Limit{Warn: 0, Crit: Off}, 1, Warning},
	} {
		if got := tc.l.Status(tc.v); got != tc.want {
			t.Errorf("%+v.Status(%v) = %s, want %s", tc.l, tc.v, got, tc.want)
		}
	}
}

func TestVerdictAndJSON(t *testing.T) {
	if v := Verdict([]Result{{Status: OK}, {Status: Unknown}, {Status: Warning}}); v != Warning {
		t.Errorf("warning over unknown: %s", v)
	}
	if v := Verdict([]Result{{Status: OK}, {Status: Unknown}}); v != Unknown {
		t.Errorf("unknown over ok: %s", v)
	}
	if v := Verdict([]Result{{Status: Critical}, {Status: Warning}}); v != Critical {
		t.Errorf("critical: %s", v)
	}
	b, err := json.Marshal(Result{Check: "cert_days", Host: "mn1", Subject: "ca", Status: Warning, Value: 12.5, Unit: "d", Limit: Limit{Warn: 30, Crit: 7, Below: true}, Message: "m"})
	if err != nil || string(b) != `{"check":"cert_days","host":"mn1","subject":"ca","status":"WARNING","unit":"d","message":"m","label":"cert_days_mn1_ca","value":12.5,"warn":30,"crit":7,"below":true}` {
		t.Errorf("json: %s %v", b, err)
	}
	b, _ = json.Marshal(state("reach", "mn-2.lab", "", OK, "reachable", "ok"))
	if string(b) != `{"check":"reach","host":"mn-2.lab","status":"OK","text":"reachable","message":"ok","label":"reach_mn_2_lab"}` {
		t.Errorf("json without a value: %s", b)
	}
}

// TestScriptReadOnly guards the promise that the scripts change nothing
// on the MNs: no command that writes, starts, stops or enables.
func TestScriptReadOnly(t *testing.T) {
	for _, db := range []Database{{Type: "postgresql", BinDir: "/usr/lib/postgresql/15/bin"}, {Type: "db2", Instance: "xcatdb", Name: "xcatdb"}, {Type: "mysql"}, {Type: "sqlite", File: "/etc/xcat"}} {
		c := labConfig()
		c.DB = db
		for _, role := range []Role{Primary, Standby} {
			sc := Script(c, role)
			for _, bad := range []string{"systemctl start", "systemctl stop", "systemctl enable", "systemctl disable", " rm ", "mkdir", "> /", ">/etc", "tee ", "ALTER ", "pg_ctl"} {
				if strings.Contains(sc, bad) {
					t.Errorf("%s %s script has %q", db.Type, role, bad)
				}
			}
			if role == Primary && !strings.Contains(sc, " -n ") {
				t.Errorf("primary's rsync is not a dry run")
			}
			if strings.Count(sc, "rsync ") != map[Role]int{Primary: 2, Standby: 0}[role] {
				t.Errorf("%s script: %d rsync", role, strings.Count(sc, "rsync "))
			}
		}
	}
}

// TestSplitSectionsJobs: the background sections' lines arrive
// interleaved with the script's and each other's, tagged by job.
func TestSplitSectionsJobs(t *testing.T) {
	out := "@@hf clock\n1\n@@j 2 @@hf drift install\n@@hf sums\n@@j 1 @@hf ssh\n@@j 2 @@item <f+++++++++ /install/a\n" +
		"x\n@@j 1 @@rc 255\n@@rc 0\n@@j 2 @@rc 0\n@@j 1 Permission denied (publickey).\n"
	secs := SplitSections(out)
	if s := secs["sums"]; s.Text() != "x" || s.Exit != 0 {
		t.Errorf("sums: %+v", s)
	}
	if s := secs["ssh"]; s.Exit != 255 || s.Tail() != "Permission denied (publickey)." {
		t.Errorf("ssh: %+v", s)
	}
	if d := ParseDrift(secs["drift install"]); d.Err != nil || len(d.Changes) != 1 || d.Changes[0].Path != "/install/a" {
		t.Errorf("drift: %+v", d)
	}
}
