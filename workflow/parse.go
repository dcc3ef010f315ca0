package workflow

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// fileYAML is one file as written: a procedure (with params) or a part
// (with args), before composition.
type fileYAML struct {
	Name        string        `yaml:"name"`
	Description string        `yaml:"description"`
	Params      []paramYAML   `yaml:"params"`
	Args        []paramYAML   `yaml:"args"`
	Defaults    *defaultsYAML `yaml:"defaults"`
	Steps       []stepYAML    `yaml:"steps"`
}

type paramYAML struct {
	Name        string  `yaml:"name"`
	Description string  `yaml:"description"`
	Default     *string `yaml:"default"`
}

// defaultsYAML are the values a file's steps (and the parts it includes)
// take unless they say otherwise.
type defaultsYAML struct {
	Timeout string                    `yaml:"timeout"`
	Retries any                       `yaml:"retries"`
	Backoff string                    `yaml:"backoff"`
	With    map[string]map[string]any `yaml:"with"` // per action kind
}

type stepYAML struct {
	ID      string   `yaml:"id"`
	Title   string   `yaml:"title"`
	Needs   []string `yaml:"needs"`
	Host    string   `yaml:"host"`
	When    string   `yaml:"when"`
	If      string   `yaml:"if"`
	Include string   `yaml:"include"`
	As      string   `yaml:"as"` // an include's prefix for its steps' ids

	Action     string         `yaml:"action"`
	With       map[string]any `yaml:"with"`
	Probe      *refYAML       `yaml:"probe"`
	Undo       *undoYAML      `yaml:"undo"`
	Idempotent bool           `yaml:"idempotent"`
	Confirm    bool           `yaml:"confirm"`
	ReadOnly   bool           `yaml:"readonly"`
	Timeout    string         `yaml:"timeout"`
	Retries    any            `yaml:"retries"`
	Backoff    string         `yaml:"backoff"`
	ForEach    *struct {
		Over     string `yaml:"over"`
		Key      string `yaml:"key"`
		Parallel any    `yaml:"parallel"`
	} `yaml:"foreach"`
}

type refYAML struct {
	Action string         `yaml:"action"`
	Host   string         `yaml:"host"`
	With   map[string]any `yaml:"with"`
}

// undoYAML is an undo action, or {none: why}. A bare "none" is kept to be
// refused with a hint.
type undoYAML struct {
	Action   string         `yaml:"action"`
	Host     string         `yaml:"host"`
	With     map[string]any `yaml:"with"`
	None     string         `yaml:"none"`
	bareNone bool
}

func (u *undoYAML) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err == nil {
		if s == "none" {
			u.bareNone = true
			return nil
		}
		return fmt.Errorf("undo: %q: give {action: ..., with: ...}, or {none: \"why there is nothing to undo\"}", s)
	}
	type plain undoYAML
	var p plain
	if err := unmarshal(&p); err != nil {
		return err
	}
	*u = undoYAML(p)
	return nil
}

// parsedFile is one file, decoded, with the line of every key.
type parsedFile struct {
	name  string
	text  []byte
	raw   fileYAML
	lines map[string]int // "$.steps[3].with.cmd" -> line

	stepLines map[int]map[string]int // built on first use: 3 -> "with.cmd" -> line
}

// linesOfStep returns the lines of the keys of step i, by their path under
// it ("with.cmd"). The index is built in one pass over the file's keys, so
// that composing costs time linear in the size of the file.
func (pf *parsedFile) linesOfStep(i int) map[string]int {
	if pf.stepLines == nil {
		pf.stepLines = map[int]map[string]int{}
		for k, l := range pf.lines {
			rest, ok := strings.CutPrefix(k, "$.steps[")
			if !ok {
				continue
			}
			num, field, ok := strings.Cut(rest, "].")
			if !ok {
				continue
			}
			n, err := strconv.Atoi(num)
			if err != nil {
				continue
			}
			m := pf.stepLines[n]
			if m == nil {
				m = map[string]int{}
				pf.stepLines[n] = m
			}
			m[field] = l
		}
	}
	return pf.stepLines[i]
}

// Limits on what a file may be, checked before the YAML parser's work.
const (
	// 1 MiB is some 20,000 steps. The YAML parser allocates some 250
	// bytes per byte of input: a 4 MiB file took 7 s and 680 MB to
	// validate, a 1 MiB one stays within 2 s and 200 MB.
	maxFileSize = 1 << 20
	maxDepth    = 64
)

// CheckYAMLBounds refuses, before any YAML parser's work (which grows
// faster than the text), a file of more than 1 MiB or nested more than 64
// levels deep. what names the kind of file in the message.
func CheckYAMLBounds(name, what string, text []byte) error {
	if len(text) > maxFileSize {
		return Diagnostics{{File: name, Msg: fmt.Sprintf("%d bytes: %s may be at most %d (1 MiB)", len(text), what, maxFileSize)}}
	}
	if line := tooDeep(text, maxDepth); line > 0 {
		return Diagnostics{{File: name, Line: line, Msg: fmt.Sprintf("nested more than %d levels deep", maxDepth)}}
	}
	return nil
}

