package workflow

import (
	"maps"
	"strings"
	"text/template"
)

// A dry render (validate, plan) runs the templates on the run's real
// inventory and parameters and, for what exists only at run time, on named
// placeholders: <steps.ID.out.KEY>, <item.KEY>, <run.id>.

// Placeholder returns the placeholder of a run-time value.
func Placeholder(path ...string) string { return "<" + strings.Join(path, ".") + ">" }

// hasPlaceholder says whether a rendered text holds a run-time value.
func hasPlaceholder(s string) bool {
	return strings.Contains(s, "<steps.") || strings.Contains(s, "<item.") || strings.Contains(s, "<run.")
}

// stub is the data of dry renders: the real inventory and parameters,
// every step's outputs as placeholders for the keys any template uses.
type stub struct {
	base map[string]any
	item map[string]string
}

func newStub(pb *Playbook, data map[string]any, funcs template.FuncMap) *stub {
	steps := make(map[string]any, len(pb.Steps))
	outs := map[string]map[string]any{}
	item := map[string]string{"name": Placeholder("item", "name")}
	for _, s := range pb.Steps {
		for _, t := range templatesOf(s) {
			refs, _ := fieldRefs(t, funcs)
			for _, ref := range refs {
				switch {
				case len(ref) >= 4 && ref[0] == "steps" && ref[2] == "out":
					if outs[ref[1]] == nil {
						outs[ref[1]] = map[string]any{}
					}
					outs[ref[1]][ref[3]] = Placeholder("steps", ref[1], "out", ref[3])
				case len(ref) >= 2 && ref[0] == "item":
					item[ref[1]] = Placeholder("item", ref[1])
				}
			}
		}
	}
	empty := map[string]any{"out": map[string]any{}, "items": []map[string]string{}}
	for _, s := range pb.Steps {
		if o := outs[s.ID]; o != nil {
			steps[s.ID] = map[string]any{"out": o, "items": []map[string]string{}}
		} else {
			steps[s.ID] = empty
		}
	}
	base := make(map[string]any, len(data)+3)
	maps.Copy(base, data)
	base["steps"] = steps
	base["run"] = map[string]any{"id": Placeholder("run", "id")}
	return &stub{base: base, item: item}
}

// forStep is the data of one step's dry render.
func (st *stub) forStep(s *Step) map[string]any {
	d := make(map[string]any, len(st.base)+2)
	maps.Copy(d, st.base)
	d["item"] = st.item
	d["args"] = argsData(s)
	return d
}

func argsData(s *Step) map[string]string {
	if s.Args == nil {
		return map[string]string{}
	}
	return s.Args
}

// templatesOf lists every template of a step.
func templatesOf(s *Step) []string {
	t := []string{s.Title, s.Host, s.When}
	for _, ref := range []*ActionRef{&s.Action, s.Probe, s.Undo} {
		if ref != nil {
			t = append(t, ref.Host)
			for _, v := range ref.With {
				t = append(t, texts(v)...)
			}
		}
	}
	return t
}
