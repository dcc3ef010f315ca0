package workflow_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hamnflow/hamnflow/workflow"
)

// FuzzParse feeds the parser, and what validates or plans a parsed
// playbook, arbitrary text: it must answer with diagnostics, never panic.
//
//	go test ./workflow -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	var seeds []string
	for _, glob := range []string{"../playbooks/library/*.yaml", "testdata/*.yaml"} {
		files, err := filepath.Glob(glob)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, files...)
	}
	if len(seeds) == 0 {
		f.Fatal("no seed playbooks")
	}
	for _, file := range seeds {
		text, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(text)
		// Broken variants: cut short, and with a stray indent.
		f.Add(text[:len(text)/2])
		f.Add(append([]byte("  "), text...))
	}
	for _, s := range []string{
		"",
		"name: x\nsteps:\n  - id: a\n    needs: [a]\n",
		"name: x\nsteps:\n  - id: a\n    action: do\n    with:\n      say: '{{ range .steps.a.items }}{{ .name }}{{ end }}'\n",
		"name: x\nsteps:\n  - id: a\n    foreach:\n      over: steps.a.items\n    action: do\n",
		"name: x\nsteps:\n  - id: a\n    action: do\n    with:\n      say: '{{ define \"t\" }}{{ .zz }}{{ end }}{{ template \"t\" . }}'\n",
		"name: x\nsteps:\n  - {id: a, action: do, timeout: -1s, foreach: {over: inv, parallel: -3}}\n",
		"steps: [[]]\n",
		"name: [x]\n",
		"name: x\nparams: [{name: p}]\nsteps:\n  - id: a\n    action: do\n    with: {say: '{{ .params.p }}'}\n",
	} {
		f.Add([]byte(s))
	}
	w := newWorld()
	ck := checkerFor(w)
	f.Fuzz(func(t *testing.T, text []byte) {
		pb, err := workflow.Parse("fuzz.yaml", text)
		if err != nil {
			var ds workflow.Diagnostics
			if !errors.As(err, &ds) || len(ds) == 0 {
				t.Fatalf("Parse error %T %v, want Diagnostics", err, err)
			}
			return
		}
		params, _ := workflow.ResolveParams(pb, nil)
		data := testData(params)
		diags := ck.Validate(pb, data)
		workflow.Order(pb)
		workflow.DOT(pb)
		workflow.Mermaid(pb)
		if len(diags) == 0 {
			if _, err := ck.Plan(pb, data); err != nil {
				t.Errorf("a playbook that validates does not plan: %v\n%s", err, text)
			}
		}
	})
}
