package workflow

import (
	"strconv"
	"strings"
	"testing"
)

// TestTemplateBounds (issue 16, finding 5): a template that would render
// without end (nested ranges, a doubling chain of define/template, with
// or without output) stops at the bounds with a message that says what
// to check, at validate as at run time (both render through render).
func TestTemplateBounds(t *testing.T) {
	doubling := func(levels int, leaf string) string {
		var b strings.Builder
		b.WriteString(`{{ define "t0" }}` + leaf + `{{ end }}`)
		for i := 1; i <= levels; i++ {
			b.WriteString(`{{ define "t` + itoa(i) + `" }}{{ template "t` + itoa(i-1) + `" }}{{ template "t` + itoa(i-1) + `" }}{{ end }}`)
		}
		b.WriteString(`{{ template "t` + itoa(levels) + `" }}`)
		return b.String()
	}
	for _, tc := range []struct {
		name, text, want string
	}{
		{"nested ranges", `{{ range 100000 }}{{ range 100000 }}x{{ end }}{{ end }}`, "template would render more than 1000000 pieces"},
		{"doubling with output", doubling(40, "x"), "template would render more than 1000000 pieces"},
		{"doubling without output", doubling(40, ""), "template would render more than 1000000 pieces"},
		{"ranges without output", `{{ range 100000 }}{{ range 100000 }}{{ end }}{{ end }}`, "template would render more than 1000000 pieces"},
		{"recursion", `{{ define "r" }}x{{ template "r" }}{{ end }}{{ template "r" }}`, "template would render more than 1000000 pieces"},
		{"big output from data", `{{ range .big }}{{ . }}{{ end }}`, "template output is more than 1048576 bytes (1 MiB)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &renderer{}
			_, err := r.render(tc.text, map[string]any{"big": []string{strings.Repeat("x", 1<<19), strings.Repeat("y", 1<<19), "z"}}, true, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "check its loops (range) and nested template calls") {
				t.Errorf("render: %v, want %q", err, tc.want)
			}
		})
	}
	r := &renderer{}
	if out, err := r.render(`{{ range 3 }}ab{{ end }}`, map[string]any{}, true, nil); err != nil || out != "ababab" {
		t.Errorf("a small loop: %q, %v", out, err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestUnknownKeysAllAtOnce (issue 16, finding 8): every unknown key of a
// file is reported, in the file's order, the same on every run, with the
// keys known there and the likely one for a typo.
func TestUnknownKeysAllAtOnce(t *testing.T) {
	text := "name: c\nbogus: 1\nsteps:\n  - id: a\n    action: shell\n    tile: x\n    foreach: {over: x, paralel: 2}\n    probe: {action: shell, wiht: {}}\n    undo: {none: nothing, extra: 1}\n    with: {cmd: \"true\", anything: goes}\n"
	want := []string{
		`c.yaml:2: unknown field "bogus" (known here: name, description, params, args, defaults, steps)`,
		`c.yaml:6: unknown field "tile" (did you mean "title"?) (known here: id, title, needs, host, when, if, include, as, action, with, probe, undo, idempotent, confirm, readonly, timeout, retries, backoff, foreach)`,
		`c.yaml:7: unknown field "paralel" (did you mean "parallel"?) (known here: over, key, parallel)`,
		`c.yaml:8: unknown field "wiht" (did you mean "with"?) (known here: action, host, with)`,
		`c.yaml:9: unknown field "extra" (known here: action, host, with, none)`,
	}
	for range 20 { // the strict decoder's choice varied from run to run
		_, err := parseFile("c.yaml", []byte(text))
		var got []string
		if d, ok := err.(Diagnostics); ok {
			for _, x := range d {
				got = append(got, x.String())
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestStatusLine (issue 16, finding 8): the end of a run says its status
// once and never ends in a colon.
func TestStatusLine(t *testing.T) {
	for _, tc := range []struct {
		st        RunStatus
		msg, want string
	}{
		{RunSucceeded, "", "succeeded"},
		{RunInterrupted, "interrupted; continue with `hamnflow resume X`", "interrupted; continue with `hamnflow resume X`"},
		{RunFailed, "step b failed; see `hamnflow show X`", "failed: step b failed; see `hamnflow show X`"},
	} {
		if got := statusLine(tc.st, tc.msg); got != tc.want {
			t.Errorf("statusLine(%s, %q) = %q, want %q", tc.st, tc.msg, got, tc.want)
		}
	}
}

// TestTypeErrorsNameTheKey (issue 16, finding 8): a value of the wrong
// type is reported with its key and the types in the playbook's words,
// never a Go field ("playbookYAML.Steps of type int").
func TestTypeErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"steps: 5\n", "c.yaml:2: steps: a number where a list is expected"},
		{"steps:\n  - id: a\n    action: shell\n    needs: 5\n", "c.yaml:5: needs: a number where a list is expected"},
		{"steps:\n  - id: a\n    action: [shell]\n", "c.yaml:4: action: wrong type here, want text"},
		{"params: {a: 1}\nsteps: []\n", "c.yaml:2: params: a mapping (key: value) where a list is expected"},
	} {
		_, err := parseFile("c.yaml", []byte("name: c\n"+tc.body))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: %v, want %q", tc.body, err, tc.want)
		}
	}
}

// TestUserTemplateNamedT (issue 16, finding 8): a template the playbook
// defines may be called t, as any other name.
func TestUserTemplateNamedT(t *testing.T) {
	text := `{{ define "t" }}inner{{ end }}echo outer {{ template "t" }}`
	if _, err := fieldRefs(text, nil); err != nil {
		t.Errorf("fieldRefs: %v", err)
	}
	r := &renderer{}
	if out, err := r.render(text, map[string]any{}, true, nil); err != nil || out != "echo outer inner" {
		t.Errorf("render: %q, %v", out, err)
	}
}
