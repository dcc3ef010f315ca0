package workflow

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// An action's arguments are a struct whose exported fields carry an `arg`
// tag: the key of `with:` and, after a comma, "required". A `oneof` tag
// lists the values a string may take, separated by |. A field's zero
// value is its default unless the action's NewArgs sets another.
//
//	type ServiceArgs struct {
//		Service string `arg:"service,required"`
//		State   string `arg:"state" oneof:"running|stopped|restarted"`
//		Enabled *bool  `arg:"enabled"` // nil: leave as it is
//	}
//
// Values are text (templates render to text) or lists of text. They
// convert the same way for every action: bool is true or false only, int
// is a decimal number, time.Duration is Go's duration syntax (30s, 5m),
// []string is a YAML list or one line per element, *T is "not given" when
// absent.

// ArgField describes one argument of an action.
type ArgField struct {
	Name     string
	Required bool
	Type     string   // "text", "true or false", "number", "duration (e.g. 30s)", "list"
	OneOf    []string // allowed values, if limited
	index    []int
}

// ArgSpec is the argument list of an action, read from its struct.
type ArgSpec struct {
	Fields []ArgField
	byName map[string]*ArgField
}

// Names lists the argument names in declaration order.
func (s *ArgSpec) Names() []string {
	out := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		out[i] = f.Name
	}
	return out
}

// Field returns the argument of that name, or nil.
func (s *ArgSpec) Field(name string) *ArgField { return s.byName[name] }

var specCache sync.Map // reflect.Type -> *ArgSpec

var durationType = reflect.TypeOf(time.Duration(0))

// SpecOf reads the argument list of an argument struct (or a pointer to
// one). It panics on a struct it cannot decode into: that is a bug in the
// action, found by its package's tests.
func SpecOf(args any) *ArgSpec {
	t := reflect.TypeOf(args)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s, ok := specCache.Load(t); ok {
		return s.(*ArgSpec)
	}
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("workflow: action arguments %v are not a struct", t))
	}
	spec := &ArgSpec{byName: map[string]*ArgField{}}
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			idx := append(slices.Clone(index), i)
			if sf.Anonymous && sf.Type.Kind() == reflect.Struct && sf.Tag.Get("arg") == "" {
				walk(sf.Type, idx) // shared arguments, embedded
				continue
			}
			tag := sf.Tag.Get("arg")
			if tag == "" || tag == "-" || !sf.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			f := ArgField{Name: name, Required: opts == "required", index: idx, Type: typeName(sf.Type)}
			if f.Type == "" {
				panic(fmt.Sprintf("workflow: argument %s of %v has type %v, which with: cannot give", name, t, sf.Type))
			}
			if o := sf.Tag.Get("oneof"); o != "" {
				f.OneOf = strings.Split(o, "|")
			}
			if spec.byName[name] != nil {
				panic(fmt.Sprintf("workflow: argument %s of %v is declared twice", name, t))
			}
			spec.Fields = append(spec.Fields, f)
			spec.byName[name] = &spec.Fields[len(spec.Fields)-1]
		}
	}
	walk(t, nil)
	// byName points into Fields; rebuild now that the slice is final.
	for i := range spec.Fields {
		spec.byName[spec.Fields[i].Name] = &spec.Fields[i]
	}
	specCache.Store(t, spec)
	return spec
}

func typeName(t reflect.Type) string {
	if t == durationType {
		return "duration (e.g. 30s)"
	}
	switch t.Kind() {
	case reflect.String:
		return "text"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "number"
	case reflect.Float64:
		return "number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return "list"
		}
	case reflect.Pointer:
		return typeName(t.Elem())
	}
	return ""
}

// ArgError is a problem with one argument.
type ArgError struct {
	Arg string
	Msg string
}

func (e *ArgError) Error() string { return e.Msg }

