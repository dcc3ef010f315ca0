package steps

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"

	"github.com/hamnflow/hamnflow/workflow"
)

// AIX actions: the guide's mktcpip address and hostname takeover, SRC
// services (startsrc/stopsrc/lssrc) and the re-creation of NIM resources
// from xCAT's osimage definitions (8.0 step 8).
//
// Commands are found on the PATH the actions set: xCAT's /opt/xcat/bin and
// sbin, AIX's /usr/sbin and NIM's methods directory; with: path puts more
// directories first (the lab's stand-ins live in /opt/aix/bin).
func aixActions(env *Env) map[string]textAction {
	return map[string]textAction{
		"mktcpip":      Mktcpip{Env: env},
		"startsrc":     SRC{Env: env, Start: true},
		"stopsrc":      SRC{Env: env},
		"lssrc":        Lssrc{Env: env},
		"aix_osimages": AIXOSImages{Env: env},
		"nim_master":   NIMMaster{Env: env},
		"nim_resource": NIMDefine{Env: env},
		"nim_osimage":  NIMOSImage{Env: env},
		"nim_exists":   NIMExists{Env: env},
		"nim_nodes":    NIMNodes{Env: env},
	}
}

// aixPath is searched for AIX, NIM and xCAT commands.
const aixPath = "/opt/xcat/bin:/opt/xcat/sbin:/usr/sbin:/usr/bin:/usr/lpp/bos.sysmgt/nim/methods"

// aixScript prefixes body with the PATH the AIX actions use.
func aixScript(extra, body string) string {
	p := aixPath
	if extra != "" {
		p = extra + ":" + p
	}
	return "PATH=" + remote.ShellQuote(p) + ":\"$PATH\"; export PATH\n" + body
}

// quoteAlways quotes s in single quotes even when it needs none, the way
// the guide writes mktcpip's attached values (-h'aixmn1').
func quoteAlways(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// MktcpipArgs is the guide's mktcpip command line (8.0 step 4) for a
// takeover of hostname and address on interface: -h -a -m -i -g -A'no'
// -t'N/A' and -s followed by empty quotes, as the guide writes it. An
// empty netmask or gateway leaves its flag out.
func MktcpipArgs(a map[string]string) string {
	var b strings.Builder
	add := func(flag, v string) { b.WriteString(" " + flag + quoteAlways(v)) }
	add("-h", a["hostname"])
	add("-a", a["address"])
	if a["netmask"] != "" {
		add("-m", a["netmask"])
	}
	add("-i", a["interface"])
	if a["gateway"] != "" {
		add("-g", a["gateway"])
	}
	add("-A", withDefault(a["autoconf"], "no"))
	add("-t", withDefault(a["cable"], "N/A"))
	b.WriteString(" -s''")
	return strings.TrimSpace(b.String())
}

func withDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Mktcpip sets the cluster-facing hostname and address of an AIX host.
//
//	with: hostname, address, interface; netmask, gateway, autoconf (no),
//	cable (N/A), path
//
// Outputs: hostname, address.
type Mktcpip struct{ Env *Env }

// Params implements workflow.Action.
func (Mktcpip) Params() ([]string, []string) {
	return []string{"hostname", "address", "interface"}, []string{"netmask", "gateway", "autoconf", "cable", "path"}
}

// Describe implements workflow.Action.
func (Mktcpip) Describe(_ string, a map[string]string) string {
	return "/usr/sbin/mktcpip " + MktcpipArgs(a)
}

// Run implements workflow.Action.
func (m Mktcpip) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	o, _, err := runText(m.Env, ctx, c, aixScript(c.Args["path"], "mktcpip "+MktcpipArgs(c.Args)), "", nil)
	if err != nil {
		return o, fmt.Errorf("mktcpip %s/%s on %s: %w", c.Args["hostname"], c.Args["address"], c.Args["interface"], err)
	}
	o.Outputs = map[string]string{"hostname": c.Args["hostname"], "address": c.Args["address"]}
	return o, nil
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

// AIXOSImages lists the AIX osimages (imagetype NIM) of "lsdef -t osimage
// -l", one fan-out item each (see OSImage.Item).
//
//	with: installdir (/install), path
//
// Outputs: count, names (comma-separated, sorted).
type AIXOSImages struct{ Env *Env }

// Params implements workflow.Action.
func (AIXOSImages) Params() ([]string, []string) { return nil, []string{"installdir", "path"} }

// Describe implements workflow.Action.
func (AIXOSImages) Describe(string, map[string]string) string { return "lsdef -t osimage -l" }

// Run implements workflow.Action.
func (a AIXOSImages) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	o, _, err := runText(a.Env, ctx, c, aixScript(c.Args["path"], "lsdef -t osimage -l"), "", nil)
	if err != nil {
		return o, fmt.Errorf("list osimages: %w", err)
	}
	imgs, err := ParseOSImages(o.Stdout)
	if err != nil {
		return o, fmt.Errorf("list osimages on %s: %w", c.Host, err)
	}
	var nim []OSImage
	for _, img := range imgs {
		if img.IsNIM() {
			nim = append(nim, img)
			o.Items = append(o.Items, img.Item(c.Args["installdir"]))
		}
	}
	o.Outputs = map[string]string{"count": strconv.Itoa(len(nim)), "names": strings.Join(sortedNames(nim), ",")}
	return o, nil
}

