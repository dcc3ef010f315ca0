// Package services has the one action that starts, stops, enables and
// disables a service whatever runs the host's services: systemd
// (systemctl), SysV init scripts, or AIX's System Resource Controller
// (startsrc, stopsrc, lssrc, and /etc/inittab for boot). A step names the
// service by its role (dhcp, dns, console, xcatd, ...) and the table of
// names.go, or the host's own entry in the inventory, gives its name there.
package services

import (
	"context"
	"fmt"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// Actions are the service actions, bound to env.
func Actions(env *act.Env) map[string]workflow.Action {
	return map[string]workflow.Action{"service": Service{Env: env}}
}

// Args say what to make of a service.
type Args struct {
	// Service is a role (xcatd, dhcp, dns, console, tftp, http, nfs,
	// postgresql, mysql, cron, sshd) or a name the host knows it by.
	Service string `arg:"service,required"`
	// State is what it must be now: running, stopped, restarted or
	// reloaded; "" leaves it as it is.
	State string `arg:"state" oneof:"running|stopped|restarted|reloaded"`
	// Enabled is whether it starts at boot; not given leaves it as it is.
	Enabled *bool `arg:"enabled"`
	// Check only checks that the service is as State and Enabled say,
	// and changes nothing (a probe).
	Check bool `arg:"check"`
	// IfReachable counts a host that cannot be reached as done (the old
	// primary may be dead).
	IfReachable bool `arg:"if_reachable"`
	// Inittab is the AIX boot entry to write when enabling; default the
	// one xCAT writes for the subsystem (names.go).
	Inittab string `arg:"inittab"`
}

// Service is the service action. Its outputs: init, unit, was_state and
// state (running, stopped or absent), was_enabled and enabled (true,
// false or absent), inittab (AIX, when it was enabled), reachable.
//
// It reverses itself: without an undo: in the playbook, rollback puts the
// service back as the step found it (was_state, was_enabled).
type Service struct{ Env *act.Env }

var _ workflow.Reverser = Service{}

// NewArgs implements workflow.Action.
func (Service) NewArgs() any { return &Args{} }

// Plan implements workflow.Action: the discovery script, then the
// commands that change the service, each with the condition it runs on.
func (s Service) Plan(host string, a any) []string {
	args := a.(*Args)
	h := s.host(host)
	init := initOf(h)
	cands := candidates(args.Service, init, h.Services)
	lines := []string{discovery(init, cands)}
	if args.Check {
		return lines
	}
	unit := cands[0]
	if len(cands) > 1 {
		unit = "<" + args.Service + " found above>"
	}
	for _, c := range changes(init, unit, args) {
		lines = append(lines, c.cmd+"  # "+c.when)
	}
	return lines
}

// change is one command and when it runs.
type change struct {
	cmd, when string
	needed    func(Status) bool
}

// changes are the commands that bring unit to args, in order: stop before
// disable, enable before start.
func changes(init, unit string, args *Args) []change {
	var out []change
	q := remote.ShellQuote(unitName(init, unit))
	if strings.HasPrefix(unit, "<") {
		q = unitName(init, unit)
	}
	cmd := func(verb string) string {
		switch init {
		case "systemd":
			return "systemctl " + verb + " " + q
		case "src":
			return map[string]string{"start": "startsrc -s " + q, "stop": "stopsrc -s " + q,
				"restart": "stopsrc -s " + q + "; startsrc -s " + q, "reload-or-restart": "refresh -s " + q,
				"enable": "mkitab " + remote.ShellQuote(inittabFor(unit, args.Inittab)), "disable": "rmitab " + q}[verb]
		default:
			script := remote.ShellQuote("/etc/init.d/" + unit)
			if strings.HasPrefix(unit, "<") {
				script = "/etc/init.d/" + unit
			}
			switch verb {
			case "enable":
				return "if command -v update-rc.d >/dev/null; then update-rc.d " + q + " defaults >/dev/null && update-rc.d " + q + " enable; else chkconfig " + q + " on; fi"
			case "disable":
				return "if command -v update-rc.d >/dev/null; then update-rc.d " + q + " disable; else chkconfig " + q + " off; fi"
			case "reload-or-restart":
				return script + " reload || " + script + " restart"
			}
			return script + " " + verb
		}
	}
	stop := change{cmd("stop"), "if it runs", func(s Status) bool { return s.Running }}
	start := change{cmd("start"), "if it does not run", func(s Status) bool { return !s.Running }}
	if args.State == "stopped" {
		out = append(out, stop)
	}
	if e := args.Enabled; e != nil && !*e {
		out = append(out, change{cmd("disable"), "if it starts at boot", func(s Status) bool { return s.Enabled }})
	}
	if e := args.Enabled; e != nil && *e {
		out = append(out, change{cmd("enable"), "if it does not start at boot", func(s Status) bool { return !s.Enabled }})
	}
	switch args.State {
	case "running":
		out = append(out, start)
	case "restarted":
		out = append(out, change{cmd("restart"), "always", func(Status) bool { return true }})
	case "reloaded":
		out = append(out, change{cmd("reload-or-restart"), "if it runs, else it is started", func(s Status) bool { return s.Running }},
			change{cmd("start"), "if it does not run", func(s Status) bool { return !s.Running }})
	}
	return out
}

// unitName is the name systemctl takes: a unit without a type is a
// service.
func unitName(init, unit string) string {
	if init == "systemd" && !strings.Contains(unit, ".") && !strings.HasPrefix(unit, "<") {
		return unit + ".service"
	}
	return unit
}

func inittabFor(unit, given string) string {
	if given != "" {
		return given
	}
	if l := inittab[unit]; l != "" {
		return l
	}
	return unit + ":2:once:/usr/bin/startsrc -s " + unit + " > /dev/console 2>&1"
}

// discovery is the script that finds the first candidate the host has and
// prints its state as key=value lines (ParseStatus reads them).
func discovery(init string, cands []string) string {
	var qs []string
	for _, c := range cands {
		qs = append(qs, remote.ShellQuote(unitName(init, c)))
	}
	list := strings.Join(qs, " ")
	switch init {
	case "systemd":
		return `[ -d /run/systemd/system ] || { echo "this host does not run systemd (no /run/systemd/system): give it init: sysv in the inventory" >&2; exit 3; }
for want in loaded masked; do for u in ` + list + `; do [ "$(systemctl show -p LoadState --value "$u" 2>/dev/null)" = "$want" ] || continue
echo "unit=${u%.service}"; echo "active=$(systemctl is-active "$u")"; echo "enabled=$(systemctl is-enabled "$u" 2>/dev/null)"; exit 0; done; done; echo unit=`
	case "src":
		return `for s in ` + list + `; do if out=$(lssrc -s "$s" 2>/dev/null); then
echo "unit=$s"; echo "lssrc=$(echo "$out" | tail -1)"
if e=$(lsitab "$s" 2>/dev/null) && [ -n "$e" ]; then echo enabled=enabled; echo "inittab=$e"; else echo enabled=disabled; fi; exit 0; fi; done; echo unit=`
	}
	return `for s in ` + list + `; do if [ -x "/etc/init.d/$s" ]; then echo "unit=$s"
if "/etc/init.d/$s" status >/dev/null 2>&1; then echo active=active; else echo active=inactive; fi
e=disabled; for f in /etc/rc[2345].d/S[0-9][0-9]"$s" /etc/rc.d/rc[2345].d/S[0-9][0-9]"$s"; do [ -e "$f" ] && e=enabled; done; echo "enabled=$e"; exit 0; fi; done; echo unit=`
}

func (s Service) host(name string) remote.Host {
	h, err := s.Env.Host(name)
	if err != nil {
		return remote.Host{Name: name}
	}
	return h
}

// initOf is the host's service manager; a host the inventory says nothing
// of (this machine) runs systemd unless it runs none (the discovery
// script says so).
func initOf(h remote.Host) string {
	if h.Init != "" {
		return h.Init
	}
	return "systemd"
}

// Run implements workflow.Action.
func (s Service) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	args := c.Args.(*Args)
	h, err := s.Env.Host(c.Host)
	if err != nil {
		return workflow.Outcome{}, err
	}
	init := initOf(h)
	cands := candidates(args.Service, init, h.Services)
	label := fmt.Sprintf("%s on %s", args.Service, act.HostLabel(c.Host))

	o, reached, err := s.Env.RunReach(ctx, c, act.Script{Text: discovery(init, cands)}, args.IfReachable)
	if !reached {
		return o, nil
	}
	if err != nil {
		return o, fmt.Errorf("find %s: %w", label, err)
	}
	was := ParseStatus(init, o.Stdout)
	o.Outputs = map[string]string{"init": init, "unit": was.Unit, "was_state": was.State(), "was_enabled": was.EnabledWord(),
		"state": was.State(), "enabled": was.EnabledWord(), "reachable": "true"}
	if was.Inittab != "" {
		o.Outputs["inittab"] = was.Inittab
	}
	want := wanted(args)
	if was.Unit == "" {
		if want.running || want.enabled != nil && *want.enabled {
			return o, fmt.Errorf("%s: none of %s exists (%s); name it for this host in the inventory (hosts: %s: services: {%s: NAME})",
				label, strings.Join(cands, ", "), init, c.Host, args.Service)
		}
		act.Say(c, &o, label+": not installed, nothing to stop")
		return o, nil
	}
	if args.Check {
		if msg := mismatch(was, args); msg != "" {
			return o, fmt.Errorf("%s (%s) %s", label, was.Unit, msg)
		}
		return o, nil
	}
	var cmds []string
	for _, ch := range changes(init, was.Unit, args) {
		if ch.needed(was) {
			cmds = append(cmds, ch.cmd)
		}
	}
	if len(cmds) == 0 {
		act.Say(c, &o, fmt.Sprintf("%s (%s) is already %s", label, was.Unit, describe(was)))
		return o, nil
	}
	script := strings.Join(cmds, " && ")
	co, _, err := s.Env.Run(ctx, c, act.Script{Text: script})
	o.Command += "\n" + co.Command
	o.Stdout += co.Stdout
	o.Stderr += co.Stderr
	o.Exit, o.Ran = co.Exit, co.Ran
	if err != nil {
		return o, fmt.Errorf("%s (%s): %s: %w", label, was.Unit, script, err)
	}
	vo, _, err := s.Env.Run(ctx, c, act.Script{Text: discovery(init, []string{was.Unit})})
	if err != nil {
		return o, fmt.Errorf("check %s after %s: %w", label, script, err)
	}
	now := ParseStatus(init, vo.Stdout)
	o.Outputs["state"], o.Outputs["enabled"] = now.State(), now.EnabledWord()
	if msg := mismatch(now, args); msg != "" {
		return o, fmt.Errorf("%s (%s) %s after %s", label, was.Unit, msg, script)
	}
	act.Say(c, &o, fmt.Sprintf("%s (%s): %s", label, was.Unit, describe(now)))
	return o, nil
}

