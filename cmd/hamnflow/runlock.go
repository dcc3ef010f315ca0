package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/journal"
	"github.com/hamnflow/hamnflow/playbooks"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/steps/runlock"
	"github.com/hamnflow/hamnflow/workflow"
)

// markMNs wraps a bbolt journal's store so that its cluster lock, which
// holds on this machine only, also leaves a run marker on the inventory's
// MNs (steps/runlock), where a hamnflow on another host, whatever its
// journal, finds it and refuses. The etcd journal's lock holds for every
// host already and is left alone, as is a run without an inventory.
func markMNs(c *cli.Context, j *store, inv *playbooks.Inventory, tr remote.Transport, ask func(ctx context.Context, q string) (bool, error), note func(string), log zerolog.Logger) (workflow.Store, error) {
	bolt, ok := j.Store.(*journal.Journal)
	if !ok || inv == nil {
		return j.Store, nil
	}
	var mns []remote.Host
	for _, name := range []string{inv.Primary, inv.Standby} {
		if name == "" {
			continue
		}
		h, err := inv.Host(name)
		if err != nil {
			return nil, fmt.Errorf("run marker: %w", err)
		}
		mns = append(mns, h)
	}
	if len(mns) == 0 {
		return j.Store, nil
	}
	g := &runlock.Guard{Exec: tr, Hosts: mns, Journal: bolt.Path(), Note: note, Force: c.Bool("force"),
		Timed: func(what string, took time.Duration) {
			log.Info().Str("took", took.Round(time.Millisecond).String()).Int("mns", len(mns)).Msg("run marker " + what)
		}}
	g.Confirm = func(ctx context.Context, live []runlock.Found) (bool, error) {
		if c.Bool("yes") {
			return true, nil
		}
		var b strings.Builder
		fmt.Fprintf(&b, "--force: these MNs carry the live run marker of another hamnflow:\n")
		for _, f := range live {
			fmt.Fprintf(&b, "  %s: %s, heartbeat %s ago\n", f.MN, f.Marker, f.Age.Round(time.Second))
		}
		h := live[0].Marker
		fmt.Fprintf(&b, "Taking over while that run lives lets two runs act on the cluster at once.\nIs pid %d on %s dead (or %s down)?", h.PID, h.Host, h.Host)
		return ask(ctx, b.String())
	}
	return &runlock.Store{Store: j.Store, Guard: g, Ctx: c.Context}, nil
}

// confirm asks a yes/no question on the prompter's input; no operator
// (no terminal, no --prompt-stdin) answers no.
func (p *termPrompter) confirm(ctx context.Context, q string) (bool, error) {
	fmt.Fprintf(p.out, "\n%s [y/N]: ", q)
	select {
	case <-ctx.Done():
		fmt.Fprintln(p.out)
		return false, ctx.Err()
	case line, ok := <-p.lines:
		if !ok {
			fmt.Fprintln(p.out)
			return false, nil
		}
		in := strings.ToLower(strings.TrimSpace(line))
		return in == "y" || in == "yes", nil
	}
}

// noteTo prints a note for the operator, keeping the view off the
// terminal while it does.
func noteTo(out io.Writer, v *view) func(string) {
	return func(msg string) {
		if v != nil {
			v.pause()
			defer v.resume()
		}
		fmt.Fprintln(out, "note:", msg)
	}
}
