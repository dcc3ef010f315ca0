package etcd

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/workflow"
)

var (
	alice = workflow.Holder{User: "alice", Host: "mn2", PID: 4242}
	bob   = workflow.Holder{User: "bob", Host: "jump1", PID: 4343}
)

// twoOperators are two stores on one journal, as two operator hosts have.
func twoOperators(t *testing.T, cfg Config) (*Store, *Store) {
	return openStore(t, cfg), openStore(t, cfg)
}

func TestLockRefusesSecondNamingHolder(t *testing.T) {
	first, second := twoOperators(t, testConfig(t))
	l, err := first.Lock("c1", alice)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := l.SetRun("20261204-100000-0001"); err != nil {
		t.Fatal(err)
	}
	_, err = second.Lock("c1", bob)
	var le *workflow.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Lock: %v, want a *workflow.LockedError", err)
	}
	h := le.Holder
	if h.User != "alice" || h.Host != "mn2" || h.PID != 4242 || h.Since.IsZero() || h.RunID != "20261204-100000-0001" {
		t.Fatalf("holder named: %+v", h)
	}
	if le.Lease != DefaultLeaseTTL || le.Cluster != "c1" {
		t.Fatalf("LockedError: %+v", le)
	}
	for _, want := range []string{"alice@mn2 (pid 4242)", "run 20261204-100000-0001", "lapses 15s after"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}
	// A cluster name that is a prefix of another's, or holds a slash,
	// has a lock of its own.
	for _, c := range []string{"c", "c1/x", "c10"} {
		o, err := second.Lock(c, bob)
		if err != nil {
			t.Fatalf("lock of %q: %v", c, err)
		}
		o.Release()
	}
}

