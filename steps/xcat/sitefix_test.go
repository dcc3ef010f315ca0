package xcat

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/act/acttest"
	"github.com/hamnflow/hamnflow/workflow"
)

// fakeXCAT answers siteScript as lsdef does and applies chdefScript's
// commands to its objects; failAt, when > 0, makes that chdef (1-based)
// fail as chdef does.
type fakeXCAT struct {
	objs       map[string]map[string]map[string]string // type -> object -> attr -> value
	chdefs     int
	failAt     int
	record     string // what the fix wrote to its record on the host
	failRecord bool   // the record cannot be written
}

func newFakeXCAT(t *testing.T) *fakeXCAT {
	raw, err := os.ReadFile("testdata/site-lab.txt")
	if err != nil {
		t.Fatal(err)
	}
	s := ParseSiteSettings(string(raw))
	f := &fakeXCAT{objs: map[string]map[string]map[string]string{"site": {}, "network": {}, "node": {}}}
	f.objs["site"][s.Site.Name] = s.Site.Attrs
	for _, n := range s.Networks {
		f.objs["network"][n.Name] = n.Attrs
	}
	for _, n := range s.Nodes {
		f.objs["node"][n.Name] = n.Attrs
	}
	return f
}

func (f *fakeXCAT) lsdef(typ string) string {
	var b strings.Builder
	names := make([]string, 0, len(f.objs[typ]))
	for n := range f.objs[typ] {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b.WriteString("Object name: " + n + "\n")
		attrs := make([]string, 0)
		for a := range f.objs[typ][n] {
			attrs = append(attrs, a)
		}
		sort.Strings(attrs)
		for _, a := range attrs {
			b.WriteString("    " + a + "=" + f.objs[typ][n][a] + "\n")
		}
	}
	return b.String()
}

// words splits a line of chdefScript into shell words (single quotes).
func words(line string) []string {
	var out []string
	var cur strings.Builder
	in, any := false, false
	for _, r := range line {
		switch {
		case r == '\'':
			in, any = !in, true
		case r == ' ' && !in:
			if any {
				out = append(out, cur.String())
			}
			cur.Reset()
			any = false
		default:
			cur.WriteRune(r)
			any = true
		}
	}
	if any {
		out = append(out, cur.String())
	}
	return out
}

func (f *fakeXCAT) answer(e acttest.Exec) acttest.Reply {
	if strings.Contains(e.Script, "echo '@site'") {
		out := "@site\n" + f.lsdef("site") + "@network\n" + f.lsdef("network") + "@node\n" + f.lsdef("node")
		if strings.Contains(e.Script, "echo '@record'") {
			out += "@record\n" + f.record
		}
		return acttest.Reply{Stdout: out}
	}
	var out strings.Builder
	if strings.Contains(e.Script, recordDir) {
		f.record = e.Stdin
	}
	for _, l := range strings.Split(e.Script, "\n") {
		w := words(strings.TrimSuffix(l, " || exit"))
		switch {
		case len(w) == 6 && w[0] == "chdef" && w[1] == "-t" && w[3] == "-o":
			f.chdefs++
			if f.chdefs == f.failAt {
				return acttest.Reply{Stdout: out.String(), Stderr: "Error: [mn1]: Could not set the attribute\n", Exit: 1}
			}
			k, v, _ := strings.Cut(w[5], "=")
			for _, o := range strings.Split(w[4], ",") {
				if f.objs[w[2]][o] == nil {
					return acttest.Reply{Stdout: out.String(), Stderr: "Error: no object " + o, Exit: 1}
				}
				f.objs[w[2]][o][k] = v
			}
			fmt.Fprintf(&out, "%d object definitions have been created or modified.\n", len(strings.Split(w[4], ",")))
		case strings.HasPrefix(l, "umask 077; mkdir -p "+recordDir) && f.failRecord:
			return acttest.Reply{Stderr: "mkdir: cannot create directory: Read-only file system\n", Exit: 1}
		case len(w) == 2 && w[0] == "echo":
			out.WriteString(w[1] + "\n")
		}
	}
	return acttest.Reply{Stdout: out.String()}
}

var (
	labCluster  = []string{"198.51.100.10", "xcatmn"}
	labPhysical = []string{"198.51.100.11=mn1", "mn1=mn1", "198.51.100.12=mn2", "mn2=mn2"}
)

