package journal

import (
	"encoding/json"
	"errors"
	"github.com/hamnflow/hamnflow/workflow"
	"os"
	"strings"
	"testing"
	"time"
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
	path := j.Path() + ".lab1.lock"
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
