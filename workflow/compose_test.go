package workflow_test

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hamnflow/hamnflow/workflow"
)

// parts is a small library: a procedure composed per database from parts.
var parts = fstest.MapFS{
	"parts/fence.yaml": {Data: []byte(`name: fence
args:
  - name: node
steps:
  - id: stop_old
    host: '{{ .args.node }}'
    action: do
    with: {say: 'stop on {{ .args.node }}'}
  - id: prove_fenced
    needs: [stop_old]
    action: do
`)},
	"parts/db/postgresql/promote.yaml": {Data: []byte(`name: promote
steps:
  - id: pg_promote
    action: do
    with: {say: promote}
  - id: pg_check
    needs: [pg_promote]
    action: check
`)},
	"parts/db/sqlite/promote.yaml": {Data: []byte(`name: promote
steps: []
`)},
	"parts/tail.yaml": {Data: []byte(`name: tail
args:
  - name: node
    default: '{{ .inv.standby.name }}'
defaults:
  timeout: 42s
  with:
    do: {x: from-tail-defaults}
steps:
  - id: start_xcatd
    host: '{{ .args.node }}'
    action: do
  - id: makedns
    needs: [start_xcatd]
    action: do
    with: {x: own}
  - id: aix_only
    needs: [start_xcatd]
    if: '{{ eq .inv.primary.os "aix" }}'
    action: do
  - id: after_aix
    needs: [aix_only]
    action: do
`)},
	"parts/loop.yaml": {Data: []byte(`name: loop
steps:
  - include: parts/loop.yaml
`)},
}

const procedure = `name: failover
params:
  - name: db
    default: postgresql
steps:
  - id: first
    action: do
  - include: parts/fence.yaml
    id: fence
    needs: [first]
    with: {node: '{{ .inv.primary.name }}'}
  - include: 'parts/db/{{ .params.db }}/promote.yaml'
    id: promote
    needs: [fence]
  - include: parts/tail.yaml
    id: tail
    needs: [promote]
  - id: last
    needs: [tail]
    action: do
`

func load(t *testing.T, text string, given map[string]string) (*workflow.Playbook, error) {
	t.Helper()
	pb, _, err := workflow.Load(workflow.LoadInput{Name: "failover.yaml", Text: []byte(text), Files: parts,
		Inv: testData(nil)["inv"].(map[string]any), Given: given, Funcs: testFuncs()})
	return pb, err
}

func needsOf(pb *workflow.Playbook) map[string][]string {
	out := map[string][]string{}
	for _, s := range pb.Steps {
		out[s.ID] = s.Needs
	}
	return out
}

