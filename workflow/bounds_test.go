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
