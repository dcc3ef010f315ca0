package workflow_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/template"
	"time"

	"github.com/hamnflow/hamnflow/journal"
	"github.com/hamnflow/hamnflow/workflow"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./workflow -run %s -update` to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (rerun with -update if the change is intended)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

// hook replaces the default behaviour of a fake action for one step.
type hook func(ctx context.Context, c workflow.Call) (workflow.Outcome, error)

// call is one recorded invocation of a fake action.
type call struct {
	Kind    string
	Step    string
	Host    string
	Attempt int
	Args    map[string]string
	Secrets []string
}

// world is the test-only, in-memory effect of the fake actions: it records
// every call and how many ran at once, and lets a test script any step.
type world struct {
	mu    sync.Mutex
	calls []call
	hooks map[string]hook // "kind:step[key]" or "kind:step"

	cur, max atomic.Int32
	typed    []typedArgs
}

func newWorld() *world { return &world{hooks: map[string]hook{}} }

// on sets the behaviour of action kind for step (an id, or id[key] for one
// fan-out child).
func (w *world) on(kind, step string, h hook) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.hooks[kind+":"+step] = h
}

func (w *world) hookFor(kind, step string) hook {
	w.mu.Lock()
	defer w.mu.Unlock()
	if h := w.hooks[kind+":"+step]; h != nil {
		return h
	}
	id, _, _ := strings.Cut(step, "[")
	return w.hooks[kind+":"+id]
}

// steps lists, in call order, the steps action kind ran for.
func (w *world) steps(kind string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, c := range w.calls {
		if c.Kind == kind {
			out = append(out, c.Step)
		}
	}
	return out
}

// count says how often action kind ran for step.
func (w *world) count(kind, step string) int {
	n := 0
	for _, s := range w.steps(kind) {
		if s == step {
			n++
		}
	}
	return n
}

func (w *world) last(kind, step string) (call, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := len(w.calls) - 1; i >= 0; i-- {
		if c := w.calls[i]; c.Kind == kind && c.Step == step {
			return c, true
		}
	}
	return call{}, false
}

// fakeAction is an in-memory action. By default it succeeds and reports:
// stdout = with.say, outputs from with.out ("k=v,k=v"), items from
// with.items ("a,b,c" as names); with.fail = "true" makes it exit 1.
type fakeAction struct {
	w        *world
	kind     string
	req, opt []string
}

// mapArgs are a fake action's arguments: declared names, text values.
type mapArgs struct {
	req, opt []string
	vals     map[string]string
}

func (m *mapArgs) ArgNames() []string { return append(slices.Clone(m.req), m.opt...) }

func (m *mapArgs) DecodeArgs(vals map[string]any, _ map[string]bool) []error {
	var errs []error
	m.vals = map[string]string{}
	for k, v := range vals {
		if !slices.Contains(m.req, k) && !slices.Contains(m.opt, k) {
			errs = append(errs, &workflow.ArgError{Arg: k, Msg: workflow.UnknownArg(k, m.ArgNames())})
			continue
		}
		s, _ := v.(string)
		m.vals[k] = s
	}
	for _, r := range m.req {
		if _, ok := vals[r]; !ok {
			errs = append(errs, &workflow.ArgError{Arg: r, Msg: fmt.Sprintf("needs argument %q", r)})
		}
	}
	return errs
}

func (a fakeAction) NewArgs() any { return &mapArgs{req: a.req, opt: a.opt} }

// argsOf gives a call's arguments as text.
func argsOf(c workflow.Call) map[string]string {
	if m, ok := c.Args.(*mapArgs); ok {
		return m.vals
	}
	return nil
}

func (a fakeAction) Plan(host string, args any) []string {
	return []string{a.describe(host, args.(*mapArgs).vals)}
}

func (a fakeAction) describe(host string, args map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s@%s", a.kind, host)
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, args[k])
	}
	return b.String()
}

func (a fakeAction) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a.w.mu.Lock()
	a.w.calls = append(a.w.calls, call{Kind: a.kind, Step: c.Step, Host: c.Host, Attempt: c.Attempt,
		Args: argsOf(c), Secrets: slices.Clone(c.Secrets)})
	a.w.mu.Unlock()
	n := a.w.cur.Add(1)
	defer a.w.cur.Add(-1)
	for m := a.w.max.Load(); n > m && !a.w.max.CompareAndSwap(m, n); m = a.w.max.Load() {
	}
	if h := a.w.hookFor(a.kind, c.Step); h != nil {
		return h(ctx, c)
	}
	args := argsOf(c)
	o := workflow.Outcome{Command: a.describe(c.Host, args), Ran: true, Stdout: args["say"]}
	if out := args["out"]; out != "" {
		o.Outputs = map[string]string{}
		for _, kv := range strings.Split(out, ",") {
			k, v, _ := strings.Cut(kv, "=")
			o.Outputs[k] = v
		}
	}
	if items := args["items"]; items != "" {
		for _, name := range strings.Split(items, ",") {
			o.Items = append(o.Items, map[string]string{"name": name, "size": fmt.Sprint(len(name))})
		}
	}
	if args["fail"] == "true" {
		o.Exit = 1
		return o, errors.New("exit status 1")
	}
	return o, nil
}

// actions is the fake action set: do (general purpose), need (takes a
// required parameter), check (probes) and revert (undos).
func (w *world) actions() workflow.ActionSet {
	general := []string{"say", "out", "items", "fail", "x"}
	return workflow.ActionSet{
		"do":     fakeAction{w: w, kind: "do", opt: general},
		"need":   fakeAction{w: w, kind: "need", req: []string{"target"}, opt: []string{"mode"}},
		"check":  fakeAction{w: w, kind: "check", opt: general},
		"revert": fakeAction{w: w, kind: "revert", opt: general},
		"typed":  typedAction{got: &w.typed},
		"toggle": toggleAction{w: w},
	}
}

// Outcomes hooks return.
func ok(out map[string]string) (workflow.Outcome, error) {
	return workflow.Outcome{Ran: true, Outputs: out}, nil
}

func exitErr(code int, stderr string) (workflow.Outcome, error) {
	return workflow.Outcome{Ran: true, Exit: code, Stderr: stderr}, fmt.Errorf("exit status %d", code)
}

// blockUntilCancelled signals started, then waits for the context to end.
func blockUntilCancelled(started chan<- string) hook {
	return func(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
		if started != nil {
			started <- c.Step
		}
		<-ctx.Done()
		return workflow.Outcome{}, ctx.Err()
	}
}

// secretMap is a test Secrets source.
type secretMap map[string]string

func (s secretMap) Has(name string) bool { _, ok := s[name]; return ok }
func (s secretMap) Secret(name string) (string, error) {
	v, ok := s[name]
	if !ok {
		return "", fmt.Errorf("secret %q is not declared", name)
	}
	return v, nil
}

const secretValue = "Hunter2-xyzzy-SECRET"

func testFuncs() template.FuncMap {
	return template.FuncMap{
		"quote": func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" },
		"upper": strings.ToUpper,
	}
}

// testData is what a run's templates see: an inventory like
// playbooks.Inventory.Data() gives, and the parameters.
func testData(params map[string]string) map[string]any {
	host := func(name, addr string) map[string]any {
		return map[string]any{"name": name, "hostname": name + ".example", "address": addr,
			"ssh_address": addr, "interface": "eth0", "os": "linux"}
	}
	if params == nil {
		params = map[string]string{}
	}
	return map[string]any{
		"inv": map[string]any{
			"cluster": "lab", "mode": "floating", "cluster_address": "198.51.100.10",
			"primary": host("mn1", "198.51.100.11"), "standby": host("mn2", "198.51.100.12"),
			"hosts": map[string]any{"mn1": host("mn1", "198.51.100.11"), "mn2": host("mn2", "198.51.100.12")},
			"groups": map[string]any{
				"service_nodes": []any{"sn01", "sn02", "sn03"},
				"empty":         []any{},
			},
			"vars": map[string]any{"greeting": "hello"},
		},
		"params": params,
	}
}

var tester = workflow.Who{User: "tester", Host: "testhost", TTY: "pts/0"}

// scripted is a Prompter that answers from a script, by step, and records
// the questions; a step without an answer gets ErrNoOperator.
type scripted struct {
	mu      sync.Mutex
	answers map[string][]workflow.Choice
	asked   []workflow.Question
}

func (p *scripted) Ask(_ context.Context, q workflow.Question) (workflow.Answer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, q)
	l := p.answers[q.Step]
	if len(l) == 0 {
		return workflow.Answer{}, workflow.ErrNoOperator
	}
	p.answers[q.Step] = l[1:]
	by := tester
	by.Via = "prompt"
	return workflow.Answer{Choice: l[0], By: by}, nil
}

func (p *scripted) steps() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, q := range p.asked {
		out = append(out, q.Step)
	}
	return out
}

// harness is a playbook, fake actions, a real journal and an engine.
type harness struct {
	t    *testing.T
	w    *world
	pb   *workflow.Playbook
	data map[string]any
	dir  string
	j    *journal.Journal
	e    *workflow.Engine
}

func parse(t *testing.T, text string) *workflow.Playbook {
	t.Helper()
	pb, err := workflow.Parse("test.yaml", []byte(text))
	if err != nil {
		t.Fatalf("parse:\n%v", err)
	}
	return pb
}

func newHarness(t *testing.T, text string) *harness {
	t.Helper()
	w := newWorld()
	pb := parse(t, text)
	data := testData(nil)
	ck := workflow.Checker{Actions: w.actions(), Funcs: testFuncs(), Secrets: secretMap{"pw": secretValue}}
	params, diags := workflow.ResolveParams(pb, nil)
	if len(diags) > 0 {
		t.Fatalf("params:\n%v", diags)
	}
	data["params"] = params
	if diags := ck.Validate(pb, data); len(diags) > 0 {
		t.Fatalf("the test playbook does not validate:\n%v", diags)
	}
	dir := t.TempDir()
	j, err := journal.OpenWith(filepath.Join(dir, "journal.db"), journal.Options{LockDir: filepath.Join(dir, "locks")})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, w: w, pb: pb, data: data, dir: dir, j: j}
	h.e = &workflow.Engine{
		Store: j, Actions: w.actions(), Funcs: testFuncs(), Secrets: secretMap{"pw": secretValue},
		Prompter: workflow.NoOperator{}, Who: tester, Parallel: 4,
		Loader: func(workflow.Source) (*workflow.Playbook, map[string]any, error) { return h.pb, h.data, nil },
	}
	return h
}

func (h *harness) checker() workflow.Checker {
	return workflow.Checker{Actions: h.w.actions(), Funcs: testFuncs(), Secrets: secretMap{"pw": secretValue}}
}

// ctx is a context that fails the test rather than let it hang.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (h *harness) start(ctx context.Context) (string, error) {
	h.t.Helper()
	id, err := h.e.Start(ctx, h.pb, workflow.Source{PlaybookPath: "test.yaml", PlaybookText: string(h.pb.Text)}, h.data, "lab")
	if id == "" {
		h.t.Fatalf("start: no run id: %v", err)
	}
	return id, err
}

func (h *harness) events(id string) []workflow.Event {
	h.t.Helper()
	evs, err := h.j.Events(id)
	if err != nil {
		h.t.Fatal(err)
	}
	return evs
}

func (h *harness) run(id string) workflow.Run {
	h.t.Helper()
	r, err := h.j.Run(id)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// status is each step's status by Summarize, "step=status" sorted.
func (h *harness) status(id string) map[string]string {
	out := map[string]string{}
	for _, s := range workflow.Summarize(h.events(id)) {
		out[s.Step] = s.Status
	}
	return out
}

// trace lists the events of the given types as "type step", in order.
func trace(evs []workflow.Event, types ...workflow.EventType) []string {
	var out []string
	for _, ev := range evs {
		if len(types) > 0 && !slices.Contains(types, ev.Type) {
			continue
		}
		s := string(ev.Type)
		if ev.Step != "" {
			s += " " + ev.Step
		}
		if ev.Attempt > 0 {
			s += fmt.Sprintf("#%d", ev.Attempt)
		}
		out = append(out, s)
	}
	return out
}

// find returns the events of type typ for step.
func find(evs []workflow.Event, typ workflow.EventType, step string) []workflow.Event {
	var out []workflow.Event
	for _, ev := range evs {
		if ev.Type == typ && ev.Step == step {
			out = append(out, ev)
		}
	}
	return out
}

// wantRunErr checks that err is a *RunError wrapping want (nil: no error).
func wantRunErr(t *testing.T, err, want error) *workflow.RunError {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("run: %v, want success", err)
		}
		return nil
	}
	var re *workflow.RunError
	if !errors.As(err, &re) || !errors.Is(err, want) {
		t.Fatalf("run: error %v, want a RunError wrapping %q", err, want)
	}
	return re
}

// checkNeedsOrder checks that no step (or child) started before every
// step it needs had ended succeeded or skipped.
func checkNeedsOrder(t *testing.T, pb *workflow.Playbook, evs []workflow.Event) {
	t.Helper()
	ended := map[string]bool{}
	for _, ev := range evs {
		switch ev.Type {
		case workflow.EvStepSucceeded, workflow.EvStepSkipped:
			ended[ev.Step] = true
		case workflow.EvReset:
			ended[ev.Step] = false
		case workflow.EvReconciled:
			if ev.Decision == "done" {
				ended[ev.Step] = true
			}
		case workflow.EvStepStarted:
			id, _, _ := strings.Cut(ev.Step, "[")
			for _, n := range pb.Step(id).Needs {
				if !ended[n] {
					t.Errorf("event %d: %s started before %s ended", ev.Seq, ev.Step, n)
				}
			}
		}
	}
}

// waitFor polls cond until it holds or the test times out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// gate holds every call until the test releases it, so that a test sees
// how many calls run at once without relying on timing.
type gate struct {
	cur, max, entered atomic.Int32
	release           chan struct{}
}

func newGate() *gate { return &gate{release: make(chan struct{})} }

func (g *gate) hook(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	n := g.cur.Add(1)
	defer g.cur.Add(-1)
	for m := g.max.Load(); n > m && !g.max.CompareAndSwap(m, n); m = g.max.Load() {
	}
	g.entered.Add(1)
	select {
	case <-g.release:
		return workflow.Outcome{Ran: true, Stdout: "released " + c.Step}, nil
	case <-ctx.Done():
		return workflow.Outcome{}, ctx.Err()
	}
}

// drive releases n calls one by one, each time once min(bound, left) of
// them are held at once. The test then checks max: more than bound means
// the engine broke its bound, less that it did not run them in parallel.
func (g *gate) drive(t *testing.T, n, bound int) {
	t.Helper()
	for i := 0; i < n; i++ {
		want := int32(min(bound, n-i))
		waitFor(t, fmt.Sprintf("%d calls held at once (release %d of %d)", want, i+1, n), func() bool { return g.cur.Load() >= want })
		// Give a call beyond the bound, if the engine wrongly started one,
		// the time to show in max. Passing never depends on this pause.
		time.Sleep(5 * time.Millisecond)
		select {
		case g.release <- struct{}{}:
		case <-time.After(10 * time.Second):
			t.Fatalf("release %d of %d: no call waiting", i+1, n)
		}
	}
}

// typedArgs has one argument of every kind with: can give.
type typedArgs struct {
	Name  string        `arg:"name,required"`
	Flag  bool          `arg:"flag"`
	Maybe *bool         `arg:"maybe"`
	N     int           `arg:"n"`
	Wait  time.Duration `arg:"wait"`
	Mode  string        `arg:"mode" oneof:"fast|slow"`
	List  []string      `arg:"list"`
}

// typedAction records its decoded arguments.
type typedAction struct{ got *[]typedArgs }

func (typedAction) NewArgs() any { return &typedArgs{Mode: "fast"} }
func (typedAction) Plan(host string, a any) []string {
	t := a.(*typedArgs)
	return []string{fmt.Sprintf("typed %s flag=%v n=%d wait=%s mode=%s list=%v", t.Name, t.Flag, t.N, t.Wait, t.Mode, t.List)}
}
func (a typedAction) Run(_ context.Context, c workflow.Call) (workflow.Outcome, error) {
	*a.got = append(*a.got, *c.Args.(*typedArgs))
	return workflow.Outcome{Ran: true}, nil
}

// toggleArgs turn a switch on or off; the action reverses itself from
// what it recorded.
type toggleArgs struct {
	Name  string `arg:"name,required"`
	State string `arg:"state,required" oneof:"on|off"`
}

type toggleAction struct{ w *world }

func (toggleAction) NewArgs() any { return &toggleArgs{} }
func (toggleAction) Plan(host string, a any) []string {
	t := a.(*toggleArgs)
	return []string{"switch " + t.Name + " " + t.State}
}
func (a toggleAction) Run(_ context.Context, c workflow.Call) (workflow.Outcome, error) {
	t := c.Args.(*toggleArgs)
	a.w.mu.Lock()
	a.w.calls = append(a.w.calls, call{Kind: "toggle", Step: c.Step, Args: map[string]string{"name": t.Name, "state": t.State}})
	a.w.mu.Unlock()
	return workflow.Outcome{Ran: true, Outputs: map[string]string{"was": "off", "state": t.State}}, nil
}
func (toggleAction) Reverse(a any, outputs map[string]string) any {
	t := *a.(*toggleArgs)
	if was := outputs["was"]; was != "" {
		t.State = was
	} else if t.State == "on" {
		t.State = "off"
	} else {
		t.State = "on"
	}
	return &t
}
