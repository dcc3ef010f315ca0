package workflow_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/workflow"
)

// crashed journals a run as a killed process leaves it: the events given
// and no end.
func (h *harness) crashed(evs ...workflow.Event) string {
	h.t.Helper()
	r, err := h.j.CreateRun(workflow.Run{Playbook: h.pb.Name, Cluster: "lab", Status: workflow.RunRunning,
		By: tester, PID: 999999, Steps: len(h.pb.Steps)}, workflow.Source{PlaybookText: string(h.pb.Text)})
	if err != nil {
		h.t.Fatal(err)
	}
	evs = append([]workflow.Event{{Type: workflow.EvRunStarted}}, evs...)
	done := func(run *workflow.Run) { // as the engine keeps it
		for _, ev := range evs {
			if ev.Type == workflow.EvStepSucceeded && !strings.Contains(ev.Step, "[") {
				run.Done++
			}
		}
	}
	if _, err := h.j.Append(r.ID, done, evs...); err != nil {
		h.t.Fatal(err)
	}
	return r.ID
}

func exitCode(n int) *int { return &n }

const inDoubtPlaybook = `name: doubt
steps:
  - id: a
    action: do
  - id: b
    needs: [a]
    action: do
    with:
      out: v=from-action%s
  - id: c
    needs: [b]
    action: do
`

func TestResumeInDoubt(t *testing.T) {
	probeInPlace := func(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
		return ok(map[string]string{"v": "from-probe"})
	}
	probeNotInPlace := func(ctx context.Context, c workflow.Call) (workflow.Outcome, error) { return exitErr(1, "") }
	probeCannotTell := func(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
		return workflow.Outcome{}, context.DeadlineExceeded // never reported a status
	}
	const withProbe = "\n    probe:\n      action: check"
	const idempotent = "\n    idempotent: true"
	tests := []struct {
		name      string
		extra     string // YAML added to step b
		probe     hook
		opts      workflow.ResumeOptions
		yes       bool
		answers   []workflow.Choice
		wantErr   error
		wantRerun bool     // b runs again
		wantDec   string   // the reconciled decision, "" for none
		wantVia   string   // who decided, "" for the engine
		wantMsg   []string // in the run error, or in the reconciled message
	}{
		{name: "probe says in place", extra: withProbe, probe: probeInPlace, wantDec: "done", wantMsg: []string{"probe: its effect is in place"}},
		{name: "probe says not in place", extra: withProbe, probe: probeNotInPlace, wantRerun: true, wantDec: "redo"},
		{name: "probe cannot tell, idempotent", extra: withProbe + idempotent, probe: probeCannotTell, wantRerun: true, wantDec: "redo"},
		{name: "probe cannot tell, no operator", extra: withProbe, probe: probeCannotTell, wantErr: workflow.ErrWaiting,
			wantMsg: []string{"its probe could not tell", "--assume-done b", "--redo b"}},
		{name: "idempotent without probe", extra: idempotent, wantRerun: true, wantDec: "redo", wantMsg: []string{"idempotent"}},
		{name: "no operator", wantErr: workflow.ErrWaiting,
			wantMsg: []string{"may have half-run", "hamnflow resume ID --assume-done b", "hamnflow resume ID --redo b"}},
		{name: "--yes does not decide", yes: true, wantErr: workflow.ErrWaiting, wantMsg: []string{"--assume-done b"}},
		{name: "--assume-done", opts: workflow.ResumeOptions{AssumeDone: []string{"b"}}, wantDec: "done", wantVia: "--assume-done"},
		{name: "--redo", opts: workflow.ResumeOptions{Redo: []string{"b"}}, wantRerun: true, wantDec: "redo", wantVia: "--redo"},
		{name: "--assume-done beats the probe", extra: withProbe, probe: probeNotInPlace, opts: workflow.ResumeOptions{AssumeDone: []string{"b"}}, wantDec: "done", wantVia: "--assume-done"},
		{name: "operator says done", answers: []workflow.Choice{workflow.AssumeDone}, wantDec: "done", wantVia: "prompt"},
		{name: "operator says redo", answers: []workflow.Choice{workflow.Redo}, wantRerun: true, wantDec: "redo", wantVia: "prompt"},
		{name: "operator aborts", answers: []workflow.Choice{workflow.Abort}, wantErr: workflow.ErrInterrupted},
	}
	for _, how := range []string{"killed", "cancelled", "cut off"} {
		for _, tt := range tests {
			t.Run(how+"/"+tt.name, func(t *testing.T) {
				h := newHarness(t, strings.Replace(inDoubtPlaybook, "%s", tt.extra, 1))
				ctx := testCtx(t)
				var id string
				switch how {
				case "killed": // the process died between started and its end
					id = h.crashed(
						workflow.Event{Type: workflow.EvStepStarted, Step: "a", Attempt: 1},
						workflow.Event{Type: workflow.EvStepSucceeded, Step: "a", Attempt: 1, Exit: exitCode(0)},
						workflow.Event{Type: workflow.EvStepStarted, Step: "b", Attempt: 1})
				case "cancelled": // Ctrl-C while b ran
					cctx, cancel := context.WithCancel(ctx)
					h.w.on("do", "b", func(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
						cancel()
						<-ctx.Done()
						return workflow.Outcome{}, ctx.Err()
					})
					var err error
					id, err = h.start(cctx)
					wantRunErr(t, err, workflow.ErrInterrupted)
					h.w.on("do", "b", nil)
				case "cut off": // the connection dropped before a status came back
					h.w.on("do", "b", func(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
						return workflow.Outcome{}, errors.New("ssh: connection lost")
					})
					var err error
					id, err = h.start(ctx)
					wantRunErr(t, err, workflow.ErrStepFailed)
					h.w.on("do", "b", nil)
				}
				aRuns, bRuns := h.w.count("do", "a"), h.w.count("do", "b")
				if tt.probe != nil {
					h.w.on("check", "b", tt.probe)
				}
				h.e.AssumeYes = tt.yes
				p := &scripted{answers: map[string][]workflow.Choice{"b": tt.answers}}
				h.e.Prompter = p

				err := h.e.Resume(ctx, id, tt.opts)
				re := wantRunErr(t, err, tt.wantErr)
				evs := h.events(id)

				if n := h.w.count("do", "a"); n != aRuns {
					t.Errorf("a (succeeded) ran again: %d calls, had %d", n, aRuns)
				}
				rerun := h.w.count("do", "b") > bRuns
				if rerun != tt.wantRerun {
					t.Errorf("b ran again: %v, want %v", rerun, tt.wantRerun)
				}
				if len(find(evs, "in-doubt", "b")) != 1 {
					t.Errorf("no in-doubt event for b: %v", trace(evs))
				}
				rec := find(evs, "reconciled", "b")
				switch {
				case tt.wantDec == "" && len(rec) > 0:
					t.Errorf("reconciled %+v, want none", rec)
				case tt.wantDec != "" && (len(rec) != 1 || rec[0].Decision != tt.wantDec):
					t.Errorf("reconciled %+v, want decision %s", rec, tt.wantDec)
				case tt.wantDec != "" && tt.wantVia == "" && rec[0].By != nil:
					t.Errorf("decided by %+v, want the engine", rec[0].By)
				case tt.wantVia != "" && (rec[0].By == nil || rec[0].By.Via != tt.wantVia || rec[0].By.User != "tester"):
					t.Errorf("decided by %+v, want tester via %s", rec[0].By, tt.wantVia)
				}
				if tt.answers != nil && !slices.Equal(p.steps(), []string{"b"}) {
					t.Errorf("asked about %v, want b once", p.steps())
				}
				var text string
				if re != nil {
					text = re.Msg
				} else if len(rec) > 0 {
					text = rec[0].Message
				}
				for _, m := range tt.wantMsg {
					if !strings.Contains(text, strings.ReplaceAll(m, "ID", id)) {
						t.Errorf("message %q, want %q", text, strings.ReplaceAll(m, "ID", id))
					}
				}
				if tt.wantErr == nil {
					if h.w.count("do", "c") != 1 {
						t.Error("c did not run after b was decided")
					}
					if r := h.run(id); r.Status != workflow.RunSucceeded || r.Done != 3 {
						t.Errorf("run %s done %d, want succeeded 3", r.Status, r.Done)
					}
					checkNeedsOrder(t, h.pb, evs)
				} else if h.w.count("do", "c") != 0 {
					t.Error("c ran while b is undecided")
				}
			})
		}
	}
}

