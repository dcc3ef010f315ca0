package workflow

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"
)

// Errors a run ends with; the command line maps them to exit codes. They
// are wrapped in a *RunError that names the run and what to do next.
var (
	ErrStepFailed  = errors.New("a step failed")
	ErrWaiting     = errors.New("waiting for an operator")
	ErrInterrupted = errors.New("interrupted")
	// ErrJournal: the journal could not be written (a full disk, say), so
	// nothing more was run.
	ErrJournal = errors.New("the journal could not be written")
	// ErrLockLost: a Store whose cluster lock lapses (the etcd journal's
	// lease) refused a write because this process no longer holds the
	// lock; another may hold it now. Its errors wrap this one and say what
	// to do.
	ErrLockLost = errors.New("the cluster's run lock was lost")
)

// RunError says how a run stopped and what the operator can do.
type RunError struct {
	RunID string
	Err   error  // one of ErrStepFailed, ErrWaiting, ErrInterrupted
	Msg   string // the specifics and the next command to type
}

func (e *RunError) Error() string { return fmt.Sprintf("run %s: %v: %s", e.RunID, e.Err, e.Msg) }
func (e *RunError) Unwrap() error { return e.Err }

// Loader rebuilds a run's playbook and template data from what the journal
// recorded, so that resume replays the same DAG.
type Loader func(src Source) (*Playbook, map[string]any, error)

// Engine runs playbooks. Its fields are wiring; an Engine holds no state of
// its own between calls.
type Engine struct {
	Store    Store
	Actions  ActionSet
	Funcs    template.FuncMap
	Secrets  Secrets
	Prompter Prompter
	Loader   Loader
	Who      Who // the operator running this process

	Parallel  int  // bound on steps running at once; default 4
	StepMode  bool // ask before every step
	AssumeYes bool // answer yes to every question (journaled as --yes)

	// Observe, when set, sees every event once it is committed.
	Observe func(runID string, ev Event)
	// Stream, when set, gives a writer for a step's live output.
	Stream func(runID, step string) io.Writer
	// OutputLimit bounds each of stdout and stderr in the journal; the cut
	// is marked. Default 64 KiB.
	OutputLimit int
	// OutputDir, when set, keeps the whole of an output the journal cuts
	// (secrets masked) in OutputDir/RUN/STEP.ATTEMPT.stdout (or .stderr),
	// and the cut names the file.
	OutputDir string
}

// Start begins a new run of pb. data holds "inv" and "params". It returns
// the run's id, also when the run did not succeed.
func (e *Engine) Start(ctx context.Context, pb *Playbook, src Source, data map[string]any, cluster string) (string, error) {
	lock, err := e.lock(cluster, "")
	if err != nil {
		return "", err
	}
	defer lock.Release()
	ctx, unwatch := watchLock(ctx, lock)
	defer unwatch()
	params, _ := data["params"].(map[string]string)
	if src.Resolved == "" {
		b, err := json.Marshal(pb)
		if err != nil {
			return "", fmt.Errorf("record the playbook of the run: %w", err)
		}
		src.Resolved = string(b)
	}
	run, err := e.Store.CreateRun(Run{
		Playbook: pb.Name, Cluster: cluster, Status: RunRunning,
		By: e.Who, PID: os.Getpid(), Params: params, Steps: len(pb.Steps),
	}, src)
	if err != nil {
		return "", err
	}
	if err := lock.SetRun(run.ID); err != nil {
		return run.ID, err
	}
	r := e.newRunner(run.ID, pb, data, newRunState())
	if err := r.record(nil, Event{Type: EvRunStarted, Message: fmt.Sprintf("%s on %s by %s", pb.Name, cluster, whoString(e.Who))}); err != nil {
		return run.ID, r.journalStopped(fmt.Sprintf("nothing was run. Make the journal writable again (free space on its file system), then `hamnflow resume %s`", run.ID))
	}
	return run.ID, r.forward(ctx)
}

// ResumeOptions carry the operator's decisions for in-doubt steps.
type ResumeOptions struct {
	AssumeDone []string // steps whose effect the operator says is in place
	Redo       []string // steps the operator says to run again
}

// Resume continues a run that failed, was interrupted or killed, or waits
// for an operator. Succeeded steps never run again; in-doubt steps are
// decided by their probe, their idempotence, or the operator.
func (e *Engine) Resume(ctx context.Context, id string, opts ResumeOptions) error {
	r, lock, err := e.reopen(id)
	if err != nil {
		return err
	}
	defer lock.Release()
	ctx, unwatch := watchLock(ctx, lock)
	defer unwatch()
	switch r.status {
	case RunSucceeded:
		return fmt.Errorf("run %s already succeeded: nothing to resume", r.id)
	case RunRollingBack, RunRolledBack, RunRollbackFailed:
		return fmt.Errorf("run %s is %s: continue with `hamnflow rollback %s`, or start a new run", r.id, r.status, r.id)
	}
	if err := r.checkNames(opts.AssumeDone, opts.Redo); err != nil {
		return err
	}
	if err := r.record(func(run *Run) { run.Status, run.PID, run.Message = RunRunning, os.Getpid(), "" },
		Event{Type: EvRunResumed, Message: "resumed by " + whoString(e.Who)}); err != nil {
		return err
	}
	if err := r.reconcile(ctx, opts); err != nil {
		return err
	}
	return r.forward(ctx)
}