// DecodeArgs fills dst, a pointer to an argument struct, from with:
// values (string or []string). It reports every unknown key, missing
// required argument and value of the wrong type, each as an *ArgError.
// Keys in unknown are known only at run time: they are checked for
// existence but not converted.
func DecodeArgs(dst any, vals map[string]any, unknown map[string]bool) []error {
	spec := SpecOf(dst)
	v := reflect.ValueOf(dst).Elem()
	var errs []error
	for _, k := range sortedKeys(vals) {
		f := spec.byName[k]
		if f == nil {
			errs = append(errs, &ArgError{Arg: k, Msg: unknownArg(spec, k)})
			continue
		}
		if unknown[k] {
			// Known at run time only: text keeps its placeholder (plans
			// show it); other types are checked when the value is known.
			fv := v.FieldByIndex(f.index)
			if f.Type == "text" || f.Type == "list" {
				loose := *f
				loose.OneOf = nil
				setField(fv, &loose, vals[k])
			}
			continue
		}
		if err := setField(v.FieldByIndex(f.index), f, vals[k]); err != nil {
			errs = append(errs, &ArgError{Arg: k, Msg: fmt.Sprintf("argument %s: %v", k, err)})
		}
	}
	for _, f := range spec.Fields {
		if _, ok := vals[f.Name]; f.Required && !ok {
			errs = append(errs, &ArgError{Arg: f.Name, Msg: fmt.Sprintf("needs argument %q", f.Name)})
		}
	}
	return errs
}

func unknownArg(spec *ArgSpec, k string) string { return UnknownArg(k, spec.Names()) }

// UnknownArg says that an action has no argument k, and which it has.
func UnknownArg(k string, names []string) string {
	if len(names) == 0 {
		return fmt.Sprintf("has no argument %q: it takes none", k)
	}
	if near := nearest(k, names); near != "" {
		return fmt.Sprintf("has no argument %q (did you mean %q? it takes: %s)", k, near, strings.Join(names, ", "))
	}
	return fmt.Sprintf("has no argument %q (it takes: %s)", k, strings.Join(names, ", "))
}

func setField(fv reflect.Value, f *ArgField, raw any) error {
	if fv.Kind() == reflect.Pointer {
		p := reflect.New(fv.Type().Elem())
		if err := setField(p.Elem(), f, raw); err != nil {
			return err
		}
		fv.Set(p)
		return nil
	}
	if fv.Kind() == reflect.Slice {
		var list []string
		switch r := raw.(type) {
		case []string:
			list = r
		case string:
			for _, l := range strings.Split(r, "\n") {
				if l = strings.TrimSpace(l); l != "" {
					list = append(list, l)
				}
			}
		}
		fv.Set(reflect.ValueOf(list))
		return nil
	}
	s, ok := raw.(string)
	if !ok {
		return fmt.Errorf("is a list; give one value (%s)", f.Type)
	}
	switch {
	case fv.Type() == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || d < 0 {
			return fmt.Errorf("%q is not a duration (use e.g. 30s, 5m)", s)
		}
		fv.SetInt(int64(d))
	case fv.Kind() == reflect.String:
		if len(f.OneOf) > 0 && !slices.Contains(f.OneOf, s) {
			return fmt.Errorf("%q is not one of %s", s, strings.Join(f.OneOf, ", "))
		}
		fv.SetString(s)
	case fv.Kind() == reflect.Bool:
		switch strings.TrimSpace(s) {
		case "true":
			fv.SetBool(true)
		case "false":
			fv.SetBool(false)
		default:
			return fmt.Errorf("%q is not a boolean: use true or false", s)
		}
	case fv.Kind() == reflect.Int || fv.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		fv.SetInt(n)
	case fv.Kind() == reflect.Float64:
		n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		fv.SetFloat(n)
	}
	return nil
}

// nearest returns the candidate closest to s by edit distance, if it is
// close enough to be a likely typo.
func nearest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD || (d == bestD && strings.HasPrefix(c, s)) {
			best, bestD = c, d
		}
	}
	if bestD > max(2, len(s)/3) && !strings.HasPrefix(best, s) {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
