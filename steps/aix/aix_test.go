package aix

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/act/acttest"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

func decode(t *testing.T, a workflow.Action, vals map[string]any) any {
	t.Helper()
	args := a.NewArgs()
	if errs := workflow.DecodeArgs(args, vals, nil); len(errs) > 0 {
		t.Fatal(errs)
	}
	return args
}

func TestDecodeArgs(t *testing.T) {
	acts := Actions(nil)
	mk := map[string]any{"hostname": "aixmn1", "address": "9.114.47.103", "interface": "en1"}
	tests := []struct {
		action string
		vals   map[string]any
		want   any
		bad    string
		msg    string
	}{
		{"mktcpip", mk, &MktcpipArgs{Hostname: "aixmn1", Address: "9.114.47.103", Interface: "en1", Autoconf: "no", Cable: "N/A"}, "", ""},
		{"mktcpip", map[string]any{"hostname": "aixmn1", "address": "9.114.47.103", "interface": "en1", "autoconf": "yes", "cable": "tp", "path": "/opt/aix/bin"},
			&MktcpipArgs{Hostname: "aixmn1", Address: "9.114.47.103", Interface: "en1", Autoconf: "yes", Cable: "tp", Common: Common{"/opt/aix/bin"}}, "", ""},
		{"mktcpip", map[string]any{"hostname": "aixmn1", "address": "9.114.47.103", "interface": "en1", "autoconf": "true"}, nil, "autoconf", `"true" is not one of yes, no`},
		{"mktcpip", map[string]any{"hostname": "aixmn1", "address": "9.114.47.103", "interface": "en1", "cable": "cat6"}, nil, "cable", `not one of bnc, dix, tp, N/A`},
		{"mktcpip", map[string]any{"hostname": "aixmn1", "address": "9.114.47.103"}, nil, "interface", `needs argument "interface"`},
		{"mktcpip", map[string]any{"hostname": "aixmn1", "address": "9.114.47.103", "interface": "en1", "netmaks": "x"}, nil, "netmaks", `did you mean "netmask"?`},
		{"mktcpip", map[string]any{"hostname": []string{"aixmn1", "aixmn2"}, "address": "9.114.47.103", "interface": "en1"}, nil, "hostname", "is a list"},
		{"aix_osimages", map[string]any{"installdir": "/install", "path": ""}, &OSImagesArgs{Installdir: "/install"}, "", ""},
		{"aix_osimages", map[string]any{"installdir": []string{"/install"}}, nil, "installdir", "is a list"},
		{"aix_osimages", map[string]any{"install": "/install"}, nil, "install", `did you mean "installdir"?`},
		{"nim_master", map[string]any{"device": "/install/nim/lpp_source"}, &NIMMasterArgs{Device: "/install/nim/lpp_source"}, "", ""},
		{"nim_master", map[string]any{}, nil, "device", `needs argument "device"`},
		{"nim_master", map[string]any{"device": []string{"/a", "/b"}}, nil, "device", "is a list"},
		{"nim_master", map[string]any{"device": "/a", "force": "true"}, nil, "force", `has no argument "force"`},
		{"nim_resource", map[string]any{"name": "r", "type": "script", "location": "/install/nim/scripts/r"}, &NIMResourceArgs{Name: "r", Type: "script", Location: "/install/nim/scripts/r", Server: "master"}, "", ""},
		{"nim_resource", map[string]any{"name": "r", "type": "script", "location": "/x", "sever": "master"}, nil, "sever", `did you mean "server"?`},
		{"nim_resource", map[string]any{"name": "r", "type": []string{"script", "root"}, "location": "/x"}, nil, "type", "is a list"},
		{"nim_osimage", map[string]any{"osimage": "61cosi", "lpp_source": "61cosi_lpp_source", "shared_home": "/install/nim/shared_home/x"},
			&NIMOSImageArgs{OSImage: "61cosi", LppSource: "61cosi_lpp_source", SharedHome: "/install/nim/shared_home/x", Server: "master"}, "", ""},
		{"nim_osimage", map[string]any{"osimage": "61cosi", "paging": []string{"/a", "/b"}}, nil, "paging", "is a list"},
		{"nim_osimage", map[string]any{"osimage": "61cosi", "resources": "a"}, nil, "resources", `has no argument "resources"`},
		{"nim_exists", map[string]any{"names": "master"}, &NIMExistsArgs{Names: []string{"master"}}, "", ""},
		{"nim_exists", map[string]any{"names": "61cosi_lpp_source\n61cosi\n"}, &NIMExistsArgs{Names: []string{"61cosi_lpp_source", "61cosi"}}, "", ""},
		{"nim_exists", map[string]any{"names": []string{"a", "b"}}, &NIMExistsArgs{Names: []string{"a", "b"}}, "", ""},
		{"nim_exists", map[string]any{"names": "master", "name": "master"}, nil, "name", `did you mean "names"?`},
		{"nim_exists", map[string]any{"names": "master", "path": []string{"/a", "/b"}}, nil, "path", "is a list"},
		{"nim_nodes", map[string]any{"nodes": "compute", "osimage": "61cosi"}, &NIMNodesArgs{Nodes: []string{"compute"}, OSImage: "61cosi"}, "", ""},
		{"nim_nodes", map[string]any{"nodes": []string{"cn01", "cn02"}, "osimage": "61cosi", "command": "mkdsklsnode"}, &NIMNodesArgs{Nodes: []string{"cn01", "cn02"}, OSImage: "61cosi", Command: "mkdsklsnode"}, "", ""},
		{"nim_nodes", map[string]any{"nodes": "compute", "osimage": "61cosi", "command": "nodeset"}, nil, "command", `"nodeset" is not one of nimnodeset, mkdsklsnode`},
		{"nim_nodes", map[string]any{"nodes": "compute", "osimage": []string{"a", "b"}}, nil, "osimage", "is a list"},
		{"nim_nodes", map[string]any{"nodes": "compute", "osimage": "61cosi", "noderange": "compute"}, nil, "noderange", `has no argument "noderange"`},
	}
	for _, tt := range tests {
		t.Run(tt.action+" "+tt.bad, func(t *testing.T) {
			got := acts[tt.action].NewArgs()
			errs := workflow.DecodeArgs(got, tt.vals, nil)
			if tt.bad == "" {
				if len(errs) > 0 || !reflect.DeepEqual(got, tt.want) {
					t.Errorf("decoded %+v %v, want %+v", got, errs, tt.want)
				}
				return
			}
			var ae *workflow.ArgError
			if len(errs) != 1 || !errors.As(errs[0], &ae) || ae.Arg != tt.bad || !strings.Contains(ae.Msg, tt.msg) {
				t.Errorf("errors %v, want one naming %s with %q", errs, tt.bad, tt.msg)
			}
		})
	}
}

