//go:build lab

// Package linux holds hamnflow's end-to-end tests of the Linux HAMN
// procedures (prereq, pg-setup, sync-setup, sync, failover floating and
// identity, failback, deactivate, activate) on the real lab: systemd
// hosts, real xCAT 2.19 on PostgreSQL 15 streaming replication, real
// sshd, named, dhcpd, conserver and tftpd, kernel addresses and ARP.
package linux

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/integration/lab"
	"github.com/hamnflow/hamnflow/integration/labtest"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// slowSteps lists the steps of a --stream run's log that took a second or
// more, for the test's log (where a failover's time goes).
func slowSteps(log string) string {
	var slow []string
	for _, line := range strings.Split(log, "\n") {
		var e struct{ Event, Step, Took string }
		if json.Unmarshal([]byte(line), &e) != nil || e.Took == "" {
			continue
		}
		if d, err := time.ParseDuration(e.Took); err == nil && d >= time.Second {
			slow = append(slow, e.Step+" "+e.Event+" "+e.Took)
		}
	}
	return strings.Join(slow, ", ")
}

// runID finds a run id in hamnflow's messages.
var runID = regexp.MustCompile(`run (\d{8}-\d{6}-[0-9a-f]+)`)

// mnMAC is the MAC of a lab MN's eth0 (integration/lab: 02:42:c6:33:64:<octet>).
func mnMAC(t *testing.T, env *labtest.Env, host string) string {
	t.Helper()
	h := env.Lab.Host(host)
	if h == nil {
		t.Fatalf("no lab host %s", host)
	}
	return strings.ToLower(h.MAC)
}

// op runs a command in the operator namespace.
func op(t *testing.T, env *labtest.Env, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := env.Lab.OperatorCmd(ctx, name, args...).CombinedOutput()
	return string(out), err
}

func psql(t *testing.T, env *labtest.Env, host, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := env.Lab.PSQL(ctx, host, sql)
	if err != nil {
		t.Fatalf("psql on %s: %s: %v\n%s", host, sql, err, out)
	}
	return strings.TrimSpace(out)
}

// realLab is the lab of the Linux procedures: systemd hosts with real
// xCAT 2.19 on PostgreSQL, the standby as the lab leaves it (xCAT
// installed, its services stopped and disabled, cfgloc naming the cluster
// address).
var realLab = labtest.Options{Systemd: true, Postgres: true, RealXCAT: true}

// TestLinuxHAMN runs the Linux HAMN life cycle on one real lab: prereq
// (good and broken), pg-setup streaming, sync-setup and sync, failover
// (with a rogue holder of the cluster address first), failback, and a
// planned switchover (deactivate, activate), each checked by what real
// xCAT and its services answer afterwards.
func TestLinuxHAMN(t *testing.T) {
	env := labtest.Up(t, realLab)
	for _, st := range []struct {
		name string
		f    func(*testing.T, *labtest.Env)
	}{
		{"prereq", testPrereq}, {"pg-setup", testPGSetup}, {"sync", testSync},
		{"site", testSiteSettings}, {"failover", testFailover}, {"verify", testVerify}, {"failback", testFailback}, {"switchover", testSwitchover},
	} {
		if !t.Run(st.name, func(t *testing.T) { st.f(t, env) }) {
			return
		}
	}
}

