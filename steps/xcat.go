package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"

	"github.com/hamnflow/hamnflow/workflow"
)

// xcat_service: xCAT's services through their init scripts, until the
// service action replaces it. xCAT's commands and the osimage check are
// in steps/xcat.
func xcatActions(env *Env) map[string]textAction {
	return map[string]textAction{
		"xcat_service": XCATService{Env: env},
	}
}

// initScripts are the init script names a service may have, by
// distribution (Debian's first).
var initScripts = map[string][]string{
	"xcatd":     {"xcatd"},
	"dhcpd":     {"isc-dhcp-server", "dhcpd"},
	"conserver": {"conserver-server", "conserver"},
}

func initCandidates(service string) []string {
	if c, ok := initScripts[service]; ok {
		return c
	}
	return []string{service}
}

// XCATService brings an xCAT service (xcatd, dhcpd, conserver, or any
// init script name) to a state through /etc/init.d; a missing script
// counts as stopped. check "true" only checks (a probe).
//
//	with: service, state (running|stopped); check; if_reachable
//
// Outputs: was, state (running|stopped|absent), script.
type XCATService struct{ Env *Env }

// Params implements workflow.Action.
func (XCATService) Params() ([]string, []string) {
	return []string{"service", "state"}, []string{"check", "if_reachable"}
}

// Describe implements workflow.Action.
func (XCATService) Describe(_ string, a map[string]string) string {
	script := "/etc/init.d/" + strings.Join(initCandidates(a["service"]), "|")
	verb := map[string]string{"running": "start", "stopped": "stop"}[a["state"]]
	s := script + " " + verb
	if a["check"] == "true" {
		s = script + " status (must be " + a["state"] + ")"
	}
	if a["if_reachable"] == "true" {
		s += " (if the host is reachable)"
	}
	return s
}

// Run implements workflow.Action.
func (x XCATService) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	state := c.Args["state"]
	if state != "running" && state != "stopped" {
		return workflow.Outcome{}, fmt.Errorf("state %q: use running or stopped", state)
	}
	var cands []string
	for _, n := range initCandidates(c.Args["service"]) {
		cands = append(cands, remote.ShellQuote("/etc/init.d/"+n))
	}
	verb := map[string]string{"running": `"$s" start`, "stopped": `"$s" stop`}[state]
	if c.Args["check"] == "true" {
		verb = "true"
	}
	script := `s=""
for f in ` + strings.Join(cands, " ") + `; do if [ -x "$f" ]; then s=$f; break; fi; done
status() { if [ -z "$s" ]; then echo absent; return; fi
	"$s" status >/dev/null 2>&1; case $? in 0) echo running ;; *) echo stopped ;; esac; }
was=$(status); echo "script=$s"; echo "was=$was"
if [ -n "$s" ] && [ "$was" != ` + state + ` ]; then ` + verb + ` || exit $?; fi
echo "state=$(status)"
`
	o, reached, err := runReach(x.Env, ctx, c, script, "", nil)
	if !reached {
		return o, nil
	}
	if err != nil {
		return o, fmt.Errorf("%s %s on %s: %w", c.Args["service"], state, act.HostLabel(c.Host), err)
	}
	kv := act.KeyValues(o.Stdout)
	o.Outputs = map[string]string{"was": kv["was"], "state": kv["state"], "script": kv["script"], "reachable": "true"}
	got := kv["state"]
	if got == state || (state == "stopped" && got == "absent") {
		return o, nil
	}
	if got == "absent" {
		return o, fmt.Errorf("%s on %s: no init script (%s)", c.Args["service"], act.HostLabel(c.Host), strings.Join(cands, ", "))
	}
	return o, fmt.Errorf("%s on %s is %s, wanted %s", c.Args["service"], act.HostLabel(c.Host), got, state)
}
