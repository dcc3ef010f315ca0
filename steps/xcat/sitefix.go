package xcat

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// SiteFixArgs are xcat_site_fix's arguments: the cluster, physical and
// nodes of the xcat_site check before it.
type SiteFixArgs struct {
	Cluster  []string `arg:"cluster,required"`
	Physical []string `arg:"physical"`
	Nodes    string   `arg:"nodes"`

	// Set by Reverse: the run puts back what a fix recorded.
	restoring  bool
	restore    []SiteChange
	restoreErr error
}

// chdefGroup is one chdef command: objects of one type whose attribute
// gets one value, and the changes (indexes) it makes.
type chdefGroup struct {
	typ, attr, value string
	objects          []string
	changes          []int
}

// chdefGroups groups changes into as few chdef commands as possible: one
// per type, attribute and value (New, or Old when back), in the order
// they first appear.
func chdefGroups(changes []SiteChange, back bool) []chdefGroup {
	var groups []chdefGroup
	at := map[[3]string]int{}
	for i, c := range changes {
		v := c.New
		if back {
			v = c.Old
		}
		k := [3]string{c.Type, c.Attr, v}
		g, ok := at[k]
		if !ok || c.Type == "site" {
			g = len(groups)
			at[k] = g
			groups = append(groups, chdefGroup{typ: c.Type, attr: c.Attr, value: v})
		}
		groups[g].objects = append(groups[g].objects, c.Object)
		groups[g].changes = append(groups[g].changes, i)
	}
	return groups
}

// chdefScript sets each change's New value (Old when back) with chdef
// (xCAT-client/pods/man1/chdef.1.pod: chdef -t TYPE -o OBJECTS
// ATTR=VALUE), one command per group, each followed by a "@done N" line,
// and stops at the first that fails.
func chdefScript(changes []SiteChange, back bool) string {
	var b strings.Builder
	b.WriteString(xcatPath)
	for i, g := range chdefGroups(changes, back) {
		fmt.Fprintf(&b, "chdef -t %s -o %s %s || exit\necho '@done %d'\n", g.typ, remote.ShellQuote(strings.Join(g.objects, ",")),
			remote.ShellQuote(g.attr+"="+g.value), i)
	}
	return b.String()
}

// doneGroups reads chdefScript's "@done N" lines: the groups that ended.
func doneGroups(out string) map[int]bool {
	done := map[int]bool{}
	for _, l := range strings.Split(out, "\n") {
		if n, ok := strings.CutPrefix(strings.TrimSpace(l), "@done "); ok {
			if i, err := strconv.Atoi(n); err == nil {
				done[i] = true
			}
		}
	}
	return done
}

// waitScript waits up to a minute for xcatd to answer before the
// settings are read: the undo runs in a rollback just after the service
// steps' undos started xcatd again.
const waitScript = "i=0; until lsdef -t site -o clustersite -i master >/dev/null 2>&1 || [ $i -ge 30 ]; do i=$((i+1)); sleep 2; done\n"

// readScript is siteScript, after waitScript when wait.
func readScript(nodes string, wait bool) string {
	if wait {
		return xcatPath + waitScript + strings.TrimPrefix(siteScript(nodes), xcatPath)
	}
	return siteScript(nodes)
}

// recordDir holds, on the host, what a fix is about to change, written
// before its first chdef: when the step is in doubt (hamnflow killed
// mid-step, so the journal has no outputs) and the operator has it run
// again, the new run reads what the first had changed (those values that
// still hold the fixed value) and records it too, so that rollback still
// puts those values back. The undo removes the record once done.
const recordDir = "/var/lib/hamnflow/site-fix"

// recordPath is the record of one step of one run.
func recordPath(c workflow.Call) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(c.RunID + "." + c.Step)
	return recordDir + "/" + name + ".json"
}

// fixReadScript is readScript followed by the step's record, if any,
// after an "@record" line.
func fixReadScript(nodes, record string) string {
	return strings.TrimSuffix(siteScript(nodes), "exit 0") + "echo '@record'\ncat " + remote.ShellQuote(record) + " 2>/dev/null\nexit 0"
}

// writeRecordScript writes stdin to record (0600) before anything
// changes.
func writeRecordScript(record string) string {
	return "umask 077; mkdir -p " + remote.ShellQuote(recordDir) + " && cat > " + remote.ShellQuote(record+".tmp") + " && mv " +
		remote.ShellQuote(record+".tmp") + " " + remote.ShellQuote(record) + " || exit\necho '@recorded'\n"
}