func runFix(t *testing.T, f *fakeXCAT, args *SiteFixArgs) (workflow.Outcome, error) {
	t.Helper()
	rec := &acttest.Recorder{Answer: f.answer}
	a := Actions(acttest.Env(rec))["xcat_site_fix"]
	return a.Run(context.Background(), workflow.Call{Host: "mn1", Args: args})
}

// The fix sets the cluster's values where the lab's xCAT names mn1's own
// address or name, records the old ones, and its undo (Reverse, as a
// rollback runs it) puts exactly those back.
func TestSiteFixAndUndo(t *testing.T) {
	f := newFakeXCAT(t)
	f.objs["site"]["clustersite"]["master"] = "198.51.100.11"
	f.objs["site"]["clustersite"]["nameservers"] = "198.51.100.11,198.51.100.10"
	f.objs["network"]["198_51_100_0-255_255_255_0"]["dhcpserver"] = "mn1.lab"
	f.objs["node"]["cn01"]["xcatmaster"] = "198.51.100.12"
	f.objs["node"]["cn02"]["xcatmaster"] = "198.51.100.12"
	f.objs["node"]["cn02"]["servicenode"] = "mn2"
	before := f.lsdef("site") + f.lsdef("network") + f.lsdef("node")

	args := &SiteFixArgs{Cluster: labCluster, Physical: labPhysical, Nodes: "all"}
	o, err := runFix(t, f, args)
	if err != nil {
		t.Fatalf("fix: %v\n%s", err, o.Stdout)
	}
	for obj, want := range map[[3]string]string{
		{"site", "clustersite", "master"}:                       "198.51.100.10",
		{"site", "clustersite", "nameservers"}:                  "198.51.100.10",
		{"network", "198_51_100_0-255_255_255_0", "dhcpserver"}: "xcatmn",
		{"node", "cn01", "xcatmaster"}:                          "198.51.100.10",
		{"node", "cn02", "xcatmaster"}:                          "198.51.100.10",
		{"node", "cn02", "servicenode"}:                         "xcatmn",
		{"network", "198_51_100_0-255_255_255_0", "tftpserver"}: "198.51.100.10",
	} {
		if got := f.objs[obj[0]][obj[1]][obj[2]]; got != want {
			t.Errorf("after the fix %s %s %s = %q, want %q", obj[0], obj[1], obj[2], got, want)
		}
	}
	if o.Outputs["changed"] != "6" || !strings.Contains(o.Outputs["old"], "site clustersite master=198.51.100.11") ||
		!strings.Contains(o.Outputs["old"], "network 198_51_100_0-255_255_255_0 dhcpserver=mn1.lab") {
		t.Errorf("outputs %v", o.Outputs)
	}
	// The nodes' xcatmaster is one chdef for both.
	if n := f.chdefs; n != 5 {
		t.Errorf("%d chdef commands, want 5 (site twice, network, nodes' xcatmaster, cn02's servicenode)", n)
	}

	// Rollback: the engine reverses the arguments from the outputs.
	undo := SiteFix{}.Reverse(args, o.Outputs).(*SiteFixArgs)
	if plan := (SiteFix{}).Plan("mn1", undo); !strings.Contains(plan[1], "chdef -t site -o clustersite master=198.51.100.11 || exit") {
		t.Errorf("undo plan:\n%s", strings.Join(plan, "\n"))
	}
	uo, err := runFix(t, f, undo)
	if err != nil {
		t.Fatalf("undo: %v\n%s", err, uo.Stdout)
	}
	if after := f.lsdef("site") + f.lsdef("network") + f.lsdef("node"); after != before {
		t.Errorf("after the undo:\n%s\nwant as before the fix:\n%s", after, before)
	}
	if uo.Outputs["restored"] != "6" {
		t.Errorf("undo outputs %v", uo.Outputs)
	}
	// Run again (a rollback resumed), it finds everything back.
	if uo, err := runFix(t, f, undo); err != nil || uo.Outputs["restored"] != "0" || !strings.Contains(uo.Stdout, "already back: site clustersite master=198.51.100.11") {
		t.Errorf("undo again: %v %v\n%s", err, uo.Outputs, uo.Stdout)
	}
}

