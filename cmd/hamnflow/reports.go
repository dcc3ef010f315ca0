package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/hamnflow/hamnflow/workflow"
)

// reportActions are the actions whose output is a table the operator
// reads at the end of the run: the prerequisites and the verification
// that the cluster is whole.
var reportActions = map[string]bool{"prereq_check": true, "cluster_verify": true}

// reportSteps are pb's steps that run a report action.
func reportSteps(pb *workflow.Playbook) map[string]bool {
	ids := map[string]bool{}
	for _, s := range pb.Steps {
		if reportActions[s.Action.Kind] {
			ids[s.ID] = true
		}
	}
	return ids
}

// printReports writes the tables the run's report steps printed, the
// last try of each, as the journal holds them.
func printReports(out io.Writer, store workflow.Store, id string, steps map[string]bool) {
	if id == "" || len(steps) == 0 {
		return
	}
	evs, err := store.Events(id)
	if err != nil {
		return
	}
	last := map[string]workflow.Event{}
	var order []string
	for _, ev := range evs {
		if !steps[ev.Step] || ev.Type != workflow.EvStepSucceeded && ev.Type != workflow.EvStepFailed || ev.Stdout == "" {
			continue
		}
		if _, seen := last[ev.Step]; !seen {
			order = append(order, ev.Step)
		}
		last[ev.Step] = ev
	}
	for _, s := range order {
		ev := last[s]
		fmt.Fprintf(out, "\n%s on %s:\n%s\n", s, ev.Host, strings.TrimRight(ev.Stdout, "\n"))
	}
}