func TestCompose(t *testing.T) {
	pb, err := load(t, procedure, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(pb.Steps), "first stop_old prove_fenced pg_promote pg_check start_xcatd makedns after_aix last"; got != want {
		t.Errorf("steps %q, want %q", got, want)
	}
	n := needsOf(pb)
	for id, want := range map[string][]string{
		"stop_old":     {"first"},        // the include's needs go to the part's first steps
		"prove_fenced": {"stop_old"},     // inside the part: its own needs only
		"pg_promote":   {"prove_fenced"}, // needs: [fence] is the part's last step
		"start_xcatd":  {"pg_check"},
		"after_aix":    {"start_xcatd"}, // aix_only is left out: its needs stand in
		"last":         {"makedns", "after_aix"},
	} {
		if !slices.Equal(n[id], want) {
			t.Errorf("%s needs %v, want %v", id, n[id], want)
		}
	}
	// Part arguments, defaults and where each step came from.
	stop := pb.Step("stop_old")
	if stop.Args["node"] != "mn1" || stop.File != "parts/fence.yaml" || stop.Line != 5 {
		t.Errorf("stop_old: args %v, at %s:%d", stop.Args, stop.File, stop.Line)
	}
	start, dns := pb.Step("start_xcatd"), pb.Step("makedns")
	if start.Args["node"] != "mn2" || start.Timeout.String() != "42s" || start.Action.With["x"] != "from-tail-defaults" || dns.Action.With["x"] != "own" {
		t.Errorf("tail defaults: start args %v timeout %s with %v; makedns with %v", start.Args, start.Timeout, start.Action.With, dns.Action.With)
	}
	if pb.Step("first").Timeout != 0 {
		t.Error("a part's defaults leaked into the procedure's own steps")
	}
	if !slices.Equal(pb.Files, []string{"failover.yaml", "parts/fence.yaml", "parts/db/postgresql/promote.yaml", "parts/tail.yaml"}) {
		t.Errorf("files %v", pb.Files)
	}
	// The steps render with their part's arguments.
	h := newHarness(t, "name: x\nsteps:\n  - id: placeholder\n    action: do\n")
	h.pb = pb
	id, err := h.start(testCtx(t))
	wantRunErr(t, err, nil)
	if c, _ := h.w.last("do", "stop_old"); c.Host != "mn1" || c.Args["say"] != "stop on mn1" {
		t.Errorf("stop_old ran on %s with %v", c.Host, c.Args)
	}
	// The journal keeps the DAG as composed, for resume.
	src, _ := h.j.Source(id)
	again, err := workflow.FromResolved(src.Resolved)
	if err != nil || ids(again.Steps) != ids(pb.Steps) || !slices.Equal(again.Step("last").Needs, []string{"makedns", "after_aix"}) {
		t.Errorf("recorded DAG %v (%v), want the composed one", again, err)
	}
}

// An empty part is transparent: what needed it waits for what it needed.
func TestComposeEmptyPart(t *testing.T) {
	pb, err := load(t, procedure, map[string]string{"db": "sqlite"})
	if err != nil {
		t.Fatal(err)
	}
	if pb.Step("pg_promote") != nil {
		t.Error("PostgreSQL's promote is in a SQLite cluster's DAG")
	}
	if n := needsOf(pb); !slices.Equal(n["start_xcatd"], []string{"prove_fenced"}) {
		t.Errorf("start_xcatd needs %v, want the fence's last step", n["start_xcatd"])
	}
}

func TestComposeDiagnostics(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"missing part", "name: p\nsteps:\n  - include: 'parts/db/{{ .params.db }}/promote.yaml'\nparams:\n  - name: db\n    default: mysql\n",
			[]string{`failover.yaml:3: include parts/db/mysql/promote.yaml: no such part`}},
		{"part calls itself", "name: p\nsteps:\n  - include: parts/loop.yaml\n",
			[]string{`parts/loop.yaml:3: include parts/loop.yaml: it includes itself (failover.yaml -> parts/loop.yaml -> parts/loop.yaml)`}},
		{"arg missing", "name: p\nsteps:\n  - include: parts/fence.yaml\n",
			[]string{`failover.yaml:3: include parts/fence.yaml: arg "node" has no value: give it in with:`}},
		{"arg unknown", "name: p\nsteps:\n  - include: parts/fence.yaml\n    with: {node: a, nod: b}\n",
			[]string{`failover.yaml:4: include parts/fence.yaml: the part has no arg "nod" (it takes: node)`}},
		{"run-time value at load time", "name: p\nsteps:\n  - id: a\n    action: do\n  - include: 'parts/{{ .steps.a.out.x }}.yaml'\n",
			[]string{`failover.yaml:5: include: include: is decided when the playbook loads, from .inv, .params and .args; .steps.a.out.x is known only at run time`}},
		{"if not boolean", "name: p\nsteps:\n  - id: a\n    if: '{{ .inv.primary.os }}'\n    action: do\n",
			[]string{`failover.yaml:4: step a: if: gives "linux"; a condition must give true or false`}},
		{"include with action", "name: p\nsteps:\n  - include: parts/tail.yaml\n    action: do\n",
			[]string{`include parts/tail.yaml: an include takes id, as, needs, if and with only`}},
		{"duplicate across files", "name: p\nsteps:\n  - id: makedns\n    action: do\n  - include: parts/tail.yaml\n",
			[]string{`parts/tail.yaml:13: duplicate step id "makedns" (first at failover.yaml:3)`}},
		{"needs of an include", "name: p\nsteps:\n  - include: parts/tail.yaml\n    needs: [ghost]\n",
			[]string{`failover.yaml:3: include needs "ghost", which is not a step of this playbook`}},
		{"bare undo none", "name: p\nsteps:\n  - id: a\n    action: do\n    undo: none\n",
			[]string{`failover.yaml:5: step "a": undo: none needs a reason: write undo: {none: "why there is nothing to undo"}`}},
		{"procedure with args", "name: p\nargs:\n  - name: x\nsteps: []\n",
			[]string{`failover.yaml:2: a procedure takes params (from --set), not args`}},
		{"retries out of range", "name: p\nsteps:\n  - id: a\n    action: do\n    retries: -1\n",
			[]string{`failover.yaml:5: step "a": retries -1: give 0 to 100`}},
		{"retries not a number", "name: p\nsteps:\n  - id: a\n    action: do\n    retries: 1.5\n",
			[]string{`failover.yaml:5: step "a": retries 1.5: give a whole number, 0 to 100`}},
		{"foreach parallel zero", "name: p\nsteps:\n  - id: a\n    action: do\n    foreach: {over: inv.groups.service_nodes, parallel: 0}\n",
			[]string{`step "a": foreach parallel 0: give 1 to 1000`}},
		{"retries too large", "name: p\nsteps:\n  - id: a\n    action: do\n    retries: 2147483648\n",
			[]string{`failover.yaml:5: step "a": retries 2147483648: give 0 to 100`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.text, nil)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestComposeDeepNesting: a hostile file is refused before the YAML
// parser's work grows with it.
func TestComposeDeepNesting(t *testing.T) {
	text := "name: p\nsteps:\n  - id: a\n    action: do\n    with: {x: " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "}\n"
	_, err := load(t, text, nil)
	if err == nil || !strings.Contains(err.Error(), "nested more than 64 levels deep") {
		t.Fatalf("err = %v", err)
	}
}

// TestComposeAs: one part included twice, its steps' ids prefixed, the
// references among them following.
func TestComposeAs(t *testing.T) {
	lib := fstest.MapFS{"parts/rejoin.yaml": {Data: []byte(`name: rejoin
args:
  - name: node
steps:
  - id: rewind
    host: '{{ .args.node }}'
    action: do
    with: {out: "lsn=0/3000000"}
  - id: check
    needs: [rewind]
    host: '{{ .args.node }}'
    action: do
    with: {say: '{{ .steps.rewind.out.lsn }}'}
`)}}
	pb, _, err := workflow.Load(workflow.LoadInput{Name: "fb.yaml", Files: lib, Funcs: testFuncs(), Inv: testData(nil)["inv"].(map[string]any), Text: []byte(`name: fb
steps:
  - include: parts/rejoin.yaml
    as: primary
    id: primary_rejoined
    with: {node: mn1}
  - id: handback
    needs: [primary_rejoined]
    action: do
  - include: parts/rejoin.yaml
    as: standby
    needs: [handback]
    with: {node: mn2}
`)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(pb.Steps), "primary_rewind primary_check handback standby_rewind standby_check"; got != want {
		t.Fatalf("steps %q, want %q", got, want)
	}
	n := needsOf(pb)
	if !slices.Equal(n["primary_check"], []string{"primary_rewind"}) || !slices.Equal(n["handback"], []string{"primary_check"}) ||
		!slices.Equal(n["standby_rewind"], []string{"handback"}) {
		t.Errorf("needs %v", n)
	}
	if w := pb.Step("standby_check").Action.With["say"]; w != "{{ .steps.standby_rewind.out.lsn }}" {
		t.Errorf("standby_check says %q", w)
	}
	if diags := checkerFor(newWorld()).Validate(pb, testData(nil)); len(diags) > 0 {
		t.Errorf("validate: %v", diags)
	}
}