// Retry runs step from again, and everything downstream of it, then
// continues the run.
func (e *Engine) Retry(ctx context.Context, id, from string) error {
	r, lock, err := e.reopen(id)
	if err != nil {
		return err
	}
	defer lock.Release()
	ctx, unwatch := watchLock(ctx, lock)
	defer unwatch()
	if r.pb.Step(from) == nil {
		return fmt.Errorf("run %s: playbook %s has no step %q", r.id, r.pb.Name, from)
	}
	if r.status == RunRollingBack || r.status == RunRolledBack {
		return fmt.Errorf("run %s is %s: start a new run", r.id, r.status)
	}
	var evs []Event
	down := r.graph.downstream(from)
	for _, s := range Order(r.pb) {
		if !down[s.ID] {
			continue
		}
		for key := range r.state.steps {
			if key == s.ID || strings.HasPrefix(key, s.ID+"[") {
				evs = append(evs, Event{Type: EvReset, Step: key, Message: "retry from " + from})
			}
		}
	}
	slices.SortFunc(evs, func(a, b Event) int { return strings.Compare(a.Step, b.Step) })
	evs = append(evs, Event{Type: EvRunResumed, Message: fmt.Sprintf("retry from %s by %s", from, whoString(e.Who))})
	if err := r.record(func(run *Run) { run.Status, run.PID, run.Message = RunRunning, os.Getpid(), "" }, evs...); err != nil {
		return err
	}
	if err := r.reconcile(ctx, ResumeOptions{}); err != nil {
		return err
	}
	return r.forward(ctx)
}

// reopen takes the cluster lock for an existing run and replays its
// journal.
func (e *Engine) reopen(id string) (*runner, Lock, error) {
	run, err := e.Store.Run(id)
	if err != nil {
		return nil, nil, err
	}
	lock, err := e.lock(run.Cluster, run.ID)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*runner, Lock, error) {
		lock.Release()
		return nil, nil, err
	}
	// Read again under the lock: the run may have moved on meanwhile.
	if run, err = e.Store.Run(run.ID); err != nil {
		return fail(err)
	}
	src, err := e.Store.Source(run.ID)
	if err != nil {
		return fail(err)
	}
	if e.Loader == nil {
		return fail(errors.New("engine has no loader to rebuild the run's playbook"))
	}
	pb, data, err := e.Loader(src)
	if err != nil {
		return fail(fmt.Errorf("rebuild run %s from its journal: %w", run.ID, err))
	}
	evs, err := e.Store.Events(run.ID)
	if err != nil {
		return fail(err)
	}
	r := e.newRunner(run.ID, pb, data, replay(evs))
	r.status = run.Status
	return r, lock, nil
}

// watchLock ends ctx, with ErrLockLost as its cause, when the lock says
// that it lapsed (a Lock with a Lost channel, as the etcd journal's, whose
// lease was not renewed in time): the step in flight is stopped as on an
// interrupt, and nothing more starts. (The journal refuses the writes of
// a holder whose lock lapsed in any case.) unwatch ends the watch.
func watchLock(ctx context.Context, l Lock) (_ context.Context, unwatch func()) {
	ll, ok := l.(interface{ Lost() <-chan struct{} })
	if !ok {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		select {
		case <-ll.Lost():
			cause := ErrLockLost
			if r, ok := l.(interface{ LostReason() string }); ok {
				cause = &lockLostError{r.LostReason()}
			}
			cancel(cause)
		case <-done:
		}
	}()
	return ctx, func() { close(done); cancel(nil) }
}

// lockLostError is ErrLockLost with the lock's own word on why (a Lock
// with LostReason() string).
type lockLostError struct{ reason string }

func (e *lockLostError) Error() string        { return ErrLockLost.Error() + ": " + e.reason }
func (e *lockLostError) Is(target error) bool { return target == ErrLockLost }

func (e *Engine) lock(cluster, runID string) (Lock, error) {
	host, _ := os.Hostname()
	user := e.Who.User
	if e.Who.SudoUser != "" {
		user = e.Who.SudoUser + " (as " + e.Who.User + ")"
	}
	return e.Store.Lock(cluster, Holder{RunID: runID, User: user, Host: host, PID: os.Getpid(), Since: time.Now().UTC()})
}

