//go:build lab

package db2

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/integration/lab"
	"github.com/hamnflow/hamnflow/integration/labtest"
)

// upIdentity brings up the guide's own cluster: AIX management nodes
// (stand-ins) in identity mode with Db2 HADR set up by hadr-setup, the
// standby prepared as 6.0 leaves it, and one row written on the primary.
func upIdentity(t *testing.T) *labtest.Env {
	t.Helper()
	env := labtest.Up(t, labtest.Options{Db2: true, XCAT: true, OS: "aix", ServiceNodes: 1})
	inv := env.Lab.Inventory()
	if inv.Mode != "identity" || inv.Database.Type != "db2" {
		t.Fatalf("lab inventory: mode %q, database %q", inv.Mode, inv.Database.Type)
	}
	prepareStandby(t, env)
	env.MustRun(t, 0, "run", "hadr-setup", "--yes")
	waitHADR(t, env, "mn1", 10*time.Second, "Primary/Peer/Connected", healthy("Primary"))
	waitHADR(t, env, "mn2", 10*time.Second, "Standby/Peer/Connected", healthy("Standby"))
	sql(t, env, "mn1", "INSERT INTO nodelist VALUES ('cn-identity', 'compute,all', 'before')")
	return env
}

// sql runs one statement on host's XCATDB as the instance owner.
func sql(t *testing.T, env *labtest.Env, host, stmt string) string {
	t.Helper()
	return env.Exec(t, host, "su - "+lab.Db2Instance+" <<'EOF'\ndb2 CONNECT TO XCATDB >/dev/null || exit 8\ndb2 \""+stmt+"\"\nrc=$?\ndb2 CONNECT RESET >/dev/null\nexit $rc\nEOF\n")
}

// countOne is a one-column, one-row CLP result of 1.
var countOne = regexp.MustCompile(`(?m)^-+\s*\n\s*1\s*$`)

// identityChecks: host has the cluster's hostname, its db2nodes.cfg names
// it, its database is the HADR primary in Peer with other its standby, and
// the row written before is there.
func identityChecks(t *testing.T, env *labtest.Env, host, other string) {
	t.Helper()
	name := env.Lab.Inventory().ClusterName
	if h := strings.TrimSpace(env.Exec(t, host, "hostname")); h != name {
		t.Errorf("%s's hostname %q, want the cluster's %q", host, h, name)
	}
	if nodes := env.Exec(t, host, "su - "+lab.Db2Instance+" -c 'cat sqllib/db2nodes.cfg'"); !strings.HasPrefix(nodes, "0 "+name+" ") {
		t.Errorf("%s's db2nodes.cfg does not name %s:\n%s", host, name, nodes)
	}
	waitHADR(t, env, host, 20*time.Second, "Primary/Peer/Connected", healthy("Primary"))
	waitHADR(t, env, other, 20*time.Second, "Standby/Peer/Connected", healthy("Standby"))
	if out := sql(t, env, host, "SELECT COUNT(*) FROM nodelist WHERE node = 'cn-identity'"); !strings.Contains(out, "1 record(s) selected.") || !countOne.MatchString(out) {
		t.Errorf("the row written before is not on %s:\n%s", host, out)
	}
}

// TestIdentityFailover runs the identity-mode Db2 failover and failback
// (guide 8.0 and 9.0 on AIX): the standby takes over gracefully, Db2
// stops (DEACTIVATE, then db2stop, which an active database would refuse
// with SQL1025N), the hostname and address move with mktcpip, db2gcf -u
// writes the new hostname into db2nodes.cfg and the database starts again
// as the HADR primary; the old primary stays its standby, so the failback
// hands everything back the same way.
func TestIdentityFailover(t *testing.T) {
	env := upIdentity(t)
	fo := shown(t, env, env.MustRun(t, 0, "run", "failover", "--yes"))
	if k := fo.stepOutputs("db2_takeover")["kind"]; k != "graceful" {
		t.Errorf("failover takeover: kind %q", k)
	}
	for _, id := range []string{"db2_stop_for_rename", "take_identity", "db2_gcf_start", "db2_accepts"} {
		if fo.stepOutputs(id) == nil {
			t.Errorf("the identity failover did not run %s", id)
		}
	}
	identityChecks(t, env, "mn2", "mn1")
	if t.Failed() {
		return
	}
	fb := shown(t, env, env.MustRun(t, 0, "run", "failback", "--yes"))
	if k := fb.stepOutputs("db2_takeover")["kind"]; k != "graceful" {
		t.Errorf("failback takeover: kind %q", k)
	}
	identityChecks(t, env, "mn1", "mn2")
	// mn2 has its own name back, and so has its db2nodes.cfg.
	if nodes := env.Exec(t, "mn2", "su - "+lab.Db2Instance+" -c 'cat sqllib/db2nodes.cfg'"); !strings.HasPrefix(nodes, "0 mn2 ") {
		t.Errorf("after failback mn2's db2nodes.cfg still names the cluster's hostname:\n%s", nodes)
	}
}
