//go:build lab

// Package linux holds hamnflow's end-to-end tests of the Linux HAMN
// playbooks (prereq, pg-setup, failover, failback) on the lab: real sshd,
// PostgreSQL 15 streaming replication, kernel addresses and ARP, and the
// xCAT stand-ins.
package linux

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/integration/lab"
	"github.com/hamnflow/hamnflow/integration/labtest"
)

func TestMain(m *testing.M) { labtest.Main(m) }

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

// prepareStandby: see labtest.Env.PrepareStandby.
func prepareStandby(t *testing.T, env *labtest.Env) { env.PrepareStandby(t) }

// callIndex is the index of the first call at or after from whose
// command ends with name and whose arguments start with args.
func callIndex(calls []string, from int, want string) int {
	for i := from; i < len(calls); i++ {
		if strings.HasPrefix(calls[i], want) {
			return i
		}
	}
	return -1
}

func callLines(t *testing.T, env *labtest.Env, host string) []string {
	t.Helper()
	var out []string
	for _, c := range env.Calls(t, host) {
		out = append(out, strings.TrimSpace(filepath.Base(c.Command)+" "+strings.Join(c.Args, " ")))
	}
	return out
}

// TestLinuxHAMN runs the Linux HAMN life cycle on one lab: prereq (good
// and broken), pg-setup streaming, failover, failback.
func TestLinuxHAMN(t *testing.T) {
	env := labtest.Up(t, labtest.Options{Postgres: true, XCAT: true})
	prepareStandby(t, env)

	t.Run("prereq", func(t *testing.T) { testPrereq(t, env) })
	if t.Failed() {
		return
	}
	t.Run("pg-setup", func(t *testing.T) { testPGSetup(t, env) })
	if t.Failed() {
		return
	}
	t.Run("failover", func(t *testing.T) { testFailover(t, env) })
	if t.Failed() {
		return
	}
	t.Run("failback", func(t *testing.T) { testFailback(t, env) })
	if t.Failed() {
		return
	}
	t.Run("switchover", func(t *testing.T) { testSwitchover(t, env) })
}

func testPrereq(t *testing.T, env *labtest.Env) {
	r := env.MustRun(t, 0, "run", "prereq", "--stream")
	if !strings.Contains(r.Combined(), "all prerequisites met") {
		t.Errorf("prereq on a good lab: no success line\n%s", r)
	}
	// Break three prerequisites: a name mn1 cannot resolve, DHCP running
	// on the standby, and the standby's clock (a fake date on the PATH of
	// its SSH sessions) ten minutes ahead.
	env.Exec(t, "mn1", "cp /etc/hosts /etc/hosts.good && grep -v '[[:space:]]mn2.lab' /etc/hosts.good > /etc/hosts")
	env.Exec(t, "mn2", "/etc/init.d/isc-dhcp-server start >/dev/null")
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
	env.Exec(t, "mn1", "mv /etc/hosts.good /etc/hosts")
	env.Exec(t, "mn2", "/etc/init.d/isc-dhcp-server stop >/dev/null; rm -f /opt/xcat/bin/date")
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
	if got := strings.TrimSpace(env.Exec(t, "mn2", "su postgres -s /bin/sh -c \"psql -X -A -t -d postgres -c 'SELECT pg_is_in_recovery()'\"")); got != "t" {
		t.Fatalf("mn2 after pg-setup: pg_is_in_recovery() = %q, want t", got)
	}
	psql(t, env, "mn1", "INSERT INTO nodelist VALUES ('cn100', 'compute,all', 'written-on-mn1')")
	labtest.Eventually(t, 15*time.Second, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := env.Lab.PSQL(ctx, "mn2", "SELECT status FROM nodelist WHERE node = 'cn100'")
		if err != nil || strings.TrimSpace(out) != "written-on-mn1" {
			return fmt.Sprintf("row written on mn1 not readable on mn2: %q %v", out, err)
		}
		return ""
	})
}

