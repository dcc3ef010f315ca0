package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hamnflow/hamnflow/workflow"
)

func writeHistory(w io.Writer, runs []workflow.Run, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tPLAYBOOK\tCLUSTER\tSTATUS\tSTEPS\tSTARTED\tTOOK\tBY")
	for _, r := range runs {
		took := "-"
		switch {
		case !r.EndedAt.IsZero():
			took = r.EndedAt.Sub(r.StartedAt).Round(time.Millisecond).String()
		case !r.UpdatedAt.IsZero():
			took = r.UpdatedAt.Sub(r.StartedAt).Round(time.Millisecond).String() + "+"
		}
		by := r.By.User
		if r.By.SudoUser != "" {
			by = r.By.SudoUser
		}
		status := string(r.Status)
		if gone(r) {
			status, took = "dead", strings.TrimSuffix(took, "+")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", r.ID, r.Playbook, r.Cluster, status, r.Done, r.Steps,
			r.StartedAt.Local().Format("2006-01-02 15:04:05"), took, by)
	}
	tw.Flush()
	if len(runs) == 0 {
		fmt.Fprintln(w, "(no runs)")
	}
}

// gone says whether a run the journal has as running was run by a process
// of this machine that no longer exists: killed, or its machine crashed.
// (Of another machine's runs nothing can be told from here.)
func gone(r workflow.Run) bool {
	if r.Status != workflow.RunRunning || r.PID <= 0 {
		return false
	}
	if host, _ := os.Hostname(); host != r.By.Host {
		return false
	}
	err := syscall.Kill(r.PID, 0)
	return errors.Is(err, syscall.ESRCH)
}

func writeShow(w io.Writer, r workflow.Run, steps []workflow.StepSummary, evs []workflow.Event, all bool) {
	if gone(r) {
		fmt.Fprintf(w, "run %s: %s on %s, dead: the journal has it running, but its process (pid %d) is gone; `hamnflow resume %s` goes on\n", r.ID, r.Playbook, r.Cluster, r.PID, r.ID)
	} else {
		fmt.Fprintf(w, "run %s: %s on %s, %s\n", r.ID, r.Playbook, r.Cluster, r.Status)
	}
	by := r.By.User
	if r.By.SudoUser != "" {
		by = r.By.SudoUser + " (as " + r.By.User + ")"
	}
	fmt.Fprintf(w, "started %s by %s@%s (pid %d)", r.StartedAt.Local().Format(time.RFC3339), by, r.By.Host, r.PID)
	if !r.EndedAt.IsZero() {
		fmt.Fprintf(w, ", ended after %s", r.EndedAt.Sub(r.StartedAt).Round(time.Millisecond))
	}
	fmt.Fprintln(w)
	if len(r.Params) > 0 {
		var ps []string
		for _, k := range sortedKeys(r.Params) {
			ps = append(ps, k+"="+r.Params[k])
		}
		fmt.Fprintf(w, "params: %s\n", strings.Join(ps, " "))
	}
	if r.Message != "" {
		fmt.Fprintf(w, "%s\n", r.Message)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tHOST\tSTATUS\tTOOK\tTRIES\tCONFIRMED BY\tNOTE")
	for _, s := range steps {
		took := "-"
		if s.Duration > 0 {
			took = s.Duration.Round(time.Millisecond).String()
		}
		tries := ""
		if s.Attempts > 0 {
			tries = fmt.Sprint(s.Attempts)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Step, s.Host, s.Status, took, tries, s.ConfirmedBy, oneLine(s.Message, 70))
	}
	tw.Flush()

	fmt.Fprintln(w)
	for _, ev := range evs {
		interesting := all || ev.Type == workflow.EvStepFailed || ev.Type == workflow.EvUndoFailed ||
			ev.Type == workflow.EvWaiting || ev.Type == workflow.EvInDoubt ||
			(ev.Type == workflow.EvStepSucceeded && (ev.Stdout != "" || ev.Stderr != ""))
		if !interesting {
			continue
		}
		fmt.Fprintf(w, "[%s] %s %s", ev.Time.Local().Format("15:04:05.000"), ev.Type, ev.Step)
		if ev.Host != "" && ev.Host != "local" {
			fmt.Fprintf(w, " on %s", ev.Host)
		}
		if ev.Exit != nil {
			fmt.Fprintf(w, " (exit %d)", *ev.Exit)
		}
		if ev.By != nil {
			fmt.Fprintf(w, " by %s", ev.By.User)
		}
		fmt.Fprintln(w)
		if ev.Command != "" && all {
			indent(w, "  $ ", ev.Command)
		}
		if ev.Message != "" {
			indent(w, "  ", ev.Message)
		}
		if ev.Stdout != "" {
			indent(w, "  | ", ev.Stdout)
		}
		if ev.Stderr != "" {
			indent(w, "  ! ", ev.Stderr)
		}
	}
}

func indent(w io.Writer, prefix, text string) {
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		fmt.Fprintf(w, "%s%s\n", prefix, l)
	}
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n-3] + "..."
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
