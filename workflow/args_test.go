package workflow_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/workflow"
)

func TestDecodeArgs(t *testing.T) {
	yes := true
	tests := []struct {
		name string
		vals map[string]any
		want typedArgs
		errs []string
	}{
		{"defaults", map[string]any{"name": "a"}, typedArgs{Name: "a", Mode: "fast"}, nil},
		{"every type", map[string]any{"name": "a", "flag": "true", "maybe": "true", "n": "42", "wait": "1m30s", "mode": "slow", "list": []string{"x", "y"}},
			typedArgs{Name: "a", Flag: true, Maybe: &yes, N: 42, Wait: 90 * time.Second, Mode: "slow", List: []string{"x", "y"}}, nil},
		{"list from lines", map[string]any{"name": "a", "list": "x\n  y \n\n"}, typedArgs{Name: "a", Mode: "fast", List: []string{"x", "y"}}, nil},
		{"required", map[string]any{}, typedArgs{}, []string{`needs argument "name"`}},
		{"yes is not a boolean", map[string]any{"name": "a", "flag": "yes"}, typedArgs{}, []string{`argument flag: "yes" is not a boolean: use true or false`}},
		{"False is not a boolean", map[string]any{"name": "a", "flag": "False"}, typedArgs{}, []string{`"False" is not a boolean`}},
		{"number", map[string]any{"name": "a", "n": "4x"}, typedArgs{}, []string{`argument n: "4x" is not a whole number`}},
		{"duration", map[string]any{"name": "a", "wait": "soon"}, typedArgs{}, []string{`argument wait: "soon" is not a duration (use e.g. 30s, 5m)`}},
		{"negative duration", map[string]any{"name": "a", "wait": "-1s"}, typedArgs{}, []string{`"-1s" is not a duration`}},
		{"one of", map[string]any{"name": "a", "mode": "medium"}, typedArgs{}, []string{`argument mode: "medium" is not one of fast, slow`}},
		{"list for a value", map[string]any{"name": []string{"a", "b"}}, typedArgs{}, []string{`argument name: is a list; give one value (text)`}},
		{"unknown, nearest named", map[string]any{"name": "a", "flg": "true"}, typedArgs{}, []string{`has no argument "flg" (did you mean "flag"? it takes: name, flag, maybe, n, wait, mode, list)`}},
		{"unknown, none near", map[string]any{"name": "a", "zzzzzz": "1"}, typedArgs{}, []string{`has no argument "zzzzzz" (it takes: name, flag`}},
		{"all at once", map[string]any{"flag": "no", "n": "x"}, typedArgs{}, []string{`"no" is not a boolean`, `"x" is not a whole number`, `needs argument "name"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := &typedArgs{Mode: "fast"}
			errs := workflow.DecodeArgs(got, tt.vals, nil)
			if len(errs) != len(tt.errs) {
				t.Fatalf("errors %v, want %q", errs, tt.errs)
			}
			for i, e := range errs {
				if !strings.Contains(e.Error(), tt.errs[i]) {
					t.Errorf("error %q, want %q", e, tt.errs[i])
				}
			}
			if len(tt.errs) > 0 {
				return
			}
			if got.Name != tt.want.Name || got.Flag != tt.want.Flag || got.N != tt.want.N || got.Wait != tt.want.Wait ||
				got.Mode != tt.want.Mode || !slices.Equal(got.List, tt.want.List) || (got.Maybe == nil) != (tt.want.Maybe == nil) {
				t.Errorf("decoded %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestTypedArgsValidated: wrong types, unknown keys and bad booleans are
// file:line errors at validate time; values known only at run time are
// checked when they are.
func TestTypedArgsValidated(t *testing.T) {
	diags := validate(t, `name: t
steps:
  - id: a
    action: typed
    with:
      name: x
      flag: "no"
      n: many
  - id: b
    action: typed
    with:
      name: '{{ .params.mode }}'
      mode: '{{ .params.mode }}'
  - id: c
    action: do
    with: {out: "n=3"}
  - id: d
    needs: [c]
    action: typed
    with:
      name: d
      n: '{{ .steps.c.out.n }}'
`)
	text := diags.Error()
	for _, want := range []string{
		`pb.yaml:7: step "a": action typed argument flag: "no" is not a boolean: use true or false`,
		`pb.yaml:8: step "a": action typed argument n: "many" is not a whole number`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, `step "b"`) || strings.Contains(text, `step "d"`) {
		t.Errorf("a valid step was reported:\n%s", text)
	}
	// validate's data has mode=fast: b is fine. The run-time n of d is
	// checked when it runs.
	h := newHarness(t, `name: t
steps:
  - id: c
    action: do
    with: {out: "n=3x"}
  - id: d
    needs: [c]
    action: typed
    with:
      name: d
      n: '{{ .steps.c.out.n }}'
`)
	id, err := h.start(testCtx(t))
	wantRunErr(t, err, workflow.ErrStepFailed)
	if f := find(h.events(id), "failed", "d"); len(f) != 1 || !strings.Contains(f[0].Message, `argument n: "3x" is not a whole number`) {
		t.Errorf("failure of d: %+v", f)
	}
}

// TestUndoInherits: an undo of the step's own action inherits its with:
// and states only what differs; undo: {none: why} undoes nothing and says
// why; an action that reverses itself is undone from what it recorded.
func TestUndoInherits(t *testing.T) {
	h := newHarness(t, `name: u
steps:
  - id: a
    action: do
    with: {say: "a", x: "keep"}
    undo:
      with: {say: "undo a"}
  - id: b
    needs: [a]
    action: do
    undo: {none: "it only regenerates a file from the database"}
  - id: c
    needs: [b]
    action: toggle
    with: {name: dhcpd, state: "on"}
  - id: d
    needs: [c]
    action: do
    with: {fail: "true"}
`)
	if u := h.pb.Step("a").Undo; u.Kind != "do" || u.With["x"] != "keep" || u.With["say"] != "undo a" {
		t.Fatalf("a's undo %+v, want do with x=keep say=undo a", u)
	}
	plan, err := h.checker().Plan(h.pb, h.data)
	if err != nil {
		t.Fatal(err)
	}
	notes := map[string]string{}
	undos := map[string][]string{}
	for _, p := range plan {
		notes[p.ID], undos[p.ID] = p.UndoNote, p.Undo
	}
	if !strings.Contains(notes["b"], "nothing to undo: it only regenerates") || !slices.Equal(undos["c"], []string{"switch dhcpd off"}) {
		t.Errorf("plan undo notes %v, undos %v", notes, undos)
	}
	id, err := h.start(testCtx(t))
	wantRunErr(t, err, workflow.ErrStepFailed)
	if err := h.e.Rollback(testCtx(t), id, workflow.RollbackOptions{}); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if c, _ := h.w.last("do", "a"); c.Args["say"] != "undo a" || c.Args["x"] != "keep" {
		t.Errorf("undo of a got %v", c.Args)
	}
	if c, _ := h.w.last("toggle", "c"); c.Args["state"] != "off" {
		t.Errorf("c was put back to %q, want off (what it recorded)", c.Args["state"])
	}
	if u := find(h.events(id), "undone", "b"); len(u) != 1 || !strings.Contains(u[0].Message, "nothing to undo: it only regenerates") {
		t.Errorf("b's undo: %+v", u)
	}
}
