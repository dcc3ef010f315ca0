package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/workflow"

	"github.com/hamnflow/hamnflow/journal"
)

// These tests run the real binary, kill it where a crash could happen and
// check that resume finishes the run without running a succeeded step
// twice. Steps synchronise with the test through files and a fifo, never
// through sleeps.

// buildBinary builds hamnflow into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "hamnflow")
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// crashSteps are the steps of the crash playbook, in a chain: kind says
// how resume decides when the step is in doubt.
var crashSteps = []struct{ id, kind string }{
	{"s1", "idempotent"},
	{"s2", "probe"},
	{"s3", "plain"}, // neither: the operator decides
	{"s4", "idempotent"},
	{"s5", "probe"},
}

// crashPlaybook writes the playbook. Each step appends "STEP attempt" to
// the ledger, then, if the file hold-STEP-pre exists, says where it is
// (at-STEP-pre holds its pid) and blocks on the fifo "gate"; then makes
// its effect (out/STEP; s3 appends, so running it twice shows); then the
// same with hold-STEP-post.
func crashPlaybook(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("name: crash\ndescription: steps with side effects for crash tests\nparams:\n  - name: dir\nsteps:\n")
	prev := ""
	for _, s := range crashSteps {
		id := s.id
		hold := func(where string) string {
			return fmt.Sprintf(`if [ -e hold-%[1]s-%[2]s ]; then echo $$ > at.tmp && mv at.tmp at-%[1]s-%[2]s && read _ < gate; fi`, id, where)
		}
		effect := fmt.Sprintf("mkdir -p out && echo %s > out/%s", id, id)
		if s.kind == "plain" {
			effect = fmt.Sprintf("mkdir -p out && echo %s >> out/%s", id, id)
		}
		cmd := fmt.Sprintf(`cd {{ quote .params.dir }} && echo "%[1]s $(( $(grep -c '^%[1]s ' ledger) + 1 ))" >> ledger && %[2]s && %[3]s && %[4]s`,
			id, hold("pre"), effect, hold("post"))
		fmt.Fprintf(&b, "  - id: %s\n    title: Step %s\n", id, id)
		if prev != "" {
			fmt.Fprintf(&b, "    needs: [%s]\n", prev)
		}
		fmt.Fprintf(&b, "    action: shell\n    with:\n      cmd: %s\n", yamlQuote(cmd))
		switch s.kind {
		case "idempotent":
			b.WriteString("    idempotent: true\n")
		case "probe":
			fmt.Fprintf(&b, "    probe:\n      action: shell\n      with:\n        cmd: %s\n", yamlQuote(fmt.Sprintf("test -f {{ quote .params.dir }}/out/%s", id)))
		}
		prev = id
	}
	path := filepath.Join(dir, "crash.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// crashLab is one test's working directory, journal and binary.
type crashLab struct {
	t       *testing.T
	bin     string
	dir     string // the playbook's dir parameter: ledger, gate, out/
	journal string
	pb      string
}

func newCrashLab(t *testing.T, bin string) *crashLab {
	dir := t.TempDir()
	l := &crashLab{t: t, bin: bin, dir: dir, journal: filepath.Join(dir, "journal.db")}
	l.pb = crashPlaybook(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "ledger"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "gate"), 0o600); err != nil {
		t.Fatal(err)
	}
	return l
}

// proc is a running hamnflow.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // stderr, line by line (a prompt without its newline comes at EOF only)
	mu     sync.Mutex
	stderr strings.Builder
	done   chan struct{}
	exit   int
}

// start starts hamnflow with args, in the lab's directory.
func (l *crashLab) start(args ...string) *proc {
	l.t.Helper()
	cmd := exec.Command(l.bin, args...)
	cmd.Dir = l.dir
	cmd.Env = append(os.Environ(), "HAMNFLOW_JOURNAL="+l.journal, "HAMNFLOW_LOCK_DIR="+filepath.Join(filepath.Dir(l.journal), "locks"), "HAMNFLOW_INVENTORY=", "HAMNFLOW_PLAYBOOKS=")
	p := &proc{cmd: cmd, lines: make(chan string, 1000), done: make(chan struct{})}
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		l.t.Fatal(err)
	}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		l.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	go func() {
		r := bufio.NewReader(errPipe)
		for {
			s, err := r.ReadString('\n')
			if s == "" && err != nil {
				break
			}
			p.mu.Lock()
			p.stderr.WriteString(s)
			p.mu.Unlock()
			select {
			case p.lines <- strings.TrimRight(s, "\n"):
			default: // nobody reads them: the text is kept in stderr
			}
			if err != nil {
				break
			}
		}
		close(p.lines)
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			p.exit = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				p.exit = 128 + int(ws.Signal())
			}
		case err != nil:
			p.exit = -1
		}
		close(p.done)
	}()
	return p
}

