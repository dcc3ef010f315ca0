package netaddr

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/act/acttest"
	"github.com/hamnflow/hamnflow/workflow"
	"github.com/hamnflow/hamnflow/workflow/storetest"
)

// boom is an action that fails, so that the engine rolls back.
type boom struct{}

func (boom) NewArgs() any              { return &struct{}{} }
func (boom) Plan(string, any) []string { return []string{"false"} }
func (boom) Run(context.Context, workflow.Call) (workflow.Outcome, error) {
	return workflow.Outcome{Ran: true, Exit: 1}, errors.New("boom")
}

// TestEngineRollback: a takeover step without undo: is undone by the
// engine through Reverse, from what the step recorded: released when it
// added the address, left alone when the address was there before.
func TestEngineRollback(t *testing.T) {
	pb, err := workflow.Parse("t.yaml", []byte(`name: t
steps:
  - id: take
    host: mn2
    action: addr_takeover
    with: {address: 198.51.100.10, prefix: "24", interface: eth0}
  - id: fail
    needs: [take]
    action: boom
`))
	if err != nil {
		t.Fatal(err)
	}
	a := Addr{"198.51.100.10", 24, "eth0"}
	for _, tt := range []struct {
		already string
		undo    []string
	}{
		{"no", []string{releaseScript(a)}},
		{"yes", nil},
	} {
		rec := &acttest.Recorder{Answer: func(acttest.Exec) acttest.Reply {
			return acttest.Reply{Stdout: "already=" + tt.already + "\nmac=02:42:c6:33:64:0c\nremoved=yes\n"}
		}}
		acts := workflow.ActionSet{"boom": boom{}}
		for name, a := range Actions(acttest.Env(rec)) {
			acts[name] = a
		}
		data := map[string]any{"params": map[string]string{}, "inv": map[string]any{}}
		e := &workflow.Engine{Store: storetest.NewMem(), Actions: acts, AssumeYes: true,
			Loader: func(workflow.Source) (*workflow.Playbook, map[string]any, error) { return pb, data, nil }}
		id, err := e.Start(context.Background(), pb, workflow.Source{}, data, "lab")
		if !errors.Is(err, workflow.ErrStepFailed) {
			t.Fatalf("run: %v", err)
		}
		if got := rec.Scripts(); len(got) != 1 || got[0] != takeoverScript(a) {
			t.Fatalf("run ran %q", got)
		}
		rec.Reset()
		if err := e.Rollback(context.Background(), id, workflow.RollbackOptions{}); err != nil {
			t.Fatalf("rollback: %v", err)
		}
		if got := rec.Scripts(); strings.Join(got, "\n--\n") != strings.Join(tt.undo, "\n--\n") {
			t.Errorf("already=%s: rollback ran %q, want %q", tt.already, got, tt.undo)
		}
		for _, ex := range rec.Execs() {
			if ex.Host != "mn2" {
				t.Errorf("undo ran on %s", ex.Host)
			}
		}
	}
}
