package runlock

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
	"github.com/hamnflow/hamnflow/workflow/storetest"
)

const markerPath = "/var/lib/hamnflow/run-lock.json"

// fakeMNs runs the marker scripts for real with /bin/sh, each MN's marker
// path in a directory of its own; a host in down does not answer.
type fakeMNs struct {
	dir  string
	mu   sync.Mutex
	down map[string]bool
	hang map[string]bool
}

func newFakeMNs(t *testing.T) *fakeMNs {
	return &fakeMNs{dir: t.TempDir(), down: map[string]bool{}, hang: map[string]bool{}}
}

func (f *fakeMNs) marker(mn string) string {
	return filepath.Join(f.dir, mn, "var", "lib", "hamnflow", "run-lock.json")
}

func (f *fakeMNs) Exec(ctx context.Context, h remote.Host, c remote.Command) (remote.Result, error) {
	f.mu.Lock()
	down, hang := f.down[h.Name], f.hang[h.Name]
	f.mu.Unlock()
	if down {
		return remote.Result{Exit: -1}, errors.New("dial tcp: connect: no route to host")
	}
	if hang {
		<-ctx.Done()
		return remote.Result{Exit: -1}, ctx.Err()
	}
	c.Script = strings.ReplaceAll(c.Script, filepath.Dir(markerPath), filepath.Dir(f.marker(h.Name)))
	return remote.Local{}.Exec(ctx, remote.Host{Name: h.Name, Local: true}, c)
}

func (f *fakeMNs) read(t *testing.T, mn string) *Marker {
	t.Helper()
	b, err := os.ReadFile(f.marker(mn))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var m Marker
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("marker on %s: %v: %s", mn, err, b)
	}
	return &m
}

type notes struct {
	mu sync.Mutex
	l  []string
}

func (n *notes) add(s string) { n.mu.Lock(); n.l = append(n.l, s); n.mu.Unlock() }
func (n *notes) has(sub string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range n.l {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func guard(f *fakeMNs, n *notes) *Guard {
	return &Guard{Exec: f, Hosts: []remote.Host{{Name: "mn1"}, {Name: "mn2"}}, Path: markerPath,
		Budget: 2 * time.Second, Note: n.add, Journal: "/root/journal.db"}
}

var alice = workflow.Holder{User: "alice", Host: "jump1", PID: 11}
var bob = workflow.Holder{User: "bob", Host: "mn2", PID: 22}

// TestTwoOperators: the second hamnflow, on another host with its own
// journal, is refused while the first run's markers are live, and is told
// who holds the cluster and what to do.
func TestTwoOperators(t *testing.T) {
	f, n := newFakeMNs(t), &notes{}
	a, err := guard(f, n).Acquire(context.Background(), "prod", alice)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetRun("r1"); err != nil {
		t.Fatal(err)
	}
	for _, mn := range []string{"mn1", "mn2"} {
		m := f.read(t, mn)
		if m == nil || m.RunID != "r1" || m.User != "alice" || m.Host != "jump1" || m.PID != 11 || m.Cluster != "prod" || m.Since.IsZero() || m.Heartbeat.IsZero() || m.Journal != "/root/journal.db" {
			t.Fatalf("marker on %s: %+v", mn, m)
		}
	}
	_, err = guard(f, n).Acquire(context.Background(), "prod", bob)
	var he *HeldError
	var le *workflow.LockedError
	if !errors.As(err, &he) || !errors.As(err, &le) || le.Holder.User != "alice" {
		t.Fatalf("the second operator was not refused: %v", err)
	}
	for _, want := range []string{"run r1 of alice@jump1 (pid 11)", "on mn1, mn2,", "--force", "journal /root/journal.db there"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal does not say %q: %v", want, err)
		}
	}
	if m := f.read(t, "mn1"); m.User != "alice" {
		t.Errorf("the refused operator changed the marker: %+v", m)
	}
	a.Release(context.Background(), true)
	if f.read(t, "mn1") != nil || f.read(t, "mn2") != nil {
		t.Error("markers left after the run ended")
	}
	b, err := guard(f, n).Acquire(context.Background(), "prod", bob)
	if err != nil {
		t.Fatalf("after the first run ended: %v", err)
	}
	b.Release(context.Background(), true)
}

// TestStaleMarker: a marker whose heartbeat is older than Live is
// reported and taken over.
func TestStaleMarker(t *testing.T) {
	f, n := newFakeMNs(t), &notes{}
	old := guard(f, n)
	old.Now = func() time.Time { return time.Now().Add(-10 * time.Minute) }
	a, err := old.Acquire(context.Background(), "prod", alice)
	if err != nil {
		t.Fatal(err)
	}
	a.Release(context.Background(), false) // killed: the marker stays
	b, err := guard(f, n).Acquire(context.Background(), "prod", bob)
	if err != nil {
		t.Fatalf("a stale marker refused: %v", err)
	}
	defer b.Release(context.Background(), true)
	if !n.has("stale run marker on mn1: alice@jump1 (pid 11)") {
		t.Errorf("stale marker not reported: %q", n.l)
	}
	if m := f.read(t, "mn2"); m.User != "bob" {
		t.Errorf("stale marker not taken over: %+v", m)
	}
}

// TestForce: --force takes a live marker over only once the operator
// confirms; the run that lost it sees Lost at its next heartbeat.
func TestForce(t *testing.T) {
	f, n := newFakeMNs(t), &notes{}
	ga := guard(f, n)
	ga.Every = 50 * time.Millisecond
	a, err := ga.Acquire(context.Background(), "prod", alice)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release(context.Background(), true)
	g := guard(f, n)
	g.Force = true
	var asked []Found
	g.Confirm = func(_ context.Context, live []Found) (bool, error) { asked = live; return false, nil }
	_, err = g.Acquire(context.Background(), "prod", bob)
	var he *HeldError
	if !errors.As(err, &he) || !he.Forced || len(asked) != 2 || asked[0].Marker.User != "alice" {
		t.Fatalf("--force without confirmation: %v (asked about %v)", err, asked)
	}
	g.Confirm = func(context.Context, []Found) (bool, error) { return true, nil }
	b, err := g.Acquire(context.Background(), "prod", bob)
	if err != nil {
		t.Fatalf("--force, confirmed: %v", err)
	}
	if m := f.read(t, "mn1"); m.User != "bob" {
		t.Errorf("--force did not take the marker over: %+v", m)
	}
	select {
	case <-a.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("the run whose marker was taken over did not notice")
	}
	if m := f.read(t, "mn1"); m.User != "bob" {
		t.Errorf("the run that lost its marker wrote it back: %+v", m)
	}
	a.Release(context.Background(), true)
	if m := f.read(t, "mn1"); m == nil || m.User != "bob" {
		t.Errorf("the run that lost its marker removed the new holder's: %+v", m)
	}
	b.Release(context.Background(), true)
}

// TestUnreachableMN: an MN that does not answer (refused or hanging past
// the budget) is noted, and the run goes on with the other marked; the
// second operator is refused on the marker it finds.
func TestUnreachableMN(t *testing.T) {
	f, n := newFakeMNs(t), &notes{}
	f.down["mn1"] = true
	a, err := guard(f, n).Acquire(context.Background(), "prod", alice)
	if err != nil {
		t.Fatalf("an unreachable MN stopped the run: %v", err)
	}
	defer a.Release(context.Background(), true)
	if !n.has("MN mn1 did not answer") || f.read(t, "mn1") != nil || f.read(t, "mn2") == nil {
		t.Fatalf("notes %q", n.l)
	}
	f.down["mn1"], f.hang["mn2"] = false, true
	g := guard(f, n)
	g.Budget = 200 * time.Millisecond
	start := time.Now()
	if _, err := g.Acquire(context.Background(), "prod", bob); err != nil {
		t.Fatalf("mn2 hangs, mn1 has no marker: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a hanging MN took %s, past its budget", d)
	}
}

// TestRace: two hamnflows that read no marker and write at once cannot
// both win an MN.
func TestRace(t *testing.T) {
	for range 5 {
		f := newFakeMNs(t)
		var wg sync.WaitGroup
		won := make([]bool, 2)
		for i, h := range []workflow.Holder{alice, bob} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if held, err := guard(f, &notes{}).Acquire(context.Background(), "prod", h); err == nil {
					won[i] = true
					t.Cleanup(func() { held.Release(context.Background(), true) })
				}
			}()
		}
		wg.Wait()
		if won[0] && won[1] {
			t.Fatal("both operators took the markers")
		}
	}
}

