package workflow

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strings"
	"text/template"
)

// A procedure is composed when it loads, for one cluster:
//
//	steps:
//	  - include: 'parts/{{ .inv.database.type }}/promote.yaml'
//	    id: promote            # names the part for needs
//	    needs: [fence]         # what the part's first steps wait for
//	    with: {node: '{{ .inv.standby.name }}'}   # the part's args
//	  - id: start_xcatd
//	    needs: [promote]       # waits for the part's last steps
//	    if: '{{ ne .inv.primary.os "aix" }}'      # decided at load time
//	    ...
//
// `include:` and `if:` and a part's `with:` are rendered when the playbook
// loads, from the inventory (.inv), the parameters (.params) and the
// including part's arguments (.args); they cannot use run-time values.
// A step whose `if:` is false is left out, and so is an included part's
// every step; the steps that needed it wait for what it needed instead.
// `when:` is for conditions on run-time values (.steps) only.

// Files is where Load finds the parts a procedure includes, by the path
// written in `include:` (fs.FS paths: "parts/fence.yaml").
type Files interface {
	ReadFile(name string) ([]byte, error)
}

// LoadInput is what a procedure is composed from.
type LoadInput struct {
	Name  string // the procedure's file name, for messages
	Text  []byte // the procedure's text
	Files Files  // where included parts are read; nil: none may be included
	// Inv is the inventory's template data (.inv); nil for none.
	Inv   map[string]any
	Given map[string]string // parameter values from the command line
	Funcs template.FuncMap
	// SkipParams leaves the parameters unresolved: load-time templates
	// see the defaults only (Parse).
	SkipParams bool
}

// Limits of composition.
const (
	maxIncludeDepth = 16
	maxSteps        = 100000
)

// Load composes a procedure and its parts into the playbook of one
// cluster, and resolves its parameters. Problems are Diagnostics, every
// one found, each at its file:line; with them it still returns what it
// could compose (nil if the file did not parse), so that Validate can
// report the rest in the same pass.
func Load(in LoadInput) (*Playbook, map[string]string, error) {
	top, err := parseFile(in.Name, in.Text)
	if err != nil {
		return nil, nil, err
	}
	c := &composer{in: in, names: map[string]*node{}, byID: map[string]*Step{}}
	pb := &Playbook{Name: top.raw.Name, Description: top.raw.Description, File: in.Name, Text: in.Text, Files: []string{in.Name}}
	if pb.Name == "" {
		c.add(Diag{File: in.Name, Line: 1, Msg: "playbook has no name: add `name: ...` at the top"})
	}
	if len(top.raw.Steps) == 0 {
		// Nothing to run is a mistake, not a success to report. (Steps
		// that if: conditions drop for this inventory are another matter.)
		line := top.lines["$.steps"]
		if line == 0 {
			line = 1
		}
		c.add(Diag{File: in.Name, Line: line, Msg: "playbook has no steps: list them under steps:"})
	}
	if len(top.raw.Args) > 0 {
		c.add(Diag{File: in.Name, Line: top.lines["$.args"], Msg: "a procedure takes params (from --set), not args: args are for parts it includes"})
	}
	for i, p := range top.raw.Params {
		pb.Params = append(pb.Params, Param{Name: p.Name, Description: p.Description, Default: p.Default,
			Line: top.lines[fmt.Sprintf("$.params[%d]", i)]})
	}
	var params map[string]string
	if in.SkipParams {
		params = map[string]string{}
		for _, p := range pb.Params {
			if p.Default != nil {
				params[p.Name] = *p.Default
			}
		}
	} else {
		var ds Diagnostics
		params, ds = ResolveParams(pb, in.Given)
		c.diags = append(c.diags, ds...)
	}
	c.params = params
	c.files = pb.Files
	c.expand(top, nil, defaultsOf(c, top, nil), "", []string{in.Name})
	pb.Files = c.files
	c.resolveNeeds()
	pb.Steps = c.steps
	if len(c.diags) > 0 {
		return pb, params, c.diags
	}
	return pb, params, nil
}

