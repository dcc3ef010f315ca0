//go:build lab

package drills

import (
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/integration/lab"
	"github.com/hamnflow/hamnflow/integration/standins"
)

// TestRollbackDrill injects a failure in the middle of the failover
// (makedns fails on mn2, after the database and the address moved) and
// rolls the run back: mn1 must be the primary again, holding the cluster
// address, with its data, and mn2 a host that answers for nothing.
func TestRollbackDrill(t *testing.T) {
	d := newDrill(t)
	mn2 := d.env.Lab.Host("mn2").Root
	err := standins.WriteFaults(mn2, []standins.Fault{{Command: "makedns", Stderr: "makedns: injected failure (rollback drill)", Note: "drill"}})
	if err != nil {
		t.Fatal(err)
	}
	r := d.env.MustRun(t, 1, "run", "failover", "--yes")
	if !strings.Contains(r.Combined(), "step makedns failed") {
		t.Errorf("failover with a failing makedns does not name it:\n%s", r)
	}
	m := runIDIn.FindStringSubmatch(r.Stderr)
	if m == nil {
		t.Fatalf("no run id in\n%s", r)
	}
	if err := standins.WriteFaults(mn2, nil); err != nil {
		t.Fatal(err)
	}
	// --yes confirms the undos of the destructive steps (address,
	// database); no step of the PostgreSQL path is left to be undone by hand.
	rb := d.env.MustRun(t, 0, "rollback", m[1], "--yes")
	if strings.Contains(rb.Combined(), "by hand") {
		t.Errorf("rollback left work to be done by hand:\n%s", rb)
	}

	if n := d.holds("mn1", lab.ClusterAddress); n != 1 {
		t.Errorf("after rollback mn1 holds %s %d time(s), want once (release_old_address has no undo)", lab.ClusterAddress, n)
	}
	if n := d.holds("mn2", lab.ClusterAddress); n != 0 {
		t.Errorf("after rollback mn2 still holds %s", lab.ClusterAddress)
	}
	if got, err := d.tryPSQL("mn1", "SELECT pg_is_in_recovery(), (SELECT status FROM nodelist WHERE node = 'cn100')"); err != nil || got != "f|before-drill" {
		t.Errorf("after rollback mn1's PostgreSQL: %q, %v; want a primary with the row written before (stop_old_db has no undo)", got, err)
	}
	svc := d.env.Exec(t, "mn1", `for s in xcatd isc-dhcp-server conserver-server; do /etc/init.d/$s status >/dev/null 2>&1 && echo "$s running" || echo "$s stopped"; done`)
	if strings.Contains(svc, "stopped") {
		t.Errorf("after rollback mn1's xCAT services: %s (stop_old_* have no undo)", strings.ReplaceAll(strings.TrimSpace(svc), "\n", ", "))
	}
	if got, err := d.tryPSQL("mn2", "SELECT pg_is_in_recovery()"); err == nil && got == "f" {
		t.Errorf("after rollback mn2's PostgreSQL is still a primary (promote has no undo): its timeline diverged from mn1's")
	}
}