// Every resource attribute aix_osimages' items carry is an argument of
// nim_osimage, so that a playbook can pass them all.
func TestNIMOSImageTakesEveryResource(t *testing.T) {
	spec := workflow.SpecOf(&NIMOSImageArgs{})
	for _, k := range append([]string{"lpp_source", "spot"}, NIMResourceTypes...) {
		if spec.Field(k) == nil {
			t.Errorf("nim_osimage has no argument %s", k)
		}
		args := &NIMOSImageArgs{OSImage: "x"}
		if errs := workflow.DecodeArgs(args, map[string]any{"osimage": "x", k: "x_" + k}, nil); len(errs) > 0 {
			t.Fatal(errs)
		}
		if got := args.osimage().Attrs[k]; got != "x_"+k {
			t.Errorf("%s does not reach the osimage: %q", k, got)
		}
	}
}

func TestMktcpipFlags(t *testing.T) {
	// The guide's example (8.0 step 4).
	a := &MktcpipArgs{Hostname: "aixmn1", Address: "9.114.47.103", Netmask: "255.255.255.192", Interface: "en1", Gateway: "9.114.47.126", Autoconf: "no", Cable: "N/A"}
	want := `-h'aixmn1' -a'9.114.47.103' -m'255.255.255.192' -i'en1' -g'9.114.47.126' -A'no' -t'N/A' -s''`
	if got := a.Flags(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// What the shell passes on: attached values, -s alone.
	out, err := exec.Command("/bin/sh", "-c", "printf '%s\\n' "+want).Output()
	if err != nil {
		t.Fatal(err)
	}
	words := strings.Fields(string(out))
	wantWords := []string{"-haixmn1", "-a9.114.47.103", "-m255.255.255.192", "-ien1", "-g9.114.47.126", "-Ano", "-tN/A", "-s"}
	if !reflect.DeepEqual(words, wantWords) {
		t.Errorf("shell words %q, want %q", words, wantWords)
	}
	a.Gateway = ""
	if got := a.Flags(); strings.Contains(got, "-g") {
		t.Errorf("no gateway still gives -g: %s", got)
	}
	if got := (&MktcpipArgs{Hostname: "h", Address: "a", Interface: "en0"}).Flags(); !strings.Contains(got, "-A'no' -t'N/A'") {
		t.Errorf("defaults: %s", got)
	}
}

// TestPlanIsWhatRuns: each action runs exactly the commands its plan
// shows, in order.
func TestPlanIsWhatRuns(t *testing.T) {
	golden, err := os.ReadFile("../../integration/standins/testdata/lsdef-osimage-aix.golden")
	if err != nil {
		t.Fatal(err)
	}
	one := "Object name: 61dskls\n    imagetype=NIM\n    nimtype=diskless\n    spot=61dskls\n"
	tests := []struct {
		action string
		vals   map[string]any
		stdout string
		lines  int
	}{
		{"mktcpip", map[string]any{"hostname": "aixmn1", "address": "9.114.47.103", "interface": "en1", "path": "/opt/aix/bin"}, "", 1},
		{"aix_osimages", map[string]any{"installdir": "/install"}, string(golden), 1},
		{"nim_master", map[string]any{"device": "/install/nim/lpp_source"}, "created=master\n", 1},
		{"nim_resource", map[string]any{"name": "r", "type": "script", "location": "/install/nim/scripts/r"}, "created=r\n", 1},
		{"nim_osimage", map[string]any{"osimage": "61cosi", "lpp_source": "61cosi_lpp_source", "spot": "61cosi", "script": "61cosi_script", "locations": "61cosi_script=/install/nim/scripts/61cosi_script"}, "", 1},
		{"nim_locations", map[string]any{"if_reachable": "true"}, "b1:\n   class = resources\n   location = /x/b1.bnd\n", 1},
		{"nim_exists", map[string]any{"names": []string{"master", "61cosi"}}, "", 1},
		{"nim_nodes", map[string]any{"nodes": "compute", "osimage": "61cosi", "command": "nimnodeset"}, "", 1},
		{"nim_nodes", map[string]any{"nodes": []string{"cn01", "cn02"}, "osimage": "61dskls"}, one, 2},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			rec := &acttest.Recorder{Answer: func(acttest.Exec) acttest.Reply { return acttest.Reply{Stdout: tt.stdout} }}
			a := Actions(acttest.Env(rec))[tt.action]
			args := decode(t, a, tt.vals)
			plan := a.Plan("mn2", args)
			o, err := a.Run(context.Background(), workflow.Call{Host: "mn2", Args: args})
			if err != nil {
				t.Fatal(err)
			}
			if ran := rec.Scripts(); !reflect.DeepEqual(plan, ran) || len(plan) != tt.lines {
				t.Errorf("plan:\n%s\nran:\n%s", strings.Join(plan, "\n--\n"), strings.Join(ran, "\n--\n"))
			}
			if o.Command != strings.Join(plan, "\n") {
				t.Errorf("outcome command %q", o.Command)
			}
		})
	}
}

