package runlock

import (
	"context"

	"github.com/hamnflow/hamnflow/workflow"
)

// Store is a Store whose cluster lock also marks the MNs: its Lock takes
// the store's own lock first (on this machine), then the markers. The
// Store interface's Lock takes no context, so Store carries the one the
// markers are read and written under (the command's).
type Store struct {
	workflow.Store
	Guard *Guard
	Ctx   context.Context
}

var _ workflow.Store = (*Store)(nil)

// Lock takes the store's lock of cluster, then the MNs' markers; a live
// marker of another run gives it back and returns a *HeldError.
func (s *Store) Lock(cluster string, h workflow.Holder) (workflow.Lock, error) {
	inner, err := s.Store.Lock(cluster, h)
	if err != nil {
		return nil, err
	}
	held, err := s.Guard.Acquire(s.Ctx, cluster, h)
	if err != nil {
		inner.Release()
		return nil, err
	}
	return &lock{inner: inner, held: held, s: s, runID: h.RunID}, nil
}

// lock is the store's lock and the markers together.
type lock struct {
	inner workflow.Lock
	held  *Held
	s     *Store
	runID string
}

func (l *lock) SetRun(id string) error {
	if err := l.inner.SetRun(id); err != nil {
		return err
	}
	l.runID = id
	return l.held.SetRun(id)
}

// Lost is closed when another run took over a marker of this one.
func (l *lock) Lost() <-chan struct{} { return l.held.Lost() }

// LostReason says why, for the run's last message.
func (l *lock) LostReason() string {
	return "another hamnflow took this run's marker on the MNs over (with --force): it was told that this run is dead"
}

// Release removes the markers when the run ended (succeeded, failed,
// rolled back or failed to) and leaves them when it is to be continued
// (interrupted, waiting for an operator, or still running because the
// journal could not record its end): the run's heartbeat stops, so they
// refuse others for Guard.Live more, time for its operator to resume it,
// and are taken over, and named, after that. Then it releases the
// store's lock.
func (l *lock) Release() error {
	remove := true
	if l.runID != "" {
		if r, err := l.s.Store.Run(l.runID); err != nil {
			remove = false
		} else {
			switch r.Status {
			case workflow.RunInterrupted, workflow.RunWaiting, workflow.RunRunning:
				remove = false
			}
		}
	}
	ctx := context.WithoutCancel(l.s.Ctx)
	l.held.Release(ctx, remove)
	return l.inner.Release()
}