func testPrereq(t *testing.T, env *labtest.Env) {
	r := env.MustRun(t, 0, "run", "prereq", "--stream")
	if !strings.Contains(r.Combined(), "all prerequisites met") {
		t.Errorf("prereq on a good lab: no success line\n%s", r)
	}
	// Break three prerequisites: a name mn1 cannot resolve, DHCP running
	// on the standby, and the standby's clock (a fake date on the PATH of
	// its SSH sessions) ten minutes ahead.
	// (mn1's own named knows mn2 too: resolution goes to the files only.)
	env.Exec(t, "mn1", "cp -a /etc/hosts /etc/hosts.good && grep -v '[[:space:]]mn2.lab' /etc/hosts.good > /etc/hosts && "+
		"cp -a /etc/nsswitch.conf /etc/nsswitch.conf.good && sed -i 's/^hosts:.*/hosts: files/' /etc/nsswitch.conf")
	env.Exec(t, "mn2", `cp -a /etc/dhcp/dhcpd.conf /etc/dhcp/dhcpd.conf.good; cp -a /etc/default/isc-dhcp-server /etc/default/isc-dhcp-server.good
echo 'subnet 198.51.100.0 netmask 255.255.255.0 { }' >/etc/dhcp/dhcpd.conf
echo 'INTERFACESv4="eth0"' >/etc/default/isc-dhcp-server
systemctl start isc-dhcp-server`)
	env.Exec(t, "mn2", `cat > /opt/xcat/bin/date <<'EOF'
#!/bin/sh
if [ "$1" = +%s ]; then echo $(( $(/bin/date +%s) + 600 )); else exec /bin/date "$@"; fi
EOF
chmod +x /opt/xcat/bin/date`)
	r = env.MustRun(t, 1, "run", "prereq", "--stream")
	out := r.Combined()
	t.Logf("prereq on a broken lab:\n%s", out)
	for _, want := range []string{
		"FAIL  primary resolves mn2",
		"FAIL  dhcpd stopped on the standby",
		"FAIL  clock skew",
		"s, more than 5s: synchronise the clocks",
		"PASS  ssh primary -> standby",
		"PASS  same database version",
		"PASS  ssh standby -> primary",
		"prerequisites not met",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("broken prereq: no %q in\n%s", want, out)
		}
	}
	env.Exec(t, "mn1", "mv /etc/hosts.good /etc/hosts; mv /etc/nsswitch.conf.good /etc/nsswitch.conf")
	env.Exec(t, "mn2", `systemctl stop isc-dhcp-server; rm -f /opt/xcat/bin/date
mv /etc/dhcp/dhcpd.conf.good /etc/dhcp/dhcpd.conf; mv /etc/default/isc-dhcp-server.good /etc/default/isc-dhcp-server`)
}

func testPGSetup(t *testing.T, env *labtest.Env) {
	r := env.MustRun(t, 0, "run", "pg-setup", "--yes", "--stream")
	// The replication role's password (the lab's pg_password) is set, and
	// shown nowhere.
	pw, err := env.Lab.Secret("pg_password")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.Combined(), pw) || bytes.Contains(env.JournalBytes(t), []byte(pw)) {
		t.Errorf("the replication password appears in the output or the journal")
	}
	if got := psql(t, env, "mn1", "SELECT rolreplication AND rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'replicator'"); got != "t" {
		t.Errorf("replication role on mn1: %q", got)
	}
	// The standby runs under its systemd unit, in recovery.
	if got := strings.Fields(env.Exec(t, "mn2", "systemctl is-active postgresql@15-main; su postgres -s /bin/sh -c \"psql -X -A -t -d postgres -c 'SELECT pg_is_in_recovery()'\"")); strings.Join(got, " ") != "active t" {
		t.Fatalf("mn2 after pg-setup: postgresql@15-main, pg_is_in_recovery() = %v, want active t", got)
	}
	// xCAT writes on mn1 reach mn2's database. cn100 is defined as an
	// administrator does, with makehosts: makedhcp finds a node's address
	// by its name (/etc/hosts, synced to mn2), and verify fails a node
	// with a MAC but no DHCP entry. Its address is out of the network's
	// dynamic range (198.51.100.200-250), where makedhcp gives no entry
	// (dhcp.pm:813-818).
	if out, rc := env.XCAT(t, "mn1", "mkdef -t node -o cn100 groups=compute,all ip=198.51.100.190 mac=02:42:c6:33:65:64 && makehosts cn100"); rc != 0 {
		t.Fatalf("mkdef cn100 on mn1: exit %d: %s", rc, out)
	}
	labtest.Eventually(t, 15*time.Second, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := env.Lab.PSQL(ctx, "mn2", "SELECT groups FROM nodelist WHERE node = 'cn100'")
		if err != nil || strings.TrimSpace(out) != "compute,all" {
			return fmt.Sprintf("node defined on mn1 not in mn2's database: %q %v", out, err)
		}
		return ""
	})
}

