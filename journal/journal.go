package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hamnflow/hamnflow/workflow"

	bolt "go.etcd.io/bbolt"
)

// Journal is a hamnflow journal file. It holds no open handle: every call
// opens the file, runs one transaction and closes it again, so that other
// processes can read the journal while a run is writing to it. A Journal is
// safe for concurrent use.
type Journal struct {
	path    string
	lockDir string // where the cluster locks live

	checkMu      sync.Mutex
	checked      bool            // the file checked before this process's first write
	checkedRuns  map[string]bool // runs whose log was read back before the first append
	readTimeout  time.Duration   // how long a read waits for a writer
	writeTimeout time.Duration   // how long a write waits for other processes
}

// The bbolt journal is the engine's default store.
var _ workflow.Store = (*Journal)(nil)

// Open opens the journal at path, creating it (and its parent directories,
// mode 0700; the file gets mode 0600) if it does not exist. An existing file
// is checked and never modified: an empty, damaged, foreign or
// other-version file gives ErrCorrupt, ErrNotJournal or ErrVersion.
func Open(path string) (*Journal, error) { return OpenWith(path, Options{}) }

// Options are how a journal is opened.
type Options struct {
	// LockDir is where the cluster locks live; "" is DefaultLockDir().
	LockDir string
}

// OpenWith is Open with options.
func OpenWith(path string, o Options) (*Journal, error) {
	j := &Journal{path: path, lockDir: o.LockDir, readTimeout: defaultReadTimeout, writeTimeout: defaultWriteTimeout}
	if j.lockDir == "" {
		j.lockDir = DefaultLockDir()
	}
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		to, _ := os.Readlink(path)
		return nil, errorf(ErrNotJournal, "journal %s is a symbolic link (to %s); hamnflow does not follow links for its journal: give the real path with --journal", path, to)
	case errors.Is(err, fs.ErrNotExist):
		if err := j.create(); err != nil {
			return nil, err
		}
		return j, nil
	case err != nil:
		return nil, fmt.Errorf("open journal %s: %w; check the --journal path and its permissions", path, err)
	case !fi.Mode().IsRegular():
		return nil, errorf(ErrNotJournal, "%s is not a hamnflow journal: it is not a regular file; check the --journal path", path)
	}
	if err := j.view(func(*bolt.Tx) error { return nil }); err != nil {
		return nil, err
	}
	return j, nil
}

// Path returns the journal's file name.
func (j *Journal) Path() string { return j.path }

// CreateRun records a new run and its source in one committed transaction.
// It assigns r.ID if empty (see NewRunID) and sets StartedAt and UpdatedAt
// if zero, and returns the run as stored.
func (j *Journal) CreateRun(r workflow.Run, src workflow.Source) (workflow.Run, error) {
	now := now()
	if r.StartedAt.IsZero() {
		r.StartedAt = now
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = now
	}
	given := r.ID != ""
	err := j.update(func(tx *bolt.Tx) error {
		runs := tx.Bucket(runsBucket)
		for i := 0; r.ID == "" || runs.Get([]byte(r.ID)) != nil; i++ {
			if given {
				return fmt.Errorf("run %s already exists; give a new run id", r.ID)
			}
			if i == 100 {
				return errors.New("no free run id after 100 attempts")
			}
			last, _ := runs.Cursor().Last()
			r.ID = workflow.NewRunID(r.StartedAt, string(last))
		}
		if err := putJSON(runs, []byte(r.ID), r); err != nil {
			return err
		}
		if err := putJSON(tx.Bucket(srcBucket), []byte(r.ID), src); err != nil {
			return err
		}
		_, err := tx.Bucket(eventsBucket).CreateBucket([]byte(r.ID))
		return err
	})
	if err != nil {
		return workflow.Run{}, fmt.Errorf("create run in %s: %w", j.path, err)
	}
	j.checkMu.Lock()
	if j.checkedRuns == nil {
		j.checkedRuns = map[string]bool{}
	}
	j.checkedRuns[r.ID] = true // a new run: nothing to read back
	j.checkMu.Unlock()
	return r, nil
}