func TestResumeProbeOutputs(t *testing.T) {
	h := newHarness(t, `name: outs
steps:
  - id: b
    action: do
    with:
      out: v=from-action
    probe:
      action: check
  - id: c
    needs: [b]
    action: do
    with:
      say: "{{ .steps.b.out.v }}"
`)
	h.w.on("check", "b", func(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
		return ok(map[string]string{"v": "from-probe"})
	})
	id := h.crashed(workflow.Event{Type: workflow.EvStepStarted, Step: "b", Attempt: 1})
	if err := h.e.Resume(testCtx(t), id, workflow.ResumeOptions{}); err != nil {
		t.Fatal(err)
	}
	if c, _ := h.w.last("do", "c"); c.Args["say"] != "from-probe" {
		t.Errorf("c got %q, want the probe's output", c.Args["say"])
	}
}

// TestResumeWaitingThenDecided parks an in-doubt step, keeps it parked on
// a second resume without a decision, then decides it.
func TestResumeWaitingThenDecided(t *testing.T) {
	for _, end := range []workflow.Event{
		{Type: workflow.EvInterrupted, Step: "b"},
		{Type: workflow.EvStepFailed, Step: "b", Message: "connection lost"}, // no exit status
		{Type: workflow.EvNote, Message: "nothing: killed"},
	} {
		t.Run(string(end.Type), func(t *testing.T) {
			h := newHarness(t, strings.Replace(inDoubtPlaybook, "%s", "", 1))
			id := h.crashed(workflow.Event{Type: workflow.EvStepStarted, Step: "a", Attempt: 1},
				workflow.Event{Type: workflow.EvStepSucceeded, Step: "a", Attempt: 1},
				workflow.Event{Type: workflow.EvStepStarted, Step: "b", Attempt: 1}, end)
			ctx := testCtx(t)
			for i := range 2 {
				wantRunErr(t, h.e.Resume(ctx, id, workflow.ResumeOptions{}), workflow.ErrWaiting)
				if r := h.run(id); r.Status != workflow.RunWaiting || !strings.Contains(r.Message, "--assume-done b") {
					t.Errorf("resume %d: run %s %q, want waiting with the commands to decide", i+1, r.Status, r.Message)
				}
				if w := find(h.events(id), "waiting", "b"); len(w) != i+1 || !strings.Contains(w[i].Message, "hamnflow resume "+id+" --redo b") {
					t.Errorf("resume %d: waiting events %+v", i+1, w)
				}
				if n := len(h.w.steps("do")); n != 0 {
					t.Fatalf("resume %d ran %v without a decision", i+1, h.w.steps("do"))
				}
			}
			if err := h.e.Resume(ctx, id, workflow.ResumeOptions{Redo: []string{"b"}}); err != nil {
				t.Fatal(err)
			}
			if got := h.w.steps("do"); !slices.Equal(got, []string{"b", "c"}) {
				t.Errorf("calls %v, want b and c", got)
			}
		})
	}
}

