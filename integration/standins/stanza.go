package standins

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Object is one xCAT object definition: a name and its attributes.
type Object struct {
	Name  string
	Attrs map[string]string // includes "objtype"
}

// Type is the object's objtype attribute.
func (o Object) Type() string { return o.Attrs["objtype"] }

// SortedAttrs returns the attribute names except objtype, sorted, as lsdef
// prints them.
func (o Object) SortedAttrs() []string {
	keys := make([]string, 0, len(o.Attrs))
	for k := range o.Attrs {
		if k != "objtype" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// ParseStanzas reads an xCAT stanza file ("NAME:" lines followed by
// indented "attr=value" lines; '#' starts a comment line), keeping the
// file's order.
func ParseStanzas(r io.Reader) ([]Object, error) {
	var objs []Object
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasSuffix(line, ":") && !strings.Contains(line, "="):
			objs = append(objs, Object{Name: strings.TrimSuffix(line, ":"), Attrs: map[string]string{}})
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || len(objs) == 0 || raw == line {
				return nil, fmt.Errorf("stanza line %d: expected indented attr=value under an object name: %q", n, raw)
			}
			objs[len(objs)-1].Attrs[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return objs, sc.Err()
}