// parseFile decodes one playbook or part file.
func parseFile(name string, text []byte) (*parsedFile, error) {
	if err := CheckYAMLBounds(name, "a playbook or part", text); err != nil {
		if len(text) > maxFileSize {
			return nil, Diagnostics{{File: name, Msg: fmt.Sprintf("%d bytes: a playbook or part may be at most %d (1 MiB); split it into parts (include:)", len(text), maxFileSize)}}
		}
		return nil, err
	}
	f, err := parser.ParseBytes(text, 0)
	if err != nil {
		return nil, Diagnostics{yamlDiag(name, err)}
	}
	pf := &parsedFile{name: name, text: text, lines: map[string]int{}}
	for _, d := range f.Docs {
		if d.Body != nil {
			indexLines(d.Body, "$", pf.lines)
		}
	}
	if diags := unknownKeys(name, docBody(f), reflect.TypeFor[fileYAML]()); len(diags) > 0 {
		return nil, diags
	}
	if err := yaml.NodeToValue(docBody(f), &pf.raw, yaml.Strict()); err != nil {
		return nil, Diagnostics{pf.typeDiag(yamlDiag(name, err))}
	}
	return pf, nil
}

func docBody(f *ast.File) ast.Node {
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return &ast.NullNode{BaseNode: &ast.BaseNode{}}
	}
	return f.Docs[0].Body
}

// tooDeep returns the line where text nests flow or block structure more
// than limit levels deep, or 0. It looks at indentation and brackets only,
// in one pass, so a hostile file costs no more than its size.
func tooDeep(text []byte, limit int) int {
	line, flow := 1, 0
	indents := []int{}
	col, atStart := 0, true
	for _, c := range text {
		switch {
		case c == '\n':
			line++
			col, atStart = 0, true
			continue
		case atStart && c == ' ':
			col++
			continue
		case atStart && c == '-':
			col++ // "- - - x" nests sequences on one line
			continue
		}
		if atStart {
			atStart = false
			for len(indents) > 0 && indents[len(indents)-1] >= col {
				indents = indents[:len(indents)-1]
			}
			indents = append(indents, col)
		}
		switch c {
		case '[', '{':
			flow++
		case ']', '}':
			flow = max(flow-1, 0)
		}
		if len(indents)+flow > limit {
			return line
		}
	}
	return 0
}

// indexLines records the line of every mapping key and sequence element
// under n, by path.
func indexLines(n ast.Node, path string, lines map[string]int) {
	switch n := n.(type) {
	case *ast.MappingNode:
		for _, v := range n.Values {
			indexLines(v, path, lines)
		}
	case *ast.MappingValueNode:
		k := strings.Trim(n.Key.String(), `"'`)
		p := path + "." + k
		if tk := n.Key.GetToken(); tk != nil && tk.Position != nil {
			lines[p] = tk.Position.Line
		}
		indexLines(n.Value, p, lines)
	case *ast.SequenceNode:
		for i, v := range n.Values {
			p := fmt.Sprintf("%s[%d]", path, i)
			if tk := v.GetToken(); tk != nil && tk.Position != nil {
				lines[p] = tk.Position.Line
			}
			indexLines(v, p, lines)
		}
	case *ast.AnchorNode:
		indexLines(n.Value, path, lines)
	case *ast.TagNode:
		indexLines(n.Value, path, lines)
	}
}

func yamlDiag(file string, err error) Diag {
	var se yaml.Error
	if errors.As(err, &se) {
		if tk := se.GetToken(); tk != nil && tk.Position != nil {
			return Diag{File: file, Line: tk.Position.Line, Msg: cleanYAMLMessage(se.GetMessage())}
		}
	}
	return Diag{File: file, Msg: cleanYAMLMessage(err.Error())}
}

// typeDiag names, in a type error, the key at its line (the decoder names
// a Go field, or none) and says the types in the playbook's words: e.g.
// "needs: a number where a list is expected".
func (pf *parsedFile) typeDiag(d Diag) Diag {
	// The outermost key of the line: {a: 1} given for params: is params'.
	key, depth := "", 0
	for p, l := range pf.lines {
		if l != d.Line || strings.HasSuffix(p, "]") {
			continue
		}
		if n := strings.Count(p, "."); key == "" || n < depth || n == depth && p < key {
			key, depth = p, n
		}
	}
	if key == "" {
		return d
	}
	key = key[strings.LastIndexByte(key, '.')+1:]
	words := map[string]string{"int": "a number", "uint": "a number", "float": "a number", "bool": "true or false", "string": "text", "sequence": "a list", "mapping": "a mapping (key: value)", "null": "nothing"}
	if m := typeErrRe.FindStringSubmatch(d.Msg); m != nil && words[m[1]] != "" && words[m[2]] != "" {
		d.Msg = fmt.Sprintf("%s: %s where %s is expected", key, words[m[1]], words[m[2]])
	} else if _, want, ok := strings.Cut(d.Msg, "wrong type here, "); ok {
		d.Msg = key + ": wrong type here, " + want
	}
	return d
}

