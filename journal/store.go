package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// Layout. Everything lives in four top-level buckets:
//
//	meta     format -> "hamnflow-journal", version -> FormatVersion (decimal)
//	runs     run id -> workflow.Run (JSON), small, so that listing runs stays cheap
//	sources  run id -> workflow.Source (JSON), the large playbook and inventory texts
//	events   run id -> bucket: big-endian seq -> workflow.Event (JSON)
//
// workflow.Run ids start with their UTC start time, so a reverse cursor over runs
// lists the newest first.
const formatName = "hamnflow-journal"

var (
	metaBucket   = []byte("meta")
	runsBucket   = []byte("runs")
	srcBucket    = []byte("sources")
	eventsBucket = []byte("events")
	keyFormat    = []byte("format")
	keyVersion   = []byte("version")
)

// Default lock waits: a transaction opens the file, takes its flock (shared
// for reads, exclusive for writes), and closes it again, so other hamnflow
// processes only wait for the length of one transaction.
const (
	defaultReadTimeout  = 5 * time.Second
	defaultWriteTimeout = 30 * time.Second
)

// boltMagic is the magic number in a bbolt meta page.
const boltMagic = 0xED0CDAED

// busyError is returned when the journal stayed locked by another process.
type busyError struct {
	path string
	wait time.Duration
}

func (e *busyError) Error() string {
	return fmt.Sprintf("journal %s is busy: another process held it for more than %s; retry, and if it stays busy find the process with `fuser %s`", e.path, e.wait, e.path)
}

// passError marks errors from our OpenFile hook that already say everything.
type passError struct{ err error }

func (e *passError) Error() string { return e.err.Error() }
func (e *passError) Unwrap() error { return e.err }

