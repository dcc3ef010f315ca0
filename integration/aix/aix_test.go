//go:build lab

// Package aix tests hamnflow's AIX steps end to end on a lab whose MNs
// carry the AIX and xCAT stand-ins: NIM re-creation (guide 8.0 step 8),
// the mktcpip takeover (step 4) and the failback that gives hostname and
// address back (9.0).
package aix

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/integration/labtest"
	"github.com/hamnflow/hamnflow/integration/standins"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// aixPath is where the lab's AIX stand-ins live.
const aixPath = "/opt/aix/bin:/opt/aix/nim/methods"

// osimages are the seed AIX osimages and the NIM resources they name
// (resource names, installp_bundle a comma list: xCAT's shape,
// perl-xCAT/xCAT/Schema.pm:1421-1446), in the order they are created:
// lpp_source, SPOT, then the others (aixinstall.pm:10199).
var osimages = map[string][]string{
	"61cosi":   {"61cosi_lpp_source", "61cosi", "61cosi_bosinst_data", "xCATaixSSH", "mypkgs", "xcataixscript"},
	"61dskls":  {"61dskls_lpp_source", "61dskls", "61dskls_resolv_conf", "61dskls_root", "61dskls_tmp", "61dskls_home", "61dskls_shared_home", "61dskls_dump", "61dskls_paging"},
	"71bosi":   {"71bosi_lpp_source", "71bosi", "71bosi_bosinst_data", "xCATaixSN71", "71bosi_script"},
	"71sdskls": {"71sdskls_lpp_source", "71sdskls", "71sdskls_shared_root", "71sdskls_dump", "71sdskls_paging"},
}

// nimResources is how many NIM resources the seed osimages name.
const nimResources = 25

// upAIX brings up an AIX lab whose standby is ready for step 8: /install
// synchronised from mn1, xcatd running, compute nodes defined.
func upAIX(t *testing.T) *labtest.Env {
	env := labtest.Up(t, labtest.Options{XCAT: true, OS: "aix", ServiceNodes: 1})
	inv := env.Lab.Inventory()
	for name, h := range inv.Hosts {
		h.OS = "aix"
		inv.Hosts[name] = h
	}
	inv.Mode = "identity"
	inv.Database.Type = "" // no database replication in these tests
	if err := env.Lab.WriteInventory(inv); err != nil {
		t.Fatal(err)
	}
	env.Exec(t, "mn1", "rsync -a /install/ mn2:/install/")
	env.Exec(t, "mn2", "/etc/init.d/xcatd start >/dev/null && mkdef -t node -o cn01,cn02 groups=compute >/dev/null && mkdef -t node -o cn03 groups=other >/dev/null")
	return env
}

// defines are the successful calls that define a NIM resource, by name.
func defines(calls []standins.Call) map[string][]standins.Call {
	m := map[string][]standins.Call{}
	for _, c := range calls {
		if len(c.Args) == 0 || (c.Command != "nim" && c.Command != "m_mkspot") {
			continue
		}
		if c.Command == "nim" && !slices.Contains(c.Args, "define") && !slices.Contains(c.Args, "-Fo") {
			continue
		}
		if c.Exit == 0 {
			name := c.Args[len(c.Args)-1]
			m[name] = append(m[name], c)
		}
	}
	return m
}

