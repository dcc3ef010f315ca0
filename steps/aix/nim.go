package aix

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// ensureFunc defines the shell function ensure NAME COMMAND...: it runs
// COMMAND (which defines the NIM object NAME) unless "lsnim -l NAME"
// knows NAME already (exit status 0), and prints existing=NAME or
// created=NAME for ParseEnsured. lsnim exits 1 for an object it does not
// know; any other status is a failure to look (lookup_failed=NAME), as is
// a failing COMMAND: both end the script with their status, so the
// objects after it are left alone.
const ensureFunc = `ensure() {
	name=$1; shift
	err=$(lsnim -l "$name" 2>&1 >/dev/null); rc=$?
	case $rc in
	0) echo "existing=$name" ;;
	1) "$@" || exit; echo "created=$name" ;;
	*) printf '%s\n' "$err" >&2; echo "lookup_failed=$name"; exit "$rc" ;;
	esac
}`

// ensured is one NIM object an ensure script defines unless it exists.
type ensured struct{ name, define string }

// ensureScript is the one command that defines each object, in order,
// unless lsnim knows it.
func ensureScript(path string, objs []ensured) string {
	lines := []string{ensureFunc}
	for _, o := range objs {
		lines = append(lines, "ensure "+remote.ShellQuote(o.name)+" "+o.define)
	}
	return Script(path, strings.Join(lines, "\n"))
}

// defineCommand is the guide's command that defines r: m_mkspot for a
// SPOT, nim -Fo define for the rest (as xCAT's aixinstall.pm does,
// xCAT-server/lib/xcat/plugins/aixinstall.pm:895).
func defineCommand(r NIMResource, server string) string {
	if r.Type == "spot" {
		return "m_mkspot -o -a server=" + remote.ShellQuote(server) + " -a location=" + remote.ShellQuote(r.Location) + " -a source=no " + remote.ShellQuote(r.Name)
	}
	return "nim -Fo define -t " + remote.ShellQuote(r.Type) + " -a server=" + remote.ShellQuote(server) + " -a location=" + remote.ShellQuote(r.Location) + " " + remote.ShellQuote(r.Name)
}

// resourcesScript defines each of rs unless lsnim knows it.
func resourcesScript(path string, rs []NIMResource, server string) string {
	objs := make([]ensured, len(rs))
	for i, r := range rs {
		objs[i] = ensured{r.Name, defineCommand(r, server)}
	}
	return ensureScript(path, objs)
}

// ensureResources runs resourcesScript and tells what it found and made;
// an error names the resource it stopped at.
func ensureResources(ctx context.Context, env *act.Env, c workflow.Call, path string, rs []NIMResource, server string) (workflow.Outcome, Ensured, error) {
	o, _, err := env.Run(ctx, c, act.Script{Text: resourcesScript(path, rs, server)})
	e := ParseEnsured(o.Stdout)
	if err == nil || !o.Ran {
		return o, e, err
	}
	if e.LookupFailed != "" {
		return o, e, fmt.Errorf("look for NIM resource %s: %w", e.LookupFailed, err)
	}
	if i := len(e.Existing) + len(e.Created); i < len(rs) {
		r := rs[i]
		return o, e, fmt.Errorf("define NIM %s resource %s at %s: %w", r.Type, r.Name, r.Location, err)
	}
	return o, e, err
}

// NIMMasterArgs are nim_master's arguments.
type NIMMasterArgs struct {
	Device string `arg:"device,required"` // the directory with the AIX installation images
	Common
}

func masterScript(a *NIMMasterArgs) string {
	return ensureScript(a.Path, []ensured{{"master", "nim_master_setup -a mk_resource=no -a device=" + remote.ShellQuote(a.Device)}})
}

// NIMMaster (nim_master) initialises the NIM master unless lsnim already
// knows it: nim_master_setup -a mk_resource=no -a device=DIR (8.0 step 8;
// xCAT runs the same, xCAT-server/lib/xcat/plugins/aixinstall.pm:2810).
//
// Outputs: initialized (yes: now, no: it already was).
type NIMMaster struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (NIMMaster) NewArgs() any { return &NIMMasterArgs{} }

// Plan implements workflow.Action.
func (NIMMaster) Plan(_ string, args any) []string {
	return []string{masterScript(args.(*NIMMasterArgs))}
}

// Run implements workflow.Action.
func (n NIMMaster) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*NIMMasterArgs)
	o, _, err := n.Env.Run(ctx, c, act.Script{Text: masterScript(a)})
	e := ParseEnsured(o.Stdout)
	switch {
	case err != nil && (e.LookupFailed != "" || !o.Ran):
		return o, fmt.Errorf("look for the NIM master: %w", err)
	case err != nil:
		return o, fmt.Errorf("initialise the NIM master from %s: %w", a.Device, err)
	}
	o.Outputs = map[string]string{"initialized": yesNo(len(e.Created) > 0)}
	return o, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// NIMResourceArgs are nim_resource's arguments.