// A value changed since the fix is not overwritten by its undo.
func TestSiteFixUndoRefusesChangedSince(t *testing.T) {
	f := newFakeXCAT(t)
	f.objs["site"]["clustersite"]["master"] = "198.51.100.11"
	args := &SiteFixArgs{Cluster: labCluster, Physical: labPhysical, Nodes: "all"}
	o, err := runFix(t, f, args)
	if err != nil {
		t.Fatal(err)
	}
	f.objs["site"]["clustersite"]["master"] = "198.51.100.99"
	undo := SiteFix{}.Reverse(args, o.Outputs).(*SiteFixArgs)
	_, err = runFix(t, f, undo)
	if err == nil || !strings.Contains(err.Error(), `site clustersite master is "198.51.100.99", neither the fix's "198.51.100.10" nor the old "198.51.100.11"`) {
		t.Errorf("undo over a value changed since: %v", err)
	}
	if got := f.objs["site"]["clustersite"]["master"]; got != "198.51.100.99" {
		t.Errorf("undo overwrote a value changed since: %q", got)
	}
}

// A chdef that fails part way: what was changed is put back, and the step
// fails saying so.
func TestSiteFixFailurePutsBack(t *testing.T) {
	f := newFakeXCAT(t)
	f.objs["site"]["clustersite"]["master"] = "198.51.100.11"
	f.objs["node"]["cn01"]["xcatmaster"] = "198.51.100.11"
	before := f.lsdef("site") + f.lsdef("node")
	f.failAt = 2
	_, err := runFix(t, f, &SiteFixArgs{Cluster: labCluster, Physical: labPhysical})
	if err == nil || !strings.Contains(err.Error(), "what it had changed is put back (site clustersite master: 198.51.100.11 -> 198.51.100.10") {
		t.Errorf("failing fix: %v", err)
	}
	if after := f.lsdef("site") + f.lsdef("node"); after != before {
		t.Errorf("after a failing fix:\n%s\nwant\n%s", after, before)
	}
}

// A record that cannot be written stops the fix before any chdef.
func TestSiteFixRecordFails(t *testing.T) {
	f := newFakeXCAT(t)
	f.objs["site"]["clustersite"]["master"] = "198.51.100.11"
	f.failRecord = true
	_, err := runFix(t, f, &SiteFixArgs{Cluster: labCluster, Physical: labPhysical})
	if err == nil || !strings.Contains(err.Error(), "writing the record") || !strings.Contains(err.Error(), "nothing was changed") || f.chdefs != 0 {
		t.Errorf("fix without its record: %v, %d chdef", err, f.chdefs)
	}
}

// A finding that is the operator's (no domain) stops the fix before it
// changes anything; nothing to fix is a success that changes nothing.
func TestSiteFixRefusals(t *testing.T) {
	f := newFakeXCAT(t)
	f.objs["site"]["clustersite"]["master"] = "198.51.100.11"
	delete(f.objs["site"]["clustersite"], "domain")
	if _, err := runFix(t, f, &SiteFixArgs{Cluster: labCluster, Physical: labPhysical}); err == nil ||
		!strings.Contains(err.Error(), "site.domain is not set") || !strings.Contains(err.Error(), "nothing was changed") || f.chdefs != 0 {
		t.Errorf("fix with no domain: %v, %d chdef", err, f.chdefs)
	}
	f = newFakeXCAT(t)
	o, err := runFix(t, f, &SiteFixArgs{Cluster: labCluster, Physical: labPhysical})
	if err != nil || o.Outputs["changed"] != "0" || o.Outputs["changes"] != "[]" || f.chdefs != 0 {
		t.Errorf("nothing to fix: %v %v", err, o.Outputs)
	}
	undo := SiteFix{}.Reverse(&SiteFixArgs{Cluster: labCluster}, o.Outputs).(*SiteFixArgs)
	if uo, err := runFix(t, f, undo); err != nil || !strings.Contains(uo.Stdout, "nothing to put back") {
		t.Errorf("undo of nothing: %v %s", err, uo.Stdout)
	}
	bad := SiteFix{}.Reverse(&SiteFixArgs{Cluster: labCluster}, map[string]string{"changes": "{oops"}).(*SiteFixArgs)
	if _, err := runFix(t, f, bad); err == nil || !strings.Contains(err.Error(), "do not parse") {
		t.Errorf("undo of a damaged record: %v", err)
	}
}

