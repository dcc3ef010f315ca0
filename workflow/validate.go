package workflow

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/template"
)

// Checker validates playbooks against the actions and values a run has.
type Checker struct {
	Actions ActionSet
	Funcs   template.FuncMap
	Secrets Secrets
}

// ResolveParams merges the playbook's defaults with the values given on the
// command line. A value given but not declared, or declared without a
// default and not given, is a Diag with the file, line and name.
func ResolveParams(pb *Playbook, given map[string]string) (map[string]string, Diagnostics) {
	out := map[string]string{}
	var diags Diagnostics
	declared := map[string]bool{}
	for _, p := range pb.Params {
		declared[p.Name] = true
		if v, ok := given[p.Name]; ok {
			out[p.Name] = v
		} else if p.Default != nil {
			out[p.Name] = *p.Default
		} else {
			diags = append(diags, Diag{File: pb.File, Line: p.Line,
				Msg: fmt.Sprintf("parameter %q has no value: give it with --set %s=VALUE", p.Name, p.Name)})
		}
	}
	for _, k := range sortedKeys(given) {
		if !declared[k] {
			diags = append(diags, Diag{File: pb.File, Line: 1,
				Msg: fmt.Sprintf("--set %s: playbook %s has no parameter %q (it has: %s)", k, pb.Name, k, paramNames(pb))})
		}
	}
	return out, diags
}

