package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/hamnflow/hamnflow/workflow"
)

// view is a run's live list of steps on a terminal: each step's state,
// host and duration, the running ones marked, the skipped ones folded
// into one line. It redraws in place when an event is committed and,
// while steps run, once a second. The log goes to a file meanwhile.
type view struct {
	mu      sync.Mutex
	out     io.Writer
	logFile string
	order   []string
	steps   map[string]*viewStep
	drawn   int // lines of the last drawing, to overwrite
	paused  bool
	stop    chan struct{}
	stopped bool
}

type viewStep struct {
	id, host, state, note string
	started, ended        time.Time
	children, childrenOK  int
}

func newView(out io.Writer, pb *workflow.Playbook, logFile string) *view {
	v := &view{out: out, logFile: logFile, steps: map[string]*viewStep{}, stop: make(chan struct{})}
	for _, s := range workflow.Order(pb) {
		v.order = append(v.order, s.ID)
		v.steps[s.ID] = &viewStep{id: s.ID, state: "pending"}
	}
	go v.tick()
	return v
}

func (v *view) tick() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-t.C:
			v.mu.Lock()
			running := false
			for _, s := range v.steps {
				running = running || s.state == "running" || s.state == "undoing"
			}
			if running {
				v.draw()
			}
			v.mu.Unlock()
		}
	}
}

// Observe implements the engine's Observe hook.
func (v *view) Observe(_ string, ev workflow.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if ev.Step == "" {
		if ev.Type == workflow.EvRunEnded || ev.Type == workflow.EvRollbackEnded {
			v.draw()
		}
		return
	}
	id, child, isChild := strings.Cut(ev.Step, "[")
	s := v.steps[id]
	if s == nil {
		return
	}
	if isChild {
		_ = child
		switch ev.Type {
		case workflow.EvStepSucceeded:
			s.childrenOK++
		}
		v.draw()
		return
	}
	if ev.Host != "" {
		s.host = ev.Host
	}
	switch ev.Type {
	case workflow.EvStepStarted, workflow.EvFanOut:
		s.state, s.started, s.note = "running", ev.Time, ""
		if ev.Type == workflow.EvFanOut {
			s.children = len(ev.Items)
		}
	case workflow.EvUndoStarted:
		s.state, s.started = "undoing", ev.Time
	case workflow.EvStepSucceeded, workflow.EvReconciled:
		s.state, s.ended = "done", ev.Time
	case workflow.EvUndone:
		s.state, s.ended = "undone", ev.Time
	case workflow.EvStepFailed, workflow.EvUndoFailed:
		s.state, s.ended, s.note = "failed", ev.Time, firstLine(ev.Message)
	case workflow.EvStepSkipped:
		s.state = "skipped"
	case workflow.EvWaiting:
		s.state, s.note = "waiting", "waits for an operator"
	case workflow.EvInDoubt:
		s.state, s.note = "in doubt", "may have half-run"
	case workflow.EvInterrupted:
		s.state, s.ended = "interrupted", ev.Time
	}
	v.draw()
}

// marks are each state's sign in the list.
var marks = map[string]string{
	"pending": " ", "running": ">", "undoing": "<", "done": "+", "undone": "-", "failed": "x",
	"waiting": "?", "in doubt": "!", "interrupted": "#",
}

// draw writes the list over the last drawing. v.mu is held.
func (v *view) draw() {
	if v.paused || v.stopped {
		return
	}
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", v.drawn) // up to the first line
	}
	lines := 0
	var skipped []string
	now := time.Now()
	for _, id := range v.order {
		s := v.steps[id]
		if s.state == "skipped" {
			skipped = append(skipped, id)
			continue
		}
		took := ""
		switch {
		case !s.started.IsZero() && !s.ended.IsZero():
			took = s.ended.Sub(s.started).Round(100 * time.Millisecond).String()
		case !s.started.IsZero():
			took = now.Sub(s.started).Round(time.Second).String() + "..."
		}
		state := s.state
		if s.children > 0 {
			state = fmt.Sprintf("%s %d/%d", state, s.childrenOK, s.children)
		}
		note := s.note
		if len(note) > 60 {
			note = note[:57] + "..."
		}
		fmt.Fprintf(&b, "\x1b[2K %s %-28s %-10s %-14s %8s  %s\n", marks[s.state], id, s.host, state, took, note)
		lines++
	}
	if len(skipped) > 0 {
		list := strings.Join(skipped, ", ")
		if len(list) > 70 {
			list = list[:67] + "..."
		}
		fmt.Fprintf(&b, "\x1b[2K   %d skipped: %s\n", len(skipped), list)
		lines++
	}
	fmt.Fprintf(&b, "\x1b[2K   log: %s\n", v.logFile)
	lines++
	io.WriteString(v.out, b.String())
	v.drawn = lines
}

// pause stops drawing while someone else writes to the terminal (a
// question to the operator); resume draws anew below what was written.
func (v *view) pause() {
	v.mu.Lock()
	v.paused = true
	v.mu.Unlock()
}

func (v *view) resume() {
	v.mu.Lock()
	v.paused, v.drawn = false, 0
	v.draw()
	v.mu.Unlock()
}

// Close draws the list one last time and stops the clock.
func (v *view) Close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.stopped {
		return
	}
	v.paused = false
	v.draw()
	v.stopped = true
	close(v.stop)
}

// pausing is a Prompter that keeps the view off the terminal while it
// asks.
type pausing struct {
	p workflow.Prompter
	v *view
}

func (p pausing) Ask(ctx context.Context, q workflow.Question) (workflow.Answer, error) {
	p.v.pause()
	defer p.v.resume()
	return p.p.Ask(ctx, q)
}