// current is the value of c's attribute in s, and whether its object is
// there.
func current(s SiteSettings, c SiteChange) (string, bool) {
	var objs []XObject
	switch c.Type {
	case "site":
		objs = []XObject{s.Site}
	case "network":
		objs = s.Networks
	case "node":
		objs = s.Nodes
	}
	for _, o := range objs {
		if o.Name == c.Object {
			return o.Attrs[c.Attr], true
		}
	}
	return "", false
}

// EncodeChanges and DecodeChanges are the form in which a fix's changes
// are journaled (its output "changes") and read back by its undo.
func EncodeChanges(cs []SiteChange) string {
	if len(cs) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(cs)
	return string(b)
}

func DecodeChanges(s string) ([]SiteChange, error) {
	var cs []SiteChange
	if err := json.Unmarshal([]byte(s), &cs); err != nil {
		return nil, fmt.Errorf("the fix's recorded changes %q do not parse: %w", s, err)
	}
	for i, c := range cs {
		if c.Type == "" || c.Object == "" || c.Attr == "" || c.Old == "" {
			return nil, fmt.Errorf("the fix's recorded change %d (%+v) lacks its type, object, attribute or old value", i, c)
		}
	}
	return cs, nil
}

// SiteFix (xcat_site_fix) fixes what xcat_site reports and can be fixed:
// every site, networks and noderes value that names a management node's
// own address or hostname gets the cluster's (an address the cluster
// address, a hostname the cluster hostname in floating mode or the
// identity in identity mode; site.master always the address), by chdef,
// before the takeover. It reads the settings itself, so what it records
// is what it changed; it refuses, changing nothing, when a finding it
// cannot fix remains (a missing site.domain). It reads them again after
// and fails when a setting still names a management node; a failure
// part way puts back what it had changed.
//
// Undone (Reverser) by setting every recorded attribute back to its old
// value, when it still holds the fixed one; one changed since is
// refused, naming the chdef that puts it back.
//
// Outputs: changed (count), changes (JSON: type, object, attr, old,
// new), old (the old values, readable). Its undo: restored (count).
type SiteFix struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (SiteFix) NewArgs() any { return &SiteFixArgs{} }

// Reverse implements workflow.Reverser.
func (SiteFix) Reverse(args any, outputs map[string]string) any {
	a := *args.(*SiteFixArgs)
	a.restoring = true
	if outputs != nil && outputs["changes"] != "" {
		a.restore, a.restoreErr = DecodeChanges(outputs["changes"])
	}
	return &a
}

// Plan implements workflow.Action.
func (SiteFix) Plan(_ string, args any) []string {
	a := args.(*SiteFixArgs)
	switch {
	case !a.restoring:
		record := recordDir + "/RUN-ID.STEP.json"
		return []string{fixReadScript(a.Nodes, record), writeRecordScript(record) + "# (stdin: the changes, as recorded)\n" + xcatPath +
			"chdef -t TYPE -o OBJECTS ATTR=VALUE   # for each setting read that names a management node, VALUE with the cluster's " +
			strings.Join(a.Cluster, "/") + " in its place"}
	case len(a.restore) > 0:
		return []string{readScript(a.Nodes, true), chdefScript(a.restore, true)}
	default:
		return []string{readScript(a.Nodes, true), xcatPath + "chdef -t TYPE -o OBJECTS ATTR=OLD   # for each setting the fix recorded that still holds its new value"}
	}
}

// read reads and parses the settings.
func (x SiteFix) read(ctx context.Context, c workflow.Call, wait bool) (workflow.Outcome, SiteSettings, error) {
	o, _, err := x.Env.Run(ctx, c, act.Script{Text: readScript(c.Args.(*SiteFixArgs).Nodes, wait)})
	if err != nil {
		return o, SiteSettings{}, fmt.Errorf("read xCAT's site settings on %s: %w", act.HostLabel(c.Host), err)
	}
	return o, ParseSiteSettings(o.Stdout), nil
}