// Append appends evs to the log of run runID and applies update (if not
// nil) to the run's summary, all in one transaction that is committed and
// fsynced before Append returns. It assigns each event its Seq (1-based per
// run, continuing the log) and its Time if zero, sets the run's UpdatedAt,
// and returns the events as stored. update must not change the run's ID.
func (j *Journal) Append(runID string, update func(*workflow.Run), evs ...workflow.Event) ([]workflow.Event, error) {
	if err := j.checkRun(runID); err != nil {
		return nil, fmt.Errorf("append to run %s: %w", runID, err)
	}
	out := make([]workflow.Event, len(evs))
	var userPanic any // a panic in update is the caller's, not a damaged file
	err := j.update(func(tx *bolt.Tx) error {
		key := []byte(runID)
		runs := tx.Bucket(runsBucket)
		var r workflow.Run
		if err := getJSON(j.path, runs, key, &r); err != nil {
			return err
		}
		log := tx.Bucket(eventsBucket).Bucket(key)
		if log == nil {
			return corrupt(j.path, fmt.Sprintf("run %s has no event log", runID))
		}
		now := now()
		for i, ev := range evs {
			seq, err := log.NextSequence()
			if err != nil {
				return err
			}
			ev.Seq = seq
			if ev.Time.IsZero() {
				ev.Time = now
			}
			if err := putJSON(log, seqKey(seq), ev); err != nil {
				return err
			}
			out[i] = ev
		}
		if update != nil {
			if userPanic = call(update, &r); userPanic != nil {
				return errors.New("update panicked") // roll back, then re-panic
			}
			r.ID = runID
		}
		r.UpdatedAt = now
		return putJSON(runs, key, r)
	})
	if userPanic != nil {
		panic(userPanic)
	}
	if err != nil {
		return nil, fmt.Errorf("append to run %s: %w", runID, err)
	}
	return out, nil
}

// workflow.Run returns the summary of run id, which may be given as a unique prefix
// of at least 4 characters.
func (j *Journal) Run(id string) (workflow.Run, error) {
	var r workflow.Run
	err := j.view(func(tx *bolt.Tx) error {
		key, err := j.resolve(tx, id)
		if err != nil {
			return err
		}
		return getJSON(j.path, tx.Bucket(runsBucket), key, &r)
	})
	if err != nil {
		return workflow.Run{}, fmt.Errorf("read run %s: %w", id, err)
	}
	return r, nil
}

// workflow.Source returns what run id (or a unique prefix of it) started from.
func (j *Journal) Source(id string) (workflow.Source, error) {
	var s workflow.Source
	err := j.view(func(tx *bolt.Tx) error {
		key, err := j.resolve(tx, id)
		if err != nil {
			return err
		}
		if tx.Bucket(srcBucket).Get(key) == nil {
			return corrupt(j.path, fmt.Sprintf("run %s has no source", key))
		}
		return getJSON(j.path, tx.Bucket(srcBucket), key, &s)
	})
	if err != nil {
		return workflow.Source{}, fmt.Errorf("read source of run %s: %w", id, err)
	}
	return s, nil
}

