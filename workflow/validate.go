package workflow

import (
	"container/heap"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/template"
)

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

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

// graph is the DAG's structure, for validation and scheduling.
type graph struct {
	steps []*Step
	byID  map[string]*Step
	index map[string]int
}

func newGraph(steps []*Step) *graph {
	g := &graph{steps: steps, byID: make(map[string]*Step, len(steps)), index: make(map[string]int, len(steps))}
	for i, s := range steps {
		if _, dup := g.byID[s.ID]; !dup {
			g.byID[s.ID] = s
			g.index[s.ID] = i
		}
	}
	return g
}

// needsTransitively says whether step a (transitively) needs b. It walks
// a's needs with a visited set; direct needs, the common case, are found
// at once.
func (g *graph) needsTransitively(a, b string) bool {
	s := g.byID[a]
	if s == nil {
		return false
	}
	if slices.Contains(s.Needs, b) {
		return true
	}
	seen := map[string]bool{a: true}
	stack := slices.Clone(s.Needs)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == b {
			return true
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		if t := g.byID[n]; t != nil {
			stack = append(stack, t.Needs...)
		}
	}
	return false
}

// downstream returns from and every step that transitively needs it.
func (g *graph) downstream(from string) map[string]bool {
	needers := map[string][]string{}
	for _, s := range g.steps {
		for _, n := range s.Needs {
			needers[n] = append(needers[n], s.ID)
		}
	}
	out := map[string]bool{from: true}
	queue := []string{from}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, m := range needers[n] {
			if !out[m] {
				out[m] = true
				queue = append(queue, m)
			}
		}
	}
	return out
}

// Validate reports every problem of pb it can find before anything runs:
// ids, cycles, actions and their arguments (names and types), parameters,
// templates and fan-out lists. data holds "inv" and "params" as a run
// would.
func (c Checker) Validate(pb *Playbook, data map[string]any) Diagnostics {
	var diags Diagnostics
	g := newGraph(pb.Steps)
	for _, s := range pb.Steps {
		switch {
		case s.ID == "":
			diags = append(diags, s.diag("", "step has no id"))
		case !idPattern.MatchString(s.ID):
			diags = append(diags, s.diag("id", "step id %q: use lower-case letters, digits and _ (it is used in templates as .steps.%s)", s.ID, s.ID))
		}
	}
	if cyc := findCycle(g); cyc != nil {
		diags = append(diags, g.byID[cyc[0]].diag("needs", "steps form a cycle: %s", strings.Join(cyc, " -> ")))
	}
	stub := newStub(pb, data, c.Funcs)
	for _, s := range pb.Steps {
		diags = append(diags, c.checkStep(s, g, stub, data)...)
	}
	return diags
}