// run runs hamnflow to its end and checks its exit status.
func (l *crashLab) run(want int, args ...string) (stdout, stderr string) {
	l.t.Helper()
	cmd := exec.Command(l.bin, args...)
	cmd.Dir = l.dir
	cmd.Env = append(os.Environ(), "HAMNFLOW_JOURNAL="+l.journal, "HAMNFLOW_LOCK_DIR="+filepath.Join(filepath.Dir(l.journal), "locks"), "HAMNFLOW_INVENTORY=", "HAMNFLOW_PLAYBOOKS=")
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		l.t.Fatalf("hamnflow %s: still running after 30s\nstderr:\n%s", strings.Join(args, " "), e.String())
	}
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		l.t.Fatal(err)
	}
	if got != want {
		l.t.Fatalf("hamnflow %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, want, o.String(), e.String())
	}
	return o.String(), e.String()
}

// waitExit waits for a started hamnflow to end.
func (p *proc) waitExit(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.exit
	case <-time.After(30 * time.Second):
		t.Fatalf("hamnflow still running after 30s")
	}
	return -1
}

// waitFor waits until the file exists (a step reached a hold point) and
// returns its content. It fails if hamnflow ends first.
func (l *crashLab) waitFor(p *proc, name string) string {
	l.t.Helper()
	path := filepath.Join(l.dir, name)
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil {
			return strings.TrimSpace(string(b))
		}
		select {
		case <-p.done:
			p.mu.Lock()
			defer p.mu.Unlock()
			l.t.Fatalf("hamnflow ended (exit %d) before %s appeared\nstderr:\n%s", p.exit, name, p.stderr.String())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("%s did not appear within 30s", name)
		}
	}
}

// killStep kills the process group of a step held at a hold point (its
// shell outlives a hamnflow killed with -9).
func (l *crashLab) killStep(pidText string) {
	l.t.Helper()
	pid, err := strconv.Atoi(pidText)
	if err != nil {
		l.t.Fatalf("step pid %q: %v", pidText, err)
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		l.t.Fatalf("kill step group %d: %v", pid, err)
	}
}

func (l *crashLab) hold(step, where string) {
	l.t.Helper()
	if err := os.WriteFile(filepath.Join(l.dir, "hold-"+step+"-"+where), nil, 0o644); err != nil {
		l.t.Fatal(err)
	}
}

func (l *crashLab) release() {
	l.t.Helper()
	files, _ := filepath.Glob(filepath.Join(l.dir, "hold-*"))
	at, _ := filepath.Glob(filepath.Join(l.dir, "at-*"))
	for _, f := range append(files, at...) {
		if err := os.Remove(f); err != nil {
			l.t.Fatal(err)
		}
	}
}

// lastRun returns the run started last.
func (l *crashLab) lastRun() workflow.Run {
	l.t.Helper()
	j, err := journal.Open(l.journal)
	if err != nil {
		l.t.Fatal(err)
	}
	runs, err := j.Runs(workflow.Filter{})
	if err != nil || len(runs) == 0 {
		l.t.Fatalf("no runs in %s: %v", l.journal, err)
	}
	last := runs[0]
	for _, r := range runs {
		if r.StartedAt.After(last.StartedAt) {
			last = r
		}
	}
	return last
}

// ledger counts the "STEP attempt" lines of each step.
func (l *crashLab) ledger() map[string]int {
	l.t.Helper()
	b, err := os.ReadFile(filepath.Join(l.dir, "ledger"))
	if err != nil {
		l.t.Fatal(err)
	}
	n := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if id, _, ok := strings.Cut(line, " "); ok {
			n[id]++
		}
	}
	return n
}

