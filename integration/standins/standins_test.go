//go:build lab

package standins_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/integration/standins"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// exe is the stand-in program, built once by TestMain.
var exe string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "xcat-standin-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	exe = filepath.Join(dir, "xcat-standin")
	build := exec.Command("go", "build", "-o", exe, "github.com/hamnflow/hamnflow/integration/standins/cmd/xcat-standin")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building xcat-standin:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// host is a fake lab host: the stand-ins installed in a temporary root,
// run with XCAT_STANDIN_ROOT pointing there and xcatd on a free port.
type host struct {
	t    *testing.T
	root string
	port int
	env  []string
}

func newHost(t *testing.T, osType string) *host {
	t.Helper()
	root := t.TempDir()
	if err := standins.Install(root, exe, osType); err != nil {
		t.Fatal(err)
	}
	h := &host{t: t, root: root, port: freePortPair(t)}
	h.env = append(os.Environ(),
		standins.RootEnv+"="+root,
		"XCAT_STANDIN_XCATD_PORT="+strconv.Itoa(h.port),
		"XCAT_STANDIN_XCATD_LISTEN=127.0.0.1",
		"XCAT_STANDIN_DRYRUN=1",
	)
	t.Cleanup(func() {
		for _, s := range standins.InitScripts {
			h.run("/etc/init.d/"+s, "stop")
		}
	})
	return h
}

// freePortPair finds a port p on 127.0.0.1 with p+1 also free.
func freePortPair(t *testing.T) int {
	t.Helper()
	for range 50 {
		l1, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l1.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+1)))
		l1.Close()
		if err == nil {
			l2.Close()
			return p
		}
	}
	t.Fatal("no free port pair")
	return 0
}

// run runs the host command at path (a path inside the host) and returns
// its stdout, stderr and exit code.
func (h *host) run(path string, args ...string) (string, string, int) {
	h.t.Helper()
	cmd := exec.Command(filepath.Join(h.root, path), args...)
	cmd.Env = h.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	case err != nil:
		h.t.Fatalf("%s: %v", path, err)
	}
	return stdout.String(), stderr.String(), 0
}

// must runs a command that has to succeed and returns its stdout.
func (h *host) must(path string, args ...string) string {
	h.t.Helper()
	out, errOut, code := h.run(path, args...)
	if code != 0 {
		h.t.Fatalf("%s %v: exit %d\nstdout: %s\nstderr: %s", path, args, code, out, errOut)
	}
	return out
}

// expect runs a command and checks its exit code and that stdout and
// stderr contain the given texts.
func (h *host) expect(code int, wantOut, wantErr, path string, args ...string) {
	h.t.Helper()
	out, errOut, got := h.run(path, args...)
	if got != code || !strings.Contains(out, wantOut) || !strings.Contains(errOut, wantErr) {
		h.t.Errorf("%s %v: exit %d (want %d)\nstdout: %q (want %q)\nstderr: %q (want %q)",
			path, args, got, code, out, wantOut, errOut, wantErr)
	}
}

func (h *host) startXcatd() {
	h.t.Helper()
	h.must("/etc/init.d/xcatd", "start")
}

func (h *host) calls() []standins.Call {
	h.t.Helper()
	calls, err := standins.ReadCalls(h.root)
	if err != nil {
		h.t.Fatal(err)
	}
	return calls
}

