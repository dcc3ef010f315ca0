package steps

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/aix"
	"github.com/hamnflow/hamnflow/steps/remote"

	"github.com/hamnflow/hamnflow/workflow"
)

// AIX's SRC services (startsrc/stopsrc/lssrc), until the service action
// replaces them. mktcpip and the NIM actions are in steps/aix, whose PATH
// these share (aix.Script): with: path puts more directories first (the
// lab's stand-ins live in /opt/aix/bin).
func aixActions(env *Env) map[string]textAction {
	return map[string]textAction{
		"startsrc": SRC{Env: env, Start: true},
		"stopsrc":  SRC{Env: env},
		"lssrc":    Lssrc{Env: env},
	}
}

// aixScript prefixes body with the PATH the AIX actions use.
func aixScript(extra, body string) string { return aix.Script(extra, body) }

func withDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// SRC starts or stops an AIX subsystem (startsrc/stopsrc -s NAME). A
// subsystem already in the wanted state is success (AIX's 0513-029 and
// 0513-004), so the step is safe to repeat.
//
//	with: subsystem (xcatd, dhcpsd, ...); path
//
// Outputs: changed (yes|no).
type SRC struct {
	Env   *Env
	Start bool
}

func (s SRC) verb() string {
	if s.Start {
		return "startsrc"
	}
	return "stopsrc"
}

// Params implements workflow.Action.
func (SRC) Params() ([]string, []string) { return []string{"subsystem"}, []string{"path"} }

// Describe implements workflow.Action.
func (s SRC) Describe(_ string, a map[string]string) string {
	return s.verb() + " -s " + remote.ShellQuote(a["subsystem"])
}

// Run implements workflow.Action.
func (s SRC) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	sub := c.Args["subsystem"]
	o, res, err := runText(s.Env, ctx, c, aixScript(c.Args["path"], s.Describe(c.Host, c.Args)), "", []int{0, 1})
	if err != nil {
		return o, fmt.Errorf("%s %s: %w", s.verb(), sub, err)
	}
	already := "0513-004" // stopsrc: inoperative
	if s.Start {
		already = "0513-029" // startsrc: already active
	}
	switch {
	case res.Exit == 0:
		o.Outputs = map[string]string{"changed": "yes"}
		return o, nil
	case strings.Contains(o.Stdout+o.Stderr, already):
		o.Outputs = map[string]string{"changed": "no"}
		return o, nil
	}
	return o, fmt.Errorf("%s %s on %s: exit status %d%s", s.verb(), sub, c.Host, res.Exit, act.Tail(res.Stderr, res.Stdout))
}

// Lssrc checks an AIX subsystem's state: success when it is as wanted.
//
//	with: subsystem; want (active|inoperative, default active), path
//
// Outputs: status, pid.
type Lssrc struct{ Env *Env }

// Params implements workflow.Action.
func (Lssrc) Params() ([]string, []string) { return []string{"subsystem"}, []string{"want", "path"} }

// Describe implements workflow.Action.
func (Lssrc) Describe(_ string, a map[string]string) string {
	return "lssrc -s " + remote.ShellQuote(a["subsystem"]) + " (want " + withDefault(a["want"], "active") + ")"
}

// Run implements workflow.Action.
func (l Lssrc) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	sub, want := c.Args["subsystem"], withDefault(c.Args["want"], "active")
	o, _, err := runText(l.Env, ctx, c, aixScript(c.Args["path"], "lssrc -s "+remote.ShellQuote(sub)), "", nil)
	if err != nil {
		return o, fmt.Errorf("lssrc %s: %w", sub, err)
	}
	subs, err := ParseLssrc(o.Stdout)
	if err != nil {
		return o, fmt.Errorf("lssrc %s on %s: %w", sub, c.Host, err)
	}
	for _, s := range subs {
		if s.Name != sub {
			continue
		}
		o.Outputs = map[string]string{"status": s.Status, "pid": strconv.Itoa(s.PID)}
		if s.Status != want {
			return o, fmt.Errorf("subsystem %s on %s is %s, want %s", sub, c.Host, s.Status, want)
		}
		return o, nil
	}
	return o, fmt.Errorf("lssrc on %s does not list subsystem %s", c.Host, sub)
}
