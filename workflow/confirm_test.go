package workflow_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/workflow"
)

const confirmPlaybook = `name: confirm
steps:
  - id: a
    action: do
  - id: gate
    title: Take over the address
    needs: [a]
    confirm: true
    action: do
    with:
      say: 'takeover {{ secret "pw" }}'
  - id: c
    needs: [gate]
    action: do
`

func TestConfirmWithoutOperator(t *testing.T) {
	h := newHarness(t, confirmPlaybook)
	ctx := testCtx(t)
	id, err := h.start(ctx)
	re := wantRunErr(t, err, workflow.ErrWaiting)
	if !strings.Contains(re.Msg, "step gate waits for an operator: run `hamnflow resume "+id+"` on a terminal (or with --yes") {
		t.Errorf("message %q", re.Msg)
	}
	if h.w.count("do", "gate") != 0 || h.w.count("do", "c") != 0 {
		t.Errorf("ran %v without a confirmation", h.w.steps("do"))
	}
	if r := h.run(id); r.Status != workflow.RunWaiting {
		t.Errorf("run status %s, want waiting", r.Status)
	}
	w := find(h.events(id), "waiting", "gate")
	if len(w) != 1 || w[0].Command != `do@local say="takeover ********"` {
		t.Errorf("waiting events %+v", w)
	}

	// Unattended with --yes: it runs, and the journal says who said yes.
	h.e.AssumeYes = true
	if err := h.e.Resume(ctx, id, workflow.ResumeOptions{}); err != nil {
		t.Fatal(err)
	}
	c := find(h.events(id), "confirmed", "gate")
	if len(c) != 1 || c[0].By == nil || c[0].By.User != "tester" || c[0].By.Host != "testhost" || c[0].By.Via != "--yes" {
		t.Fatalf("confirmed events %+v, want one by tester via --yes", c)
	}
	if got := h.w.steps("do"); !slices.Equal(got, []string{"a", "gate", "c"}) {
		t.Errorf("ran %v, want a once, then gate and c", got)
	}
	sum := workflow.Summarize(h.events(id))
	for _, s := range sum {
		if s.Step == "gate" && s.ConfirmedBy != "tester@testhost on pts/0 via --yes" {
			t.Errorf("summary confirmed by %q", s.ConfirmedBy)
		}
	}
}

func TestConfirmAnswers(t *testing.T) {
	tests := []struct {
		answer    workflow.Choice
		wantErr   error
		wantRan   []string
		wantTypes []string // events of gate, after started a
		wantRun   workflow.RunStatus
	}{
		{workflow.Yes, nil, []string{"a", "gate", "c"}, []string{"confirmed gate", "started gate#1", "succeeded gate#1"}, workflow.RunSucceeded},
		{workflow.All, nil, []string{"a", "gate", "c"}, []string{"confirmed gate", "started gate#1", "succeeded gate#1"}, workflow.RunSucceeded},
		{workflow.Skip, nil, []string{"a", "c"}, []string{"declined gate", "skipped gate"}, workflow.RunSucceeded},
		{workflow.Abort, workflow.ErrInterrupted, []string{"a"}, []string{"declined gate"}, workflow.RunInterrupted},
	}
	for _, tt := range tests {
		t.Run(string(tt.answer), func(t *testing.T) {
			h := newHarness(t, confirmPlaybook)
			p := &scripted{answers: map[string][]workflow.Choice{"gate": {tt.answer}}}
			h.e.Prompter = p
			id, err := h.start(testCtx(t))
			wantRunErr(t, err, tt.wantErr)
			if got := h.w.steps("do"); !slices.Equal(got, tt.wantRan) {
				t.Errorf("ran %v, want %v", got, tt.wantRan)
			}
			var got []string
			for _, s := range trace(h.events(id)) {
				if strings.Contains(s, " gate") {
					got = append(got, s)
				}
			}
			if !slices.Equal(got, tt.wantTypes) {
				t.Errorf("gate events %v, want %v", got, tt.wantTypes)
			}
			if r := h.run(id); r.Status != tt.wantRun {
				t.Errorf("run %s, want %s", r.Status, tt.wantRun)
			}
			for _, ev := range h.events(id) {
				if (ev.Type == workflow.EvConfirmed || ev.Type == workflow.EvDeclined) && (ev.By == nil || ev.By.Via != "prompt" || ev.By.User != "tester") {
					t.Errorf("%s by %+v, want tester via prompt", ev.Type, ev.By)
				}
			}
			if len(p.asked) != 1 {
				t.Fatalf("asked %d questions, want 1", len(p.asked))
			}
			q := p.asked[0]
			if q.Step != "gate" || q.RunID != id || q.Title != "Take over the address" || q.Command != `do@local say="takeover ********"` ||
				!slices.Equal(q.Choices, []workflow.Choice{workflow.Yes, workflow.Skip, workflow.All, workflow.Abort}) ||
				!strings.Contains(q.Reason, "confirmation") || !strings.Contains(q.Details, "no automatic undo") {
				t.Errorf("question %+v", q)
			}
		})
	}
}