// NIMMaster initialises the NIM master unless lsnim already knows it:
// nim_master_setup -a mk_resource=no -a device=DIR (8.0 step 8).
//
//	with: device (the directory with the AIX installation images); path
//
// Outputs: initialized (yes: now, no: it already was).
type NIMMaster struct{ Env *Env }

// Params implements workflow.Action.
func (NIMMaster) Params() ([]string, []string) { return []string{"device"}, []string{"path"} }

// Describe implements workflow.Action.
func (NIMMaster) Describe(_ string, a map[string]string) string {
	return "lsnim -l master || nim_master_setup -a mk_resource=no -a device=" + remote.ShellQuote(a["device"])
}

// Run implements workflow.Action.
func (n NIMMaster) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	o, res, err := runText(n.Env, ctx, c, aixScript(c.Args["path"], "lsnim -l master"), "", []int{0, 1})
	if err != nil {
		return o, fmt.Errorf("look for the NIM master: %w", err)
	}
	if res.Exit == 0 {
		o.Outputs = map[string]string{"initialized": "no"}
		return o, nil
	}
	o, _, err = runText(n.Env, ctx, c, aixScript(c.Args["path"], "nim_master_setup -a mk_resource=no -a device="+remote.ShellQuote(c.Args["device"])), "", nil)
	if err != nil {
		return o, fmt.Errorf("initialise the NIM master from %s: %w", c.Args["device"], err)
	}
	o.Outputs = map[string]string{"initialized": "yes"}
	return o, nil
}

// defineCommand is the guide's command that defines r: m_mkspot for a
// SPOT, nim -Fo define for the rest.
func defineCommand(r NIMResource, server string) string {
	if r.Type == "spot" {
		return "m_mkspot -o -a server=" + remote.ShellQuote(server) + " -a location=" + remote.ShellQuote(r.Location) + " -a source=no " + remote.ShellQuote(r.Name)
	}
	return "nim -Fo define -t " + remote.ShellQuote(r.Type) + " -a server=" + remote.ShellQuote(server) + " -a location=" + remote.ShellQuote(r.Location) + " " + remote.ShellQuote(r.Name)
}

