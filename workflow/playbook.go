// Package workflow is hamnflow's engine: playbooks as DAGs of steps,
// composed from parts when they load, their validation, scheduling with a
// parallel bound, fan-out, confirmations, resume of interrupted runs, retry
// and rollback. Every step transition is written to the Store before the
// engine acts on it.
//
// The engine knows nothing of SSH, databases or xCAT: steps name actions,
// and the caller supplies the actions.
package workflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Playbook is a named DAG of steps: a procedure as loaded for one cluster,
// its parts included and the steps of other databases and systems left
// out (see Load).
type Playbook struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Params      []Param  `json:"params,omitempty"`
	Steps       []*Step  `json:"steps"`
	Files       []string `json:"files,omitempty"` // every file it was composed from, the procedure first

	File string `json:"file"` // the procedure's file, for messages
	Text []byte `json:"-"`    // the procedure's exact text
}

// Param is a value the playbook needs from the command line (--set
// name=value) or its default.
type Param struct {
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Default     *string `json:"default,omitempty"`
	Line        int     `json:"line,omitempty"`
}

// Step is one node of the DAG.
type Step struct {
	ID     string   `json:"id"`
	Title  string   `json:"title,omitempty"`
	Needs  []string `json:"needs,omitempty"`
	Host   string   `json:"host,omitempty"` // template; "" or "local" runs on this machine
	When   string   `json:"when,omitempty"` // template on run-time values; must give true or false
	Action ActionRef
	Probe  *ActionRef `json:"probe,omitempty"` // read-only check: succeeds when the step's effect is in place
	Undo   *ActionRef `json:"undo,omitempty"`
	// UndoNone, when set, says why the step has nothing to undo.
	UndoNone   string `json:"undo_none,omitempty"`
	Idempotent bool   `json:"idempotent,omitempty"`
	Confirm    bool   `json:"confirm,omitempty"` // always ask an operator before it runs
	// ReadOnly steps only look (checks, status reads): rollback passes
	// over them, and one that may have half-run is simply run again.
	ReadOnly bool          `json:"readonly,omitempty"`
	Timeout  time.Duration `json:"timeout,omitempty"`
	Retries  int           `json:"retries,omitempty"`
	Backoff  time.Duration `json:"backoff,omitempty"`
	ForEach  *ForEach      `json:"foreach,omitempty"`
	// Args are the arguments of the part the step came from ({{ .args.X }}).
	Args map[string]string `json:"args,omitempty"`

	File  string         `json:"file,omitempty"` // the file the step was written in
	Line  int            `json:"line,omitempty"`
	Lines map[string]int `json:"-"` // line of each field: "host", "with.KEY", "undo.with.KEY", ...
}

// ActionRef names an action and its arguments (templates: text, or lists
// of text).
type ActionRef struct {
	Kind string         `json:"action"`
	With map[string]any `json:"with,omitempty"`
	// Host, when set, is where a probe or undo runs instead of the
	// step's host (the undo of a Db2 takeover runs on the peer).
	Host string `json:"host,omitempty"`
	Line int    `json:"line,omitempty"`
}

// ForEach fans a step out: one child per item of a list, each journaled on
// its own. Over is a dotted path into the run's data, e.g.
// "inv.groups.service_nodes" or "steps.list_osimages.items".
type ForEach struct {
	Over     string `json:"over"`
	Key      string `json:"key"`                // item field that names a child; default "name"
	Parallel int    `json:"parallel,omitempty"` // bound for the children; default the engine's
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

// line gives the line of one of the step's fields, else the step's.
func (s *Step) line(field string) int {
	if l := s.Lines[field]; l > 0 {
		return l
	}
	if f, _, ok := strings.Cut(field, "."); ok {
		if l := s.Lines[f]; l > 0 {
			return l
		}
	}
	return s.Line
}

// diag is a problem at one of the step's fields.
func (s *Step) diag(field, format string, a ...any) Diag {
	return Diag{File: s.File, Line: s.line(field), Msg: fmt.Sprintf(format, a...)}
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

// AsDiagnostics returns err's diagnostics, or nil if it has none.
func AsDiagnostics(err error) Diagnostics {
	var ds Diagnostics
	if errors.As(err, &ds) {
		return ds
	}
	return nil
}

// FromResolved reads the playbook a run recorded (Source.Resolved).
func FromResolved(text string) (*Playbook, error) {
	var pb Playbook
	if err := json.Unmarshal([]byte(text), &pb); err != nil {
		return nil, fmt.Errorf("read the recorded playbook: %w", err)
	}
	for _, s := range pb.Steps {
		for _, ref := range []*ActionRef{&s.Action, s.Probe, s.Undo} {
			if ref == nil {
				continue
			}
			for k, v := range ref.With {
				if l, ok := v.([]any); ok {
					t := make([]string, len(l))
					for i, e := range l {
						t[i], _ = e.(string)
					}
					ref.With[k] = t
				}
			}
		}
	}
	return &pb, nil
}