// testSync copies xCAT's credentials, /install and the network files to
// the standby, and proves they match.
func testSync(t *testing.T, env *labtest.Env) {
	env.MustRun(t, 0, "run", "sync-setup", "--yes")
	sum := "cd / && find etc/xcat/ca etc/xcat/cert root/.xcat install -type f -print0 | sort -z | xargs -0 sha256sum"
	if a, b := env.Exec(t, "mn1", sum), env.Exec(t, "mn2", sum); a != b || !strings.Contains(a, "install/rhels8.6/x86_64/images/pxeboot/vmlinuz") {
		t.Errorf("mn1's and mn2's credentials and /install differ after sync-setup:\n%s\n---\n%s", a, b)
	}
	env.Exec(t, "mn1", "mkdir -p /install/postscripts && echo changed >/install/postscripts/hamnflow-test")
	env.MustRun(t, 0, "run", "sync", "--yes")
	if got := env.Exec(t, "mn2", "cat /install/postscripts/hamnflow-test"); got != "changed\n" {
		t.Errorf("a file changed on mn1 after sync: %q on mn2", got)
	}
}

// testSiteSettings: a site.master that names the primary's own address
// (xcat-core #4606) would send the nodes to the dead MN after the
// takeover; the failover refuses before anything changes, says how to
// fix it, and its run is closed by rollback.
func testSiteSettings(t *testing.T, env *labtest.Env) {
	mn1 := env.Lab.Host("mn1").Address
	if out, rc := env.XCAT(t, "mn1", "chdef -t site master="+mn1); rc != 0 {
		t.Fatalf("chdef site.master on mn1: exit %d: %s", rc, out)
	}
	r := env.MustRun(t, 1, "run", "failover", "--yes", "--stream")
	out := r.Combined()
	for _, want := range []string{"site.master names mn1's own " + mn1, "chdef -t site master=" + lab.ClusterAddress, "fix them, then resume"} {
		if !strings.Contains(out, want) {
			t.Errorf("failover with site.master=%s: no %q in\n%s", mn1, want, out)
		}
	}
	if !env.Holds(t, "mn1", lab.ClusterAddress) || env.Holds(t, "mn2", lab.ClusterAddress) {
		t.Errorf("the refused failover moved the cluster address")
	}
	if got := strings.TrimSpace(env.Exec(t, "mn1", "systemctl is-active xcatd isc-dhcp-server named | sort -u")); got != "active" {
		t.Errorf("the refused failover stopped services on mn1: %q", got)
	}
	if out, rc := env.XCAT(t, "mn1", "chdef -t site master="+lab.ClusterAddress); rc != 0 {
		t.Fatalf("chdef site.master back: exit %d: %s", rc, out)
	}
	m := runID.FindStringSubmatch(r.Stderr)
	if m == nil {
		t.Fatalf("no run id in\n%s", r)
	}
	env.MustRun(t, 0, "rollback", m[1], "--yes")
}

