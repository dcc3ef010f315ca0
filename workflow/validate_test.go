package workflow_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/workflow"
)

func checkerFor(w *world) workflow.Checker {
	return workflow.Checker{Actions: w.actions(), Funcs: testFuncs(), Secrets: secretMap{"pw": secretValue}}
}

// validate parses text and returns every diagnostic, Parse's or Validate's.
func validate(t *testing.T, text string) workflow.Diagnostics {
	t.Helper()
	pb, err := workflow.Parse("pb.yaml", []byte(text))
	var ds workflow.Diagnostics
	if err != nil && !errors.As(err, &ds) {
		t.Fatalf("Parse returned %T %v, want Diagnostics", err, err)
	}
	if pb == nil {
		return ds
	}
	data := testData(map[string]string{"mode": "fast"})
	return append(ds, checkerFor(newWorld()).Validate(pb, data)...)
}

// TestValidateGolden checks that one run of Validate reports every problem
// of a deliberately broken playbook, each at its file:line.
func TestValidateGolden(t *testing.T) {
	for _, name := range []string{"broken", "durations"} {
		t.Run(name, func(t *testing.T) {
			text, err := os.ReadFile("testdata/" + name + ".yaml")
			if err != nil {
				t.Fatal(err)
			}
			pb, err := workflow.Parse("testdata/"+name+".yaml", text)
			var diags workflow.Diagnostics
			if err != nil && !errors.As(err, &diags) {
				t.Fatalf("Parse: %T %v", err, err)
			}
			if pb != nil {
				params, ds := workflow.ResolveParams(pb, nil)
				diags = append(diags, ds...)
				data := testData(params)
				diags = append(diags, checkerFor(newWorld()).Validate(pb, data)...)
			}
			if len(diags) == 0 {
				t.Fatal("no diagnostics for a broken playbook")
			}
			for _, d := range diags {
				if d.Line <= 0 {
					t.Errorf("diagnostic without a line: %v", d)
				}
			}
			golden(t, name+".golden", diags.Error()+"\n")
		})
	}
}

