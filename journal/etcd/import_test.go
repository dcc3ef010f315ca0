package etcd

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/workflow"
	"github.com/hamnflow/hamnflow/workflow/storetest"
)

// A run copied in keeps its id, summary, source, events, seqs and times,
// also when its log takes several transactions; appends to it go on from
// its last seq; a second copy is refused.
func TestImportRun(t *testing.T) {
	from := storetest.NewMem()
	r, err := from.CreateRun(workflow.Run{Playbook: "failover", Cluster: "c1", Status: workflow.RunWaiting,
		StartedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, workflow.Source{PlaybookText: "name: failover\n"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3*DefaultMaxTxnOps + 7
	for i := range n {
		if _, err := from.Append(r.ID, func(run *workflow.Run) { run.Done++ }, workflow.Event{Type: workflow.EvNote, Message: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	to := openStore(t, testConfig(t))
	if err := workflow.CopyRun(from, to, r.ID); err != nil {
		t.Fatal(err)
	}
	want, _ := from.Run(r.ID)
	got, err := to.Run(r.ID)
	if err != nil || got.UpdatedAt != want.UpdatedAt || got.StartedAt != want.StartedAt || got.Done != n || got.Status != workflow.RunWaiting {
		t.Fatalf("run %+v, %v; want %+v", got, err, want)
	}
	if src, _ := to.Source(r.ID); src.PlaybookText != "name: failover\n" {
		t.Fatalf("source %+v", src)
	}
	wantEvs, _ := from.Events(r.ID)
	evs, err := to.Events(r.ID)
	if err != nil || len(evs) != n {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	for i := range evs {
		if evs[i].Seq != wantEvs[i].Seq || !evs[i].Time.Equal(wantEvs[i].Time) || evs[i].Message != wantEvs[i].Message {
			t.Fatalf("event %d: %+v, want %+v", i, evs[i], wantEvs[i])
		}
	}
	more, err := to.Append(r.ID, nil, workflow.Event{Type: workflow.EvRunResumed})
	if err != nil || more[0].Seq != n+1 {
		t.Fatalf("append after import: %+v, %v", more, err)
	}
	err = workflow.CopyRun(from, to, r.ID)
	if err == nil || !strings.Contains(err.Error(), "exists there already") {
		t.Fatalf("second copy: %v", err)
	}
	if evs, _ := to.Events(r.ID); len(evs) != n+1 {
		t.Fatalf("the refused copy changed the log: %d events", len(evs))
	}
}