// Parse reads a single-file playbook, with no parts and no inventory; for
// tests and tools. Its parameters are not resolved (see ResolveParams):
// load-time templates see their defaults.
func Parse(file string, text []byte) (*Playbook, error) {
	pb, _, err := Load(LoadInput{Name: file, Text: text, SkipParams: true})
	return pb, err
}

// node is one name steps may need: a step, a left-out step, or a part.
type node struct {
	step    *Step    // a step of the DAG
	needs   []string // a left-out step's or a part's own needs
	members []string // a part's steps
	part    bool
	file    string
	line    int

	state    int // 0 new, 1 resolving, 2 resolved
	resolved []string
}

type composer struct {
	in     LoadInput
	params map[string]string
	names  map[string]*node
	order  []string // names in the order they were defined
	byID   map[string]*Step
	steps  []*Step
	files  []string
	diags  Diagnostics
	starts int
}

func (c *composer) add(d Diag) { c.diags = append(c.diags, d) }

// fileDefaults are the defaults in force in one file.
type fileDefaults struct {
	timeout, backoff string
	retries          *int
	with             map[string]map[string]any
}

func defaultsOf(c *composer, pf *parsedFile, outer *fileDefaults) *fileDefaults {
	d := &fileDefaults{with: map[string]map[string]any{}}
	if outer != nil {
		*d = *outer
		d.with = maps.Clone(outer.with)
	}
	dy := pf.raw.Defaults
	if dy == nil {
		return d
	}
	if dy.Timeout != "" {
		d.timeout = dy.Timeout
	}
	if dy.Backoff != "" {
		d.backoff = dy.Backoff
	}
	if r, err := wholeNumber(dy.Retries, 0, 100); err != nil {
		c.add(Diag{File: pf.name, Line: pf.lines["$.defaults.retries"], Msg: "defaults: retries " + err.Error()})
	} else if r != nil {
		d.retries = r
	}
	for kind, w := range dy.With {
		vals, bad := withValues(w)
		for _, k := range bad {
			c.add(Diag{File: pf.name, Line: pf.lines["$.defaults.with."+kind+"."+k], Msg: fmt.Sprintf("defaults for %s: %s: give text or a list of text", kind, k)})
		}
		merged := maps.Clone(d.with[kind])
		if merged == nil {
			merged = map[string]any{}
		}
		maps.Copy(merged, vals)
		d.with[kind] = merged
	}
	return d
}

// loadData is what load-time templates see.
func (c *composer) loadData(args map[string]string) map[string]any {
	inv := c.in.Inv
	if inv == nil {
		inv = map[string]any{}
	}
	a := args
	if a == nil {
		a = map[string]string{}
	}
	return map[string]any{"inv": inv, "params": c.params, "args": a}
}

// renderLoad renders a load-time template (include, if, a part's with).
func (c *composer) renderLoad(text string, args map[string]string, what string) (string, error) {
	refs, err := fieldRefs(text, c.in.Funcs)
	if err != nil {
		return "", err
	}
	for _, r := range refs {
		switch r[0] {
		case "inv", "params", "args":
		default:
			return "", fmt.Errorf("%s is decided when the playbook loads, from .inv, .params and .args; .%s is known only at run time (use when: on a step for that)", what, strings.Join(r, "."))
		}
	}
	rd := renderer{funcs: c.in.Funcs}
	return rd.render(text, c.loadData(args), true, nil)
}