func testFailover(t *testing.T, env *labtest.Env) {
	// The operator knows the cluster address by mn1's MAC.
	if out, err := op(t, env, "ping", "-c", "1", "-W", "2", lab.ClusterAddress); err != nil {
		t.Fatalf("ping the cluster address before failover: %v\n%s", err, out)
	}
	// A rogue host answers for the cluster address too: the failover
	// stops before the takeover, and goes on by resume once it is gone.
	env.Exec(t, "sn01", "ip addr add "+lab.ClusterAddress+"/24 dev eth0")
	img := lab.Osimages[0]
	start := time.Now()
	r := env.MustRun(t, 1, "run", "failover", "--yes", "--stream", "--set", "nodes=cn01+cn02", "--set", "boot=osimage="+img)
	first := r.Combined()
	if !strings.Contains(first, "someone still answers for "+lab.ClusterAddress+" (MAC "+mnMAC(t, env, "sn01")) {
		t.Errorf("failover with a rogue holder: no refusal naming sn01's MAC:\n%s", first)
	}
	if env.Holds(t, "mn2", lab.ClusterAddress) {
		t.Fatalf("mn2 took %s while sn01 answered for it", lab.ClusterAddress)
	}
	m := runID.FindStringSubmatch(r.Stderr)
	if m == nil {
		t.Fatalf("no run id in\n%s", r)
	}
	env.Exec(t, "sn01", "ip addr del "+lab.ClusterAddress+"/24 dev eth0")
	resumed := time.Now()
	r = env.MustRun(t, 0, "resume", m[1], "--yes", "--stream")
	t.Logf("failover: %s to the fence check, %s from resume to the end", resumed.Sub(start).Round(time.Millisecond), time.Since(resumed).Round(time.Millisecond))
	if !strings.Contains(first, "loss window: no loss: standby has WAL up to") {
		t.Errorf("failover does not report the loss window:\n%s", first)
	}
	if !strings.Contains(r.Combined(), "no ARP answer for "+lab.ClusterAddress+"; old primary mn1: reachable-clean") {
		t.Errorf("resumed failover: fence check does not say what it proved:\n%s", r)
	}
	// The address answers from mn2, by mn2's MAC, and mn1 dropped it.
	time.Sleep(1500 * time.Millisecond) // neighbour lock time
	if out, err := op(t, env, "ping", "-c", "1", "-W", "2", lab.ClusterAddress); err != nil {
		t.Fatalf("ping the cluster address after failover: %v\n%s", err, out)
	}
	if out, err := op(t, env, "arping", "-c", "2", "-w", "3", "-i", "eth0", lab.ClusterAddress); err != nil || !strings.Contains(strings.ToLower(out), mnMAC(t, env, "mn2")) {
		t.Errorf("arping %s from op: want replies from mn2 (%s): %v\n%s", lab.ClusterAddress, mnMAC(t, env, "mn2"), err, out)
	}
	if env.Holds(t, "mn1", lab.ClusterAddress) || !env.Holds(t, "mn2", lab.ClusterAddress) {
		t.Errorf("after failover mn2 must hold %s and mn1 not", lab.ClusterAddress)
	}
	// The database: mn2's is the primary, with what xCAT wrote on mn1.
	if got := psql(t, env, "mn2", "SELECT pg_is_in_recovery(), (SELECT groups FROM nodelist WHERE node = 'cn100')"); got != "f|compute,all" {
		t.Errorf("mn2 after failover: pg_is_in_recovery, cn100's groups = %q, want f|compute,all", got)
	}
	// Real xCAT serves the cluster from mn2 alone; nodeset wrote the
	// nodes' boot files there.
	env.CheckServing(t, "mn2", "mn1")
	env.CheckBootFiles(t, "mn2", "cn01", img)
	// The failover ended by verifying the cluster, and printed the table.
	for _, want := range []string{"verify on mn2:", "PASS  xcatd answers through " + lab.ClusterAddress + ":3001",
		"PASS  DHCP stopped on mn1", "PASS  DHCP has every node", "PASS  a console for every node",
		"PASS  DNS through " + lab.ClusterAddress + " from sn01", "PASS  TFTP through " + lab.ClusterAddress + " from sn01",
		"PASS  xcatprobe xcatmn", "the cluster is whole"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("failover output: no %q in\n%s", want, r.Stdout)
		}
	}
	if out, rc := env.XCAT(t, "mn2", "chdef cn100 groups=compute,all,moved"); rc != 0 {
		t.Errorf("chdef on mn2 after failover: exit %d: %s", rc, out)
	}
}

