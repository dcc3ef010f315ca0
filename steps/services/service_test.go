package services

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// A fake host: stand-ins for systemctl, the SRC commands and init scripts
// that keep each service's state in files, and a transport that runs the
// action's scripts on this machine with the host's paths moved into a
// temporary directory. It records every script it runs.
const fakeSystemctl = `#!/bin/sh
st=$FAKE/state
case $1 in
show) u=$5; if [ -e "$st/$u.masked" ]; then echo masked; elif [ -e "$st/$u.unit" ]; then echo loaded; else echo not-found; fi ;;
is-active) if [ -e "$FAKE/state/$2.active" ]; then echo active; else echo inactive; exit 3; fi ;;
is-enabled) if [ -e "$st/$2.enabled" ]; then echo enabled; else echo disabled; exit 1; fi ;;
start|restart|reload-or-restart) [ -e "$st/$2.broken" ] && { echo "Job for $2 failed" >&2; exit 1; }; touch "$st/$2.active" ;;
stop) rm -f "$st/$2.active" ;;
enable) touch "$st/$2.enabled" ;;
disable) rm -f "$st/$2.enabled" ;;
*) echo "fake systemctl: $*" >&2; exit 2 ;;
esac
`

const fakeSRC = `#!/bin/sh
st=$FAKE/state
cmd=$(basename "$0")
case $cmd in
lssrc) s=$2; [ -e "$st/$s.unit" ] || { echo "0513-085 The $s Subsystem is not on file." >&2; exit 1; }
  echo "Subsystem         Group            PID          Status"
  if [ -e "$st/$s.active" ]; then echo " $s                             1234         active"; else echo " $s                                          inoperative"; fi ;;
startsrc) touch "$st/$2.active" ;;
stopsrc) rm -f "$st/$2.active" ;;
lsitab) [ -e "$st/$1.enabled" ] && cat "$st/$1.enabled" ;;
rmitab) rm -f "$st/$1.enabled" ;;
mkitab) s=${1%%:*}; echo "$1" > "$st/$s.enabled" ;;
esac
`

type fakeHost struct {
	t    *testing.T
	dir  string
	init string
	ran  []string
	down bool
}

