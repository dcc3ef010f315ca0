package workflow_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/workflow"
	"github.com/hamnflow/hamnflow/workflow/storetest"
)

// chain is a playbook of n steps, each needing the one before; every
// tenth step reads the output of the one before it.
func chain(n int) string {
	var b strings.Builder
	b.WriteString("name: chain\nsteps:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - id: s%d\n    action: do\n", i)
		if i > 1 {
			fmt.Fprintf(&b, "    needs: [s%d]\n", i-1)
		}
		if i > 1 && i%10 == 0 {
			fmt.Fprintf(&b, "    with: {say: '{{ .steps.s%d.out.k }}'}\n", i-1)
		} else {
			b.WriteString("    with: {out: \"k=v\"}\n")
		}
	}
	return b.String()
}

// mallocs is the number of heap allocations fn makes.
func mallocs(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.Mallocs - a.Mallocs
}

// TestCostLinear (issue 16, engine): parsing, validating and running a
// chain cost the same per step at 2,000 steps as at 200, counted in heap
// allocations (which, unlike time, do not depend on the machine's load):
// nothing the engine does per step may grow with the number of steps.
// (Before: each step built the template data of every step. The line
// index that scanned every key of the file for each step allocated
// nothing, so it shows in time only: bench/chain.sh, BenchmarkValidate.)
func TestCostLinear(t *testing.T) {
	perStep := func(n int) (load, run float64) {
		text := chain(n)
		var h *harness
		l := mallocs(func() { h = newHarness(t, text) })
		r := mallocs(func() {
			if _, err := h.start(testCtx(t)); err != nil {
				t.Fatal(err)
			}
		})
		return float64(l) / float64(n), float64(r) / float64(n)
	}
	load1, run1 := perStep(200)
	load2, run2 := perStep(2000)
	t.Logf("allocations per step: load+validate %.0f at 200 steps, %.0f at 2000; run %.0f and %.0f", load1, load2, run1, run2)
	if load2 > 1.5*load1 {
		t.Errorf("loading and validating cost %.0f allocations per step at 2000 steps, %.0f at 200: not linear", load2, load1)
	}
	if run2 > 1.5*run1 {
		t.Errorf("running cost %.0f allocations per step at 2000 steps, %.0f at 200: not linear", run2, run1)
	}
}

// TestOneCommitPerStep (issue 16, engine): in a chain, a step's end goes
// to the journal with the next step's start, one commit (one fsync) per
// step, plus the run's start and end.
func TestOneCommitPerStep(t *testing.T) {
	const n = 50
	h := newHarness(t, chain(n))
	counter := &storetest.Faulty{Store: storetest.NewMem()}
	h.e.Store = counter
	id, err := h.start(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := counter.Appends(); got > n+2 {
		t.Errorf("a %d-step chain made %d commits, want at most %d", n, got, n+2)
	}
	evs := h.eventsOf(counter, id)
	ends := 0
	for _, ev := range evs {
		if ev.Type == workflow.EvStepSucceeded {
			ends++
		}
	}
	if ends != n {
		t.Errorf("%d step ends in the journal, want %d", ends, n)
	}
	if r, _ := counter.Run(id); r.Status != workflow.RunSucceeded || r.Done != n {
		t.Errorf("run %s with %d done, want succeeded with %d", r.Status, r.Done, n)
	}
}