// TestStoreRemovesMarkerAtEnd: through Store, a run that ended removes its
// markers; an interrupted run leaves them, and its resume (same run id)
// takes them over while they are live, where another run is refused.
func TestStoreRemovesMarkerAtEnd(t *testing.T) {
	f, n := newFakeMNs(t), &notes{}
	mem := storetest.NewMem()
	s := &Store{Store: mem, Guard: guard(f, n), Ctx: context.Background()}
	run, err := mem.CreateRun(workflow.Run{Playbook: "failover", Cluster: "prod", Status: workflow.RunRunning}, workflow.Source{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Lock("prod", alice)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetRun(run.ID); err != nil {
		t.Fatal(err)
	}
	setStatus(t, mem, run.ID, workflow.RunInterrupted)
	l.Release()
	if m := f.read(t, "mn1"); m == nil || m.RunID != run.ID {
		t.Fatalf("an interrupted run did not leave its marker: %+v", m)
	}
	other := &Store{Store: storetest.NewMem(), Guard: guard(f, n), Ctx: context.Background()}
	if _, err := other.Lock("prod", bob); err == nil {
		t.Fatal("another run took the cluster of an interrupted run at once")
	}
	resumed := alice
	resumed.RunID, resumed.PID = run.ID, 12
	l, err = s.Lock("prod", resumed)
	if err != nil {
		t.Fatalf("resume of the same run was refused its own marker: %v", err)
	}
	if m := f.read(t, "mn2"); m.PID != 12 {
		t.Errorf("resume did not take its marker over: %+v", m)
	}
	setStatus(t, mem, run.ID, workflow.RunFailed)
	l.Release()
	if f.read(t, "mn1") != nil || f.read(t, "mn2") != nil {
		t.Fatal("a run that ended left its markers")
	}
}

func setStatus(t *testing.T, s workflow.Store, id string, st workflow.RunStatus) {
	t.Helper()
	if _, err := s.Append(id, func(r *workflow.Run) { r.Status = st }); err != nil {
		t.Fatal(err)
	}
}
