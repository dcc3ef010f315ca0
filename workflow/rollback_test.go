package workflow_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/workflow"
)

// a -> b (no undo: manual) -> c, d independent, fan over the nodes after c.
const rollbackPlaybook = `name: rb
steps:
  - id: a
    action: do
    undo:
      action: revert
      with:
        say: 'undo a {{ secret "pw" }}'
  - id: b
    title: Edit the config by hand
    needs: [a]
    action: do
  - id: c
    needs: [b]
    action: do
    undo:
      action: revert
    probe:
      action: check
  - id: d
    action: do
    undo:
      action: revert
  - id: fan
    needs: [c]
    foreach:
      over: inv.groups.service_nodes
    action: do
    undo:
      action: revert
`

// ran runs the playbook to success, one step at a time, so that the order
// of the journal is the file's: a b c d fan[sn01..03].
func ran(t *testing.T) (*harness, string) {
	h := newHarness(t, rollbackPlaybook)
	h.e.Parallel = 1
	id, err := h.start(testCtx(t))
	wantRunErr(t, err, nil)
	if got := h.w.steps("do"); !slices.Equal(got, []string{"a", "b", "c", "d", "fan[sn01]", "fan[sn02]", "fan[sn03]"}) {
		t.Fatalf("ran %v", got)
	}
	return h, id
}