// runner is one process's work on one run.
type runner struct {
	e      *Engine
	id     string
	pb     *Playbook
	base   map[string]any // inv, params, run
	order  []*Step
	byID   map[string]*Step
	graph  *graph
	status RunStatus
	render renderer
	mask   *masker

	mu          sync.Mutex // state and journal writes
	state       *runState
	continueAll bool
	failed      []string
	waiting     []string
	waitWhy     map[string]string // what a waiting step needs, when more than a terminal
	journalErr  error             // the first failed journal write: nothing more starts
	aborted     bool
	// pending are step ends recorded by recordEnd and not yet committed:
	// the next commit (the next step's start, as a rule) takes them
	// first, so that a step costs one fsync, not two. They are in the
	// state already; nothing acts on them before they are committed,
	// since every action is preceded by a commit.
	pending []Event
	refs    map[string][]string // the steps each step's templates read; absent: all

	promptMu sync.Mutex // one question at a time
}

func (e *Engine) newRunner(id string, pb *Playbook, data map[string]any, rs *runState) *runner {
	base := map[string]any{}
	for k, v := range data {
		base[k] = v
	}
	base["run"] = map[string]any{"id": id}
	g := newGraph(pb.Steps)
	refs := map[string][]string{}
	for _, s := range pb.Steps {
		if ids, ok := stepRefs(s); ok {
			refs[s.ID] = ids
		}
	}
	return &runner{
		e: e, id: id, pb: pb, base: base, order: Order(pb), byID: g.byID, graph: g, state: rs,
		render: renderer{funcs: e.Funcs, secrets: e.Secrets},
		mask:   &masker{},
		refs:   refs,
	}
}

// recordEnd records the end of a step like record, but leaves the commit
// to the next record (or flush): the step's end and what follows it go to
// the journal in one transaction, one fsync. Its effect on the state is
// immediate.
func (r *runner) recordEnd(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := []Event{ev}
	r.maskEvents(evs)
	r.pending = append(r.pending, evs[0])
	r.state.apply(evs[0])
}

// flush commits the step ends recordEnd left pending.
func (r *runner) flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) == 0 {
		return nil
	}
	return r.recordLocked(nil)
}

// record commits events (and a summary update) to the journal, then folds
// them into the state. Nothing is acted on before record returns.
func (r *runner) record(update func(*Run), evs ...Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recordLocked(update, evs...)
}

func (r *runner) recordLocked(update func(*Run), evs ...Event) error {
	r.maskEvents(evs)
	if len(r.pending) > 0 {
		evs = append(r.pending, evs...)
		r.pending = nil
	}
	return r.commitLocked(update, evs)
}

// maskEvents masks the secrets in evs and bounds their output, in place.
// Each event goes through it once: pending events are masked already.
func (r *runner) maskEvents(evs []Event) {
	limit := r.e.OutputLimit
	if limit <= 0 {
		limit = 64 << 10
	}
	for i := range evs {
		ev := &evs[i]
		ev.Command = r.mask.apply(ev.Command)
		ev.Message = r.mask.apply(ev.Message)
		var cutOut, cutErr bool
		ev.Stdout, cutOut = r.capOutput(ev, "stdout", r.mask.apply(ev.Stdout), limit)
		ev.Stderr, cutErr = r.capOutput(ev, "stderr", r.mask.apply(ev.Stderr), limit)
		ev.Truncated = ev.Truncated || cutOut || cutErr
		for k, v := range ev.Outputs {
			ev.Outputs[k] = r.mask.apply(v)
		}
		if ev.Items != nil {
			items := make([]map[string]string, len(ev.Items))
			for i, it := range ev.Items {
				items[i] = make(map[string]string, len(it))
				for k, v := range it {
					items[i][k] = r.mask.apply(v)
				}
			}
			ev.Items = items
		}
	}
}

// capOutput bounds one output of ev to limit, keeping the whole of it in
// a file under OutputDir when that is set.
func (r *runner) capOutput(ev *Event, stream, text string, limit int) (string, bool) {
	if len(text) <= limit {
		return text, false
	}
	cut, _ := capText(text, limit)
	if r.e.OutputDir == "" {
		return cut, true
	}
	name := fmt.Sprintf("%s.%d.%s", fileSafe(ev.Step), ev.Attempt, stream)
	path, err := keepOutput(filepath.Join(r.e.OutputDir, fileSafe(r.id)), name, text)
	if err != nil {
		return cut + fmt.Sprintf("\n[the whole output could not be kept: %v]", err), true
	}
	return cut + "\n[the whole output: " + path + "]", true
}

// keepOutput writes text to dir/name: dir made 0700 if missing, the file
// 0600, never through a symbolic link nor over an existing file.
func keepOutput(dir, name, text string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// fileSafe makes a step key ("parent[item]") or run id a file name.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, strings.TrimLeft(s, "."))
}

