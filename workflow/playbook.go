// Package workflow is hamnflow's engine: playbooks as DAGs of steps, their
// validation, scheduling with a parallel bound, fan-out, confirmations,
// resume of interrupted runs, retry and rollback. Every step transition is
// written to the journal before the engine acts on it.
//
// The engine knows nothing of SSH, databases or xCAT: steps name actions,
// and the caller supplies the actions.
package workflow

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Playbook is a named DAG of steps, parsed from YAML.
type Playbook struct {
	Name        string
	Description string
	Params      []Param
	Steps       []*Step

	File  string // where it was read from, for messages
	Text  []byte // the exact text it was parsed from
	lines lineIndex
}

// Param is a value the playbook needs from the command line (--set
// name=value) or its default.
type Param struct {
	Name        string
	Description string
	Default     *string
	Line        int
}

// Step is one node of the DAG.
type Step struct {
	ID         string
	Title      string
	Needs      []string
	Host       string // template; "" or "local" runs on this machine
	When       string // template; a step whose When renders "false" or "" is skipped
	Action     ActionRef
	Probe      *ActionRef // read-only check: succeeds when the step's effect is in place
	Undo       *ActionRef
	Idempotent bool
	Confirm    bool // always ask an operator before it runs
	// ReadOnly steps only look (checks, status reads): rollback passes
	// over them, and one that may have half-run is simply run again.
	ReadOnly bool
	Timeout  time.Duration
	Retries  int
	Backoff  time.Duration
	ForEach  *ForEach

	Line int
}

// ActionRef names an action and its arguments (templates).
type ActionRef struct {
	Kind string
	With map[string]string
	Line int
}

// ForEach fans a step out: one child per item of a list, each journaled on
// its own. Over is a dotted path into the run's data, e.g.
// "inv.groups.service_nodes" or "steps.list_osimages.items".
type ForEach struct {
	Over     string
	Key      string // item field that names a child; default "name"
	Parallel int    // bound for the children; default the engine's
}

// yaml shapes, kept apart from the model so the model stays plain.
type playbookYAML struct {
	Name        string      `yaml:"name"`
	Description string      `yaml:"description"`
	Params      []paramYAML `yaml:"params"`
	Steps       []stepYAML  `yaml:"steps"`
}

type paramYAML struct {
	Name        string  `yaml:"name"`
	Description string  `yaml:"description"`
	Default     *string `yaml:"default"`
}

type actionYAML struct {
	Action string            `yaml:"action"`
	With   map[string]string `yaml:"with"`
}