func TestRollback(t *testing.T) {
	h, id := ran(t)
	ctx := testCtx(t)

	// Without an operator it undoes what it can, latest first, and stops
	// at b, which has no undo.
	err := h.e.Rollback(ctx, id, workflow.RollbackOptions{})
	re := wantRunErr(t, err, workflow.ErrWaiting)
	if got := h.w.steps("revert"); !slices.Equal(got, []string{"fan[sn03]", "fan[sn02]", "fan[sn01]", "d", "c"}) {
		t.Errorf("undid %v, want the reverse of the run", got)
	}
	if !strings.Contains(re.Msg, "rollback waits for an operator at b: run `hamnflow rollback "+id+"`") {
		t.Errorf("message %q", re.Msg)
	}
	if r := h.run(id); r.Status != workflow.RunRollingBack {
		t.Errorf("run %s, want rolling-back", r.Status)
	}
	if w := find(h.events(id), "waiting", "b"); len(w) != 1 || !strings.Contains(w[0].Message, `no automatic undo for "Edit the config by hand"`) {
		t.Errorf("waiting %+v", w)
	}

	// Again with --yes: b is confirmed as undone by hand, then a.
	h.e.AssumeYes = true
	if err := h.e.Rollback(ctx, id, workflow.RollbackOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := h.w.steps("revert"); !slices.Equal(got, []string{"fan[sn03]", "fan[sn02]", "fan[sn01]", "d", "c", "a"}) {
		t.Errorf("undid %v: each once, a last", got)
	}
	u := find(h.events(id), "undone", "b")
	if len(u) != 1 || u[0].By == nil || u[0].By.Via != "--yes" || u[0].By.User != "tester" {
		t.Errorf("b undone %+v, want confirmed by tester via --yes", u)
	}
	if r := h.run(id); r.Status != workflow.RunRolledBack {
		t.Errorf("run %s, want rolled-back", r.Status)
	}
	if c, _ := h.w.last("revert", "a"); c.Args["say"] != "undo a "+secretValue {
		t.Errorf("undo a got %q", c.Args["say"])
	}
	if s := find(h.events(id), "undo-started", "a"); len(s) != 1 || s[0].Command != `revert@local say="undo a ********"` {
		t.Errorf("undo-started a %+v", s)
	}
	err = h.e.Rollback(ctx, id, workflow.RollbackOptions{})
	if err == nil || !strings.Contains(err.Error(), "already rolled back") {
		t.Errorf("a second rollback: %v", err)
	}
	if err := h.e.Resume(ctx, id, workflow.ResumeOptions{}); err == nil || !strings.Contains(err.Error(), "rolled-back") {
		t.Errorf("resume after rollback: %v", err)
	}
}

func TestRollbackManualAnswers(t *testing.T) {
	tests := []struct {
		answer  workflow.Choice
		wantErr error
		undone  []string
	}{
		{workflow.Yes, nil, []string{"fan[sn03]", "fan[sn02]", "fan[sn01]", "d", "c", "a"}},
		{workflow.Abort, workflow.ErrInterrupted, []string{"fan[sn03]", "fan[sn02]", "fan[sn01]", "d", "c"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.answer), func(t *testing.T) {
			h, id := ran(t)
			p := &scripted{answers: map[string][]workflow.Choice{"b": {tt.answer}}}
			h.e.Prompter = p
			wantRunErr(t, h.e.Rollback(testCtx(t), id, workflow.RollbackOptions{}), tt.wantErr)
			if got := h.w.steps("revert"); !slices.Equal(got, tt.undone) {
				t.Errorf("undid %v, want %v", got, tt.undone)
			}
			if len(p.asked) != 1 || !slices.Equal(p.asked[0].Choices, []workflow.Choice{workflow.Yes, workflow.Abort}) || !strings.Contains(p.asked[0].Reason, "no automatic undo") {
				t.Errorf("asked %+v", p.asked)
			}
		})
	}
}

func TestRollbackTo(t *testing.T) {
	tests := []struct {
		to     string
		undone []string
		manual bool // b is in the range
	}{
		{"a", []string{"fan[sn03]", "fan[sn02]", "fan[sn01]", "d", "c"}, true},
		{"c", []string{"fan[sn03]", "fan[sn02]", "fan[sn01]", "d"}, false},
		{"d", []string{"fan[sn03]", "fan[sn02]", "fan[sn01]"}, false},
		{"fan", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.to, func(t *testing.T) {
			h, id := ran(t)
			p := &scripted{answers: map[string][]workflow.Choice{"b": {workflow.Yes}}}
			h.e.Prompter = p
			if err := h.e.Rollback(testCtx(t), id, workflow.RollbackOptions{To: tt.to}); err != nil {
				t.Fatal(err)
			}
			if got := h.w.steps("revert"); !slices.Equal(got, tt.undone) {
				t.Errorf("undid %v, want %v", got, tt.undone)
			}
			if asked := len(p.asked) > 0; asked != tt.manual {
				t.Errorf("asked about b: %v, want %v", asked, tt.manual)
			}
		})
	}
	t.Run("unknown or unfinished step", func(t *testing.T) {
		h, id := ran(t)
		for to, want := range map[string]string{"zz": `no step "zz"`} {
			if err := h.e.Rollback(testCtx(t), id, workflow.RollbackOptions{To: to}); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("rollback to %s: %v, want %q", to, err, want)
			}
		}
		h2 := newHarness(t, rollbackPlaybook)
		h2.w.on("do", "c", func(context.Context, workflow.Call) (workflow.Outcome, error) { return exitErr(1, "") })
		id2, err := h2.start(testCtx(t))
		wantRunErr(t, err, workflow.ErrStepFailed)
		if err := h2.e.Rollback(testCtx(t), id2, workflow.RollbackOptions{To: "c"}); err == nil || !strings.Contains(err.Error(), "did not succeed") {
			t.Errorf("rollback to a failed step: %v", err)
		}
	})
}

