//go:build lab

package drills

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/integration/lab"
	"github.com/hamnflow/hamnflow/integration/labtest"
	"github.com/hamnflow/hamnflow/steps/db2"
)

// db2IdentityEffectCalls are the effect calls of the identity-mode Db2
// failover on AIX (guide 8.0 as the guide runs it): SRC's stopsrc and
// startsrc, the cluster address, TAKEOVER HADR, mktcpip's identity
// takeover and xCAT's make*, each through a wrapper (installIdentityHolds).
var db2IdentityEffectCalls = map[string]effectCall{
	"stop_console":    {"mn1", "stopsrc -s conserver*"},
	"stop_dns":        {"mn1", "stopsrc -s named*"},
	"stop_xcatd":      {"mn1", "stopsrc -s xcatd*"},
	"release_address": {"mn1", "ip addr del " + lab.ClusterAddress + "/*"},
	"db2_takeover":    {"mn2", "db2 TAKEOVER HADR *"},
	"take_identity":   {"mn2", "mktcpip *"},
	"start_xcatd":     {"mn2", "startsrc -s xcatd*"},
	"makedns":         {"mn2", "makedns*"},
	"consoles":        {"mn2", "makeconservercf*"},
	"start_console":   {"mn2", "startsrc -s conserver*"},
}

// db2IdentityChains bounds the drill: every crash point is tried, spread
// over this many failovers (each followed by a failback).
const db2IdentityChains = 6

// TestCrashDrillDb2Identity is the crash drill for the identity-mode Db2
// failover on AIX: kill -9 of hamnflow at every step boundary and before
// and after every side-effect call (TAKEOVER HADR, mktcpip, SRC, the
// address), resume, in-doubt steps decided as an operator would after
// looking (db2pd's role, lssrc, the hostname). The end state (hostnames,
// db2nodes.cfg, HADR roles in Peer, the rows, the address) and the Db2
// model's journal of state changes must be the uninterrupted run's.
func TestCrashDrillDb2Identity(t *testing.T) {
	d := newDb2IdentityDrill(t)
	d.installIdentityHolds()
	write := func(row, status string) {
		d.db2SQL("mn1", "INSERT INTO nodelist VALUES ('"+row+"', 'compute,all', '"+status+"')")
	}
	// The fresh lab's mn1 has neither the cluster's hostname nor the
	// services a failback leaves it (named running, dhcpsd not): only from
	// the second failover on is every failover's starting point the same.
	d.crashDrill(db2IdentityChains, write, d.db2IdentityFinalState, crashOptions{warmUp: true, effects: d.identityEffects})
}

// newDb2IdentityDrill brings up the AIX lab (identity mode) with the Db2
// model, prepares the standby, sets HADR up with hadr-setup and writes a
// row on mn1.
func newDb2IdentityDrill(t *testing.T) *drill {
	t.Helper()
	env := labtest.Up(t, labtest.Options{Db2: true, XCAT: true, OS: "aix", ServiceNodes: 1})
	inv := env.Lab.Inventory()
	if inv.Mode != "identity" || inv.Database.Type != "db2" {
		t.Fatalf("lab inventory: mode %q, database %q", inv.Mode, inv.Database.Type)
	}
	env.PrepareStandby(t)
	env.MustRun(t, 0, "run", "hadr-setup", "--yes")
	d := &drill{t: t, env: env, db: "db2", dir: "/run/drill", effectCalls: db2IdentityEffectCalls}
	d.waitHADR("mn1", db2.RolePrimary)
	d.waitHADR("mn2", db2.RoleStandby)
	d.db2SQL("mn1", "INSERT INTO nodelist VALUES ('cn100', 'compute,all', 'before-drill')")
	return d
}

// installIdentityHolds lays the drill's wrappers into mn1 and mn2 of the
// AIX lab: the stand-ins' SRC commands and mktcpip (links to the stand-in
// program, replaced by wrappers that run it by name), xCAT's make*, ip
// (bound over in the host's mount namespace) and the instance's db2.
func (d *drill) installIdentityHolds() {
	d.t.Helper()
	const standin = `"${XCAT_STANDIN_ROOT:-}/opt/xcat/standin/xcat-standin"`
	for _, host := range []string{"mn1", "mn2"} {
		var b strings.Builder
		file := holdsPreamble(&b)
		for _, c := range []string{"stopsrc", "startsrc", "mktcpip"} {
			file("/opt/aix/bin/"+c, wrapper(c, standin+" "+c))
		}
		for _, c := range []string{"makedns", "makedhcp", "makeconservercf"} {
			file("/opt/xcat/sbin/"+c, wrapper(c, standin+" "+c))
		}
		bin := lab.Db2Home + "/sqllib/bin"
		file(bin+"/db2", wrapper("db2", `DB2MODEL_SESSION="${DB2MODEL_SESSION:-ppid:$PPID}" `+bin+"/db2model db2"))
		d.env.Exec(d.t, host, b.String())
	}
}