func TestValidateDiagnostics(t *testing.T) {
	const head = "name: t\nparams:\n  - name: mode\n    default: fast\nsteps:\n"
	tests := []struct {
		name string
		body string
		want []string // each must appear in a diagnostic, "pb.yaml:LINE: ..."
	}{
		{
			name: "duplicate id",
			body: "  - id: a\n    action: do\n  - id: a\n    action: do\n",
			want: []string{`pb.yaml:8: duplicate step id "a" (first at line 6)`},
		},
		{
			name: "empty id",
			body: "  - title: nameless\n    action: do\n",
			want: []string{"pb.yaml:6: step has no id"},
		},
		{
			name: "bad id",
			body: "  - id: Step-1\n    action: do\n",
			want: []string{`pb.yaml:6: step id "Step-1": use lower-case`},
		},
		{
			name: "unknown needs",
			body: "  - id: a\n    needs: [b, c]\n    action: do\n  - id: b\n    action: do\n",
			want: []string{`pb.yaml:7: step "a" needs "c", which is not a step of this playbook`},
		},
		{
			name: "self cycle",
			body: "  - id: a\n    needs: [a]\n    action: do\n",
			want: []string{"pb.yaml:7: steps form a cycle: a -> a"},
		},
		{
			name: "cycle printed in execution order",
			body: "  - id: a\n    needs: [c]\n    action: do\n  - id: b\n    needs: [a]\n    action: do\n  - id: c\n    needs: [b]\n    action: do\n",
			want: []string{"steps form a cycle: ", "a -> b -> c -> a"},
		},
		{
			name: "cycle does not hide other problems",
			body: "  - id: a\n    needs: [b]\n    action: do\n  - id: b\n    needs: [a]\n    action: nosuch\n",
			want: []string{"steps form a cycle", `pb.yaml:11: step "b": unknown action "nosuch" in its action (` + "`hamnflow actions`" + ` lists them)`},
		},
		{
			name: "unknown action",
			body: "  - id: a\n    action: teleport\n",
			want: []string{`pb.yaml:7: step "a": unknown action "teleport" in its action`},
		},
		{
			name: "no action",
			body: "  - id: a\n",
			want: []string{`pb.yaml:6: step "a" has no action: add action: NAME`},
		},
		{
			name: "missing required param",
			body: "  - id: a\n    action: need\n    with:\n      mode: x\n",
			want: []string{`pb.yaml:7: step "a": action need needs argument "target"`},
		},
		{
			name: "unknown param at its line",
			body: "  - id: a\n    action: need\n    with:\n      target: x\n      colour: red\n",
			want: []string{`pb.yaml:10: step "a": action need has no argument "colour" (it takes: target, mode)`},
		},
		{
			name: "probe and undo checked too",
			body: "  - id: a\n    action: do\n    probe:\n      action: need\n    undo:\n      action: nosuch\n",
			want: []string{`pb.yaml:8: step "a": probe (action need) needs argument "target"`, `pb.yaml:10: step "a": unknown action "nosuch" in its undo`},
		},
		{
			name: "undefined param",
			body: "  - id: a\n    action: do\n    with:\n      say: \"{{ .params.nosuch }}\"\n",
			want: []string{`pb.yaml:9: step "a": <.params.nosuch>: map has no entry for key "nosuch"`},
		},
		{
			name: "undefined inventory value",
			body: "  - id: a\n    host: \"{{ .inv.standby.nosuch }}\"\n    action: do\n",
			want: []string{`pb.yaml:7: step "a":`, `"nosuch"`},
		},
		{
			name: "undefined root",
			body: "  - id: a\n    when: \"{{ .nope }}\"\n    action: do\n",
			want: []string{`pb.yaml:7: step "a": undefined template value .nope`},
		},
		{
			name: "step output without needs",
			body: "  - id: a\n    action: do\n  - id: b\n    action: do\n    with:\n      say: \"{{ .steps.a.out.v }}\"\n",
			want: []string{`pb.yaml:11: step "b" uses .steps.a: add "a" to its needs`},
		},
		{
			name: "output of an unknown step",
			body: "  - id: a\n    action: do\n    with:\n      say: \"{{ .steps.zz.out.v }}\"\n",
			want: []string{`step "a" uses .steps.zz, but there is no step "zz"`},
		},
		{
			name: "item without foreach",
			body: "  - id: a\n    action: do\n    with:\n      say: \"{{ .item.name }}\"\n",
			want: []string{`pb.yaml:9: step "a" uses .item but has no foreach`},
		},
		{
			name: "foreach over a missing list",
			body: "  - id: a\n    foreach:\n      over: inv.groups.nosuch\n    action: do\n",
			want: []string{`pb.yaml:7: step "a": foreach over "inv.groups.nosuch": inv.groups.nosuch: no "nosuch"`},
		},
		{
			name: "foreach over a map",
			body: "  - id: a\n    foreach:\n      over: inv.primary\n    action: do\n",
			want: []string{`pb.yaml:7: step "a": foreach over "inv.primary": it is a map, not a list`},
		},
		{
			name: "foreach over a step not needed",
			body: "  - id: a\n    action: do\n  - id: b\n    foreach:\n      over: steps.a.items\n    action: do\n",
			want: []string{`pb.yaml:9: step "b": foreach over "steps.a.items": add "a" to its needs`},
		},
		{
			name: "foreach over an unknown step",
			body: "  - id: b\n    foreach:\n      over: steps.zz.items\n    action: do\n",
			want: []string{`step "b": foreach over "steps.zz.items": no step "zz"`},
		},
		{
			name: "undeclared secret",
			body: "  - id: a\n    action: do\n    with:\n      say: '{{ secret \"nosuch\" }}'\n",
			want: []string{`pb.yaml:9: step "a":`, `secret "nosuch" is not declared`},
		},
		{
			name: "unknown function",
			body: "  - id: a\n    action: do\n    with:\n      say: '{{ nofunc 1 }}'\n",
			want: []string{`pb.yaml:9: step "a": template: function "nofunc" not defined`},
		},
		{
			name: "bad timeout",
			body: "  - id: a\n    action: do\n    timeout: soon\n",
			want: []string{`pb.yaml:8: step "a": timeout "soon" is not a duration`},
		},
		{
			name: "negative backoff",
			body: "  - id: a\n    action: do\n    backoff: -2s\n",
			want: []string{`pb.yaml:8: step "a": backoff "-2s" is not a duration`},
		},
		{
			name: "unknown field",
			body: "  - id: a\n    action: do\n    idempotant: true\n",
			want: []string{`pb.yaml:8: `, "idempotant"},
		},
		{
			name: "bad yaml",
			body: "  - id: a\n    action: [do\n",
			want: []string{`pb.yaml:`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diags := validate(t, head+tt.body)
			if len(diags) == 0 {
				t.Fatalf("no diagnostics, want %q", tt.want)
			}
			text := diags.Error()
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("diagnostics do not contain %q:\n%s", w, text)
				}
			}
		})
	}
}

