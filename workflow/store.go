package workflow

import "fmt"

// Store is where the engine keeps runs: their summaries, their sources and
// their append-only event logs, and the one-run-per-cluster lock. The
// engine acts on nothing before the Store has committed the event that
// says so. journal.Journal (bbolt) implements it.
type Store interface {
	// CreateRun records a new run and its source; it assigns the run's id
	// and start time if they are empty, and returns the run as stored.
	CreateRun(r Run, src Source) (Run, error)
	// Append adds events to a run's log and applies update (if not nil) to
	// its summary, durably and all at once, before it returns. It assigns
	// each event its Seq (1-based per run) and Time, and returns them as
	// stored.
	Append(runID string, update func(*Run), evs ...Event) ([]Event, error)
	// Run, Source and Events read one run, given by its id or a unique
	// prefix of it.
	Run(id string) (Run, error)
	Source(id string) (Source, error)
	Events(id string) ([]Event, error)
	// Runs lists the runs that pass f, newest first.
	Runs(f Filter) ([]Run, error)
	// Lock takes the cluster's run lock without waiting, or returns a
	// *LockedError naming the holder.
	Lock(cluster string, h Holder) (Lock, error)
}

// Lock is a held cluster run lock. A lock that can lapse while held (the
// etcd journal's, a lease) also has Lost() <-chan struct{}, closed once it
// is no longer renewed: the engine then stops the step in flight and
// starts nothing more.
type Lock interface {
	// SetRun records which run the holder works on.
	SetRun(id string) error
	// Release gives the lock up; releasing twice is harmless.
	Release() error
}

// Match reports whether r passes the filter.
func (f *Filter) Match(r *Run) bool {
	return (f.Playbook == "" || r.Playbook == f.Playbook) &&
		(f.Cluster == "" || r.Cluster == f.Cluster) &&
		(f.Status == "" || r.Status == f.Status) &&
		(f.Since.IsZero() || !r.StartedAt.Before(f.Since))
}

// Importer is a Store that takes in a run whole, as another Store holds
// it: its id, its summary, its source and its events with their seqs and
// times unchanged (hamnflow journal copy). It refuses a run whose id it
// holds already.
type Importer interface {
	ImportRun(r Run, src Source, evs []Event) error
}

// CopyRun copies run id from one store to another, unchanged.
func CopyRun(from Store, to Importer, id string) error {
	r, err := from.Run(id)
	if err != nil {
		return err
	}
	src, err := from.Source(r.ID)
	if err != nil {
		return err
	}
	evs, err := from.Events(r.ID)
	if err != nil {
		return err
	}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) {
			return fmt.Errorf("run %s: event %d has seq %d: the log has a gap, and is not copied", r.ID, i+1, ev.Seq)
		}
	}
	return to.ImportRun(r, src, evs)
}
