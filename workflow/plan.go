package workflow

import (
	"fmt"
	"strings"
)

// PlannedStep is one step as it would run, with its exact command.
type PlannedStep struct {
	ID, Title, Host string
	Needs           []string
	Command         string // secrets masked; values known only at run time shown as <steps.ID.out.KEY>
	ForEach         string // "for each item of ..." when it fans out
	Confirm         bool
	Idempotent      bool
	Probe, Undo     string
	When            string
	Skipped         bool // its condition is false with these values
}

// Plan renders every step in order without running anything.
func (c Checker) Plan(pb *Playbook, data map[string]any) ([]PlannedStep, error) {
	stub := stubData(data, stubSteps(pb))
	outs := stubOuts{stub: stub}
	// Fill the stub with every output key any template references.
	for _, s := range pb.Steps {
		for _, t := range templatesOf(s) {
			refs, _ := fieldRefs(t, c.Funcs)
			for _, ref := range refs {
				switch {
				case len(ref) >= 4 && ref[0] == "steps" && ref[2] == "out":
					if _, ok := stub["steps"].(map[string]any)[ref[1]]; ok {
						outs.out(ref[1])[ref[3]] = "<steps." + ref[1] + ".out." + ref[3] + ">"
					}
				case len(ref) >= 2 && ref[0] == "item":
					stubItem(stub)[ref[1]] = "<item." + ref[1] + ">"
				}
			}
		}
	}
	r := renderer{funcs: c.Funcs, secrets: c.Secrets}
	var out []PlannedStep
	for _, s := range Order(pb) {
		p := PlannedStep{ID: s.ID, Needs: s.Needs, Confirm: s.Confirm, Idempotent: s.Idempotent, When: s.When}
		var err error
		show := func(t string) string {
			if err != nil {
				return ""
			}
			var v string
			v, err = r.render(t, stub, true, nil)
			return v
		}
		describe := func(ref *ActionRef) string {
			if ref == nil {
				return ""
			}
			args := map[string]string{}
			for k, v := range ref.With {
				args[k] = show(v)
			}
			a := c.Actions[ref.Kind]
			if a == nil {
				return ref.Kind + "?"
			}
			return a.Describe(p.Host, args)
		}
		p.Title = show(s.Title)
		p.Host = show(s.Host)
		if p.Host == "" {
			p.Host = "local"
		}
		if s.When != "" {
			if v := strings.TrimSpace(show(s.When)); v == "" || v == "false" {
				p.Skipped = !strings.Contains(s.When, ".steps.")
			}
		}
		p.Command = describe(&s.Action)
		p.Probe = describe(s.Probe)
		p.Undo = describe(s.Undo)
		if s.ForEach != nil {
			p.ForEach = "for each item of " + s.ForEach.Over
		}
		if err != nil {
			return nil, fmt.Errorf("step %s: %w", s.ID, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func templatesOf(s *Step) []string {
	t := []string{s.Title, s.Host, s.When}
	for _, ref := range []*ActionRef{&s.Action, s.Probe, s.Undo} {
		if ref != nil {
			for _, v := range ref.With {
				t = append(t, v)
			}
		}
	}
	return t
}

// DOT renders the DAG for Graphviz.
func DOT(pb *Playbook) string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %q {\n  rankdir=TB;\n  node [shape=box];\n", pb.Name)
	for _, s := range pb.Steps {
		label := s.ID
		if s.Title != "" && !strings.Contains(s.Title, "{{") {
			label += "\n" + s.Title // %q writes the newline as DOT's \n escape
		}
		attrs := ""
		if s.Confirm {
			attrs = ", style=bold"
		}
		if s.ForEach != nil {
			attrs += ", peripheries=2"
		}
		fmt.Fprintf(&b, "  %q [label=%q%s];\n", s.ID, label, attrs)
	}
	for _, s := range pb.Steps {
		for _, n := range s.Needs {
			fmt.Fprintf(&b, "  %q -> %q;\n", n, s.ID)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// Mermaid renders the DAG as a Mermaid flowchart.
func Mermaid(pb *Playbook) string {
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	for _, s := range pb.Steps {
		label := s.ID
		if s.Title != "" && !strings.Contains(s.Title, "{{") {
			label += ": " + s.Title
		}
		label = strings.ReplaceAll(label, `"`, "'")
		if s.ForEach != nil {
			fmt.Fprintf(&b, "  %s[[\"%s\"]]\n", mermaidID(s.ID), label)
		} else {
			fmt.Fprintf(&b, "  %s[\"%s\"]\n", mermaidID(s.ID), label)
		}
	}
	for _, s := range pb.Steps {
		for _, n := range s.Needs {
			fmt.Fprintf(&b, "  %s --> %s\n", mermaidID(n), mermaidID(s.ID))
		}
	}
	return b.String()
}

// mermaidID names a step's node: Mermaid reserves some words ("end") and
// reads a leading "o" or "x" after "--" as an arrow head.
func mermaidID(id string) string { return "s_" + id }