type NIMResourceArgs struct {
	Name     string `arg:"name,required"`
	Type     string `arg:"type,required"` // a NIM resource type: lpp_source, spot, script, ...
	Location string `arg:"location,required"`
	Server   string `arg:"server"` // default master
	Common
}

func (a *NIMResourceArgs) resource() NIMResource {
	return NIMResource{Name: a.Name, Type: a.Type, Location: a.Location}
}

// NIMDefine (nim_resource) defines one NIM resource unless it exists.
//
// Outputs: created (yes|no).
type NIMDefine struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (NIMDefine) NewArgs() any { return &NIMResourceArgs{Server: "master"} }

// Plan implements workflow.Action.
func (NIMDefine) Plan(_ string, args any) []string {
	a := args.(*NIMResourceArgs)
	return []string{resourcesScript(a.Path, []NIMResource{a.resource()}, a.Server)}
}

// Run implements workflow.Action.
func (d NIMDefine) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*NIMResourceArgs)
	o, e, err := ensureResources(ctx, d.Env, c, a.Path, []NIMResource{a.resource()}, a.Server)
	o.Outputs = map[string]string{"created": yesNo(len(e.Created) > 0)}
	return o, err
}

// NIMOSImageArgs are nim_osimage's arguments: the osimage and its
// resource attributes, as aix_osimages' items give them: NIM resource
// names (installp_bundle and script possibly comma lists).
type NIMOSImageArgs struct {
	OSImage        string `arg:"osimage,required"`
	LppSource      string `arg:"lpp_source"`
	Spot           string `arg:"spot"`
	BosinstData    string `arg:"bosinst_data"`
	InstallpBundle string `arg:"installp_bundle"`
	Script         string `arg:"script"`
	FbScript       string `arg:"fb_script"`
	ResolvConf     string `arg:"resolv_conf"`
	ImageData      string `arg:"image_data"`
	Mksysb         string `arg:"mksysb"`
	Root           string `arg:"root"`
	SharedRoot     string `arg:"shared_root"`
	Tmp            string `arg:"tmp"`
	Home           string `arg:"home"`
	SharedHome     string `arg:"shared_home"`
	Dump           string `arg:"dump"`
	Paging         string `arg:"paging"`
	// Locations are NAME=LOCATION, one an element (or one a line), as
	// nim_locations reads them with lsnim -l from a NIM master that knows
	// the resources; a resource not named takes xCAT's convention.
	Locations  []string `arg:"locations"`
	Installdir string   `arg:"installdir"` // "": /install
	Server     string   `arg:"server"`     // default master
	Common
}

// osimage is the osimage the arguments describe.
func (a *NIMOSImageArgs) osimage() OSImage {
	img := OSImage{Name: a.OSImage, Attrs: map[string]string{}}
	for k, v := range map[string]string{"lpp_source": a.LppSource, "spot": a.Spot, "bosinst_data": a.BosinstData,
		"installp_bundle": a.InstallpBundle, "script": a.Script, "fb_script": a.FbScript, "resolv_conf": a.ResolvConf,
		"image_data": a.ImageData, "mksysb": a.Mksysb, "root": a.Root, "shared_root": a.SharedRoot, "tmp": a.Tmp,
		"home": a.Home, "shared_home": a.SharedHome, "dump": a.Dump, "paging": a.Paging} {
		if v != "" {
			img.Attrs[k] = v
		}
	}
	return img
}

// locations reads Locations; a malformed element is an error naming it.
func (a *NIMOSImageArgs) locations() (map[string]string, error) {
	m := map[string]string{}
	for _, el := range a.Locations {
		for _, line := range strings.Split(el, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok || k == "" || !strings.HasPrefix(v, "/") {
				return nil, fmt.Errorf("locations: %q is not NAME=/absolute/location (nim_locations' output gives them)", line)
			}
			m[k] = v
		}
	}
	return m, nil
}

// resources are the NIM resources to make, at their locations.
func (a *NIMOSImageArgs) resources() ([]NIMResource, error) {
	locs, err := a.locations()
	if err != nil {
		return nil, err
	}
	return a.osimage().NIMResources(a.Installdir, locs), nil
}

// NIMOSImage (nim_osimage) creates the NIM resources one osimage names,
// lpp_source and SPOT first, each only if lsnim does not know it yet
// (existing ones are left alone, as xCAT does: "if the resource exists
// then don't try to recreate it", aixinstall.pm:10226), each at the
// location lsnim gave (locations) or xCAT's convention. It stops at
// the first failure; running it again continues where it stopped.
//
// Outputs: created, existing (comma-separated resource names).
type NIMOSImage struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (NIMOSImage) NewArgs() any { return &NIMOSImageArgs{Server: "master"} }

