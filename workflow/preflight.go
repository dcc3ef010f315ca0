package workflow

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
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
		u.required = u.required || !mayBeDown(s, rd, st)
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

	// Secrets: every name a template asks for, found by rendering it
	// (a name may come from an argument or a default).
	seen := map[string]bool{}
	for _, s := range pb.Steps {
		rec := &recordingSecrets{Secrets: c.Secrets}
		rr := &renderer{funcs: c.Funcs, secrets: rec}
		sd := st.forStep(s)
		for _, t := range templatesOf(s) {
			rr.render(t, sd, true, nil)
		}
		for _, name := range rec.names {
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

// mayBeDown says whether a step tolerates its host not answering: it only
// asks whether it does, runs on a run-time condition, or says
// if_reachable.
func mayBeDown(s *Step, rd *renderer, st *stub) bool {
	if s.Action.Kind == "host_reachable" || s.When != "" {
		return true
	}
	if v, ok := s.Action.With["if_reachable"].(string); ok {
		r, err := rd.render(v, st.forStep(s), true, nil)
		return err == nil && strings.TrimSpace(r) == "true"
	}
	return false
}

// recordingSecrets notes the names a masked render asks about.
type recordingSecrets struct {
	Secrets
	names []string
}

func (r *recordingSecrets) Has(name string) bool {
	if !slices.Contains(r.names, name) {
		r.names = append(r.names, name)
	}
	return true // the name is checked by reading it
}