func testFailover(t *testing.T, env *labtest.Env) {
	// The operator knows the cluster address by mn1's MAC.
	if out, err := op(t, env, "ping", "-c", "1", "-W", "2", lab.ClusterAddress); err != nil {
		t.Fatalf("ping the cluster address before failover: %v\n%s", err, out)
	}
	before, beforeMN1 := len(env.Calls(t, "mn2")), len(env.Calls(t, "mn1"))
	// A rogue host answers for the cluster address too: the failover
	// stops before the takeover, and goes on by resume once it is gone.
	env.Exec(t, "sn01", "ip addr add "+lab.ClusterAddress+"/24 dev eth0")
	r := env.MustRun(t, 1, "run", "failover", "--yes", "--stream", "--set", "nodes=cn001+cn002", "--set", "boot=netboot")
	first := r.Combined()
	if out := first; !strings.Contains(out, "someone still answers for "+lab.ClusterAddress+" (MAC "+mnMAC(t, env, "sn01")) {
		t.Errorf("failover with a rogue holder: no refusal naming sn01's MAC:\n%s", out)
	}
	if env.Holds(t, "mn2", lab.ClusterAddress) {
		t.Fatalf("mn2 took %s while sn01 answered for it", lab.ClusterAddress)
	}
	m := runID.FindStringSubmatch(r.Stderr)
	if m == nil {
		t.Fatalf("no run id in\n%s", r)
	}
	env.Exec(t, "sn01", "ip addr del "+lab.ClusterAddress+"/24 dev eth0")
	r = env.MustRun(t, 0, "resume", m[1], "--yes", "--stream")
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
	neigh, _ := op(t, env, "ip", "neigh", "show", lab.ClusterAddress)
	if !strings.Contains(strings.ToLower(neigh), mnMAC(t, env, "mn2")) {
		t.Errorf("operator's neighbour entry for %s is %q, want mn2's MAC %s", lab.ClusterAddress, neigh, mnMAC(t, env, "mn2"))
	}
	if out, err := op(t, env, "arping", "-c", "2", "-w", "3", "-i", "eth0", lab.ClusterAddress); err != nil || !strings.Contains(strings.ToLower(out), mnMAC(t, env, "mn2")) {
		t.Errorf("arping %s from op: want replies from mn2 (%s): %v\n%s", lab.ClusterAddress, mnMAC(t, env, "mn2"), err, out)
	}
	if env.Holds(t, "mn1", lab.ClusterAddress) {
		t.Errorf("mn1 still holds %s after failover", lab.ClusterAddress)
	}
	if !env.Holds(t, "mn2", lab.ClusterAddress) {
		t.Errorf("mn2 does not hold %s after failover", lab.ClusterAddress)
	}
	// The data: rows from before the failover are on mn2, which now takes writes.
	if got := psql(t, env, "mn2", "SELECT status FROM nodelist WHERE node = 'cn100'"); got != "written-on-mn1" {
		t.Errorf("pre-failover row on mn2: %q", got)
	}
	psql(t, env, "mn2", "INSERT INTO nodelist VALUES ('cn101', 'compute,all', 'written-on-mn2')")
	if got := psql(t, env, "mn2", "SELECT pg_is_in_recovery()"); got != "f" {
		t.Errorf("mn2 pg_is_in_recovery() = %q after failover", got)
	}
	// xCAT on mn2: xcatd started, then the network services, in order.
	calls := callLines(t, env, "mn2")[before:]
	at := 0
	for _, want := range []string{"xcatd start", "makedns -n", "makedhcp -n", "makedhcp -a", "makeconservercf", "nodeset cn001,cn002 netboot"} {
		i := callIndex(calls, at, want)
		if i < 0 {
			t.Errorf("stand-in calls on mn2: no %q after call %d in\n%s", want, at, strings.Join(calls, "\n"))
			break
		}
		at = i + 1
	}
	if slices.Contains(callLines(t, env, "mn1")[beforeMN1:], "xcatd start") {
		t.Errorf("xcatd started on mn1 during failover")
	}
}