// Plan implements workflow.Action: nothing when the osimage names no
// NIM resources.
func (NIMOSImage) Plan(_ string, args any) []string {
	a := args.(*NIMOSImageArgs)
	rs, err := a.resources()
	if err != nil {
		return []string{"# " + err.Error()}
	}
	if len(rs) == 0 {
		return nil
	}
	return []string{resourcesScript(a.Path, rs, a.Server)}
}

// Run implements workflow.Action.
func (n NIMOSImage) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*NIMOSImageArgs)
	rs, err := a.resources()
	if err != nil {
		return workflow.Outcome{}, err
	}
	if len(rs) == 0 {
		var o workflow.Outcome
		o.Outputs = map[string]string{"created": "", "existing": ""}
		act.Say(c, &o, "osimage "+a.OSImage+" names no NIM resources")
		return o, nil
	}
	o, e, err := ensureResources(ctx, n.Env, c, a.Path, rs, a.Server)
	o.Outputs = map[string]string{"created": strings.Join(e.Created, ","), "existing": strings.Join(e.Existing, ",")}
	if err != nil {
		return o, fmt.Errorf("osimage %s: %w", a.OSImage, err)
	}
	return o, nil
}

// NIMExistsArgs are nim_exists' arguments.
type NIMExistsArgs struct {
	Names []string `arg:"names,required"` // NIM object names, one an element
	Common
}

// existsScript prints each of names that lsnim does not know.
func existsScript(a *NIMExistsArgs) string {
	q := make([]string, len(a.Names))
	for i, n := range a.Names {
		q[i] = remote.ShellQuote(n)
	}
	return Script(a.Path, "for n in "+strings.Join(q, " ")+"; do lsnim -l \"$n\" >/dev/null 2>&1 || echo \"$n\"; done")
}

// NIMExists (nim_exists) succeeds when every named NIM object exists (a
// probe).
//
// Outputs: missing (comma-separated).
type NIMExists struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (NIMExists) NewArgs() any { return &NIMExistsArgs{} }

// Plan implements workflow.Action.
func (NIMExists) Plan(_ string, args any) []string {
	return []string{existsScript(args.(*NIMExistsArgs))}
}

// Run implements workflow.Action.
func (n NIMExists) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*NIMExistsArgs)
	for _, name := range a.Names {
		if name == "" || strings.ContainsAny(name, ", \t") {
			return workflow.Outcome{}, fmt.Errorf("names: %q is not one NIM object name: give a list, one name an element (or one a line)", name)
		}
	}
	o, _, err := n.Env.Run(ctx, c, act.Script{Text: existsScript(a)})
	if err != nil {
		return o, fmt.Errorf("look for NIM objects %s: %w", strings.Join(a.Names, ", "), err)
	}
	missing := ParseMissing(o.Stdout)
	o.Outputs = map[string]string{"missing": strings.Join(missing, ",")}
	if len(missing) > 0 {
		return o, fmt.Errorf("NIM objects missing on %s: %s", c.Host, strings.Join(missing, ", "))
	}
	return o, nil
}

// NIMNodesArgs are nim_nodes' arguments.
type NIMNodesArgs struct {
	// Nodes is an xCAT noderange, its elements joined with commas
	// (xCAT-client/pods/man3/noderange.3.pod:45): node names, groups,
	// ranges.
	Nodes   []string `arg:"nodes,required"`
	OSImage string   `arg:"osimage,required"`
	// Command is nimnodeset (standalone) or mkdsklsnode (diskless,
	// dataless); "" chooses by the osimage's nimtype.
	Command string `arg:"command" oneof:"nimnodeset|mkdsklsnode"`
	Common
}

// dsklsTypes are the nimtypes mkdsklsnode initialises
// (xCAT-client/pods/man1/mkdsklsnode.1.pod:3); nimnodeset takes the rest,
// standalone (nimnodeset.1.pod:3).
var dsklsTypes = []string{"diskless", "dataless"}

// nodesCommand is the command for an osimage of nimtype.
func nodesCommand(nimtype string) string {
	for _, t := range dsklsTypes {
		if nimtype == t {
			return "mkdsklsnode"
		}
	}
	return "nimnodeset"
}

// nodesLine is cmd -i OSIMAGE NODERANGE (nimnodeset.1.pod:9,
// mkdsklsnode.1.pod:9).
func nodesLine(cmd string, a *NIMNodesArgs) string {
	return cmd + " -i " + remote.ShellQuote(a.OSImage) + " " + remote.ShellQuote(strings.Join(a.Nodes, ","))
}

