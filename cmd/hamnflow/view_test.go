package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/workflow"
)

// lastFrame is what a terminal shows after the view drew: the text after
// the last cursor-up, with the line clears removed.
func lastFrame(out string) string {
	frames := strings.Split(out, "A\x1b[2K")
	last := frames[len(frames)-1]
	return strings.ReplaceAll(last, "\x1b[2K", "")
}

func TestView(t *testing.T) {
	pb, err := workflow.Parse("v.yaml", []byte(`name: v
steps:
  - id: check
    action: do
  - id: stop_dhcp
    needs: [check]
    action: do
  - id: skipped_one
    needs: [check]
    action: do
  - id: promote
    needs: [stop_dhcp]
    action: do
  - id: never
    needs: [promote]
    action: do
`))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	v := newView(&out, pb, "/var/lib/hamnflow/journal.db.log")
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for _, ev := range []workflow.Event{
		{Type: workflow.EvStepStarted, Step: "check", Host: "mn2", Time: t0},
		{Type: workflow.EvStepSucceeded, Step: "check", Host: "mn2", Time: t0.Add(1200 * time.Millisecond)},
		{Type: workflow.EvStepSkipped, Step: "skipped_one"},
		{Type: workflow.EvStepStarted, Step: "stop_dhcp", Host: "mn1", Time: t0.Add(2 * time.Second)},
		{Type: workflow.EvStepSucceeded, Step: "stop_dhcp", Host: "mn1", Time: t0.Add(3 * time.Second)},
		{Type: workflow.EvStepStarted, Step: "promote", Host: "mn2", Time: t0.Add(3 * time.Second)},
		{Type: workflow.EvStepFailed, Step: "promote", Host: "mn2", Time: t0.Add(4 * time.Second), Message: "exit status 1 on mn2: pg_ctl: could not send promote signal"},
	} {
		v.Observe("r1", ev)
	}
	v.Close()
	frame := lastFrame(out.String())
	for _, want := range []string{
		" + check", "mn2", "done", "1.2s",
		" + stop_dhcp", " x promote", "failed", "exit status 1 on mn2: pg_ctl",
		"   never", "pending",
		"1 skipped: skipped_one",
		"log: /var/lib/hamnflow/journal.db.log",
	} {
		if !strings.Contains(frame, want) {
			t.Errorf("the view lacks %q:\n%s", want, frame)
		}
	}
	if strings.Contains(frame, " skipped_one ") {
		t.Errorf("a skipped step has a line of its own:\n%s", frame)
	}
	// Each redraw goes back over the lines it drew.
	if n := strings.Count(out.String(), "\x1b[6A"); n == 0 {
		t.Errorf("the view never moved back over its 6 lines:\n%q", out.String())
	}
}
