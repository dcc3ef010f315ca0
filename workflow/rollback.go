package workflow

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"
	"time"
)

// RollbackOptions limit and steer a rollback.
type RollbackOptions struct {
	To         string   // unwind only what ended after this step
	AssumeDone []string // in-doubt steps: nothing to undo
	Redo       []string // in-doubt steps: run their undo
}

// Rollback runs the undo of every succeeded step, latest first (reverse
// dependency order), journaled and resumable: running it again continues.
// A step without undo is manual work: an operator confirms it was undone.
func (e *Engine) Rollback(ctx context.Context, id string, opts RollbackOptions) error {
	r, lock, err := e.reopen(id)
	if err != nil {
		return err
	}
	defer lock.Release()
	ctx, unwatch := watchLock(ctx, lock)
	defer unwatch()
	if r.status == RunRolledBack && !r.anythingToUndo() {
		return fmt.Errorf("run %s is already rolled back", r.id)
	}
	if err := r.checkNames(opts.AssumeDone, opts.Redo); err != nil {
		return err
	}
	var toSeq uint64
	if opts.To != "" {
		if r.byID[opts.To] == nil {
			return fmt.Errorf("run %s: playbook %s has no step %q", r.id, r.pb.Name, opts.To)
		}
		st := r.state.get(opts.To)
		if !st.done() {
			return fmt.Errorf("run %s: step %s did not succeed, so there is nothing after it to unwind to; roll back the whole run instead", r.id, opts.To)
		}
		toSeq = st.endSeq
	}
	msg := "rollback by " + whoString(e.Who)
	if opts.To != "" {
		msg += " to " + opts.To
	}
	if err := r.record(func(run *Run) { run.Status, run.PID, run.Message = RunRollingBack, os.Getpid(), "" },
		Event{Type: EvRollbackStart, Message: msg}); err != nil {
		return err
	}
	keys := r.keysBySeq(func(key string, st *stepState) bool {
		s, _ := r.stepOf(key)
		if s.ForEach != nil && !strings.Contains(key, "[") {
			return false // a fan-out is undone child by child
		}
		if opts.To != "" && (key == opts.To || st.startSeq <= toSeq) {
			return false
		}
		switch st.status {
		case stSucceeded, stRunning, stInterrupted, stUndoing, stUndoFailed:
			return true
		}
		return st.status == stFailed && st.noStatus
	}, true)
	for _, key := range keys {
		if ctx.Err() != nil {
			break
		}
		if !r.undoOne(ctx, key, opts) {
			break
		}
	}
	return r.endRollback(ctx)
}

// anythingToUndo says whether a step took effect and is not undone yet:
// after `rollback --to STEP`, the steps up to STEP.
func (r *runner) anythingToUndo() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.anythingToUndoLocked()
}

func (r *runner) anythingToUndoLocked() bool {
	for key, st := range r.state.steps {
		if s := r.byID[key]; s != nil && s.ForEach != nil {
			continue // a fan-out is undone child by child
		}
		switch st.status {
		case stSucceeded, stRunning, stInterrupted, stUndoing, stUndoFailed:
			return true
		}
	}
	return false
}