// lastRunID is the newest run in the journal.
func lastRunID(t *testing.T, env *labtest.Env) string {
	t.Helper()
	r := env.MustRun(t, 0, "history", "--output", "json")
	var runs []struct {
		ID      string    `json:"id"`
		Started time.Time `json:"started_at"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &runs); err != nil || len(runs) == 0 {
		t.Fatalf("history: %v\n%s", err, r.Stdout)
	}
	best := runs[0]
	for _, run := range runs {
		if run.Started.After(best.Started) {
			best = run
		}
	}
	return best.ID
}

func TestNIMRecreate(t *testing.T) {
	env := upAIX(t)
	mn2 := env.Lab.Host("mn2").Root

	// A fault on one resource of one osimage: its NIM define fails once.
	if err := standins.WriteFaults(mn2, []standins.Fault{{
		Command: "nim", ArgsContain: "61dskls_root", Times: 1,
		Stderr: "0042-001 nim: processing error encountered on \"master\":\n   0042-175 m_mkres: unable to create \"/install/nim/root/61dskls_root\": no space left on device",
		Note:   "one osimage fails",
	}}); err != nil {
		t.Fatal(err)
	}
	r := env.MustRun(t, 1, "run", "nim-recreate", "--yes", "--set", "nodes=compute", "--set", "osimage=61cosi")
	out := r.Combined()
	if !strings.Contains(out, "create_resources[61dskls]") || !strings.Contains(out, "0042-175") {
		t.Errorf("the failure does not name osimage 61dskls and NIM's error:\n%s", r)
	}
	for _, other := range []string{"create_resources[61cosi]", "create_resources[71bosi]", "create_resources[71sdskls]"} {
		if strings.Contains(out, other+" failed") {
			t.Errorf("%s reported failed:\n%s", other, r)
		}
	}
	got := defines(env.Calls(t, "mn2"))
	for img, rs := range osimages {
		for _, res := range rs {
			switch {
			case img == "61dskls" && slices.Index(rs, res) >= slices.Index(rs, "61dskls_root"):
				if len(got[res]) != 0 {
					t.Errorf("%s defined after its osimage failed", res)
				}
			case len(got[res]) != 1:
				t.Errorf("%s defined %d times before resume, want 1", res, len(got[res]))
			}
		}
	}

	id := lastRunID(t, env)
	env.MustRun(t, 0, "resume", id, "--yes")
	calls := env.Calls(t, "mn2")
	got = defines(calls)
	for img, rs := range osimages {
		for _, res := range rs {
			if len(got[res]) != 1 {
				t.Errorf("osimage %s: %s defined %d times, want once", img, res, len(got[res]))
			}
		}
	}
	// The osimages were worked on in parallel: some osimage's first
	// resource was defined before another's last one.
	first, last := map[string]time.Time{}, map[string]time.Time{}
	for img, rs := range osimages {
		if img == "61dskls" {
			continue // resumed later
		}
		first[img], last[img] = got[rs[0]][0].Time, got[rs[len(rs)-1]][0].Time
	}
	overlap := false
	for a := range first {
		for b := range first {
			if a != b && first[b].Before(last[a]) && first[a].Before(last[b]) {
				overlap = true
			}
		}
	}
	if !overlap {
		t.Errorf("osimages were created one after another, not in parallel: first %v last %v", first, last)
	}
	// Each resource is where the primary's NIM keeps it (lsnim -l on mn1),
	// also one an administrator put off xCAT's convention (mypkgs), and the
	// rte image's bosinst_data is re-created as mknimimage made it.
	for name, loc := range map[string]string{
		"mypkgs": "/install/nim/mypkgs.bnd", "xCATaixSSH": "/install/nim/installp_bundle/xCATaixSSH.bnd",
		"61cosi_bosinst_data": "/install/nim/bosinst_data/61cosi_bosinst_data", "61cosi": "/install/nim/spot/61cosi/usr",
		"61dskls_resolv_conf": "/install/nim/resolv_conf/61dskls_resolv_conf/resolv.conf",
	} {
		out := env.Exec(t, "mn2", "PATH="+aixPath+":$PATH lsnim -l "+name)
		if !strings.Contains(out, "   location") || !strings.Contains(out, "= "+loc+"\n") {
			t.Errorf("mn2: lsnim -l %s does not give location %s:\n%s", name, loc, out)
		}
	}
	var all []string
	for _, rs := range osimages {
		all = append(all, rs...)
	}
	for name := range got {
		if !slices.Contains(all, name) {
			t.Errorf("defined %s, which no osimage names", name)
		}
	}
	// The spot came from m_mkspot as the guide writes it.
	if c := got["61cosi"][0]; c.Command != "m_mkspot" || strings.Join(c.Args, " ") != "-o -a server=master -a location=/install/nim/spot/ -a source=no 61cosi" {
		t.Errorf("spot 61cosi: %s %q", c.Command, c.Args)
	}
	var nodeset []standins.Call
	for _, c := range calls {
		if c.Command == "nimnodeset" || c.Command == "mkdsklsnode" {
			nodeset = append(nodeset, c)
		}
	}
	if len(nodeset) != 1 || nodeset[0].Command != "nimnodeset" || strings.Join(nodeset[0].Args, " ") != "-i 61cosi compute" || nodeset[0].Exit != 0 {
		t.Errorf("nimnodeset calls: %+v", nodeset)
	}

	// A second run finds everything in place and creates nothing.
	before := len(calls)
	env.MustRun(t, 0, "run", "nim-recreate", "--yes")
	for _, c := range env.Calls(t, "mn2")[before:] {
		if c.Command == "m_mkspot" || c.Command == "nim_master_setup" || (c.Command == "nim" && slices.Contains(c.Args, "-Fo")) {
			t.Errorf("second run called %s %q", c.Command, c.Args)
		}
	}

	setups := 0
	for _, c := range env.Calls(t, "mn2") {
		if c.Command == "nim_master_setup" {
			setups++
			if strings.Join(c.Args, " ") != "-a mk_resource=no -a device=/install/nim/lpp_source" || c.Exit != 0 {
				t.Errorf("nim_master_setup %q exit %d", c.Args, c.Exit)
			}
		}
	}
	if setups != 1 {
		t.Errorf("nim_master_setup ran %d times over three runs, want once", setups)
	}

	// With HANIM nothing runs at all.
	inv := env.Lab.Inventory()
	inv.HANIM = true
	if err := env.Lab.WriteInventory(inv); err != nil {
		t.Fatal(err)
	}
	before = len(env.Calls(t, "mn2"))
	env.MustRun(t, 0, "run", "nim-recreate", "--yes")
	if n := len(env.Calls(t, "mn2")); n != before {
		t.Errorf("hanim: true still called %d stand-in commands", n-before)
	}
}

// TestAIXFailover runs the failover playbook every cluster shares on the
// AIX lab (identity mode, guide 8.0): the old primary's xcatd stopped with
// stopsrc and its address released, mktcpip takes over the hostname and
// address with the guide's arguments, xcatd starts with startsrc, DNS and
// conserver are regenerated (no DHCP on AIX), and NIM is re-created. Then
// the failback (9.0) gives mn2 its own identity back with mktcpip and
// mn1 the primary's, with the same arguments the failover gave mn2.
func TestAIXFailover(t *testing.T) {
	env := upAIX(t)
	before := len(env.Calls(t, "mn2"))
	beforeMN1 := len(env.Calls(t, "mn1"))
	env.MustRun(t, 0, "run", "failover", "--yes")
	calls := env.Calls(t, "mn2")[before:]
	var mk, start, linux []standins.Call
	var order []string
	for _, c := range calls {
		name := filepath.Base(c.Command)
		switch name {
		case "mktcpip":
			mk = append(mk, c)
		case "startsrc":
			start = append(start, c)
		case "xcatd", "isc-dhcp-server", "conserver-server", "makedhcp":
			if len(c.Args) > 0 && c.Args[0] != "status" {
				linux = append(linux, c)
			}
		}
		order = append(order, strings.TrimSpace(name+" "+strings.Join(c.Args, " ")))
	}
	want := []string{"-hxcatmn", "-a198.51.100.10", "-m255.255.255.0", "-ieth0", "-g198.51.100.1", "-Ano", "-tN/A", "-s"}
	if len(mk) != 1 || !slices.Equal(mk[0].Args, want) || mk[0].Exit != 0 {
		t.Errorf("mktcpip calls %+v, want one with %q", mk, want)
	}
	var xcatd int
	for _, c := range start {
		if strings.Join(c.Args, " ") == "-s xcatd" && c.Exit == 0 {
			xcatd++
		}
	}
	if xcatd != 1 {
		t.Errorf("startsrc calls %+v, want one -s xcatd", start)
	}
	if len(linux) > 0 {
		t.Errorf("the AIX failover ran Linux init scripts or makedhcp on mn2: %+v", linux)
	}
	at := 0
	for _, w := range []string{"stopsrc -s xcatd", "mktcpip", "startsrc -s xcatd", "makedns -n", "makeconservercf"} {
		i := slices.IndexFunc(order[at:], func(l string) bool { return strings.HasPrefix(l, w) })
		if i < 0 {
			t.Errorf("calls on mn2: no %q after call %d in\n%s", w, at, strings.Join(order, "\n"))
			break
		}
		at += i + 1
	}
	stopped := false
	for _, c := range env.Calls(t, "mn1")[beforeMN1:] {
		if filepath.Base(c.Command) == "stopsrc" && strings.Join(c.Args, " ") == "-s xcatd" {
			stopped = true
		}
	}
	if !stopped {
		t.Error("the failover did not stop xcatd on the old primary with stopsrc")
	}
	if h := strings.TrimSpace(env.Exec(t, "mn2", "hostname")); h != "xcatmn" {
		t.Errorf("mn2's hostname is %q after mktcpip", h)
	}
	if !strings.Contains(env.Exec(t, "mn2", "ip -4 addr show dev eth0"), "198.51.100.10/24") {
		t.Error("mn2 does not hold the cluster address after mktcpip")
	}
	if strings.Contains(env.Exec(t, "mn1", "ip -4 addr show dev eth0"), "198.51.100.10/") {
		t.Error("mn1 still holds the cluster address after the failover")
	}
	if n := len(defines(env.Calls(t, "mn2"))); n != nimResources {
		t.Errorf("failover defined %d NIM resources, want %d", n, nimResources)
	}
	if t.Failed() {
		return
	}
	testAIXFailback(t, env, want)
}

// testAIXFailback fails back after TestAIXFailover: mktcpip on mn1 with
// the original primary's arguments (takeover, the failover's mktcpip
// arguments), mn2 its own hostname and address again, xcatd and conserver
// moved with stopsrc and startsrc, DNS and conserver regenerated and the
// NIM resources created on mn1.
func testAIXFailback(t *testing.T, env *labtest.Env, takeover []string) {
	t.Helper()
	before1, before2 := len(env.Calls(t, "mn1")), len(env.Calls(t, "mn2"))
	env.MustRun(t, 0, "run", "failback", "--yes")
	lines := func(calls []standins.Call) (mk [][]string, order []string, linux []string) {
		for _, c := range calls {
			name := filepath.Base(c.Command)
			line := strings.TrimSpace(name + " " + strings.Join(c.Args, " "))
			switch name {
			case "mktcpip":
				if c.Exit != 0 {
					t.Errorf("mktcpip %q exit %d", c.Args, c.Exit)
				}
				mk = append(mk, c.Args)
			case "xcatd", "isc-dhcp-server", "conserver-server", "makedhcp":
				if len(c.Args) > 0 && c.Args[0] != "status" {
					linux = append(linux, line)
				}
			}
			order = append(order, line)
		}
		return mk, order, linux
	}
	mk1, order1, linux1 := lines(env.Calls(t, "mn1")[before1:])
	mk2, order2, linux2 := lines(env.Calls(t, "mn2")[before2:])
	if len(mk1) != 1 || !slices.Equal(mk1[0], takeover) {
		t.Errorf("mktcpip on mn1: %q, want one with the original primary's %q", mk1, takeover)
	}
	own := []string{"-hmn2", "-a198.51.100.12", "-m255.255.255.0", "-ieth0", "-g198.51.100.1", "-Ano", "-tN/A", "-s"}
	if len(mk2) != 1 || !slices.Equal(mk2[0], own) {
		t.Errorf("mktcpip on mn2: %q, want one giving mn2 its own %q", mk2, own)
	}
	if len(linux1)+len(linux2) > 0 {
		t.Errorf("the AIX failback ran Linux init scripts or makedhcp: mn1 %q, mn2 %q", linux1, linux2)
	}
	inOrder := func(host string, order []string, want ...string) {
		at := 0
		for _, w := range want {
			i := slices.IndexFunc(order[at:], func(l string) bool { return strings.HasPrefix(l, w) })
			if i < 0 {
				t.Errorf("calls on %s: no %q after call %d in\n%s", host, w, at, strings.Join(order, "\n"))
				return
			}
			at += i + 1
		}
	}
	inOrder("mn2", order2, "stopsrc -s conserver", "stopsrc -s xcatd", "mktcpip -hmn2")
	inOrder("mn1", order1, "mktcpip -hxcatmn", "startsrc -s xcatd", "makedns -n", "makeconservercf", "startsrc -s conserver")
	for host, want := range map[string]string{"mn1": "xcatmn", "mn2": "mn2"} {
		if h := strings.TrimSpace(env.Exec(t, host, "hostname")); h != want {
			t.Errorf("%s's hostname is %q after failback, want %q", host, h, want)
		}
	}
	if !strings.Contains(env.Exec(t, "mn1", "ip -4 addr show dev eth0"), "198.51.100.10/24") {
		t.Error("mn1 does not hold the cluster address after failback")
	}
	if strings.Contains(env.Exec(t, "mn2", "ip -4 addr show dev eth0"), "198.51.100.10/") {
		t.Error("mn2 still holds the cluster address after failback")
	}
	if !strings.Contains(env.Exec(t, "mn2", "ip -4 addr show dev eth0"), "198.51.100.12/24") {
		t.Error("mn2 lost its own address")
	}
	// mn1 is the NIM master that made the resources: they are left alone
	// there (aixinstall.pm:10226), none defined again.
	if n := len(defines(env.Calls(t, "mn1")[before1:])); n != 0 {
		t.Errorf("failback defined %d NIM resources on mn1, whose NIM knows them all", n)
	}
	for _, rs := range osimages {
		for _, name := range rs {
			if out := env.Exec(t, "mn1", "PATH="+aixPath+":$PATH lsnim -l "+name+" >/dev/null && echo known; true"); !strings.Contains(out, "known") {
				t.Errorf("mn1's NIM does not know %s after failback", name)
			}
		}
	}
	if out := env.Exec(t, "mn2", "PATH="+aixPath+":$PATH lssrc -s xcatd"); !strings.Contains(out, "inoperative") {
		t.Errorf("xcatd on mn2 after failback:\n%s", out)
	}
}
