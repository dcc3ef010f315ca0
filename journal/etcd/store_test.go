package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/workflow"
	"github.com/hamnflow/hamnflow/workflow/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Conformance(t, func(t *testing.T) workflow.Store {
		return openStore(t, testConfig(t))
	})
}

// The prefix keeps journals apart, and a reopened store reads what the
// last one wrote.
func TestPrefixAndReopen(t *testing.T) {
	cfg := testConfig(t)
	a := openStore(t, cfg)
	r, err := a.CreateRun(workflow.Run{Playbook: "failover", Cluster: "c1"}, workflow.Source{PlaybookText: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Append(r.ID, nil, workflow.Event{Type: workflow.EvNote, Message: "one"}); err != nil {
		t.Fatal(err)
	}
	other := openStore(t, testConfig(t))
	if runs, _ := other.Runs(workflow.Filter{}); len(runs) != 0 {
		t.Fatalf("another prefix sees %d runs", len(runs))
	}
	b := openStore(t, cfg)
	evs, err := b.Events(r.ID)
	if err != nil || len(evs) != 1 || evs[0].Message != "one" {
		t.Fatalf("reopened: %+v, %v", evs, err)
	}
	more, err := b.Append(r.ID, nil, workflow.Event{Type: workflow.EvNote})
	if err != nil || more[0].Seq != 2 {
		t.Fatalf("append after reopen: %+v, %v", more, err)
	}
	if _, err := b.Run("nope-nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown run: %v", err)
	}
}

// A log longer than one page reads back whole and in order.
func TestEventsPages(t *testing.T) {
	s := openStore(t, testConfig(t))
	r, err := s.CreateRun(workflow.Run{Playbook: "p", Cluster: "c"}, workflow.Source{})
	if err != nil {
		t.Fatal(err)
	}
	const n = pageSize + 30
	for i := 0; i < n; i += 100 {
		var evs []workflow.Event
		for j := i; j < min(i+100, n); j++ {
			evs = append(evs, workflow.Event{Type: workflow.EvNote, Message: fmt.Sprint(j)})
		}
		if _, err := s.Append(r.ID, nil, evs...); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.Events(r.ID)
	if err != nil || len(evs) != n {
		t.Fatalf("%d events, %v; want %d", len(evs), err, n)
	}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) || ev.Message != fmt.Sprint(i) {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
}

func TestRunsPages(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 520 runs")
	}
	s := openStore(t, testConfig(t))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range pageSize + 20 {
		if _, err := s.CreateRun(workflow.Run{Playbook: "p", Cluster: "c", StartedAt: base.Add(time.Duration(i) * time.Second)}, workflow.Source{}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.Runs(workflow.Filter{})
	if err != nil || len(all) != pageSize+20 {
		t.Fatalf("%d runs, %v", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID {
			t.Fatalf("not newest first at %d: %s after %s", i, all[i].ID, all[i-1].ID)
		}
	}
	old, _ := s.Runs(workflow.Filter{Since: base, Limit: 3})
	if len(old) != 3 || old[0].ID != all[0].ID {
		t.Fatalf("limit: %v", old)
	}
}

// Another application's keys under the prefix, or another version, are
// refused.
func TestFormatChecked(t *testing.T) {
	cfg := testConfig(t)
	s := openStore(t, cfg)
	ctx := context.Background()
	if _, err := s.cli.Put(ctx, s.key("meta/version"), "99"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, cfg); err == nil || !strings.Contains(err.Error(), "format version 99") {
		t.Fatalf("other version: %v", err)
	}
	if _, err := s.cli.Put(ctx, s.key("meta/format"), "something-else"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, cfg); err == nil || !strings.Contains(err.Error(), "not a hamnflow journal") {
		t.Fatalf("other format: %v", err)
	}
}

// An etcd that does not answer fails within the dial timeout, naming the
// endpoints and what to check.
func TestUnreachable(t *testing.T) {
	u, err := freeURL() // nothing listens there any more
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Open(context.Background(), Config{Endpoints: []string{u.Host}, DialTimeout: 500 * time.Millisecond})
	if err == nil {
		t.Fatal("opened a journal where no etcd runs")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %s to fail", took)
	}
	for _, want := range []string{u.Host, "endpoint health", "no quorum of etcd answered within 500ms"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestParseURL(t *testing.T) {
	c, err := ParseURL("etcd://mn1:2379,mn2,sn1:2379/hamnflow/c1?lease_ttl=20s")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Endpoints, " ") != "mn1:2379 mn2:2379 sn1:2379" || c.Prefix != "/hamnflow/c1" || c.LeaseTTL != 20*time.Second {
		t.Fatalf("%+v", c)
	}
	c, err = ParseURL("etcds://mn1:2379/?ca=/etc/ca.pem&cert=/etc/c.pem&key=/etc/k.pem")
	if err != nil || c.Endpoints[0] != "https://mn1:2379" || c.TLS.Key != "/etc/k.pem" || c.Prefix != "" {
		t.Fatalf("%+v, %v", c, err)
	}
	if got := c.URL(); got != "etcds://mn1:2379" {
		t.Fatalf("URL() = %s", got)
	}
	for _, bad := range []string{"etcd:///x", "etcd://h/x?ttl=3", "http://h:2379", "etcd://h/?lease_ttl=soon"} {
		if _, err := ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) did not fail", bad)
		}
	}
	if _, err := (Config{Endpoints: []string{"h:1"}, TLS: TLSFiles{Cert: "c"}}).withDefaults(); err == nil {
		t.Error("a certificate without its key was taken")
	}
}

// Two stores writing one run (which the lock prevents in a real run)
// each see the other's writes: the log stays whole and in order.
func TestTwoWritersOneRun(t *testing.T) {
	cfg := testConfig(t)
	a, b := openStore(t, cfg), openStore(t, cfg)
	r, err := a.CreateRun(workflow.Run{Playbook: "p", Cluster: "c"}, workflow.Source{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	for _, s := range []*Store{a, b} {
		go func() {
			for range 20 {
				if _, err := s.Append(r.ID, func(run *workflow.Run) { run.Done++ }, workflow.Event{Type: workflow.EvNote}); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	evs, err := b.Events(r.ID)
	if err != nil || len(evs) != 40 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
	if got, _ := a.Run(r.ID); got.Done != 40 {
		t.Fatalf("done %d, want 40", got.Done)
	}
}
