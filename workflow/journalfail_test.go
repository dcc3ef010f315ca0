package workflow_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/workflow"
	"github.com/hamnflow/hamnflow/workflow/storetest"
)

// TestJournalFailureAtEveryWrite fails the store's n-th write, for every n
// a run makes: the run stops with ErrJournal and a message saying how to
// resume, no step starts without its "started" record, and once the store
// works again resume ends the run with each step run exactly once (or
// twice only if it was in doubt and idempotent).
func TestJournalFailureAtEveryWrite(t *testing.T) {
	const pb = `name: chain
steps:
  - id: a
    action: do
  - id: b
    needs: [a]
    idempotent: true
    action: do
  - id: c
    needs: [b]
    action: do
    probe: {action: check}
  - id: d
    needs: [a]
    action: do
    with: {out: "k=v"}
  - id: e
    needs: [c, d]
    action: do
    with: {say: '{{ .steps.d.out.k }}'}
`
	// A clean run tells how many writes there are.
	clean := newHarness(t, pb)
	counter := &storetest.Faulty{Store: storetest.NewMem()}
	clean.e.Store = counter
	if _, err := clean.start(testCtx(t)); err != nil {
		t.Fatalf("clean run: %v", err)
	}
	writes := counter.Appends()
	if writes < 6 { // a start per step, each with the end before it, and the run's end

		t.Fatalf("a 5-step run made only %d writes", writes)
	}
	for n := 1; n <= writes; n++ {
		t.Run(fmt.Sprintf("write%02d", n), func(t *testing.T) {
			h := newHarness(t, pb)
			mem := storetest.NewMem()
			fs := &storetest.Faulty{Store: mem, Fail: func(i int, _ []workflow.Event) bool { return i == n }}
			h.e.Store = fs
			id, err := h.start(testCtx(t))
			if err == nil && fs.Appends() < n {
				// Steps b and d run side by side: whether an end shares
				// the next start's commit depends on which ends first, so
				// a schedule may make fewer writes than the clean run.
				return
			}
			if !errors.Is(err, workflow.ErrJournal) {
				t.Fatalf("run with write %d failing: %v, want ErrJournal", n, err)
			}
			if !strings.Contains(err.Error(), "hamnflow resume "+id) || !strings.Contains(err.Error(), storetest.ErrInjected.Error()) {
				t.Errorf("message does not say what failed and how to resume: %v", err)
			}
			// Every action that ran has its "started" record.
			started := map[string]bool{}
			for _, ev := range h.eventsOf(mem, id) {
				if ev.Type == workflow.EvStepStarted {
					started[ev.Step] = true
				}
			}
			for _, s := range h.w.steps("do") {
				if !started[s] {
					t.Errorf("step %s ran without a journaled start", s)
				}
			}
			fs.SetFail(nil)
			done, redo := inDoubtNonIdempotent(h, mem, id)
			if err := h.e.Resume(testCtx(t), id, workflow.ResumeOptions{AssumeDone: done, Redo: redo}); err != nil {
				t.Fatalf("resume after the store recovered: %v", err)
			}
			for _, s := range []string{"a", "c", "e"} {
				if got := h.w.count("do", s); got != 1 {
					t.Errorf("step %s ran %d times, want once", s, got)
				}
			}
			if got := h.w.count("do", "d"); got != 1 && !(got == 2 && slices.Contains(redo, "d")) {
				t.Errorf("step d ran %d times (redo %v)", got, redo)
			}
			if got := h.w.count("do", "b"); got > 2 {
				t.Errorf("idempotent step b ran %d times", got)
			}
			if r, _ := mem.Run(id); r.Status != workflow.RunSucceeded {
				t.Errorf("resumed run is %s, want succeeded", r.Status)
			}
		})
	}
}

func (h *harness) eventsOf(s workflow.Store, id string) []workflow.Event {
	h.t.Helper()
	evs, err := s.Events(id)
	if err != nil {
		h.t.Fatal(err)
	}
	return evs
}

// inDoubtNonIdempotent decides, as an operator would, the steps that
// started with no end recorded and have neither probe nor idempotence: a
// step whose action ran is done, unless a later step needs its outputs
// (d), which only running it again gives.
func inDoubtNonIdempotent(h *harness, s workflow.Store, id string) (done, redo []string) {
	last := map[string]workflow.EventType{}
	for _, ev := range h.eventsOf(s, id) {
		if ev.Step != "" {
			last[ev.Step] = ev.Type
		}
	}
	for _, step := range []string{"a", "d", "e"} {
		if last[step] != workflow.EvStepStarted || h.w.count("do", step) != 1 {
			continue
		}
		if step == "d" {
			redo = append(redo, step)
		} else {
			done = append(done, step)
		}
	}
	return done, redo
}