func (c Checker) checkStep(s *Step, g *graph, stub *stub, data map[string]any) Diagnostics {
	var diags Diagnostics
	add := func(field, format string, a ...any) { diags = append(diags, s.diag(field, format, a...)) }
	sd := stub.forStep(s)

	// Templates: first the references, then a dry render on stub values
	// for what only exists at run time.
	type field struct{ name, text string }
	fields := []field{{"title", s.Title}, {"host", s.Host}, {"when", s.When}}
	if s.Probe != nil && s.Probe.Host != "" {
		fields = append(fields, field{"probe.host", s.Probe.Host})
	}
	if s.Undo != nil && s.Undo.Host != "" {
		fields = append(fields, field{"undo.host", s.Undo.Host})
	}
	for _, p := range []struct {
		ref  *ActionRef
		part string
	}{{&s.Action, "with"}, {s.Probe, "probe.with"}, {s.Undo, "undo.with"}} {
		if p.ref == nil {
			continue
		}
		for _, k := range sortedKeys(p.ref.With) {
			for _, t := range texts(p.ref.With[k]) {
				fields = append(fields, field{p.part + "." + k, t})
			}
		}
	}
	bad := map[string]bool{}
	for _, f := range fields {
		refs, err := fieldRefs(f.text, c.Funcs)
		if err != nil {
			add(f.name, "step %q: %v", s.ID, err)
			bad[f.name] = true
			continue
		}
		ok := true
		runtime := false
		for _, ref := range refs {
			switch ref[0] {
			case "inv", "params", "args":
			case "run":
				runtime = true
			case "item":
				runtime = true
				if s.ForEach == nil {
					add(f.name, "step %q uses .item but has no foreach", s.ID)
					ok = false
				}
			case "steps":
				runtime = true
				if len(ref) < 3 || (ref[2] != "out" && ref[2] != "items") {
					add(f.name, "step %q: use .steps.ID.out.KEY or .steps.ID.items, not .%s", s.ID, strings.Join(ref, "."))
					ok = false
					continue
				}
				switch {
				case g.byID[ref[1]] == nil:
					add(f.name, "step %q uses .steps.%s, but there is no step %q", s.ID, ref[1], ref[1])
					ok = false
				case !g.needsTransitively(s.ID, ref[1]):
					add(f.name, "step %q uses .steps.%s: add %q to its needs so its output exists first", s.ID, ref[1], ref[1])
					ok = false
				}
			default:
				add(f.name, "step %q: undefined template value .%s (use .inv, .params, .args, .steps, .item or .run)", s.ID, strings.Join(ref, "."))
				ok = false
			}
		}
		if f.name == "when" && f.text != "" && ok && !runtime {
			add("when", "step %q: when: %q depends on the inventory and parameters only: write it as if:, which is decided when the playbook loads", s.ID, f.text)
			ok = false
		}
		if !ok {
			bad[f.name] = true
			continue
		}
		if _, err := (&renderer{funcs: c.Funcs, secrets: c.Secrets}).render(f.text, sd, true, nil); err != nil {
			add(f.name, "step %q: %v", s.ID, err)
			bad[f.name] = true
		}
	}

	// Actions and their arguments.
	check := func(ref *ActionRef, part, what string) {
		if ref == nil {
			return
		}
		if ref.Kind == "" {
			add("", "step %q has no action: add action: NAME (`hamnflow actions` lists them)", s.ID)
			return
		}
		a, ok := c.Actions[ref.Kind]
		if !ok {
			where := "action"
			if part != "with" {
				where = strings.TrimSuffix(part, ".with")
			}
			msg := fmt.Sprintf("step %q: unknown action %q in its %s", s.ID, ref.Kind, where)
			if near := nearest(ref.Kind, sortedKeys(c.Actions)); near != "" {
				msg += fmt.Sprintf(" (did you mean %q? `hamnflow actions` lists them)", near)
			} else {
				msg += " (`hamnflow actions` lists them)"
			}
			diags = append(diags, Diag{File: s.File, Line: lineOr(ref.Line, s.Line), Msg: msg})
			return
		}
		vals, unknown := c.renderArgs(ref, part, sd, bad)
		_, errs := decode(a, vals, unknown)
		for _, err := range errs {
			ae, _ := err.(*ArgError)
			if ae == nil {
				add(part, "step %q: %s: %v", s.ID, what, err)
				continue
			}
			line := s.Lines[part+"."+ae.Arg]
			if line == 0 {
				line = lineOr(ref.Line, s.Line)
			}
			diags = append(diags, Diag{File: s.File, Line: line, Msg: fmt.Sprintf("step %q: %s %s", s.ID, what, ae.Msg)})
		}
	}
	check(&s.Action, "with", "action "+s.Action.Kind)
	if s.Probe != nil {
		check(s.Probe, "probe.with", "probe (action "+s.Probe.Kind+")")
	}
	if s.Undo != nil {
		check(s.Undo, "undo.with", "undo (action "+s.Undo.Kind+")")
	}

	if s.ForEach != nil {
		if rest, ok := strings.CutPrefix(s.ForEach.Over, "steps."); ok {
			id, _, _ := strings.Cut(rest, ".")
			if g.byID[id] == nil {
				add("foreach", "step %q: foreach over %q: no step %q", s.ID, s.ForEach.Over, id)
			} else if !g.needsTransitively(s.ID, id) {
				add("foreach", "step %q: foreach over %q: add %q to its needs", s.ID, s.ForEach.Over, id)
			}
		} else if v, err := lookupPath(data, s.ForEach.Over); err != nil {
			add("foreach", "step %q: foreach over %q: %v", s.ID, s.ForEach.Over, err)
		} else if _, err := asItems(v); err != nil {
			add("foreach", "step %q: foreach over %q: %v", s.ID, s.ForEach.Over, err)
		}
	}
	return diags
}