// testVerify breaks the cluster the failover left, one way at a time, as
// administrators report it breaking, and checks that verify catches each
// and passes again once it is mended: a second dhcpd on the old primary
// (two servers answer the nodes), and a node's console missing from
// conserver.cf. The table is in the run's output and in show's JSON.
func testVerify(t *testing.T, env *labtest.Env) {
	for _, tt := range []struct {
		name, break_, mend, want string
	}{
		{"a second dhcpd on the old primary", "mn1: systemctl start isc-dhcp-server", "mn1: systemctl stop isc-dhcp-server",
			"FAIL  DHCP stopped on mn1"},
		{"a missing console", "mn2: sed -i '/^console cn03 {/,/^}/d' /etc/conserver.cf", "mn2: " + lab.XCATEnv + "/opt/xcat/sbin/makeconservercf",
			"FAIL  a console for every node"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			do := func(hc string) {
				host, cmd, _ := strings.Cut(hc, ": ")
				env.Exec(t, host, cmd)
			}
			do(tt.break_)
			r := env.MustRun(t, 1, "run", "verify")
			do(tt.mend)
			if !strings.Contains(r.Stdout, tt.want) || !strings.Contains(r.Stderr, "the cluster is not whole") {
				t.Errorf("verify with %s: no %q in\n%s", tt.name, tt.want, r)
			}
			if n := strings.Count(r.Stdout, "FAIL  "); n != 1 {
				t.Errorf("verify with %s: %d checks failed, want 1:\n%s", tt.name, n, r.Stdout)
			}
			m := runID.FindStringSubmatch(r.Stderr)
			if m == nil {
				t.Fatalf("no run id in\n%s", r)
			}
			show := env.MustRun(t, 0, "show", m[1], "--output", "json")
			if !strings.Contains(show.Stdout, strings.ReplaceAll(tt.want, "  ", " ")) && !strings.Contains(show.Stdout, tt.want) {
				t.Errorf("show --output json of %s: no %q in\n%s", m[1], tt.want, show.Stdout)
			}
		})
	}
	env.MustRun(t, 0, "run", "verify")
}

func testFailback(t *testing.T, env *labtest.Env) {
	r := env.MustRun(t, 0, "run", "failback", "--yes", "--stream")
	if !strings.Contains(r.Combined(), "primary_rejoin | method=rewind") {
		t.Errorf("failback did not rewind mn1 (pg-setup sets wal_log_hints):\n%s", r)
	}
	if !env.Holds(t, "mn1", lab.ClusterAddress) || env.Holds(t, "mn2", lab.ClusterAddress) {
		t.Errorf("after failback mn1 must hold %s and mn2 not", lab.ClusterAddress)
	}
	if got := psql(t, env, "mn1", "SELECT pg_is_in_recovery(), (SELECT groups FROM nodelist WHERE node = 'cn100')"); got != "f|compute,all,moved" {
		t.Errorf("mn1 after failback: %q, want the change made on mn2", got)
	}
	env.CheckServing(t, "mn1", "mn2")
	if out, rc := env.XCAT(t, "mn1", "chdef cn100 groups=compute,all,back"); rc != 0 {
		t.Fatalf("chdef on mn1 after failback: exit %d: %s", rc, out)
	}
	labtest.Eventually(t, 15*time.Second, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := env.Lab.PSQL(ctx, "mn2", "SELECT pg_is_in_recovery(), (SELECT groups FROM nodelist WHERE node = 'cn100')")
		if err != nil || strings.TrimSpace(out) != "t|compute,all,back" {
			return fmt.Sprintf("mn2 after failback: want a standby with the change, got %q %v", out, err)
		}
		return ""
	})
}