// create makes a new journal at j.path: it initialises a temporary file next
// to it and links it into place, so that no process ever sees a half-made
// journal and an existing file is never replaced.
func (j *Journal) create() error {
	dir := filepath.Dir(j.path)
	// Only in a directory nobody else can write to: another user could
	// otherwise put a link or a file of theirs in the journal's place.
	if err := ownDir("journal directory", "--journal", dir); err != nil {
		return fmt.Errorf("create journal %s: %w", j.path, err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(j.path)+".new-*") // mode 0600
	if err != nil {
		return fmt.Errorf("create journal %s: %w; check the --journal path and its permissions", j.path, err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("create journal %s: %w", j.path, err)
	}
	db, err := bolt.Open(name, 0o600, &bolt.Options{Timeout: j.writeTimeout})
	if err != nil {
		return fmt.Errorf("create journal %s: %w", j.path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucket(metaBucket)
		if err != nil {
			return err
		}
		if err := m.Put(keyFormat, []byte(formatName)); err != nil {
			return err
		}
		if err := m.Put(keyVersion, []byte(strconv.Itoa(FormatVersion))); err != nil {
			return err
		}
		for _, b := range [][]byte{runsBucket, srcBucket, eventsBucket} {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create journal %s: %w", j.path, err)
	}
	if err := os.Link(name, j.path); errors.Is(err, fs.ErrExist) {
		return j.view(func(*bolt.Tx) error { return nil }) // another process won; check its file
	} else if err != nil {
		return fmt.Errorf("create journal %s: %w", j.path, err)
	}
	if d, err := os.Open(dir); err == nil { // make the new name durable
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("create journal %s: sync directory: %w", j.path, err)
		}
	}
	return nil
}

// view runs fn in a read-only transaction.
func (j *Journal) view(fn func(*bolt.Tx) error) error { return j.do(false, fn) }

// update runs fn in a read-write transaction, committed (and fsynced) before
// update returns. Before this process's first write the journal must check
// out (checkOnce): hamnflow writes to no journal whose history it could not
// show afterwards.
func (j *Journal) update(fn func(*bolt.Tx) error) error {
	if err := j.checkOnce(); err != nil {
		return err
	}
	return j.do(true, fn)
}

// checkOnce checks, once per process, that what history reads reads back:
// every run's summary, and that every run has its source and its log. (A
// run's log is read back by checkRun before that run is written to; the
// logs of other runs are not read, which would cost a pass over the whole
// file before every resume.) A page fault from a damaged page is recovered
// by do, in this goroutine.
func (j *Journal) checkOnce() error {
	j.checkMu.Lock()
	defer j.checkMu.Unlock()
	if j.checked {
		return nil
	}
	err := j.do(false, func(tx *bolt.Tx) error {
		// One pass over each bucket's keys, side by side: the three hold
		// the same run ids in the same order.
		srcs, logs := tx.Bucket(srcBucket).Cursor(), tx.Bucket(eventsBucket).Cursor()
		sk, _ := srcs.First()
		lk, _ := logs.First()
		return tx.Bucket(runsBucket).ForEach(func(k, v []byte) error {
			if !json.Valid(v) {
				return corrupt(j.path, fmt.Sprintf("the record of run %s does not read back", k))
			}
			for sk != nil && bytes.Compare(sk, k) < 0 {
				sk, _ = srcs.Next()
			}
			for lk != nil && bytes.Compare(lk, k) < 0 {
				lk, _ = logs.Next()
			}
			switch {
			case !bytes.Equal(sk, k):
				return corrupt(j.path, fmt.Sprintf("run %s has no source", k))
			case !bytes.Equal(lk, k):
				return corrupt(j.path, fmt.Sprintf("run %s has no event log", k))
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	j.checked = true
	return nil
}

// checkRun checks, once per process and run, that the run's source and
// every event of its log read back, before the first event is added to
// it: resume and rollback replay them.
func (j *Journal) checkRun(runID string) error {
	j.checkMu.Lock()
	done := j.checkedRuns[runID]
	j.checkMu.Unlock()
	if done {
		return nil
	}
	if _, err := j.Source(runID); err != nil {
		return err
	}
	if _, err := j.Events(runID); err != nil {
		return err
	}
	j.checkMu.Lock()
	if j.checkedRuns == nil {
		j.checkedRuns = map[string]bool{}
	}
	j.checkedRuns[runID] = true
	j.checkMu.Unlock()
	return nil
}

// do opens the journal, checks it, runs fn in one transaction and closes the
// journal again. Faults and panics from a damaged file become ErrCorrupt.
func (j *Journal) do(write bool, fn func(*bolt.Tx) error) (err error) {
	var (
		f    *os.File
		size int64
	)
	defer func() {
		if p := recover(); p != nil {
			if f != nil {
				// Unlock explicitly: the mapping bbolt leaves behind keeps
				// the open file, and so its flock, alive after Close.
				if rc, err := f.SyscallConn(); err == nil {
					rc.Control(func(fd uintptr) { unix.Flock(int(fd), unix.LOCK_UN) })
				}
				f.Close()
			}
			err = corrupt(j.path, fmt.Sprintf("a page points outside the file or holds garbage (%s)", faultKind(p)))
		}
	}()
	// A damaged page can point outside the file: make the SIGBUS/SIGSEGV a
	// recoverable panic instead of a crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))

	wait := j.readTimeout
	if write {
		wait = j.writeTimeout
	}
	// Otherwise bbolt's defaults, as measured: NoFreelistSync would make
	// every read-write open rebuild the freelist by walking the whole file
	// (Append in a 10,000-run journal: ~40 ms instead of ~0.4 ms), and the
	// freelist type or an InitialMmapSize made no measurable difference. A
	// read costs ~25 µs for open, mmap and close; an Append is dominated by
	// the two fdatasyncs of bbolt's commit.
	opts := &bolt.Options{
		ReadOnly: !write,
		Timeout:  wait,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			var err error
			f, size, err = j.openLocked(flag&^os.O_CREATE, write, wait)
			if err != nil {
				return nil, &passError{err}
			}
			return f, nil
		},
	}
	db, err := bolt.Open(j.path, 0o600, opts)
	if err != nil {
		return j.openError(err)
	}
	run := db.View
	if write {
		run = db.Update
	}
	err = run(func(tx *bolt.Tx) error {
		if err := j.check(tx, size); err != nil {
			return err
		}
		return fn(tx)
	})
	// Not deferred: after a panic bbolt's locks may be held, so the recover
	// above only closes the file (leaving the mapping of the damaged file).
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close journal %s: %w", j.path, cerr)
	}
	return err
}

// openLocked opens the journal file and takes its flock, waiting up to wait.
// It refuses an empty file, which bbolt would otherwise initialise.
func (j *Journal) openLocked(flag int, exclusive bool, wait time.Duration) (*os.File, int64, error) {
	// Never through a symbolic link: hamnflow runs as root, and a link put
	// in the journal's place would have it write over the link's target.
	f, err := os.OpenFile(j.path, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("journal %s has disappeared: %w; restore it, or point --journal at a new path", j.path, err)
	} else if errors.Is(err, unix.ELOOP) {
		return nil, 0, errorf(ErrNotJournal, "journal %s has been replaced by a symbolic link; hamnflow does not follow links for its journal: remove the link and restore the journal, or point --journal at a new path", j.path)
	} else if err != nil {
		return nil, 0, fmt.Errorf("open journal %s: %w; check its permissions", j.path, err)
	}
	if err := flockWait(f, exclusive, wait); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, 0, &busyError{j.path, wait}
		}
		return nil, 0, fmt.Errorf("lock journal %s: %w", j.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open journal %s: %w", j.path, err)
	}
	switch {
	case !fi.Mode().IsRegular():
		f.Close()
		return nil, 0, errorf(ErrNotJournal, "%s is not a hamnflow journal: it is not a regular file; check the --journal path", j.path)
	case exclusive && !ownedByUs(fi):
		f.Close()
		return nil, 0, fmt.Errorf("journal %s belongs to another user (uid %d); hamnflow writes only journals of its own user or root's: check the --journal path", j.path, fileUID(fi))
	}
	if fi.Size() == 0 {
		f.Close()
		return nil, 0, errorf(ErrCorrupt, "journal %s is empty (truncated?): %s", j.path, keepIt)
	}
	return f, fi.Size(), nil
}

// flockWait takes a shared or exclusive flock on f, waiting up to wait. The
// wait blocks in the kernel, which wakes the waiter as soon as the lock is
// released: polling would rarely catch the short gaps between a busy
// writer's transactions.
func flockWait(f *os.File, exclusive bool, wait time.Duration) error {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	try := func(how int) (err error) {
		if cerr := rc.Control(func(fd uintptr) {
			for {
				if err = unix.Flock(int(fd), how); err != unix.EINTR {
					return
				}
			}
		}); cerr != nil {
			return cerr
		}
		return err
	}
	if err := try(how | unix.LOCK_NB); err != unix.EWOULDBLOCK {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- try(how) }()
	select {
	case err := <-done:
		return err
	case <-time.After(wait):
		// The blocked flock cannot be cancelled. The caller closes f; the
		// descriptor, and any lock it then gets, goes when flock returns.
		return unix.EWOULDBLOCK
	}
}

// openError turns an error from bolt.Open into one that says what to do.
func (j *Journal) openError(err error) error {
	var pass *passError
	if errors.As(err, &pass) {
		return pass.err
	}
	if looksLikeBolt(j.path) {
		return corrupt(j.path, err)
	}
	return errorf(ErrNotJournal, "%s is not a hamnflow journal: not a bbolt database (%v); check the --journal path, and move this file away only if you know what it is", j.path, err)
}

// looksLikeBolt reports whether the file has a bbolt meta page magic, to tell
// a damaged journal from some other file.
func looksLikeBolt(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [4]byte
	for _, off := range []int64{16, 4096 + 16} {
		if _, err := f.ReadAt(b[:], off); err != nil && err != io.EOF {
			return false
		}
		if binary.NativeEndian.Uint32(b[:]) == boltMagic {
			return true
		}
	}
	return false
}

// check verifies, at the start of every transaction, that the file is a
// complete hamnflow journal of our version. It is cheap: the meta pages, the
// file size and one small bucket.
func (j *Journal) check(tx *bolt.Tx, size int64) error {
	if tx.Size() > size {
		return corrupt(j.path, fmt.Sprintf("the file is %d bytes but its pages reach byte %d (truncated?)", size, tx.Size()))
	}
	m := tx.Bucket(metaBucket)
	if m == nil {
		return errorf(ErrNotJournal, "%s is not a hamnflow journal: it is a bbolt database without a %q bucket (another application's?); check the --journal path", j.path, metaBucket)
	}
	if f := string(m.Get(keyFormat)); f != formatName {
		return errorf(ErrNotJournal, "%s is not a hamnflow journal: its format is %q, not %q; check the --journal path", j.path, f, formatName)
	}
	v, err := strconv.Atoi(string(m.Get(keyVersion)))
	if err != nil {
		return corrupt(j.path, fmt.Sprintf("bad format version %q", m.Get(keyVersion)))
	}
	if v != FormatVersion {
		return errorf(ErrVersion, "journal %s has format version %d, but this hamnflow understands version %d only; use a hamnflow release that matches the journal, or point --journal at a new path", j.path, v, FormatVersion)
	}
	for _, b := range [][]byte{runsBucket, srcBucket, eventsBucket} {
		if tx.Bucket(b) == nil {
			return corrupt(j.path, fmt.Sprintf("bucket %q is missing", b))
		}
	}
	return nil
}

// faultKind says what kind of fault a damaged page caused, without the Go
// runtime's words for it.
func faultKind(p any) string {
	msg := fmt.Sprint(p)
	switch {
	case strings.Contains(msg, "nil pointer"), strings.Contains(msg, "invalid memory address"), strings.Contains(msg, "fault"):
		return "reading it faulted"
	case strings.Contains(msg, "out of range"):
		return "an index is out of range"
	}
	return msg
}
