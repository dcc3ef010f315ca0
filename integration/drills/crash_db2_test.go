//go:build lab

package drills

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/integration/lab"
	"github.com/hamnflow/hamnflow/integration/labtest"
	"github.com/hamnflow/hamnflow/steps/db2"
	"github.com/hamnflow/hamnflow/steps/remote"
)

// db2EffectCalls are the effect calls of the failover's Db2 path (floating
// mode): the xCAT services, the cluster address and TAKEOVER HADR, run
// through the instance's db2 (wrapped, see installHolds).
var db2EffectCalls = map[string]effectCall{
	"stop_console":    {"mn1", "conserver-server stop*"},
	"stop_dhcp":       {"mn1", "isc-dhcp-server stop*"},
	"stop_xcatd":      {"mn1", "xcatd stop*"},
	"stop_dns":        {"mn1", "bind9 stop*"},
	"release_address": {"mn1", "ip addr del " + lab.ClusterAddress + "/*"},
	"standby_xcatd":   {"mn2", "xcatd stop*"},
	"standby_dhcp":    {"mn2", "isc-dhcp-server stop*"},
	"db2_takeover":    {"mn2", "db2 TAKEOVER HADR *"},
	"take_address":    {"mn2", "ip addr add " + lab.ClusterAddress + "/*"},
	"start_xcatd":     {"mn2", "xcatd start*"},
	"makedns":         {"mn2", "makedns*"},
	"makedhcp_new":    {"mn2", "makedhcp -n*"},
	"start_dhcp":      {"mn2", "isc-dhcp-server start*"},
	"makedhcp_all":    {"mn2", "makedhcp -a*"},
	"consoles":        {"mn2", "makeconservercf*"},
	"start_console":   {"mn2", "conserver-server start*"},
	"start_dns":       {"mn2", "bind9 start*"},
}

// db2CrashChains is crashChains for the Db2 failover.
const db2CrashChains = 8

// TestCrashDrillDb2 is TestCrashDrill for the Db2 HADR failover: kill -9
// of hamnflow at every step boundary and inside every side-effect step
// (TAKEOVER HADR held before and after the model ran it), resume, and
// decide in-doubt steps as an operator would after looking at the lab
// (db2pd's role for the takeover, the init script's status for a
// service). Besides the stand-in calls and the wrappers' log, the Db2
// model's own journal of state changes must match the uninterrupted run
// exactly: one role switch per failover, never a second TAKEOVER.
func TestCrashDrillDb2(t *testing.T) {
	d := newDb2Drill(t)
	d.installHolds()
	write := func(row, status string) {
		d.db2SQL("mn1", "INSERT INTO nodelist VALUES ('"+row+"', 'compute,all', '"+status+"')")
	}
	d.crashDrill(db2CrashChains, write, d.db2FinalState, crashOptions{})
}

// newDb2Drill brings up a lab with the Db2 model and the xCAT stand-ins,
// prepares the standby as the guide leaves it, sets HADR up with
// hadr-setup (mn1 Primary, mn2 Standby in Peer) and writes a row on mn1.
func newDb2Drill(t *testing.T) *drill {
	t.Helper()
	env := labtest.Up(t, labtest.Options{Db2: true, XCAT: true, ServiceNodes: 1})
	env.PrepareStandby(t)
	env.MustRun(t, 0, "run", "hadr-setup", "--yes")
	d := &drill{t: t, env: env, db: "db2", dir: "/run/drill", effectCalls: db2EffectCalls}
	d.waitHADR("mn1", db2.RolePrimary)
	d.waitHADR("mn2", db2.RoleStandby)
	d.db2SQL("mn1", "INSERT INTO nodelist VALUES ('cn100', 'compute,all', 'before-drill')")
	return d
}

// db2Session is a script run as the instance owner in one shell: one
// CLP session, so that a CONNECT holds for the commands after it.
func db2Session(script string) string {
	return "su - " + lab.Db2Instance + " <<'DB2_EOF'\n" + script + "\nDB2_EOF\n"
}

// db2SQL runs sql on host's XCATDB (which must take connections: the
// primary) and fails the test if it fails.
func (d *drill) db2SQL(host, sql string) string {
	d.t.Helper()
	return d.env.Exec(d.t, host, db2Session("db2 CONNECT TO XCATDB >/dev/null || exit 8\ndb2 "+remote.ShellQuote(sql)+
		"\nrc=$?\ndb2 CONNECT RESET >/dev/null\nexit $rc"))
}

// db2Count is SELECT COUNT(*) FROM nodelist WHERE node = row on host, or
// "-" with why when the database takes no connection.
func (d *drill) db2Count(host, row string) string {
	d.t.Helper()
	out := d.env.Exec(d.t, host, db2Session("db2 CONNECT TO XCATDB >/dev/null || { echo no-connect; exit 0; }\n"+
		"db2 "+remote.ShellQuote("SELECT COUNT(*) FROM nodelist WHERE node = '"+row+"'")+"\ndb2 CONNECT RESET >/dev/null\nexit 0"))
	if m := countRE.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return "- (" + strings.Join(db2.MessageCodes([]byte(out)), ",") + ")"
}

// countRE finds the value of a one-column, one-row CLP result.
var countRE = regexp.MustCompile(`(?m)^-+\s*\n\s*(\d+)\s*$`)