type target struct {
	running bool
	enabled *bool
}

func wanted(args *Args) target {
	return target{running: args.State == "running" || args.State == "restarted" || args.State == "reloaded", enabled: args.Enabled}
}

// mismatch says how st differs from what args want, or "".
func mismatch(st Status, args *Args) string {
	var why []string
	switch args.State {
	case "stopped":
		if st.Running {
			why = append(why, "is running ("+st.Active+"), want stopped")
		}
	case "running", "restarted", "reloaded":
		if !st.Running {
			why = append(why, "is not running ("+st.Active+"), want running")
		}
	}
	if e := args.Enabled; e != nil && *e != st.Enabled {
		if *e {
			why = append(why, "does not start at boot ("+st.Boot+")")
		} else {
			why = append(why, "starts at boot ("+st.Boot+"), want it disabled")
		}
	}
	return strings.Join(why, " and ")
}

func describe(st Status) string {
	boot := "does not start at boot"
	if st.Enabled {
		boot = "starts at boot"
	}
	if st.Running {
		return "running, " + boot
	}
	return "stopped, " + boot
}

// Reverse implements workflow.Reverser: the service goes back to what the
// step found (its outputs was_state and was_enabled); when planning, the
// opposite of what the step does.
func (Service) Reverse(a any, outputs map[string]string) any {
	args := *a.(*Args)
	undo := Args{Service: args.Service, IfReachable: args.IfReachable, Inittab: outputs["inittab"]}
	if args.Check || outputs["reachable"] == "false" || outputs["was_state"] == "absent" {
		return &undo // nothing was changed
	}
	switch was := outputs["was_state"]; {
	case was == "running" || was == "stopped":
		if args.State != "" {
			undo.State = was
		}
	case args.State == "stopped":
		undo.State = "running"
	case args.State == "running":
		undo.State = "stopped"
	}
	if args.Enabled != nil {
		e := !*args.Enabled
		switch outputs["was_enabled"] {
		case "true":
			e = true
		case "false":
			e = false
		}
		undo.Enabled = &e
	}
	return &undo
}
