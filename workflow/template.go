package workflow

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
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
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", cleanTemplateErr(err)
	}
	return b.String(), nil
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
	t, err := template.New("t").Funcs(funcs).Funcs(template.FuncMap{"secret": func(string) string { return "" }}).Parse(text)
	if err != nil {
		return nil, err
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