func testFailback(t *testing.T, env *labtest.Env) {
	r := env.MustRun(t, 0, "run", "failback", "--yes", "--stream")
	if !strings.Contains(r.Combined(), "primary_rejoin | method=rewind") {
		t.Errorf("failback did not rewind mn1 (pg-setup sets wal_log_hints):\n%s", r)
	}
	if !env.Holds(t, "mn1", lab.ClusterAddress) || env.Holds(t, "mn2", lab.ClusterAddress) {
		t.Errorf("after failback mn1 must hold %s and mn2 not", lab.ClusterAddress)
	}
	if got := psql(t, env, "mn1", "SELECT string_agg(node, ',' ORDER BY node) FROM nodelist WHERE node IN ('cn100', 'cn101')"); got != "cn100,cn101" {
		t.Errorf("rows on mn1 after failback: %q, want cn100,cn101", got)
	}
	psql(t, env, "mn1", "INSERT INTO nodelist VALUES ('cn102', 'compute,all', 'after-failback')")
	labtest.Eventually(t, 15*time.Second, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := env.Lab.PSQL(ctx, "mn2", "SELECT pg_is_in_recovery(), (SELECT count(*) FROM nodelist WHERE node = 'cn102')")
		if err != nil || strings.TrimSpace(out) != "t|1" {
			return fmt.Sprintf("mn2 after failback: want a standby with the new row, got %q %v", out, err)
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
	psqlUp := func(host string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := env.Lab.PSQL(ctx, host, "SELECT 1")
		return err == nil
	}
	if psqlUp("mn1") {
		t.Fatalf("PostgreSQL still answers on mn1 after deactivate")
	}
	env.MustRun(t, 0, "run", "activate", "--yes")
	if !env.Holds(t, "mn2", lab.ClusterAddress) {
		t.Errorf("mn2 does not hold %s after activate", lab.ClusterAddress)
	}
	if got := psql(t, env, "mn2", "SELECT pg_is_in_recovery(), count(*) FROM nodelist WHERE node IN ('cn100', 'cn101', 'cn102')"); got != "f|3" {
		t.Errorf("mn2 after activate: %q, want a primary with the 3 rows", got)
	}
	psql(t, env, "mn2", "INSERT INTO nodelist VALUES ('cn103', 'compute,all', 'after-switchover')")
	labtest.Eventually(t, 15*time.Second, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := env.Lab.PSQL(ctx, "mn1", "SELECT pg_is_in_recovery(), (SELECT count(*) FROM nodelist WHERE node = 'cn103')")
		if err != nil || strings.TrimSpace(out) != "t|1" {
			return fmt.Sprintf("mn1 after activate: want a standby with the new row, got %q %v", out, err)
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
// address and hostname (guide 8.0 step 4).
func TestFailoverDeadPrimaryIdentity(t *testing.T) {
	env := labtest.Up(t, labtest.Options{Postgres: true, XCAT: true, ServiceNodes: 1})
	prepareStandby(t, env)
	mn1 := env.Lab.Host("mn1").Address
	inv := env.Lab.Inventory()
	inv.Mode, inv.ClusterAddress, inv.ClusterName = "identity", mn1, ""
	if err := env.Lab.WriteInventory(inv); err != nil {
		t.Fatal(err)
	}
	// xCAT on the standby reaches its database at the primary's address.
	env.Exec(t, "mn2", "sed -i 's/host="+lab.ClusterAddress+"/host="+mn1+"/' /etc/xcat/cfgloc")
	env.MustRun(t, 0, "run", "pg-setup", "--yes")
	psql(t, env, "mn1", "INSERT INTO nodelist VALUES ('cn200', 'compute,all', 'before-crash')")
	labtest.Eventually(t, 15*time.Second, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if out, _ := env.Lab.PSQL(ctx, "mn2", "SELECT count(*) FROM nodelist WHERE node = 'cn200'"); strings.TrimSpace(out) != "1" {
			return "row not replicated to mn2 yet"
		}
		return ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := env.Lab.CutLink(ctx, "mn1"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := env.MustRun(t, 0, "run", "failover", "--yes", "--stream")
	t.Logf("failover from a dead primary took %s", time.Since(start).Round(time.Second))
	out := r.Combined()
	for _, want := range []string{
		"primary position unknown: transactions committed on the primary after WAL",
		"no ARP answer for " + mn1 + "; old primary mn1: unreachable",
		"mn1 is unreachable",
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
	if got := psql(t, env, "mn2", "SELECT pg_is_in_recovery(), (SELECT status FROM nodelist WHERE node = 'cn200')"); got != "f|before-crash" {
		t.Errorf("mn2 after failover: %q", got)
	}
	if out, err := op(t, env, "ping", "-c", "1", "-W", "2", mn1); err != nil {
		t.Errorf("ping %s (now mn2) from op: %v\n%s", mn1, err, out)
	}
}
