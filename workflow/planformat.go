package workflow

import (
	"fmt"
	"io"
	"strings"
)

// WritePlan prints a plan as `hamnflow plan` shows it: each step in order,
// its host, needs, condition and its exact commands, probe and undo.
func WritePlan(w io.Writer, pb *Playbook, plan []PlannedStep) {
	fmt.Fprintf(w, "playbook %s: %d steps\n", pb.Name, len(plan))
	for i, p := range plan {
		var flags []string
		if p.Confirm {
			flags = append(flags, "confirm")
		}
		if p.ReadOnly {
			flags = append(flags, "read-only")
		} else if p.Idempot {
			flags = append(flags, "idempotent")
		}
		f := ""
		if len(flags) > 0 {
			f = " [" + strings.Join(flags, ", ") + "]"
		}
		fmt.Fprintf(w, "\n%2d. %s on %s%s\n", i+1, p.ID, p.Host, f)
		if p.Title != "" {
			fmt.Fprintf(w, "    %s\n", p.Title)
		}
		if len(p.Needs) > 0 {
			fmt.Fprintf(w, "    needs: %s\n", strings.Join(p.Needs, ", "))
		}
		if p.When != "" {
			fmt.Fprintf(w, "    when: %s\n", p.When)
		}
		if p.ForEach != "" {
			fmt.Fprintf(w, "    %s\n", p.ForEach)
		}
		for _, c := range p.Commands {
			indentLines(w, "    $ ", c)
		}
		for _, c := range p.Probe {
			indentLines(w, "    probe $ ", c)
		}
		for _, c := range p.Undo {
			indentLines(w, "    undo $ ", c)
		}
		if p.UndoNote != "" && !p.ReadOnly {
			fmt.Fprintf(w, "    undo: %s\n", p.UndoNote)
		}
	}
}

func indentLines(w io.Writer, prefix, text string) {
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		fmt.Fprintf(w, "%s%s\n", prefix, l)
	}
}
