package journal

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/workflow"
)

func TestLock(t *testing.T) {
	j := newJournal(t)
	since := time.Date(2026, 11, 25, 20, 1, 2, 0, time.UTC)
	l, err := j.Lock("lab1", workflow.Holder{User: "alice", Host: "opshost", PID: 4242, Since: since})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetRun("20261125-200102-7f3a"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(j.lockDir, "lab1.lock")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file %s: %v, %v", path, fi, err)
	}

	_, err = j.Lock("lab1", workflow.Holder{User: "bob", Host: "other"})
	var le *workflow.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Lock: %v", err)
	}
	want := "cluster lab1 is being worked on by run 20261125-200102-7f3a of alice@opshost (pid 4242) since 2026-11-25T20:01:02Z; wait for it to end or, if that process is gone"
	if !strings.HasPrefix(err.Error(), want) || le.Path != path {
		t.Errorf("error = %q\nwant prefix %q", err, want)
	}

	other, err := j.Lock("lab2", workflow.Holder{User: "bob"})
	if err != nil {
		t.Fatalf("another cluster: %v", err)
	}
	other.Release()

	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	l2, err := j.Lock("lab1", workflow.Holder{User: "bob", Host: "other"})
	if err != nil {
		t.Fatalf("Lock after Release: %v", err)
	}
	defer l2.Release()
	var h workflow.Holder
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &h); err != nil || h.User != "bob" || h.RunID != "" || h.PID != os.Getpid() || h.Since.IsZero() {
		t.Errorf("holder after relock = %+v, %v (%s)", h, err, data)
	}
}

func TestLockedErrorUnknownHolder(t *testing.T) {
	e := &workflow.LockedError{Cluster: "lab1", Path: "/var/lib/hamnflow/journal.db.lab1.lock"}
	if s := e.Error(); !strings.Contains(s, "cluster lab1") || !strings.Contains(s, "fuser /var/lib/hamnflow/journal.db.lab1.lock") {
		t.Errorf("error = %q", s)
	}
}

func TestLockName(t *testing.T) {
	seen := map[string]string{}
	for _, c := range []string{"lab1", "lab/1", "lab_1", "../etc", "..", "prod cluster", "ÄÖ"} {
		n := lockName(c)
		if strings.ContainsAny(n, "/ ") || strings.HasPrefix(n, ".") && n == c {
			t.Errorf("lockName(%q) = %q", c, n)
		}
		if prev, ok := seen[n]; ok {
			t.Errorf("lockName(%q) = lockName(%q) = %q", c, prev, n)
		}
		seen[n] = c
	}
	if lockName("lab1") != "lab1" {
		t.Errorf("plain name changed: %q", lockName("lab1"))
	}
}

