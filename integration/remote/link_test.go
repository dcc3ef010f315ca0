//go:build lab

package remote

import (
	"bytes"
	"context"
	"errors"
	"github.com/hamnflow/hamnflow/workflow"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/integration/labtest"
)

// TestLinkCutDuringCommand cuts mn2's link while a step runs a command
// there: the step fails within its timeout (hamnflow does not hang on a
// dead connection), and once the link is back, resume runs the step again
// and finishes the run.
func TestLinkCutDuringCommand(t *testing.T) {
	env := labtest.Up(t, labtest.Options{})
	// The step's timeout, and the slack after it: sshx spends at most a
	// second finding the connection dead before it declares the step failed.
	const stepTimeout, killBound = 8 * time.Second, 3 * time.Second
	pb := writePlaybook(t, env, "cut", `name: cut
description: a command that outlives its link
steps:
  - id: work
    title: work on mn2
    host: mn2
    action: shell
    with: {cmd: "echo started > /tmp/hamnflow-started; sleep 3; echo done"}
    idempotent: true
    timeout: `+stepTimeout.String()+`
  - id: after
    title: runs after the work
    needs: [work]
    action: shell
    with: {cmd: "echo after"}
`)
	started := filepath.Join(env.Lab.Host("mn2").Root, "tmp/hamnflow-started")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := env.Command(ctx, "run", pb)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the step never started on mn2:\n%s", out.String())
		}
	}
	if err := env.Lab.CutLink(ctx, "mn2"); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	restored := false
	defer func() {
		if !restored {
			env.Lab.RestoreLink(context.Background(), "mn2")
		}
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(stepTimeout + killBound):
		t.Fatalf("hamnflow still runs %v after the link was cut (step timeout %v, and %v to try to kill the command):\n%s",
			time.Since(cut), stepTimeout, killBound, out.String())
	}
	took := time.Since(cut)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("want exit 1 after the cut, got %v:\n%s", err, out.String())
	}
	t.Logf("hamnflow gave up %v after the link was cut", took.Round(time.Millisecond))
	r := labtest.Result{Stdout: out.String()}
	id := runID(t, r)
	st := show(t, env, id).step(t, "work")
	if st.Status != "failed" {
		t.Fatalf("work: status %q, want failed", st.Status)
	}
	if !strings.Contains(st.Message, "mn2") {
		t.Errorf("work: the failure does not name the host: %q", st.Message)
	}
	t.Logf("work failed with: %s", st.Message)

	if err := env.Lab.RestoreLink(ctx, "mn2"); err != nil {
		t.Fatal(err)
	}
	restored = true
	os.Remove(started)
	env.MustRun(t, 0, "resume", id)
	s := show(t, env, id)
	starts := 0
	for _, ev := range s.Events {
		if ev.Step == "work" && ev.Type == workflow.EvStepStarted {
			starts++
		}
	}
	if st := s.step(t, "work"); st.Status != "succeeded" || starts != 2 {
		t.Errorf("work after resume: status %q, started %d times; want succeeded, started twice", st.Status, starts)
	}
	if st := s.step(t, "after"); st.Status != "succeeded" {
		t.Errorf("after: status %q, want succeeded", st.Status)
	}
	if got := s.outputs(t, "work")["stdout"]; got != "done" {
		t.Errorf("work printed %q after resume", got)
	}
}