// checkEnd checks that the run succeeded, that every step ran as often
// as want says (default once), that every step's effect happened exactly
// once, and that the journal records each step as done exactly once.
func (l *crashLab) checkEnd(id string, want map[string]int) {
	l.t.Helper()
	j, err := journal.Open(l.journal)
	if err != nil {
		l.t.Fatal(err)
	}
	run, err := j.Run(id)
	if err != nil {
		l.t.Fatal(err)
	}
	if run.Status != workflow.RunSucceeded || run.Done != len(crashSteps) {
		l.t.Errorf("run %s: status %s, done %d/%d, want succeeded %d/%d (%s)", id, run.Status, run.Done, run.Steps, len(crashSteps), len(crashSteps), run.Message)
	}
	evs, err := j.Events(id)
	if err != nil {
		l.t.Fatal(err)
	}
	ended := map[string]int{}
	for _, ev := range evs {
		if ev.Type == workflow.EvStepSucceeded || ev.Type == workflow.EvReconciled && ev.Decision == "done" {
			ended[ev.Step]++
		}
	}
	got := l.ledger()
	for _, s := range crashSteps {
		w := want[s.id]
		if w == 0 {
			w = 1
		}
		if got[s.id] != w {
			l.t.Errorf("step %s ran %d times, want %d (ledger %v)", s.id, got[s.id], w, got)
		}
		if ended[s.id] != 1 {
			l.t.Errorf("step %s: journal records it done %d times, want once", s.id, ended[s.id])
		}
		b, err := os.ReadFile(filepath.Join(l.dir, "out", s.id))
		if err != nil || string(b) != s.id+"\n" {
			l.t.Errorf("effect of %s: %q, %v; want it made exactly once", s.id, b, err)
		}
	}
}

// checkDecision checks how resume decided an in-doubt step: one
// reconciled event with this decision and reason.
func (l *crashLab) checkDecision(id, step, decision, why string) {
	l.t.Helper()
	j, err := journal.Open(l.journal)
	if err != nil {
		l.t.Fatal(err)
	}
	evs, err := j.Events(id)
	if err != nil {
		l.t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		if ev.Type == workflow.EvReconciled && ev.Step == step {
			got = append(got, ev.Decision+": "+ev.Message)
		}
	}
	if want := decision + ": " + why; len(got) != 1 || got[0] != want {
		l.t.Errorf("in-doubt %s decided %q, want once %q", step, got, want)
	}
}