// typeErrRe is the decoder's "int was used where sequence is expected".
var typeErrRe = regexp.MustCompile(`^(\w+) was used where (\w+) is expected`)

// cleanYAMLMessage says a decoding error in the playbook's words, not Go's
// ("cannot unmarshal string into Go struct field stepYAML.Steps.retries of
// type int").
func cleanYAMLMessage(msg string) string {
	if i := strings.Index(msg, "Go struct field "); i >= 0 {
		rest := msg[i+len("Go struct field "):]
		field, typ, _ := strings.Cut(rest, " of type ")
		if j := strings.LastIndexByte(field, '.'); j >= 0 {
			field = field[j+1:]
		}
		what := map[string]string{"int": "a whole number", "string": "text", "bool": "true or false", "[]string": "a list"}[strings.TrimPrefix(typ, "*")]
		if what == "" {
			what = "something else"
		}
		return fmt.Sprintf("%s: wrong type here, want %s", strings.ToLower(field), what)
	}
	return msg
}

// withValues turns a decoded `with:` mapping into text and lists of text.
func withValues(m map[string]any) (map[string]any, []string) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]any, len(m))
	var bad []string
	for k, v := range m {
		switch v := v.(type) {
		case []any:
			l := make([]string, 0, len(v))
			for _, e := range v {
				s, ok := scalarText(e)
				if !ok {
					bad = append(bad, k)
					break
				}
				l = append(l, s)
			}
			out[k] = l
		case []string:
			out[k] = v
		default:
			s, ok := scalarText(v)
			if !ok {
				bad = append(bad, k)
				continue
			}
			out[k] = s
		}
	}
	return out, bad
}

func scalarText(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", true
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case int:
		return strconv.Itoa(v), true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatInt(int64(v), 10), true
		}
		return strconv.FormatFloat(v, 'g', -1, 64), true
	}
	return "", false
}

// durationOf parses a duration field; "" is zero.
func durationOf(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (use e.g. 30s, 5m)", s)
	}
	return d, nil
}

// wholeNumber reads a YAML number field that must be a whole number in
// [lo, hi]; nil is not given.
func wholeNumber(v any, lo, hi int) (*int, error) {
	var n int64
	switch v := v.(type) {
	case nil:
		return nil, nil
	case int64:
		n = v
	case uint64:
		if v > math.MaxInt32 {
			return nil, fmt.Errorf("%d: give %d to %d", v, lo, hi)
		}
		n = int64(v)
	case int:
		n = int64(v)
	default:
		return nil, fmt.Errorf("%v: give a whole number, %d to %d", v, lo, hi)
	}
	if n < int64(lo) || n > int64(hi) {
		return nil, fmt.Errorf("%d: give %d to %d", n, lo, hi)
	}
	i := int(n)
	return &i, nil
}

// unknownKeys reports every key under n that the type t it decodes into
// does not have, in the file's order, with the keys it does have: all at
// once, where the strict decoder stops at one (and not always the same
// one: it walks Go maps).
func unknownKeys(file string, n ast.Node, t reflect.Type) Diagnostics {
	var diags Diagnostics
	var walk func(n ast.Node, t reflect.Type)
	walk = func(n ast.Node, t reflect.Type) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch v := n.(type) {
		case *ast.AnchorNode:
			walk(v.Value, t)
			return
		case *ast.TagNode:
			walk(v.Value, t)
			return
		}
		switch t.Kind() {
		case reflect.Slice:
			if seq, ok := n.(*ast.SequenceNode); ok {
				for _, e := range seq.Values {
					walk(e, t.Elem())
				}
			}
		case reflect.Struct:
			var pairs []*ast.MappingValueNode
			switch m := n.(type) {
			case *ast.MappingNode:
				pairs = m.Values
			case *ast.MappingValueNode:
				pairs = []*ast.MappingValueNode{m}
			default:
				return // not a mapping: the decoder says what it should be
			}
			fields := map[string]reflect.StructField{}
			var names []string
			for i := range t.NumField() {
				f := t.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				if name == "" || name == "-" || !f.IsExported() {
					continue
				}
				fields[name] = f
				names = append(names, name)
			}
			for _, p := range pairs {
				key := strings.Trim(p.Key.String(), `"'`)
				f, ok := fields[key]
				if !ok {
					line := 0
					if tk := p.Key.GetToken(); tk != nil && tk.Position != nil {
						line = tk.Position.Line
					}
					diags = append(diags, Diag{File: file, Line: line, Msg: fmt.Sprintf("unknown field %q%s (known here: %s)", key, didYouMean(key, names), strings.Join(names, ", "))})
					continue
				}
				walk(p.Value, f.Type)
			}
		}
	}
	walk(n, t)
	return diags
}

// didYouMean is ` (did you mean "X"?)` for the likely typo s of X, or "".
func didYouMean(s string, names []string) string {
	if n := nearest(s, names); n != "" {
		return fmt.Sprintf(" (did you mean %q?)", n)
	}
	return ""
}