// TestRollbackResumable interrupts a rollback during an undo, then runs it
// again: what was undone stays undone, the interrupted undo is decided by
// the step's probe.
func TestRollbackResumable(t *testing.T) {
	tests := []struct {
		name       string
		probe      hook
		opts       workflow.RollbackOptions
		wantErr    error
		wantUndo   bool // c's undo runs again
		wantReason string
	}{
		{name: "probe finds the effect: undo again", probe: func(context.Context, workflow.Call) (workflow.Outcome, error) { return ok(nil) },
			wantUndo: true, wantReason: "probe: its effect is in place"},
		{name: "probe finds it gone", probe: func(context.Context, workflow.Call) (workflow.Outcome, error) { return exitErr(1, "") },
			wantReason: "nothing to undo"},
		{name: "probe cannot tell: wait", probe: func(context.Context, workflow.Call) (workflow.Outcome, error) {
			return workflow.Outcome{}, context.Canceled
		}, wantErr: workflow.ErrWaiting, wantReason: "--assume-done c"},
		{name: "probe cannot tell, --redo", probe: func(context.Context, workflow.Call) (workflow.Outcome, error) {
			return workflow.Outcome{}, context.Canceled
		}, opts: workflow.RollbackOptions{Redo: []string{"c"}}, wantUndo: true, wantReason: "--redo"},
		{name: "probe cannot tell, --assume-done", probe: func(context.Context, workflow.Call) (workflow.Outcome, error) {
			return workflow.Outcome{}, context.Canceled
		}, opts: workflow.RollbackOptions{AssumeDone: []string{"c"}}, wantReason: "--assume-done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, id := ran(t)
			h.e.AssumeYes = true // b's manual undo
			ctx, cancel := context.WithCancel(testCtx(t))
			h.w.on("revert", "c", func(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
				cancel()
				<-ctx.Done()
				return workflow.Outcome{}, ctx.Err()
			})
			wantRunErr(t, h.e.Rollback(ctx, id, workflow.RollbackOptions{}), workflow.ErrInterrupted)
			if r := h.run(id); r.Status != workflow.RunRollingBack {
				t.Errorf("run %s, want rolling-back", r.Status)
			}
			if got := h.w.steps("revert"); !slices.Equal(got, []string{"fan[sn03]", "fan[sn02]", "fan[sn01]", "d", "c"}) {
				t.Fatalf("undid %v before the interrupt", got)
			}
			h.w.on("revert", "c", nil)
			h.w.on("check", "c", tt.probe)

			err := h.e.Rollback(testCtx(t), id, tt.opts)
			re := wantRunErr(t, err, tt.wantErr)
			want := []string{"fan[sn03]", "fan[sn02]", "fan[sn01]", "d", "c"}
			if tt.wantUndo {
				want = append(want, "c")
			}
			if tt.wantErr == nil {
				want = append(want, "a")
			}
			if got := h.w.steps("revert"); !slices.Equal(got, want) {
				t.Errorf("undid %v, want %v", got, want)
			}
			var why string
			if re != nil {
				why = re.Msg
			} else if rec := find(h.events(id), "reconciled", "c"); len(rec) == 1 {
				why = rec[0].Message
			}
			if !strings.Contains(why, tt.wantReason) {
				t.Errorf("reason %q, want %q", why, tt.wantReason)
			}
			if re != nil && !strings.Contains(re.Msg, "hamnflow rollback "+id+" --assume-done c") {
				t.Errorf("message %q, want the rollback command to decide", re.Msg)
			}
			if tt.wantErr == nil {
				if r := h.run(id); r.Status != workflow.RunRolledBack {
					t.Errorf("run %s, want rolled-back", r.Status)
				}
			}
		})
	}
}

