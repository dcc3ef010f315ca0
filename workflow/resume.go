package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// stepOf splits a state key ("id" or "id[item]") into its step and, for a
// fan-out child, its item.
func (r *runner) stepOf(key string) (*Step, map[string]string) {
	id, rest, child := strings.Cut(key, "[")
	s := r.byID[id]
	if s == nil || !child || s.ForEach == nil {
		return s, nil
	}
	name := strings.TrimSuffix(rest, "]")
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, it := range r.state.get(id).children {
		if it[s.ForEach.Key] == name {
			return s, it
		}
	}
	return s, map[string]string{s.ForEach.Key: name}
}

// keysBySeq lists state keys matching keep, latest first or oldest first.
// keep sees a copy of each state, without r.mu held (it may call stepOf).
func (r *runner) keysBySeq(keep func(key string, st *stepState) bool, latestFirst bool) []string {
	r.mu.Lock()
	states := make(map[string]stepState, len(r.state.steps))
	for k, st := range r.state.steps {
		if r.byID[strings.SplitN(k, "[", 2)[0]] != nil {
			states[k] = *st
		}
	}
	r.mu.Unlock()
	var keys []string
	for k, st := range states {
		if keep(k, &st) {
			keys = append(keys, k)
		}
	}
	seq := func(k string) uint64 {
		st := states[k]
		return max(st.startSeq, st.endSeq)
	}
	sort.Slice(keys, func(i, j int) bool {
		if latestFirst {
			return seq(keys[i]) > seq(keys[j])
		}
		return seq(keys[i]) < seq(keys[j])
	})
	return keys
}

// checkNames refuses --assume-done/--redo names that are not steps.
func (r *runner) checkNames(lists ...[]string) error {
	for _, l := range lists {
		for _, k := range l {
			if s, _ := r.stepOf(k); s == nil {
				return fmt.Errorf("run %s: playbook %s has no step %q", r.id, r.pb.Name, k)
			}
		}
	}
	return nil
}

// decision is what happens to an in-doubt step.
type decision int

const (
	decideDone decision = iota
	decideRedo
	decideWait
	decideAbort
)

// reconcile decides every step that may have half-run: the operator's
// flags first, then its probe, then its idempotence, then the operator.
func (r *runner) reconcile(ctx context.Context, opts ResumeOptions) error {
	keys := r.keysBySeq(func(_ string, st *stepState) bool { return st.inDoubt() }, false)
	for _, key := range keys {
		s, item := r.stepOf(key)
		if err := r.record(nil, Event{Type: EvInDoubt, Step: key,
			Message: "started but no end was recorded (crash, kill or lost connection): it may have half-run"}); err != nil {
			return err
		}
		d, outs, why, by := r.decide(ctx, s, key, item, opts, false)
		switch d {
		case decideDone:
			if err := r.record(nil, Event{Type: EvReconciled, Step: key, Decision: "done", Outputs: outs, Message: why, By: by}); err != nil {
				return err
			}
		case decideRedo:
			if err := r.record(nil, Event{Type: EvReconciled, Step: key, Decision: "redo", Message: why, By: by}); err != nil {
				return err
			}
		case decideWait:
			if err := r.record(nil, Event{Type: EvWaiting, Step: key, Message: why}); err != nil {
				return err
			}
			r.markWaiting(key, why)
		case decideAbort:
			r.mu.Lock()
			r.aborted = true
			r.mu.Unlock()
			return nil
		}
	}
	return nil
}

func contains(list []string, key string) bool {
	id, _, _ := strings.Cut(key, "[")
	return slices.Contains(list, key) || slices.Contains(list, id)
}

// decide settles one in-doubt step (or, for rollback, an in-doubt undo).
// It returns the decision, outputs a probe gave, why, and who decided.
func (r *runner) decide(ctx context.Context, s *Step, key string, item map[string]string, opts ResumeOptions, undo bool) (decision, map[string]string, string, *Who) {
	who := r.e.Who
	switch {
	case contains(opts.AssumeDone, key):
		who.Via = "--assume-done"
		return decideDone, nil, "operator says its effect is in place (--assume-done)", &who
	case contains(opts.Redo, key):
		who.Via = "--redo"
		return decideRedo, nil, "operator says run it again (--redo)", &who
	}
	data := r.dataFor(s, nil)
	if item != nil {
		data = mergeItem(data, item)
	}
	probeNote := ""
	if s.Probe != nil {
		inPlace, outs, err := r.probe(ctx, s, key, data)
		switch {
		case err == nil && inPlace:
			return decideDone, outs, "probe: its effect is in place", nil
		case err == nil:
			return decideRedo, nil, "probe: its effect is not in place", nil
		}
		probeNote = fmt.Sprintf(" (its probe could not tell: %v)", err)
	}
	if s.Idempotent && !undo {
		return decideRedo, nil, "idempotent: running it again is safe", nil
	}
	verb := "hamnflow resume"
	doneMeans, redoMeans := "its effect is in place", "run it again"
	if undo {
		verb = "hamnflow rollback"
		doneMeans, redoMeans = "its effect is gone", "run its undo (again)"
	}
	a, err := r.ask(ctx, Question{
		RunID: r.id, Step: key, Title: s.Title,
		Reason:  "it may have half-run and cannot be checked automatically" + probeNote + "; look at the host, then choose",
		Details: r.details(s), Choices: []Choice{AssumeDone, Redo, Abort},
	}, "in-doubt")
	if errors.Is(err, ErrNoOperator) {
		return decideWait, nil, fmt.Sprintf("may have half-run and cannot be checked automatically%s: check the host, then run `%s %s --assume-done %s` (%s) or `%s %s --redo %s` (%s)",
			probeNote, verb, r.id, key, doneMeans, verb, r.id, key, redoMeans), nil
	}
	if err != nil {
		return decideAbort, nil, err.Error(), nil
	}
	switch a.Choice {
	case AssumeDone:
		return decideDone, nil, "operator says " + doneMeans, &a.By
	case Redo:
		return decideRedo, nil, "operator says " + redoMeans, &a.By
	}
	return decideAbort, nil, "operator aborted", &a.By
}

// probe runs a step's probe: (true, outputs, nil) when its effect is in
// place, (false, nil, nil) when not, an error when it cannot tell.
func (r *runner) probe(ctx context.Context, s *Step, key string, data map[string]any) (bool, map[string]string, error) {
	p, err := r.prepare(s, s.Probe, data, nil)
	if err != nil {
		return false, nil, err
	}
	o, err := r.call(ctx, s, key, p, 0)
	ev := Event{Type: EvNote, Step: key, Host: p.host, Command: p.shown, Stdout: o.Stdout, Stderr: o.Stderr}
	switch {
	case err == nil:
		ev.Message = "probe: in place"
	case o.Ran:
		ev.Message = "probe: not in place"
	default:
		ev.Message = "probe failed: " + err.Error()
	}
	if o.Ran {
		ev.Exit = &o.Exit
	}
	if rerr := r.record(nil, ev); rerr != nil {
		return false, nil, rerr
	}
	if err != nil && !o.Ran {
		return false, nil, err
	}
	return err == nil, o.Outputs, nil
}
