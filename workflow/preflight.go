package workflow

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"
)

// Preflight checks, before the first step acts, what a run needs and can
// be known now: every host the DAG names is in the inventory and answers
// (reach: over SSH, with a known host key), and every secret it uses can be
// read. It comes after Validate, which checks the templates and arguments.
//
// A host the failover may find dead (every step on it only asks whether it
// answers, tolerates it not answering, or runs only on a condition known at
// run time) is not required to answer: it is reported in notes instead.
func (c Checker) Preflight(ctx context.Context, pb *Playbook, data map[string]any, reach func(ctx context.Context, host string) error) (Diagnostics, []string) {
	var diags Diagnostics
	var notes []string
	st := newStub(pb, data, c.Funcs)
	rd := &renderer{funcs: c.Funcs, secrets: c.Secrets}

	type hostUse struct {
		step     *Step
		required bool
	}
	hosts := map[string]*hostUse{}
	use := func(name string, s *Step) {
		if name == "" || name == "local" || hasPlaceholder(name) {
			return
		}
		u := hosts[name]
		if u == nil {
			u = &hostUse{step: s}
			hosts[name] = u
		}
		u.required = u.required || !mayBeDown(s)
	}
	for _, s := range pb.Steps {
		sd := st.forStep(s)
		if s.ForEach != nil && !strings.HasPrefix(s.ForEach.Over, "steps.") {
			if v, err := lookupPath(data, s.ForEach.Over); err == nil {
				if items, err := asItems(v); err == nil {
					for _, it := range items {
						h, err := rd.render(s.Host, mergeItem(sd, it), true, nil)
						if err == nil {
							use(h, s)
						}
					}
					continue
				}
			}
		}
		if h, err := rd.render(s.Host, sd, true, nil); err == nil {
			use(h, s)
		}
	}

	// Secrets.
	seen := map[string]bool{}
	for _, s := range pb.Steps {
		for _, t := range templatesOf(s) {
			for _, name := range secretNames(t, c.Funcs) {
				if seen[name] {
					continue
				}
				seen[name] = true
				if c.Secrets == nil {
					diags = append(diags, s.diag("", "step %q uses secret %q, and this run has no secrets", s.ID, name))
					continue
				}
				if _, err := c.Secrets.Secret(name); err != nil {
					diags = append(diags, s.diag("", "step %q: %v", s.ID, err))
				}
			}
		}
	}

	// Hosts, in parallel.
	names := make([]string, 0, len(hosts))
	for n := range hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			errs[i] = reach(ctx, n)
		}()
	}
	wg.Wait()
	for i, n := range names {
		err := errs[i]
		if err == nil {
			continue
		}
		u := hosts[n]
		if u.required {
			diags = append(diags, u.step.diag("host", "host %s (step %s): %v", n, u.step.ID, err))
		} else {
			notes = append(notes, fmt.Sprintf("host %s does not answer (%v); its steps allow that", n, err))
		}
	}
	return diags, notes
}

// mayBeDown says whether a step tolerates its host not answering.
func mayBeDown(s *Step) bool {
	if s.Action.Kind == "host_reachable" || s.When != "" {
		return true
	}
	if v, ok := s.Action.With["if_reachable"].(string); ok && v == "true" {
		return true
	}
	return false
}

// secretNames lists the secrets a template reads ({{ secret "NAME" }}).
func secretNames(text string, funcs template.FuncMap) []string {
	if !strings.Contains(text, "secret") {
		return nil
	}
	t, err := template.New("").Funcs(funcs).Funcs(template.FuncMap{"secret": func(string) string { return "" }}).Parse(text)
	if err != nil {
		return nil
	}
	var out []string
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n != nil {
				for _, c := range n.Cmds {
					walk(c)
				}
			}
		case *parse.CommandNode:
			if len(n.Args) == 2 {
				if id, ok := n.Args[0].(*parse.IdentifierNode); ok && id.Ident == "secret" {
					if s, ok := n.Args[1].(*parse.StringNode); ok && !slices.Contains(out, s.Text) {
						out = append(out, s.Text)
					}
				}
			}
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		}
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			walk(tt.Tree.Root)
		}
	}
	return out
}
