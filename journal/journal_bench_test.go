package journal

import (
	"testing"

	"github.com/hamnflow/hamnflow/workflow"
)

// BenchmarkAppend appends one event per transaction, as the engine does
// (twice per step: started, then succeeded or failed).
func BenchmarkAppend(b *testing.B) {
	j := newJournal(b)
	r := mustCreate(b, j, workflow.Run{})
	ev := workflow.Event{Type: workflow.EvStepStarted, Step: "stop-services", Host: "mn1", Command: "systemctl stop xcatd"}
	for b.Loop() {
		if _, err := j.Append(r.ID, nil, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendUpdate appends an event and updates the run summary.
func BenchmarkAppendUpdate(b *testing.B) {
	j := newJournal(b)
	r := mustCreate(b, j, workflow.Run{Steps: 1 << 30})
	exit := 0
	ev := workflow.Event{Type: workflow.EvStepSucceeded, Step: "stop-services", Host: "mn1", Exit: &exit, Stdout: "ok\n"}
	for b.Loop() {
		if _, err := j.Append(r.ID, func(r *workflow.Run) { r.Done++ }, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRuns10k lists all runs of a journal holding 10,000 runs (each with
// a 4 KiB source and 20 events).
func BenchmarkRuns10k(b *testing.B) {
	j := newJournal(b)
	bulkRuns(b, j, 10000, 4096, 20)
	for b.Loop() {
		rs, err := j.Runs(workflow.Filter{})
		if err != nil || len(rs) != 10000 {
			b.Fatal(len(rs), err)
		}
	}
}

// BenchmarkRuns10kLimit20 lists the newest 20 of 10,000 runs, as a history
// command would by default.
func BenchmarkRuns10kLimit20(b *testing.B) {
	j := newJournal(b)
	bulkRuns(b, j, 10000, 4096, 20)
	for b.Loop() {
		if rs, err := j.Runs(workflow.Filter{Limit: 20}); err != nil || len(rs) != 20 {
			b.Fatal(len(rs), err)
		}
	}
}

// BenchmarkEvents1000 reads the log of a run with 1,000 events.
func BenchmarkEvents1000(b *testing.B) {
	j := newJournal(b)
	id := bulkRuns(b, j, 1, 4096, 1000)[0]
	for b.Loop() {
		if evs, err := j.Events(id); err != nil || len(evs) != 1000 {
			b.Fatal(len(evs), err)
		}
	}
}

// BenchmarkRun reads one run summary: mostly the cost of opening the file for
// a transaction.
func BenchmarkRun(b *testing.B) {
	j := newJournal(b)
	id := bulkRuns(b, j, 1, 4096, 1)[0]
	for b.Loop() {
		if _, err := j.Run(id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppend10k appends to a run in a journal holding 10,000 runs: the
// cost of opening a big journal for writing.
func BenchmarkAppend10k(b *testing.B) {
	j := newJournal(b)
	bulkRuns(b, j, 10000, 4096, 20)
	r := mustCreate(b, j, workflow.Run{})
	ev := workflow.Event{Type: workflow.EvStepStarted, Step: "stop-services", Host: "mn1", Command: "systemctl stop xcatd"}
	for b.Loop() {
		if _, err := j.Append(r.ID, nil, ev); err != nil {
			b.Fatal(err)
		}
	}
}
