//go:build lab

package drills

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/journal"
	"github.com/hamnflow/hamnflow/steps/runlock"
	"github.com/hamnflow/hamnflow/workflow"
)

// heldFailover brings up the drill's lab and starts a failover held
// inside promote on mn2, the first operator's run.
func heldFailover(t *testing.T) (*drill, *proc, workflow.Run) {
	t.Helper()
	d := newDrill(t)
	d.installHolds()
	d.hold("mn2", "pre", "pg_ctl *promote*")
	p := d.start("run", "failover", "--yes")
	if _, ok := d.waitHeld(p, "mn2"); !ok {
		t.Fatalf("failover ended (exit %d) before promote:\n%s", p.exit, p.output())
	}
	return d, p, d.lastRun()
}

// TestSecondOperator starts a failover and, while it runs (held inside
// promote), a second operator starts another: refused with exit 4, naming
// the first run and its operator. The first then finishes.
func TestSecondOperator(t *testing.T) {
	d, p, first := heldFailover(t)

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

// TestSecondOperatorOtherHost (issue 17, item 2): with the bbolt journal,
// a failover runs from the operator host; a second hamnflow on another
// host (the service node sn01's network namespace, with its own journal
// and its own lock directory, as another machine has) starts a failover
// of the same cluster while the first is held inside promote. It passes
// its own machine's lock, finds the first run's markers on the MNs and is
// refused with exit 4, naming the first run and saying what to do; it
// records no run. The first finishes, and its markers are gone.
func TestSecondOperatorOtherHost(t *testing.T) {
	d, p, first := heldFailover(t)
	for _, mn := range []string{"mn1", "mn2"} {
		m := d.marker(mn)
		if m == nil || m.RunID != first.ID || m.Cluster != first.Cluster || m.PID == 0 || m.Heartbeat.IsZero() || m.Journal != d.env.Journal {
			t.Errorf("marker on %s during run %s: %+v", mn, first.ID, m)
		}
	}
	for _, l := range strings.Split(p.output(), "\n") {
		if strings.Contains(l, "run marker ") {
			t.Logf("first run: %s", l)
		}
	}

	sn := d.env.Lab.Host("sn01")
	dir := t.TempDir()
	journal2 := filepath.Join(dir, "journal.db")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", sn.Namespace, d.env.Bins.Hamnflow, "run", "failover", "--yes")
	cmd.Env = append(os.Environ(),
		"HAMNFLOW_JOURNAL="+journal2,
		"HAMNFLOW_LOCK_DIR="+filepath.Join(dir, "locks"),
		"HAMNFLOW_INVENTORY="+d.env.Lab.InventoryPath(),
		"SUDO_USER=operator2", "NO_COLOR=1")
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 {
		t.Errorf("second failover from sn01 with its own journal: %v, want exit 4:\n%s", err, stderr.String())
	}
	t.Logf("second failover from sn01 refused in %s (a new process: SSH to both MNs, read the markers):\n%s", took, stderr.String())
	for _, want := range []string{"is being worked on from another host", "run " + first.ID + " of ", "--force", "journal " + d.env.Journal + " there"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("refusal does not say %q:\n%s", want, stderr.String())
		}
	}
	if j, err := journal.Open(journal2); err == nil {
		if runs, _ := j.Runs(workflow.Filter{}); len(runs) != 0 {
			t.Errorf("the refused failover recorded run %s", runs[0].ID)
		}
	}
	if m := d.marker("mn1"); m == nil || m.RunID != first.ID {
		t.Errorf("the refused failover changed mn1's marker: %+v", m)
	}

	d.release("mn2")
	if got := p.wait(t); got != 0 {
		t.Fatalf("first failover: exit %d after the second was refused:\n%s", got, p.output())
	}
	for _, l := range strings.Split(p.output(), "\n") {
		if strings.Contains(l, "run marker ") {
			t.Logf("first run: %s", l)
		}
	}
	for _, mn := range []string{"mn1", "mn2"} {
		if m := d.marker(mn); m != nil {
			t.Errorf("marker left on %s after the run succeeded: %+v", mn, m)
		}
	}
}

// marker is the run marker on an MN, nil if there is none.
func (d *drill) marker(mn string) *runlock.Marker {
	d.t.Helper()
	out := strings.TrimSpace(d.env.Exec(d.t, mn, "cat "+runlock.DefaultPath+" 2>/dev/null || true"))
	if out == "" {
		return nil
	}
	b := []byte(out)
	var m runlock.Marker
	if err := json.Unmarshal(b, &m); err != nil {
		d.t.Fatalf("marker on %s: %v:\n%s", mn, err, b)
	}
	return &m
}
