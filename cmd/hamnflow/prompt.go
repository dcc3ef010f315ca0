package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/hamnflow/hamnflow/workflow"
)

// termPrompter asks the operator on a terminal (or, with --prompt-stdin,
// whatever feeds standard input).
type termPrompter struct {
	lines <-chan string
	out   io.Writer
	who   workflow.Who
}

func newTermPrompter(in io.Reader, out io.Writer, who workflow.Who) *termPrompter {
	ch := make(chan string)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return &termPrompter{lines: ch, out: out, who: who}
}

var choiceKeys = map[workflow.Choice]struct{ key, label string }{
	workflow.Yes:        {"y", "[y]es"},
	workflow.Skip:       {"n", "[n]o (skip it)"},
	workflow.All:        {"c", "[c]ontinue without asking"},
	workflow.Abort:      {"a", "[a]bort"},
	workflow.AssumeDone: {"d", "[d]one (its effect is in place)"},
	workflow.Redo:       {"r", "[r]edo it"},
}

// Ask implements workflow.Prompter.
func (p *termPrompter) Ask(ctx context.Context, q workflow.Question) (workflow.Answer, error) {
	fmt.Fprintf(p.out, "\n── %s · step %s on %s ──\n", q.RunID, q.Step, q.Host)
	if q.Title != "" {
		fmt.Fprintf(p.out, "%s\n", q.Title)
	}
	if q.Command != "" {
		for _, l := range strings.Split(strings.TrimSpace(q.Command), "\n") {
			fmt.Fprintf(p.out, "  $ %s\n", l)
		}
	}
	if q.Reason != "" {
		fmt.Fprintf(p.out, "(%s)\n", q.Reason)
	}
	var labels []string
	for _, c := range q.Choices {
		labels = append(labels, choiceKeys[c].label)
	}
	labels = append(labels, "[?] details")
	for {
		fmt.Fprintf(p.out, "%s: ", strings.Join(labels, ", "))
		var line string
		var ok bool
		select {
		case <-ctx.Done():
			fmt.Fprintln(p.out)
			return workflow.Answer{}, ctx.Err()
		case line, ok = <-p.lines:
		}
		if !ok {
			fmt.Fprintln(p.out)
			return workflow.Answer{}, workflow.ErrNoOperator
		}
		in := strings.ToLower(strings.TrimSpace(line))
		if in == "?" || in == "details" {
			fmt.Fprintln(p.out, q.Details)
			continue
		}
		for _, c := range q.Choices {
			k := choiceKeys[c]
			if in == k.key || in == string(c) {
				who := p.who
				who.Via = "prompt"
				return workflow.Answer{Choice: c, By: who}, nil
			}
		}
		fmt.Fprintf(p.out, "answer one of the letters in brackets\n")
	}
}
