//go:build lab

// Package check tests `hamnflow check` on the real lab (systemd hosts,
// real xCAT 2.19 on PostgreSQL 15 streaming replication, real sshd,
// rsync, dhcpd, named, conserver): OK on a healthy lab, then each fault
// the issue lists, made on the lab, turns it WARNING or CRITICAL with a
// message that says what to do, and doing that brings it back to OK. One
// lab, the faults one after another, each undone before the next.
package check

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hamnflow/hamnflow/integration/labtest"
)

func TestMain(m *testing.M) { labtest.Main(m) }

var realLab = labtest.Options{Systemd: true, Postgres: true, RealXCAT: true}

// fault is one thing that makes the standby unready: made on the lab,
// the check's verdict and the messages it must give, then the repair.
type fault struct {
	name   string
	make   func(t *testing.T, env *labtest.Env)
	args   []string // hamnflow check's flags besides --nagios
	exit   int      // 1 WARNING, 2 CRITICAL
	want   []string // in the Nagios output
	repair func(t *testing.T, env *labtest.Env)
}

func TestCheck(t *testing.T) {
	env := labtest.Up(t, realLab)
	env.MustRun(t, 0, "run", "pg-setup", "--yes")
	env.MustRun(t, 0, "run", "sync-setup", "--yes")

	// Healthy: OK, exit 0, nothing on stderr; the textfile parses.
	prom := filepath.Join(env.Dir, "prom")
	if err := os.Mkdir(prom, 0o755); err != nil {
		t.Fatal(err)
	}
	healthy(t, env, "--textfile", prom)
	files, _ := filepath.Glob(filepath.Join(prom, "*"))
	if len(files) != 1 || !strings.HasPrefix(filepath.Base(files[0]), "hamnflow_check_lab_") || !strings.HasSuffix(files[0], ".prom") {
		t.Fatalf("textfile directory holds %v, want one hamnflow_check_CLUSTER.prom", files)
	}
	checkTextfile(t, files[0])
	if r := env.MustRun(t, 0, "check"); !strings.Contains(r.Stdout, "OK: ") || !strings.Contains(r.Stdout, "pg_streaming             mn2   streaming") {
		t.Errorf("check's table on a healthy lab:\n%s", r.Stdout)
	}

	for _, f := range []fault{
		{
			name: "standby's WAL receiver stopped",
			make: func(t *testing.T, env *labtest.Env) {
				// An empty primary_conninfo stops the WAL receiver
				// (PostgreSQL 13+ reloads it); the file is kept aside.
				env.Exec(t, "mn2", `cd / && cp -a /var/lib/postgresql/15/main/postgresql.auto.conf /tmp/auto.conf.good &&
runuser -u postgres -- psql -X -q -c "ALTER SYSTEM SET primary_conninfo = ''" -c "SELECT pg_reload_conf()" >/dev/null`)
			},
			exit: 2,
			want: []string{"HAMNFLOW CRITICAL - mn2's WAL receiver is none, not streaming (pg_stat_wal_receiver): check primary_conninfo, the primary's pg_hba.conf and mn2's server log, then reload it"},
			repair: func(t *testing.T, env *labtest.Env) {
				env.Exec(t, "mn2", `cd / && cp -a /tmp/auto.conf.good /var/lib/postgresql/15/main/postgresql.auto.conf && rm /tmp/auto.conf.good &&
runuser -u postgres -- psql -X -q -c "SELECT pg_reload_conf()" >/dev/null`)
			},
		},
		{
			name: "standby's replay delayed",
			make: func(t *testing.T, env *labtest.Env) {
				env.Exec(t, "mn2", `cd / && runuser -u postgres -- psql -X -q -c "ALTER SYSTEM SET recovery_min_apply_delay = '1h'" -c "SELECT pg_reload_conf()" >/dev/null`)
				env.Exec(t, "mn1", `cd / && runuser -u postgres -- psql -X -q -d xcatdb -c "CREATE TABLE hamnflow_check AS SELECT generate_series(1, 20000) AS n"`)
			},
			args: []string{"--warn", "replay_lag_bytes=64KiB"},
			exit: 1,
			want: []string{"HAMNFLOW WARNING - mn2 has replayed WAL up to ", "B behind): see why the standby falls behind", "'pg_replay_lag_bytes_mn2'="},
			repair: func(t *testing.T, env *labtest.Env) {
				env.Exec(t, "mn2", `cd / && runuser -u postgres -- psql -X -q -c "ALTER SYSTEM RESET recovery_min_apply_delay" -c "SELECT pg_reload_conf()" >/dev/null`)
				env.Exec(t, "mn1", `cd / && runuser -u postgres -- psql -X -q -d xcatdb -c "DROP TABLE hamnflow_check"`)
			},
		},
		{
			name: "a file changed on the primary",
			make: func(t *testing.T, env *labtest.Env) {
				env.Exec(t, "mn1", "echo changed >/install/postscripts/hamnflow-check")
			},
			exit: 1,
			want: []string{"HAMNFLOW WARNING - install: 1 item(s) differ on mn2 (/install/postscripts/hamnflow-check): run hamnflow run sync", "'sync_drift_mn1_install'=1;0;;0;"},
			// What the message says to do.
			repair: func(t *testing.T, env *labtest.Env) { env.MustRun(t, 0, "run", "sync", "--yes") },
		},
		{
			name: "dhcpd enabled on the standby",
			make: func(t *testing.T, env *labtest.Env) {
				env.Exec(t, "mn2", "systemctl enable isc-dhcp-server >/dev/null 2>&1")
			},
			exit: 2,
			want: []string{"HAMNFLOW CRITICAL - isc-dhcp-server is enabled at boot on the standby mn2: a reboot or an upgrade starts it beside the primary's: systemctl disable isc-dhcp-server"},
			repair: func(t *testing.T, env *labtest.Env) {
				env.Exec(t, "mn2", "systemctl disable isc-dhcp-server >/dev/null 2>&1")
			},
		},
		{
			name: "an expired server certificate on the standby",
			make: func(t *testing.T, env *labtest.Env) {
				env.Exec(t, "mn2", "cp -a /etc/xcat/cert/server-cert.pem /root/server-cert.pem.good && cat >/etc/xcat/cert/server-cert.pem <<'EOF'\n"+expiredCert(t)+"EOF\n")
			},
			exit: 2,
			want: []string{
				"xCAT's server certificate on mn2 expired on ",
				": renew it (xcatconfig -c on the primary regenerates xCAT's credentials",
				"1 credential file(s) differ between the MNs (/etc/xcat/cert/server-cert.pem): the standby would present other certificates or host keys; run hamnflow run sync",
			},
			repair: func(t *testing.T, env *labtest.Env) {
				env.Exec(t, "mn2", "mv /root/server-cert.pem.good /etc/xcat/cert/server-cert.pem")
			},
		},
		{
			name: "sshd stopped on the standby",
			make: func(t *testing.T, env *labtest.Env) { env.Exec(t, "mn2", "systemctl stop ssh") },
			exit: 2,
			want: []string{
				"HAMNFLOW CRITICAL - cannot run the checks on mn2: ",
				"check that sshd runs there",
				"ssh -o BatchMode=yes mn1 -> mn2 (198.51.100.12) fails: ",
				"start sshd on mn2",
				"[UNKNOWN] standby_service_mn2_dhcp: dhcp on the standby not checked: mn2 did not answer",
			},
			repair: func(t *testing.T, env *labtest.Env) { env.Exec(t, "mn2", "systemctl start ssh") },
		},
	} {
		t.Run(f.name, func(t *testing.T) {
			f.make(t, env)
			args := append([]string{"check", "--nagios"}, f.args...)
			// The lab takes a moment to show some faults (the WAL
			// receiver exits after the reload); poll, never time.
			var r labtest.Result
			labtest.Eventually(t, 30*time.Second, func() string {
				r = env.Run(t, args...)
				if r.Exit != f.exit {
					return "want exit " + string(rune('0'+f.exit)) + ", got " + r.String()
				}
				return ""
			})
			for _, w := range f.want {
				if !strings.Contains(r.Stdout, w) {
					t.Errorf("no %q in\n%s", w, r.Stdout)
				}
			}
			if r.Stderr != "" {
				t.Errorf("check --nagios wrote to stderr: %s", r.Stderr)
			}
			f.repair(t, env)
			healthy(t, env)
		})
	}
}

