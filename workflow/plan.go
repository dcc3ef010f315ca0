package workflow

import (
	"errors"
	"fmt"
	"strings"
)

// PlannedStep is one step as it would run, with its exact commands.
type PlannedStep struct {
	ID       string   `json:"id"`
	Title    string   `json:"title,omitempty"`
	Host     string   `json:"host"`
	Needs    []string `json:"needs,omitempty"`
	Action   string   `json:"action"`
	Commands []string `json:"commands"` // secrets masked; run-time values as <steps.ID.out.KEY>
	ForEach  string   `json:"foreach,omitempty"`
	When     string   `json:"when,omitempty"` // a run-time condition
	Confirm  bool     `json:"confirm,omitempty"`
	Idempot  bool     `json:"idempotent,omitempty"`
	ReadOnly bool     `json:"readonly,omitempty"`
	Probe    []string `json:"probe,omitempty"`
	// Undo is what rollback runs; UndoNote says how it undoes when it
	// runs nothing (read-only, nothing to undo and why, by hand).
	Undo     []string `json:"undo,omitempty"`
	UndoNote string   `json:"undo_note,omitempty"`
	Timeout  string   `json:"timeout,omitempty"`
	Retries  int      `json:"retries,omitempty"`
}

// Plan renders every step in order without running anything: the exact
// command lines of each, for this inventory and these parameters.
func (c Checker) Plan(pb *Playbook, data map[string]any) ([]PlannedStep, error) {
	st := newStub(pb, data, c.Funcs)
	rd := &renderer{funcs: c.Funcs, secrets: c.Secrets}
	var out []PlannedStep
	for _, s := range Order(pb) {
		sd := st.forStep(s)
		p := PlannedStep{ID: s.ID, Needs: s.Needs, Action: s.Action.Kind, Confirm: s.Confirm, Idempot: s.Idempotent,
			ReadOnly: s.ReadOnly, When: s.When, Retries: s.Retries}
		if s.Timeout > 0 {
			p.Timeout = s.Timeout.String()
		}
		var err error
		if p.Title, err = rd.render(s.Title, sd, true, nil); err != nil {
			return nil, fmt.Errorf("step %s: title: %w", s.ID, err)
		}
		if p.Host, err = rd.render(s.Host, sd, true, nil); err != nil {
			return nil, fmt.Errorf("step %s: host: %w", s.ID, err)
		}
		if p.Host == "" {
			p.Host = "local"
		}
		a, args, err := c.dryArgs(s, &s.Action, sd)
		if err != nil {
			return nil, err
		}
		p.Commands = a.Plan(p.Host, args)
		if s.Probe != nil {
			pa, pargs, err := c.dryArgs(s, s.Probe, sd)
			if err != nil {
				return nil, err
			}
			p.Probe = pa.Plan(c.refHost(s, s.Probe, p.Host, sd), pargs)
		}
		switch {
		case s.ReadOnly:
			p.UndoNote = "read-only: nothing to undo"
		case s.Undo != nil:
			ua, uargs, err := c.dryArgs(s, s.Undo, sd)
			if err != nil {
				return nil, err
			}
			uh := c.refHost(s, s.Undo, p.Host, sd)
			p.Undo = ua.Plan(uh, uargs)
			if uh != p.Host {
				for i, l := range p.Undo {
					p.Undo[i] = "[on " + uh + "] " + l
				}
			}
		case s.UndoNone != "":
			p.UndoNote = "nothing to undo: " + s.UndoNone
		default:
			if rv, ok := a.(Reverser); ok {
				p.Undo = a.Plan(p.Host, rv.Reverse(args, nil))
				p.UndoNote = "puts back what the step changed, as it recorded"
			} else {
				p.UndoNote = "no automatic undo: rollback asks the operator to undo it by hand"
			}
		}
		if s.ForEach != nil {
			p.ForEach = "for each item of " + s.ForEach.Over
		}
		out = append(out, p)
	}
	return out, nil
}

// refHost is where a probe or undo runs: its own host, else the step's.
func (c Checker) refHost(s *Step, ref *ActionRef, stepHost string, sd map[string]any) string {
	if ref.Host == "" {
		return stepHost
	}
	h, err := (&renderer{funcs: c.Funcs, secrets: c.Secrets}).render(ref.Host, sd, true, nil)
	if err != nil || h == "" {
		return stepHost
	}
	return h
}

// dryArgs decodes a step's action arguments on dry-render data, secrets
// masked.
func (c Checker) dryArgs(s *Step, ref *ActionRef, sd map[string]any) (Action, any, error) {
	a := c.Actions[ref.Kind]
	if a == nil {
		return nil, nil, fmt.Errorf("step %s: unknown action %q", s.ID, ref.Kind)
	}
	vals, unknown := c.renderArgs(ref, "", sd, nil)
	args, errs := decode(a, vals, unknown)
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("step %s: %s: %w", s.ID, ref.Kind, errors.Join(errs...))
	}
	return a, args, nil
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
