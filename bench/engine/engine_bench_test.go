package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/hamnflow/hamnflow/journal"
	"github.com/hamnflow/hamnflow/workflow"
)

// noop is an action that does nothing, so that a run measures the engine:
// scheduling, templates and two committed journal appends per step.
type noop struct{}

type noopArgs struct {
	Msg string `arg:"msg"`
}

func (noop) NewArgs() any                     { return &noopArgs{} }
func (noop) Plan(host string, a any) []string { return []string{"noop " + a.(*noopArgs).Msg} }
func (noop) Run(context.Context, workflow.Call) (workflow.Outcome, error) {
	return workflow.Outcome{Ran: true}, nil
}

// dagPlaybook is n no-op steps; step i needs i-1 and, every 10th step, the
// step 10 back, so that the DAG has joins and runnable sets of more than one.
func dagPlaybook(n int) string {
	var b strings.Builder
	b.WriteString("name: dag\nsteps:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - id: s%d\n    action: noop\n    with: {msg: \"step {{ .run.id }} %d\"}\n", i, i)
		switch {
		case i >= 10 && i%10 == 0:
			fmt.Fprintf(&b, "    needs: [s%d, s%d]\n", i-1, i-10)
		case i > 0 && i%10 != 5:
			fmt.Fprintf(&b, "    needs: [s%d]\n", i-1)
		case i > 0:
			fmt.Fprintf(&b, "    needs: [s%d]\n", i-5)
		}
	}
	return b.String()
}

// BenchmarkEngineStep runs a DAG of no-op steps with a real journal and
// reports the engine's overhead per journaled step (target: at most 1
// ms/step, flat from 100 to 10,000 steps) and the heap the run left in
// use (MB-heap). Most of a step's cost is the fsyncs of its one commit.
func BenchmarkEngineStep(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchDAG(b, n) })
	}
}

func benchDAG(b *testing.B, n int) {
	text := dagPlaybook(n)
	pb, err := workflow.Parse("dag.yaml", []byte(text))
	if err != nil {
		b.Fatal(err)
	}
	actions := workflow.ActionSet{"noop": noop{}}
	data := map[string]any{"inv": map[string]any{}, "params": map[string]string{}}
	if diags := (workflow.Checker{Actions: actions}).Validate(pb, data); len(diags) > 0 {
		b.Fatal(diags)
	}
	j, err := journal.Open(filepath.Join(b.TempDir(), "journal.db"))
	if err != nil {
		b.Fatal(err)
	}
	e := &workflow.Engine{
		Store: j, Actions: actions, Prompter: workflow.NoOperator{},
		Who: workflow.Who{User: "bench", Host: "bench"}, Parallel: 4,
	}
	src := workflow.Source{PlaybookPath: "dag.yaml", PlaybookText: text}
	var peak uint64
	for b.Loop() {
		if _, err := e.Start(context.Background(), pb, src, data, "bench"); err != nil {
			b.Fatal(err)
		}
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		peak = max(peak, m.HeapInuse)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N*n), "ms/step")
	b.ReportMetric(float64(peak)/(1<<20), "MB-heap")
}

// BenchmarkValidate parses and validates a DAG of 100, 1,000 and 10,000
// steps (target: linear, the same µs/step at every size).
func BenchmarkValidate(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			text := []byte(dagPlaybook(n))
			actions := workflow.ActionSet{"noop": noop{}}
			data := map[string]any{"inv": map[string]any{}, "params": map[string]string{}}
			b.ReportAllocs()
			for b.Loop() {
				pb, err := workflow.Parse("dag.yaml", text)
				if err != nil {
					b.Fatal(err)
				}
				if diags := (workflow.Checker{Actions: actions}).Validate(pb, data); len(diags) > 0 {
					b.Fatal(diags)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/step")
		})
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// hamnflow builds the command once per benchmark binary.
func hamnflow(b *testing.B) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hamnflow-bench-bin-")
		if err != nil {
			buildErr = err
			return
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		binPath = filepath.Join(dir, "hamnflow")
		out, err := exec.Command(goBin, "build", "-o", binPath, "github.com/hamnflow/hamnflow/cmd/hamnflow").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return binPath
}

// TestMain removes the binary and the fixture made for the benchmarks.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, p := range []string{binPath, bigJournal} {
		if p != "" {
			os.RemoveAll(filepath.Dir(p))
		}
	}
	os.Exit(code)
}