// testSwitchover moves the cluster from mn1 to mn2 in two planned halves.
func testSwitchover(t *testing.T, env *labtest.Env) {
	env.MustRun(t, 0, "run", "deactivate", "--yes")
	if env.Holds(t, "mn1", lab.ClusterAddress) {
		t.Fatalf("mn1 holds %s after deactivate", lab.ClusterAddress)
	}
	if got := strings.Fields(env.Exec(t, "mn1", "systemctl is-active postgresql@15-main xcatd || true")); strings.Join(got, " ") != "inactive inactive" {
		t.Fatalf("mn1 after deactivate: postgresql@15-main, xcatd %v, want inactive", got)
	}
	env.MustRun(t, 0, "run", "activate", "--yes")
	if got := psql(t, env, "mn2", "SELECT pg_is_in_recovery()"); got != "f" {
		t.Errorf("mn2 after activate: pg_is_in_recovery() = %q", got)
	}
	env.CheckServing(t, "mn2", "mn1")
	labtest.Eventually(t, 15*time.Second, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := env.Lab.PSQL(ctx, "mn1", "SELECT pg_is_in_recovery()")
		if err != nil || strings.TrimSpace(out) != "t" {
			return fmt.Sprintf("mn1 after activate: want a standby, got %q %v", out, err)
		}
		return ""
	})
}

// TestPGDumpMethod sets up the guide's dump replication: cron entries on
// both MNs, and one dump, copy and restore now.
func TestPGDumpMethod(t *testing.T) {
	env := labtest.Up(t, labtest.Options{Postgres: true, ServiceNodes: 1})
	inv := env.Lab.Inventory()
	inv.Database.Method = "dump"
	if err := env.Lab.WriteInventory(inv); err != nil {
		t.Fatal(err)
	}
	env.MustRun(t, 0, "run", "pg-setup", "--yes")
	for host, want := range map[string][]string{
		"mn1": {"pg_dump -p 5432 -f /tmp/xcatdb -F t xcatdb # hamnflow pg-setup dump", "scp -q -o BatchMode=yes /tmp/xcatdb mn2:/tmp/xcatdb # hamnflow pg-setup dump"},
		"mn2": {"pg_restore -p 5432 -d xcatdb -c /tmp/xcatdb # hamnflow pg-setup restore"},
	} {
		tab := env.Exec(t, host, "crontab -u postgres -l 2>/dev/null; crontab -l 2>/dev/null; true")
		for _, w := range want {
			if !strings.Contains(tab, w) {
				t.Errorf("crontabs of %s lack %q:\n%s", host, w, tab)
			}
		}
	}
	want := psql(t, env, "mn1", "SELECT string_agg(node, ',' ORDER BY node) FROM nodelist")
	if got := psql(t, env, "mn2", "SELECT string_agg(node, ',' ORDER BY node) FROM nodelist"); got != want || want == "" {
		t.Errorf("mn2's nodelist after the restore: %q, mn1's: %q", got, want)
	}
	// Running it again changes nothing in the crontabs.
	before := env.Exec(t, "mn1", "crontab -u postgres -l; crontab -l")
	env.MustRun(t, 0, "run", "pg-setup", "--yes")
	if after := env.Exec(t, "mn1", "crontab -u postgres -l; crontab -l"); after != before {
		t.Errorf("second pg-setup changed mn1's crontabs:\n%s\n---\n%s", before, after)
	}
}