// healthy polls until the check says OK (a repaired fault may take a
// moment: the WAL receiver reconnects), then holds its output to the
// plugin format.
func healthy(t *testing.T, env *labtest.Env, args ...string) {
	t.Helper()
	var r labtest.Result
	labtest.Eventually(t, 30*time.Second, func() string {
		r = env.Run(t, append([]string{"check", "--nagios"}, args...)...)
		if r.Exit != 0 {
			return "a healthy lab: " + r.String()
		}
		return ""
	})
	first := strings.SplitN(r.Stdout, "\n", 2)[0]
	if !strings.HasPrefix(first, "HAMNFLOW OK - standby mn2 ready: ") || !strings.Contains(first, " | 'clock_skew_mn2'=") || r.Stderr != "" {
		t.Errorf("healthy lab: %s", r)
	}
}

func checkTextfile(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("textfile %s does not parse: %v", path, err)
	}
	if v := fams["hamnflow_check_verdict"].GetMetric()[0].GetGauge().GetValue(); v != 0 {
		t.Errorf("verdict %v on a healthy lab", v)
	}
	for _, m := range fams["hamnflow_check_value"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["check"] == "cert_days" && m.GetGauge().GetValue() < 30 {
			t.Errorf("xCAT's fresh certificates expire in %v days", m.GetGauge().GetValue())
		}
	}
}

// expiredCert is a self-signed certificate that expired yesterday.
func expiredCert(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "mn2"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
