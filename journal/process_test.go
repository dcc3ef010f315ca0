package journal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/workflow"
)

// The tests here run a second, real process: the test binary itself,
// re-executed to run TestHelperProcess with HAMNFLOW_JOURNAL_HELPER set.
const helperEnv = "HAMNFLOW_JOURNAL_HELPER"

// TestHelperProcess is the child process, not a test. Modes:
//
//	append PATH RUN N   append N events one by one, printing "seq S" after each
//	lock PATH CLUSTER   take the cluster lock, print "locked", sleep
func TestHelperProcess(t *testing.T) {
	args := strings.Fields(os.Getenv(helperEnv))
	if len(args) == 0 {
		t.Skip("helper process for the multi-process tests")
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	// newJournal's layout: DIR/state/journal.db, locks in DIR/locks.
	j, err := OpenWith(args[1], Options{LockDir: filepath.Join(filepath.Dir(filepath.Dir(args[1])), "locks")})
	if err != nil {
		fail(err)
	}
	switch args[0] {
	case "append":
		n, _ := strconv.Atoi(args[3])
		for i := 1; i <= n; i++ {
			evs, err := j.Append(args[2], func(r *workflow.Run) { r.Done = i },
				workflow.Event{Type: workflow.EvStepOutput, Step: "copy", Stdout: strings.Repeat("x", 100)})
			if err != nil {
				fail(err)
			}
			fmt.Printf("seq %d\n", evs[0].Seq)
		}
	case "lock":
		l, err := j.Lock(args[2], workflow.Holder{User: "child", Host: "testhost"})
		if err != nil {
			fail(err)
		}
		if err := l.SetRun("20261125-200102-7f3a"); err != nil {
			fail(err)
		}
		fmt.Println("locked")
		time.Sleep(time.Hour)
	default:
		fail(fmt.Errorf("unknown mode %q", args[0]))
	}
	os.Exit(0)
}

// helper starts the child process with args; its stdout is returned.
func helper(t *testing.T, args ...string) (*exec.Cmd, io.Reader, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+strings.Join(args, " "))
	stderr := new(strings.Builder)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, out, stderr
}