// commitLocked commits evs (masked) and update to the journal and folds
// them into the state.
func (r *runner) commitLocked(update func(*Run), evs []Event) error {
	done := 0
	stored, err := r.e.Store.Append(r.id, func(run *Run) {
		if update != nil {
			update(run)
		}
		done = run.Done
		for _, ev := range evs {
			if ev.Step != "" && !strings.Contains(ev.Step, "[") {
				switch ev.Type {
				case EvStepSucceeded, EvStepSkipped:
					done++
				case EvReset:
					if st := r.state.steps[ev.Step]; st != nil && st.done() {
						done--
					}
				case EvReconciled:
					if ev.Decision == "done" {
						done++
					}
				}
			}
		}
		run.Done = done
	}, evs...)
	if err != nil {
		err = fmt.Errorf("journal run %s: %w", r.id, err)
		if r.journalErr == nil {
			r.journalErr = err
		}
		return err
	}
	for _, ev := range stored {
		r.state.apply(ev)
		if r.e.Observe != nil {
			r.e.Observe(r.id, ev)
		}
	}
	return nil
}

// end records how the run stopped and returns the matching error.
func (r *runner) end(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.journalErr != nil {
		return r.journalStopped(fmt.Sprintf("nothing more was run. Make the journal writable again (free space on its file system), then `hamnflow resume %s`: a step whose end was not recorded is in doubt and is decided as usual", r.id))
	}
	var st RunStatus
	var runErr error
	var msg string
	switch {
	case len(r.waiting) > 0:
		st, runErr = RunWaiting, ErrWaiting
		msg = r.waitMessage(func(keys string) string {
			return fmt.Sprintf("step %s waits for an operator: run `hamnflow resume %s` on a terminal (or with --yes to confirm unattended)", keys, r.id)
		})
	case r.aborted:
		st, runErr = RunInterrupted, ErrInterrupted
		msg = fmt.Sprintf("aborted by the operator; continue with `hamnflow resume %s` or unwind with `hamnflow rollback %s`", r.id, r.id)
	case errors.As(context.Cause(ctx), new(*lockLostError)):
		var le *lockLostError
		errors.As(context.Cause(ctx), &le)
		st, runErr = RunInterrupted, ErrInterrupted
		msg = fmt.Sprintf("stopped: %s; the step in flight was stopped as on an interrupt. Find out who works on the cluster before you continue with `hamnflow resume %s`", le.reason, r.id)
	case errors.Is(context.Cause(ctx), ErrLockLost):
		st, runErr = RunInterrupted, ErrInterrupted
		msg = fmt.Sprintf("stopped: this process's lease on the cluster's run lock was not renewed in time, so another operator may take the run over; the step in flight was stopped as on an interrupt. Continue with `hamnflow resume %s` from the host that holds the lock now, or from here once no other hamnflow works on the cluster", r.id)
	case ctx.Err() != nil:
		st, runErr = RunInterrupted, ErrInterrupted
		msg = fmt.Sprintf("interrupted; continue with `hamnflow resume %s` or unwind with `hamnflow rollback %s`", r.id, r.id)
	case len(r.failed) > 0:
		st, runErr = RunFailed, ErrStepFailed
		msg = fmt.Sprintf("step %s failed; see `hamnflow show %s`, fix the cause, then `hamnflow resume %s` (or `hamnflow rollback %s`)", strings.Join(r.failed, ", "), r.id, r.id, r.id)
	default:
		for _, s := range r.pb.Steps {
			if !r.state.get(s.ID).done() {
				st, runErr = RunFailed, ErrStepFailed
				msg = fmt.Sprintf("step %s could not run; see `hamnflow show %s`", s.ID, r.id)
				break
			}
		}
		if runErr == nil {
			st = RunSucceeded
		}
	}
	return r.closeLocked(EvRunEnded, st, st == RunSucceeded, runErr, msg)
}

// closeLocked records how a run or its rollback stopped: status st and msg
// on the run (ended when final) and an event of type ev. It returns runErr,
// if any, as a RunError carrying msg.
func (r *runner) closeLocked(ev EventType, st RunStatus, final bool, runErr error, msg string) error {
	now := time.Now().UTC()
	if err := r.recordLocked(func(run *Run) {
		run.Status, run.Message = st, msg
		if final {
			run.EndedAt = now
		}
	}, Event{Type: ev, Message: statusLine(st, msg)}); err != nil {
		return r.journalStopped(fmt.Sprintf("how the run ended (%s: %s) could not be recorded. Make the journal writable again (free space on its file system), then `hamnflow resume %s`", st, msg, r.id))
	}
	if runErr == nil {
		return nil
	}
	return &RunError{RunID: r.id, Err: runErr, Msg: msg}
}