// truth reads a rendered condition: true or false, nothing else.
func truth(v string) (bool, error) {
	switch strings.TrimSpace(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("gives %q; a condition must give true or false", strings.TrimSpace(v))
}

// expand adds the steps of one file; start, when set, is what the file's
// first steps wait for (the including entry's needs). It returns the ids
// of the steps it added, its parts' included.
func (c *composer) expand(pf *parsedFile, args map[string]string, defs *fileDefaults, start string, stack []string) []string {
	local := map[string]bool{}
	for _, s := range pf.raw.Steps {
		if s.ID != "" {
			local[s.ID] = true
		}
	}
	var members []string
	for i, s := range pf.raw.Steps {
		at := fmt.Sprintf("$.steps[%d]", i)
		line := pf.lines[at]
		needs := slices.Clone(s.Needs)
		if start != "" && !slices.ContainsFunc(needs, func(n string) bool { return local[n] }) {
			needs = append(needs, start)
		}
		keep := true
		if s.If != "" {
			v, err := c.renderLoad(s.If, args, "if:")
			if err == nil {
				keep, err = truth(v)
			}
			if err != nil {
				c.add(Diag{File: pf.name, Line: lineOr(pf.lines[at+".if"], line), Msg: fmt.Sprintf("step %s: if: %v", nameOf(s), err)})
				keep = false
			}
		}
		if s.Include != "" {
			members = append(members, c.include(pf, i, s, needs, keep, args, defs, stack)...)
			continue
		}
		if s.As != "" {
			c.add(Diag{File: pf.name, Line: lineOr(pf.lines[at+".as"], line), Msg: fmt.Sprintf("step %s: as: names the steps of an include; a step has its id", nameOf(s))})
		}
		if !keep {
			c.define(s.ID, &node{needs: needs, file: pf.name, line: line})
			continue
		}
		st := c.step(pf, i, s, needs, args, defs)
		if st == nil {
			continue
		}
		if len(c.steps) >= maxSteps {
			c.add(Diag{File: pf.name, Line: line, Msg: fmt.Sprintf("more than %d steps", maxSteps)})
			return members
		}
		if c.define(st.ID, &node{step: st, file: pf.name, line: line}) {
			c.byID[st.ID] = st
			members = append(members, st.ID)
		}
		// A duplicate is kept too, so that validation reports the rest
		// of what is wrong with it in the same pass.
		c.steps = append(c.steps, st)
	}
	return members
}

func nameOf(s stepYAML) string {
	if s.ID != "" {
		return s.ID
	}
	if s.Include != "" {
		return "include " + s.Include
	}
	return "(no id)"
}

func lineOr(l, fallback int) int {
	if l > 0 {
		return l
	}
	return fallback
}

// define registers a name; a name defined twice is a diagnostic.
func (c *composer) define(id string, n *node) bool {
	if id == "" {
		return true
	}
	if prev := c.names[id]; prev != nil {
		where := fmt.Sprintf("line %d", prev.line)
		if prev.file != n.file {
			where = fmt.Sprintf("%s:%d", prev.file, prev.line)
		}
		c.add(Diag{File: n.file, Line: n.line, Msg: fmt.Sprintf("duplicate step id %q (first at %s)", id, where)})
		return false
	}
	c.names[id] = n
	c.order = append(c.order, id)
	return true
}

// include expands one `include:` entry.
func (c *composer) include(pf *parsedFile, i int, s stepYAML, needs []string, keep bool, args map[string]string, defs *fileDefaults, stack []string) []string {
	at := fmt.Sprintf("$.steps[%d]", i)
	line := pf.lines[at]
	diag := func(field, format string, a ...any) {
		c.add(Diag{File: pf.name, Line: lineOr(pf.lines[at+"."+field], line), Msg: fmt.Sprintf(format, a...)})
	}
	if s.Action != "" || s.Host != "" || s.When != "" || s.Probe != nil || s.Undo != nil || s.ForEach != nil || s.Title != "" {
		diag("include", "include %s: an include takes id, as, needs, if and with only; put the rest in the part's steps", s.Include)
	}
	start := fmt.Sprintf("@start%d", c.starts)
	c.starts++
	c.names[start] = &node{needs: needs, file: pf.name, line: line}
	c.order = append(c.order, start)
	group := &node{part: true, needs: []string{start}, file: pf.name, line: line}
	defer func() {
		if s.ID != "" {
			c.define(s.ID, group)
		}
	}()
	if !keep {
		return nil
	}
	path, err := c.renderLoad(s.Include, args, "include:")
	if err != nil {
		diag("include", "include: %v", err)
		return nil
	}
	if len(stack) >= maxIncludeDepth {
		diag("include", "include %s: parts nested more than %d deep", path, maxIncludeDepth)
		return nil
	}
	if slices.Contains(stack, path) {
		diag("include", "include %s: it includes itself (%s)", path, strings.Join(append(stack, path), " -> "))
		return nil
	}
	if c.in.Files == nil {
		diag("include", "include %s: this playbook is read on its own; parts are found when it is loaded from a playbook library", path)
		return nil
	}
	text, err := c.in.Files.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			diag("include", "include %s: no such part", path)
		} else {
			diag("include", "include %s: %v", path, err)
		}
		return nil
	}
	part, err := parseFile(path, text)
	if err != nil {
		c.diags = append(c.diags, AsDiagnostics(err)...)
		return nil
	}
	if !slices.Contains(c.files, path) {
		c.files = append(c.files, path)
	}
	if len(part.raw.Params) > 0 {
		c.add(Diag{File: path, Line: part.lines["$.params"], Msg: "a part takes args (given by the include's with:), not params"})
	}
	partArgs := map[string]string{}
	declared := map[string]bool{}
	given, bad := withValues(s.With)
	for _, k := range bad {
		diag("with."+k, "include %s: with %s: give text", path, k)
	}
	for j, a := range part.raw.Args {
		declared[a.Name] = true
		if v, ok := given[a.Name]; ok {
			text, isText := v.(string)
			if !isText {
				diag("with."+a.Name, "include %s: with %s: give text, not a list", path, a.Name)
				continue
			}
			r, err := c.renderLoad(text, args, "with: of an include")
			if err != nil {
				diag("with."+a.Name, "include %s: with %s: %v", path, a.Name, err)
				continue
			}
			partArgs[a.Name] = r
		} else if a.Default != nil {
			r, err := c.renderLoad(*a.Default, args, "an arg's default")
			if err != nil {
				c.add(Diag{File: path, Line: part.lines[fmt.Sprintf("$.args[%d]", j)], Msg: fmt.Sprintf("arg %s: default: %v", a.Name, err)})
				continue
			}
			partArgs[a.Name] = r
		} else {
			diag("include", "include %s: arg %q has no value: give it in with:", path, a.Name)
		}
	}
	for _, k := range sortedKeys(given) {
		if !declared[k] {
			names := make([]string, 0, len(part.raw.Args))
			for _, a := range part.raw.Args {
				names = append(names, a.Name)
			}
			diag("with."+k, "include %s: the part has no arg %q (it takes: %s)", path, k, orNone(names))
		}
	}
	defined := len(c.order)
	group.members = c.expand(part, partArgs, defaultsOf(c, part, defs), start, append(slices.Clone(stack), path))
	if s.As != "" {
		if !idPattern.MatchString(s.As) {
			diag("as", "include %s: as %q: use lower-case letters, digits and _", path, s.As)
		} else {
			c.prefix(s.As, c.order[defined:], group)
		}
	}
	return group.members
}