// TestReadWhileWriting reads the journal from this process while another
// process appends 500 events one by one.
func TestReadWhileWriting(t *testing.T) {
	j := newJournal(t)
	r := mustCreate(t, j, workflow.Run{Playbook: "failover", Cluster: "lab1"})
	cmd, out, stderr := helper(t, "append", j.Path(), r.ID, "500")
	done := make(chan error, 1)
	go func() {
		io.Copy(io.Discard, out)
		done <- cmd.Wait()
	}()

	var (
		reads, last int
		counts      = map[int]bool{}
		slowest     time.Duration
		werr        error
	)
	for exited := false; !exited; {
		select {
		case werr = <-done:
			exited = true
		default:
		}
		start := time.Now()
		rs, err := j.Runs(workflow.Filter{})
		if err != nil {
			t.Fatalf("Runs while writing: %v", err)
		}
		evs, err := j.Events(r.ID)
		if err != nil {
			t.Fatalf("Events while writing: %v", err)
		}
		slowest = max(slowest, time.Since(start))
		reads++
		if len(rs) != 1 || len(evs) < last || rs[0].Done < last {
			t.Fatalf("read %d: %d runs, %d events (done %d) after %d", reads, len(rs), len(evs), rs[0].Done, last)
		}
		last = len(evs)
		counts[last] = true
	}
	if werr != nil {
		t.Fatalf("writer: %v\n%s", werr, stderr)
	}
	evs, err := j.Events(r.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
	if len(evs) != 500 {
		t.Errorf("writer left %d events, want 500", len(evs))
	}
	t.Logf("%d reads (Runs+Events) saw %d distinct event counts while the writer ran; slowest read %v", reads, len(counts), slowest)
	if len(counts) < 5 {
		t.Errorf("saw only %d distinct counts: the reads did not interleave with the writer", len(counts))
	}
}

// TestTwoWriters runs two writer processes on one journal at once.
func TestTwoWriters(t *testing.T) {
	j := newJournal(t)
	a := mustCreate(t, j, workflow.Run{Cluster: "lab1"})
	b := mustCreate(t, j, workflow.Run{Cluster: "lab2"})
	ca, oa, ea := helper(t, "append", j.Path(), a.ID, "150")
	cb, ob, eb := helper(t, "append", j.Path(), b.ID, "150")
	go io.Copy(io.Discard, oa)
	go io.Copy(io.Discard, ob)
	if err := ca.Wait(); err != nil {
		t.Fatalf("writer a: %v\n%s", err, ea)
	}
	if err := cb.Wait(); err != nil {
		t.Fatalf("writer b: %v\n%s", err, eb)
	}
	for _, id := range []string{a.ID, b.ID} {
		if evs, err := j.Events(id); err != nil || len(evs) != 150 {
			t.Errorf("run %s: %d events, %v", id, len(evs), err)
		}
	}
}

// TestKill9Writer kills a writer with SIGKILL in the middle of its appends:
// every event whose Append returned is in the journal, event log and summary
// agree, and the run can be continued.
func TestKill9Writer(t *testing.T) {
	j := newJournal(t)
	r := mustCreate(t, j, workflow.Run{})
	cmd, out, _ := helper(t, "append", j.Path(), r.ID, "100000")
	sc := bufio.NewScanner(out)
	var acked uint64
	for sc.Scan() {
		acked, _ = strconv.ParseUint(strings.TrimPrefix(sc.Text(), "seq "), 10, 64)
		if acked == 50 {
			cmd.Process.Signal(syscall.SIGKILL)
			break
		}
	}
	for sc.Scan() { // what the writer printed before it died
		acked, _ = strconv.ParseUint(strings.TrimPrefix(sc.Text(), "seq "), 10, 64)
	}
	cmd.Wait()

	evs, err := j.Events(r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(evs)) < acked {
		t.Fatalf("writer was told %d events were stored, journal has %d", acked, len(evs))
	}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
	run, err := j.Run(r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Done != len(evs) {
		t.Errorf("summary says done %d, log has %d events", run.Done, len(evs))
	}
	more, err := j.Append(r.ID, nil, workflow.Event{Type: workflow.EvRunResumed})
	if err != nil || more[0].Seq != uint64(len(evs)+1) {
		t.Errorf("resume append: %+v, %v", more, err)
	}
	t.Logf("killed after %d acknowledged appends; journal holds %d", acked, len(evs))
}

// TestLockKill9 checks that a lock held by a process is refused with its
// holder's details, and is free again once that process is killed -9.
func TestLockKill9(t *testing.T) {
	j := newJournal(t)
	cmd, out, stderr := helper(t, "lock", j.Path(), "lab1")
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "locked" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child did not lock: %q\n%s", sc.Text(), stderr)
	}
	_, err := j.Lock("lab1", workflow.Holder{User: "parent", Host: "testhost"})
	var le *workflow.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Lock while child holds it: %v", err)
	}
	if le.Holder.PID != cmd.Process.Pid || le.Holder.RunID != "20261125-200102-7f3a" || le.Cluster != "lab1" {
		t.Errorf("holder = %+v", le)
	}
	for _, s := range []string{"cluster lab1", "run 20261125-200102-7f3a of child@testhost", fmt.Sprintf("(pid %d)", cmd.Process.Pid), "wait for it to end"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}

	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	l, err := j.Lock("lab1", workflow.Holder{User: "parent", Host: "testhost"})
	if err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	defer l.Release()
	data, _ := os.ReadFile(le.Path)
	if !strings.Contains(string(data), fmt.Sprintf(`"pid":%d`, os.Getpid())) || strings.Contains(string(data), "child") {
		t.Errorf("lock file holds %s, want this process", data)
	}
}