// fillJournal adds n finished runs (each with a 4 KiB source and 20
// events) to the journal at path in one transaction, the way the journal
// stores them, so that a fixture of 10,000 runs takes seconds, not the
// minutes 10,000 fsynced CreateRun calls would.
func fillJournal(b *testing.B, path string, n int) {
	j, err := journal.Open(path) // creates it with the current layout
	if err != nil {
		b.Fatal(err)
	}
	if _, err := j.Runs(workflow.Filter{Limit: 1}); err != nil {
		b.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	text := strings.Repeat("x", 4096)
	err = db.Update(func(tx *bolt.Tx) error {
		runs, srcs, events := tx.Bucket([]byte("runs")), tx.Bucket([]byte("sources")), tx.Bucket([]byte("events"))
		if runs == nil || srcs == nil || events == nil {
			return fmt.Errorf("journal layout changed: update fillJournal")
		}
		for i := range n {
			t := start.Add(time.Duration(i) * time.Second)
			r := workflow.Run{
				ID: journal.NewRunID(t), Playbook: []string{"failover", "failback", "setup-sync"}[i%3], Cluster: "lab",
				Status: workflow.RunSucceeded, StartedAt: t, UpdatedAt: t.Add(time.Minute), EndedAt: t.Add(time.Minute),
				By: workflow.Who{User: "alice", Host: "opshost"}, PID: 4242, Params: map[string]string{"target": "mn2"},
				Steps: 20, Done: 20,
			}
			if err := put(runs, r.ID, r); err != nil {
				return err
			}
			if err := put(srcs, r.ID, workflow.Source{PlaybookPath: "builtin:failover.yaml", PlaybookText: text}); err != nil {
				return err
			}
			log, err := events.CreateBucket([]byte(r.ID))
			if err != nil {
				return err
			}
			for s := range 20 {
				seq, _ := log.NextSequence()
				ev := workflow.Event{Seq: seq, Time: t, Type: workflow.EvStepSucceeded, Step: fmt.Sprintf("step%d", s), Stdout: "ok\n"}
				key := []byte{byte(seq >> 56), byte(seq >> 48), byte(seq >> 40), byte(seq >> 32), byte(seq >> 24), byte(seq >> 16), byte(seq >> 8), byte(seq)}
				data, err := json.Marshal(ev)
				if err != nil {
					return err
				}
				if err := log.Put(key, data); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func put(bk *bolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return bk.Put([]byte(key), data)
}

var (
	bigOnce    sync.Once
	bigJournal string
)

// journal10k returns a journal of 10,000 runs, made once per benchmark
// binary; benchmarks must not add runs to it.
func journal10k(b *testing.B) string {
	bigOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hamnflow-bench-journal-")
		if err != nil {
			b.Fatal(err)
		}
		bigJournal = filepath.Join(dir, "journal.db")
		fillJournal(b, bigJournal, 10000)
		j, err := journal.Open(bigJournal)
		if err != nil {
			b.Fatal(err)
		}
		if rs, err := j.Runs(workflow.Filter{}); err != nil || len(rs) != 10000 {
			b.Fatalf("fixture has %d runs: %v", len(rs), err)
		}
	})
	return bigJournal
}

// runCmd runs the hamnflow binary and fails on a non-zero exit.
func runCmd(b *testing.B, env []string, args ...string) []byte {
	cmd := exec.Command(hamnflow(b), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		b.Fatalf("hamnflow %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

// BenchmarkHistory10k runs `hamnflow history` (the newest 20, as by
// default, and all of them) on a journal of 10,000 runs: the time an
// operator waits, process start included (target: at most 100 ms).
func BenchmarkHistory10k(b *testing.B) {
	path := journal10k(b)
	hamnflow(b) // build before timing
	env := []string{"HAMNFLOW_JOURNAL=" + path, "HAMNFLOW_INVENTORY="}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"default", []string{"history"}},
		{"all", []string{"history", "--limit", "0"}},
		{"all-json", []string{"history", "--limit", "0", "--output", "json"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				runCmd(b, env, c.args...)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
		})
	}
}

// resumePlaybook is a chain of 50 local steps; step 25 needs a
// confirmation, so a run without --yes parks there as waiting.
func resumePlaybook() string {
	var b strings.Builder
	b.WriteString("name: chain50\nsteps:\n")
	for i := range 50 {
		fmt.Fprintf(&b, "  - id: s%d\n    action: shell\n    with: {cmd: \"true\"}\n", i)
		if i > 0 {
			fmt.Fprintf(&b, "    needs: [s%d]\n", i-1)
		}
		if i == 25 {
			b.WriteString("    confirm: true\n")
		}
	}
	return b.String()
}

// BenchmarkResumeFirstStep measures `hamnflow resume ID --yes` from the
// command's start until the journal records its first step started
// (target: at most 50 ms), on a run parked halfway through 50 steps, in a
// small journal and in one of 10,000 runs. The rest of the resumed run is
// not timed.
func BenchmarkResumeFirstStep(b *testing.B) {
	dir := b.TempDir()
	pb := filepath.Join(dir, "chain50.yaml")
	if err := os.WriteFile(pb, []byte(resumePlaybook()), 0o644); err != nil {
		b.Fatal(err)
	}
	small := filepath.Join(dir, "small.db")
	hamnflow(b) // build before timing
	for _, c := range []struct{ name, journal string }{{"small", small}, {"10k", ""}} {
		b.Run(c.name, func(b *testing.B) {
			path := c.journal
			if path == "" {
				// A private copy of the 10,000-run fixture: this benchmark adds runs.
				path = filepath.Join(b.TempDir(), "big.db")
				data, err := os.ReadFile(journal10k(b))
				if err != nil {
					b.Fatal(err)
				}
				if err := os.WriteFile(path, data, 0o600); err != nil {
					b.Fatal(err)
				}
			}
			env := []string{"HAMNFLOW_JOURNAL=" + path, "HAMNFLOW_INVENTORY="}
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				cmd := exec.Command(hamnflow(b), "run", pb)
				cmd.Env = append(os.Environ(), env...)
				if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 3 {
					b.Fatalf("run did not park as waiting: %v", err)
				}
				j, err := journal.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				runs, err := j.Runs(workflow.Filter{Status: workflow.RunWaiting, Limit: 1})
				if err != nil || len(runs) != 1 {
					b.Fatalf("no waiting run: %v", err)
				}
				id := runs[0].ID
				b.StartTimer()
				start := time.Now()
				runCmd(b, env, "resume", id, "--yes")
				b.StopTimer()
				evs, err := j.Events(id)
				if err != nil {
					b.Fatal(err)
				}
				resumed := false
				for _, ev := range evs {
					if ev.Type == workflow.EvRunResumed {
						resumed = true
					}
					if resumed && ev.Type == workflow.EvStepStarted {
						total += ev.Time.Sub(start)
						break
					}
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-to-first-step")
		})
	}
}
