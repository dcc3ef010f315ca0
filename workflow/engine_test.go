package workflow_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/workflow"
)

// independent is a playbook of n steps that need nothing.
func independent(n int) string {
	var b strings.Builder
	b.WriteString("name: wide\nsteps:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - id: s%d\n    action: do\n", i)
	}
	return b.String()
}

func TestRunSucceeds(t *testing.T) {
	h := newHarness(t, `name: chain
steps:
  - id: a
    action: do
    with:
      say: one
  - id: b
    needs: [a]
    action: do
  - id: c
    needs: [b]
    action: do
`)
	id, err := h.start(testCtx(t))
	wantRunErr(t, err, nil)
	evs := h.events(id)
	want := []string{"run-started", "started a#1", "succeeded a#1", "started b#1", "succeeded b#1", "started c#1", "succeeded c#1", "run-ended"}
	if got := trace(evs); !slices.Equal(got, want) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	r := h.run(id)
	if r.Status != workflow.RunSucceeded || r.Done != 3 || r.Steps != 3 || r.EndedAt.IsZero() {
		t.Errorf("run = %+v, want succeeded 3/3 with an end time", r)
	}
	if s := find(evs, "succeeded", "a"); s[0].Stdout != "one" || s[0].Exit == nil || *s[0].Exit != 0 {
		t.Errorf("succeeded a = %+v, want stdout and exit 0", s[0])
	}
}

func TestParallelBound(t *testing.T) {
	tests := []struct {
		steps, parallel, want int
	}{
		{steps: 5, parallel: 1, want: 1},
		{steps: 5, parallel: 2, want: 2},
		{steps: 6, parallel: 3, want: 3},
		{steps: 3, parallel: 8, want: 3},
		{steps: 6, parallel: 0, want: 4}, // the default
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d steps parallel %d", tt.steps, tt.parallel), func(t *testing.T) {
			h := newHarness(t, independent(tt.steps))
			h.e.Parallel = tt.parallel
			g := newGate()
			for i := range tt.steps {
				h.w.on("do", fmt.Sprintf("s%d", i), g.hook)
			}
			done := make(chan error, 1)
			go func() { _, err := h.start(testCtx(t)); done <- err }()
			g.drive(t, tt.steps, tt.want)
			wantRunErr(t, <-done, nil)
			if got := g.max.Load(); got != int32(tt.want) {
				t.Errorf("at most %d steps ran at once, want %d", got, tt.want)
			}
		})
	}
}

// TestIndependentBranchesRunTogether checks that two chains run side by
// side: each step of one branch waits until the other branch's step has
// started, which only ends if both run at once.
func TestIndependentBranchesRunTogether(t *testing.T) {
	h := newHarness(t, `name: branches
steps:
  - id: root
    action: do
  - id: left
    needs: [root]
    action: do
  - id: right
    needs: [root]
    action: do
  - id: left2
    needs: [left]
    action: do
  - id: right2
    needs: [right]
    action: do
  - id: join
    needs: [left2, right2]
    action: do
`)
	var wg sync.WaitGroup
	meet := func(n int) hook {
		wg.Add(n)
		return func(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
			wg.Done()
			met := make(chan struct{})
			go func() { wg.Wait(); close(met) }()
			select {
			case <-met:
				return ok(nil)
			case <-ctx.Done():
				return workflow.Outcome{}, ctx.Err()
			}
		}
	}
	h.w.on("do", "left", meet(2))
	h.w.on("do", "right", meet(0))
	id, err := h.start(testCtx(t))
	wantRunErr(t, err, nil)
	checkNeedsOrder(t, h.pb, h.events(id))
	if m := h.w.max.Load(); m != 2 {
		t.Errorf("max concurrency %d, want 2 (two branches)", m)
	}
}

