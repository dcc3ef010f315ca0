//go:build lab

package drills

import (
	"strings"
	"testing"
)

// TestSecondOperator starts a failover and, while it runs (held inside
// promote), a second operator starts another: refused with exit 4, naming
// the first run and its operator. The first then finishes.
func TestSecondOperator(t *testing.T) {
	d := newDrill(t)
	d.installHolds()
	d.hold("mn2", "pre", "pg_ctl *promote*")
	p := d.start("run", "failover", "--yes")
	if _, ok := d.waitHeld(p, "mn2"); !ok {
		t.Fatalf("failover ended (exit %d) before promote:\n%s", p.exit, p.output())
	}
	first := d.lastRun()

	d.env.ExtraEnv = []string{"SUDO_USER=operator2"}
	r := d.env.MustRun(t, 4, "run", "failover", "--yes")
	d.env.ExtraEnv = nil
	want := "is being worked on by run " + first.ID + " of root@"
	if !strings.Contains(r.Stderr, want) || !strings.Contains(r.Stderr, "(pid ") {
		t.Errorf("second failover refused with:\n%s\nwant it to name the first run: %q", r, want)
	}
	if last := d.lastRun(); last.ID != first.ID {
		t.Errorf("the refused failover left a run %s in the journal", last.ID)
	}

	d.release("mn2")
	if got := p.wait(t); got != 0 {
		t.Fatalf("first failover: exit %d after the second was refused:\n%s", got, p.output())
	}
	if d.holds("mn2", "198.51.100.10") != 1 {
		t.Errorf("first failover done, but mn2 does not hold the cluster address")
	}
}