func TestStepMode(t *testing.T) {
	text := `name: steps
steps:
  - id: a
    action: do
  - id: b
    needs: [a]
    action: do
  - id: gate
    needs: [b]
    confirm: true
    action: do
  - id: d
    needs: [gate]
    action: do
`
	tests := []struct {
		name      string
		answers   map[string][]workflow.Choice
		wantAsked []string
		wantRan   []string
		wantErr   error
	}{
		{
			name:      "yes to each",
			answers:   map[string][]workflow.Choice{"a": {workflow.Yes}, "b": {workflow.Yes}, "gate": {workflow.Yes}, "d": {workflow.Yes}},
			wantAsked: []string{"a", "b", "gate", "d"}, wantRan: []string{"a", "b", "gate", "d"},
		},
		{
			name:      "all stops asking but confirm steps still ask",
			answers:   map[string][]workflow.Choice{"a": {workflow.All}, "gate": {workflow.Yes}},
			wantAsked: []string{"a", "gate"}, wantRan: []string{"a", "b", "gate", "d"},
		},
		{
			name:      "skip one",
			answers:   map[string][]workflow.Choice{"a": {workflow.Skip}, "b": {workflow.All}, "gate": {workflow.Skip}},
			wantAsked: []string{"a", "b", "gate"}, wantRan: []string{"b", "d"},
		},
		{
			name:      "abort",
			answers:   map[string][]workflow.Choice{"a": {workflow.Yes}, "b": {workflow.Abort}},
			wantAsked: []string{"a", "b"}, wantRan: []string{"a"}, wantErr: workflow.ErrInterrupted,
		},
		{
			name:      "nobody to ask",
			answers:   map[string][]workflow.Choice{},
			wantAsked: []string{"a"}, wantErr: workflow.ErrWaiting,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, text)
			h.e.StepMode = true
			p := &scripted{answers: tt.answers}
			h.e.Prompter = p
			_, err := h.start(testCtx(t))
			wantRunErr(t, err, tt.wantErr)
			if got := p.steps(); !slices.Equal(got, tt.wantAsked) {
				t.Errorf("asked %v, want %v", got, tt.wantAsked)
			}
			if got := h.w.steps("do"); !slices.Equal(got, tt.wantRan) {
				t.Errorf("ran %v, want %v", got, tt.wantRan)
			}
		})
	}
}

func TestConfirmFanOutOnce(t *testing.T) {
	h := newHarness(t, `name: fan
steps:
  - id: deploy
    confirm: true
    foreach:
      over: inv.groups.service_nodes
    action: need
    with:
      target: "{{ .item.name }}"
`)
	p := &scripted{answers: map[string][]workflow.Choice{"deploy": {workflow.Yes}}}
	h.e.Prompter = p
	_, err := h.start(testCtx(t))
	wantRunErr(t, err, nil)
	if len(p.asked) != 1 {
		t.Fatalf("asked %v, want one question for the whole fan-out", p.steps())
	}
	if want := `for each of 3 items of inv.groups.service_nodes, e.g. need@local target="sn01"`; p.asked[0].Command != want {
		t.Errorf("command %q, want %q", p.asked[0].Command, want)
	}
	if n := len(h.w.steps("need")); n != 3 {
		t.Errorf("%d children ran, want 3", n)
	}
}

func TestRetryFrom(t *testing.T) {
	text := `name: retry
steps:
  - id: a
    action: do
  - id: b
    needs: [a]
    action: do
  - id: c
    needs: [b]
    action: do
  - id: d
    action: do
  - id: fan
    needs: [a]
    foreach:
      over: inv.groups.service_nodes
    action: do
`
	tests := []struct {
		from  string
		again []string // steps that run a second time
	}{
		{"a", []string{"a", "b", "c", "fan[sn01]", "fan[sn02]", "fan[sn03]"}},
		{"b", []string{"b", "c"}},
		{"c", []string{"c"}},
		{"d", []string{"d"}},
		{"fan", []string{"fan[sn01]", "fan[sn02]", "fan[sn03]"}},
	}
	for _, tt := range tests {
		t.Run("from "+tt.from, func(t *testing.T) {
			h := newHarness(t, text)
			h.e.Parallel = 1
			ctx := testCtx(t)
			id, err := h.start(ctx)
			wantRunErr(t, err, nil)
			if err := h.e.Retry(ctx, id, tt.from); err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{"a", "b", "c", "d", "fan[sn01]", "fan[sn02]", "fan[sn03]"} {
				want := 1
				if slices.Contains(tt.again, s) {
					want = 2
				}
				if n := h.w.count("do", s); n != want {
					t.Errorf("%s ran %d times, want %d", s, n, want)
				}
			}
			evs := h.events(id)
			checkNeedsOrder(t, h.pb, evs)
			if r := h.run(id); r.Status != workflow.RunSucceeded || r.Done != 5 {
				t.Errorf("run %s done %d, want succeeded 5", r.Status, r.Done)
			}
			for _, ev := range find(evs, "reset", tt.from) {
				if ev.Message != "retry from "+tt.from {
					t.Errorf("reset message %q", ev.Message)
				}
			}
		})
	}
	t.Run("unknown step", func(t *testing.T) {
		h := newHarness(t, text)
		id, err := h.start(testCtx(t))
		wantRunErr(t, err, nil)
		if err := h.e.Retry(testCtx(t), id, "zz"); err == nil || !strings.Contains(err.Error(), `no step "zz"`) {
			t.Errorf("retry: %v", err)
		}
	})
}

func TestRetryAfterFailure(t *testing.T) {
	h := newHarness(t, strings.Replace(inDoubtPlaybook, "%s", "", 1))
	h.w.on("do", "c", func(context.Context, workflow.Call) (workflow.Outcome, error) { return exitErr(1, "") })
	ctx := testCtx(t)
	id, err := h.start(ctx)
	wantRunErr(t, err, workflow.ErrStepFailed)
	h.w.on("do", "c", nil)
	if err := h.e.Retry(ctx, id, "b"); err != nil {
		t.Fatal(err)
	}
	if got := h.w.steps("do"); !slices.Equal(got, []string{"a", "b", "c", "b", "c"}) {
		t.Errorf("ran %v", got)
	}
}