// statusLine is how an end event says the status and its message, without
// saying the status twice ("interrupted: interrupted; ...") or ending in
// a colon ("succeeded: ").
func statusLine(st RunStatus, msg string) string {
	switch {
	case msg == "":
		return string(st)
	case strings.HasPrefix(msg, string(st)):
		return msg
	}
	return string(st) + ": " + msg
}

// journalStopped is the error of a run or rollback that stopped because
// the journal could not be written; its end is not recorded either, so the
// journal holds the run as last written, which resume and rollback read.
func (r *runner) journalStopped(next string) error {
	if errors.Is(r.journalErr, ErrLockLost) {
		// The lock's error says what to do; freeing space would not help.
		return &RunError{RunID: r.id, Err: ErrJournal, Msg: fmt.Sprintf("%v; nothing more was run or recorded by this process", r.journalErr)}
	}
	return &RunError{RunID: r.id, Err: ErrJournal, Msg: fmt.Sprintf("%v; %s", r.journalErr, next)}
}

// forward runs every step whose needs are met, at most Parallel at once,
// until all are done, one waits or the context ends. A failed step stops
// the steps that need it; independent branches run on to their end.
//
// Its cost is linear in steps and edges: a step is looked at first, and
// again only when one of its needs ended, in the playbook's order.
func (r *runner) forward(ctx context.Context) error {
	parallel := r.e.Parallel
	if parallel <= 0 {
		parallel = 4
	}
	dependents := make(map[string][]int, len(r.order))
	ready := make(orderHeap, 0, len(r.order))
	for i, s := range r.order {
		for _, n := range s.Needs {
			dependents[n] = append(dependents[n], i)
		}
		ready = append(ready, i) // in order: a heap already
	}
	launched := make([]bool, len(r.order))
	results := make(chan *Step)
	running := 0
	for {
		started := false
		if !r.stopping(ctx) {
			for running < parallel && ready.Len() > 0 {
				i := heap.Pop(&ready).(int)
				s := r.order[i]
				if launched[i] || !r.runnable(s) {
					continue // looked at again when a need ends
				}
				launched[i] = true
				running++
				started = true
				go func() {
					r.execStep(ctx, s)
					results <- s
				}()
			}
		}
		if running == 0 {
			break
		}
		if !started {
			// Nothing started whose first commit would take the step
			// ends pending: commit them now.
			r.flush()
		}
		s := <-results
		running--
		for _, i := range dependents[s.ID] {
			if !launched[i] {
				heap.Push(&ready, i)
			}
		}
	}
	return r.end(ctx)
}

// orderHeap is a min-heap of positions in the run's order.
type orderHeap []int

func (h orderHeap) Len() int           { return len(h) }
func (h orderHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h orderHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *orderHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *orderHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (r *runner) stopping(ctx context.Context) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ctx.Err() != nil || r.aborted || len(r.waiting) > 0 || r.journalErr != nil
}

func (r *runner) runnable(s *Step) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch r.state.get(s.ID).status {
	case stPending, stFailed, stWaiting:
	default:
		return false
	}
	for _, n := range s.Needs {
		if !r.state.get(n).done() {
			return false
		}
	}
	return true
}

// dataFor gives a step's template data: the run's base values, the
// arguments of the part the step came from, the outputs of finished steps
// and the fan-out item.
func (r *runner) dataFor(s *Step, item map[string]string) map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := make(map[string]any, len(r.base)+3)
	for k, v := range r.base {
		d[k] = v
	}
	if ids, ok := r.refs[s.ID]; ok {
		d["steps"] = r.state.stepsViewOf(ids)
	} else {
		d["steps"] = r.state.stepsView(r.pb.Steps)
	}
	d["args"] = argsData(s)
	if item != nil {
		d["item"] = item
	}
	return d
}

func (r *runner) markFailed(key string) {
	r.mu.Lock()
	r.failed = append(r.failed, key)
	r.mu.Unlock()
}

// markWaiting parks key until an operator decides. why, when not "",
// says what the operator must decide and type (e.g. --assume-done); else
// answering on a terminal is enough.
func (r *runner) markWaiting(key, why string) {
	r.mu.Lock()
	r.waiting = append(r.waiting, key)
	if why != "" {
		if r.waitWhy == nil {
			r.waitWhy = map[string]string{}
		}
		r.waitWhy[key] = why
	}
	r.mu.Unlock()
}

