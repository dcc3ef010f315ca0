package steps

import (
	"context"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/remote"
)

func TestParseOSImages(t *testing.T) {
	golden, err := os.ReadFile("../integration/standins/testdata/lsdef-osimage-aix.golden")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		out     string
		want    []string // name:nimtype:resources
		wantErr bool
	}{
		{"stand-in golden", string(golden), []string{
			"61cosi:standalone:61cosi_lpp_source,61cosi,61cosi_installp_bundle,61cosi_script",
			"61dskls:diskless:61dskls_lpp_source,61dskls,61dskls_root,61dskls_tmp,61dskls_home,61dskls_shared_home,61dskls_dump,61dskls_paging",
			"71bosi:standalone:71bosi_lpp_source,71bosi,71bosi_installp_bundle,71bosi_script",
			"71sdskls:diskless:71sdskls_lpp_source,71sdskls,71sdskls_shared_root,71sdskls_dump,71sdskls_paging",
		}, false},
		{"none", "Could not find any object definitions to display.\n", nil, false},
		{"value with =", "Object name: x\n    imagetype=NIM\n    comments=a=b\n", []string{"x::"}, false},
		{"attribute before object", "    imagetype=NIM\n", nil, true},
		{"unindented attribute", "Object name: x\nimagetype=NIM\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imgs, err := ParseOSImages(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			var got []string
			for _, img := range imgs {
				it := img.Item("/install")
				got = append(got, it["name"]+":"+it["nimtype"]+":"+it["resources"])
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n %q\nwant\n %q", got, tt.want)
			}
		})
	}
}

func TestNIMResources(t *testing.T) {
	img := OSImage{Name: "61dskls", Attrs: map[string]string{
		"lpp_source": "61dskls_lpp_source", "spot": "61dskls", "root": "/install/nim/root/61dskls_root",
		"paging": "/install/nim/paging/61dskls_paging",
	}}
	want := []NIMResource{
		{"61dskls_lpp_source", "lpp_source", "/inst/nim/lpp_source/61dskls_lpp_source"},
		{"61dskls", "spot", "/inst/nim/spot/"},
		{"61dskls_root", "root", "/install/nim/root/61dskls_root"},
		{"61dskls_paging", "paging", "/install/nim/paging/61dskls_paging"},
	}
	if got := img.NIMResources("/inst"); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	cmds := []string{
		"nim -Fo define -t lpp_source -a server=master -a location=/inst/nim/lpp_source/61dskls_lpp_source 61dskls_lpp_source",
		"m_mkspot -o -a server=master -a location=/inst/nim/spot/ -a source=no 61dskls",
		"nim -Fo define -t root -a server=master -a location=/install/nim/root/61dskls_root 61dskls_root",
	}
	for i, c := range cmds {
		if got := defineCommand(want[i], "master"); got != c {
			t.Errorf("defineCommand(%v) =\n %s\nwant\n %s", want[i], got, c)
		}
	}
}

func TestParseLsnim(t *testing.T) {
	out := `master:
   class               = machines
   type                = master
   serves              = boot
   serves              = nim_script
61cosi:
   class         = resources
   type          = spot
   location      = /install/nim/spot/61cosi/usr
`
	objs, err := ParseLsnim(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].Name != "master" || !reflect.DeepEqual(objs[0].Attrs["serves"], []string{"boot", "nim_script"}) ||
		objs[1].Get("location") != "/install/nim/spot/61cosi/usr" || objs[1].Get("type") != "spot" {
		t.Errorf("got %+v", objs)
	}
	if _, err := ParseLsnim("   class = machines\n"); err == nil {
		t.Error("an attribute before any object parsed")
	}
}

func TestParseLssrc(t *testing.T) {
	tests := []struct {
		out  string
		want []Subsystem
	}{
		{"Subsystem         Group            PID          Status\n xcatd                             12345        active\n",
			[]Subsystem{{Name: "xcatd", PID: 12345, Status: "active"}}},
		{"Subsystem         Group            PID          Status\n dhcpsd           tcpip                         inoperative\n",
			[]Subsystem{{Name: "dhcpsd", Group: "tcpip", Status: "inoperative"}}},
		{"Subsystem         Group            PID          Status\n inetd            tcpip            4063        active\n",
			[]Subsystem{{Name: "inetd", Group: "tcpip", PID: 4063, Status: "active"}}},
	}
	for _, tt := range tests {
		got, err := ParseLssrc(tt.out)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseLssrc(%q) = %+v, %v; want %+v", tt.out, got, err, tt.want)
		}
	}
	if _, err := ParseLssrc(" xcatd  123 running\n"); err == nil {
		t.Error("unknown status parsed")
	}
}