func TestInstallLayout(t *testing.T) {
	for _, osType := range []string{"linux", "aix"} {
		t.Run(osType, func(t *testing.T) {
			root := t.TempDir()
			if err := standins.Install(root, exe, osType); err != nil {
				t.Fatal(err)
			}
			// Installing again (an update) must work too.
			if err := standins.Install(root, exe, osType); err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, c := range standins.XCATBinCommands {
				paths = append(paths, standins.XCATBinDir+"/"+c)
			}
			for _, c := range standins.XCATSbinCommands {
				paths = append(paths, standins.XCATSbinDir+"/"+c)
			}
			for _, c := range standins.AIXCommands {
				paths = append(paths, standins.AIXBinDir+"/"+c)
			}
			paths = append(paths, standins.NIMMethods+"/m_mkspot")
			for _, p := range paths {
				target, err := os.Readlink(filepath.Join(root, p))
				if err != nil {
					t.Errorf("%s: %v", p, err)
					continue
				}
				if filepath.IsAbs(target) {
					t.Errorf("%s -> %s: want a relative link", p, target)
				}
				if got := filepath.Clean(filepath.Join(filepath.Dir(p), target)); got != standins.StandinExe {
					t.Errorf("%s resolves to %s, want %s", p, got, standins.StandinExe)
				}
			}
			for _, s := range standins.InitScripts {
				fi, err := os.Stat(filepath.Join(root, standins.InitDir, s))
				if err != nil || fi.Mode()&0o111 == 0 {
					t.Errorf("init script %s: %v (mode %v)", s, err, fi.Mode())
				}
			}
			if fi, err := os.Stat(filepath.Join(root, standins.StandinExe)); err != nil || fi.Mode()&0o111 == 0 {
				t.Errorf("program: %v", err)
			}
			f, err := os.Open(filepath.Join(root, standins.OSImages))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			objs, err := standins.ParseStanzas(f)
			if err != nil || len(objs) < 3 {
				t.Fatalf("seed osimages: %d objects, %v", len(objs), err)
			}
			for _, o := range objs {
				if o.Type() != "osimage" {
					t.Errorf("%s: objtype %q", o.Name, o.Type())
				}
			}
		})
	}
	if err := standins.Install(t.TempDir(), exe, "solaris"); err == nil {
		t.Error("Install accepted os type solaris")
	}
}

func TestXcatdServiceIdempotent(t *testing.T) {
	h := newHost(t, "linux")
	const init = "/etc/init.d/xcatd"
	h.expect(3, "xcatd service is not running", "", init, "status")
	h.expect(0, "", "", init, "stop") // stopping a stopped service succeeds
	h.expect(0, "Starting xcatd: [  OK  ]", "", init, "start")
	h.expect(0, "xcatd service is running", "", init, "status")
	h.expect(0, "already running", "", init, "start")

	pid, err := os.ReadFile(filepath.Join(h.root, standins.RunDir, "xcatd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	for _, port := range []int{h.port, h.port + 1} {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Errorf("xcatd not listening on %d: %v", port, err)
		} else {
			c.Close()
		}
	}
	h.expect(0, "Could not find any object definitions to display.", "", "/opt/xcat/bin/lsdef")

	h.expect(0, "Starting xcatd: [  OK  ]", "", init, "restart")
	pid2, _ := os.ReadFile(filepath.Join(h.root, standins.RunDir, "xcatd.pid"))
	if bytes.Equal(pid, pid2) {
		t.Errorf("restart kept pid %s", pid)
	}
	h.expect(0, "Stopping xcatd: [  OK  ]", "", init, "stop")
	h.expect(0, "not running", "", init, "stop")
	h.expect(3, "xcatd service is not running", "", init, "status")
	if _, err := os.Stat(filepath.Join(h.root, standins.RunDir, "xcatd.pid")); !os.IsNotExist(err) {
		t.Errorf("pidfile left after stop: %v", err)
	}
	h.expect(2, "", "Usage:", init, "reload-everything")

	// The other services follow the same pattern.
	for _, s := range []string{"isc-dhcp-server", "conserver-server"} {
		h.expect(0, "[  OK  ]", "", "/etc/init.d/"+s, "start")
		h.expect(0, s+" service is running", "", "/etc/init.d/"+s, "status")
		h.expect(0, "", "", "/etc/init.d/"+s, "stop")
		h.expect(3, s+" service is not running", "", "/etc/init.d/"+s, "status")
	}
}