// prefix renames the steps an include defined (as:), so that one part can
// be included twice: every id becomes PREFIX_id, and every reference to
// one of them within the part (needs, .steps.ID, foreach over steps.ID)
// follows.
func (c *composer) prefix(as string, defined []string, group *node) {
	rename := map[string]string{}
	for _, id := range defined {
		if !strings.HasPrefix(id, "@") {
			rename[id] = as + "_" + id
		}
	}
	ref := func(text string) string {
		return stepRef.ReplaceAllStringFunc(text, func(m string) string {
			if to, ok := rename[m[len(".steps."):]]; ok {
				return ".steps." + to
			}
			return m
		})
	}
	renameAll := func(l []string) []string {
		out := make([]string, len(l))
		for i, n := range l {
			if to, ok := rename[n]; ok {
				n = to
			}
			out[i] = n
		}
		return out
	}
	for _, id := range defined {
		n := c.names[id]
		n.needs = renameAll(n.needs)
		n.members = renameAll(n.members)
		if st := n.step; st != nil {
			st.Needs = renameAll(st.Needs)
			st.Title, st.Host, st.When = ref(st.Title), ref(st.Host), ref(st.When)
			for _, r := range []*ActionRef{&st.Action, st.Probe, st.Undo} {
				if r == nil {
					continue
				}
				for k, v := range r.With {
					switch v := v.(type) {
					case string:
						r.With[k] = ref(v)
					case []string:
						l := make([]string, len(v))
						for i, t := range v {
							l[i] = ref(t)
						}
						r.With[k] = l
					}
				}
			}
			if st.ForEach != nil {
				if rest, ok := strings.CutPrefix(st.ForEach.Over, "steps."); ok {
					id, tail, _ := strings.Cut(rest, ".")
					if to, ok := rename[id]; ok {
						st.ForEach.Over = "steps." + to + "." + tail
					}
				}
			}
		}
		if to, ok := rename[id]; ok {
			delete(c.names, id)
			if c.names[to] != nil {
				c.add(Diag{File: n.file, Line: n.line, Msg: fmt.Sprintf("duplicate step id %q (from as: %s)", to, as)})
				continue
			}
			c.names[to] = n
			if n.step != nil {
				n.step.ID = to
				delete(c.byID, id)
				c.byID[to] = n.step
			}
		}
	}
	group.members = renameAll(group.members)
}

