package journal

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/workflow"

	bolt "go.etcd.io/bbolt"
)

// realJournal makes a journal with some runs and events, big enough that its
// pages fill the file.
func realJournal(tb testing.TB) string {
	tb.Helper()
	j := newJournal(tb)
	for i := range 12 {
		r := mustCreate(tb, j, workflow.Run{Playbook: "failover", Cluster: "lab1"})
		for s := range 10 {
			ev := workflow.Event{Type: workflow.EvStepSucceeded, Step: fmt.Sprint("step", s), Stdout: strings.Repeat(fmt.Sprint(i), 200*s)}
			if _, err := j.Append(r.ID, func(r *workflow.Run) { r.Done++ }, ev); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return j.Path()
}

func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		tb.Fatal(err)
	}
}

func fileSum(tb testing.TB, path string) [32]byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return sha256.Sum256(data)
}

// boltFile makes a bbolt file at path and runs fn in a transaction on it.
func boltFile(tb testing.TB, path string, fn func(*bolt.Tx) error) {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		tb.Fatal(err)
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	real := realJournal(t)
	for _, tc := range []struct {
		name string
		make func(t *testing.T, path string)
		kind error
		want []string
	}{
		{"empty file", func(t *testing.T, p string) {
			os.WriteFile(p, nil, 0o600)
		}, ErrCorrupt, []string{"is empty (truncated?)", "keep the file", "--journal"}},
		{"random bytes", func(t *testing.T, p string) {
			data := make([]byte, 64<<10)
			rand.NewChaCha8([32]byte{1}).Read(data)
			os.WriteFile(p, data, 0o600)
		}, ErrNotJournal, []string{"is not a hamnflow journal", "not a bbolt database", "check the --journal path"}},
		{"short text file", func(t *testing.T, p string) {
			os.WriteFile(p, []byte("hosts: [mn1, mn2]\n"), 0o600)
		}, ErrNotJournal, []string{"is not a hamnflow journal", "check the --journal path"}},
		{"truncated journal", func(t *testing.T, p string) {
			copyFile(t, real, p)
			fi, _ := os.Stat(p)
			os.Truncate(p, fi.Size()/2)
		}, ErrCorrupt, []string{"is damaged", "truncated?", "keep the file", "--journal"}},
		{"both meta pages damaged", func(t *testing.T, p string) {
			copyFile(t, real, p)
			f, _ := os.OpenFile(p, os.O_RDWR, 0)
			f.WriteAt([]byte{0xff, 0xff}, 16+8)      // page size field of meta 0
			f.WriteAt([]byte{0xff, 0xff}, 4096+16+8) // and of meta 1
			f.Close()
		}, ErrCorrupt, []string{"is damaged", "keep the file"}},
		{"bbolt file of another application", func(t *testing.T, p string) {
			boltFile(t, p, func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket([]byte("widgets"))
				if err != nil {
					return err
				}
				return b.Put([]byte("a"), []byte("b"))
			})
		}, ErrNotJournal, []string{"is not a hamnflow journal", `without a "meta" bucket`, "another application", "--journal"}},
		{"other format name", func(t *testing.T, p string) {
			boltFile(t, p, func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket([]byte("meta"))
				if err != nil {
					return err
				}
				return b.Put([]byte("format"), []byte("ansible-cache"))
			})
		}, ErrNotJournal, []string{"is not a hamnflow journal", "ansible-cache"}},
		{"version 999", func(t *testing.T, p string) {
			copyFile(t, real, p)
			boltFile(t, p, func(tx *bolt.Tx) error {
				return tx.Bucket([]byte("meta")).Put([]byte("version"), []byte("999"))
			})
		}, ErrVersion, []string{"format version 999", fmt.Sprintf("understands version %d", FormatVersion), "use a hamnflow release that matches"}},
		{"directory", func(t *testing.T, p string) {
			os.Mkdir(p, 0o700)
		}, ErrNotJournal, []string{"is not a hamnflow journal", "not a regular file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "journal.db")
			tc.make(t, path)
			var before [32]byte
			if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
				before = fileSum(t, path)
			}
			j, err := Open(path)
			if err == nil {
				t.Fatalf("Open succeeded: %v", j)
			}
			t.Log(err)
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %q is not %v", err, tc.kind)
			}
			for _, s := range append(tc.want, path) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if before != [32]byte{} && fileSum(t, path) != before {
				t.Error("Open changed the file")
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("Open left files behind: %v", ents)
			}
		})
	}
}