func paramNames(pb *Playbook) string {
	if len(pb.Params) == 0 {
		return "none"
	}
	var names []string
	for _, p := range pb.Params {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

// Validate reports every problem of pb it can find before anything runs:
// ids, needs, cycles, actions and their arguments, parameters, templates
// and fan-out lists. data holds "inv" and "params" as a run would.
func (c Checker) Validate(pb *Playbook, data map[string]any) Diagnostics {
	var diags Diagnostics
	add := func(line int, format string, a ...any) {
		diags = append(diags, Diag{File: pb.File, Line: line, Msg: fmt.Sprintf(format, a...)})
	}
	byID := map[string]*Step{}
	for _, s := range pb.Steps {
		switch {
		case s.ID == "":
			add(s.Line, "step has no id")
		case !idPattern.MatchString(s.ID):
			add(s.Line, "step id %q: use lower-case letters, digits and _ (it is used in templates as .steps.%s)", s.ID, s.ID)
		case byID[s.ID] != nil:
			add(s.Line, "duplicate step id %q (first at line %d)", s.ID, byID[s.ID].Line)
		default:
			byID[s.ID] = s
		}
	}
	for _, s := range pb.Steps {
		for _, n := range s.Needs {
			if byID[n] == nil {
				add(s.Line, "step %q needs %q, which is not a step of this playbook", s.ID, n)
			}
		}
	}
	if cyc := findCycle(pb.Steps, byID); cyc != nil {
		// Keep going: ancestorSets stops at a cycle, and the other
		// problems are worth reporting in the same pass.
		add(byID[cyc[0]].Line, "steps form a cycle: %s", strings.Join(cyc, " -> "))
	}
	ancestors := ancestorSets(pb.Steps, byID)
	emptySteps := stubSteps(pb)

	for i, s := range pb.Steps {
		refs := map[string]bool{}
		check := func(ref *ActionRef, part, what string) {
			if ref == nil {
				return
			}
			a, ok := c.Actions[ref.Kind]
			if ref.Kind == "" {
				add(ref.Line, "step %q: %s has no action", s.ID, what)
				return
			}
			if !ok {
				add(ref.Line, "step %q: unknown action %q in %s (known: %s)", s.ID, ref.Kind, what, strings.Join(sortedKeys(c.Actions), ", "))
				return
			}
			req, opt := a.Params()
			for _, r := range req {
				if _, ok := ref.With[r]; !ok {
					add(ref.Line, "step %q: action %s in %s needs parameter %q", s.ID, ref.Kind, what, r)
				}
			}
			for _, k := range sortedKeys(ref.With) {
				if !slices.Contains(req, k) && !slices.Contains(opt, k) {
					add(pb.withLine(i, part, k, ref.Line), "step %q: action %s has no parameter %q (it takes: %s)", s.ID, ref.Kind, k, strings.Join(append(slices.Clone(req), opt...), ", "))
				}
			}
		}
		check(&s.Action, "", "its action")
		check(s.Probe, "probe", "probe")
		check(s.Undo, "undo", "undo")

		if s.ForEach != nil {
			line := pb.fieldLine(i, "foreach", s.Line)
			if rest, ok := strings.CutPrefix(s.ForEach.Over, "steps."); ok {
				id, _, _ := strings.Cut(rest, ".")
				if byID[id] == nil {
					add(line, "step %q: foreach over %q: no step %q", s.ID, s.ForEach.Over, id)
				} else if !ancestors[s.ID][id] {
					add(line, "step %q: foreach over %q: add %q to its needs", s.ID, s.ForEach.Over, id)
				}
			} else if v, err := lookupPath(data, s.ForEach.Over); err != nil {
				add(line, "step %q: foreach over %q: %v", s.ID, s.ForEach.Over, err)
			} else if _, err := asItems(v); err != nil {
				add(line, "step %q: foreach over %q: %v", s.ID, s.ForEach.Over, err)
			}
		}

		// Templates: first the references, then a dry render on stub
		// values for what only exists at run time.
		type field struct {
			text string
			line int
		}
		var fields []field
		fields = append(fields, field{s.Title, s.Line}, field{s.Host, pb.fieldLine(i, "host", s.Line)}, field{s.When, pb.fieldLine(i, "when", s.Line)})
		for _, p := range []struct {
			ref  *ActionRef
			part string
		}{{&s.Action, ""}, {s.Probe, "probe"}, {s.Undo, "undo"}} {
			if p.ref == nil {
				continue
			}
			for _, k := range sortedKeys(p.ref.With) {
				fields = append(fields, field{p.ref.With[k], pb.withLine(i, p.part, k, p.ref.Line)})
			}
		}
		stub := stubData(data, emptySteps)
		outs := stubOuts{stub: stub}
		r := renderer{funcs: c.Funcs, secrets: c.Secrets}
		for _, f := range fields {
			fr, err := fieldRefs(f.text, c.Funcs)
			if err != nil {
				add(f.line, "step %q: %v", s.ID, err)
				continue
			}
			ok := true
			for _, ref := range fr {
				switch ref[0] {
				case "inv", "params", "run":
				case "item":
					if s.ForEach == nil {
						add(f.line, "step %q uses .item but has no foreach", s.ID)
						ok = false
					}
					if len(ref) > 1 {
						stubItem(stub)[ref[1]] = "<item." + ref[1] + ">"
					}
				case "steps":
					if len(ref) < 3 || (ref[2] != "out" && ref[2] != "items") {
						add(f.line, "step %q: use .steps.ID.out.KEY or .steps.ID.items, not .%s", s.ID, strings.Join(ref, "."))
						ok = false
						continue
					}
					if byID[ref[1]] == nil {
						add(f.line, "step %q uses .steps.%s, but there is no step %q", s.ID, ref[1], ref[1])
						ok = false
					} else if !ancestors[s.ID][ref[1]] {
						add(f.line, "step %q uses .steps.%s: add %q to its needs so its output exists first", s.ID, ref[1], ref[1])
						ok = false
					} else if ref[2] == "out" && len(ref) > 3 {
						outs.out(ref[1])[ref[3]] = "<steps." + ref[1] + ".out." + ref[3] + ">"
					}
				default:
					add(f.line, "step %q: undefined template value .%s (use .inv, .params, .steps, .item or .run)", s.ID, strings.Join(ref, "."))
					ok = false
				}
				refs[ref[0]] = true
			}
			if !ok {
				continue
			}
			if _, err := r.render(f.text, stub, true, nil); err != nil {
				add(f.line, "step %q: %v", s.ID, err)
			}
		}
	}
	return diags
}

// stubSteps is the .steps data of a dry render: every step with empty
// outputs and items. It is shared by all steps' stubs and never modified;
// stubOut gives a step's stub its own copy where it adds outputs.
func stubSteps(pb *Playbook) map[string]any {
	steps := make(map[string]any, len(pb.Steps))
	empty := map[string]any{"out": map[string]any{}, "items": []map[string]string{}}
	for _, s := range pb.Steps {
		steps[s.ID] = empty
	}
	return steps
}

// stubData is the data of one step's dry render.
func stubData(data map[string]any, steps map[string]any) map[string]any {
	stub := make(map[string]any, len(data)+3)
	for k, v := range data {
		stub[k] = v
	}
	stub["steps"] = steps
	stub["item"] = map[string]string{"name": "<item.name>"}
	stub["run"] = map[string]any{"id": "<run>"}
	return stub
}

// stubOuts gives one step's dry-render stub its own outputs maps, copying
// the shared .steps data the first time the step's templates need one.
type stubOuts struct {
	stub  map[string]any
	owned map[string]map[string]any
}

func (o *stubOuts) out(id string) map[string]any {
	if out, ok := o.owned[id]; ok {
		return out
	}
	if o.owned == nil {
		o.owned = map[string]map[string]any{}
		o.stub["steps"] = maps.Clone(o.stub["steps"].(map[string]any))
	}
	steps := o.stub["steps"].(map[string]any)
	old := steps[id].(map[string]any)
	out := maps.Clone(old["out"].(map[string]any))
	steps[id] = map[string]any{"out": out, "items": old["items"]}
	o.owned[id] = out
	return out
}

func stubItem(stub map[string]any) map[string]string { return stub["item"].(map[string]string) }

// findCycle returns a cycle of step ids (first == last) or nil.
func findCycle(steps []*Step, byID map[string]*Step) []string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(id string) []string
	visit = func(id string) []string {
		color[id] = grey
		stack = append(stack, id)
		for _, n := range byID[id].Needs {
			if byID[n] == nil {
				continue
			}
			switch color[n] {
			case grey:
				i := slices.Index(stack, n)
				return append(slices.Clone(stack[i:]), n)
			case white:
				if c := visit(n); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[id] = black
		return nil
	}
	for _, s := range steps {
		if byID[s.ID] == s && color[s.ID] == white {
			if c := visit(s.ID); c != nil {
				slices.Reverse(c) // print in execution order
				return c
			}
		}
	}
	return nil
}

// ancestorSets gives, for each step, every step it transitively needs.
func ancestorSets(steps []*Step, byID map[string]*Step) map[string]map[string]bool {
	memo := map[string]map[string]bool{}
	var get func(id string) map[string]bool
	get = func(id string) map[string]bool {
		if m, ok := memo[id]; ok {
			return m
		}
		m := map[string]bool{}
		memo[id] = m
		if s := byID[id]; s != nil {
			for _, n := range s.Needs {
				m[n] = true
				for a := range get(n) {
					m[a] = true
				}
			}
		}
		return m
	}
	for _, s := range steps {
		get(s.ID)
	}
	return memo
}

// Order returns the steps in a dependency order that keeps the file's
// order wherever the dependencies allow.
func Order(pb *Playbook) []*Step {
	done := map[string]bool{}
	var out []*Step
	for len(out) < len(pb.Steps) {
		progressed := false
		for _, s := range pb.Steps {
			if done[s.ID] {
				continue
			}
			ready := true
			for _, n := range s.Needs {
				if !done[n] {
					ready = false
					break
				}
			}
			if ready {
				done[s.ID] = true
				out = append(out, s)
				progressed = true
				break // restart from the top: earliest ready step first
			}
		}
		if !progressed {
			break // a cycle; Validate reports it
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