// ensureResource defines r unless "lsnim -l NAME" finds it; it reports
// whether it defined it.
func ensureResource(e *Env, ctx context.Context, c Call, r NIMResource, server string) (bool, workflow.Outcome, error) {
	path := c.Args["path"]
	o, res, err := runText(e, ctx, c, aixScript(path, "lsnim -l "+remote.ShellQuote(r.Name)), "", []int{0, 1})
	if err != nil {
		return false, o, fmt.Errorf("look for NIM resource %s: %w", r.Name, err)
	}
	if res.Exit == 0 {
		return false, o, nil
	}
	o, _, err = runText(e, ctx, c, aixScript(path, defineCommand(r, server)), "", nil)
	if err != nil {
		return false, o, fmt.Errorf("define NIM %s resource %s at %s: %w", r.Type, r.Name, r.Location, err)
	}
	return true, o, nil
}

// NIMDefine defines one NIM resource unless it exists.
//
//	with: name, type, location; server (master), path
//
// Outputs: created (yes|no).
type NIMDefine struct{ Env *Env }

// Params implements workflow.Action.
func (NIMDefine) Params() ([]string, []string) {
	return []string{"name", "type", "location"}, []string{"server", "path"}
}

// Describe implements workflow.Action.
func (NIMDefine) Describe(_ string, a map[string]string) string {
	r := NIMResource{Name: a["name"], Type: a["type"], Location: a["location"]}
	return "lsnim -l " + remote.ShellQuote(r.Name) + " || " + defineCommand(r, withDefault(a["server"], "master"))
}

// Run implements workflow.Action.
func (d NIMDefine) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	r := NIMResource{Name: c.Args["name"], Type: c.Args["type"], Location: c.Args["location"]}
	made, o, err := ensureResource(d.Env, ctx, c, r, withDefault(c.Args["server"], "master"))
	o.Outputs = map[string]string{"created": yesNo(made)}
	return o, err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// osimageOf builds the osimage an action's arguments describe.
func osimageOf(a map[string]string) OSImage {
	img := OSImage{Name: a["osimage"], Attrs: map[string]string{}}
	for _, k := range append([]string{"lpp_source", "spot"}, NIMResourceTypes...) {
		if a[k] != "" {
			img.Attrs[k] = a[k]
		}
	}
	return img
}

// NIMOSImage creates the NIM resources of one osimage, in the guide's
// order, each only if lsnim does not know it yet. It stops at the first
// failure; running it again continues where it stopped.
//
//	with: osimage; lpp_source, spot, installp_bundle, script, root,
//	shared_root, tmp, home, shared_home, dump, paging (the osimage's
//	attributes, as aix_osimages gives them), installdir, server, path
//
// Outputs: created, existing (comma-separated resource names).
type NIMOSImage struct{ Env *Env }

// Params implements workflow.Action.
func (NIMOSImage) Params() ([]string, []string) {
	return []string{"osimage"}, append([]string{"lpp_source", "spot", "installdir", "server", "path"}, NIMResourceTypes...)
}

// Describe implements workflow.Action.
func (NIMOSImage) Describe(_ string, a map[string]string) string {
	server := withDefault(a["server"], "master")
	rs := osimageOf(a).NIMResources(a["installdir"])
	if len(rs) == 0 {
		return "osimage " + a["osimage"] + ": no NIM resources"
	}
	lines := make([]string, len(rs))
	for i, r := range rs {
		lines[i] = "lsnim -l " + remote.ShellQuote(r.Name) + " || " + defineCommand(r, server)
	}
	return strings.Join(lines, "\n")
}

// Run implements workflow.Action.
func (n NIMOSImage) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	img := osimageOf(c.Args)
	server := withDefault(c.Args["server"], "master")
	var created, existing []string
	var all workflow.Outcome
	for _, r := range img.NIMResources(c.Args["installdir"]) {
		made, o, err := ensureResource(n.Env, ctx, c, r, server)
		all.Command += o.Command + "\n"
		all.Stdout += o.Stdout
		all.Stderr += o.Stderr
		all.Ran, all.Exit = o.Ran, o.Exit
		if err != nil {
			all.Outputs = map[string]string{"created": strings.Join(created, ","), "existing": strings.Join(existing, ",")}
			return all, fmt.Errorf("osimage %s: %w", img.Name, err)
		}
		if made {
			created = append(created, r.Name)
		} else {
			existing = append(existing, r.Name)
		}
	}
	all.Outputs = map[string]string{"created": strings.Join(created, ","), "existing": strings.Join(existing, ",")}
	return all, nil
}