// undoOne unwinds one step; false stops the rollback.
func (r *runner) undoOne(ctx context.Context, key string, opts RollbackOptions) bool {
	s, item := r.stepOf(key)
	r.mu.Lock()
	st := *r.state.get(key)
	r.mu.Unlock()
	if s.ReadOnly {
		// It only looked: there is nothing to undo, even if it half-ran.
		return r.record(nil, Event{Type: EvUndone, Step: key, Message: "read-only: nothing to undo"}) == nil
	}
	ropts := ResumeOptions{AssumeDone: opts.AssumeDone, Redo: opts.Redo}
	if st.inDoubt() || st.status == stUndoing {
		what := "the step"
		if st.status == stUndoing {
			what = "its undo"
		}
		if err := r.record(nil, Event{Type: EvInDoubt, Step: key,
			Message: what + " started but no end was recorded: it may have half-run"}); err != nil {
			return false
		}
		// The question is the same as on resume, asked of the effect:
		// in place means there is something to undo.
		d, _, why, by := r.decide(ctx, s, key, item, ropts, true)
		switch d {
		case decideDone: // "its effect is in place" from a probe, or "its effect is gone" from the operator
			if by == nil { // the probe found the effect in place: undo it
				if r.record(nil, Event{Type: EvReconciled, Step: key, Decision: "undo", Message: why}) != nil {
					return false
				}
				break
			}
			return r.record(nil, Event{Type: EvReconciled, Step: key, Decision: "undone", Message: why, By: by}) == nil
		case decideRedo:
			if by == nil { // the probe found the effect gone
				return r.record(nil, Event{Type: EvReconciled, Step: key, Decision: "undone", Message: why + ": nothing to undo"}) == nil
			}
			if r.record(nil, Event{Type: EvReconciled, Step: key, Decision: "undo", Message: why, By: by}) != nil {
				return false
			}
		case decideWait:
			r.record(nil, Event{Type: EvWaiting, Step: key, Message: why})
			r.markWaiting(key, why)
			return false
		default:
			r.mu.Lock()
			r.aborted = true
			r.mu.Unlock()
			return false
		}
	}
	data := r.dataFor(s, nil)
	if item != nil {
		data = mergeItem(data, item)
	}
	undo, reverse := s.Undo, map[string]string(nil)
	if undo == nil && s.UndoNone != "" {
		return r.record(nil, Event{Type: EvUndone, Step: key, Message: "nothing to undo: " + s.UndoNone}) == nil
	}
	if undo == nil {
		if _, ok := r.e.Actions[s.Action.Kind].(Reverser); ok {
			// The action undoes itself from what the step recorded.
			undo = &s.Action
			r.mu.Lock()
			reverse = maps.Clone(st.outputs)
			r.mu.Unlock()
			if reverse == nil {
				reverse = map[string]string{}
			}
		}
	}
	if undo == nil {
		title, _ := r.render.render(s.Title, data, true, nil)
		a, err := r.ask(ctx, Question{
			RunID: r.id, Step: key, Title: title,
			Reason:  "this step has no automatic undo: undo it by hand, then confirm",
			Details: r.details(s), Choices: []Choice{Yes, Abort},
		}, "manual")
		switch {
		case errors.Is(err, ErrNoOperator):
			r.record(nil, Event{Type: EvWaiting, Step: key,
				Message: fmt.Sprintf("no automatic undo for %q: undo it by hand, then run `hamnflow rollback %s` on a terminal (or with --yes)", title, r.id)})
			r.markWaiting(key, "")
			return false
		case err != nil || a.Choice != Yes:
			r.mu.Lock()
			r.aborted = true
			r.mu.Unlock()
			return false
		}
		return r.record(nil, Event{Type: EvUndone, Step: key, By: &a.By, Message: "undone by hand, confirmed by " + whoString(a.By)}) == nil
	}
	p, err := r.prepare(s, undo, data, reverse)
	if err != nil {
		r.record(nil, Event{Type: EvUndoFailed, Step: key, Message: err.Error()})
		r.markFailed(key)
		return false
	}
	switch r.confirm(ctx, s, key, p) {
	case gateSkip:
		// confirm recorded "skipped"; the effect stays in place.
		return true
	case gateStop:
		return false
	}
	if r.record(nil, Event{Type: EvUndoStarted, Step: key, Host: p.host, Command: p.shown, Message: "undo: " + p.title}) != nil {
		return false
	}
	start := time.Now()
	o, err := r.call(ctx, s, key, p, 1)
	ev := Event{Step: key, Host: p.host, Stdout: o.Stdout, Stderr: o.Stderr, Duration: time.Since(start)}
	if o.Ran {
		ev.Exit = &o.Exit
	}
	switch {
	case ctx.Err() != nil:
		ev.Type, ev.Message = EvInterrupted, "interrupted during undo"
		r.record(nil, ev)
		return false
	case err != nil:
		ev.Type, ev.Message = EvUndoFailed, err.Error()
		r.record(nil, ev)
		r.markFailed(key)
		return false
	}
	ev.Type = EvUndone
	return r.record(nil, ev) == nil
}

func (r *runner) endRollback(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.journalErr != nil {
		return r.journalStopped(fmt.Sprintf("nothing more was undone. Make the journal writable again (free space on its file system), then `hamnflow rollback %s`", r.id))
	}
	var st RunStatus
	var runErr error
	var msg string
	switch {
	case len(r.waiting) > 0:
		st, runErr = RunRollingBack, ErrWaiting
		msg = r.waitMessage(func(keys string) string {
			return fmt.Sprintf("rollback waits for an operator at %s: run `hamnflow rollback %s` on a terminal (or with --yes)", keys, r.id)
		})
	case r.aborted || ctx.Err() != nil:
		st, runErr = RunRollingBack, ErrInterrupted
		msg = fmt.Sprintf("rollback interrupted; continue it with `hamnflow rollback %s`", r.id)
	case len(r.failed) > 0:
		st, runErr = RunRollbackFailed, ErrStepFailed
		msg = fmt.Sprintf("undo of %s failed; see `hamnflow show %s`, fix the cause, then `hamnflow rollback %s` again", strings.Join(r.failed, ", "), r.id, r.id)
	case r.anythingToUndoLocked():
		st, msg = RunRolledBack, fmt.Sprintf("rolled back in part; `hamnflow rollback %s` unwinds the rest", r.id)
	default:
		st, msg = RunRolledBack, "rolled back"
	}
	return r.closeLocked(EvRollbackEnded, st, st == RunRolledBack, runErr, msg)
}
