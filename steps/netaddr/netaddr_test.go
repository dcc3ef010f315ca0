package netaddr

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

var addr = map[string]any{"address": "198.51.100.10", "prefix": "24", "interface": "eth0"}

func with(base map[string]any, kv ...string) map[string]any {
	m := map[string]any{}
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "-" {
			delete(m, kv[i])
		} else {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

// decode decodes vals into a's arguments as the engine does.
func decode(t *testing.T, a workflow.Action, vals map[string]any) (any, []error) {
	t.Helper()
	args := a.NewArgs()
	return args, workflow.DecodeArgs(args, vals, nil)
}

func TestDecodeArgs(t *testing.T) {
	acts := Actions(nil)
	tests := []struct {
		action string
		vals   map[string]any
		want   any
		bad    string // the argument an error names, "" for none
		msg    string
	}{
		{"addr_takeover", addr, &TakeoverArgs{Addr{"198.51.100.10", 24, "eth0"}}, "", ""},
		{"addr_takeover", with(addr, "prefix", "/24"), nil, "prefix", `"/24" is not a whole number`},
		{"addr_takeover", with(addr, "prefix", "-"), nil, "prefix", `needs argument "prefix"`},
		{"addr_takeover", with(addr, "if_reachable", "true"), nil, "if_reachable", `has no argument "if_reachable"`},
		{"addr_takeover", map[string]any{"address": []string{"198.51.100.10", "198.51.100.11"}, "prefix": "24", "interface": "eth0"}, nil, "address", "is a list"},
		{"addr_release", with(addr, "if_reachable", "true"), &ReleaseArgs{Addr{"198.51.100.10", 24, "eth0"}, true}, "", ""},
		{"addr_release", addr, &ReleaseArgs{Addr{"198.51.100.10", 24, "eth0"}, false}, "", ""},
		{"addr_release", with(addr, "if_reachable", "yes"), nil, "if_reachable", `"yes" is not a boolean`},
		{"addr_release", with(addr, "interfce", "eth0"), nil, "interfce", `did you mean "interface"?`},
		{"addr_release", with(addr, "prefix", "24.0"), nil, "prefix", `"24.0" is not a whole number`},
		{"addr_check", map[string]any{"address": "198.51.100.10"}, &CheckArgs{Address: "198.51.100.10", Present: true}, "", ""},
		{"addr_check", map[string]any{"address": "198.51.100.10", "present": "false", "interface": "eth0"}, &CheckArgs{"198.51.100.10", "eth0", false}, "", ""},
		{"addr_check", map[string]any{"address": "198.51.100.10", "present": "no"}, nil, "present", `"no" is not a boolean`},
		{"addr_check", map[string]any{"address": "198.51.100.10", "prefix": "24"}, nil, "prefix", `has no argument "prefix"`},
		{"addr_check", map[string]any{"address": []string{"198.51.100.10", "198.51.100.11"}}, nil, "address", "is a list"},
		{"fence_check", map[string]any{"address": "198.51.100.10", "interface": "eth0", "old_primary": "mn1", "operator_confirmed": "true"},
			&FenceArgs{"198.51.100.10", "eth0", "mn1", true}, "", ""},
		{"fence_check", map[string]any{"address": "198.51.100.10", "interface": "eth0"}, &FenceArgs{Address: "198.51.100.10", Interface: "eth0"}, "", ""},
		{"fence_check", map[string]any{"address": "198.51.100.10", "interface": "eth0", "operator_confirmed": "yes"}, nil, "operator_confirmed", `"yes" is not a boolean`},
		{"fence_check", map[string]any{"address": "198.51.100.10", "interface": "eth0", "operator_confirmed": []string{"true"}}, nil, "operator_confirmed", "is a list"},
		{"fence_check", map[string]any{"address": "198.51.100.10"}, nil, "interface", `needs argument "interface"`},
		{"fence_check", map[string]any{"address": "198.51.100.10", "interface": "eth0", "old_primay": "mn1"}, nil, "old_primay", `did you mean "old_primary"?`},
		{"host_reachable", map[string]any{}, &ReachableArgs{}, "", ""},
		{"host_reachable", map[string]any{"timeout": "5s"}, nil, "timeout", `has no argument "timeout": it takes none`},
	}
	for _, tt := range tests {
		t.Run(tt.action+" "+tt.bad, func(t *testing.T) {
			got, errs := decode(t, acts[tt.action], tt.vals)
			if tt.bad == "" {
				if len(errs) > 0 {
					t.Fatalf("errors: %v", errs)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("decoded %+v, want %+v", got, tt.want)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("errors %v, want one about %s", errs, tt.bad)
			}
			var ae *workflow.ArgError
			if !errors.As(errs[0], &ae) || ae.Arg != tt.bad || !strings.Contains(ae.Msg, tt.msg) {
				t.Errorf("error %#v, want one naming %s with %q", errs[0], tt.bad, tt.msg)
			}
		})
	}
}

// onStep is how a plan line shows a command the recorder saw.
func onStep(step string, e acttest.Exec) string {
	if e.Host != step {
		return onHost(e.Host, e.Script)
	}
	return e.Script
}

// TestPlanIsWhatRuns: every action runs exactly the commands its plan
// shows, in order, on the hosts it names.
func TestPlanIsWhatRuns(t *testing.T) {
	probeOut := func(e acttest.Exec) acttest.Reply {
		switch {
		case strings.Contains(e.Script, probeMark):
			return acttest.Reply{Stdout: "mac=a2:3c:c4:c5:86:ea\nflavor=habets\nrc=1\n" + probeMark + "\n" + testdata(t, "habets-silence.txt")}
		case e.Script == oldPrimaryCommand:
			return acttest.Reply{Stdout: testdata(t, "ip-o-addr.txt")}
		case strings.HasPrefix(e.Script, "ip -o addr show"):
			return acttest.Reply{Stdout: testdata(t, "ip-o-addr-dev.txt")}
		}
		return acttest.Reply{Stdout: "already=no\nmac=a2:3c:c4:c5:86:ea\nremoved=yes\n"}
	}
	tests := []struct {
		action string
		vals   map[string]any
		lines  int
	}{
		{"addr_takeover", addr, 1},
		{"addr_release", with(addr, "if_reachable", "true"), 1},
		{"addr_check", map[string]any{"address": "198.51.100.10", "interface": "eth0"}, 1},
		{"addr_check", map[string]any{"address": "198.51.100.10"}, 1},
		{"fence_check", map[string]any{"address": "198.51.100.50", "interface": "eth0", "old_primary": "mn1"}, 2},
		{"fence_check", map[string]any{"address": "198.51.100.50", "interface": "eth0"}, 1},
		{"host_reachable", map[string]any{}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			rec := &acttest.Recorder{Answer: probeOut}
			a := Actions(acttest.Env(rec))[tt.action]
			args, errs := decode(t, a, tt.vals)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			plan := a.Plan("mn2", args)
			if _, err := a.Run(context.Background(), workflow.Call{Host: "mn2", Args: args}); err != nil {
				t.Fatal(err)
			}
			var ran []string
			for _, e := range rec.Execs() {
				ran = append(ran, onStep("mn2", e))
			}
			if !reflect.DeepEqual(plan, ran) || len(plan) != tt.lines {
				t.Errorf("plan:\n%s\nran:\n%s", strings.Join(plan, "\n--\n"), strings.Join(ran, "\n--\n"))
			}
		})
	}
}

// TestScriptsParse: every script is valid POSIX sh (dash -n), with values
// that need quoting.
func TestScriptsParse(t *testing.T) {
	odd := Addr{Address: "198.51.100.10", Prefix: 24, Interface: "eth0 it's"}
	for name, s := range map[string]string{
		"takeover": takeoverScript(odd), "release": releaseScript(odd), "list": listCommand(odd.Interface),
		"probe": probeScript(odd.Address, odd.Interface), "old primary": oldPrimaryCommand, "reach": reachCommand,
	} {
		if out, err := exec.Command("/bin/sh", "-n", "-c", s).CombinedOutput(); err != nil {
			t.Errorf("%s: sh -n: %v\n%s\n%s", name, err, out, s)
		}
	}
}

// fakeBin writes shell scripts standing in for ip, arping and cat into a
// directory and returns a prefix that puts it first on PATH.
func fakeBin(t *testing.T, progs map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range progs {
		if err := os.WriteFile(dir+"/"+name, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return "PATH=" + dir + ":/usr/bin:/bin; export PATH\n"
}

func sh(t *testing.T, script string) string {
	t.Helper()
	out, err := exec.Command("/bin/sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, script)
	}
	return string(out)
}

// TestProbeScriptFlavors runs probeScript under /bin/sh with a stand-in
// arping of each flavour that prints the real captures, and reads the
// result with ParseProbe.
func TestProbeScriptFlavors(t *testing.T) {
	cat := `case "$1" in /sys/class/net/eth0/address) echo a2:3c:c4:c5:86:ea ;; *) exec /bin/cat "$@" ;; esac`
	tests := []struct {
		name, arping string
		want         Probe
	}{
		{"habets answered", `case "$1" in --help) echo "ARPing 2.23, by Thomas Habets <thomas@habets.se>"; exit 0;; esac
[ "$*" = "-i eth0 -c 3 -W 0.5 -w 3 198.51.100.10" ] || { echo "bad args: $*"; exit 9; }
cat testdata/habets-reply.txt`,
			Probe{Flavor: "habets", OwnMAC: "a2:3c:c4:c5:86:ea", Exit: 0, Ran: true, Replies: []ARPReply{{"198.51.100.10", "76:52:da:fc:fb:5a"}}}},
		{"iputils silence", `case "$1" in --help) echo "Usage: arping [-AbDfhqUV] [-c count] [-w timeout] [-i interval] [-I ifname] [-s source] destination"; exit 2;; esac
[ "$*" = "-D -c 3 -w 3 -I eth0 198.51.100.10" ] || { echo "bad args: $*"; exit 9; }
cat testdata/iputils-silence.txt`,
			Probe{Flavor: "iputils", OwnMAC: "a2:3c:c4:c5:86:ea", Exit: 0, Ran: true}},
		{"iputils answered, exit 1", `case "$1" in --help) exit 2;; esac
cat testdata/iputils-reply.txt; exit 1`,
			Probe{Flavor: "iputils", OwnMAC: "a2:3c:c4:c5:86:ea", Exit: 1, Ran: true, Replies: []ARPReply{{"198.51.100.10", "76:52:da:fc:fb:5a"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := fakeBin(t, map[string]string{"arping": tt.arping, "cat": cat})
			got := ParseProbe(sh(t, path+probeScript("198.51.100.10", "eth0")))
			got.Output = ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	// No arping at all: a PATH without it.
	dir := t.TempDir()
	got := ParseProbe(sh(t, "PATH="+dir+"; export PATH\n"+probeScript("198.51.100.10", "eth0")))
	if got.Flavor != "none" || got.Exit != 127 || got.Ran {
		t.Errorf("without arping: %+v", got)
	}
}

// TestTakeoverScript runs takeoverScript and releaseScript under /bin/sh
// against a stand-in ip that keeps its addresses in a file.
func TestTakeoverScript(t *testing.T) {
	state := t.TempDir() + "/addrs"
	path := fakeBin(t, map[string]string{
		"ip": `f=` + state + `
case "$*" in
"-o addr show dev eth0") [ -f $f ] && while read a; do echo "2: eth0    inet $a scope global secondary eth0\\       valid_lft forever preferred_lft forever"; done < $f; exit 0 ;;
"addr add "*" dev eth0") echo "$3" >> $f ;;
"addr del "*" dev eth0") grep -vxF "$3" $f > $f.new; mv $f.new $f ;;
*) echo "ip: unexpected $*" >&2; exit 9 ;;
esac`,
		"arping": `case "$1" in --help) echo "ARPing 2.23, by Thomas Habets"; exit 0;; esac; echo "$*" >> ` + state + `.arping`,
		"cat":    `echo 02:42:c6:33:64:0c`,
	})
	a := Addr{Address: "198.51.100.10", Prefix: 24, Interface: "eth0"}
	out := sh(t, path+takeoverScript(a))
	if kv := keyValues(out); kv["already"] != "no" || kv["mac"] != "02:42:c6:33:64:0c" || !strings.Contains(out, "gratuitous ARP sent (arping -U, -U -P)") {
		t.Errorf("first takeover:\n%s", out)
	}
	arps, _ := os.ReadFile(state + ".arping")
	if want := "-U -S 198.51.100.10 -i eth0 -c 2 -W 0.2 198.51.100.10\n-U -P -S 198.51.100.10 -i eth0 -c 2 -W 0.2 198.51.100.10\n"; string(arps) != want {
		t.Errorf("arping calls:\n%s\nwant\n%s", arps, want)
	}
	if kv := keyValues(sh(t, path+takeoverScript(a))); kv["already"] != "yes" {
		t.Errorf("second takeover: %v", kv)
	}
	if kv := keyValues(sh(t, path+releaseScript(a))); kv["removed"] != "yes" {
		t.Errorf("release: %v", kv)
	}
	if kv := keyValues(sh(t, path+releaseScript(a))); kv["removed"] != "no" {
		t.Errorf("second release: %v", kv)
	}
}

func keyValues(s string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func TestTakeoverAndRelease(t *testing.T) {
	rec := &acttest.Recorder{}
	acts := Actions(acttest.Env(rec))
	args, _ := decode(t, acts["addr_takeover"], addr)
	rec.Answer = func(acttest.Exec) acttest.Reply { return acttest.Reply{Stdout: "already=yes\nmac=02:42:c6:33:64:0c\n"} }
	o, err := acts["addr_takeover"].Run(context.Background(), workflow.Call{Host: "mn2", Args: args})
	if err != nil || o.Outputs["added"] != "false" || o.Outputs["mac"] != "02:42:c6:33:64:0c" {
		t.Errorf("takeover of an address already there: %v %v", o.Outputs, err)
	}
	bad, _ := decode(t, acts["addr_takeover"], with(addr, "prefix", "33"))
	rec.Reset()
	if _, err := acts["addr_takeover"].Run(context.Background(), workflow.Call{Host: "mn2", Args: bad}); err == nil || !strings.Contains(err.Error(), "prefix 33") || len(rec.Execs()) != 0 {
		t.Errorf("prefix 33: %v, ran %v", err, rec.Scripts())
	}

	// A release on an unreachable host counts as done with if_reachable,
	// and fails without.
	rec.Answer = func(acttest.Exec) acttest.Reply {
		return acttest.Reply{Err: errors.New("dial tcp: connection refused")}
	}
	rel, _ := decode(t, acts["addr_release"], with(addr, "if_reachable", "true"))
	o, err = acts["addr_release"].Run(context.Background(), workflow.Call{Host: "mn1", Args: rel})
	if err != nil || o.Outputs["reachable"] != "false" {
		t.Errorf("release on a dead host with if_reachable: %v %v", o.Outputs, err)
	}
	rel, _ = decode(t, acts["addr_release"], addr)
	if _, err = acts["addr_release"].Run(context.Background(), workflow.Call{Host: "mn1", Args: rel}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("release on a dead host: %v", err)
	}
}

// TestReverse: addr_takeover and addr_release undo each other, unless the
// run recorded that it changed nothing; the undo runs through the step's
// own action.
func TestReverse(t *testing.T) {
	acts := Actions(nil)
	take, _ := decode(t, acts["addr_takeover"], addr)
	rel, _ := decode(t, acts["addr_release"], with(addr, "if_reachable", "true"))
	a := Addr{"198.51.100.10", 24, "eth0"}
	tests := []struct {
		action string
		args   any
		out    map[string]string
		want   any
	}{
		{"addr_takeover", take, nil, &ReleaseArgs{Addr: a}},
		{"addr_takeover", take, map[string]string{"added": "true", "mac": "x"}, &ReleaseArgs{Addr: a}},
		{"addr_takeover", take, map[string]string{}, &ReleaseArgs{Addr: a}}, // in doubt: release, which is idempotent
		{"addr_takeover", take, map[string]string{"added": "false"}, &unchanged{}},
		{"addr_release", rel, nil, &TakeoverArgs{Addr: a}},
		{"addr_release", rel, map[string]string{"removed": "true", "reachable": "true"}, &TakeoverArgs{Addr: a}},
		{"addr_release", rel, map[string]string{"removed": "false", "reachable": "true"}, &unchanged{}},
		{"addr_release", rel, map[string]string{"reachable": "false"}, &unchanged{}},
	}
	for _, tt := range tests {
		rv := acts[tt.action].(workflow.Reverser)
		got := rv.Reverse(tt.args, tt.out)
		if u, ok := got.(*unchanged); ok && u.why != "" {
			u.why = ""
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s.Reverse(%v) = %+v, want %+v", tt.action, tt.out, got, tt.want)
		}
		// The step's own action plans and runs its undo.
		rec := &acttest.Recorder{Answer: func(acttest.Exec) acttest.Reply { return acttest.Reply{Stdout: "already=no\nremoved=yes\n"} }}
		act := Actions(acttest.Env(rec))[tt.action]
		plan := act.Plan("mn2", got)
		if _, err := act.Run(context.Background(), workflow.Call{Host: "mn2", Args: got}); err != nil {
			t.Errorf("%s: undo: %v", tt.action, err)
		}
		if !reflect.DeepEqual(plan, rec.Scripts()) {
			t.Errorf("%s: undo plan %q, ran %q", tt.action, plan, rec.Scripts())
		}
	}
	if got := acts["addr_takeover"].Plan("mn2", acts["addr_takeover"].(workflow.Reverser).Reverse(take, nil)); !strings.Contains(got[0], "ip addr del 198.51.100.10/24 dev eth0") {
		t.Errorf("planned undo of a takeover: %q", got)
	}
	if got := acts["addr_release"].Plan("mn1", acts["addr_release"].(workflow.Reverser).Reverse(rel, nil)); !strings.Contains(got[0], "ip addr add 198.51.100.10/24 dev eth0") || !strings.Contains(got[0], "arping -U") {
		t.Errorf("planned undo of a release: %q", got)
	}
}

func TestAddrCheck(t *testing.T) {
	rec := &acttest.Recorder{Answer: func(acttest.Exec) acttest.Reply { return acttest.Reply{Stdout: testdata(t, "ip-o-addr.txt")} }}
	chk := Actions(acttest.Env(rec))["addr_check"]
	for _, tt := range []struct {
		vals    map[string]any
		present string
		err     string
	}{
		{map[string]any{"address": "198.51.100.10", "interface": "eth0"}, "true", ""},
		{map[string]any{"address": "198.51.100.10", "interface": "mv0"}, "false", "does not hold"},
		{map[string]any{"address": "198.51.100.10", "present": "false"}, "true", "still holds"},
		{map[string]any{"address": "198.51.100.50", "present": "false"}, "false", ""},
	} {
		args, _ := decode(t, chk, tt.vals)
		o, err := chk.Run(context.Background(), workflow.Call{Host: "mn2", Args: args})
		if o.Outputs["present"] != tt.present || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("addr_check %v: %v %v", tt.vals, o.Outputs, err)
		}
	}
}

func TestFenceCheckRun(t *testing.T) {
	probe := func(flavor, file string) string {
		return "mac=a2:3c:c4:c5:86:ea\nflavor=" + flavor + "\nrc=0\n" + probeMark + "\n" + testdata(t, file)
	}
	tests := []struct {
		name      string
		probe     string
		old       acttest.Reply
		confirmed string
		ok        bool
		outputs   map[string]string
	}{
		{"silence, old primary clean", probe("habets", "habets-silence.txt"), acttest.Reply{Stdout: testdata(t, "ip-o-addr-nodev.txt")}, "false", true,
			map[string]string{"answered": "false", "arp": "ran", "old_primary": "reachable-clean"}},
		{"someone answers", probe("iputils", "iputils-reply.txt"), acttest.Reply{}, "true", false,
			map[string]string{"answered": "true", "arp": "ran", "old_primary": "reachable-clean", "replies": "76:52:da:fc:fb:5a"}},
		{"old primary still holds it", probe("habets", "habets-silence.txt"), acttest.Reply{Stdout: testdata(t, "ip-o-addr.txt")}, "false", false,
			map[string]string{"answered": "false", "old_primary": "holds"}},
		{"no arping, old primary dead", "mac=\nflavor=none\nrc=127\n" + probeMark + "\n\n", acttest.Reply{Err: errors.New("no route to host")}, "false", false,
			map[string]string{"arp": "unavailable", "old_primary": "unreachable"}},
		{"no arping, old primary dead, operator confirmed", "mac=\nflavor=none\nrc=127\n" + probeMark + "\n\n", acttest.Reply{Err: errors.New("no route to host")}, "true", true,
			map[string]string{"arp": "unavailable", "old_primary": "unreachable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &acttest.Recorder{Answer: func(e acttest.Exec) acttest.Reply {
				if e.Host == "mn1" {
					return tt.old
				}
				return acttest.Reply{Stdout: tt.probe}
			}}
			f := Actions(acttest.Env(rec))["fence_check"]
			args, errs := decode(t, f, map[string]any{"address": "198.51.100.10", "interface": "eth0", "old_primary": "mn1", "operator_confirmed": tt.confirmed})
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			o, err := f.Run(context.Background(), workflow.Call{Host: "mn2", Args: args})
			if (err == nil) != tt.ok {
				t.Errorf("err = %v, want ok %v", err, tt.ok)
			}
			for k, v := range tt.outputs {
				if o.Outputs[k] != v {
					t.Errorf("output %s = %q, want %q (%v)", k, o.Outputs[k], v, o.Outputs)
				}
			}
			if want := strings.Join(f.Plan("mn2", args), "\n"); o.Command != want {
				t.Errorf("outcome command %q, want the plan %q", o.Command, want)
			}
		})
	}
}