// TestNoWriteToDamaged checks that a journal damaged after Open is neither
// written nor crashes the writer.
func TestNoWriteToDamaged(t *testing.T) {
	j, err := Open(realJournal(t))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := j.Runs(workflow.Filter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(j.Path())
	if err := os.Truncate(j.Path(), fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	before := fileSum(t, j.Path())
	if _, err := j.Append(rs[0].ID, nil, workflow.Event{Type: workflow.EvNote}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Append to truncated journal: %v", err)
	}
	if _, err := j.CreateRun(workflow.Run{}, workflow.Source{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("CreateRun in truncated journal: %v", err)
	}
	if _, err := j.Runs(workflow.Filter{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Runs of truncated journal: %v", err)
	}
	if fileSum(t, j.Path()) != before {
		t.Error("the damaged journal was modified")
	}
	os.Truncate(j.Path(), 0)
	if _, err := j.Append(rs[0].ID, nil, workflow.Event{Type: workflow.EvNote}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("Append to emptied journal: %v", err)
	}
	if fi, _ := os.Stat(j.Path()); fi.Size() != 0 {
		t.Error("the emptied journal was initialised")
	}
}

// TestDamagedNoPanic overwrites random bytes of a real journal's data pages
// and reads everything: any error must be one of ours, never a crash, and
// the file must stay as it is.
func TestDamagedNoPanic(t *testing.T) {
	real := realJournal(t)
	good, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "journal.db")
	ok := func(err error) bool {
		return err == nil || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotJournal)
	}
	const copies = 300
	corrupted := 0
	for seed := range uint64(copies) {
		rng := rand.New(rand.NewPCG(seed, 7))
		data := append([]byte(nil), good...)
		for range 1 + rng.IntN(4) {
			off := 8192 + rng.IntN(len(data)-8192-64)
			for i := range 1 + rng.IntN(64) {
				data[off+i] = byte(rng.Uint32())
			}
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		sum := fileSum(t, path)
		errs := []error{}
		j, err := Open(path)
		errs = append(errs, err)
		if err == nil {
			rs, err := j.Runs(workflow.Filter{})
			errs = append(errs, err)
			for _, r := range rs {
				_, err1 := j.Run(r.ID)
				_, err2 := j.Source(r.ID)
				_, err3 := j.Events(r.ID)
				errs = append(errs, err1, err2, err3)
			}
		}
		for _, err := range errs {
			if !ok(err) {
				t.Errorf("seed %d: unexpected error %v", seed, err)
			}
			if errors.Is(err, ErrCorrupt) {
				corrupted++
				break
			}
		}
		if fileSum(t, path) != sum {
			t.Fatalf("seed %d: reading changed the file", seed)
		}
	}
	t.Logf("%d of %d damaged copies reported ErrCorrupt", corrupted, copies)
}

// TestNoWriteToWhatReadsDamaged: hamnflow writes to a journal only if
// its pages check out and every run's summary reads back (so history shows
// what it writes), and appends to a run only if that run's source and log
// read back (so resume replays it). A journal where history or show reports
// damage is never written there.
func TestNoWriteToWhatReadsDamaged(t *testing.T) {
	real := realJournal(t)
	good, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "journal.db")
	var historyDamaged, runDamaged int
	for seed := range uint64(150) {
		rng := rand.New(rand.NewPCG(seed, 11))
		data := append([]byte(nil), good...)
		off := 8192 + rng.IntN(len(data)-8192-64)
		for i := range 1 + rng.IntN(64) {
			data[off+i] = byte(rng.Uint32())
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		sum := fileSum(t, path)
		j, err := OpenWith(path, Options{LockDir: t.TempDir()})
		if err != nil {
			continue // refused at open: nothing can write
		}
		rs, err := j.Runs(workflow.Filter{})
		if err != nil {
			historyDamaged++
			// history fails: nothing may be written at all.
			w, _ := OpenWith(path, Options{LockDir: t.TempDir()})
			if _, err := w.CreateRun(workflow.Run{Playbook: "failover", Cluster: "lab1"}, workflow.Source{}); !errors.Is(err, ErrCorrupt) {
				t.Errorf("seed %d: a run was created in a journal whose history fails: %v", seed, err)
			} else if strings.Contains(err.Error(), "invalid memory address") {
				t.Errorf("seed %d: the Go runtime's words reach the operator: %v", seed, err)
			}
			if fileSum(t, path) != sum {
				t.Fatalf("seed %d: a journal whose history fails was modified", seed)
			}
			continue
		}
		for _, r := range rs {
			_, errE := j.Events(r.ID)
			_, errS := j.Source(r.ID)
			if errE == nil && errS == nil {
				continue
			}
			runDamaged++
			w, _ := OpenWith(path, Options{LockDir: t.TempDir()})
			if _, err := w.Append(r.ID, nil, workflow.Event{Type: workflow.EvRunResumed}); !errors.Is(err, ErrCorrupt) {
				t.Errorf("seed %d: run %s, which show reports damaged, was appended to: %v", seed, r.ID, err)
			}
		}
	}
	if historyDamaged+runDamaged < 10 {
		t.Fatalf("only %d+%d of 150 damaged copies read as damaged: the test damages too little", historyDamaged, runDamaged)
	}
	t.Logf("%d copies with a damaged history, %d damaged runs: none written", historyDamaged, runDamaged)
	j, err := OpenWith(real, Options{LockDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.CreateRun(workflow.Run{Playbook: "p", Cluster: "c"}, workflow.Source{}); err != nil {
		t.Errorf("a sound journal refused a write: %v", err)
	}
}
