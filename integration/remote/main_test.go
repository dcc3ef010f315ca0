//go:build lab

// Package remote holds hamnflow's end-to-end tests of remote execution
// against the lab: commands on both MNs, fan-out to service nodes with
// per-host results, host key checking, a link cut mid-command, secrets kept
// out of the journal and the output, and the guide's file synchronisation
// (rsync, drift, crontab, the sync-setup and sync playbooks).
//
// Every test brings up its own lab (about a second) and tears it down.
package remote

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hamnflow/hamnflow/integration/labtest"
	"github.com/hamnflow/hamnflow/workflow"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// writePlaybook writes a playbook for one test into its scratch directory.
func writePlaybook(t *testing.T, env *labtest.Env, name, text string) string {
	t.Helper()
	p := filepath.Join(env.Dir, name+".yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var runIDRe = regexp.MustCompile(`\brun (\d{8}-\d{6}-[0-9a-f]+)\b`)

// runID is the id of the run hamnflow reported.
func runID(t *testing.T, r labtest.Result) string {
	t.Helper()
	m := runIDRe.FindStringSubmatch(r.Combined())
	if m == nil {
		t.Fatalf("no run id in the output:\n%s", r)
	}
	return m[1]
}

// shown is `hamnflow show ID --output json`.
type shown struct {
	Run    workflow.Run           `json:"run"`
	Steps  []workflow.StepSummary `json:"steps"`
	Events []workflow.Event       `json:"events"`
}

func show(t *testing.T, env *labtest.Env, id string) shown {
	t.Helper()
	r := env.MustRun(t, 0, "show", id, "--output", "json")
	var s shown
	if err := json.Unmarshal([]byte(r.Stdout), &s); err != nil {
		t.Fatalf("show %s: %v\n%s", id, err, r.Stdout)
	}
	return s
}

// step is the summary of one step (or fan-out child) of s.
func (s shown) step(t *testing.T, key string) workflow.StepSummary {
	t.Helper()
	for _, st := range s.Steps {
		if st.Step == key {
			return st
		}
	}
	t.Fatalf("run %s has no step %s: %+v", s.Run.ID, key, s.Steps)
	return workflow.StepSummary{}
}

// outputs are the outputs the last success of step reported.
func (s shown) outputs(t *testing.T, key string) map[string]string {
	t.Helper()
	for i := len(s.Events) - 1; i >= 0; i-- {
		if ev := s.Events[i]; ev.Step == key && ev.Type == workflow.EvStepSucceeded {
			return ev.Outputs
		}
	}
	t.Fatalf("run %s: step %s never succeeded", s.Run.ID, key)
	return nil
}