// hadr reads host's HADR status with db2pd, directly in the host.
func (d *drill) hadr(host string) (db2.HADRStatus, error) {
	d.t.Helper()
	out := d.env.Exec(d.t, host, "su - "+lab.Db2Instance+" -c 'db2pd -d xcatdb -hadr' || true")
	return db2.ParseDb2pdHADR([]byte(out))
}

// waitHADR waits up to 20 s until host is a healthy HADR role (Peer,
// Connected).
func (d *drill) waitHADR(host, role string) {
	d.t.Helper()
	labtest.Eventually(d.t, 20*time.Second, func() string {
		s, err := d.hadr(host)
		if err == nil && len(s.Check(role)) == 0 {
			return ""
		}
		return fmt.Sprintf("%s: not a healthy HADR %s: %+v (%v)", host, role, s, err)
	})
}

// db2FinalState describes what a Db2 failover leaves: the cluster
// address and the HADR role, state and connection of both MNs (once the
// pair settled in Peer, within 20 s), the rows on mn2 (the new primary)
// and the xCAT services on both.
func (d *drill) db2FinalState(row string) string {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	st := map[string]db2.HADRStatus{}
	errs := map[string]error{}
	for {
		settled := true
		for _, h := range []string{"mn1", "mn2"} {
			st[h], errs[h] = d.hadr(h)
			if errs[h] != nil || db2.NormalizeState(st[h].State) != db2.StatePeer || db2.NormalizeConnectStatus(st[h].ConnectStatus) != db2.ConnConnected {
				settled = false
			}
		}
		if settled || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	var b strings.Builder
	for _, h := range []string{"mn1", "mn2"} {
		fmt.Fprintf(&b, "%s: holds %s %d time(s)\n", h, lab.ClusterAddress, d.holds(h, lab.ClusterAddress))
		if errs[h] != nil {
			fmt.Fprintf(&b, "%s: HADR unreadable: %v\n", h, errs[h])
		} else {
			s := st[h]
			fmt.Fprintf(&b, "%s: HADR %s/%s/%s\n", h, db2.NormalizeRole(s.Role), db2.NormalizeState(s.State), db2.NormalizeConnectStatus(s.ConnectStatus))
		}
		svc := d.env.Exec(d.t, h, `for s in xcatd isc-dhcp-server conserver-server; do /etc/init.d/$s status >/dev/null 2>&1 && echo "$s running" || echo "$s stopped"; done`)
		fmt.Fprintf(&b, "%s: %s\n", h, strings.ReplaceAll(strings.TrimSpace(svc), "\n", ", "))
	}
	fmt.Fprintf(&b, "mn2: rows cn100=%s written=%s\n", d.db2Count("mn2", "cn100"), d.db2Count("mn2", row))
	return b.String()
}

// modelRecords are the state changes host's Db2 model journaled
// (journal.log without its time and pid; SQL statements and replayed log
// records left out, which the xCAT stand-ins' reads and writes cause),
// pids in the records replaced by N.
func (d *drill) modelRecords(host string) []string {
	d.t.Helper()
	b, err := os.ReadFile(filepath.Join(d.env.Lab.Host(host).Root, lab.Db2Home, "sqllib/model/journal.log"))
	if err != nil && !os.IsNotExist(err) {
		d.t.Fatal(err)
	}
	var recs []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		_, rec, ok := strings.Cut(l, " pid=")
		if !ok {
			continue
		}
		_, rec, _ = strings.Cut(rec, " ")
		if strings.HasPrefix(rec, "SQL ") || strings.HasPrefix(rec, "replayed ") {
			continue
		}
		recs = append(recs, pidIn.ReplaceAllString(rec, "pid N"))
	}
	return recs
}

var pidIn = regexp.MustCompile(`pid \d+`)

// db2InPlace is what an operator checks before --assume-done or --redo
// of a Db2 failover step: TAKEOVER HADR took place when db2pd on mn2 says
// Primary; a service start or stop when the init script's status says
// running or stopped; an address move when ip shows the address there
// or not.
func (d *drill) db2InPlace(step string) (done, ok bool) {
	d.t.Helper()
	c, ok := d.effectCalls[step]
	if !ok {
		return false, false
	}
	if step == "db2_takeover" {
		s, err := d.hadr(c.host)
		d.t.Logf("operator: db2pd on %s: role %q state %q (%v)", c.host, s.Role, s.State, err)
		return err == nil && db2.NormalizeRole(s.Role) == db2.RolePrimary, true
	}
	if svc, op, ok := strings.Cut(strings.TrimSuffix(c.pattern, "*"), " "); ok && (op == "start" || op == "stop") {
		running := strings.TrimSpace(d.env.Exec(d.t, c.host, "/etc/init.d/"+svc+" status >/dev/null 2>&1 && echo running || echo stopped")) == "running"
		return running == (op == "start"), true
	}
	if done, ok := d.db2IdentityInPlace(step); ok {
		return done, true
	}
	if strings.HasPrefix(c.pattern, "ip addr ") {
		return (d.holds(c.host, lab.ClusterAddress) > 0) == strings.HasPrefix(c.pattern, "ip addr add"), true
	}
	return false, false
}
