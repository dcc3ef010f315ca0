package workflow

import (
	"maps"
	"regexp"
	"slices"
	"strings"
)

// status is where one step (or one fan-out child) stands, as its events
// say.
type status string

const (
	stPending     status = "pending"
	stRunning     status = "running" // started, no end recorded: in doubt after a crash
	stInterrupted status = "interrupted"
	stSucceeded   status = "succeeded"
	stFailed      status = "failed"
	stSkipped     status = "skipped"
	stWaiting     status = "waiting"
	stUndoing     status = "undoing" // undo started, no end recorded
	stUndone      status = "undone"
	stUndoFailed  status = "undo-failed"
)

// stepState is what the journal says of one step or fan-out child.
type stepState struct {
	status   status
	attempt  int
	outputs  map[string]string
	items    []map[string]string
	children []map[string]string // fan-out items, once fixed
	fanned   bool
	noStatus bool   // last failure: the command never reported a status
	startSeq uint64 // seq of the latest "started"
	endSeq   uint64 // seq of the latest "succeeded"
}

// runState is the replayed journal of one run.
type runState struct {
	steps map[string]*stepState
	// view is the .steps template data, built on demand and dropped when
	// a step's outputs or items change. It is never modified once built, so
	// templates may read it without the runner's lock.
	view map[string]any
}

var (
	noOutputs = map[string]string{}
	noItems   = []map[string]string{}
)

// stepsView returns the .steps template data of the steps of pb: for each,
// its outputs ("out") and fan-out items ("items").
func (rs *runState) stepsView(steps []*Step) map[string]any {
	if rs.view != nil {
		return rs.view
	}
	v := make(map[string]any, len(steps))
	empty := map[string]any{"out": noOutputs, "items": noItems}
	for _, s := range steps {
		st := rs.steps[s.ID]
		if st == nil || len(st.outputs) == 0 && st.items == nil {
			v[s.ID] = empty
			continue
		}
		out, items := st.outputs, st.items
		if out == nil {
			out = noOutputs
		}
		if items == nil {
			items = noItems
		}
		v[s.ID] = map[string]any{"out": out, "items": items}
	}
	rs.view = v
	return v
}

func newRunState() *runState { return &runState{steps: map[string]*stepState{}} }

func (rs *runState) get(key string) *stepState {
	st := rs.steps[key]
	if st == nil {
		st = &stepState{status: stPending}
		rs.steps[key] = st
	}
	return st
}

// apply folds one event into the state. It is used both to replay a
// journal and, live, after each event is committed.
func (rs *runState) apply(ev Event) {
	if ev.Step == "" {
		return
	}
	st := rs.get(ev.Step)
	if len(st.outputs) > 0 || st.items != nil || len(ev.Outputs) > 0 || ev.Items != nil {
		rs.view = nil // outputs or items may change; Reset clears them
	}
	switch ev.Type {
	case EvStepStarted:
		st.status, st.attempt, st.startSeq = stRunning, ev.Attempt, ev.Seq
	case EvStepSucceeded:
		st.status, st.endSeq = stSucceeded, ev.Seq
		st.outputs, st.items = maps.Clone(ev.Outputs), ev.Items
	case EvStepFailed:
		st.status = stFailed
		st.noStatus = ev.Exit == nil
	case EvStepSkipped:
		st.status, st.endSeq = stSkipped, ev.Seq
	case EvWaiting:
		// Only a step that has yet to run waits; one in doubt stays in
		// doubt, and one that took effect (a rollback waiting for its
		// undo) stays to be undone.
		switch {
		case st.status == stPending, st.status == stFailed && !st.noStatus:
			st.status = stWaiting
		}
	case EvInterrupted:
		if st.status == stRunning {
			st.status = stInterrupted
		}
	case EvReconciled:
		switch ev.Decision {
		case "done":
			st.status, st.endSeq = stSucceeded, ev.Seq
			if ev.Outputs != nil {
				st.outputs = maps.Clone(ev.Outputs)
			}
		case "redo":
			st.status = stPending
		case "undone":
			st.status = stUndone
		case "undo":
			st.status = stSucceeded // its effect is in place: undo it
		}
	case EvReset:
		*st = stepState{status: stPending}
	case EvFanOut:
		st.children, st.fanned = ev.Items, true
	case EvUndoStarted:
		st.status = stUndoing
	case EvUndone:
		st.status = stUndone
	case EvUndoFailed:
		st.status = stUndoFailed
	}
}

func replay(evs []Event) *runState {
	rs := newRunState()
	for _, ev := range evs {
		rs.apply(ev)
	}
	return rs
}

// done says whether a step no longer blocks the steps that need it.
func (st *stepState) done() bool { return st.status == stSucceeded || st.status == stSkipped }

// inDoubt says whether the step may have half-run: it started and no end
// was recorded, or it was cut off before its command reported a status.
func (st *stepState) inDoubt() bool {
	return st.status == stRunning || st.status == stInterrupted || (st.status == stFailed && st.noStatus)
}

// stepRefRe finds the references to another step's data in a template:
// .steps.ID (also $.steps.ID) and index .steps "ID".
var stepRefRe = regexp.MustCompile(`\.steps\.([A-Za-z0-9_]+)|index\s+\$?\.steps\s+"([^"\\]+)"`)

// stepRefs returns the steps whose data the templates of s read, and true;
// or false when a template reads .steps in a way that names no step
// (range .steps, index .steps $x), and the step gets every step's data.
// A step's template data then holds only what it reads, so that its cost
// does not grow with the number of steps in the playbook.
func stepRefs(s *Step) ([]string, bool) {
	texts := templatesOf(s)
	if s.ForEach != nil {
		texts = append(texts, "."+s.ForEach.Over)
	}
	var ids []string
	for _, t := range texts {
		n := strings.Count(t, ".steps")
		if n == 0 {
			continue
		}
		m := stepRefRe.FindAllStringSubmatch(t, -1)
		if len(m) != n {
			return nil, false
		}
		for _, g := range m {
			id := g[1] + g[2]
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	return ids, true
}

// stepsViewOf is stepsView for the steps ids only.
func (rs *runState) stepsViewOf(ids []string) map[string]any {
	v := make(map[string]any, len(ids))
	for _, id := range ids {
		st := rs.steps[id]
		out, items := noOutputs, noItems
		if st != nil && st.outputs != nil {
			out = st.outputs
		}
		if st != nil && st.items != nil {
			items = st.items
		}
		v[id] = map[string]any{"out": out, "items": items}
	}
	return v
}