// chooseScript reads the osimage's nimtype on stdin (Run takes it from
// "lsdef -t osimage -l OSIMAGE") and runs the command for it, as
// nodesCommand chooses.
func chooseScript(a *NIMNodesArgs) string {
	return Script(a.Path, "read -r nimtype\ncase $nimtype in\n"+
		strings.Join(dsklsTypes, "|")+") "+nodesLine("mkdsklsnode", a)+" ;;\n"+
		"*) "+nodesLine("nimnodeset", a)+" ;;\nesac")
}

// NIMNodes (nim_nodes) initialises nodes for an AIX osimage: nimnodeset
// for a standalone image, mkdsklsnode for a diskless or dataless one (by
// the osimage's nimtype unless command says).
//
// Outputs: command.
type NIMNodes struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (NIMNodes) NewArgs() any { return &NIMNodesArgs{} }

// Plan implements workflow.Action: with command, that command; without,
// the osimage's definition, then the command its nimtype chooses.
func (NIMNodes) Plan(_ string, args any) []string {
	a := args.(*NIMNodesArgs)
	if a.Command != "" {
		return []string{Script(a.Path, nodesLine(a.Command, a))}
	}
	return []string{listScript(a.Path, a.OSImage), chooseScript(a)}
}

// Run implements workflow.Action.
func (n NIMNodes) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*NIMNodesArgs)
	nodes := strings.Join(a.Nodes, ",")
	if a.Command != "" {
		o, _, err := n.Env.Run(ctx, c, act.Script{Text: Script(a.Path, nodesLine(a.Command, a))})
		if err != nil {
			return o, fmt.Errorf("%s -i %s %s: %w", a.Command, a.OSImage, nodes, err)
		}
		o.Outputs = map[string]string{"command": a.Command}
		return o, nil
	}
	lo, _, err := n.Env.Run(ctx, c, act.Script{Text: listScript(a.Path, a.OSImage)})
	if err != nil {
		return lo, fmt.Errorf("look up osimage %s: %w", a.OSImage, err)
	}
	imgs, err := ParseOSImages(lo.Stdout)
	if err != nil || len(imgs) != 1 {
		return lo, fmt.Errorf("look up osimage %s on %s: %d definitions, %v", a.OSImage, c.Host, len(imgs), err)
	}
	nimtype := imgs[0].Attrs["nimtype"]
	cmd := nodesCommand(nimtype)
	o, _, err := n.Env.Run(ctx, c, act.Script{Text: chooseScript(a), Stdin: nimtype})
	o.Command = lo.Command + "\n" + o.Command
	o.Stdout = lo.Stdout + o.Stdout
	if err != nil {
		return o, fmt.Errorf("%s -i %s %s: %w", cmd, a.OSImage, nodes, err)
	}
	o.Outputs = map[string]string{"command": cmd}
	return o, nil
}

// NIMLocationsArgs are nim_locations' arguments.
type NIMLocationsArgs struct {
	// IfReachable: a host that does not answer gives no locations instead
	// of failing (the old primary after a failover).
	IfReachable bool `arg:"if_reachable"`
	Common
}

func locationsScript(a *NIMLocationsArgs) string {
	return Script(a.Path, "lsnim -l -c resources")
}

// NIMLocations (nim_locations) reads where a NIM master keeps its
// resources: "lsnim -l -c resources", each object's location attribute
// (the source of the locations xCAT itself uses to replicate resources,
// get_nim_attr_val(..., "location"), aixinstall.pm:8873-8880).
//
// Outputs: locations (NAME=LOCATION, one a line), count.
type NIMLocations struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (NIMLocations) NewArgs() any { return &NIMLocationsArgs{} }

// Plan implements workflow.Action.
func (NIMLocations) Plan(_ string, args any) []string {
	return []string{locationsScript(args.(*NIMLocationsArgs))}
}

// Run implements workflow.Action.
func (n NIMLocations) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*NIMLocationsArgs)
	o, _, err := n.Env.Run(ctx, c, act.Script{Text: locationsScript(a)})
	if err != nil && !o.Ran && a.IfReachable {
		o.Outputs = map[string]string{"locations": "", "count": "0"}
		act.Say(c, &o, fmt.Sprintf("%s does not answer (%v): no NIM locations from it; xCAT's convention is used", c.Host, err))
		return o, nil
	}
	if err != nil {
		return o, fmt.Errorf("read the NIM resources' locations on %s: %w", c.Host, err)
	}
	locs, err := ParseLocations(o.Stdout)
	if err != nil {
		return o, fmt.Errorf("lsnim -l on %s: %w", c.Host, err)
	}
	names := make([]string, 0, len(locs))
	for k := range locs {
		names = append(names, k)
	}
	sort.Strings(names)
	lines := make([]string, len(names))
	for i, k := range names {
		lines[i] = k + "=" + locs[k]
	}
	o.Outputs = map[string]string{"locations": strings.Join(lines, "\n"), "count": fmt.Sprint(len(lines))}
	return o, nil
}
