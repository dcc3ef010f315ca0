package workflow_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/hamnflow/hamnflow/workflow"
)

// TestPreflight: before the first step acts, every host the DAG names must
// answer (or be one whose steps allow it not to) and every secret must
// read; all of it is reported at once, each at its step's file:line.
func TestPreflight(t *testing.T) {
	pb := parse(t, `name: p
steps:
  - id: old_primary
    host: mn1
    action: do
  - id: stop_old
    needs: [old_primary]
    host: mn1
    when: '{{ eq .steps.old_primary.out.reachable "true" }}'
    action: do
  - id: promote
    host: '{{ .inv.standby.name }}'
    action: do
    with: {x: '{{ secret "pw" }}'}
  - id: nodes
    host: '{{ .item.name }}'
    foreach: {over: inv.groups.service_nodes}
    action: do
    with: {x: '{{ secret "missing" }}'}
  - id: typo
    host: mn9
    action: do
`)
	data := testData(map[string]string{})
	ck := workflow.Checker{Actions: newWorld().actions(), Funcs: testFuncs(), Secrets: secretMap{"pw": secretValue}}
	var (
		mu    sync.Mutex // Preflight asks the hosts in parallel
		asked []string
	)
	down := map[string]bool{"mn1": true, "sn02": true, "mn9": true}
	reach := func(_ context.Context, h string) error {
		mu.Lock()
		asked = append(asked, h)
		mu.Unlock()
		if down[h] {
			return errors.New("dial tcp: connection refused")
		}
		return nil
	}
	diags, notes := ck.Preflight(testCtx(t), pb, data, reach)
	text := diags.Error()
	for _, want := range []string{
		`test.yaml:4: host mn1 (step old_primary): dial tcp: connection refused`,
		`test.yaml:15: step "nodes": secret "missing" is not declared`,
		`test.yaml:21: host mn9 (step typo): dial tcp: connection refused`,
		`test.yaml:16: host sn02 (step nodes): dial tcp: connection refused`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("preflight lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "mn2") || strings.Contains(text, "sn01") || strings.Contains(text, "sn03") {
		t.Errorf("a host that answers is reported:\n%s", text)
	}
	if len(notes) != 0 {
		t.Errorf("notes %v", notes)
	}
	for _, h := range []string{"mn1", "mn2", "sn01", "sn02", "sn03", "mn9"} {
		if !strings.Contains(strings.Join(asked, " "), h) {
			t.Errorf("preflight did not ask %s (asked %v)", h, asked)
		}
	}

	// A dead old primary whose steps only look at it, or run on a
	// condition, is a note, not a refusal.
	pb2 := parse(t, `name: p
steps:
  - id: old_primary
    host: mn1
    action: check
    with: {x: probe}
  - id: stop_old
    needs: [old_primary]
    host: mn1
    when: '{{ eq .steps.old_primary.out.reachable "true" }}'
    action: do
`)
	pb2.Steps[0].Action.Kind = "host_reachable"
	ck.Actions["host_reachable"] = ck.Actions["check"]
	diags, notes = ck.Preflight(testCtx(t), pb2, data, reach)
	if len(diags) != 0 || len(notes) != 1 || !strings.Contains(notes[0], "host mn1 does not answer") {
		t.Errorf("a dead old primary: diags %v notes %v", diags, notes)
	}
}