func TestCrash(t *testing.T) {
	bin := buildBinary(t)

	// Killed at a step boundary: in step-through mode hamnflow asks before
	// each step (before journaling it as started); the kill comes at the
	// question for step k, after every step before it succeeded.
	for _, at := range crashSteps {
		t.Run("boundary-before-"+at.id, func(t *testing.T) {
			l := newCrashLab(t, bin)
			p := l.start("run", l.pb, "--set", "dir="+l.dir, "--step", "--prompt-stdin")
			found := false
			for line := range p.lines {
				_, step, ok := strings.Cut(line, " · step ")
				if !ok {
					continue
				}
				step = strings.TrimSuffix(step, " on local ──")
				if found = step == at.id; found {
					break
				}
				io.WriteString(p.stdin, "y\n")
			}
			if !found {
				p.waitExit(t)
				p.mu.Lock()
				defer p.mu.Unlock()
				t.Fatalf("hamnflow ended (exit %d) without asking about %s\nstderr:\n%s", p.exit, at.id, p.stderr.String())
			}
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if got := p.waitExit(t); got != 128+int(syscall.SIGKILL) {
				t.Fatalf("exit %d, want killed", got)
			}
			run := l.lastRun()
			if run.Status != workflow.RunRunning {
				t.Fatalf("killed run is %s, want running", run.Status)
			}
			out, _ := l.run(exitOK, "resume", run.ID)
			if want := "run " + run.ID + " succeeded\n"; out != want {
				t.Errorf("resume said %q, want %q", out, want)
			}
			l.checkEnd(run.ID, nil)
		})
	}

	// Killed in the middle of a step, before and after its effect.
	for _, at := range crashSteps {
		for _, where := range []string{"pre", "post"} {
			t.Run("mid-"+at.id+"-"+where, func(t *testing.T) {
				l := newCrashLab(t, bin)
				l.hold(at.id, where)
				p := l.start("run", l.pb, "--set", "dir="+l.dir)
				pid := l.waitFor(p, "at-"+at.id+"-"+where)
				if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				p.waitExit(t)
				l.killStep(pid)
				l.release()
				run := l.lastRun()

				want := map[string]int{}
				var decision, why string
				switch {
				case at.kind == "idempotent":
					want[at.id] = 2
					decision, why = "redo", "idempotent: running it again is safe"
					l.run(exitOK, "resume", run.ID)
				case at.kind == "probe" && where == "pre":
					want[at.id] = 2
					decision, why = "redo", "probe: its effect is not in place"
					l.run(exitOK, "resume", run.ID)
				case at.kind == "probe":
					decision, why = "done", "probe: its effect is in place"
					l.run(exitOK, "resume", run.ID)
				default:
					_, stderr := l.run(exitWaiting, "resume", run.ID)
					for _, s := range []string{
						"hamnflow resume " + run.ID + " --assume-done " + at.id + "` (its effect is in place)",
						"hamnflow resume " + run.ID + " --redo " + at.id + "` (run it again)",
						"may have half-run and cannot be checked automatically",
					} {
						if !strings.Contains(stderr, s) {
							t.Errorf("resume of in-doubt %s does not say %q:\n%s", at.id, s, stderr)
						}
					}
					// --yes never decides an in-doubt step.
					l.run(exitWaiting, "resume", run.ID, "--yes")
					if where == "pre" {
						want[at.id] = 2
						decision, why = "redo", "operator says run it again (--redo)"
						l.run(exitOK, "resume", run.ID, "--redo", at.id)
					} else {
						decision, why = "done", "operator says its effect is in place (--assume-done)"
						l.run(exitOK, "resume", run.ID, "--assume-done", at.id)
					}
				}
				l.checkEnd(run.ID, want)
				l.checkDecision(run.ID, at.id, decision, why)
			})
		}
	}

	// SIGTERM in the middle of a step: journaled as interrupted, exit 5,
	// and resume finishes (the probe finds the effect not in place).
	t.Run("sigterm-mid-s2", func(t *testing.T) {
		l := newCrashLab(t, bin)
		l.hold("s2", "pre")
		p := l.start("run", l.pb, "--set", "dir="+l.dir)
		l.waitFor(p, "at-s2-pre")
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if got := p.waitExit(t); got != exitInterrupted {
			t.Fatalf("exit %d after SIGTERM, want %d", got, exitInterrupted)
		}
		run := l.lastRun()
		if run.Status != workflow.RunInterrupted {
			t.Errorf("run is %s, want interrupted", run.Status)
		}
		p.mu.Lock()
		stderr := p.stderr.String()
		p.mu.Unlock()
		if want := "interrupted; continue with `hamnflow resume " + run.ID + "` or unwind with `hamnflow rollback " + run.ID + "`"; !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
		j, _ := journal.Open(l.journal)
		evs, _ := j.Events(run.ID)
		var interrupted bool
		for _, ev := range evs {
			interrupted = interrupted || ev.Type == workflow.EvInterrupted && ev.Step == "s2"
		}
		if !interrupted {
			t.Errorf("no interrupted event for s2 in the journal")
		}
		l.release()
		l.run(exitOK, "resume", run.ID)
		l.checkEnd(run.ID, map[string]int{"s2": 2})
		l.checkDecision(run.ID, "s2", "redo", "probe: its effect is not in place")
	})

	// Killed in a fan-out child that has neither probe nor idempotence: the
	// operator decides that child by its key.
	t.Run("mid-fanout-child", func(t *testing.T) {
		l := newCrashLab(t, bin)
		pb := filepath.Join(l.dir, "fan.yaml")
		err := os.WriteFile(pb, []byte(`name: fan
params:
  - name: dir
steps:
  - id: list
    action: shell
    with:
      cmd: printf 'a\nb\nc\n'
      items: lines
    idempotent: true
  - id: fan
    needs: [list]
    foreach:
      over: steps.list.items
      parallel: 1
    action: shell
    with:
      cmd: 'cd {{ quote .params.dir }} && echo "fan-{{ .item.name }} 1" >> ledger && if [ -e hold-{{ .item.name }} ]; then echo $$ > at.tmp && mv at.tmp at-{{ .item.name }} && read _ < gate; fi && mkdir -p out && echo x >> out/{{ .item.name }}'
`), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(l.dir, "hold-b"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		p := l.start("run", pb, "--set", "dir="+l.dir)
		pid := l.waitFor(p, "at-b")
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		p.waitExit(t)
		l.killStep(pid)
		l.release()
		run := l.lastRun()
		_, stderr := l.run(exitWaiting, "resume", run.ID)
		for _, s := range []string{"--assume-done fan[b]`", "--redo fan[b]`"} {
			if !strings.Contains(stderr, "hamnflow resume "+run.ID+" "+s) {
				t.Errorf("resume does not say %q:\n%s", s, stderr)
			}
		}
		l.run(exitOK, "resume", run.ID, "--redo", "fan[b]")
		if got := l.ledger(); got["fan-a"] != 1 || got["fan-b"] != 2 || got["fan-c"] != 1 {
			t.Errorf("ledger %v: want a and c once, b twice (killed, then redone)", got)
		}
		for _, item := range []string{"a", "b", "c"} {
			if b, err := os.ReadFile(filepath.Join(l.dir, "out", item)); err != nil || string(b) != "x\n" {
				t.Errorf("effect of fan[%s]: %q, %v; want it made once", item, b, err)
			}
		}
		l.checkDecision(run.ID, "fan[b]", "redo", "operator says run it again (--redo)")
	})
}

// TestTwoProcesses: readers answer while a run works; a second run on the
// same cluster is refused and told who holds it; a holder killed with -9
// releases the cluster.
func TestTwoProcesses(t *testing.T) {
	bin := buildBinary(t)
	l := newCrashLab(t, bin)
	l.hold("s3", "pre")
	p := l.start("run", l.pb, "--set", "dir="+l.dir)
	stepPID := l.waitFor(p, "at-s3-pre")
	run := l.lastRun()

	for _, args := range [][]string{{"history"}, {"show", run.ID}, {"history", "--output", "json"}, {"show", run.ID, "--output", "json"}} {
		start := time.Now()
		out, _ := l.run(exitOK, args...)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s took %s while a run is in progress", args, took)
		}
		switch args[0] {
		case "history":
			if !strings.Contains(out, run.ID) || !strings.Contains(out, "running") {
				t.Errorf("%s during the run:\n%s", args, out)
			}
		case "show":
			if !strings.Contains(out, "s3") || !strings.Contains(out, "running") {
				t.Errorf("%s during the run:\n%s", args, out)
			}
		}
	}

	host, _ := os.Hostname()
	u, _ := user.Current()
	pid := p.cmd.Process.Pid
	for _, args := range [][]string{
		{"run", l.pb, "--set", "dir=" + filepath.Join(l.dir, "second")},
		{"resume", run.ID},
		{"rollback", run.ID},
	} {
		_, stderr := l.run(exitLocked, args...)
		want := fmt.Sprintf("cluster local is being worked on by run %s of %s@%s (pid %d) since ", run.ID, u.Username, host, pid)
		if !strings.Contains(stderr, want) {
			t.Errorf("%s refused with:\n%s\nwant it to say %q", args, stderr, want)
		}
		_, since, _ := strings.Cut(stderr, " since ")
		since, _, _ = strings.Cut(since, ";")
		if at, err := time.Parse(time.RFC3339, since); err != nil || time.Since(at) > time.Minute || time.Until(at) > time.Second {
			t.Errorf("%s refused: holder since %q (%v), want the time the run took the lock", args, since, err)
		}
		if !strings.Contains(stderr, fmt.Sprintf("make sure pid %d no longer runs on %s", pid, host)) {
			t.Errorf("%s refused without saying what to do:\n%s", args, stderr)
		}
	}

	// Killed with -9: the kernel releases the lock, a new run proceeds.
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.waitExit(t)
	l.killStep(stepPID)
	l.release()
	second := filepath.Join(l.dir, "second")
	if err := os.MkdirAll(second, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(second, "ledger"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l.run(exitOK, "run", l.pb, "--set", "dir="+second)

	// And the killed run resumes: s3 is in doubt and has no probe.
	l.run(exitWaiting, "resume", run.ID)
	l.run(exitOK, "resume", run.ID, "--redo", "s3")
	l.checkEnd(run.ID, map[string]int{"s3": 2})
}

// TestStepDiesWithHamnflow (issue 16, finding 3): a local step's shell and
// what it started in the background die when hamnflow is killed with -9,
// so that resume never runs the step beside an orphan of it; SIGHUP ends a
// run as SIGTERM does (exit 5, the run interrupted, not "running").
func TestStepDiesWithHamnflow(t *testing.T) {
	bin := buildBinary(t)
	l := newCrashLab(t, bin)
	pb := filepath.Join(l.dir, "orphan.yaml")
	os.WriteFile(pb, []byte(`name: orphan
params:
  - name: dir
steps:
  - id: long
    action: shell
    with:
      cmd: cd {{ quote .params.dir }} && { sleep 1000 & echo $! > bg; } && echo $$ > fg.tmp && mv fg.tmp fg && read _ < gate
`), 0o644)
	alive := func(pid int) bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		_, rest, _ := strings.Cut(string(b), ") ")
		return !strings.HasPrefix(rest, "Z") // a zombie is dead, only not yet reaped
	}
	waitDead := func(what string, pid int) {
		t.Helper()
		for range 1000 { // 10 s: far beyond what a kill takes
			if !alive(pid) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("%s (pid %d) outlived hamnflow killed with -9", what, pid)
	}

	p := l.start("run", pb, "--set", "dir="+l.dir)
	fg, _ := strconv.Atoi(l.waitFor(p, "fg"))
	bg, _ := strconv.Atoi(l.waitFor(p, "bg"))
	if !alive(fg) || !alive(bg) {
		t.Fatalf("the step is not running: pids %d %d", fg, bg)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.waitExit(t)
	waitDead("the step's shell", fg)
	waitDead("the step's background sleep", bg)

	// history and show tell the run is dead, not running (finding 8).
	killed := l.lastRun()
	out, _ := l.run(exitOK, "history")
	if !regexp.MustCompile(killed.ID + `\s+orphan\s+local\s+dead\s`).MatchString(out) {
		t.Errorf("history does not show the killed run dead:\n%s", out)
	}
	out, _ = l.run(exitOK, "show", killed.ID)
	if !strings.Contains(out, "dead: the journal has it running, but its process (pid "+strconv.Itoa(p.cmd.Process.Pid)+") is gone; `hamnflow resume "+killed.ID+"` goes on") {
		t.Errorf("show does not tell the killed run is dead:\n%s", out)
	}

	// SIGHUP: the step is stopped, the run ends interrupted.
	os.Remove(filepath.Join(l.dir, "fg"))
	os.Remove(filepath.Join(l.dir, "bg"))
	p = l.start("run", pb, "--set", "dir="+l.dir)
	fg, _ = strconv.Atoi(l.waitFor(p, "fg"))
	bg, _ = strconv.Atoi(l.waitFor(p, "bg"))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if got := p.waitExit(t); got != exitInterrupted {
		t.Errorf("SIGHUP: exit %d, want %d\n%s", got, exitInterrupted, p.stderr.String())
	}
	waitDead("the step's shell after SIGHUP", fg)
	waitDead("the step's background sleep after SIGHUP", bg)
	if r := l.lastRun(); r.Status != workflow.RunInterrupted {
		t.Errorf("after SIGHUP the run is %s, want interrupted", r.Status)
	}
}

// TestInterruptBeforeTheEngine (issue 16, finding 5): validate and plan
// honour SIGINT and SIGTERM whatever they are doing: here, reading a
// playbook that never comes (a fifo nobody writes to).
func TestInterruptBeforeTheEngine(t *testing.T) {
	bin := buildBinary(t)
	for _, tc := range []struct {
		cmd string
		sig syscall.Signal
	}{{"validate", syscall.SIGINT}, {"plan", syscall.SIGTERM}, {"run", syscall.SIGINT}} {
		t.Run(tc.cmd, func(t *testing.T) {
			l := newCrashLab(t, bin)
			fifo := filepath.Join(l.dir, "slow.yaml")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			p := l.start(tc.cmd, fifo)
			// Opening the fifo for writing returns once hamnflow opened it
			// to read: it is past its start, waiting for the playbook.
			w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if err := p.cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			if got := p.waitExit(t); got != exitInterrupted {
				t.Errorf("%s after %v: exit %d, want %d\n%s", tc.cmd, tc.sig, got, exitInterrupted, p.stderr.String())
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			if !strings.Contains(p.stderr.String(), "hamnflow: interrupted; nothing was changed") {
				t.Errorf("%s after %v said:\n%s", tc.cmd, tc.sig, p.stderr.String())
			}
		})
	}
}