// Events returns the log of run id (or a unique prefix of it), in order.
func (j *Journal) Events(id string) ([]workflow.Event, error) {
	var evs []workflow.Event
	err := j.view(func(tx *bolt.Tx) error {
		key, err := j.resolve(tx, id)
		if err != nil {
			return err
		}
		log := tx.Bucket(eventsBucket).Bucket(key)
		if log == nil {
			return corrupt(j.path, fmt.Sprintf("run %s has no event log", key))
		}
		evs = make([]workflow.Event, 0, log.Sequence())
		return log.ForEach(func(k, v []byte) error {
			var ev workflow.Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return corrupt(j.path, fmt.Sprintf("event %x of run %s: %v", k, key, err))
			}
			evs = append(evs, ev)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read events of run %s: %w", id, err)
	}
	return evs, nil
}

// Runs returns the runs that match f, newest first (by id, that is by start
// time to the second), at most f.Limit of them if it is positive.
func (j *Journal) Runs(f workflow.Filter) ([]workflow.Run, error) {
	var rs []workflow.Run
	err := j.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(runsBucket).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var r workflow.Run
			if err := json.Unmarshal(v, &r); err != nil {
				return corrupt(j.path, fmt.Sprintf("run %s: %v", k, err))
			}
			if !f.Match(&r) {
				continue
			}
			rs = append(rs, r)
			if f.Limit > 0 && len(rs) == f.Limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return rs, nil
}

// minPrefix is the shortest run id prefix that workflow.Run, workflow.Source and Events accept.
const minPrefix = 4

// resolve returns the key of run id, or of the one run whose id starts with
// it.
func (j *Journal) resolve(tx *bolt.Tx, id string) ([]byte, error) {
	runs := tx.Bucket(runsBucket)
	if id != "" && runs.Get([]byte(id)) != nil {
		return []byte(id), nil
	}
	if len(id) < minPrefix {
		return nil, errorf(ErrNotFound, "no run %q in journal %s; give the full run id or at least %d characters of it", id, j.path, minPrefix)
	}
	var found []string
	c := runs.Cursor()
	for k, _ := c.Seek([]byte(id)); k != nil && bytes.HasPrefix(k, []byte(id)); k, _ = c.Next() {
		found = append(found, string(k))
	}
	switch {
	case len(found) == 0:
		return nil, errorf(ErrNotFound, "no run %q in journal %s; list the runs to find its id", id, j.path)
	case len(found) > 1:
		if len(found) > 10 {
			found = append(found[:10], "...")
		}
		return nil, fmt.Errorf("run id prefix %q is ambiguous in journal %s, it matches %s; give more of the id", id, j.path, strings.Join(found, ", "))
	}
	return []byte(found[0]), nil
}

// NewRunID returns a run id for a run started at t (workflow.NewRunID).
func NewRunID(t time.Time) string { return workflow.NewRunID(t, "") }

// now is the time stamp for new records: UTC without a monotonic reading, so
// that it reads back from the journal equal.
func now() time.Time { return time.Now().UTC().Round(0) }

// call calls update(r) and returns what it panicked with, if anything.
func call(update func(*workflow.Run), r *workflow.Run) (p any) {
	defer func() { p = recover() }()
	update(r)
	return nil
}

// seqKey is the key of event seq in a run's log.
func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// getJSON decodes the value of key in b into v, or returns ErrNotFound.
func getJSON(path string, b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return errorf(ErrNotFound, "no run %q in journal %s; list the runs to find its id", key, path)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return corrupt(path, fmt.Sprintf("record %s: %v", key, err))
	}
	return nil
}

// The bbolt journal takes in copied runs.
var _ workflow.Importer = (*Journal)(nil)

// ImportRun adds a run copied from another journal, with its id, summary,
// source and events (their seqs and times) unchanged, in one transaction.
// It refuses a run whose id the journal holds already.
func (j *Journal) ImportRun(r workflow.Run, src workflow.Source, evs []workflow.Event) error {
	if r.ID == "" {
		return errors.New("import run: the run has no id")
	}
	err := j.update(func(tx *bolt.Tx) error {
		key := []byte(r.ID)
		runs := tx.Bucket(runsBucket)
		if runs.Get(key) != nil {
			return fmt.Errorf("run %s exists in journal %s already; hamnflow journal copy does not overwrite runs", r.ID, j.path)
		}
		if err := putJSON(runs, key, r); err != nil {
			return err
		}
		if err := putJSON(tx.Bucket(srcBucket), key, src); err != nil {
			return err
		}
		logs := tx.Bucket(eventsBucket)
		if logs.Bucket(key) != nil { // a log without its run: not ours to keep
			if err := logs.DeleteBucket(key); err != nil {
				return err
			}
		}
		log, err := logs.CreateBucket(key)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if err := putJSON(log, seqKey(ev.Seq), ev); err != nil {
				return err
			}
		}
		if len(evs) > 0 {
			return log.SetSequence(evs[len(evs)-1].Seq)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import run %s into %s: %w", r.ID, j.path, err)
	}
	return nil
}