// TestFailoverDeadPrimaryIdentity fails over from a primary that is cut
// off the network, in identity mode: the standby takes the primary's own
// address and hostname (guide 8.0 step 4), and real xCAT serves the
// cluster from it.
func TestFailoverDeadPrimaryIdentity(t *testing.T) {
	env := labtest.Up(t, realLab)
	mn1 := env.Lab.Host("mn1").Address
	inv := env.Lab.Inventory()
	inv.Mode, inv.ClusterAddress, inv.ClusterName = "identity", mn1, ""
	if err := env.Lab.WriteInventory(inv); err != nil {
		t.Fatal(err)
	}
	// An identity-mode cluster: xCAT's database, site, network and the
	// nodes' servers are at the primary's own address; the lab's floating
	// address goes.
	for _, h := range []string{"mn1", "mn2"} {
		env.Exec(t, h, "sed -i 's/host="+lab.ClusterAddress+"/host="+mn1+"/' /etc/xcat/cfgloc")
	}
	net := "$(lsdef -t network | awk '/198_51_100_0/ {print $1; exit}')"
	for _, c := range []string{
		"chdef -t site master=" + mn1 + " nameservers=" + mn1,
		"chdef -t network -o " + net + " dhcpserver=" + mn1 + " tftpserver=" + mn1 + " nameservers=" + mn1,
		"chdef compute xcatmaster=" + mn1 + " tftpserver=" + mn1 + " nfsserver=" + mn1,
		// One that names the standby's own address: fixed on the new
		// primary (--set fix_site=yes below), the old one being dead.
		"chdef -t node -o cn02 tftpserver=" + env.Lab.Host("mn2").Address,
	} {
		if out, rc := env.XCAT(t, "mn1", c); rc != 0 {
			t.Fatalf("%s on mn1: exit %d: %s", c, rc, out)
		}
	}
	env.Exec(t, "mn1", "ip addr del "+lab.ClusterAddress+"/24 dev eth0 && systemctl restart xcatd")
	env.MustRun(t, 0, "run", "pg-setup", "--yes")
	env.MustRun(t, 0, "run", "sync-setup", "--yes")
	if out, rc := env.XCAT(t, "mn1", "chdef cn01 groups=compute,all,before-crash"); rc != 0 {
		t.Fatalf("chdef cn01 on mn1: exit %d: %s", rc, out)
	}
	labtest.Eventually(t, 15*time.Second, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if out, _ := env.Lab.PSQL(ctx, "mn2", "SELECT groups FROM nodelist WHERE node = 'cn01'"); strings.TrimSpace(out) != "compute,all,before-crash" {
			return "change not replicated to mn2 yet"
		}
		return ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := env.Lab.CutLink(ctx, "mn1"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := env.MustRun(t, 0, "run", "failover", "--yes", "--stream", "--set", "fix_site=yes")
	t.Logf("failover from a dead primary (identity mode) took %s; its slow steps: %s", time.Since(start).Round(time.Millisecond), slowSteps(r.Combined()))
	out := r.Combined()
	for _, want := range []string{
		"primary position unknown: transactions committed on the primary after WAL",
		"no ARP answer for " + mn1 + "; old primary mn1: unreachable",
		"mn1 is unreachable",
		// verify does not wait for the dead primary (it was found silent
		// at the start) and checks the rest through mn1's address.
		"SKIP  DHCP stopped on mn1",
		"PASS  xcatd answers through " + mn1 + ":3001",
		"PASS  DNS through " + mn1 + " from sn01",
		"the cluster is whole",
		// The fix on the new primary, before makedns: the standby's own
		// address becomes the identity taken over.
		"site_fix | fixed node cn02 tftpserver: " + env.Lab.Host("mn2").Address + " -> " + mn1,
		// The snapshot, with the old primary's database gone.
		"snapshot | snapshot: /var/lib/hamnflow/snapshots/",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("failover output lacks %q:\n%s", want, out)
		}
	}
	if !env.Holds(t, "mn2", mn1) {
		t.Errorf("mn2 does not hold mn1's address %s", mn1)
	}
	if got := strings.TrimSpace(env.Exec(t, "mn2", "hostname; cat /etc/hostname")); got != "mn1\nmn1" {
		t.Errorf("mn2's hostname after an identity takeover: %q, want mn1", got)
	}
	if got := psql(t, env, "mn2", "SELECT pg_is_in_recovery(), (SELECT groups FROM nodelist WHERE node = 'cn01')"); got != "f|compute,all,before-crash" {
		t.Errorf("mn2 after failover: %q", got)
	}
	env.CheckServing(t, "mn2", "")
	if got, rc := env.XCAT(t, "mn2", "lsdef -t node -o cn02 -i tftpserver"); rc != 0 || !slices.Contains(strings.Fields(got), "tftpserver="+mn1) {
		t.Errorf("cn02's tftpserver on mn2 after the failover with fix_site=yes (exit %d):\n%s", rc, got)
	}
	if out, err := op(t, env, "ping", "-c", "1", "-W", "2", mn1); err != nil {
		t.Errorf("ping %s (now mn2) from op: %v\n%s", mn1, err, out)
	}
}
