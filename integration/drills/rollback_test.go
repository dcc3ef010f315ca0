//go:build lab

package drills

import (
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/integration/lab"
)

// TestRollbackDrill injects a failure in the middle of the failover
// (makedns fails on mn2, after the database and the address moved) and
// rolls the run back: mn1 must be the primary again, holding the cluster
// address, with its data and its services running and enabled as before,
// and mn2 a host that answers for nothing.
func TestRollbackDrill(t *testing.T) {
	d := newDrill(t)
	d.installHolds()
	before := d.services("mn1")
	d.fail("mn2", "makedns*")
	r := d.env.MustRun(t, 1, "run", "failover", "--yes")
	if !strings.Contains(r.Combined(), "step makedns failed") || !strings.Contains(r.Combined(), "injected failure") {
		t.Errorf("failover with a failing makedns does not name it:\n%s", r)
	}
	m := runIDIn.FindStringSubmatch(r.Stderr)
	if m == nil {
		t.Fatalf("no run id in\n%s", r)
	}
	d.fail("mn2", "")
	// --yes confirms the undos of the destructive steps (address,
	// database); no step of the PostgreSQL path is left to be undone by hand.
	rb := d.env.MustRun(t, 0, "rollback", m[1], "--yes")
	if strings.Contains(rb.Combined(), "by hand") {
		t.Errorf("rollback left work to be done by hand:\n%s", rb)
	}

	if n := d.holds("mn1", lab.ClusterAddress); n != 1 {
		t.Errorf("after rollback mn1 holds %s %d time(s), want once", lab.ClusterAddress, n)
	}
	if n := d.holds("mn2", lab.ClusterAddress); n != 0 {
		t.Errorf("after rollback mn2 still holds %s", lab.ClusterAddress)
	}
	if got, err := d.tryPSQL("mn1", "SELECT pg_is_in_recovery(), (SELECT status FROM nodelist WHERE node = 'cn100')"); err != nil || got != "f|before-drill" {
		t.Errorf("after rollback mn1's PostgreSQL: %q, %v; want a primary with the row written before", got, err)
	}
	if after := d.services("mn1"); after != before {
		t.Errorf("after rollback mn1's xCAT services are %s, want as before the failover: %s", after, before)
	}
	// mn2's promoted database is stopped: its timeline left mn1's, and
	// pg-setup makes it a standby again.
	if got, err := d.tryPSQL("mn2", "SELECT pg_is_in_recovery()"); err == nil {
		t.Errorf("after rollback mn2's PostgreSQL answers (pg_is_in_recovery %q): the promote's undo stops it", got)
	}
	if got := d.services("mn2"); strings.Contains(got, " active") {
		t.Errorf("after rollback mn2 runs xCAT services: %s", got)
	}
}