func TestFailureStopsDependentsOnly(t *testing.T) {
	h := newHarness(t, `name: fail
steps:
  - id: bad
    action: do
    with:
      fail: "true"
      say: oops
  - id: after_bad
    needs: [bad]
    action: do
  - id: slow
    action: do
  - id: after_slow
    needs: [slow]
    action: do
  - id: join
    needs: [after_bad, after_slow]
    action: do
`)
	h.e.Parallel = 2
	failed := make(chan struct{})
	h.e.Observe = func(_ string, ev workflow.Event) {
		if ev.Type == workflow.EvStepFailed && ev.Step == "bad" {
			close(failed)
		}
	}
	// slow is still running when bad fails; it must not be cut off.
	h.w.on("do", "slow", func(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
		select {
		case <-failed:
			return ok(nil)
		case <-ctx.Done():
			return workflow.Outcome{}, ctx.Err()
		}
	})
	id, err := h.start(testCtx(t))
	re := wantRunErr(t, err, workflow.ErrStepFailed)
	if !strings.Contains(re.Msg, "step bad failed") || re.RunID != id {
		t.Errorf("run error %q, want it to name step bad and the run", err)
	}
	st := h.status(id)
	want := map[string]string{"bad": "failed", "slow": "succeeded", "after_slow": "succeeded"}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("%s is %q, want %q (all: %v)", k, st[k], v, st)
		}
	}
	for _, never := range []string{"after_bad", "join"} {
		if n := h.w.count("do", never); n != 0 {
			t.Errorf("%s ran %d times after what it needs failed", never, n)
		}
	}
	r := h.run(id)
	if r.Status != workflow.RunFailed || r.Done != 2 {
		t.Errorf("run status %s done %d, want failed 2", r.Status, r.Done)
	}
	if f := find(h.events(id), "failed", "bad"); len(f) != 1 || f[0].Exit == nil || *f[0].Exit != 1 || f[0].Stdout != "oops" {
		t.Errorf("failed event %+v, want exit 1 and the output", f)
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		retries  int
		failures int // attempts that fail before one succeeds
		wantErr  error
		want     []string
		messages []string
	}{
		{
			name: "succeeds on the third attempt", retries: 2, failures: 2,
			want: []string{"started r#1", "failed r#1", "started r#2", "failed r#2", "started r#3", "succeeded r#3"},
			messages: []string{
				"attempt 1 of 3 failed: exit status 1; trying again in 1ms",
				"attempt 2 of 3 failed: exit status 1; trying again in 2ms", // the backoff doubles
			},
		},
		{
			name: "gives up after its retries", retries: 1, failures: 5, wantErr: workflow.ErrStepFailed,
			want:     []string{"started r#1", "failed r#1", "started r#2", "failed r#2"},
			messages: []string{"attempt 1 of 2 failed", "exit status 1"},
		},
		{
			name: "no retries", retries: 0, failures: 1, wantErr: workflow.ErrStepFailed,
			want: []string{"started r#1", "failed r#1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fmt.Sprintf("name: retry\nsteps:\n  - id: r\n    action: do\n    retries: %d\n    backoff: 1ms\n", tt.retries))
			var attempts []int
			h.w.on("do", "r", func(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
				attempts = append(attempts, c.Attempt)
				if len(attempts) <= tt.failures {
					return exitErr(1, "busy")
				}
				return ok(nil)
			})
			id, err := h.start(testCtx(t))
			wantRunErr(t, err, tt.wantErr)
			evs := h.events(id)
			got := trace(evs, "started", "failed", "succeeded")
			if !slices.Equal(got, tt.want) {
				t.Errorf("events %v, want %v", got, tt.want)
			}
			for i, a := range attempts {
				if a != i+1 {
					t.Errorf("call %d had Attempt %d", i+1, a)
				}
			}
			fails := find(evs, "failed", "r")
			for i, m := range tt.messages {
				if i >= len(fails) || !strings.Contains(fails[i].Message, m) {
					t.Errorf("failure %d: message %q, want %q", i+1, fails[min(i, len(fails)-1)].Message, m)
				}
			}
			if sum := workflow.Summarize(evs); sum[0].Attempts != len(tt.want)/2 {
				t.Errorf("summary attempts %d, want %d", sum[0].Attempts, len(tt.want)/2)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	h := newHarness(t, `name: timeout
steps:
  - id: hang
    action: do
    timeout: 50ms
    retries: 1
    backoff: 1ms
  - id: free
    action: do
`)
	var deadlines []time.Duration
	h.w.on("do", "hang", func(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
		dl, ok := ctx.Deadline()
		if !ok {
			return exitErr(9, "no deadline reached the action")
		}
		deadlines = append(deadlines, time.Until(dl))
		<-ctx.Done()
		return workflow.Outcome{}, ctx.Err()
	})
	h.w.on("do", "free", func(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < time.Second {
			return exitErr(9, "a step without timeout got a short deadline")
		}
		return ok(nil)
	})
	id, err := h.start(testCtx(t))
	wantRunErr(t, err, workflow.ErrStepFailed)
	if len(deadlines) != 2 {
		t.Fatalf("%d attempts saw a deadline, want 2", len(deadlines))
	}
	for _, d := range deadlines {
		if d <= 0 || d > 50*time.Millisecond {
			t.Errorf("the action's deadline was %s away, want within the 50ms timeout", d)
		}
	}
	fails := find(h.events(id), "failed", "hang")
	if len(fails) != 2 || !strings.Contains(fails[1].Message, "timed out after 50ms (it may have partly run)") {
		t.Errorf("failures %+v, want two, the last saying it timed out", fails)
	}
	if st := h.status(id); st["free"] != "succeeded" {
		t.Errorf("free is %s, want succeeded", st["free"])
	}
}

func TestTemplates(t *testing.T) {
	h := newHarness(t, `name: tmpl
params:
  - name: mode
    default: floating
  - name: target
    default: "it's"
steps:
  - id: probe_db
    title: Probe on {{ .inv.primary.name }}
    host: "{{ .inv.primary.name }}"
    action: do
    with:
      out: port=5432,role=primary
  - id: use
    title: Use {{ .steps.probe_db.out.role }}
    needs: [probe_db]
    host: "{{ .inv.standby.name }}"
    action: do
    with:
      say: "{{ .params.mode }} {{ quote .params.target }} {{ .inv.cluster_address }}:{{ .steps.probe_db.out.port }} {{ upper .inv.vars.greeting }} run={{ .run.id }}"
  - id: only_identity
    needs: [probe_db]
    if: '{{ eq .params.mode "identity" }}'
    action: do
  - id: only_primary
    needs: [probe_db]
    when: '{{ eq .steps.probe_db.out.role "primary" }}'
    action: do
  - id: empty_when
    needs: [probe_db]
    when: '{{ if eq .steps.probe_db.out.role "standby" }}true{{ else }}false{{ end }}'
    action: do
  - id: after_skipped
    needs: [only_identity, empty_when]
    action: do
`)
	id, err := h.start(testCtx(t))
	wantRunErr(t, err, nil)
	c, _ := h.w.last("do", "use")
	if want := "floating 'it'\\''s' 198.51.100.10:5432 HELLO run=" + id; c.Args["say"] != want {
		t.Errorf("say = %q, want %q", c.Args["say"], want)
	}
	if c.Host != "mn2" {
		t.Errorf("host %q, want mn2", c.Host)
	}
	if p, _ := h.w.last("do", "probe_db"); p.Host != "mn1" {
		t.Errorf("probe_db host %q, want mn1", p.Host)
	}
	evs := h.events(id)
	if s := find(evs, "started", "use"); s[0].Message != "Use primary" || s[0].Host != "mn2" {
		t.Errorf("started use: title %q host %q", s[0].Message, s[0].Host)
	}
	st := h.status(id)
	if h.pb.Step("only_identity") != nil {
		t.Errorf("only_identity is in a floating cluster's DAG")
	}
	if after := h.pb.Step("after_skipped"); !slices.Equal(after.Needs, []string{"probe_db", "empty_when"}) {
		t.Errorf("after_skipped needs %v, want probe_db (only_identity's needs) and empty_when", after.Needs)
	}
	want := map[string]string{"empty_when": "skipped", "only_primary": "succeeded", "after_skipped": "succeeded"}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("%s is %s, want %s", k, st[k], v)
		}
	}
	for _, k := range []string{"only_identity", "empty_when"} {
		if h.w.count("do", k) != 0 {
			t.Errorf("skipped step %s ran", k)
		}
	}
	if r := h.run(id); r.Done != 5 {
		t.Errorf("done %d, want 5 (skipped steps count)", r.Done)
	}
}

// TestWhenMustBeBoolean: a condition that gives anything but true or
// false fails its step instead of running it.
func TestWhenMustBeBoolean(t *testing.T) {
	h := newHarness(t, `name: w
steps:
  - id: a
    action: do
    with: {out: "answer=no"}
  - id: b
    needs: [a]
    when: '{{ .steps.a.out.answer }}'
    action: do
`)
	id, err := h.start(testCtx(t))
	wantRunErr(t, err, workflow.ErrStepFailed)
	if h.w.count("do", "b") != 0 {
		t.Error(`a when: giving "no" ran the step`)
	}
	if f := find(h.events(id), "failed", "b"); len(f) != 1 || !strings.Contains(f[0].Message, `gives "no"; a condition must give true or false`) {
		t.Errorf("failure %+v, want it to say the condition is not true or false", f)
	}
}

func TestTemplateErrorAtRunTime(t *testing.T) {
	// An output key the earlier step did not produce is an error, never an
	// empty string.
	h := newHarness(t, `name: missing
steps:
  - id: a
    action: do
  - id: b
    needs: [a]
    action: do
    with:
      say: "{{ .steps.a.out.nothere }}"
`)
	id, err := h.start(testCtx(t))
	wantRunErr(t, err, workflow.ErrStepFailed)
	f := find(h.events(id), "failed", "b")
	if len(f) != 1 || !strings.Contains(f[0].Message, `map has no entry for key "nothere"`) {
		t.Errorf("failed b: %+v", f)
	}
	if h.w.count("do", "b") != 0 {
		t.Error("b ran with an undefined value")
	}
}

// TestSecretsNeverJournaled runs steps whose actions echo the secret in
// every field they report, and checks the journal file holds no trace of
// it.
func TestSecretsNeverJournaled(t *testing.T) {
	h := newHarness(t, `name: secret
steps:
  - id: set
    title: Set the password
    action: do
    with:
      say: 'PASSWORD {{ secret "pw" }}'
  - id: leak
    needs: [set]
    action: do
    with:
      x: '{{ secret "pw" }}'
  - id: fail
    needs: [set]
    action: do
    with:
      x: '{{ secret "pw" }}'
`)
	echo := func(fail bool) hook {
		return func(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
			v := argsOf(c)["x"]
			fmt.Fprintf(c.Output, "streaming %s\npartial %s", v, v)
			o := workflow.Outcome{Ran: true, Command: "login " + v, Stdout: "out " + v, Stderr: "err " + v,
				Outputs: map[string]string{"token": v}, Items: []map[string]string{{"name": "n", "pw": v}}}
			if fail {
				o.Exit = 1
				return o, fmt.Errorf("login with %s refused", v)
			}
			return o, nil
		}
	}
	h.w.on("do", "leak", echo(false))
	h.w.on("do", "fail", echo(true))
	var streamed bytes.Buffer
	var mu sync.Mutex
	h.e.Stream = func(_, step string) io.Writer { return lockedWriter{&mu, &streamed} }
	var observed []workflow.Event
	h.e.Observe = func(_ string, ev workflow.Event) { mu.Lock(); observed = append(observed, ev); mu.Unlock() }
	id, err := h.start(testCtx(t))
	re := wantRunErr(t, err, workflow.ErrStepFailed)

	if c, _ := h.w.last("do", "leak"); c.Args["x"] != secretValue {
		t.Errorf("the action got %q, want the real secret", c.Args["x"])
	}
	evs := h.events(id)
	for _, ev := range append(evs, observed...) {
		if s := fmt.Sprintf("%+v", ev); strings.Contains(s, secretValue) {
			t.Errorf("event %d (%s %s) holds the secret: %s", ev.Seq, ev.Type, ev.Step, s)
		}
	}
	if strings.Contains(streamed.String(), secretValue) || !strings.Contains(streamed.String(), "streaming "+workflow.Mask) {
		t.Errorf("streamed output not masked: %q", streamed.String())
	}
	if strings.Contains(re.Error(), secretValue) {
		t.Errorf("run error holds the secret: %v", re)
	}
	if s := find(evs, "started", "set"); s[0].Command != `do@local say="PASSWORD `+workflow.Mask+`"` {
		t.Errorf("journaled command %q", s[0].Command)
	}
	if s := find(evs, "succeeded", "leak"); s[0].Outputs["token"] != workflow.Mask || s[0].Stdout != "out "+workflow.Mask {
		t.Errorf("succeeded leak: outputs %v stdout %q, want masked", s[0].Outputs, s[0].Stdout)
	}
	if f := find(evs, "failed", "fail"); !strings.Contains(f[0].Message, "login with "+workflow.Mask+" refused") {
		t.Errorf("failed message %q, want the secret masked", f[0].Message)
	}
	// The file itself, with every page bbolt wrote, and the lock files.
	files, _ := filepath.Glob(filepath.Join(h.dir, "*"))
	locks, _ := filepath.Glob(filepath.Join(h.dir, "locks", "*"))
	files = append(slices.DeleteFunc(files, func(f string) bool { return strings.HasSuffix(f, "/locks") }), locks...)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(secretValue)) {
			t.Errorf("%s holds the secret value in clear", f)
		}
	}
	if len(files) == 0 {
		t.Fatal("no journal files")
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestOutputLimit(t *testing.T) {
	h := newHarness(t, "name: big\nsteps:\n  - id: big\n    action: do\n")
	h.e.OutputLimit = 100
	h.w.on("do", "big", func(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
		return workflow.Outcome{Ran: true, Stdout: "HEAD" + strings.Repeat("x", 1000) + "TAIL"}, nil
	})
	id, err := h.start(testCtx(t))
	wantRunErr(t, err, nil)
	s := find(h.events(id), "succeeded", "big")[0]
	if !s.Truncated || !strings.HasPrefix(s.Stdout, "HEAD") || !strings.HasSuffix(s.Stdout, "TAIL") || len(s.Stdout) > 200 {
		t.Errorf("stdout %d bytes truncated=%v: %q", len(s.Stdout), s.Truncated, s.Stdout)
	}
}

func TestInterrupt(t *testing.T) {
	h := newHarness(t, `name: interrupt
steps:
  - id: first
    action: do
  - id: long
    needs: [first]
    action: do
  - id: also_long
    needs: [first]
    action: do
  - id: last
    needs: [long, also_long]
    action: do
`)
	ctx, cancel := context.WithCancel(testCtx(t))
	started := make(chan string, 2)
	h.w.on("do", "long", blockUntilCancelled(started))
	h.w.on("do", "also_long", blockUntilCancelled(started))
	go func() { <-started; <-started; cancel() }()
	id, err := h.start(ctx)
	re := wantRunErr(t, err, workflow.ErrInterrupted)
	if !strings.Contains(re.Msg, "hamnflow resume "+id) {
		t.Errorf("message %q, want the resume command", re.Msg)
	}
	if r := h.run(id); r.Status != workflow.RunInterrupted {
		t.Errorf("run status %s, want interrupted", r.Status)
	}
	st := h.status(id)
	for _, k := range []string{"long", "also_long"} {
		if st[k] != "interrupted" {
			t.Errorf("%s is %s, want interrupted", k, st[k])
		}
	}
	if h.w.count("do", "last") != 0 {
		t.Error("last ran after an interrupt")
	}
	if evs := h.events(id); evs[len(evs)-1].Type != workflow.EvRunEnded {
		t.Errorf("the last event is %s, want run-ended", evs[len(evs)-1].Type)
	}
}

func TestInterruptDuringBackoff(t *testing.T) {
	h := newHarness(t, "name: b\nsteps:\n  - id: r\n    action: do\n    retries: 3\n    backoff: 1h\n")
	ctx, cancel := context.WithCancel(testCtx(t))
	h.w.on("do", "r", func(context.Context, workflow.Call) (workflow.Outcome, error) { return exitErr(1, "") })
	h.e.Observe = func(_ string, ev workflow.Event) {
		if ev.Type == workflow.EvStepFailed {
			cancel()
		}
	}
	id, err := h.start(ctx)
	wantRunErr(t, err, workflow.ErrInterrupted)
	if got := trace(h.events(id), "started", "failed", "interrupted"); !slices.Equal(got, []string{"started r#1", "failed r#1", "interrupted r"}) {
		t.Errorf("events %v", got)
	}
}

func TestStartRefusesLockedCluster(t *testing.T) {
	h := newHarness(t, independent(1))
	l, err := h.j.Lock("lab", workflow.Holder{User: "other"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	_, err = h.e.Start(testCtx(t), h.pb, workflow.Source{}, h.data, "lab")
	var le *workflow.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("start on a locked cluster: %v, want a workflow.LockedError", err)
	}
	if h.w.count("do", "s0") != 0 {
		t.Error("a step ran without the lock")
	}
}

// TestOutputKept (issue 16, finding 5): with OutputDir, an output the
// journal cuts is kept whole (secrets masked) in a file the cut names.
func TestOutputKept(t *testing.T) {
	h := newHarness(t, "name: big\nsteps:\n  - id: big\n    action: do\n    with: {say: '{{ secret \"pw\" }}'}\n")
	h.e.OutputLimit = 100
	h.e.OutputDir = filepath.Join(h.dir, "journal.db.output")
	whole := "HEAD" + strings.Repeat("x", 1000) + secretValue + "TAIL"
	h.w.on("do", "big", func(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
		return workflow.Outcome{Ran: true, Stdout: whole}, nil
	})
	id, err := h.start(testCtx(t))
	wantRunErr(t, err, nil)
	s := find(h.events(id), "succeeded", "big")[0]
	path := filepath.Join(h.e.OutputDir, id, "big.1.stdout")
	if !s.Truncated || !strings.HasSuffix(s.Stdout, "[the whole output: "+path+"]") {
		t.Fatalf("the cut does not name the file: %q", s.Stdout)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.ReplaceAll(whole, secretValue, workflow.Mask); string(got) != want {
		t.Errorf("the file holds %d bytes, want the whole output masked (%d)", len(got), len(want))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("the file's mode is %o", fi.Mode().Perm())
	}
}
