package workflow

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// Mask is what a secret looks like wherever people or the journal see it.
const Mask = "********"

// Secrets gives secret values by name. Names are declared by the
// inventory; values come from files or the environment at run time.
type Secrets interface {
	Secret(name string) (string, error)
	// Has tells whether a secret of that name is declared, without
	// reading it (validation uses it).
	Has(name string) bool
}

// renderer expands the templates in a playbook. Templates are Go
// text/template with missingkey=error, so an undefined value is an error,
// never an empty string.
type renderer struct {
	funcs   template.FuncMap
	secrets Secrets
}

// render expands text. With mask, secrets render as Mask; otherwise their
// values are returned and recorded in used.
func (r *renderer) render(text string, data map[string]any, mask bool, used *[]string) (string, error) {
	if !strings.Contains(text, "{{") {
		return text, nil
	}
	funcs := template.FuncMap{
		"secret": func(name string) (string, error) {
			if r.secrets == nil {
				return "", fmt.Errorf("secret %q: no secret source configured", name)
			}
			if mask {
				if !r.secrets.Has(name) {
					return "", fmt.Errorf("secret %q is not declared in the inventory's secrets", name)
				}
				return Mask, nil
			}
			v, err := r.secrets.Secret(name)
			if err != nil {
				return "", err
			}
			if used != nil && v != "" {
				*used = append(*used, v)
			}
			return v, nil
		},
	}
	t := template.New("").Option("missingkey=error").Funcs(r.funcs).Funcs(funcs)
	t, err := t.Parse(text)
	if err != nil {
		return "", cleanParseErr(err)
	}
	if c := templateCost(t); c > maxTemplateCost {
		return "", errTemplateTooCostly
	}
	return execBounded(t, data)
}

// maxTemplateCost bounds how much work a template may ask for, counted
// before it runs (see templateCost): a million actions and text pieces,
// some 0.1 s.
const maxTemplateCost = 1e6

var errTemplateTooCostly = fmt.Errorf("template would render more than %.0f pieces: check its loops (range) and nested template calls", float64(maxTemplateCost))

// templateCost estimates the pieces (text, actions) rendering t takes: a
// range over a number repeats its body that many times, a template call
// costs what the template it calls costs. A range over data counts once
// (the data is bounded); a template that calls itself counts as too
// costly. It catches, before they run, the loops and doubling chains of
// define/template that would otherwise spin without writing.
func templateCost(t *template.Template) float64 {
	memo := map[string]float64{}
	busy := map[string]bool{}
	var ofTemplate func(name string) float64
	var of func(n parse.Node) float64
	ofTemplate = func(name string) float64 {
		if c, ok := memo[name]; ok {
			return c
		}
		if busy[name] {
			return math.Inf(1)
		}
		d := t.Lookup(name)
		if d == nil || d.Tree == nil {
			return 1
		}
		busy[name] = true
		c := of(d.Tree.Root)
		busy[name] = false
		memo[name] = c
		return c
	}
	of = func(n parse.Node) float64 {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return 0
			}
			c := 0.0
			for _, x := range n.Nodes {
				c += of(x)
			}
			return c
		case *parse.IfNode:
			return 1 + max(of(n.List), of(n.ElseList))
		case *parse.WithNode:
			return 1 + max(of(n.List), of(n.ElseList))
		case *parse.RangeNode:
			times := 1.0
			if p := n.Pipe; p != nil && len(p.Cmds) == 1 && len(p.Cmds[0].Args) == 1 {
				if num, ok := p.Cmds[0].Args[0].(*parse.NumberNode); ok && num.IsInt {
					times = float64(max(num.Int64, 1))
				}
			}
			return 1 + times*(1+of(n.List)) + of(n.ElseList)
		case *parse.TemplateNode:
			return 1 + ofTemplate(n.Name)
		}
		return 1
	}
	return of(t.Tree.Root)
}

// Bounds on rendering one template, at validate and at run time: a
// template is a few lines of a command, never megabytes, and renders in
// microseconds. Loops (range 100000) and doubling define/template chains
// stop at these instead of eating the machine.
const (
	maxTemplateOutput = 1 << 20
	maxTemplateTime   = 2 * time.Second
)

// boundedWriter collects a template's output up to maxTemplateOutput and
// until its deadline.
type boundedWriter struct {
	b        strings.Builder
	deadline time.Time
}

var (
	errTemplateTooBig  = fmt.Errorf("template output is more than %d bytes (1 MiB): check its loops (range) and nested template calls", maxTemplateOutput)
	errTemplateTooSlow = fmt.Errorf("template took more than %s to render: check its loops (range) and nested template calls", maxTemplateTime)
)

func (w *boundedWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > maxTemplateOutput {
		return 0, errTemplateTooBig
	}
	if time.Now().After(w.deadline) {
		return 0, errTemplateTooSlow
	}
	return w.b.Write(p)
}