// TestScriptsRunUnderSh runs the AIX actions' scripts under /bin/sh
// against shell stand-ins for lsnim, nim, m_mkspot, nim_master_setup,
// lsdef, nimnodeset and mkdsklsnode, recording their calls.
func TestScriptsRunUnderSh(t *testing.T) {
	dir := t.TempDir()
	bin := dir + "/bin"
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(bin+"/"+name, []byte("#!/bin/sh\necho \""+name+" $*\" >> "+dir+"/calls\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// lsnim -l NAME succeeds when DIR/NAME exists; the defining commands
	// create it.
	write("lsnim", `for a; do n=$a; done; test -e `+dir+`/"$n" || { echo "0042-053 lsnim: there is no NIM object named \"$n\"" >&2; exit 1; }`)
	write("nim_master_setup", `touch `+dir+`/master`)
	write("lsdef", `echo "Object name: 61dskls"; echo "    imagetype=NIM"; echo "    nimtype=diskless"`)
	write("nimnodeset", ``)
	write("mkdsklsnode", ``)
	env := &act.Env{Transport: remote.Router{Local: remote.Local{}}}
	acts := Actions(env)
	run := func(action string, vals map[string]any) (workflow.Outcome, error) {
		t.Helper()
		vals["path"] = bin
		return acts[action].Run(context.Background(), workflow.Call{Args: decode(t, acts[action], vals)})
	}
	calls := func() string {
		b, _ := os.ReadFile(dir + "/calls")
		os.Remove(dir + "/calls")
		return string(b)
	}

	o, err := run("nim_master", map[string]any{"device": "/install/nim/lpp_source"})
	if err != nil || o.Outputs["initialized"] != "yes" {
		t.Errorf("nim_master: %v %v", o.Outputs, err)
	}
	if got := calls(); got != "lsnim -l master\nnim_master_setup -a mk_resource=no -a device=/install/nim/lpp_source\n" {
		t.Errorf("calls:\n%s", got)
	}
	if o, err = run("nim_master", map[string]any{"device": "/install/nim/lpp_source"}); err != nil || o.Outputs["initialized"] != "no" {
		t.Errorf("nim_master again: %v %v", o.Outputs, err)
	}
	if got := calls(); got != "lsnim -l master\n" {
		t.Errorf("calls:\n%s", got)
	}
	if strings.Contains(o.Stderr, "0042-053") {
		t.Errorf("lsnim's not-found message in the step's stderr: %q", o.Stderr)
	}

	// lsnim that cannot look: the object after it is not defined.
	write("lsnim", `exit 3`)
	if _, err = run("nim_resource", map[string]any{"name": "r", "type": "script", "location": "/x"}); err == nil || !strings.Contains(err.Error(), "look for NIM resource r") || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("lsnim exit 3: %v", err)
	}
	if got := calls(); got != "lsnim -l r\n" {
		t.Errorf("defined after lsnim failed:\n%s", got)
	}
	write("lsnim", `for a; do n=$a; done; test -e `+dir+`/"$n"`)

	// nim_nodes chooses by the osimage's nimtype.
	if o, err = run("nim_nodes", map[string]any{"nodes": []string{"cn01", "cn02"}, "osimage": "61dskls"}); err != nil || o.Outputs["command"] != "mkdsklsnode" {
		t.Errorf("nim_nodes: %v %v", o.Outputs, err)
	}
	if got := calls(); got != "lsdef -t osimage -l 61dskls\nmkdsklsnode -i 61dskls cn01,cn02\n" {
		t.Errorf("calls:\n%s", got)
	}
	write("lsdef", `echo "Object name: 61cosi"; echo "    imagetype=NIM"; echo "    nimtype=standalone"`)
	if o, err = run("nim_nodes", map[string]any{"nodes": "compute", "osimage": "61cosi"}); err != nil || o.Outputs["command"] != "nimnodeset" {
		t.Errorf("nim_nodes: %v %v", o.Outputs, err)
	}
	if got := calls(); got != "lsdef -t osimage -l 61cosi\nnimnodeset -i 61cosi compute\n" {
		t.Errorf("calls:\n%s", got)
	}
	write("lsdef", `echo "Object name: 61cosi"; echo "    imagetype=NIM"`)
	if o, err = run("nim_nodes", map[string]any{"nodes": "compute", "osimage": "61cosi"}); err != nil || o.Outputs["command"] != "nimnodeset" {
		t.Errorf("nim_nodes, no nimtype: %v %v", o.Outputs, err)
	}
	if got := calls(); got != "lsdef -t osimage -l 61cosi\nnimnodeset -i 61cosi compute\n" {
		t.Errorf("calls:\n%s", got)
	}
}

func TestNIMOSImageIdempotent(t *testing.T) {
	dir := t.TempDir()
	bin := dir + "/bin"
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// lsnim -l NAME succeeds when DIR/NAME exists; nim and m_mkspot create it.
	write := func(name, body string) {
		if err := os.WriteFile(bin+"/"+name, []byte("#!/bin/sh\necho \""+name+" $*\" >> "+dir+"/calls\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("lsnim", `for a; do n=$a; done; test -e `+dir+`/"$n"`)
	write("nim", `for a; do n=$a; done; case "$n" in *_script) echo "0042-154 m_mkres: no such file" >&2; exit 1;; esac; touch `+dir+`/"$n"`)
	write("m_mkspot", `for a; do n=$a; done; touch `+dir+`/"$n"`)
	env := &act.Env{Transport: remote.Router{Local: remote.Local{}}}
	act := Actions(env)["nim_osimage"]
	args := decode(t, act, map[string]any{"osimage": "61cosi", "lpp_source": "61cosi_lpp_source", "spot": "61cosi",
		"installp_bundle": "61cosi_installp_bundle", "script": "61cosi_script", "path": bin})
	o, err := act.Run(context.Background(), workflow.Call{Args: args})
	if err == nil || !strings.Contains(err.Error(), "61cosi_script") || !strings.Contains(err.Error(), "0042-154") ||
		!strings.Contains(err.Error(), "define NIM script resource 61cosi_script at /install/nim/scripts/61cosi_script") {
		t.Fatalf("want the script resource's failure, got %v", err)
	}
	if o.Outputs["created"] != "61cosi_lpp_source,61cosi,61cosi_installp_bundle" {
		t.Errorf("created before the failure: %q", o.Outputs["created"])
	}
	write("nim", `for a; do n=$a; done; touch `+dir+`/"$n"`)
	o, err = act.Run(context.Background(), workflow.Call{Args: args})
	if err != nil {
		t.Fatal(err)
	}
	if o.Outputs["created"] != "61cosi_script" || o.Outputs["existing"] != "61cosi_lpp_source,61cosi,61cosi_installp_bundle" {
		t.Errorf("second run: %v", o.Outputs)
	}
	calls, _ := os.ReadFile(dir + "/calls")
	if n := strings.Count(string(calls), "m_mkspot -o -a server=master -a location=/install/nim/spot/ -a source=no 61cosi"); n != 1 {
		t.Errorf("m_mkspot ran %d times:\n%s", n, calls)
	}
	exists := Actions(env)["nim_exists"]
	// The item's resources, one a line, as the playbooks pass them.
	img := OSImage{Name: "61cosi", Attrs: map[string]string{"lpp_source": "61cosi_lpp_source", "spot": "61cosi", "script": "61cosi_script"}}
	if _, err := exists.Run(context.Background(), workflow.Call{Args: decode(t, exists, map[string]any{
		"names": img.Item("/install")["resources"], "path": bin})}); err != nil {
		t.Errorf("nim_exists: %v", err)
	}
	o, err = exists.Run(context.Background(), workflow.Call{Args: decode(t, exists, map[string]any{"names": []string{"61cosi", "nope"}, "path": bin})})
	if err == nil || o.Outputs["missing"] != "nope" {
		t.Errorf("nim_exists with a missing object: %v %v", o.Outputs, err)
	}
	// The old comma-separated form is refused, not looked up as one name.
	if _, err := exists.Run(context.Background(), workflow.Call{Args: decode(t, exists, map[string]any{"names": "61cosi,61cosi_script", "path": bin})}); err == nil || !strings.Contains(err.Error(), "one name an element") {
		t.Errorf("comma-separated names: %v", err)
	}
}

func TestScriptsParse(t *testing.T) {
	a := &NIMNodesArgs{Nodes: []string{"cn01", "it's"}, OSImage: "61 cosi", Common: Common{"/opt/aix bin"}}
	for name, s := range map[string]string{
		"mktcpip": mktcpipScript(&MktcpipArgs{Hostname: "a'b", Address: "1", Interface: "en1"}),
		"ensure":  resourcesScript("/p q", []NIMResource{{"n'1", "spot", "/x y/"}, {"n2", "root", "/r"}}, "master"),
		"exists":  existsScript(&NIMExistsArgs{Names: []string{"a", "b c"}}),
		"choose":  chooseScript(a), "list": listScript("", "61 cosi"),
	} {
		if out, err := exec.Command("/bin/sh", "-n", "-c", s).CombinedOutput(); err != nil {
			t.Errorf("%s: sh -n: %v\n%s\n%s", name, err, out, s)
		}
	}
}