// TestLockRefusesLinksAndOthersFiles: the lock file is never opened
// through a symbolic link (hamnflow runs as root: a link planted there
// would have it write the holder over any file), and the lock directory
// must be the operator's own and writable by nobody else.
func TestLockRefusesLinksAndOthersFiles(t *testing.T) {
	j := newJournal(t)
	if err := os.MkdirAll(j.lockDir, 0o700); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "passwd")
	os.WriteFile(victim, []byte("root:x:0:0::/root:/bin/sh\n"), 0o644)
	if err := os.Symlink(victim, filepath.Join(j.lockDir, "lab1.lock")); err != nil {
		t.Fatal(err)
	}
	_, err := j.Lock("lab1", workflow.Holder{User: "alice"})
	if err == nil || !strings.Contains(err.Error(), "is a symbolic link; hamnflow does not follow links for its locks: remove it") {
		t.Errorf("lock through a symlink: %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "root:x:0:0::/root:/bin/sh\n" {
		t.Errorf("the link's target was written: %q", b)
	}
	if err := os.Chmod(j.lockDir, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err = j.Lock("lab2", workflow.Holder{User: "alice"})
	if err == nil || !strings.Contains(err.Error(), "can be written by others (mode 777); chmod go-w it") {
		t.Errorf("lock in a world-writable directory: %v", err)
	}
	os.Chmod(j.lockDir, 0o700)
	link := filepath.Join(t.TempDir(), "locklink")
	os.Symlink(j.lockDir, link)
	j2, _ := OpenWith(filepath.Join(t.TempDir(), "j.db"), Options{LockDir: link})
	if _, err := j2.Lock("lab3", workflow.Holder{}); err == nil || !strings.Contains(err.Error(), "is a symbolic link; give a real directory") {
		t.Errorf("lock directory through a symlink: %v", err)
	}
	if os.Geteuid() == 0 {
		other := filepath.Join(t.TempDir(), "others")
		os.Mkdir(other, 0o700)
		os.Chown(other, 65534, 65534)
		j3, _ := OpenWith(filepath.Join(t.TempDir(), "j.db"), Options{LockDir: other})
		if _, err := j3.Lock("lab4", workflow.Holder{}); err == nil || !strings.Contains(err.Error(), "belongs to another user") {
			t.Errorf("lock directory of another user: %v", err)
		}
	}
}

// TestLockIsPerClusterNotPerJournal: two journals on one machine share
// the cluster's lock.
func TestLockIsPerClusterNotPerJournal(t *testing.T) {
	locks := t.TempDir()
	a, _ := OpenWith(filepath.Join(t.TempDir(), "a.db"), Options{LockDir: locks})
	b, _ := OpenWith(filepath.Join(t.TempDir(), "b.db"), Options{LockDir: locks})
	l, err := a.Lock("prod", workflow.Holder{User: "alice", Host: "mn2", PID: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	var le *workflow.LockedError
	if _, err := b.Lock("prod", workflow.Holder{User: "bob"}); !errors.As(err, &le) || le.Holder.User != "alice" {
		t.Errorf("a second journal took the cluster's lock: %v", err)
	}
}

// TestJournalRefusesLinksAndOthersFiles (issue 16, finding 1): a journal
// is never opened through a symbolic link, whether the link is there at
// Open or put in its place later, is created only in a directory nobody
// else can write to, and a journal of another user is read but never
// written.
func TestJournalRefusesLinksAndOthersFiles(t *testing.T) {
	real := realJournal(t)
	sum := fileSum(t, real)
	dir := t.TempDir()
	locks := Options{LockDir: filepath.Join(dir, "locks")}

	link := filepath.Join(dir, "link.db")
	os.Symlink(real, link)
	if _, err := OpenWith(link, locks); !errors.Is(err, ErrNotJournal) || !strings.Contains(err.Error(), "is a symbolic link (to "+real+"); hamnflow does not follow links for its journal") {
		t.Errorf("Open through a link: %v", err)
	}
	dangling := filepath.Join(dir, "dangling.db")
	victim := filepath.Join(dir, "victim")
	os.Symlink(victim, dangling)
	if _, err := OpenWith(dangling, locks); err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
		t.Errorf("Open of a dangling link: %v", err)
	}
	if _, err := os.Lstat(victim); err == nil {
		t.Error("the dangling link's target was created")
	}

	// A link put in the place of a journal already open.
	j, err := OpenWith(real, locks)
	if err != nil {
		t.Fatal(err)
	}
	moved := real + ".moved"
	os.Rename(real, moved)
	os.WriteFile(victim, []byte("precious\n"), 0o600)
	os.Symlink(victim, real)
	if _, err := j.CreateRun(workflow.Run{Playbook: "p", Cluster: "c"}, workflow.Source{}); !errors.Is(err, ErrNotJournal) || !strings.Contains(err.Error(), "has been replaced by a symbolic link") {
		t.Errorf("write through a link put in the journal's place: %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the link's target was written: %q", b)
	}
	os.Remove(real)
	os.Rename(moved, real)
	if fileSum(t, real) != sum {
		t.Error("the journal changed")
	}

	// Created only in a directory of the operator's own.
	open := filepath.Join(dir, "open")
	os.Mkdir(open, 0o700)
	os.Chmod(open, 0o1777)
	if _, err := OpenWith(filepath.Join(open, "j.db"), locks); err == nil || !strings.Contains(err.Error(), "journal directory "+open+" can be written by others (mode 777)") {
		t.Errorf("a journal created in a world-writable directory: %v", err)
	}
	if ents, _ := os.ReadDir(open); len(ents) != 0 {
		t.Errorf("files were created there: %v", ents)
	}
	if os.Geteuid() != 0 {
		return // the rest needs chown
	}
	theirs := filepath.Join(dir, "theirs")
	os.Mkdir(theirs, 0o700)
	os.Chown(theirs, 65534, 65534)
	if _, err := OpenWith(filepath.Join(theirs, "j.db"), locks); err == nil || !strings.Contains(err.Error(), "belongs to another user") {
		t.Errorf("a journal created in another user's directory: %v", err)
	}
	os.Chown(real, 65534, 65534)
	j, err = OpenWith(real, locks)
	if err != nil {
		t.Fatalf("another user's journal does not open for reading: %v", err)
	}
	if _, err := j.Runs(workflow.Filter{}); err != nil {
		t.Errorf("another user's journal does not read: %v", err)
	}
	if _, err := j.CreateRun(workflow.Run{Playbook: "p", Cluster: "c"}, workflow.Source{}); err == nil || !strings.Contains(err.Error(), "belongs to another user (uid 65534)") {
		t.Errorf("another user's journal was written: %v", err)
	}
	if fileSum(t, real) != sum {
		t.Error("another user's journal changed")
	}
}