func newFakeHost(t *testing.T, init string) *fakeHost {
	f := &fakeHost{t: t, dir: t.TempDir(), init: init}
	for _, d := range []string{"bin", "state", "run/systemd/system", "init.d", "rc2.d"} {
		os.MkdirAll(filepath.Join(f.dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(f.dir, "bin/systemctl"), []byte(fakeSystemctl), 0o755)
	os.WriteFile(filepath.Join(f.dir, "bin/update-rc.d"), []byte("#!/bin/sh\ncase $2 in defaults) ;; enable) ln -sf ../init.d/$1 $FAKE/rc2.d/S01$1 ;; disable) rm -f $FAKE/rc2.d/S01$1 ;; esac\n"), 0o755)
	for _, c := range []string{"lssrc", "startsrc", "stopsrc", "lsitab", "rmitab", "mkitab"} {
		os.WriteFile(filepath.Join(f.dir, "bin", c), []byte(fakeSRC), 0o755)
	}
	return f
}

// unit adds a service: its unit (or subsystem), and whether it runs and
// starts at boot.
func (f *fakeHost) unit(name string, running, enabled bool) {
	st := filepath.Join(f.dir, "state")
	switch f.init {
	case "systemd":
		os.WriteFile(filepath.Join(st, name+".service.unit"), nil, 0o644)
		if running {
			os.WriteFile(filepath.Join(st, name+".service.active"), nil, 0o644)
		}
		if enabled {
			os.WriteFile(filepath.Join(st, name+".service.enabled"), nil, 0o644)
		}
	case "src":
		os.WriteFile(filepath.Join(st, name+".unit"), nil, 0o644)
		if running {
			os.WriteFile(filepath.Join(st, name+".active"), nil, 0o644)
		}
		if enabled {
			os.WriteFile(filepath.Join(st, name+".enabled"), []byte(name+":2:once:/usr/bin/startsrc -s "+name+" > /dev/console 2>&1\n"), 0o644)
		}
	case "sysv":
		script := "#!/bin/sh\nst=" + st + "\ncase $1 in status) [ -e $st/" + name + ".active ];; start) touch $st/" + name + ".active;; stop) rm -f $st/" + name + ".active;; esac\n"
		os.WriteFile(filepath.Join(f.dir, "init.d", name), []byte(script), 0o755)
		if running {
			os.WriteFile(filepath.Join(st, name+".active"), nil, 0o644)
		}
		if enabled {
			os.Symlink("../init.d/"+name, filepath.Join(f.dir, "rc2.d", "S01"+name))
		}
	}
}

func (f *fakeHost) has(file string) bool {
	_, err := os.Stat(filepath.Join(f.dir, "state", file))
	return err == nil
}

func (f *fakeHost) Exec(ctx context.Context, h remote.Host, c remote.Command) (remote.Result, error) {
	if f.down {
		return remote.Result{Exit: -1}, errors.New("dial mn1: connection refused")
	}
	f.ran = append(f.ran, c.Script)
	s := strings.NewReplacer("/run/systemd/system", f.dir+"/run/systemd/system", "/etc/init.d/", f.dir+"/init.d/",
		"/etc/rc[2345].d/", f.dir+"/rc[2345].d/", "/etc/rc.d/rc[2345].d/", f.dir+"/nope/").Replace(c.Script)
	s = "PATH=" + f.dir + "/bin:$PATH; FAKE=" + f.dir + "; export PATH FAKE\n" + s
	return remote.Local{}.Exec(ctx, remote.Host{Name: "local", Local: true}, remote.Command{Script: s})
}

func (f *fakeHost) Close() error { return nil }

func (f *fakeHost) action(own map[string]string) Service {
	return Service{Env: &act.Env{Transport: f, Hosts: func(name string) (remote.Host, error) {
		return remote.Host{Name: name, Address: name, Init: f.init, Services: own}, nil
	}}}
}

func boolp(b bool) *bool { return &b }

func run(t *testing.T, s Service, args Args) (workflow.Outcome, error) {
	t.Helper()
	return s.Run(context.Background(), workflow.Call{Host: "mn1", Args: &args})
}

func TestServiceSystemd(t *testing.T) {
	f := newFakeHost(t, "systemd")
	f.unit("isc-dhcp-server", true, true)
	s := f.action(nil)
	args := Args{Service: "dhcp", State: "stopped", Enabled: boolp(false)}
	o, err := run(t, s, args)
	if err != nil {
		t.Fatal(err)
	}
	if f.has("isc-dhcp-server.service.active") || f.has("isc-dhcp-server.service.enabled") {
		t.Error("dhcp still runs or starts at boot")
	}
	want := map[string]string{"init": "systemd", "unit": "isc-dhcp-server", "was_state": "running", "was_enabled": "true", "state": "stopped", "enabled": "false"}
	for k, v := range want {
		if o.Outputs[k] != v {
			t.Errorf("output %s = %q, want %q", k, o.Outputs[k], v)
		}
	}
	if f.ran[1] != "systemctl stop isc-dhcp-server.service && systemctl disable isc-dhcp-server.service" {
		t.Errorf("ran %q", f.ran[1])
	}
	// The plan names the same commands (the unit once found).
	plan := s.Plan("mn1", &args)
	if plan[0] != f.ran[0] || !strings.HasPrefix(plan[1], "systemctl stop <dhcp found above>  # if it runs") ||
		!strings.HasPrefix(plan[2], "systemctl disable <dhcp found above>  # if it starts at boot") {
		t.Errorf("plan %q", plan)
	}
	// Undone, it is as it was.
	undo := s.Reverse(&args, o.Outputs).(*Args)
	if undo.State != "running" || undo.Enabled == nil || !*undo.Enabled {
		t.Fatalf("reverse %+v", undo)
	}
	if _, err := run(t, s, *undo); err != nil {
		t.Fatal(err)
	}
	if !f.has("isc-dhcp-server.service.active") || !f.has("isc-dhcp-server.service.enabled") {
		t.Error("undo did not put dhcp back")
	}
	// Again: nothing to do, nothing run but the discovery.
	f.ran = nil
	if _, err := run(t, s, *undo); err != nil || len(f.ran) != 1 {
		t.Errorf("a service already as wanted ran %q (%v)", f.ran, err)
	}
}

func TestServiceFirstCandidateAndOwnName(t *testing.T) {
	f := newFakeHost(t, "systemd")
	f.unit("dhcpd", false, false)
	f.unit("kea-dhcp4-server", true, true)
	o, err := run(t, f.action(nil), Args{Service: "dhcp", State: "running"})
	if err != nil || o.Outputs["unit"] != "dhcpd" || !f.has("dhcpd.service.active") {
		t.Fatalf("started %q (%v), want the table's first that exists", o.Outputs["unit"], err)
	}
	own := f.action(map[string]string{"dhcp": "kea-dhcp4-server"})
	o, err = run(t, own, Args{Service: "dhcp", State: "stopped"})
	if err != nil || o.Outputs["unit"] != "kea-dhcp4-server" || f.has("kea-dhcp4-server.service.active") {
		t.Fatalf("stopped %q (%v), want the inventory's name", o.Outputs["unit"], err)
	}
	if p := own.Plan("mn1", &Args{Service: "dhcp", State: "stopped"}); p[1] != "systemctl stop kea-dhcp4-server.service  # if it runs" {
		t.Errorf("plan with the host's own name: %q", p)
	}
}

// A masked unit (Debian's lab masks conserver.service, the unit systemd
// generates from xCAT's /etc/init.d/conserver, in favour of
// conserver-server.service) is skipped while another candidate is loaded;
// alone it is still found, so that its state is reported.
func TestServiceMaskedLast(t *testing.T) {
	f := newFakeHost(t, "systemd")
	os.WriteFile(filepath.Join(f.dir, "state", "conserver.service.masked"), nil, 0o644)
	f.unit("conserver-server", false, false)
	o, err := run(t, f.action(nil), Args{Service: "console", State: "running"})
	if err != nil || o.Outputs["unit"] != "conserver-server" || !f.has("conserver-server.service.active") {
		t.Fatalf("started %q (%v), want conserver-server, the loaded one", o.Outputs["unit"], err)
	}
	g := newFakeHost(t, "systemd")
	os.WriteFile(filepath.Join(g.dir, "state", "conserver.service.masked"), nil, 0o644)
	o, err = run(t, g.action(nil), Args{Service: "console", State: "stopped", Check: true})
	if o.Outputs["unit"] != "conserver" {
		t.Errorf("only a masked unit: found %q (%v)", o.Outputs["unit"], err)
	}
}

func TestServiceSysV(t *testing.T) {
	f := newFakeHost(t, "sysv")
	f.unit("conserver-server", false, false)
	s := f.action(nil)
	o, err := run(t, s, Args{Service: "console", State: "running", Enabled: boolp(true)})
	if err != nil {
		t.Fatal(err)
	}
	if !f.has("conserver-server.active") || o.Outputs["enabled"] != "true" || o.Outputs["was_enabled"] != "false" {
		t.Errorf("outputs %v", o.Outputs)
	}
	if _, err := os.Lstat(filepath.Join(f.dir, "rc2.d/S01conserver-server")); err != nil {
		t.Error("not enabled at boot")
	}
}

func TestServiceSRC(t *testing.T) {
	f := newFakeHost(t, "src")
	f.unit("xcatd", true, true)
	s := f.action(nil)
	args := Args{Service: "xcatd", State: "stopped", Enabled: boolp(false)}
	o, err := run(t, s, args)
	if err != nil {
		t.Fatal(err)
	}
	if f.ran[1] != "stopsrc -s xcatd && rmitab xcatd" || f.has("xcatd.active") || f.has("xcatd.enabled") {
		t.Errorf("ran %q", f.ran)
	}
	if o.Outputs["inittab"] != "xcatd:2:once:/usr/bin/startsrc -s xcatd > /dev/console 2>&1" {
		t.Errorf("inittab %q", o.Outputs["inittab"])
	}
	undo := s.Reverse(&args, o.Outputs).(*Args)
	if _, err := run(t, s, *undo); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(f.dir, "state/xcatd.enabled"))
	if !f.has("xcatd.active") || strings.TrimSpace(string(b)) != o.Outputs["inittab"] {
		t.Errorf("undo: running %v, inittab %q", f.has("xcatd.active"), b)
	}
}

func TestServiceAbsentAndFailures(t *testing.T) {
	f := newFakeHost(t, "systemd")
	s := f.action(nil)
	if o, err := run(t, s, Args{Service: "dhcp", State: "stopped", Enabled: boolp(false)}); err != nil || o.Outputs["was_state"] != "absent" {
		t.Errorf("stopping an absent service: %v %v", o.Outputs, err)
	}
	_, err := run(t, s, Args{Service: "dhcp", State: "running"})
	if err == nil || !strings.Contains(err.Error(), "none of isc-dhcp-server, dhcpd, kea-dhcp4-server, kea-dhcp4, isc-kea-dhcp4-server exists (systemd); name it for this host in the inventory (hosts: mn1: services: {dhcp: NAME})") {
		t.Errorf("starting an absent service: %v", err)
	}
	f.unit("xcatd", false, false)
	os.WriteFile(filepath.Join(f.dir, "state/xcatd.service.broken"), nil, 0o644)
	_, err = run(t, s, Args{Service: "xcatd", State: "running"})
	if err == nil || !strings.Contains(err.Error(), "xcatd on mn1 (xcatd): systemctl start xcatd.service: exit status 1 on mn1: Job for xcatd.service failed") {
		t.Errorf("a failing start: %v", err)
	}
	// Check mode reports, changes nothing.
	_, err = run(t, s, Args{Service: "xcatd", State: "running", Enabled: boolp(true), Check: true})
	if err == nil || !strings.Contains(err.Error(), "is not running (inactive), want running and does not start at boot (disabled)") {
		t.Errorf("check: %v", err)
	}
	// A host that does not run systemd says what to set.
	os.Remove(filepath.Join(f.dir, "run/systemd/system"))
	_, err = run(t, s, Args{Service: "xcatd", State: "stopped"})
	if err == nil || !strings.Contains(err.Error(), "give it init: sysv in the inventory") {
		t.Errorf("no systemd: %v", err)
	}
	// A dead host with if_reachable is done and changes nothing.
	f.down = true
	o, err := run(t, s, Args{Service: "dhcp", State: "stopped", IfReachable: true})
	if err != nil || o.Outputs["reachable"] != "false" {
		t.Errorf("unreachable: %v %v", o.Outputs, err)
	}
	if undo := s.Reverse(&Args{Service: "dhcp", State: "stopped", IfReachable: true}, o.Outputs).(*Args); undo.State != "" || undo.Enabled != nil {
		t.Errorf("the undo of a step that changed nothing: %+v", undo)
	}
}

func TestServiceArgs(t *testing.T) {
	for _, tt := range []struct {
		vals map[string]any
		want string
	}{
		{map[string]any{"service": "dhcp", "state": "stop"}, `argument state: "stop" is not one of running, stopped, restarted, reloaded`},
		{map[string]any{"service": "dhcp", "enabled": "no"}, `argument enabled: "no" is not a boolean: use true or false`},
		{map[string]any{"servce": "dhcp"}, `has no argument "servce" (did you mean "service"?`},
		{map[string]any{"state": "stopped"}, `needs argument "service"`},
	} {
		errs := workflow.DecodeArgs(Service{}.NewArgs(), tt.vals, nil)
		if !slices.ContainsFunc(errs, func(e error) bool { return strings.Contains(e.Error(), tt.want) }) {
			t.Errorf("%v: errors %v, want %q", tt.vals, errs, tt.want)
		}
	}
}

func TestParseStatus(t *testing.T) {
	for _, tt := range []struct {
		init, out string
		want      Status
	}{
		{"systemd", "unit=isc-dhcp-server\nactive=active\nenabled=enabled\n", Status{Unit: "isc-dhcp-server", Running: true, Enabled: true, Active: "active", Boot: "enabled"}},
		{"systemd", "unit=xcatd\nactive=failed\nenabled=disabled\n", Status{Unit: "xcatd", Active: "failed", Boot: "disabled"}},
		{"systemd", "unit=tftp\nactive=inactive\nenabled=static\n", Status{Unit: "tftp", Active: "inactive", Boot: "static", Enabled: true}},
		{"systemd", "unit=named\nactive=activating\nenabled=masked\n", Status{Unit: "named", Active: "activating", Boot: "masked", Running: true}},
		{"systemd", "unit=\n", Status{}},
		{"src", "unit=xcatd\nlssrc= xcatd                             1234         active\nenabled=enabled\ninittab=xcatd:2:once:/opt/xcat/sbin/restartxcatd > /dev/console 2>&1\n",
			Status{Unit: "xcatd", Active: "active", Running: true, Boot: "enabled", Enabled: true, Inittab: "xcatd:2:once:/opt/xcat/sbin/restartxcatd > /dev/console 2>&1"}},
		{"src", "unit=dhcpsd\nlssrc= dhcpsd           tcpip                         inoperative\nenabled=disabled\n", Status{Unit: "dhcpsd", Active: "inoperative", Boot: "disabled"}},
	} {
		if got := ParseStatus(tt.init, tt.out); got != tt.want {
			t.Errorf("ParseStatus(%s, %q) = %+v, want %+v", tt.init, tt.out, got, tt.want)
		}
	}
}