func TestMktcpipArgs(t *testing.T) {
	// The guide's example (8.0 step 4).
	a := map[string]string{"hostname": "aixmn1", "address": "9.114.47.103", "netmask": "255.255.255.192",
		"interface": "en1", "gateway": "9.114.47.126"}
	want := `-h'aixmn1' -a'9.114.47.103' -m'255.255.255.192' -i'en1' -g'9.114.47.126' -A'no' -t'N/A' -s''`
	if got := MktcpipArgs(a); got != want {
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
	delete(a, "gateway")
	if got := MktcpipArgs(a); strings.Contains(got, "-g") {
		t.Errorf("no gateway still gives -g: %s", got)
	}
}

// fakeAIX runs the AIX actions against shell functions standing in for
// lsnim, nim and m_mkspot, recording the calls.
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
	env := &Env{Transport: remote.Router{Local: remote.Local{}}}
	act := textActions(env)["nim_osimage"]
	args := map[string]string{"osimage": "61cosi", "lpp_source": "61cosi_lpp_source", "spot": "61cosi",
		"installp_bundle": "/install/nim/installp_bundle/61cosi.bnd", "script": "/install/nim/scripts/61cosi_script", "path": bin}
	o, err := act.Run(context.Background(), Call{Args: args})
	if err == nil || !strings.Contains(err.Error(), "61cosi_script") || !strings.Contains(err.Error(), "0042-154") {
		t.Fatalf("want the script resource's failure, got %v", err)
	}
	if o.Outputs["created"] != "61cosi_lpp_source,61cosi,61cosi_installp_bundle" {
		t.Errorf("created before the failure: %q", o.Outputs["created"])
	}
	write("nim", `for a; do n=$a; done; touch `+dir+`/"$n"`)
	o, err = act.Run(context.Background(), Call{Args: args})
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
	if _, err := textActions(env)["nim_exists"].Run(context.Background(), Call{Args: map[string]string{
		"names": "61cosi_lpp_source,61cosi,61cosi_script", "path": bin}}); err != nil {
		t.Errorf("nim_exists: %v", err)
	}
	o, err = textActions(env)["nim_exists"].Run(context.Background(), Call{Args: map[string]string{"names": "61cosi,nope", "path": bin}})
	if err == nil || o.Outputs["missing"] != "nope" {
		t.Errorf("nim_exists with a missing object: %v %v", o.Outputs, err)
	}
}

func TestSRCIdempotent(t *testing.T) {
	dir := t.TempDir()
	// startsrc/stopsrc answer as AIX does for a subsystem already in the state.
	for name, msg := range map[string]string{
		"startsrc": "0513-029 The xcatd Subsystem is already active.",
		"stopsrc":  "0513-004 The Subsystem or Group, xcatd, is currently inoperative.",
	} {
		if err := os.WriteFile(dir+"/"+name, []byte("#!/bin/sh\n[ \"$2\" = xcatd ] || { echo '0513-085 The '$2' Subsystem is not on file.' >&2; exit 1; }\necho '"+msg+"' >&2\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	acts := textActions(&Env{Transport: remote.Router{Local: remote.Local{}}})
	for _, name := range []string{"startsrc", "stopsrc"} {
		o, err := acts[name].Run(context.Background(), Call{Args: map[string]string{"subsystem": "xcatd", "path": dir}})
		if err != nil || o.Outputs["changed"] != "no" {
			t.Errorf("%s on a subsystem already in place: %v %v", name, o.Outputs, err)
		}
		if _, err := acts[name].Run(context.Background(), Call{Args: map[string]string{"subsystem": "nosuch", "path": dir}}); err == nil || !strings.Contains(err.Error(), "0513-085") {
			t.Errorf("%s of an unknown subsystem: %v", name, err)
		}
	}
	if got := acts["stopsrc"].Describe("", map[string]string{"subsystem": "xcatd"}); got != "stopsrc -s xcatd" {
		t.Errorf("Describe = %q", got)
	}
}