// apply runs chdefScript for changes; on a failure it puts back the
// groups that ended and the one that failed, and says so in the error.
func (x SiteFix) apply(ctx context.Context, c workflow.Call, o *workflow.Outcome, changes []SiteChange, back bool, record []SiteChange) error {
	what := "fix"
	if back {
		what = "put back"
	}
	script := act.Script{Text: chdefScript(changes, back)}
	if record != nil {
		script = act.Script{Text: writeRecordScript(recordPath(c)) + script.Text, Stdin: EncodeChanges(record)}
	}
	ao, _, err := x.Env.Run(ctx, c, script)
	o.Stdout += ao.Stdout
	o.Stderr += ao.Stderr
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s xCAT's settings on %s: %w (interrupted: some may be changed; see the output)", what, act.HostLabel(c.Host), err)
	}
	if record != nil && !strings.Contains(ao.Stdout, "@recorded") {
		return fmt.Errorf("%s xCAT's settings on %s: writing the record %s of what it changes failed: %w; nothing was changed", what, act.HostLabel(c.Host), recordPath(c), err)
	}
	done := doneGroups(ao.Stdout)
	groups := chdefGroups(changes, back)
	var touched []SiteChange
	for i, g := range groups {
		if done[i] || (i == len(done) && ao.Ran) {
			for _, ci := range g.changes {
				touched = append(touched, changes[ci])
			}
		}
	}
	if len(touched) == 0 {
		return fmt.Errorf("%s xCAT's settings on %s: %w; nothing was changed", what, act.HostLabel(c.Host), err)
	}
	bo, _, berr := x.Env.Run(context.WithoutCancel(ctx), c, act.Script{Text: chdefScript(touched, !back)})
	o.Stdout += bo.Stdout
	o.Stderr += bo.Stderr
	list := make([]string, len(touched))
	for i, t := range touched {
		list[i] = t.String()
	}
	if berr != nil {
		return fmt.Errorf("%s xCAT's settings on %s: %w; putting back what it changed failed too (%v): set by hand, with chdef, each of: %s",
			what, act.HostLabel(c.Host), err, berr, strings.Join(list, "; "))
	}
	return fmt.Errorf("%s xCAT's settings on %s: %w; what it had changed is put back (%s)", what, act.HostLabel(c.Host), err, strings.Join(list, "; "))
}

// Run implements workflow.Action.
func (x SiteFix) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*SiteFixArgs)
	if a.restoring {
		return x.putBack(ctx, c, a)
	}
	phys, err := physicalMap(a.Physical)
	if err != nil {
		return workflow.Outcome{}, err
	}
	o, _, err := x.Env.Run(ctx, c, act.Script{Text: fixReadScript(a.Nodes, recordPath(c))})
	o.Outputs = map[string]string{"changed": "0", "changes": "[]", "old": ""}
	if err != nil {
		return o, fmt.Errorf("read xCAT's site settings on %s: %w", act.HostLabel(c.Host), err)
	}
	settings, recorded, _ := strings.Cut(o.Stdout, "\n@record\n")
	s := ParseSiteSettings(settings)
	// An earlier attempt of this step that left no outputs (in doubt):
	// what it changed and is still so is part of this fix.
	var earlier []SiteChange
	if strings.TrimSpace(recorded) != "" {
		rec, derr := DecodeChanges(strings.TrimSpace(recorded))
		if derr != nil {
			return o, fmt.Errorf("%s on %s holds an earlier attempt's changes that do not read (%w): put the old values back by hand if it changed any, remove the file, then resume",
				recordPath(c), act.HostLabel(c.Host), derr)
		}
		for _, r := range rec {
			if v, ok := current(s, r); ok && v == r.New && v != r.Old {
				earlier = append(earlier, r)
			}
		}
	}
	var changes []SiteChange
	var left []string
	for _, f := range CheckSite(s, a.Cluster, phys) {
		if len(f.Changes) == 0 {
			left = append(left, f.String())
		}
		changes = append(changes, f.Changes...)
	}
	if len(left) > 0 {
		return o, fmt.Errorf("%d xCAT setting(s) on %s need the operator, not a fix: %s; nothing was changed: fix them, then resume",
			len(left), act.HostLabel(c.Host), strings.Join(left, "; "))
	}
	for _, e := range earlier {
		act.Say(c, &o, "fixed by an earlier attempt of this step: "+e.String())
	}
	if len(changes) == 0 && len(earlier) == 0 {
		act.Say(c, &o, "nothing to fix: site, networks and nodes name the cluster's "+strings.Join(a.Cluster, "/"))
		return o, nil
	}
	if len(changes) > 0 {
		if err := x.apply(ctx, c, &o, changes, false, append(append([]SiteChange(nil), earlier...), changes...)); err != nil {
			return o, err
		}
	}
	vo, after, verr := x.read(ctx, c, false)
	o.Stderr += vo.Stderr
	var still []string
	if verr == nil {
		for _, ch := range changes {
			if v, _ := current(after, ch); v != ch.New {
				still = append(still, fmt.Sprintf("%s %s %s is %q", ch.Type, ch.Object, ch.Attr, v))
			}
		}
	}
	if verr != nil || len(still) > 0 {
		why := fmt.Sprint(verr)
		if verr == nil {
			why = "after chdef, " + strings.Join(still, "; ")
		}
		bo, _, berr := x.Env.Run(context.WithoutCancel(ctx), c, act.Script{Text: chdefScript(changes, true)})
		o.Stdout += bo.Stdout
		if berr != nil {
			return o, fmt.Errorf("fix xCAT's settings on %s: %s; putting the old values back failed (%v): set by hand each of: %s", act.HostLabel(c.Host), why, berr, changeList(changes))
		}
		return o, fmt.Errorf("fix xCAT's settings on %s: %s; the old values are put back", act.HostLabel(c.Host), why)
	}
	olds := make([]string, len(changes))
	for i, ch := range changes {
		olds[i] = ch.Type + " " + ch.Object + " " + ch.Attr + "=" + ch.Old
		act.Say(c, &o, "fixed "+ch.String())
	}
	changes = append(earlier, changes...)
	for _, ch := range earlier {
		olds = append(olds, ch.Type+" "+ch.Object+" "+ch.Attr+"="+ch.Old)
	}
	o.Outputs = map[string]string{"changed": strconv.Itoa(len(changes)), "changes": EncodeChanges(changes), "old": strings.Join(olds, "; ")}
	return o, nil
}