// stepRef finds references to a step's outputs in a template.
var stepRef = regexp.MustCompile(`\.steps\.[a-z][a-z0-9_]*`)

func orNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// step builds one step of the DAG from its YAML.
func (c *composer) step(pf *parsedFile, i int, s stepYAML, needs []string, args map[string]string, defs *fileDefaults) *Step {
	at := fmt.Sprintf("$.steps[%d]", i)
	st := &Step{
		ID: s.ID, Title: s.Title, Needs: needs, Host: s.Host, When: s.When,
		Idempotent: s.Idempotent || s.ReadOnly, Confirm: s.Confirm, ReadOnly: s.ReadOnly,
		Args: args, File: pf.name, Line: pf.lines[at], Lines: maps.Clone(pf.linesOfStep(i)),
	}
	if st.Lines == nil {
		st.Lines = map[string]int{}
	}
	if st.Line == 0 {
		st.Line = 1
	}
	with, bad := withValues(s.With)
	for _, k := range bad {
		c.add(st.diag("with."+k, "step %q: with %s: give text or a list of text", s.ID, k))
	}
	st.Action = ActionRef{Kind: s.Action, With: mergeWith(defs.with[s.Action], with), Line: st.line("action")}
	if s.Probe != nil {
		st.Probe = c.ref(st, "probe", s.Probe.Action, s.Probe.With, defs)
		st.Probe.Host = s.Probe.Host
	}
	switch u := s.Undo; {
	case u == nil:
	case u.bareNone:
		c.add(st.diag("undo", "step %q: undo: none needs a reason: write undo: {none: \"why there is nothing to undo\"}", s.ID))
	case u.None != "":
		if u.Action != "" || len(u.With) > 0 || u.Host != "" {
			c.add(st.diag("undo", "step %q: undo: give either none or an action, not both", s.ID))
		}
		st.UndoNone = u.None
	default:
		st.Undo = c.ref(st, "undo", u.Action, u.With, defs)
		st.Undo.Host = u.Host
	}
	if s.ForEach != nil {
		st.ForEach = &ForEach{Over: s.ForEach.Over, Key: s.ForEach.Key}
		if st.ForEach.Key == "" {
			st.ForEach.Key = "name"
		}
		if p, err := wholeNumber(s.ForEach.Parallel, 1, 1000); err != nil {
			c.add(st.diag("foreach.parallel", "step %q: foreach parallel %v", s.ID, err))
		} else if p != nil {
			st.ForEach.Parallel = *p
		}
	}
	timeout, backoff := s.Timeout, s.Backoff
	retries, err := wholeNumber(s.Retries, 0, 100)
	if err != nil {
		c.add(st.diag("retries", "step %q: retries %v", s.ID, err))
	}
	if timeout == "" {
		timeout = defs.timeout
	}
	if backoff == "" {
		backoff = defs.backoff
	}
	if retries == nil {
		retries = defs.retries
	}
	if st.Timeout, err = durationOf(timeout); err != nil {
		c.add(st.diag("timeout", "step %q: timeout %v", s.ID, err))
	}
	if st.Backoff, err = durationOf(backoff); err != nil {
		c.add(st.diag("backoff", "step %q: backoff %v", s.ID, err))
	}
	if retries != nil {
		st.Retries = *retries
	}
	return st
}