func TestRollbackFailedUndo(t *testing.T) {
	h, id := ran(t)
	h.w.on("revert", "d", func(context.Context, workflow.Call) (workflow.Outcome, error) { return exitErr(1, "busy") })
	ctx := testCtx(t)
	re := wantRunErr(t, h.e.Rollback(ctx, id, workflow.RollbackOptions{}), workflow.ErrStepFailed)
	if !strings.Contains(re.Msg, "undo of d failed") {
		t.Errorf("message %q", re.Msg)
	}
	if r := h.run(id); r.Status != workflow.RunRollbackFailed {
		t.Errorf("run %s, want rollback-failed", r.Status)
	}
	if got := h.w.steps("revert"); !slices.Equal(got, []string{"fan[sn03]", "fan[sn02]", "fan[sn01]", "d"}) {
		t.Errorf("undid %v: it must stop at the failed undo", got)
	}
	// Fixed: the rollback continues with d's undo again.
	h.w.on("revert", "d", nil)
	h.e.AssumeYes = true
	if err := h.e.Rollback(ctx, id, workflow.RollbackOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := h.w.steps("revert"); !slices.Equal(got, []string{"fan[sn03]", "fan[sn02]", "fan[sn01]", "d", "d", "c", "a"}) {
		t.Errorf("undid %v", got)
	}
}

func TestRollbackFailedRun(t *testing.T) {
	// Steps that failed with a status never took effect: nothing to undo.
	h := newHarness(t, rollbackPlaybook)
	h.e.Parallel = 1
	h.w.on("do", "c", func(context.Context, workflow.Call) (workflow.Outcome, error) { return exitErr(1, "") })
	ctx := testCtx(t)
	id, err := h.start(ctx)
	wantRunErr(t, err, workflow.ErrStepFailed)
	h.e.AssumeYes = true
	if err := h.e.Rollback(ctx, id, workflow.RollbackOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := h.w.steps("revert"); !slices.Equal(got, []string{"d", "a"}) {
		t.Errorf("undid %v, want d and a (c failed, b by hand)", got)
	}
	if len(find(h.events(id), "undone", "b")) != 1 {
		t.Error("b was not confirmed undone")
	}
}

// TestRollbackPassesOverReadOnly: a read-only step (a check) has nothing
// to undo; rollback records that and asks nobody, while a changing step
// without undo still needs an operator.
func TestRollbackPassesOverReadOnly(t *testing.T) {
	h := newHarness(t, `name: ro
steps:
  - id: look
    action: do
    readonly: true
  - id: change
    needs: [look]
    action: do
    undo:
      action: revert
`)
	h.e.Parallel = 1
	ctx := testCtx(t)
	id, err := h.start(ctx)
	wantRunErr(t, err, nil)
	if err := h.e.Rollback(ctx, id, workflow.RollbackOptions{}); err != nil {
		t.Fatalf("rollback asked for an operator: %v", err)
	}
	if got := h.w.steps("revert"); !slices.Equal(got, []string{"change"}) {
		t.Errorf("undid %v, want only change", got)
	}
	u := find(h.events(id), "undone", "look")
	if len(u) != 1 || u[0].By != nil || !strings.Contains(u[0].Message, "read-only") {
		t.Errorf("look undone %+v, want a read-only note and no one asked", u)
	}
	if r := h.run(id); r.Status != workflow.RunRolledBack {
		t.Errorf("run %s, want rolled-back", r.Status)
	}
}

// TestRollbackToThenRest: a partial rollback leaves the steps up to STEP in
// place; a later full rollback unwinds them, and only them.
func TestRollbackToThenRest(t *testing.T) {
	h, id := ran(t)
	h.e.AssumeYes = true
	ctx := testCtx(t)
	if err := h.e.Rollback(ctx, id, workflow.RollbackOptions{To: "c"}); err != nil {
		t.Fatal(err)
	}
	if r := h.run(id); !strings.Contains(r.Message, "rolled back in part") {
		t.Errorf("message %q does not say the rollback was partial", r.Message)
	}
	if err := h.e.Rollback(ctx, id, workflow.RollbackOptions{}); err != nil {
		t.Fatalf("the rest: %v", err)
	}
	if got := h.w.steps("revert"); !slices.Equal(got, []string{"fan[sn03]", "fan[sn02]", "fan[sn01]", "d", "c", "a"}) {
		t.Errorf("undid %v: each once", got)
	}
	if r := h.run(id); r.Status != workflow.RunRolledBack || r.Message != "rolled back" {
		t.Errorf("run %s %q", r.Status, r.Message)
	}
	if err := h.e.Rollback(ctx, id, workflow.RollbackOptions{}); err == nil || !strings.Contains(err.Error(), "already rolled back") {
		t.Errorf("a third rollback: %v", err)
	}
}