// setUp has the first operator lock c1 and start a run.
func setUp(t *testing.T, first *Store) (*Lock, workflow.Run) {
	t.Helper()
	wl, err := first.Lock("c1", alice)
	if err != nil {
		t.Fatal(err)
	}
	l := wl.(*Lock)
	t.Cleanup(func() { l.Release() })
	r, err := first.CreateRun(workflow.Run{Playbook: "failover", Cluster: "c1", Status: workflow.RunRunning}, workflow.Source{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetRun(r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Append(r.ID, nil, workflow.Event{Type: workflow.EvStepStarted, Step: "fence"}); err != nil {
		t.Fatal(err)
	}
	return l, r
}

// takeOver has the second operator resume the run: it takes the lock and
// writes.
func takeOver(t *testing.T, second *Store, r workflow.Run) {
	t.Helper()
	l2, err := second.Lock("c1", bob)
	if err != nil {
		t.Fatalf("second operator after the first's lease went: %v", err)
	}
	t.Cleanup(func() { l2.Release() })
	if err := l2.SetRun(r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Append(r.ID, func(run *workflow.Run) { run.Status = workflow.RunSucceeded },
		workflow.Event{Type: workflow.EvRunResumed, Message: "by bob"}); err != nil {
		t.Fatalf("second operator's append: %v", err)
	}
}

// wantLost checks that the first operator can write nothing more.
func wantLost(t *testing.T, first *Store, r workflow.Run) {
	t.Helper()
	_, err := first.Append(r.ID, nil, workflow.Event{Type: workflow.EvStepStarted, Step: "promote"})
	if !errors.Is(err, workflow.ErrLockLost) {
		t.Fatalf("append after the lease went: %v, want ErrLockLost", err)
	}
	for _, want := range []string{"lock of cluster c1", "was lost", "hamnflow resume " + r.ID, "nothing was written"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}
	if _, err := first.CreateRun(workflow.Run{Playbook: "failover", Cluster: "c1"}, workflow.Source{}); !errors.Is(err, workflow.ErrLockLost) {
		t.Fatalf("create run after the lease went: %v, want ErrLockLost", err)
	}
	evs, err := first.Events(r.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Step == "promote" {
			t.Fatalf("the first operator's write after losing the lock was stored: %+v", ev)
		}
	}
}

// The lease is revoked (as etcd does when it expires): the first
// operator's writes fail, the second takes the lock and writes, and the
// first's Release does not touch the second's lock.
func TestLeaseRevoked(t *testing.T) {
	cfg := testConfig(t)
	first, second := twoOperators(t, cfg)
	l, r := setUp(t, first)
	if _, err := second.cli.Revoke(context.Background(), l.session.Lease()); err != nil {
		t.Fatal(err)
	}
	takeOver(t, second, r)
	wantLost(t, first, r)
	if err := l.Release(); err != nil {
		t.Fatalf("release of a lost lock: %v", err)
	}
	if _, err := openStore(t, cfg).Lock("c1", alice); err == nil {
		t.Fatal("the first operator's Release freed the second's lock")
	}
}

// The lock's key goes while the first process still renews its lease and
// so thinks it holds the lock: the condition on the key, checked by etcd
// in the transaction, refuses the write.
func TestWriteConditionalOnLockKey(t *testing.T) {
	first, second := twoOperators(t, testConfig(t))
	l, r := setUp(t, first)
	if _, err := second.cli.Delete(context.Background(), l.mutex.Key()); err != nil {
		t.Fatal(err)
	}
	if l.lapsed() {
		t.Fatal("the session stopped renewing")
	}
	takeOver(t, second, r)
	wantLost(t, first, r)
	if err := l.SetRun(r.ID); !errors.Is(err, workflow.ErrLockLost) {
		t.Fatalf("SetRun after the lock went: %v", err)
	}
}

// The first operator stops renewing (as when it is paused with SIGSTOP):
// after the lease TTL etcd lets the second take the lock, and the first
// can no longer write.
func TestLeaseExpires(t *testing.T) {
	cfg := testConfig(t)
	cfg.LeaseTTL = 2 * time.Second
	first, second := twoOperators(t, cfg)
	l, r := setUp(t, first)
	_, err := second.Lock("c1", bob)
	if err == nil {
		t.Fatal("second operator took a live lock")
	}
	l.session.Orphan() // no more renewals; the lease lives on in etcd until its TTL
	start := time.Now()
	for {
		l2, err := second.Lock("c1", bob)
		if err == nil {
			l2.Release()
			break
		}
		var le *workflow.LockedError
		if !errors.As(err, &le) {
			t.Fatal(err)
		}
		if time.Since(start) > 15*time.Second {
			t.Fatalf("lock still held %s after renewals stopped (TTL %s)", time.Since(start), cfg.LeaseTTL)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if took := time.Since(start); took < time.Second {
		t.Fatalf("lock went after %s, before its TTL", took)
	}
	takeOver(t, second, r)
	wantLost(t, first, r)
}

// While the lock lives, its session renews it well past its TTL.
func TestLeaseKeptAlive(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 4s")
	}
	cfg := testConfig(t)
	cfg.LeaseTTL = 2 * time.Second
	first, second := twoOperators(t, cfg)
	_, r := setUp(t, first)
	time.Sleep(2*cfg.LeaseTTL + 500*time.Millisecond)
	if _, err := first.Append(r.ID, nil, workflow.Event{Type: workflow.EvNote}); err != nil {
		t.Fatalf("append after two TTLs with renewals: %v", err)
	}
	if _, err := second.Lock("c1", bob); err == nil {
		t.Fatal("the lock lapsed while renewed")
	}
}

// Writes to runs of clusters this store holds no lock of are not
// conditional (journal copies, tests); a run of another cluster is not
// held up by the lock.
func TestUnlockedWrites(t *testing.T) {
	first, _ := twoOperators(t, testConfig(t))
	l, _ := setUp(t, first)
	other, err := first.CreateRun(workflow.Run{Playbook: "p", Cluster: "c2"}, workflow.Source{})
	if err != nil {
		t.Fatal(err)
	}
	first.cli.Revoke(context.Background(), l.session.Lease())
	if _, err := first.Append(other.ID, nil, workflow.Event{Type: workflow.EvNote}); err != nil {
		t.Fatalf("append to another cluster's run: %v", err)
	}
}

// One of three members dies (as mn1 with the old primary): the cluster
// keeps its quorum, the lock holds, and the run's writes go on through
// the other two.
func TestMemberDies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three etcd members")
	}
	es, err := startCluster(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, e := range es[1:] {
			e.Close()
		}
	})
	// The leader goes first in the list, and is the one that dies.
	for i, e := range es {
		if e.Server.Leader() == e.Server.MemberID() {
			es[0], es[i] = es[i], es[0]
		}
	}
	var eps []string
	for _, e := range es {
		eps = append(eps, e.Clients[0].Addr().String())
	}
	cfg := Config{Endpoints: eps, Prefix: "/three/", LeaseTTL: 3 * time.Second}
	first := openStore(t, cfg)
	l, r := setUp(t, first)
	es[0].Close() // the leader, and the first endpoint
	start := time.Now()
	for i := range 5 {
		if _, err := first.Append(r.ID, nil, workflow.Event{Type: workflow.EvNote}); err != nil {
			t.Fatalf("append %d after a member died: %v", i, err)
		}
	}
	t.Logf("5 appends %s after the member died", time.Since(start))
	time.Sleep(2 * cfg.LeaseTTL) // renewals must go on through the others
	if l.lapsed() {
		t.Fatal("the lease lapsed with two of three members up")
	}
	if _, err := openStore(t, Config{Endpoints: eps[1:], Prefix: "/three/"}).Lock("c1", bob); err == nil {
		t.Fatal("a second operator took the lock while the first renewed it")
	}
	if _, err := first.Append(r.ID, nil, workflow.Event{Type: workflow.EvNote}); err != nil {
		t.Fatal(err)
	}
}