func TestResumeFailedStep(t *testing.T) {
	// A step that failed with an exit status is not in doubt: resume runs
	// it again without asking.
	h := newHarness(t, strings.Replace(inDoubtPlaybook, "%s", "", 1))
	h.w.on("do", "b", func(context.Context, workflow.Call) (workflow.Outcome, error) { return exitErr(1, "no") })
	ctx := testCtx(t)
	id, err := h.start(ctx)
	wantRunErr(t, err, workflow.ErrStepFailed)
	h.w.on("do", "b", nil)
	if err := h.e.Resume(ctx, id, workflow.ResumeOptions{}); err != nil {
		t.Fatal(err)
	}
	evs := h.events(id)
	if len(find(evs, "in-doubt", "b")) != 0 {
		t.Error("a failure with an exit status was treated as in doubt")
	}
	if h.w.count("do", "a") != 1 || h.w.count("do", "b") != 2 || h.w.count("do", "c") != 1 {
		t.Errorf("calls %v", h.w.steps("do"))
	}
}

func TestResumeRefuses(t *testing.T) {
	h := newHarness(t, strings.Replace(inDoubtPlaybook, "%s", "", 1))
	ctx := testCtx(t)
	id, err := h.start(ctx)
	wantRunErr(t, err, nil)
	tests := []struct {
		name string
		id   string
		opts workflow.ResumeOptions
		want string
	}{
		{"succeeded run", id, workflow.ResumeOptions{}, "already succeeded"},
		{"unknown run", "20990101-000000-dead", workflow.ResumeOptions{}, "no run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := h.e.Resume(ctx, tt.id, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("resume: %v, want %q", err, tt.want)
			}
		})
	}
	t.Run("unknown step", func(t *testing.T) {
		id := h.crashed(workflow.Event{Type: workflow.EvStepStarted, Step: "a", Attempt: 1})
		err := h.e.Resume(ctx, id, workflow.ResumeOptions{AssumeDone: []string{"zz"}})
		if err == nil || !strings.Contains(err.Error(), `no step "zz"`) {
			t.Errorf("resume: %v", err)
		}
	})
	if n := len(h.w.steps("do")); n != 3 {
		t.Errorf("%d calls, want only the first run's 3", n)
	}
}

func TestResumeInDoubtChild(t *testing.T) {
	h := newHarness(t, `name: child
steps:
  - id: deploy
    foreach:
      over: inv.groups.service_nodes
    action: do
    probe:
      action: check
`)
	h.w.on("check", "deploy[sn01]", func(context.Context, workflow.Call) (workflow.Outcome, error) { return ok(nil) })
	h.w.on("check", "deploy[sn02]", func(context.Context, workflow.Call) (workflow.Outcome, error) { return exitErr(1, "") })
	items := []map[string]string{{"name": "sn01"}, {"name": "sn02"}, {"name": "sn03"}}
	id := h.crashed(
		workflow.Event{Type: workflow.EvFanOut, Step: "deploy", Items: items},
		workflow.Event{Type: workflow.EvStepStarted, Step: "deploy[sn01]", Attempt: 1},
		workflow.Event{Type: workflow.EvStepStarted, Step: "deploy[sn02]", Attempt: 1},
		workflow.Event{Type: workflow.EvStepStarted, Step: "deploy[sn03]", Attempt: 1},
		workflow.Event{Type: workflow.EvStepSucceeded, Step: "deploy[sn03]", Attempt: 1})
	if err := h.e.Resume(testCtx(t), id, workflow.ResumeOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := h.w.steps("do"); !slices.Equal(got, []string{"deploy[sn02]"}) {
		t.Errorf("ran %v, want only deploy[sn02] (sn01's probe found it done, sn03 succeeded)", got)
	}
	if got := h.w.steps("check"); len(got) != 2 {
		t.Errorf("probes %v, want sn01 and sn02", got)
	}
}
