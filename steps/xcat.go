package steps

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"

	"github.com/hamnflow/hamnflow/workflow"
)

// xCAT actions: its services through their init scripts, its commands
// (which live outside the login PATH), and the osimage check of a
// takeover.
func xcatActions(env *Env) map[string]textAction {
	return map[string]textAction{
		"xcat_service":  XCATService{Env: env},
		"xcat_cmd":      XCATCommand{Env: env},
		"xcat_osimages": XCATOSImages{Env: env},
	}
}

// xcatPath puts xCAT's command directories first on PATH.
const xcatPath = "PATH=/opt/xcat/bin:/opt/xcat/sbin:$PATH; export PATH\n"

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

// xcatCommands are the xCAT commands xcat_cmd runs.
var xcatCommands = []string{"makedns", "makedhcp", "makeconservercf", "makegocons", "nodeset", "nimnodeset", "mkdsklsnode",
	"lsdef", "mkdef", "chdef", "rmdef", "nodels", "tabdump", "lsxcatd", "makehosts", "makenetworks"}

// XCATCommand runs one xCAT command with xCAT's directories on PATH.
//
//	with: command (makedns, makedhcp, makeconservercf, nodeset, ...);
//	args (shell words, as typed)
//
// Outputs: stdout. Items: "node: text" lines ({name, text}).
type XCATCommand struct{ Env *Env }

// Params implements workflow.Action.
func (XCATCommand) Params() ([]string, []string) { return []string{"command"}, []string{"args"} }

// Describe implements workflow.Action.
func (XCATCommand) Describe(_ string, a map[string]string) string {
	return strings.TrimSpace(a["command"] + " " + a["args"])
}

// Run implements workflow.Action.
func (x XCATCommand) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	cmd := c.Args["command"]
	if !slices.Contains(xcatCommands, cmd) {
		return workflow.Outcome{}, fmt.Errorf("command %q is not an xCAT command hamnflow runs (%s)", cmd, strings.Join(xcatCommands, ", "))
	}
	o, _, err := runText(x.Env, ctx, c, xcatPath+strings.TrimSpace(cmd+" "+c.Args["args"]), "", nil)
	o.Outputs = map[string]string{"stdout": strings.TrimSpace(o.Stdout)}
	for _, r := range NodeLines(o.Stdout) {
		o.Items = append(o.Items, map[string]string{"name": r[0], "text": r[1]})
	}
	if err != nil {
		return o, fmt.Errorf("%s on %s: %w", cmd, act.HostLabel(c.Host), err)
	}
	return o, nil
}

// XCATOSImages lists the osimage definitions (lsdef -t osimage -l) and,
// with installdir, checks that the files each needs under it are on the
// host (guide 8.0 step 8: the images must be ready before nodeset).
//
//	with: installdir (optional)
//
// Outputs: count, names, missing. Items: one per osimage {name,
// imagetype, provmethod, osvers, osarch, profile}.
type XCATOSImages struct{ Env *Env }

// Params implements workflow.Action.
func (XCATOSImages) Params() ([]string, []string) { return nil, []string{"installdir"} }

// Describe implements workflow.Action.
func (XCATOSImages) Describe(_ string, a map[string]string) string {
	s := "lsdef -t osimage -l"
	if a["installdir"] != "" {
		s += "; check each image's files under " + a["installdir"]
	}
	return s
}

// Run implements workflow.Action.
func (x XCATOSImages) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	o, _, err := runText(x.Env, ctx, c, xcatPath+"lsdef -t osimage -l", "", nil)
	if err != nil {
		return o, fmt.Errorf("list osimages on %s: %w", act.HostLabel(c.Host), err)
	}
	imgs := ParseLsdef(o.Stdout)
	var names []string
	for _, im := range imgs {
		names = append(names, im.Name)
		o.Items = append(o.Items, map[string]string{"name": im.Name, "imagetype": im.Attrs["imagetype"],
			"provmethod": im.Attrs["provmethod"], "osvers": im.Attrs["osvers"], "osarch": im.Attrs["osarch"], "profile": im.Attrs["profile"]})
	}
	o.Outputs = map[string]string{"count": strconv.Itoa(len(imgs)), "names": strings.Join(names, ","), "missing": ""}
	dir := c.Args["installdir"]
	if dir == "" {
		return o, nil
	}
	var checks []string
	owner := map[string][]string{}
	for _, im := range imgs {
		for _, p := range im.InstallPaths(dir) {
			if owner[p] == nil {
				checks = append(checks, remote.ShellQuote(p))
			}
			owner[p] = append(owner[p], im.Name)
		}
	}
	script := "test -d " + remote.ShellQuote(dir) + ` || echo "missing ` + dir + `"` + "\n"
	if len(checks) > 0 {
		script += "for p in " + strings.Join(checks, " ") + `; do [ -e "$p" ] || echo "missing $p"; done` + "\n"
	}
	co, _, err := runText(x.Env, ctx, c, script, "", nil)
	if err != nil {
		return o, fmt.Errorf("check %s on %s: %w", dir, act.HostLabel(c.Host), err)
	}
	var missing []string
	for _, l := range strings.Split(co.Stdout, "\n") {
		if p, ok := strings.CutPrefix(strings.TrimSpace(l), "missing "); ok {
			if imgs := owner[p]; len(imgs) > 0 {
				p += " (" + strings.Join(imgs, ", ") + ")"
			}
			missing = append(missing, p)
		}
	}
	o.Stdout += co.Stdout
	o.Outputs["missing"] = strings.Join(missing, "; ")
	if len(missing) > 0 {
		return o, fmt.Errorf("%d osimage file(s) missing on %s: %s; synchronise %s from the primary (guide 6.2)", len(missing), act.HostLabel(c.Host), strings.Join(missing, "; "), dir)
	}
	say(c, &o, fmt.Sprintf("%d osimage(s), files present under %s", len(imgs), dir))
	return o, nil
}
