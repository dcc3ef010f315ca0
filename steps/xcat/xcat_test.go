package xcat

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/act/acttest"
	"github.com/hamnflow/hamnflow/workflow"
)

func TestCommandsAreTheOneOf(t *testing.T) {
	if got := workflow.SpecOf(&CommandArgs{}).Field("command").OneOf; !reflect.DeepEqual(got, Commands) {
		t.Errorf("oneof %q, Commands %q", got, Commands)
	}
}

func TestDecodeArgs(t *testing.T) {
	acts := Actions(nil)
	tests := []struct {
		action string
		vals   map[string]any
		want   any
		bad    string
		msg    string
	}{
		{"xcat_cmd", map[string]any{"command": "makedns", "args": "-n"}, &CommandArgs{"makedns", "-n"}, "", ""},
		{"xcat_cmd", map[string]any{"command": "makeconservercf"}, &CommandArgs{Command: "makeconservercf"}, "", ""},
		{"xcat_cmd", map[string]any{"command": "rm", "args": "-rf /"}, nil, "command", `"rm" is not one of makedns, makedhcp`},
		{"xcat_cmd", map[string]any{"args": "-n"}, nil, "command", `needs argument "command"`},
		{"xcat_cmd", map[string]any{"command": "makedns", "arg": "-n"}, nil, "arg", `did you mean "args"?`},
		{"xcat_cmd", map[string]any{"command": []string{"makedns", "makedhcp"}}, nil, "command", "is a list"},
		{"xcat_osimages", map[string]any{"installdir": "/install"}, &OSImagesArgs{"/install"}, "", ""},
		{"xcat_osimages", map[string]any{}, &OSImagesArgs{}, "", ""},
		{"xcat_osimages", map[string]any{"install_dir": "/install"}, nil, "install_dir", `did you mean "installdir"?`},
		{"xcat_osimages", map[string]any{"installdir": []string{"/install", "/srv"}}, nil, "installdir", "is a list"},
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

// TestPlanIsWhatRuns: each action runs exactly the commands its plan
// shows, in order; the check of /install reads on stdin the paths the
// listing named.
func TestPlanIsWhatRuns(t *testing.T) {
	tests := []struct {
		action string
		vals   map[string]any
		want   []string
	}{
		{"xcat_cmd", map[string]any{"command": "makedns", "args": "-n"}, []string{"PATH=/opt/xcat/bin:/opt/xcat/sbin:$PATH; export PATH\nmakedns -n"}},
		{"xcat_cmd", map[string]any{"command": "nodeset", "args": `"$(echo 'cn1 cn2' | tr -s " +" ",,")" osimage`}, nil},
		{"xcat_osimages", map[string]any{}, []string{"PATH=/opt/xcat/bin:/opt/xcat/sbin:$PATH; export PATH\nlsdef -t osimage -l"}},
		{"xcat_osimages", map[string]any{"installdir": "/install"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			rec := &acttest.Recorder{Answer: acttest.Contains(map[string]acttest.Reply{"lsdef -t osimage -l": {Stdout: linuxOSImages}})}
			a := Actions(acttest.Env(rec))[tt.action]
			args := a.NewArgs()
			if errs := workflow.DecodeArgs(args, tt.vals, nil); len(errs) > 0 {
				t.Fatal(errs)
			}
			plan := a.Plan("mn2", args)
			if tt.want != nil && !reflect.DeepEqual(plan, tt.want) {
				t.Errorf("plan %q, want %q", plan, tt.want)
			}
			o, err := a.Run(context.Background(), workflow.Call{Host: "mn2", Args: args})
			if err != nil {
				t.Fatal(err)
			}
			if ran := rec.Scripts(); !reflect.DeepEqual(plan, ran) {
				t.Errorf("plan:\n%s\nran:\n%s", strings.Join(plan, "\n--\n"), strings.Join(ran, "\n--\n"))
			}
			if o.Command != strings.Join(plan, "\n") {
				t.Errorf("outcome command %q", o.Command)
			}
			for _, e := range rec.Execs() {
				if e.Host != "mn2" {
					t.Errorf("ran on %s", e.Host)
				}
			}
		})
	}
}

func TestOSImagesMissing(t *testing.T) {
	rec := &acttest.Recorder{}
	rec.Answer = func(e acttest.Exec) acttest.Reply {
		if strings.Contains(e.Script, "lsdef") {
			return acttest.Reply{Stdout: linuxOSImages}
		}
		return acttest.Reply{Stdout: "missing /install/updates/rhels6.2\n"}
	}
	a := Actions(acttest.Env(rec))["xcat_osimages"]
	o, err := a.Run(context.Background(), workflow.Call{Host: "mn2", Args: &OSImagesArgs{Installdir: "/install"}})
	if err == nil || !strings.Contains(err.Error(), "/install/updates/rhels6.2 (rhels6.2-x86_64-install-compute)") || !strings.Contains(err.Error(), "guide 6.2") {
		t.Errorf("err = %v", err)
	}
	if o.Outputs["count"] != "2" || o.Outputs["names"] != "rhels6.2-x86_64-install-compute,sles11.1-ppc64-netboot-service" || o.Outputs["missing"] != "/install/updates/rhels6.2 (rhels6.2-x86_64-install-compute)" {
		t.Errorf("outputs %v", o.Outputs)
	}
	if len(o.Items) != 2 || o.Items[0]["provmethod"] != "install" || o.Items[0]["imagetype"] != "linux" {
		t.Errorf("items %v", o.Items)
	}
	execs := rec.Execs()
	want := "/install/custom/install/rh/compute.otherpkgs.pkglist\n/install/custom/install/rh/compute.rhels6.pkglist\n" +
		"/install/custom/netboot/rh/compute.postinstall\n/install/custom/syncfiles/a\n/install/custom/syncfiles/b\n" +
		"/install/post/otherpkgs/rhels6.2/x86_64\n/install/rhels6.2/x86_64\n/install/updates/rhels6.2\n/install/netboot/sles11.1/ppc64/service\n/install/sles11.1/ppc64\n"
	if len(execs) != 2 || execs[1].Stdin != want {
		t.Errorf("check's stdin %q, want %q", execs[1].Stdin, want)
	}
}

// TestCheckScript runs checkScript under /bin/sh on a real directory.
func TestCheckScript(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(dir+"/rhels6.2/x86_64", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		dir, stdin, want string
	}{
		{dir, dir + "/rhels6.2/x86_64\n" + dir + "/nope\n" + dir + "/it's here\n", "missing " + dir + "/nope\nmissing " + dir + "/it's here\n"},
		{dir, "", ""},
		{dir + "/gone", dir + "/gone/x\n", "missing " + dir + "/gone\nmissing " + dir + "/gone/x\n"},
	} {
		cmd := exec.Command("/bin/sh", "-c", checkScript(tt.dir))
		cmd.Stdin = strings.NewReader(tt.stdin)
		out, err := cmd.Output()
		if err != nil || string(out) != tt.want {
			t.Errorf("check %s with %q: %q %v, want %q", tt.dir, tt.stdin, out, err, tt.want)
		}
	}
}

func TestCommandItems(t *testing.T) {
	rec := &acttest.Recorder{Answer: func(acttest.Exec) acttest.Reply {
		return acttest.Reply{Stdout: "cn001: netboot rhels6.2-x86_64-netboot-compute\ncn002: netboot rhels6.2-x86_64-netboot-compute\n"}
	}}
	a := Actions(acttest.Env(rec))["xcat_cmd"]
	o, err := a.Run(context.Background(), workflow.Call{Host: "mn2", Args: &CommandArgs{Command: "nodeset", Args: "cn001,cn002 netboot"}})
	if err != nil || len(o.Items) != 2 || o.Items[1]["name"] != "cn002" || !strings.HasPrefix(o.Items[1]["text"], "netboot") {
		t.Errorf("items %v %v", o.Items, err)
	}
	rec.Answer = func(acttest.Exec) acttest.Reply {
		return acttest.Reply{Exit: 1, Stderr: "Error: [mn2]: cn003: no mac\n"}
	}
	if _, err := a.Run(context.Background(), workflow.Call{Host: "mn2", Args: &CommandArgs{Command: "makedhcp", Args: "-a"}}); err == nil || !strings.Contains(err.Error(), "makedhcp on mn2") || !strings.Contains(err.Error(), "no mac") {
		t.Errorf("failing command: %v", err)
	}
	if _, err := a.Run(context.Background(), workflow.Call{Host: "mn2", Args: &CommandArgs{Command: "reboot"}}); err == nil || !strings.Contains(err.Error(), "not an xCAT command") {
		t.Errorf("unknown command: %v", err)
	}
}