type stepYAML struct {
	ID         string            `yaml:"id"`
	Title      string            `yaml:"title"`
	Needs      []string          `yaml:"needs"`
	Host       string            `yaml:"host"`
	When       string            `yaml:"when"`
	Action     string            `yaml:"action"`
	With       map[string]string `yaml:"with"`
	Probe      *actionYAML       `yaml:"probe"`
	Undo       *actionYAML       `yaml:"undo"`
	Idempotent bool              `yaml:"idempotent"`
	Confirm    bool              `yaml:"confirm"`
	ReadOnly   bool              `yaml:"readonly"`
	Timeout    string            `yaml:"timeout"`
	Retries    int               `yaml:"retries"`
	Backoff    string            `yaml:"backoff"`
	ForEach    *struct {
		Over     string `yaml:"over"`
		Key      string `yaml:"key"`
		Parallel int    `yaml:"parallel"`
	} `yaml:"foreach"`
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Parse reads a playbook. Structural errors (bad YAML, unknown fields, bad
// durations) are returned as Diagnostics with file and line; semantic checks
// are Validate's.
func Parse(file string, text []byte) (*Playbook, error) {
	var raw playbookYAML
	if err := yaml.UnmarshalWithOptions(text, &raw, yaml.Strict()); err != nil {
		return nil, Diagnostics{yamlDiag(file, err)}
	}
	f, err := parser.ParseBytes(text, 0)
	if err != nil {
		return nil, Diagnostics{yamlDiag(file, err)}
	}
	pb := &Playbook{
		Name:        raw.Name,
		Description: raw.Description,
		File:        file,
		Text:        bytes.Clone(text),
		lines:       lineIndex{file: f},
	}
	var diags Diagnostics
	if pb.Name == "" {
		diags = append(diags, Diag{File: file, Line: 1, Msg: "playbook has no name: add `name: ...` at the top"})
	}
	for i, p := range raw.Params {
		pb.Params = append(pb.Params, Param{
			Name: p.Name, Description: p.Description, Default: p.Default,
			Line: pb.lines.line(fmt.Sprintf("$.params[%d]", i)),
		})
	}
	for i, s := range raw.Steps {
		at := fmt.Sprintf("$.steps[%d]", i)
		st := &Step{
			ID: s.ID, Title: s.Title, Needs: s.Needs, Host: s.Host, When: s.When,
			Action:     ActionRef{Kind: s.Action, With: s.With, Line: pb.lines.line(at + ".action")},
			Idempotent: s.Idempotent || s.ReadOnly, Confirm: s.Confirm, ReadOnly: s.ReadOnly, Retries: s.Retries,
			Line: pb.lines.line(at),
		}
		if st.Action.Line == 0 {
			st.Action.Line = st.Line
		}
		if s.Probe != nil {
			st.Probe = &ActionRef{Kind: s.Probe.Action, With: s.Probe.With, Line: pb.lines.line(at + ".probe")}
		}
		if s.Undo != nil {
			st.Undo = &ActionRef{Kind: s.Undo.Action, With: s.Undo.With, Line: pb.lines.line(at + ".undo")}
		}
		if s.ForEach != nil {
			st.ForEach = &ForEach{Over: s.ForEach.Over, Key: s.ForEach.Key, Parallel: s.ForEach.Parallel}
			if st.ForEach.Key == "" {
				st.ForEach.Key = "name"
			}
		}
		for _, d := range []struct {
			text string
			into *time.Duration
			name string
		}{{s.Timeout, &st.Timeout, "timeout"}, {s.Backoff, &st.Backoff, "backoff"}} {
			if d.text == "" {
				continue
			}
			v, err := time.ParseDuration(d.text)
			if err != nil || v < 0 {
				diags = append(diags, Diag{File: file, Line: pb.lines.line(at + "." + d.name),
					Msg: fmt.Sprintf("step %q: %s %q is not a duration (use e.g. 30s, 5m)", s.ID, d.name, d.text)})
			}
			*d.into = v
		}
		pb.Steps = append(pb.Steps, st)
	}
	if len(diags) > 0 {
		return nil, diags
	}
	return pb, nil
}

// Step returns the step with that id, or nil.
func (pb *Playbook) Step(id string) *Step {
	for _, s := range pb.Steps {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// lineIndex maps YAML paths to line numbers.
type lineIndex struct{ file *ast.File }

func (li lineIndex) line(path string) int {
	if li.file == nil {
		return 0
	}
	p, err := yaml.PathString(path)
	if err != nil {
		return 0
	}
	n, err := p.FilterFile(li.file)
	if err != nil || n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// withLine returns the line of a step's argument value, falling back to
// the action's line.
func (pb *Playbook) withLine(stepIndex int, part, key string, fallback int) int {
	path := fmt.Sprintf("$.steps[%d]", stepIndex)
	if part != "" {
		path += "." + part
	}
	if l := pb.lines.line(path + ".with." + key); l > 0 {
		return l
	}
	return fallback
}

func (pb *Playbook) fieldLine(stepIndex int, field string, fallback int) int {
	if l := pb.lines.line(fmt.Sprintf("$.steps[%d].%s", stepIndex, field)); l > 0 {
		return l
	}
	return fallback
}

// Diag is one problem found in a playbook or inventory, at file:line.
type Diag struct {
	File string
	Line int
	Msg  string
}

func (d Diag) String() string {
	if d.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", d.File, d.Line, d.Msg)
	}
	return fmt.Sprintf("%s: %s", d.File, d.Msg)
}

// Diagnostics is a list of problems; as an error it prints one per line.
type Diagnostics []Diag

func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

func yamlDiag(file string, err error) Diag {
	var se yaml.Error
	if errors.As(err, &se) {
		if tk := se.GetToken(); tk != nil && tk.Position != nil {
			return Diag{File: file, Line: tk.Position.Line, Msg: se.GetMessage()}
		}
	}
	return Diag{File: file, Msg: err.Error()}
}