func TestClientsRefusedWhileXcatdDown(t *testing.T) {
	h := newHost(t, "aix")
	want := fmt.Sprintf("Error: Unable to open socket connection to xcatd daemon on localhost:%d. Verify that the xcatd daemon is running and that your SSL configuration is correct.\n", h.port)
	cmds := map[string][]string{
		"/opt/xcat/bin/lsdef":            {"-t", "osimage", "-l"},
		"/opt/xcat/bin/mkdef":            {"-t", "node", "-o", "testnode", "groups=all"},
		"/opt/xcat/bin/chdef":            {"testnode", "status=booted"},
		"/opt/xcat/bin/rmdef":            {"-t", "node", "-o", "testnode"},
		"/opt/xcat/bin/nodels":           nil,
		"/opt/xcat/bin/tabdump":          {"site"},
		"/opt/xcat/sbin/makedns":         {"-n"},
		"/opt/xcat/sbin/makedhcp":        {"-n"},
		"/opt/xcat/sbin/makeconservercf": nil,
		"/opt/xcat/sbin/makegocons":      nil,
		"/opt/xcat/sbin/nodeset":         {"testnode", "osimage=61cosi"},
		"/opt/xcat/sbin/nimnodeset":      {"-i", "61cosi", "testnode"},
		"/opt/xcat/sbin/mkdsklsnode":     {"-i", "61dskls", "testnode"},
	}
	for path, args := range cmds {
		out, errOut, code := h.run(path, args...)
		if code != 1 || errOut != want || out != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %q", path, code, out, errOut, want)
		}
	}
	// Once xcatd answers, the same commands get through.
	h.startXcatd()
	h.expect(0, "Object name: 61cosi", "", "/opt/xcat/bin/lsdef", "-t", "osimage", "-l")
}

func TestNodeDefinitionsJSON(t *testing.T) {
	h := newHost(t, "linux")
	h.startXcatd()
	bin := "/opt/xcat/bin/"
	h.expect(0, "1 object definitions have been created or modified.", "", bin+"mkdef", "-t", "node", "-o", "testnode", "groups=compute,all")
	h.expect(1, "", "Error: A definition for 'testnode' already exists.", bin+"mkdef", "-t", "node", "-o", "testnode", "groups=compute,all")
	h.expect(1, "", "Error: 'ip' is not a valid attribute name for an object type of 'node'.", bin+"mkdef", "-t", "node", "-o", "n2", "groups=all", "ip=198.51.100.9")
	h.expect(1, "", "Attribute 'groups' is not specified for node 'n3'", bin+"mkdef", "-t", "node", "-o", "n3")
	h.must(bin+"mkdef", "n2", "groups=service,all", "status=booted")

	if got, want := h.must(bin+"lsdef", "testnode"), "Object name: testnode\n    groups=compute,all\n"; got != want {
		t.Errorf("lsdef testnode = %q, want %q", got, want)
	}
	h.must(bin+"chdef", "-t", "node", "-o", "testnode", "status=installing")
	if got, want := h.must(bin+"lsdef", "testnode"), "Object name: testnode\n    groups=compute,all\n    status=installing\n"; got != want {
		t.Errorf("lsdef after chdef = %q, want %q", got, want)
	}
	if got, want := h.must(bin+"lsdef"), "n2  (node)\ntestnode  (node)\n"; got != want {
		t.Errorf("lsdef = %q, want %q", got, want)
	}
	if got, want := h.must(bin+"nodels"), "n2\ntestnode\n"; got != want {
		t.Errorf("nodels = %q, want %q", got, want)
	}
	if got, want := h.must(bin+"nodels", "compute", "groups"), "testnode: compute,all\n"; got != want {
		t.Errorf("nodels compute groups = %q, want %q", got, want)
	}
	h.expect(1, "", "Error: Invalid nodes and/or groups in noderange: ghost", bin+"nodels", "ghost")
	h.expect(1, "", "Error: Could not find an object named 'ghost' of type 'node'.\n", bin+"lsdef", "ghost")
	h.expect(0, "\"testnode\",\"compute,all\",\"installing\",", "", bin+"tabdump", "nodelist")

	h.expect(0, "1 object definitions have been removed.", "", bin+"rmdef", "-t", "node", "-o", "testnode")
	h.expect(1, "", "Error: Could not find an object named 'testnode' of type 'node'.", bin+"lsdef", "testnode")
	h.expect(1, "", "Error: Could not find an object named 'testnode' of type 'node'.", bin+"rmdef", "testnode")

	// nodeset knows the nodes and the osimages.
	h.expect(0, "n2: install rhels6.2-x86_64-compute", "", "/opt/xcat/sbin/nodeset", "n2", "osimage=rhels6.2-x86_64-install-compute")
	h.expect(1, "", "Invalid nodes and/or groups in noderange: testnode", "/opt/xcat/sbin/nodeset", "testnode", "osimage=rhels6.2-x86_64-install-compute")
	h.expect(1, "", "Cannot find the osimage", "/opt/xcat/sbin/nodeset", "n2", "osimage=nope")
	h.expect(0, "Handling n2 in /etc/hosts.", "", "/opt/xcat/sbin/makedns", "-n")
	h.expect(0, "Renamed existing dhcp configuration file", "", "/opt/xcat/sbin/makedhcp", "-n")
	h.expect(0, "", "", "/opt/xcat/sbin/makedhcp", "-a")
	h.expect(0, "", "", "/opt/xcat/sbin/makeconservercf")
	h.expect(0, "n2: Created", "", "/opt/xcat/sbin/makegocons")
}