func TestValidateAllAtOnce(t *testing.T) {
	text, err := os.ReadFile("testdata/broken.yaml")
	if err != nil {
		t.Fatal(err)
	}
	diags := validate(t, string(text))
	// Every step of broken.yaml but "first" has a problem, and each is
	// reported in the same call.
	pb, _ := workflow.Parse("pb.yaml", text)
	for _, s := range pb.Steps[1:] {
		found := false
		for _, d := range diags {
			if strings.Contains(d.Msg, `"`+s.ID+`"`) || strings.Contains(d.Msg, " "+s.ID+" ") {
				found = true
			}
		}
		if !found {
			t.Errorf("no diagnostic names step %s (line %d)", s.ID, s.Line)
		}
	}
}

func TestValidateCleanPlaybook(t *testing.T) {
	text := `name: clean
params:
  - name: mode
    default: fast
steps:
  - id: list
    action: do
    with:
      items: a,b
  - id: fan
    needs: [list]
    title: "fan {{ .item.name }} of size {{ .item.size }}"
    host: "{{ .item.name }}"
    foreach:
      over: steps.list.items
    action: do
    with:
      say: "{{ .steps.list.out.count }} {{ .inv.primary.address }} {{ quote .params.mode }} {{ secret \"pw\" }} {{ .run.id }}"
  - id: nodes
    foreach:
      over: inv.groups.service_nodes
    action: need
    with:
      target: "{{ .item.name }}"
    if: '{{ eq .params.mode "fast" }}'
  - id: gated
    needs: [list]
    when: '{{ eq .steps.list.out.count "2" }}'
    action: do
`
	if diags := validate(t, text); len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%v", diags)
	}
}

func TestResolveParams(t *testing.T) {
	pb := parse(t, `name: p
params:
  - name: with_default
    default: d
  - name: required
steps:
  - id: a
    action: do
`)
	tests := []struct {
		name  string
		given map[string]string
		want  map[string]string
		diags []string
	}{
		{"defaults and given", map[string]string{"required": "r"}, map[string]string{"with_default": "d", "required": "r"}, nil},
		{"override default", map[string]string{"required": "r", "with_default": "x"}, map[string]string{"with_default": "x", "required": "r"}, nil},
		{"missing", nil, nil, []string{`test.yaml:5: parameter "required" has no value: give it with --set required=VALUE`}},
		{"undeclared", map[string]string{"required": "r", "typo": "1"}, nil, []string{`--set typo: playbook p has no parameter "typo" (it has: with_default, required)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := workflow.ResolveParams(pb, tt.given)
			if len(diags) != len(tt.diags) {
				t.Fatalf("diags = %v, want %q", diags, tt.diags)
			}
			for i, d := range diags {
				if !strings.Contains(d.String(), tt.diags[i]) {
					t.Errorf("diag %q, want %q", d, tt.diags[i])
				}
			}
			if tt.want != nil {
				for k, v := range tt.want {
					if got[k] != v {
						t.Errorf("%s = %q, want %q", k, got[k], v)
					}
				}
			}
		})
	}
}