func changeList(cs []SiteChange) string {
	l := make([]string, len(cs))
	for i, c := range cs {
		l[i] = c.String()
	}
	return strings.Join(l, "; ")
}

// putBack is the undo: every recorded attribute that still holds the
// fixed value gets its old one back.
func (x SiteFix) putBack(ctx context.Context, c workflow.Call, a *SiteFixArgs) (workflow.Outcome, error) {
	o := workflow.Outcome{Outputs: map[string]string{"restored": "0"}}
	if a.restoreErr != nil {
		return o, fmt.Errorf("undo of the xCAT settings fix on %s: %w; put the old values back by hand (hamnflow show --output json names them)", act.HostLabel(c.Host), a.restoreErr)
	}
	if len(a.restore) == 0 {
		act.Say(c, &o, "the fix changed nothing: nothing to put back")
		return o, nil
	}
	ro, s, err := x.read(ctx, c, true)
	o.Stdout, o.Stderr, o.Command = ro.Stdout, ro.Stderr, ro.Command
	if err != nil {
		return o, fmt.Errorf("%w; the old values to put back: %s", err, changeList(a.restore))
	}
	var todo []SiteChange
	var changed []string
	for _, ch := range a.restore {
		v, ok := current(s, ch)
		switch {
		case ok && v == ch.New:
			todo = append(todo, ch)
		case ok && v == ch.Old:
			act.Say(c, &o, "already back: "+ch.Type+" "+ch.Object+" "+ch.Attr+"="+ch.Old)
		case !ok:
			changed = append(changed, fmt.Sprintf("%s %s is gone (its %s was %q)", ch.Type, ch.Object, ch.Attr, ch.Old))
		default:
			changed = append(changed, fmt.Sprintf("%s %s %s is %q, neither the fix's %q nor the old %q (chdef -t %s -o %s %s=%s puts the old one back)",
				ch.Type, ch.Object, ch.Attr, v, ch.New, ch.Old, ch.Type, ch.Object, ch.Attr, ch.Old))
		}
	}
	if len(changed) > 0 {
		return o, fmt.Errorf("undo of the xCAT settings fix on %s: %d setting(s) changed since the fix, so nothing was put back: %s; set each to its old value (or to the fix's), then run the rollback again",
			act.HostLabel(c.Host), len(changed), strings.Join(changed, "; "))
	}
	if len(todo) > 0 {
		if err := x.apply(ctx, c, &o, todo, true, nil); err != nil {
			return o, err
		}
	}
	for _, ch := range todo {
		act.Say(c, &o, "put back "+ch.Type+" "+ch.Object+" "+ch.Attr+"="+ch.Old)
	}
	o.Outputs["restored"] = strconv.Itoa(len(todo))
	// The record of what the fix changed is done with.
	if _, _, err := x.Env.Run(ctx, c, act.Script{Text: "rm -f " + remote.ShellQuote(recordPath(c))}); err != nil {
		act.Say(c, &o, fmt.Sprintf("note: %s could not be removed (%v): remove it by hand", recordPath(c), err))
	}
	return o, nil
}