// db2IdentityInPlace is db2InPlace for the AIX steps: an SRC start or
// stop is in place when lssrc says active or inoperative, mktcpip's
// takeover when the host has the cluster's hostname.
func (d *drill) db2IdentityInPlace(step string) (done, ok bool) {
	c, ok := d.effectCalls[step]
	if !ok {
		return false, false
	}
	f := strings.Fields(strings.TrimSuffix(c.pattern, "*"))
	switch {
	case len(f) == 3 && (f[0] == "stopsrc" || f[0] == "startsrc") && f[1] == "-s":
		out := d.env.Exec(d.t, c.host, "PATH="+lab.AIXPath+" lssrc -s "+f[2]+" || true")
		active := strings.Contains(out, "active") && !strings.Contains(out, "inoperative")
		return active == (f[0] == "startsrc"), true
	case len(f) >= 1 && f[0] == "mktcpip":
		name := d.env.Lab.Inventory().ClusterName
		return strings.TrimSpace(d.env.Exec(d.t, c.host, "hostname")) == name, true
	}
	return false, false
}

// db2IdentityFinalState is db2FinalState with the identity: each MN's
// hostname and the host its db2nodes.cfg names.
func (d *drill) db2IdentityFinalState(row string) string {
	d.t.Helper()
	s := d.db2FinalState(row)
	var b strings.Builder
	b.WriteString(s)
	for _, h := range []string{"mn1", "mn2"} {
		name := strings.TrimSpace(d.env.Exec(d.t, h, "hostname"))
		nodes := strings.TrimSpace(d.env.Exec(d.t, h, "cat "+lab.Db2Home+"/sqllib/db2nodes.cfg"))
		fmt.Fprintf(&b, "%s: hostname %s, db2nodes.cfg %q\n", h, name, nodes)
	}
	return b.String()
}

// TestRollbackDrillDb2Identity injects a failure late in the identity-mode
// Db2 failover on AIX (makedns fails on mn2, after the takeover, the
// rename and the identity moved) and rolls the run back: mn1 is the HADR
// primary again in Peer with mn2 its standby, with the row written
// before; mn1 holds the cluster address, mn2 its own name again, and
// mn2's db2nodes.cfg names mn2.
func TestRollbackDrillDb2Identity(t *testing.T) {
	d := newDb2IdentityDrill(t)
	d.installIdentityHolds()
	d.fail("mn2", "makedns*")
	r := d.env.MustRun(t, 1, "run", "failover", "--yes")
	if !strings.Contains(r.Combined(), "step makedns failed") {
		t.Errorf("failover with a failing makedns does not name it:\n%s", r)
	}
	m := runIDIn.FindStringSubmatch(r.Stderr)
	if m == nil {
		t.Fatalf("no run id in\n%s", r)
	}
	d.fail("mn2", "")
	rb := d.env.MustRun(t, 0, "rollback", m[1], "--yes")
	t.Logf("rollback:\n%s", rb.Stdout)
	d.waitHADR("mn1", db2.RolePrimary)
	d.waitHADR("mn2", db2.RoleStandby)
	if n := d.holds("mn1", lab.ClusterAddress); n != 1 {
		t.Errorf("after rollback mn1 holds %s %d time(s), want once", lab.ClusterAddress, n)
	}
	// mn2 keeps the cluster address too: the stand-in's mktcpip adds the
	// address it sets (ip addr replace) where AIX's replaces the
	// interface's address. A faithful mktcpip would also take away the
	// address HADR_LOCAL_HOST names, so the lab's identity-mode HADR lives
	// on by that deviation (see the report of issue 13).
	if h := strings.TrimSpace(d.env.Exec(t, "mn2", "hostname")); h != "mn2" {
		t.Errorf("after rollback mn2's hostname is %q, want mn2", h)
	}
	if nodes := d.env.Exec(t, "mn2", "cat "+lab.Db2Home+"/sqllib/db2nodes.cfg"); !strings.HasPrefix(nodes, "0 mn2 ") {
		t.Errorf("after rollback mn2's db2nodes.cfg: %q, want it to name mn2", nodes)
	}
	if got := d.db2Count("mn1", "cn100"); got != "1" {
		t.Errorf("after rollback mn1 has %s row(s) cn100, want 1", got)
	}
}

// identityEffects are effects plus the wrapped SRC and mktcpip calls that
// completed (the wrappers' log).
func (d *drill) identityEffects(mark map[string]int) map[string]int {
	n := d.effects(mark)
	for _, h := range []string{"mn1", "mn2"} {
		for _, l := range d.doneLines(h) {
			call, rc, _ := strings.Cut(l, " rc=")
			if rc == "0" && (strings.HasPrefix(call, "stopsrc ") || strings.HasPrefix(call, "startsrc ") || strings.HasPrefix(call, "mktcpip ")) {
				n[h+": "+call]++
			}
		}
	}
	return n
}
