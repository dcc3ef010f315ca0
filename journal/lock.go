package journal

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hamnflow/hamnflow/workflow"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Lock is a held per-cluster run lock: an flock on a file next to the
// journal that holds the workflow.Holder as JSON. The kernel releases it when the
// holding process exits, however it exits, so it is never stale.
type Lock struct {
	f       *os.File
	path    string
	cluster string
	holder  workflow.Holder
}

// Lock takes the run lock of cluster without waiting, and records h (with
// its PID and Since filled in if zero) in the lock file. If another process
// holds the lock it returns a *workflow.LockedError naming that process.
func (j *Journal) Lock(cluster string, h workflow.Holder) (workflow.Lock, error) {
	if cluster == "" {
		return nil, errors.New("lock: no cluster name given")
	}
	path := j.path + "." + lockName(cluster) + ".lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock cluster %s: %w; check the permissions of the journal's directory", cluster, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &workflow.LockedError{Cluster: cluster, Holder: readHolder(f), Path: path}
		}
		return nil, fmt.Errorf("lock cluster %s with %s: %w", cluster, path, err)
	}
	if h.PID == 0 {
		h.PID = os.Getpid()
	}
	if h.Since.IsZero() {
		h.Since = now()
	}
	l := &Lock{f: f, path: path, cluster: cluster, holder: h}
	if err := l.write(); err != nil {
		l.Release()
		return nil, err
	}
	return l, nil
}

// SetRun records the id of the run the holder works on.
func (l *Lock) SetRun(id string) error {
	l.holder.RunID = id
	return l.write()
}

// Release releases the lock. The lock file stays; its holder record is
// overwritten by the next holder. Releasing twice is harmless.
func (l *Lock) Release() error {
	if l.f == nil {
		return nil
	}
	err := unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	if err != nil {
		return fmt.Errorf("release lock of cluster %s (%s): %w", l.cluster, l.path, err)
	}
	return nil
}

// write stores the holder in the lock file. It writes before truncating,
// so that a reader never sees an empty file, and syncs.
func (l *Lock) write() error {
	if l.f == nil {
		return fmt.Errorf("lock of cluster %s was released", l.cluster)
	}
	data, err := json.Marshal(l.holder)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if _, err = l.f.WriteAt(data, 0); err == nil {
		if err = l.f.Truncate(int64(len(data))); err == nil {
			err = l.f.Sync()
		}
	}
	if err != nil {
		return fmt.Errorf("record holder of cluster %s in %s: %w", l.cluster, l.path, err)
	}
	return nil
}

// readHolder reads the holder record of a lock held by someone else. It
// retries briefly in case it caught the holder writing it.
func readHolder(f *os.File) workflow.Holder {
	buf := make([]byte, 4096)
	for range 5 {
		n, _ := f.ReadAt(buf, 0)
		var h workflow.Holder
		if json.Unmarshal(buf[:n], &h) == nil && h.PID != 0 {
			return h
		}
		time.Sleep(10 * time.Millisecond)
	}
	return workflow.Holder{}
}

// lockName makes a cluster name safe for a file name; a name that needed
// changes gets a hash so that distinct clusters keep distinct locks.
func lockName(cluster string) string {
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, cluster)
	if safe == cluster && !strings.HasPrefix(cluster, ".") {
		return safe
	}
	sum := sha256.Sum256([]byte(cluster))
	return safe + "-" + hex.EncodeToString(sum[:4])
}
