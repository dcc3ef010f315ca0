package journal

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/workflow"
	"github.com/hamnflow/hamnflow/workflow/storetest"

	bolt "go.etcd.io/bbolt"
)

// newJournal opens a new journal in a fresh directory.
func newJournal(tb testing.TB) *Journal {
	tb.Helper()
	dir := tb.TempDir()
	j, err := OpenWith(filepath.Join(dir, "state", "journal.db"), Options{LockDir: filepath.Join(dir, "locks")})
	if err != nil {
		tb.Fatal(err)
	}
	return j
}

func mustCreate(tb testing.TB, j *Journal, r workflow.Run) workflow.Run {
	tb.Helper()
	r, err := j.CreateRun(r, workflow.Source{PlaybookPath: "failover.yaml", PlaybookText: "steps: []\n"})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// bulkRuns writes n runs straight into the journal in one transaction, each
// with a source of srcSize bytes and evs events, started a second apart.
func bulkRuns(tb testing.TB, j *Journal, n, srcSize, evs int) []string {
	tb.Helper()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	text := strings.Repeat("x", srcSize)
	ids := make([]string, n)
	err := j.update(func(tx *bolt.Tx) error {
		for i := range n {
			t := start.Add(time.Duration(i) * time.Second)
			r := workflow.Run{
				ID: NewRunID(t), Playbook: fmt.Sprintf("pb%d", i%3), Cluster: fmt.Sprintf("lab%d", i%5),
				Status: workflow.RunSucceeded, StartedAt: t, UpdatedAt: t, EndedAt: t.Add(time.Minute),
				By: workflow.Who{User: "alice", Host: "opshost"}, PID: 4242, Params: map[string]string{"target": "mn2"},
				Steps: 12, Done: 12,
			}
			ids[i] = r.ID
			if err := putJSON(tx.Bucket(runsBucket), []byte(r.ID), r); err != nil {
				return err
			}
			if err := putJSON(tx.Bucket(srcBucket), []byte(r.ID), workflow.Source{PlaybookPath: "pb.yaml", PlaybookText: text}); err != nil {
				return err
			}
			log, err := tx.Bucket(eventsBucket).CreateBucket([]byte(r.ID))
			if err != nil {
				return err
			}
			for s := range evs {
				seq, _ := log.NextSequence()
				ev := workflow.Event{Seq: seq, Time: t, Type: workflow.EvStepOutput, Step: fmt.Sprintf("step%d", s), Stdout: "ok\n"}
				if err := putJSON(log, seqKey(seq), ev); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ids
}

func TestOpenCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "journal.db")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if j.Path() != path {
		t.Errorf("Path() = %q, want %q", j.Path(), path)
	}
	for p, want := range map[string]os.FileMode{filepath.Dir(dir): 0o700, dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %o, want %o", p, got, want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %v, want only the journal", ents)
	}
	if _, err := Open(path); err != nil {
		t.Fatalf("reopen: %v", err)
	}
}

func TestLayout(t *testing.T) {
	j := newJournal(t)
	r := mustCreate(t, j, workflow.Run{Playbook: "failover", Cluster: "lab1"})
	for range 3 {
		if _, err := j.Append(r.ID, nil, workflow.Event{Type: workflow.EvNote}); err != nil {
			t.Fatal(err)
		}
	}
	db, err := bolt.Open(j.Path(), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket([]byte("meta"))
		if m == nil {
			t.Fatal("no meta bucket")
		}
		if got := string(m.Get([]byte("format"))); got != "hamnflow-journal" {
			t.Errorf("format = %q", got)
		}
		if got := string(m.Get([]byte("version"))); got != fmt.Sprint(FormatVersion) {
			t.Errorf("version = %q", got)
		}
		var got workflow.Run
		if err := json.Unmarshal(tx.Bucket([]byte("runs")).Get([]byte(r.ID)), &got); err != nil || got.Cluster != "lab1" {
			t.Errorf("run summary = %+v, %v", got, err)
		}
		if strings.Contains(string(tx.Bucket([]byte("runs")).Get([]byte(r.ID))), "steps: []") {
			t.Error("run summary holds the source")
		}
		var src workflow.Source
		if err := json.Unmarshal(tx.Bucket([]byte("sources")).Get([]byte(r.ID)), &src); err != nil || src.PlaybookText != "steps: []\n" {
			t.Errorf("source = %+v, %v", src, err)
		}
		var seqs []uint64
		tx.Bucket([]byte("events")).Bucket([]byte(r.ID)).ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				t.Errorf("event key %x is not 8 bytes", k)
			}
			seqs = append(seqs, binary.BigEndian.Uint64(k))
			return nil
		})
		if !reflect.DeepEqual(seqs, []uint64{1, 2, 3}) {
			t.Errorf("event keys = %v", seqs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCreateRun(t *testing.T) {
	j := newJournal(t)
	before := time.Now()
	r := mustCreate(t, j, workflow.Run{Playbook: "failover", Cluster: "lab1", Status: workflow.RunRunning})
	if !regexp.MustCompile(`^\d{8}-\d{6}-[0-9a-f]{4}$`).MatchString(r.ID) {
		t.Errorf("id %q does not look like 20261125-200102-7f3a", r.ID)
	}
	if r.StartedAt.Before(before.Add(-time.Second)) || r.UpdatedAt != r.StartedAt {
		t.Errorf("times = %v, %v", r.StartedAt, r.UpdatedAt)
	}
	got, err := j.Run(r.ID)
	if err != nil || !reflect.DeepEqual(got, r) {
		t.Errorf("workflow.Run = %+v, %v; want %+v", got, err, r)
	}
	src, err := j.Source(r.ID)
	if err != nil || src.PlaybookPath != "failover.yaml" {
		t.Errorf("workflow.Source = %+v, %v", src, err)
	}
	if evs, err := j.Events(r.ID); err != nil || len(evs) != 0 {
		t.Errorf("Events = %v, %v", evs, err)
	}
	if _, err := j.CreateRun(workflow.Run{ID: r.ID}, workflow.Source{}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate id: %v", err)
	}
}

func TestRunIDsUnique(t *testing.T) {
	j := newJournal(t)
	at := time.Date(2026, 11, 25, 20, 1, 2, 0, time.UTC)
	seen := map[string]bool{}
	for range 300 { // same second: forces collisions of the 4 hex digits
		r := mustCreate(t, j, workflow.Run{StartedAt: at})
		if seen[r.ID] {
			t.Fatalf("duplicate id %s", r.ID)
		}
		if !strings.HasPrefix(r.ID, "20261125-200102-") {
			t.Fatalf("id %s does not start with the start time", r.ID)
		}
		seen[r.ID] = true
	}
	if a, b := NewRunID(at), NewRunID(at.Add(time.Second)); a >= b {
		t.Errorf("ids do not sort by time: %s >= %s", a, b)
	}
}

func TestAppend(t *testing.T) {
	j := newJournal(t)
	r := mustCreate(t, j, workflow.Run{Playbook: "failover", Steps: 2})
	exit := 0
	at := time.Date(2026, 11, 25, 20, 1, 2, 0, time.UTC)
	got1, err := j.Append(r.ID, func(r *workflow.Run) { r.Done++; r.ID = "hijack" },
		workflow.Event{Type: workflow.EvStepStarted, Step: "a"}, workflow.Event{Type: workflow.EvStepSucceeded, Step: "a", Exit: &exit, Time: at})
	if err != nil {
		t.Fatal(err)
	}
	got2, err := j.Append(r.ID, nil, workflow.Event{Type: workflow.EvStepStarted, Step: "b"})
	if err != nil {
		t.Fatal(err)
	}
	all := append(got1, got2...)
	for i, ev := range all {
		if ev.Seq != uint64(i+1) {
			t.Errorf("event %d has seq %d", i, ev.Seq)
		}
		if ev.Time.IsZero() {
			t.Errorf("event %d has no time", i)
		}
	}
	if !all[1].Time.Equal(at) {
		t.Errorf("given time replaced: %v", all[1].Time)
	}
	stored, err := j.Events(r.ID)
	if err != nil || !reflect.DeepEqual(stored, all) {
		t.Errorf("Events = %+v, %v\nwant %+v", stored, err, all)
	}
	run, err := j.Run(r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Done != 1 || run.ID != r.ID || !run.UpdatedAt.After(r.UpdatedAt) && !run.UpdatedAt.Equal(r.UpdatedAt) {
		t.Errorf("run after append = %+v", run)
	}
	if _, err := j.Append("20990101-000000-0000", nil, workflow.Event{Type: workflow.EvNote}); !errors.Is(err, ErrNotFound) {
		t.Errorf("append to missing run: %v", err)
	}
}

// TestAppendCommitted checks that what Append returned is in the file for
// any other reader at once (write-ahead: committed before return).
func TestAppendCommitted(t *testing.T) {
	j := newJournal(t)
	r := mustCreate(t, j, workflow.Run{})
	for i := 1; i <= 20; i++ {
		if _, err := j.Append(r.ID, func(r *workflow.Run) { r.Done = i }, workflow.Event{Type: workflow.EvNote}); err != nil {
			t.Fatal(err)
		}
		db, err := bolt.Open(j.Path(), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var n int
		var run workflow.Run
		db.View(func(tx *bolt.Tx) error {
			n = tx.Bucket(eventsBucket).Bucket([]byte(r.ID)).Stats().KeyN
			return json.Unmarshal(tx.Bucket(runsBucket).Get([]byte(r.ID)), &run)
		})
		db.Close()
		if n != i || run.Done != i {
			t.Fatalf("after append %d the file has %d events, done=%d", i, n, run.Done)
		}
	}
}

func TestRunsFilter(t *testing.T) {
	j := newJournal(t)
	base := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	var want []string
	for i := range 6 {
		r := mustCreate(t, j, workflow.Run{
			Playbook: []string{"failover", "failback"}[i%2], Cluster: []string{"lab1", "lab2", "lab3"}[i%3],
			Status: []workflow.RunStatus{workflow.RunSucceeded, workflow.RunFailed}[i/3], StartedAt: base.Add(time.Duration(i) * time.Minute),
		})
		want = append([]string{r.ID}, want...)
	}
	ids := func(f workflow.Filter) []string {
		rs, err := j.Runs(f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		return ids
	}
	for _, tc := range []struct {
		name string
		f    workflow.Filter
		want []string
	}{
		{"all newest first", workflow.Filter{}, want},
		{"limit", workflow.Filter{Limit: 2}, want[:2]},
		{"playbook", workflow.Filter{Playbook: "failback"}, []string{want[0], want[2], want[4]}},
		{"cluster", workflow.Filter{Cluster: "lab1"}, []string{want[2], want[5]}},
		{"status", workflow.Filter{Status: workflow.RunFailed}, want[:3]},
		{"since", workflow.Filter{Since: base.Add(4 * time.Minute)}, want[:2]},
		{"combined", workflow.Filter{Playbook: "failover", Status: workflow.RunSucceeded, Limit: 1}, []string{want[3]}},
		{"none", workflow.Filter{Cluster: "nope"}, nil},
	} {
		if got := ids(tc.f); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRunPrefix(t *testing.T) {
	j := newJournal(t)
	for _, id := range []string{"20261125-200102-aaaa", "20261125-200102-aaab", "20261126-080000-1234"} {
		mustCreate(t, j, workflow.Run{ID: id})
	}
	if _, err := j.Append("20261126-080000-1234", nil, workflow.Event{Type: workflow.EvNote}); err != nil {
		t.Fatal(err)
	}
	if r, err := j.Run("20261126"); err != nil || r.ID != "20261126-080000-1234" {
		t.Errorf("unique prefix: %v, %v", r.ID, err)
	}
	if evs, err := j.Events("20261126-08"); err != nil || len(evs) != 1 {
		t.Errorf("events by prefix: %v, %v", evs, err)
	}
	if _, err := j.Source("20261126"); err != nil {
		t.Errorf("source by prefix: %v", err)
	}
	_, err := j.Run("20261125")
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("ambiguous prefix: %v", err)
	}
	for _, s := range []string{"ambiguous", "20261125-200102-aaaa", "20261125-200102-aaab", "give more"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("ambiguous error %q lacks %q", err, s)
		}
	}
	for _, id := range []string{"202", "", "9999", "20261125-200102-aaaa-x"} {
		if _, err := j.Run(id); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), j.Path()) {
			t.Errorf("Run(%q): %v, want ErrNotFound naming the journal", id, err)
		}
	}
}

func TestRuns10kFast(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	j := newJournal(t)
	bulkRuns(t, j, 10000, 4096, 2)
	best := time.Hour
	for range 5 {
		start := time.Now()
		rs, err := j.Runs(workflow.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 10000 || !rs[0].StartedAt.After(rs[1].StartedAt) {
			t.Fatalf("got %d runs, first %v", len(rs), rs[0].StartedAt)
		}
		best = min(best, time.Since(start))
	}
	t.Logf("Runs() over 10,000 runs: %v", best)
	if best > 500*time.Millisecond { // target is 100ms; leave room for slow CI and -race
		t.Errorf("Runs() over 10,000 runs took %v", best)
	}
}

// TestConcurrentGoroutines checks that the per-transaction file locks also
// serialise goroutines of one process.
func TestConcurrentGoroutines(t *testing.T) {
	j := newJournal(t)
	r := mustCreate(t, j, workflow.Run{})
	errc := make(chan error, 8)
	for range 4 {
		go func() {
			for range 25 {
				if _, err := j.Append(r.ID, func(r *workflow.Run) { r.Done++ }, workflow.Event{Type: workflow.EvNote}); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		go func() {
			for range 50 {
				if _, err := j.Events(r.ID); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	evs, _ := j.Events(r.ID)
	run, _ := j.Run(r.ID)
	if len(evs) != 100 || run.Done != 100 || evs[99].Seq != 100 {
		t.Errorf("got %d events, done %d", len(evs), run.Done)
	}
}

// TestAppendUpdatePanics checks that a panic in the caller's update is
// passed on, not taken for a damaged journal, and that nothing is written.
func TestAppendUpdatePanics(t *testing.T) {
	j := newJournal(t)
	r := mustCreate(t, j, workflow.Run{})
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the caller's panic", p)
			}
		}()
		j.Append(r.ID, func(*workflow.Run) { panic("boom") }, workflow.Event{Type: workflow.EvNote})
	}()
	if evs, err := j.Events(r.ID); err != nil || len(evs) != 0 {
		t.Errorf("after the panic: %d events, %v", len(evs), err)
	}
	if _, err := j.Append(r.ID, nil, workflow.Event{Type: workflow.EvNote}); err != nil {
		t.Errorf("journal unusable after the panic: %v", err)
	}
}

// TestBusy holds the journal's file lock, as a writer in another process
// would, and checks that readers and writers wait, then give up with a
// clear error once their timeout passes.
func TestBusy(t *testing.T) {
	j := newJournal(t)
	j.readTimeout, j.writeTimeout = 200*time.Millisecond, 300*time.Millisecond
	r := mustCreate(t, j, workflow.Run{})
	f, err := os.Open(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := flockWait(f, true, time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = j.Runs(workflow.Filter{})
	if took := time.Since(start); took < 200*time.Millisecond || took > 2*time.Second {
		t.Errorf("read gave up after %v", took)
	}
	if err == nil || !strings.Contains(err.Error(), "is busy") || !strings.Contains(err.Error(), "fuser") {
		t.Errorf("read of a busy journal: %v", err)
	}
	if _, err := j.Append(r.ID, nil, workflow.Event{Type: workflow.EvNote}); err == nil || !strings.Contains(err.Error(), "is busy") {
		t.Errorf("append to a busy journal: %v", err)
	}

	// A brief hold is waited out.
	time.AfterFunc(100*time.Millisecond, func() { f.Close() })
	if _, err := j.Append(r.ID, nil, workflow.Event{Type: workflow.EvNote}); err != nil {
		t.Errorf("append after a brief wait: %v", err)
	}
}

// TestRunsNewestFirstWithinASecond (issue 16, finding 8): runs started in
// one second list newest first, as runs of different seconds do.
func TestRunsNewestFirstWithinASecond(t *testing.T) {
	j := newJournal(t)
	base := time.Date(2026, 11, 25, 20, 1, 2, 0, time.UTC)
	var ids []string
	for i := range 40 {
		at := base
		if i%2 == 1 {
			at = base.Add(time.Duration(i) * 10 * time.Millisecond) // some of them later in the second
		}
		ids = append(ids, mustCreate(t, j, workflow.Run{StartedAt: at}).ID)
	}
	rs, err := j.Runs(workflow.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if want := ids[len(ids)-1-i]; r.ID != want {
			t.Fatalf("history position %d is %s, want %s (the runs in order of creation: %v)", i, r.ID, want, ids)
		}
	}
}

// A run copied in keeps its id, summary, events and seqs; appends go on
// from its last seq; a second copy is refused.
func TestImportRun(t *testing.T) {
	from := storetest.NewMem()
	r, err := from.CreateRun(workflow.Run{Playbook: "failover", Cluster: "c1"}, workflow.Source{PlaybookText: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := from.Append(r.ID, func(run *workflow.Run) { run.Done++ }, workflow.Event{Type: workflow.EvNote}); err != nil {
			t.Fatal(err)
		}
	}
	j := newJournal(t)
	if err := workflow.CopyRun(from, j, r.ID); err != nil {
		t.Fatal(err)
	}
	want, _ := from.Run(r.ID)
	if got, err := j.Run(r.ID); err != nil || got.UpdatedAt != want.UpdatedAt || got.Done != 5 {
		t.Fatalf("run %+v, %v", got, err)
	}
	more, err := j.Append(r.ID, nil, workflow.Event{Type: workflow.EvNote})
	if err != nil || more[0].Seq != 6 {
		t.Fatalf("append after import: %+v, %v", more, err)
	}
	if err := workflow.CopyRun(from, j, r.ID); err == nil || !strings.Contains(err.Error(), "exists in journal") {
		t.Fatalf("second copy: %v", err)
	}
}
