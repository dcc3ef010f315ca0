//go:build lab

package linux

import (
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/integration/lab"
	"github.com/hamnflow/hamnflow/integration/labtest"
)

// sqliteLab is the real lab with xCAT on SQLite, xcatconfig -i's own
// default: one file a table in /etc/xcat on each MN, xcatd running on mn1
// and stopped and disabled on mn2.
var sqliteLab = labtest.Options{Systemd: true, RealXCAT: true}

func sqlite3(t *testing.T, env *labtest.Env, host, file, sql string) string {
	t.Helper()
	return strings.TrimSpace(env.Exec(t, host, "sqlite3 "+file+" "+shellQuote(sql)))
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestSQLiteRealXCAT runs the SQLite path (guide 5.3: copies of xCAT's
// SQLite files by cron, a last copy at the failover) with real xCAT 2.19
// on both MNs: sqlite-setup copies mn1's tables while its xcatd runs;
// what xCAT writes on mn1 (mkdef) is on mn2 after the copy job; the
// failover's last copy carries a write made just before it; real xCAT
// then serves the cluster from mn2 alone on the copy (lsdef through the
// cluster address, DNS, DHCP, consoles; verify passes); a write through
// xCAT on mn2 comes back with the failback, and xCAT serves from mn1
// again. A damaged copy stops a failover before xcatd starts on it.
func TestSQLiteRealXCAT(t *testing.T) {
	env := labtest.Up(t, sqliteLab)
	if db := env.Lab.Inventory().Database; db.Type != "sqlite" || db.File != "/etc/xcat" {
		t.Fatalf("lab inventory database: %+v, want sqlite in /etc/xcat", db)
	}
	// No cfgloc: xCAT's tables are SQLite files (perl-xCAT/xCAT/Table.pm).
	if out := env.Exec(t, "mn1", "test ! -e /etc/xcat/cfgloc && test -s /etc/xcat/site.sqlite && echo sqlite || true"); strings.TrimSpace(out) != "sqlite" {
		t.Fatalf("mn1's xCAT is not on SQLite (a cfgloc, or no site.sqlite)")
	}
	// The standby's own tables (xcatconfig -i made them) carry a stale
	// WAL file that must not survive the copy.
	env.Exec(t, "mn2", "printf stale > /etc/xcat/nodelist.sqlite-wal")
	env.MustRun(t, 0, "run", "sqlite-setup", "--yes")
	env.MustRun(t, 0, "run", "sync-setup", "--yes")
	if out := env.Exec(t, "mn2", "ls -a /etc/xcat"); strings.Contains(out, "nodelist.sqlite-wal") || strings.Contains(out, ".hamnflow-incoming") {
		t.Errorf("standby keeps a stale WAL or the staging directory:\n%s", out)
	}
	if got := sqlite3(t, env, "mn2", "/etc/xcat/site.sqlite", "SELECT value FROM site WHERE key='master'"); got != lab.ClusterAddress {
		t.Errorf("standby's site.master after sqlite-setup: %q, want %s", got, lab.ClusterAddress)
	}

	// What xCAT writes on mn1 reaches mn2 by the copy job cron runs.
	if out, rc := env.XCAT(t, "mn1", "chdef cn01 groups=compute,all,copied"); rc != 0 {
		t.Fatalf("chdef cn01 on mn1: exit %d: %s", rc, out)
	}
	env.Exec(t, "mn1", "/opt/hamnflow/bin/sqlite-sync >/dev/null")
	if got := sqlite3(t, env, "mn2", "/etc/xcat/nodelist.sqlite", "SELECT groups FROM nodelist WHERE node='cn01'"); got != "compute,all,copied" {
		t.Errorf("standby's cn01 after the copy job: groups %q", got)
	}

	// The failover's last copy takes what was written since.
	if out, rc := env.XCAT(t, "mn1", "chdef cn02 groups=compute,all,last"); rc != 0 {
		t.Fatalf("chdef cn02 on mn1: exit %d: %s", rc, out)
	}
	r := env.MustRun(t, 0, "run", "failover", "--yes")
	if !strings.Contains(r.Stdout, "the cluster is whole: served from mn2") {
		t.Errorf("failover on SQLite: verify did not pass:\n%s", r.Stdout)
	}
	if out, rc := env.XCAT(t, "mn2", "XCATHOST="+lab.ClusterAddress+":3001 lsdef cn02 -i groups"); rc != 0 || !strings.Contains(out, "groups=compute,all,last") {
		t.Errorf("lsdef cn02 through the cluster address after failover: exit %d:\n%s", rc, out)
	}
	if cron := env.Exec(t, "mn1", "crontab -l 2>/dev/null || true"); strings.Contains(cron, "sqlite-sync") {
		t.Errorf("the old primary still runs the copy job:\n%s", cron)
	}
	env.CheckServing(t, "mn2", "mn1")

	// A write through xCAT on mn2 comes back with the failback.
	if out, rc := env.XCAT(t, "mn2", "chdef cn03 groups=compute,all,moved"); rc != 0 {
		t.Fatalf("chdef cn03 on mn2: exit %d: %s", rc, out)
	}
	r = env.MustRun(t, 0, "run", "failback", "--yes")
	if !strings.Contains(r.Stdout, "the cluster is whole: served from mn1") {
		t.Errorf("failback on SQLite: verify did not pass:\n%s", r.Stdout)
	}
	if out, rc := env.XCAT(t, "mn1", "lsdef cn03 -i groups"); rc != 0 || !strings.Contains(out, "groups=compute,all,moved") {
		t.Errorf("lsdef cn03 on mn1 after failback: exit %d:\n%s", rc, out)
	}
	for _, f := range []string{"nodelist.sqlite", "site.sqlite"} {
		if got := sqlite3(t, env, "mn1", "/etc/xcat/"+f, "PRAGMA integrity_check"); got != "ok" {
			t.Errorf("mn1's %s after failback: %s", f, got)
		}
	}
	env.CheckServing(t, "mn1", "mn2")
	if cron := env.Exec(t, "mn1", "crontab -l"); !strings.Contains(cron, "/opt/hamnflow/bin/sqlite-sync") {
		t.Errorf("mn1's crontab has no copy job after failback:\n%s", cron)
	}

	// A damaged copy on the standby fails the failover's check before
	// xcatd starts on it; the old primary keeps serving.
	env.Exec(t, "mn2", "printf garbage | dd of=/etc/xcat/site.sqlite bs=1 seek=100 conv=notrunc 2>/dev/null")
	r = env.MustRun(t, 1, "run", "failover", "--yes", "--set", "final_copy=no")
	if !strings.Contains(r.Combined(), "site.sqlite") {
		t.Errorf("the failed check does not name the damaged file:\n%s", r)
	}
	if got := strings.TrimSpace(env.Exec(t, "mn2", "systemctl is-active xcatd || true")); got == "active" {
		t.Errorf("xcatd started on mn2 on a damaged SQLite copy")
	}
}