func TestUnsupportedDatabase(t *testing.T) {
	h := newHost(t, "linux")
	h.startXcatd()
	writeFile(t, filepath.Join(h.root, standins.CfgLoc), "mysql:dbname=xcatdb;host=198.51.100.10|xcatadmin|secret\n")
	h.expect(1, "", `"mysql" in /etc/xcat/cfgloc is not supported by the stand-in yet`, "/opt/xcat/bin/lsdef", "-t", "node")
	// osimages do not live in the node database.
	h.expect(0, "rhels6.2-x86_64-install-compute  (osimage)", "", "/opt/xcat/bin/lsdef", "-t", "osimage")
}

func TestLsdefOSImageGolden(t *testing.T) {
	h := newHost(t, "aix")
	h.startXcatd()
	got := h.must("/opt/xcat/bin/lsdef", "-t", "osimage", "-l")
	golden := filepath.Join("testdata", "lsdef-osimage-aix.golden")
	if *update {
		writeFile(t, golden, got)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("lsdef -t osimage -l differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
	short := h.must("/opt/xcat/bin/lsdef", "-t", "osimage")
	if want := "61cosi  (osimage)\n61dskls  (osimage)\n71bosi  (osimage)\n71sdskls  (osimage)\n"; short != want {
		t.Errorf("lsdef -t osimage = %q, want %q", short, want)
	}
	if got, want := h.must("/opt/xcat/bin/lsdef", "-t", "osimage", "-o", "71bosi", "-i", "lpp_source,spot,root"),
		"Object name: 71bosi\n    lpp_source=71bosi_lpp_source\n    spot=71bosi\n    root=\n"; got != want {
		t.Errorf("lsdef -i = %q, want %q", got, want)
	}
	h.expect(1, "", "Error: Could not find an object named 'nope' of type 'osimage'.", "/opt/xcat/bin/lsdef", "-t", "osimage", "nope")

	// osimages can be defined and removed too.
	h.must("/opt/xcat/bin/mkdef", "-t", "osimage", "-o", "72test", "imagetype=NIM", "lpp_source=72test_lpp_source", "spot=72test")
	h.expect(0, "72test  (osimage)", "", "/opt/xcat/bin/lsdef", "-t", "osimage")
	h.must("/opt/xcat/bin/rmdef", "-t", "osimage", "-o", "72test")
	if got := h.must("/opt/xcat/bin/lsdef", "-t", "osimage", "-l"); got != string(want) {
		t.Errorf("after mkdef+rmdef the osimages changed:\n%s", got)
	}
}

func TestNIM(t *testing.T) {
	h := newHost(t, "aix")
	seedStandby(t, h)
	aix := "/opt/aix/bin/"
	h.expect(1, "", `0042-053 lsnim: there is no NIM object named "master"`, aix+"lsnim")
	h.expect(1, "", "0042-053 nim: there is no NIM object named \"master\"", aix+"nim", "-Fo", "define", "-t", "lpp_source",
		"-a", "server=master", "-a", "location=/install/nim/lpp_source/61cosi_lpp_source", "61cosi_lpp_source")
	h.expect(1, "", "not available", aix+"nim_master_setup", "-a", "mk_resource=no", "-a", "device=/install/missing")
	h.expect(0, "NIM master setup is complete", "", aix+"nim_master_setup", "-a", "mk_resource=no", "-a", "device=/install/nim/lpp_source/61cosi_lpp_source")
	h.expect(0, "master           machines         master\n", "", aix+"lsnim")

	define := []string{"-Fo", "define", "-t", "lpp_source", "-a", "server=master", "-a", "location=/install/nim/lpp_source/61cosi_lpp_source", "61cosi_lpp_source"}
	h.must(aix+"nim", define...)
	h.expect(1, "", "0042-001 nim: processing error encountered on \"master\":\n   0042-081 m_mkres: a resource already exists with the name \"61cosi_lpp_source\"\n", aix+"nim", define...)

	h.expect(1, "", "does not exist", aix+"nim", "-Fo", "define", "-t", "lpp_source", "-a", "server=master", "-a", "location=/install/nim/lpp_source/nothere", "x_lpp_source")
	h.must("/opt/aix/nim/methods/m_mkspot", "-o", "-a", "server=master", "-a", "location=/install/nim/spot/", "-a", "source=no", "61cosi")
	h.expect(1, "", "0042-081 m_mkspot: a resource already exists with the name \"61cosi\"", "/opt/aix/nim/methods/m_mkspot", "-o", "-a", "server=master", "-a", "location=/install/nim/spot/", "-a", "source=no", "61cosi")
	h.expect(0, "   location      = /install/nim/spot/61cosi/usr\n", "", aix+"lsnim", "-l", "61cosi")
	h.expect(0, "61cosi_lpp_source:\n   class       = resources\n   type        = lpp_source\n", "", aix+"lsnim", "-l", "61cosi_lpp_source")
	if got, want := h.must(aix+"lsnim", "-t", "spot"), "61cosi           resources        spot\n"; got != want {
		t.Errorf("lsnim -t spot = %q, want %q", got, want)
	}
	h.expect(1, "", `0042-053 lsnim: there is no NIM object named "nope"`, aix+"lsnim", "-l", "nope")

	// nimnodeset needs every resource of the osimage.
	h.startXcatd()
	h.must("/opt/xcat/bin/mkdef", "-t", "node", "-o", "cn1", "groups=compute,all")
	h.expect(1, "", "The NIM resource '61cosi_bosinst_data' of osimage '61cosi' is not defined.", "/opt/xcat/sbin/nimnodeset", "-i", "61cosi", "cn1")
	seeded, err := standins.SeedNIMResources()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range seeded {
		switch r.Name {
		case "61cosi_bosinst_data", "xCATaixSSH", "mypkgs", "xcataixscript":
			h.must(aix+"nim", "-Fo", "define", "-t", r.Type, "-a", "server=master", "-a", "location="+r.Location, r.Name)
		}
	}
	h.expect(0, "AIX/NIM nodes were initialized.", "", "/opt/xcat/sbin/nimnodeset", "-i", "61cosi", "cn1")
	h.expect(0, "cn1              machines         standalone", "", aix+"lsnim", "-c", "machines")

	h.must(aix+"nim", "-o", "remove", "xcataixscript")
	h.expect(1, "", `0042-053 nim: there is no NIM object named "xcataixscript"`, aix+"nim", "-o", "remove", "xcataixscript")
	// NIM creates the directories of root, paging, ... resources itself.
	h.must(aix+"nim", "-Fo", "define", "-t", "paging", "-a", "server=master", "-a", "location=/install/nim/paging/new_paging", "new_paging")
	if fi, err := os.Stat(filepath.Join(h.root, "/install/nim/paging/new_paging")); err != nil || !fi.IsDir() {
		t.Errorf("paging location not created: %v", err)
	}
}

func TestFaults(t *testing.T) {
	h := newHost(t, "aix")
	seedStandby(t, h)
	h.must("/opt/aix/bin/nim_master_setup", "-a", "mk_resource=no", "-a", "device=/install/nim/lpp_source/71bosi_lpp_source")
	seven := 7
	err := standins.WriteFaults(h.root, []standins.Fault{
		{Command: "nim", ArgsContain: "71bosi", Stderr: "0042-001 nim: injected failure", Times: 1},
		{Command: "lsnim", Exit: &seven, Stdout: "partial\n"},
	})
	if err != nil {
		t.Fatal(err)
	}
	define := []string{"-Fo", "define", "-t", "lpp_source", "-a", "server=master", "-a", "location=/install/nim/lpp_source/71bosi_lpp_source", "71bosi_lpp_source"}
	h.expect(1, "", "0042-001 nim: injected failure\n", "/opt/aix/bin/nim", define...)
	rules, err := standins.ReadFaults(h.root)
	if err != nil || len(rules) != 1 || rules[0].Command != "lsnim" {
		t.Fatalf("after the one-shot fault fired, rules = %+v, %v", rules, err)
	}
	h.must("/opt/aix/bin/nim", define...) // the one-shot rule is used up
	for range 2 {                         // times absent: always
		h.expect(7, "partial\n", "", "/opt/aix/bin/lsnim")
	}
	if err := standins.WriteFaults(h.root, nil); err != nil {
		t.Fatal(err)
	}
	h.expect(0, "71bosi_lpp_source", "", "/opt/aix/bin/lsnim")

	// Failed calls are recorded like the others.
	var nimCalls []standins.Call
	for _, c := range h.calls() {
		if c.Command == "nim" {
			nimCalls = append(nimCalls, c)
		}
	}
	if len(nimCalls) != 2 || nimCalls[0].Exit != 1 || nimCalls[1].Exit != 0 {
		t.Errorf("nim calls = %+v", nimCalls)
	}
}

func TestCallLog(t *testing.T) {
	h := newHost(t, "linux")
	h.startXcatd()
	h.must("/opt/xcat/bin/mkdef", "-t", "node", "-o", "testnode", "groups=all")
	h.run("/opt/xcat/bin/lsdef", "ghost")
	h.must("/etc/init.d/xcatd", "stop")

	calls := h.calls()
	hostname, _ := os.Hostname()
	u, _ := user.Current()
	type brief struct {
		cmd  string
		args string
		exit int
	}
	var got []brief
	for i, c := range calls {
		if c.Host != hostname || c.User != u.Username || c.Time.IsZero() {
			t.Errorf("call %d: host %q user %q time %v", i, c.Host, c.User, c.Time)
		}
		if c.Args == nil {
			t.Errorf("call %d: args is null", i)
		}
		got = append(got, brief{c.Command, strings.Join(c.Args, " "), c.Exit})
	}
	// The daemon records itself when it exits, before the stop returns.
	want := []brief{
		{"/etc/init.d/xcatd", "start", 0},
		{"mkdef", "-t node -o testnode groups=all", 0},
		{"lsdef", "ghost", 1},
		{"xcatd", "", 0},
		{"/etc/init.d/xcatd", "stop", 0},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls:\n got %v\nwant %v", got, want)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i].Time.Before(calls[i-1].Time) && calls[i].Command != "xcatd" {
			t.Errorf("call %d earlier than call %d", i, i-1)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(h.root, standins.CallLog))
	if !bytes.HasPrefix(raw, []byte(`{"time":"`)) || bytes.Count(raw, []byte("\n")) != len(calls) {
		t.Errorf("call log is not one JSON object per line:\n%s", raw)
	}
}

func TestSRC(t *testing.T) {
	h := newHost(t, "aix")
	aix := "/opt/aix/bin/"
	h.expect(0, "Subsystem         Group            PID          Status\n xcatd                                          inoperative\n", "", aix+"lssrc", "-s", "xcatd")
	h.expect(1, "", "0513-004 The Subsystem or Group, xcatd, is currently inoperative.", aix+"stopsrc", "-s", "xcatd")
	h.expect(0, "0513-059 The xcatd Subsystem has been started. Subsystem PID is ", "", aix+"startsrc", "-s", "xcatd")
	h.expect(1, "", "0513-029 The xcatd Subsystem is already active.", aix+"startsrc", "-s", "xcatd")
	out := h.must(aix+"lssrc", "-s", "xcatd")
	if !strings.HasSuffix(out, "active\n") || strings.Contains(out, "inoperative") {
		t.Errorf("lssrc -s xcatd while running = %q", out)
	}
	// The init script and SRC drive the same daemon.
	h.expect(0, "xcatd service is running", "", "/etc/init.d/xcatd", "status")
	h.must(aix+"startsrc", "-s", "dhcpsd")
	h.expect(0, "dhcpsd           tcpip", "", aix+"lssrc", "-g", "tcpip")
	h.expect(0, "0513-044 The xcatd Subsystem was requested to stop.", "", aix+"stopsrc", "-s", "xcatd")
	h.expect(0, "inoperative", "", aix+"lssrc", "-s", "xcatd")
	h.expect(0, "inoperative", "", aix+"lssrc", "-s", "named") // AIX's own name server, group tcpip
	h.expect(1, "", "0513-085 The nfsd Subsystem is not on file.", aix+"lssrc", "-s", "nfsd")
}

func TestMktcpipDryRun(t *testing.T) {
	h := newHost(t, "aix")
	// The guide's command line, as the shell hands it over.
	out, errOut, code := h.run("/opt/aix/bin/mktcpip", "-haixmn1", "-a9.114.47.103", "-m255.255.255.192", "-ien1", "-g9.114.47.126", "-Ano", "-tN/A", "-s")
	if code != 0 || out != "en1\naixmn1\ninet0 changed\n" {
		t.Errorf("mktcpip: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if want := "dry-run: ip addr replace 9.114.47.103/26 dev eth0\ndry-run: hostname aixmn1\n"; errOut != want {
		t.Errorf("mktcpip actions = %q, want %q", errOut, want)
	}
	h.expect(0, "en1\naixmn1\n", "", "/opt/aix/bin/mktcpip", "-h", "aixmn1", "-a", "198.51.100.10", "-m", "255.255.255.0", "-i", "en1", "-A", "no", "-t", "N/A", "-s", "")
	h.expect(1, "", "-h, -a and -i are required", "/opt/aix/bin/mktcpip", "-h", "aixmn1")
	h.expect(1, "", "not a valid subnet mask", "/opt/aix/bin/mktcpip", "-h", "x", "-a", "198.51.100.10", "-m", "255.0.255.0", "-i", "en1")
}

func TestConcurrentCalls(t *testing.T) {
	h := newHost(t, "aix")
	seedStandby(t, h)
	h.must("/opt/aix/bin/nim_master_setup", "-a", "mk_resource=no", "-a", "device=/install/nim/lpp_source/61cosi_lpp_source")
	const n = 6
	codes := make(chan string, 3*n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(3)
		go func() {
			defer wg.Done()
			out, errOut, code := h.run("/etc/init.d/xcatd", "start")
			codes <- fmt.Sprintf("start %d %q %q", code, out, errOut)
		}()
		go func() {
			defer wg.Done()
			_, errOut, code := h.run("/opt/aix/bin/nim", "-Fo", "define", "-t", "paging", "-a", "server=master",
				"-a", fmt.Sprintf("location=/install/nim/paging/p%d", i), fmt.Sprintf("p%d_paging", i))
			codes <- fmt.Sprintf("nim %d %q", code, errOut)
		}()
		go func() {
			defer wg.Done()
			// The JSON node table must not lose concurrent writes either;
			// xcatd may not be up yet, so retry until it answers.
			for {
				_, errOut, code := h.run("/opt/xcat/bin/mkdef", "-t", "node", "-o", fmt.Sprintf("cn%d", i), "groups=all")
				if code == 0 || !strings.Contains(errOut, "Unable to open socket") {
					codes <- fmt.Sprintf("mkdef %d %q", code, errOut)
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if !strings.Contains(c, " 0 ") {
			t.Error(c)
		}
	}
	if got := strings.Count(h.must("/opt/aix/bin/lsnim", "-t", "paging"), "\n"); got != n {
		t.Errorf("%d paging resources, want %d", got, n)
	}
	if got := strings.Count(h.must("/opt/xcat/bin/nodels"), "\n"); got != n {
		t.Errorf("%d nodes, want %d", got, n)
	}
	daemons := 0
	for _, c := range h.calls() {
		if c.Command == "xcatd" {
			daemons++ // a daemon records itself when it exits
		}
	}
	if daemons != 0 {
		t.Errorf("%d extra xcatd daemons started and exited", daemons)
	}
}

func TestUnknownCommand(t *testing.T) {
	h := newHost(t, "linux")
	h.expect(127, "", "command not provided by the stand-in", standins.StandinExe, "rpower", "all", "on")
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// seedStandby gives h a standby's /install (SeedInstallDir, as rsync from
// the primary leaves it) without the primary's NIM database.
func seedStandby(t *testing.T, h *host) {
	t.Helper()
	if err := standins.SeedInstallDir(h.root, "aix"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(h.root, standins.NIMState)); err != nil {
		t.Fatal(err)
	}
}

// TestSeedPrimaryNIM: the seeded primary is the NIM master that made the
// seed osimages' resources, each at the location lsnim -l shows, also one
// off xCAT's convention.
func TestSeedPrimaryNIM(t *testing.T) {
	h := newHost(t, "aix")
	if err := standins.SeedInstallDir(h.root, "aix"); err != nil {
		t.Fatal(err)
	}
	h.expect(0, "   location    = /install/nim/mypkgs.bnd\n", "", "/opt/aix/bin/lsnim", "-l", "mypkgs")
	h.expect(0, "   location    = /install/nim/spot/61cosi/usr\n", "", "/opt/aix/bin/lsnim", "-l", "61cosi")
	all := h.must("/opt/aix/bin/lsnim", "-l", "-c", "resources")
	if n := strings.Count(all, "   location"); n != 25 {
		t.Errorf("%d resources with a location, want the 25 the seed osimages name:\n%s", n, all)
	}
	rs, err := standins.SeedNIMResources()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if _, err := os.Stat(filepath.Join(h.root, r.Location)); err != nil {
			t.Errorf("%s %s: its location is not under the seeded /install: %v", r.Type, r.Name, err)
		}
	}
}

// dumpxCATdb writes a CSV per table, through xcatd or, with XCATBYPASS,
// without it (xCAT-client/sbin/dumpxCATdb, perl-xCAT/xCAT/Client.pm:158).
func TestDumpxCATdb(t *testing.T) {
	h := newHost(t, "linux")
	sbin := "/opt/xcat/sbin/"
	h.expect(1, "", "Requires -p with path", sbin+"dumpxCATdb")
	h.expect(1, "", "Unable to open socket connection to xcatd", sbin+"dumpxCATdb", "-p", "/snap/a")
	h.env = append(h.env, "XCATBYPASS=1")
	h.expect(0, "Backup Complete.", "", sbin+"dumpxCATdb", "-p", "/snap/b")
	for _, table := range []string{"nodelist", "osimage", "site"} {
		b, err := os.ReadFile(filepath.Join(h.root, "snap/b", table+".csv"))
		if err != nil || !strings.HasPrefix(string(b), "#") {
			t.Errorf("%s.csv: %q %v", table, b, err)
		}
	}
}
