package workflow

import (
	"strings"
	"time"
)

// StepSummary is one step's (or fan-out child's) story, told from events.
type StepSummary struct {
	Step        string        `json:"step"`
	Host        string        `json:"host,omitempty"`
	Status      string        `json:"status"`
	Attempts    int           `json:"attempts,omitempty"`
	Started     time.Time     `json:"started,omitzero"`
	Ended       time.Time     `json:"ended,omitzero"`
	Duration    time.Duration `json:"duration_ns"`
	ConfirmedBy string        `json:"confirmed_by,omitempty"`
	Message     string        `json:"message,omitempty"`
}

// Summarize folds a run's events into one line per step, in the order the
// steps first appeared. Duration is the sum of the step's attempts.
func Summarize(evs []Event) []StepSummary {
	var order []string
	byKey := map[string]*StepSummary{}
	rs := newRunState()
	for _, ev := range evs {
		if ev.Step == "" {
			continue
		}
		s := byKey[ev.Step]
		if s == nil {
			s = &StepSummary{Step: ev.Step}
			byKey[ev.Step] = s
			order = append(order, ev.Step)
		}
		rs.apply(ev)
		if ev.Host != "" {
			s.Host = ev.Host
		}
		switch ev.Type {
		case EvStepStarted:
			s.Attempts = max(s.Attempts, ev.Attempt)
			if s.Started.IsZero() {
				s.Started = ev.Time
			}
		case EvStepSucceeded, EvStepFailed, EvUndone, EvUndoFailed, EvStepSkipped:
			s.Ended = ev.Time
			s.Duration += ev.Duration
			if ev.Type == EvStepSucceeded && s.Started.IsZero() {
				// a fan-out parent: it spans its children
				s.Duration = 0
			}
		case EvFanOut:
			s.Started = ev.Time
		case EvConfirmed:
			if ev.By != nil {
				s.ConfirmedBy = whoString(*ev.By)
			}
		}
		if ev.Message != "" && ev.Type != EvStepStarted {
			s.Message = ev.Message
		}
		s.Status = string(rs.get(ev.Step).status)
	}
	out := make([]StepSummary, 0, len(order))
	for _, k := range order {
		s := byKey[k]
		if s.Duration == 0 && !s.Started.IsZero() && !s.Ended.IsZero() {
			s.Duration = s.Ended.Sub(s.Started)
		}
		out = append(out, *s)
	}
	return out
}

// WithPending lists every step of pb's DAG, in its order, with the
// summaries the events gave (fan-out children after their parent) and
// "pending" for the steps that never started.
func WithPending(pb *Playbook, sums []StepSummary) []StepSummary {
	byStep := map[string][]StepSummary{}
	for _, s := range sums {
		id, _, _ := strings.Cut(s.Step, "[")
		byStep[id] = append(byStep[id], s)
	}
	out := make([]StepSummary, 0, len(pb.Steps))
	for _, st := range Order(pb) {
		if l := byStep[st.ID]; len(l) > 0 {
			out = append(out, l...)
			delete(byStep, st.ID)
			continue
		}
		out = append(out, StepSummary{Step: st.ID, Status: string(stPending)})
	}
	for _, s := range sums { // steps the DAG does not have (none, normally)
		id, _, _ := strings.Cut(s.Step, "[")
		if byStep[id] != nil {
			out = append(out, s)
		}
	}
	return out
}