// NIMExists succeeds when every named NIM object exists (a probe).
//
//	with: names (comma-separated); path
//
// Outputs: missing (comma-separated).
type NIMExists struct{ Env *Env }

// Params implements workflow.Action.
func (NIMExists) Params() ([]string, []string) { return []string{"names"}, []string{"path"} }

// Describe implements workflow.Action.
func (NIMExists) Describe(_ string, a map[string]string) string {
	return "lsnim -l NAME for each of " + a["names"]
}

// Run implements workflow.Action.
func (n NIMExists) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	var names []string
	for _, s := range strings.Split(c.Args["names"], ",") {
		if s = strings.TrimSpace(s); s != "" {
			names = append(names, remote.ShellQuote(s))
		}
	}
	script := "for n in " + strings.Join(names, " ") + "; do lsnim -l \"$n\" >/dev/null 2>&1 || echo \"$n\"; done"
	o, _, err := runText(n.Env, ctx, c, aixScript(c.Args["path"], script), "", nil)
	if err != nil {
		return o, fmt.Errorf("look for NIM objects %s: %w", c.Args["names"], err)
	}
	missing := strings.Fields(o.Stdout)
	o.Outputs = map[string]string{"missing": strings.Join(missing, ",")}
	if len(missing) > 0 {
		return o, fmt.Errorf("NIM objects missing on %s: %s", c.Host, strings.Join(missing, ", "))
	}
	return o, nil
}

// NIMNodes initialises nodes for an AIX osimage: nimnodeset for a
// standalone image, mkdsklsnode for a diskless or dataless one (by the
// osimage's nimtype unless command says).
//
//	with: nodes (noderange), osimage; command (nimnodeset|mkdsklsnode), path
//
// Outputs: command.
type NIMNodes struct{ Env *Env }

// Params implements workflow.Action.
func (NIMNodes) Params() ([]string, []string) {
	return []string{"nodes", "osimage"}, []string{"command", "path"}
}

// Describe implements workflow.Action.
func (NIMNodes) Describe(_ string, a map[string]string) string {
	cmd := a["command"]
	if cmd == "" {
		cmd = "nimnodeset|mkdsklsnode (by the osimage's nimtype)"
	}
	return cmd + " -i " + remote.ShellQuote(a["osimage"]) + " " + remote.ShellQuote(a["nodes"])
}

// Run implements workflow.Action.
func (n NIMNodes) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	cmd, image := c.Args["command"], c.Args["osimage"]
	if cmd == "" {
		o, _, err := runText(n.Env, ctx, c, aixScript(c.Args["path"], "lsdef -t osimage -l "+remote.ShellQuote(image)), "", nil)
		if err != nil {
			return o, fmt.Errorf("look up osimage %s: %w", image, err)
		}
		imgs, err := ParseOSImages(o.Stdout)
		if err != nil || len(imgs) != 1 {
			return o, fmt.Errorf("look up osimage %s on %s: %d definitions, %v", image, c.Host, len(imgs), err)
		}
		cmd = "nimnodeset"
		if t := imgs[0].Attrs["nimtype"]; t == "diskless" || t == "dataless" {
			cmd = "mkdsklsnode"
		}
	}
	if cmd != "nimnodeset" && cmd != "mkdsklsnode" {
		return workflow.Outcome{}, fmt.Errorf("command %q: use nimnodeset or mkdsklsnode", cmd)
	}
	o, _, err := runText(n.Env, ctx, c, aixScript(c.Args["path"], cmd+" -i "+remote.ShellQuote(image)+" "+remote.ShellQuote(c.Args["nodes"])), "", nil)
	if err != nil {
		return o, fmt.Errorf("%s -i %s %s: %w", cmd, image, c.Args["nodes"], err)
	}
	o.Outputs = map[string]string{"command": cmd}
	return o, nil
}