// renderArgs renders an action's with: on the stub data (secrets masked).
// Arguments whose value is known only at run time come back in unknown:
// their type is checked when they are.
func (c Checker) renderArgs(ref *ActionRef, part string, sd map[string]any, bad map[string]bool) (map[string]any, map[string]bool) {
	vals := make(map[string]any, len(ref.With))
	unknown := map[string]bool{}
	rd := &renderer{funcs: c.Funcs, secrets: c.Secrets}
	for k, v := range ref.With {
		if bad[part+"."+k] {
			unknown[k] = true
			vals[k] = ""
			continue
		}
		out, err := renderValue(rd, v, sd, true, nil)
		if err != nil {
			unknown[k] = true
			vals[k] = ""
			continue
		}
		for _, t := range texts(out) {
			if hasPlaceholder(t) {
				unknown[k] = true
			}
		}
		vals[k] = out
	}
	return vals, unknown
}

// texts lists the text of a with: value (text, or a list of text).
func texts(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []string:
		return v
	}
	return nil
}

// renderValue renders a with: value.
func renderValue(rd *renderer, v any, data map[string]any, mask bool, used *[]string) (any, error) {
	switch v := v.(type) {
	case []string:
		out := make([]string, len(v))
		for i, t := range v {
			r, err := rd.render(t, data, mask, used)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case string:
		return rd.render(v, data, mask, used)
	}
	return "", nil
}

// findCycle returns a cycle of step ids (first == last) or nil.
func findCycle(g *graph) []string {
	const (
		white = iota
		grey
		black
	)
	color := make(map[string]int, len(g.steps))
	for _, s := range g.steps {
		if color[s.ID] != white {
			continue
		}
		// Iterative DFS: a 100,000-step chain must not exhaust the stack.
		type frame struct {
			id string
			i  int
		}
		stack := []frame{{s.ID, 0}}
		color[s.ID] = grey
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			needs := g.byID[top.id].Needs
			if top.i == len(needs) {
				color[top.id] = black
				stack = stack[:len(stack)-1]
				continue
			}
			n := needs[top.i]
			top.i++
			if g.byID[n] == nil {
				continue
			}
			switch color[n] {
			case grey:
				// Printed in execution order: n, the step that needs n,
				// ..., n again.
				cyc := []string{n}
				for j := len(stack) - 1; j >= 0 && stack[j].id != n; j-- {
					cyc = append(cyc, stack[j].id)
				}
				return append(cyc, n)
			case white:
				color[n] = grey
				stack = append(stack, frame{n, 0})
			}
		}
	}
	return nil
}

// Order returns the steps in a dependency order that keeps the file's
// order wherever the dependencies allow: of the steps that are ready, the
// earliest in the file comes first. Steps on a cycle are left out.
func Order(pb *Playbook) []*Step {
	g := newGraph(pb.Steps)
	waiting := make([]int, len(pb.Steps))
	needers := make([][]int, len(pb.Steps))
	for i, s := range pb.Steps {
		for _, n := range s.Needs {
			if j, ok := g.index[n]; ok {
				waiting[i]++
				needers[j] = append(needers[j], i)
			}
		}
	}
	ready := &intHeap{}
	for i := range pb.Steps {
		if waiting[i] == 0 {
			heap.Push(ready, i)
		}
	}
	out := make([]*Step, 0, len(pb.Steps))
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		out = append(out, pb.Steps[i])
		for _, j := range needers[i] {
			if waiting[j]--; waiting[j] == 0 {
				heap.Push(ready, j)
			}
		}
	}
	return out
}

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func sortedKeys[V any](m map[string]V) []string {
	keys := slices.Collect(maps.Keys(m))
	sort.Strings(keys)
	return keys
}