// The check leaves to the fix what it can fix, and still refuses what it
// cannot.
func TestSiteCheckFixFollows(t *testing.T) {
	f := newFakeXCAT(t)
	f.objs["site"]["clustersite"]["master"] = "198.51.100.11"
	rec := &acttest.Recorder{Answer: f.answer}
	a := Actions(acttest.Env(rec))["xcat_site"]
	args := &SiteArgs{Cluster: labCluster, Physical: labPhysical}
	if _, err := a.Run(context.Background(), workflow.Call{Host: "mn1", Args: args}); err == nil ||
		!strings.Contains(err.Error(), "--set fix_site=yes") {
		t.Errorf("check without the fix: %v", err)
	}
	args.FixFollows = true
	o, err := a.Run(context.Background(), workflow.Call{Host: "mn1", Args: args})
	if err != nil || o.Outputs["fixable"] != "1" || !strings.Contains(o.Stdout, "to be fixed by the next step: site.master names mn1's own 198.51.100.11") {
		t.Errorf("check with the fix to follow: %v %v\n%s", err, o.Outputs, o.Stdout)
	}
	delete(f.objs["site"]["clustersite"], "domain")
	if _, err := a.Run(context.Background(), workflow.Call{Host: "mn1", Args: args}); err == nil || !strings.Contains(err.Error(), "site.domain") {
		t.Errorf("check with the fix to follow, no domain: %v", err)
	}
}

// Identity mode: the standby's own name becomes the identity taken over.
func TestCheckSiteChangesIdentity(t *testing.T) {
	raw, _ := os.ReadFile("testdata/site-lab.txt")
	out := strings.ReplaceAll(string(raw), "198.51.100.10", "198.51.100.11")
	out = strings.Replace(out, "    dhcpserver=198.51.100.11\n", "    dhcpserver=mn2.lab\n", 1)
	out = strings.Replace(out, "master=198.51.100.11", "master=mn2", 1)
	got := CheckSite(ParseSiteSettings(out), []string{"198.51.100.11", "mn1"}, map[string]string{"198.51.100.11": "mn1", "mn1": "mn1", "198.51.100.12": "mn2", "mn2": "mn2"})
	var cs []string
	for _, f := range got {
		for _, c := range f.Changes {
			cs = append(cs, c.String())
		}
	}
	want := "site clustersite master: mn2 -> 198.51.100.11|network 198_51_100_0-255_255_255_0 dhcpserver: mn2.lab -> mn1"
	if strings.Join(cs, "|") != want {
		t.Errorf("changes %q, want %q", strings.Join(cs, "|"), want)
	}
}

// A fix in doubt (killed after its chdefs, before the journal had its
// outputs) and run again by the operator: the second run finds nothing
// left to fix, yet records what the first changed, from the record the
// first wrote on the host before its first chdef, so rollback still puts
// the old values back.
func TestSiteFixRedoAfterInDoubt(t *testing.T) {
	f := newFakeXCAT(t)
	f.objs["site"]["clustersite"]["master"] = "198.51.100.11"
	f.objs["node"]["cn01"]["xcatmaster"] = "198.51.100.11"
	before := f.lsdef("site") + f.lsdef("node")
	args := &SiteFixArgs{Cluster: labCluster, Physical: labPhysical}
	if _, err := runFix(t, f, args); err != nil { // its outputs are lost
		t.Fatal(err)
	}
	if !strings.Contains(f.record, `"old":"198.51.100.11"`) {
		t.Fatalf("no record written before the chdefs: %q", f.record)
	}
	o, err := runFix(t, f, args)
	if err != nil || o.Outputs["changed"] != "2" || !strings.Contains(o.Stdout, "fixed by an earlier attempt of this step: site clustersite master: 198.51.100.11 -> 198.51.100.10") {
		t.Fatalf("redo: %v %v\n%s", err, o.Outputs, o.Stdout)
	}
	undo := SiteFix{}.Reverse(args, o.Outputs).(*SiteFixArgs)
	if _, err := runFix(t, f, undo); err != nil {
		t.Fatal(err)
	}
	if after := f.lsdef("site") + f.lsdef("node"); after != before {
		t.Errorf("after the undo of a redone fix:\n%s\nwant\n%s", after, before)
	}
	// Once put back, a record of values that are old again adds nothing.
	f.objs["node"]["cn01"]["xcatmaster"] = "198.51.100.10"
	if o, err := runFix(t, f, args); err != nil || o.Outputs["changed"] != "1" || strings.Contains(o.Stdout, "earlier attempt") {
		t.Errorf("fix after the undo: %v %v\n%s", err, o.Outputs, o.Stdout)
	}
}
