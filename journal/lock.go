package journal

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hamnflow/hamnflow/workflow"

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

// DefaultLockDir is where the cluster locks live unless Options say
// otherwise: $HAMNFLOW_LOCK_DIR, else /run/lock/hamnflow as root, else
// $XDG_RUNTIME_DIR/hamnflow, else ~/.local/state/hamnflow/locks. The place
// is the machine's, not the journal's: two runs of one cluster on this
// machine meet there whatever journal each writes.
func DefaultLockDir() string {
	if d := os.Getenv("HAMNFLOW_LOCK_DIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/run/lock/hamnflow"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "hamnflow")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "state", "hamnflow", "locks")
}

// Lock takes the run lock of cluster without waiting, and records h (with
// its PID and Since filled in if zero) in the lock file. If another process
// holds the lock it returns a *LockedError naming that process.
//
// The lock file is CLUSTER.lock in the lock directory. It is never opened
// through a symbolic link, and the directory must be the operator's own
// (or root's) and writable by nobody else, so that no other user can plant
// a file there for hamnflow (run as root) to write over.
func (j *Journal) Lock(cluster string, h workflow.Holder) (workflow.Lock, error) {
	if cluster == "" {
		return nil, errors.New("lock: no cluster name given")
	}
	if err := ownDir("lock directory", "HAMNFLOW_LOCK_DIR", j.lockDir); err != nil {
		return nil, fmt.Errorf("lock cluster %s: %w", cluster, err)
	}
	path := filepath.Join(j.lockDir, lockName(cluster)+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, fmt.Errorf("lock cluster %s: %s is a symbolic link; hamnflow does not follow links for its locks: remove it", cluster, path)
		}
		return nil, fmt.Errorf("lock cluster %s: %w; check the permissions of %s", cluster, err, j.lockDir)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || !ownedByUs(fi) {
		f.Close()
		return nil, fmt.Errorf("lock cluster %s: %s is not a regular file of this user's; remove it", cluster, path)
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

// ownDir makes dir (0700) if it is missing and checks that it is a real
// directory of this user's (or root's) that nobody else can write to. what
// names the directory in messages and how names the way to give another.
func ownDir(what, how, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%s %s: %w", what, dir, err)
	}
	fi, err := os.Lstat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("%s %s: %w", what, dir, err)
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%s %s is a symbolic link; give a real directory (%s)", what, dir, how)
	case !fi.IsDir():
		return fmt.Errorf("%s %s is not a directory", what, dir)
	case !ownedByUs(fi):
		return fmt.Errorf("%s %s belongs to another user; give one of your own (%s)", what, dir, how)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s %s can be written by others (mode %o); chmod go-w it, or give one of your own (%s)", what, dir, fi.Mode().Perm(), how)
	}
	return nil
}

// ownedByUs says whether this process's user (or root) owns the file.
func ownedByUs(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	return int(st.Uid) == os.Geteuid() || st.Uid == 0
}

// fileUID is the owner of the file, -1 if unknown.
func fileUID(fi os.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
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