// waitMessage tells what the waiting steps need: plain(keys) for those an
// operator at a terminal can answer, their own reason for the others.
func (r *runner) waitMessage(plain func(keys string) string) string {
	var keys, parts []string
	for _, k := range r.waiting {
		if why := r.waitWhy[k]; why != "" {
			parts = append(parts, fmt.Sprintf("step %s %s", k, why))
		} else {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		parts = append([]string{plain(strings.Join(keys, ", "))}, parts...)
	}
	return strings.Join(parts, "; ")
}

// execStep runs one step of the DAG: its condition, its confirmation, its
// action or its fan-out.
func (r *runner) execStep(ctx context.Context, s *Step) {
	data := r.dataFor(s, nil)
	if s.When != "" {
		v, err := r.render.render(s.When, data, true, nil)
		if err != nil {
			r.failStep(s.ID, fmt.Errorf("when: %w", err))
			return
		}
		run, err := truth(v)
		if err != nil {
			r.failStep(s.ID, fmt.Errorf("when: %s %w", s.When, err))
			return
		}
		if !run {
			r.record(nil, Event{Type: EvStepSkipped, Step: s.ID, Message: "condition is false: " + s.When})
			return
		}
	}
	if s.ForEach != nil {
		r.fanOut(ctx, s, data)
		return
	}
	r.execOne(ctx, s, s.ID, data, true)
}

// failStep records a failure that happened before any command ran.
func (r *runner) failStep(key string, err error) {
	if rerr := r.record(nil, Event{Type: EvStepFailed, Step: key, Message: err.Error(), Exit: new(int)}); rerr != nil {
		err = errors.Join(err, rerr)
	}
	r.markFailed(key)
}

// prepared is a step rendered for one execution.
type prepared struct {
	title, host string
	action      Action
	args        any    // the decoded arguments, real values
	shown       string // the commands, secrets masked
	secrets     []string
}

// prepare renders and decodes ref for one execution of s. reverse, when
// set, turns the step's arguments into those of its undo (Reverser).
func (r *runner) prepare(s *Step, ref *ActionRef, data map[string]any, reverse map[string]string) (prepared, error) {
	var p prepared
	var err error
	if p.title, err = r.render.render(s.Title, data, true, nil); err != nil {
		return p, fmt.Errorf("title: %w", err)
	}
	host := s.Host
	if ref.Host != "" {
		host = ref.Host
	}
	if p.host, err = r.render.render(host, data, true, nil); err != nil {
		return p, fmt.Errorf("host: %w", err)
	}
	if p.host == "" {
		p.host = "local"
	}
	p.action = r.e.Actions[ref.Kind]
	if p.action == nil {
		return p, fmt.Errorf("unknown action %q", ref.Kind)
	}
	masked := make(map[string]any, len(ref.With))
	vals := make(map[string]any, len(ref.With))
	for k, v := range ref.With {
		if masked[k], err = renderValue(&r.render, v, data, true, nil); err != nil {
			return p, fmt.Errorf("%s: %w", k, err)
		}
		if vals[k], err = renderValue(&r.render, v, data, false, &p.secrets); err != nil {
			return p, fmt.Errorf("%s: %w", k, err)
		}
	}
	r.mask.add(p.secrets...)
	args, errs := decode(p.action, vals, nil)
	if len(errs) > 0 {
		return p, fmt.Errorf("action %s: %w", ref.Kind, errors.Join(errs...))
	}
	shownArgs, _ := decode(p.action, masked, nil)
	if reverse != nil {
		rv := p.action.(Reverser)
		args, shownArgs = rv.Reverse(args, reverse), rv.Reverse(shownArgs, reverse)
	}
	p.args = args
	p.shown = r.mask.apply(strings.Join(p.action.Plan(p.host, shownArgs), "\n"))
	return p, nil
}

// call runs a prepared action once, with its timeout.
func (r *runner) call(ctx context.Context, s *Step, key string, p prepared, attempt int) (Outcome, error) {
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	var out io.Writer = io.Discard
	if r.e.Stream != nil {
		if w := r.e.Stream(r.id, key); w != nil {
			out = &maskWriter{w: w, m: r.mask}
		}
	}
	o, err := p.action.Run(ctx, Call{
		RunID: r.id, Step: key, Host: p.host, Args: p.args, Attempt: attempt,
		Secrets: p.secrets, Output: out,
	})
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && s.Timeout > 0 {
		err = fmt.Errorf("timed out after %s (it may have partly run): %w", s.Timeout, err)
	}
	if w, ok := out.(*maskWriter); ok {
		w.Flush()
	}
	return o, err
}

// execOne runs one step, or one fan-out child (key "parent[item]"), with
// its confirmation, retries and journal events.
func (r *runner) execOne(ctx context.Context, s *Step, key string, data map[string]any, ask bool) {
	p, err := r.prepare(s, &s.Action, data, nil)
	if err != nil {
		r.failStep(key, err)
		return
	}
	if ask {
		switch r.confirm(ctx, s, key, p) {
		case gateSkip, gateStop:
			return
		}
	}
	backoff := s.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	for attempt := 1; ; attempt++ {
		if err := r.record(nil, Event{Type: EvStepStarted, Step: key, Attempt: attempt, Host: p.host, Command: p.shown, Message: p.title}); err != nil {
			r.markFailed(key)
			return
		}
		start := time.Now()
		o, err := r.call(ctx, s, key, p, attempt)
		ev := Event{Step: key, Attempt: attempt, Host: p.host, Stdout: o.Stdout, Stderr: o.Stderr, Duration: time.Since(start)}
		if o.Ran {
			ev.Exit = &o.Exit
		}
		switch {
		case ctx.Err() != nil:
			ev.Type, ev.Message = EvInterrupted, "interrupted while running: the step is in doubt until resume decides"
			r.record(nil, ev)
			return
		case err == nil:
			// Committed with what comes next (see recordEnd).
			ev.Type, ev.Outputs, ev.Items = EvStepSucceeded, o.Outputs, o.Items
			r.recordEnd(ev)
			return
		case attempt <= s.Retries:
			ev.Type = EvStepFailed
			ev.Message = fmt.Sprintf("attempt %d of %d failed: %v; trying again in %s", attempt, s.Retries+1, err, backoff)
			if rerr := r.record(nil, ev); rerr != nil {
				r.markFailed(key)
				return
			}
			select {
			case <-ctx.Done():
				r.record(nil, Event{Type: EvInterrupted, Step: key, Message: "interrupted between attempts"})
				return
			case <-time.After(backoff):
			}
			backoff *= 2
		default:
			ev.Type, ev.Message = EvStepFailed, err.Error()
			r.record(nil, ev)
			r.markFailed(key)
			return
		}
	}
}

type gate int

const (
	gateRun gate = iota
	gateSkip
	gateStop
)

// confirm asks before a step runs when the step or the mode wants it.
func (r *runner) confirm(ctx context.Context, s *Step, key string, p prepared) gate {
	r.mu.Lock()
	need := s.Confirm || (r.e.StepMode && !r.continueAll)
	r.mu.Unlock()
	if !need {
		return gateRun
	}
	reason := "step-through"
	if s.Confirm {
		reason = "this step needs an operator's confirmation"
	}
	a, err := r.ask(ctx, Question{
		RunID: r.id, Step: key, Title: p.title, Host: p.host, Command: p.shown,
		Reason: reason, Details: r.details(s), Choices: []Choice{Yes, Skip, All, Abort},
	}, "confirm")
	switch {
	case errors.Is(err, ErrNoOperator):
		r.record(nil, Event{Type: EvWaiting, Step: key, Host: p.host, Command: p.shown,
			Message: reason + ": no operator at a terminal; resume on a terminal or with --yes"})
		r.markWaiting(key, "")
		return gateStop
	case err != nil:
		r.record(nil, Event{Type: EvInterrupted, Step: key, Message: "confirmation: " + err.Error()})
		r.mu.Lock()
		r.aborted = true
		r.mu.Unlock()
		return gateStop
	}
	by := a.By
	switch a.Choice {
	case Yes, All:
		r.mu.Lock()
		if a.Choice == All {
			r.continueAll = true
		}
		r.mu.Unlock()
		r.record(nil, Event{Type: EvConfirmed, Step: key, Host: p.host, Command: p.shown, By: &by, Message: string(a.Choice)})
		return gateRun
	case Skip:
		r.record(nil,
			Event{Type: EvDeclined, Step: key, By: &by, Message: "operator chose to skip"},
			Event{Type: EvStepSkipped, Step: key, Message: "skipped by " + whoString(by)})
		return gateSkip
	default:
		r.record(nil, Event{Type: EvDeclined, Step: key, By: &by, Message: "operator aborted the run"})
		r.mu.Lock()
		r.aborted = true
		r.mu.Unlock()
		return gateStop
	}
}

// ask puts a question to the operator, or answers it for --yes.
func (r *runner) ask(ctx context.Context, q Question, _ string) (Answer, error) {
	if r.e.AssumeYes {
		who := r.e.Who
		who.Via = "--yes"
		choice := Yes
		if slices.Contains(q.Choices, AssumeDone) && !slices.Contains(q.Choices, Yes) {
			return Answer{}, ErrNoOperator // --yes never decides an in-doubt step
		}
		return Answer{Choice: choice, By: who}, nil
	}
	if r.e.Prompter == nil {
		return Answer{}, ErrNoOperator
	}
	// What ended is in the journal before an operator is kept waiting.
	if err := r.flush(); err != nil {
		return Answer{}, err
	}
	r.promptMu.Lock()
	defer r.promptMu.Unlock()
	return r.e.Prompter.Ask(ctx, q)
}

func (r *runner) details(s *Step) string {
	var b strings.Builder
	fmt.Fprintf(&b, "step %s, action %s", s.ID, s.Action.Kind)
	if s.Probe != nil {
		fmt.Fprintf(&b, "; probe %s", s.Probe.Kind)
	}
	_, reverses := r.e.Actions[s.Action.Kind].(Reverser)
	switch {
	case s.ReadOnly:
		b.WriteString("; read-only")
	case s.Undo != nil:
		fmt.Fprintf(&b, "; undo %s", s.Undo.Kind)
	case s.UndoNone != "":
		b.WriteString("; nothing to undo: " + s.UndoNone)
	case reverses:
		b.WriteString("; undone by putting back what it recorded")
	default:
		b.WriteString("; no automatic undo")
	}
	if s.Idempotent {
		b.WriteString("; idempotent")
	}
	if s.Timeout > 0 {
		fmt.Fprintf(&b, "; timeout %s", s.Timeout)
	}
	if s.Retries > 0 {
		fmt.Fprintf(&b, "; %d retries", s.Retries)
	}
	return b.String()
}

// fanOut runs one child per item of the step's list, each journaled on its
// own, and ends the parent when all children ended.
func (r *runner) fanOut(ctx context.Context, s *Step, data map[string]any) {
	r.mu.Lock()
	st := r.state.get(s.ID)
	items, fanned := st.children, st.fanned
	r.mu.Unlock()
	if !fanned {
		v, err := lookupPath(data, s.ForEach.Over)
		if err == nil {
			items, err = asItems(v)
		}
		if err != nil {
			r.failStep(s.ID, fmt.Errorf("foreach over %s: %w", s.ForEach.Over, err))
			return
		}
		seen := map[string]bool{}
		for _, it := range items {
			k := it[s.ForEach.Key]
			if k == "" || seen[k] {
				r.failStep(s.ID, fmt.Errorf("foreach over %s: item %v has no unique %q", s.ForEach.Over, it, s.ForEach.Key))
				return
			}
			seen[k] = true
		}
		if err := r.record(nil, Event{Type: EvFanOut, Step: s.ID, Items: items,
			Message: fmt.Sprintf("%d items from %s", len(items), s.ForEach.Over)}); err != nil {
			r.markFailed(s.ID)
			return
		}
	}
	if len(items) > 0 {
		first := mergeItem(data, items[0])
		p, err := r.prepare(s, &s.Action, first, nil)
		if err != nil {
			r.failStep(s.ID, err)
			return
		}
		p.shown = fmt.Sprintf("for each of %d items of %s, e.g. %s", len(items), s.ForEach.Over, p.shown)
		if r.pendingChildren(s, items) && r.confirm(ctx, s, s.ID, p) != gateRun {
			return
		}
	}
	bound := s.ForEach.Parallel
	if bound <= 0 {
		bound = r.e.Parallel
	}
	if bound <= 0 {
		bound = 4
	}
	// Children start in item order, at most bound at once.
	sem := make(chan struct{}, bound)
	var wg sync.WaitGroup
children:
	for _, it := range items {
		key := childKey(s, it)
		r.mu.Lock()
		cst := r.state.get(key)
		skip := cst.done()
		r.mu.Unlock()
		if skip {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break children
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r.execOne(ctx, s, key, mergeItem(r.dataFor(s, nil), it), false)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	var failed []string
	var outs []map[string]string
	r.mu.Lock()
	for _, it := range items {
		key := childKey(s, it)
		cst := r.state.get(key)
		if !cst.done() {
			failed = append(failed, it[s.ForEach.Key])
			continue
		}
		o := map[string]string{s.ForEach.Key: it[s.ForEach.Key]}
		for k, v := range cst.outputs {
			o[k] = v
		}
		outs = append(outs, o)
	}
	r.failed = slices.DeleteFunc(r.failed, func(k string) bool { return strings.HasPrefix(k, s.ID+"[") })
	r.mu.Unlock()
	if len(failed) > 0 {
		r.record(nil, Event{Type: EvStepFailed, Step: s.ID, Exit: new(int),
			Message: fmt.Sprintf("%d of %d failed: %s", len(failed), len(items), strings.Join(failed, ", "))})
		r.markFailed(s.ID)
		return
	}
	r.record(nil, Event{Type: EvStepSucceeded, Step: s.ID, Items: outs,
		Message: fmt.Sprintf("%d of %d succeeded", len(items), len(items))})
}

func (r *runner) pendingChildren(s *Step, items []map[string]string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, it := range items {
		if !r.state.get(childKey(s, it)).done() {
			return true
		}
	}
	return false
}

func childKey(s *Step, item map[string]string) string {
	return s.ID + "[" + item[s.ForEach.Key] + "]"
}

func mergeItem(data map[string]any, item map[string]string) map[string]any {
	d := make(map[string]any, len(data)+1)
	for k, v := range data {
		d[k] = v
	}
	d["item"] = item
	return d
}

func whoString(w Who) string {
	s := w.User
	if w.SudoUser != "" {
		s = w.SudoUser + " (as " + w.User + ")"
	}
	if w.Host != "" {
		s += "@" + w.Host
	}
	if w.TTY != "" {
		s += " on " + w.TTY
	}
	if w.Via != "" {
		s += " via " + w.Via
	}
	return s
}