// ref builds a probe or undo: without an action it is the step's own
// action, and then it inherits the step's with: and states only what
// differs.
func (c *composer) ref(st *Step, part, kind string, w map[string]any, defs *fileDefaults) *ActionRef {
	with, bad := withValues(w)
	for _, k := range bad {
		c.add(st.diag(part+".with."+k, "step %q: %s with %s: give text or a list of text", st.ID, part, k))
	}
	ref := &ActionRef{Kind: kind, Line: st.line(part)}
	if kind == "" || kind == st.Action.Kind {
		ref.Kind = st.Action.Kind
		ref.With = mergeWith(st.Action.With, with)
	} else {
		ref.With = mergeWith(defs.with[kind], with)
	}
	return ref
}

func mergeWith(base, over map[string]any) map[string]any {
	if len(base) == 0 {
		return over
	}
	out := maps.Clone(base)
	maps.Copy(out, over)
	return out
}

// resolveNeeds turns every step's needs into steps of the DAG: a left-out
// step stands for what it needed, a part for its last steps.
func (c *composer) resolveNeeds() {
	for _, st := range c.steps {
		var out []string
		seen := map[string]bool{}
		for _, n := range st.Needs {
			ids, err := c.resolve(n, nil)
			if err != nil {
				if strings.HasPrefix(n, "@start") {
					continue // reported where the include's needs are
				}
				c.add(st.diag("needs", "step %q needs %q, %v", st.ID, n, err))
				continue
			}
			for _, id := range ids {
				if !seen[id] {
					seen[id] = true
					out = append(out, id)
				}
			}
		}
		st.Needs = out
	}
}

func (c *composer) resolve(name string, path []string) ([]string, error) {
	n := c.names[name]
	if n == nil {
		var ids []string
		for id := range c.names {
			if !strings.HasPrefix(id, "@") {
				ids = append(ids, id)
			}
		}
		if near := nearest(name, ids); near != "" {
			return nil, fmt.Errorf("which is not a step of this playbook (did you mean %q?)", near)
		}
		return nil, errors.New("which is not a step of this playbook")
	}
	if n.step != nil {
		return []string{name}, nil
	}
	switch n.state {
	case 2:
		return n.resolved, nil
	case 1:
		return nil, fmt.Errorf("which needs itself: %s", strings.Join(append(path, name), " -> "))
	}
	n.state = 1
	var out []string
	add := func(ids []string) {
		for _, id := range ids {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	if n.part && len(n.members) > 0 {
		// The part's last steps: those no other step of the part needs.
		inner := map[string]bool{}
		for _, m := range n.members {
			for _, need := range c.byID[m].Needs {
				ids, err := c.resolve(need, append(path, name))
				if err != nil {
					continue
				}
				for _, id := range ids {
					inner[id] = true
				}
			}
		}
		for _, m := range n.members {
			if !inner[m] {
				out = append(out, m)
			}
		}
	} else {
		for _, need := range n.needs {
			ids, err := c.resolve(need, append(path, name))
			if err != nil {
				n.state = 0
				if strings.HasPrefix(name, "@start") {
					c.add(Diag{File: n.file, Line: n.line, Msg: fmt.Sprintf("include needs %q, %v", need, err)})
					n.state = 2
					continue
				}
				return nil, err
			}
			add(ids)
		}
	}
	n.state, n.resolved = 2, out
	return out, nil
}