// execBounded executes t within the bounds. A template that loops without
// writing is left to finish on its own (text/template cannot be stopped)
// while the caller gets the error.
func execBounded(t *template.Template, data any) (string, error) {
	w := &boundedWriter{deadline: time.Now().Add(maxTemplateTime)}
	done := make(chan error, 1)
	go func() { done <- t.Execute(w, data) }()
	timer := time.NewTimer(maxTemplateTime)
	defer timer.Stop()
	select {
	case err := <-done:
		switch {
		case errors.Is(err, errTemplateTooBig):
			return "", errTemplateTooBig
		case errors.Is(err, errTemplateTooSlow):
			return "", errTemplateTooSlow
		case err != nil:
			return "", cleanTemplateErr(err)
		}
		return w.b.String(), nil
	case <-timer.C:
		return "", errTemplateTooSlow
	}
}

// parseErrPrefix is text/template's "template: NAME:LINE: " before a
// parse error, which names its internal template, not the playbook's.
var parseErrPrefix = regexp.MustCompile(`^template: [^:]*:\d+: `)

// cleanParseErr says a template's parse error without text/template's
// prefix: "function \"nofunc\" not defined".
func cleanParseErr(err error) error {
	return fmt.Errorf("template: %s", parseErrPrefix.ReplaceAllString(err.Error(), ""))
}

// cleanTemplateErr drops text/template's "template: :1:7: executing \"\" at
// <...>:" noise down to what the operator needs.
func cleanTemplateErr(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "at <"); i >= 0 {
		msg = msg[i+3:]
	}
	return fmt.Errorf("%s", msg)
}

// fieldRefs returns the field chains a template uses on its data, e.g.
// [["steps","backup","out","timestamp"], ["inv","primary"]]. Fields inside
// range and with bodies refer to their element, not the data, and are left
// to the dry render.
func fieldRefs(text string, funcs template.FuncMap) ([][]string, error) {
	if !strings.Contains(text, "{{") {
		return nil, nil
	}
	// Parse through text/template, not parse.Parse, so that its builtins
	// (eq, ne, and, or, not, len, index, printf, ...) are known.
	t, err := template.New("").Funcs(funcs).Funcs(template.FuncMap{"secret": func(string) string { return "" }}).Parse(text)
	if err != nil {
		return nil, cleanParseErr(err)
	}
	var refs [][]string
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			// index .steps.ID.out "KEY" reads the same value as
			// .steps.ID.out.KEY.
			if len(n.Args) >= 3 {
				if id, ok := n.Args[0].(*parse.IdentifierNode); ok && id.Ident == "index" {
					if f, ok := n.Args[1].(*parse.FieldNode); ok {
						ref := slices.Clone(f.Ident)
						for _, a := range n.Args[2:] {
							s, ok := a.(*parse.StringNode)
							if !ok {
								break
							}
							ref = append(ref, s.Text)
						}
						refs = append(refs, ref)
					}
				}
			}
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.FieldNode:
			refs = append(refs, n.Ident)
		case *parse.ChainNode:
			walk(n.Node)
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe) // the body's dot is an element, not the data
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe) // likewise
			walk(n.ElseList)
		}
	}
	for _, t := range t.Templates() {
		if t.Tree != nil {
			walk(t.Tree.Root)
		}
	}
	return refs, nil
}

// lookupPath follows a dotted path ("inv.groups.service_nodes") through
// nested maps.
func lookupPath(data map[string]any, path string) (any, error) {
	var cur any = data
	for _, part := range strings.Split(path, ".") {
		switch m := cur.(type) {
		case map[string]any:
			v, ok := m[part]
			if !ok {
				return nil, fmt.Errorf("%s: no %q", path, part)
			}
			cur = v
		case map[string]string:
			v, ok := m[part]
			if !ok {
				return nil, fmt.Errorf("%s: no %q", path, part)
			}
			cur = v
		default:
			return nil, fmt.Errorf("%s: %q is not a map", path, part)
		}
	}
	return cur, nil
}

// asItems turns a list from the data (strings or maps) into fan-out items.
// A plain string s becomes {"name": s}.
func asItems(v any) ([]map[string]string, error) {
	switch l := v.(type) {
	case []map[string]string:
		return l, nil
	case []string:
		out := make([]map[string]string, len(l))
		for i, s := range l {
			out[i] = map[string]string{"name": s}
		}
		return out, nil
	case []any:
		out := make([]map[string]string, 0, len(l))
		for _, e := range l {
			switch e := e.(type) {
			case string:
				out = append(out, map[string]string{"name": e})
			case map[string]string:
				out = append(out, e)
			case map[string]any:
				m := make(map[string]string, len(e))
				for k, v := range e {
					m[k] = fmt.Sprint(v)
				}
				out = append(out, m)
			default:
				return nil, fmt.Errorf("list element %v (%T) is neither a name nor a map", e, e)
			}
		}
		return out, nil
	case nil:
		return nil, nil
	case map[string]any, map[string]string:
		return nil, errors.New("it is a map, not a list")
	}
	return nil, fmt.Errorf("%v is not a list", v)
}
