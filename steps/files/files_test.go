package files

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/act"

	"github.com/hamnflow/hamnflow/steps/remote"

	"github.com/hamnflow/hamnflow/workflow"
)

func TestParseItemized(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want []Change
		err  string
	}{
		{name: "nothing", out: "", want: nil},
		{
			name: "first sync with -R",
			out: "cd+++++++++ etc/\n>f+++++++++ etc/hosts\ncd+++++++++ etc/xcat/ca/\n" +
				"cL+++++++++ etc/xcat/ca/l -> a\n",
			want: []Change{
				{Path: "etc/", Op: Missing, Kind: "dir"},
				{Path: "etc/hosts", Op: Missing, Kind: "file"},
				{Path: "etc/xcat/ca/", Op: Missing, Kind: "dir"},
				{Path: "etc/xcat/ca/l", Op: Missing, Kind: "symlink", Target: "a"},
			},
		},
		{
			name: "differences and deletions",
			out: "*deleting   etc/xcat/ca/extra\n*deleting   etc/xcat/old/\n>f.s....... etc/hosts\n" +
				".f...p..... etc/xcat/ca/a\n.d..t...... xcat/ca/\n>fcst...... install/a b.tmpl\n" +
				".f....og... root/.xcat/ca.pem\ncLc........ etc/xcat/ca/l -> b\n",
			want: []Change{
				{Path: "etc/xcat/ca/extra", Op: Extra, Kind: "file"},
				{Path: "etc/xcat/old/", Op: Extra, Kind: "dir"},
				{Path: "etc/hosts", Op: Differs, Kind: "file", Attrs: []string{"size"}},
				{Path: "etc/xcat/ca/a", Op: Differs, Kind: "file", Attrs: []string{"perms"}},
				{Path: "xcat/ca/", Op: Differs, Kind: "dir", Attrs: []string{"time"}},
				{Path: "install/a b.tmpl", Op: Differs, Kind: "file", Attrs: []string{"checksum", "size", "time"}},
				{Path: "root/.xcat/ca.pem", Op: Differs, Kind: "file", Attrs: []string{"owner", "group"}},
				{Path: "etc/xcat/ca/l", Op: Differs, Kind: "symlink", Attrs: []string{"checksum"}, Target: "b"},
			},
		},
		{
			name: "created directory line and CRLF are skipped",
			out:  "created directory /install\r\n<f+++++++++ install/x\r\n",
			want: []Change{{Path: "install/x", Op: Missing, Kind: "file"}},
		},
		{
			// rsync 3 on this machine: a first copy, then a dry run with
			// --delete after changes on both sides.
			name: "real rsync output",
			out: "cd+++++++++ etc/\n>f+++++++++ etc/hosts\ncd+++++++++ etc/xcat/\ncd+++++++++ etc/xcat/ca/\n>f+++++++++ etc/xcat/ca/ca.pem\n" +
				"cL+++++++++ etc/xcat/ca/l -> ca.pem\n*deleting   etc/old/\n*deleting   etc/extra\n>f.s....... etc/hosts\n>f..tp..... etc/xcat/ca/ca.pem\n",
			want: []Change{
				{Path: "etc/", Op: Missing, Kind: "dir"},
				{Path: "etc/hosts", Op: Missing, Kind: "file"},
				{Path: "etc/xcat/", Op: Missing, Kind: "dir"},
				{Path: "etc/xcat/ca/", Op: Missing, Kind: "dir"},
				{Path: "etc/xcat/ca/ca.pem", Op: Missing, Kind: "file"},
				{Path: "etc/xcat/ca/l", Op: Missing, Kind: "symlink", Target: "ca.pem"},
				{Path: "etc/old/", Op: Extra, Kind: "dir"},
				{Path: "etc/extra", Op: Extra, Kind: "file"},
				{Path: "etc/hosts", Op: Differs, Kind: "file", Attrs: []string{"size"}},
				{Path: "etc/xcat/ca/ca.pem", Op: Differs, Kind: "file", Attrs: []string{"time", "perms"}},
			},
		},
		{name: "unknown message", out: "*frobbing  x\n", err: "unknown message frobbing"},
		{name: "not itemized", out: "sending incremental file list\n", err: "unknown update type"},
		{name: "unknown kind", out: ">q+++++++++ x\n", err: "unknown file type"},
		{name: "no path", out: ">f+++++++++\n", err: "no path"},
		{name: "deleting without path", out: "*deleting   \n", err: "no path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseItemized(tt.out)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSyncCommand(t *testing.T) {
	tests := []struct {
		name   string
		args   map[string]any
		itemz  bool
		dryRun bool
		want   string
		err    string
	}{
		{
			name: "guide 6.1 at the same places",
			args: map[string]any{"to": "mn2", "paths": "/etc/xcat/ca /etc/xcat/cert\n/etc/xcat/hostkeys /root/.xcat"},
			want: `rsync -az -R -e 'ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10' /etc/xcat/ca /etc/xcat/cert /etc/xcat/hostkeys /root/.xcat mn2:/`,
		},
		{
			name:  "drift with everything",
			args:  map[string]any{"to": "root@mn2", "paths": "/install", "dest": "/", "delete": "true", "checksum": "true", "rsync": "/usr/bin/rsync", "exclude": "*.iso"},
			itemz: true, dryRun: true,
			want: `/usr/bin/rsync -az -c --delete -n -i --exclude='*.iso' -e 'ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10' /install root@mn2:/`,
		},
		{name: "paths quoted", args: map[string]any{"to": "mn2", "paths": "/etc/a'b"}, want: `rsync -az -R -e 'ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10' '/etc/a'\''b' mn2:/`},
		{
			name: "failback: the standby may lack some of the guide's files",
			args: map[string]any{"to": "mn1", "paths": "/etc/xcat/ca /install", "ignore_missing": "true"},
			want: `rsync -az -R --ignore-missing-args -e 'ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10' /etc/xcat/ca /install mn1:/`,
		},
		{name: "no target", args: map[string]any{"paths": "/etc/hosts"}, err: `needs argument "to"`},
		{name: "empty target", args: map[string]any{"to": " ", "paths": "/etc/hosts"}, err: "to: name the target"},
		{name: "paths as a list", args: map[string]any{"to": "mn2", "paths": []string{"/etc/hosts /etc/resolv.conf", "/install"}, "exclude": []string{"*.iso", "*.tmp"}},
			want: `rsync -az -R --exclude='*.iso' --exclude='*.tmp' -e 'ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10' /etc/hosts /etc/resolv.conf /install mn2:/`},
		{name: "target with a path", args: map[string]any{"to": "mn2:/tmp", "paths": "/etc/hosts"}, err: "want a host name"},
		{name: "target injection", args: map[string]any{"to": "mn2;rm", "paths": "/etc/hosts"}, err: "want a host name"},
		{name: "no paths", args: map[string]any{"to": "mn2", "paths": " \n"}, err: "at least one path"},
		{name: "relative path", args: map[string]any{"to": "mn2", "paths": "etc/hosts"}, err: "not absolute"},
		{name: "relative dest", args: map[string]any{"to": "mn2", "paths": "/etc/hosts", "dest": "etc"}, err: "dest"},
		{name: "bad bool", args: map[string]any{"to": "mn2", "paths": "/etc/hosts", "delete": "yes please"}, err: "delete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &SyncArgs{}
			err := errors.Join(s.DecodeArgs(tt.args, nil)...)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.command(tt.itemz, tt.dryRun); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestSetCronBlock(t *testing.T) {
	entries := []string{"0 1 * * * /usr/bin/rsync -az /etc/xcat/ca mn2:/etc/xcat", "0 2 * * * /usr/bin/rsync -az /install mn2:/"}
	block := "# BEGIN hamnflow sync\n" + strings.Join(entries, "\n") + "\n# END hamnflow sync\n"
	tests := []struct {
		name string
		tab  string
		want string
		err  string
	}{
		{name: "empty crontab", tab: "", want: block},
		{name: "appended after other lines", tab: "MAILTO=root\n5 * * * * /bin/true", want: "MAILTO=root\n5 * * * * /bin/true\n" + block},
		{name: "again: unchanged", tab: "# mine\n" + block + "@reboot /bin/x\n", want: "# mine\n" + block + "@reboot /bin/x\n"},
		{
			name: "replaced in place",
			tab:  "# mine\n# BEGIN hamnflow sync\n0 3 * * * old\n# END hamnflow sync\n@reboot /bin/x\n",
			want: "# mine\n" + block + "@reboot /bin/x\n",
		},
		{
			name: "other blocks kept",
			tab:  "# BEGIN hamnflow other\n1 1 * * * keep\n# END hamnflow other\n",
			want: "# BEGIN hamnflow other\n1 1 * * * keep\n# END hamnflow other\n" + block,
		},
		{
			name: "duplicate dropped",
			tab:  block + "\n" + block,
			want: block + "\n",
		},
		{name: "blank lines kept", tab: "a=b\n\n\n", want: "a=b\n\n\n" + block},
		{name: "begin without end", tab: "# BEGIN hamnflow sync\n0 1 * * * x\n", err: "without"},
		{name: "end without begin", tab: "0 1 * * * x\n# END hamnflow sync\n", err: "without"},
		{name: "nested begin", tab: "# BEGIN hamnflow sync\n# BEGIN hamnflow sync\n# END hamnflow sync\n", err: "again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SetCronBlock(tt.tab, "sync", entries)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
			if again, _ := SetCronBlock(got, "sync", entries); again != got {
				t.Fatalf("not idempotent:\n%s", again)
			}
			if e, ok := CronBlock(got, "sync"); !ok || !reflect.DeepEqual(e, entries) {
				t.Fatalf("CronBlock = %q, %v", e, ok)
			}
		})
	}
}

func TestRemoveCronBlock(t *testing.T) {
	block := "# BEGIN hamnflow sync\n0 1 * * * x\n# END hamnflow sync\n"
	tests := []struct{ name, tab, want string }{
		{"absent", "MAILTO=root\n", "MAILTO=root\n"},
		{"only ours", block, ""},
		{"others kept", "# mine\n" + block + "@reboot y\n", "# mine\n@reboot y\n"},
		{"every copy", block + "5 * * * * z\n" + block, "5 * * * * z\n"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RemoveCronBlock(tt.tab, "sync")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseCronEntries(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{in: "  0 1 * * * /usr/bin/rsync -az /etc/hosts mn2:/etc/\n\n@daily x\n", want: []string{"0 1 * * * /usr/bin/rsync -az /etc/hosts mn2:/etc/", "@daily x"}},
		{in: "MAILTO=root\n# a comment\n*/5 * * * * y", want: []string{"MAILTO=root", "# a comment", "*/5 * * * * y"}},
		{in: "0 1 * * /bin/x", err: "not a crontab line"},
		{in: "@reboot", err: "no command"},
		{in: "# BEGIN hamnflow x", err: "marker"},
		{in: "", want: nil},
	}
	for _, tt := range tests {
		got, err := ParseCronEntries(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestCrontabAction runs the action on this machine against a crontab
// program that keeps the table in a file: read, write, idempotence, a user
// without a crontab, and a read error that must not lead to a write.
func TestCrontabAction(t *testing.T) {
	dir := t.TempDir()
	tab := filepath.Join(dir, "tab")
	fake := "#!/bin/sh\n" +
		"if [ \"$1\" = -l ]; then\n" +
		"  [ -f " + tab + ".broken ] && { echo 'crontab: permission denied' >&2; exit 1; }\n" +
		"  [ -f " + tab + " ] || { echo 'no crontab for root' >&2; exit 1; }\n" +
		"  exec cat " + tab + "\nfi\n" +
		"cp \"$1\" " + tab + "\necho write >> " + tab + ".writes\n"
	if err := os.WriteFile(filepath.Join(dir, "crontab"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	if _, err := exec.LookPath("crontab"); err != nil {
		t.Fatal(err)
	}
	env := &act.Env{Transport: remote.Local{}}
	ct := Crontab{Env: env}
	decode := func(vals map[string]any) *CrontabArgs {
		t.Helper()
		args := ct.NewArgs().(*CrontabArgs)
		if errs := args.DecodeArgs(vals, nil); len(errs) > 0 {
			t.Fatal(errs)
		}
		return args
	}
	run := func(vals map[string]any) workflow.Outcome {
		t.Helper()
		o, err := ct.Run(context.Background(), workflow.Call{Args: decode(vals)})
		if err != nil {
			t.Fatalf("%v\n%s", err, o.Stderr)
		}
		return o
	}
	present := map[string]any{"block": "sync", "entries": "0 1 * * * /usr/bin/rsync -az /etc/hosts mn2:/etc/\n"}
	if o := run(present); o.Outputs["changed"] != "true" || o.Outputs["entries"] != "1" {
		t.Fatalf("first run: %v", o.Outputs)
	}
	if o := run(present); o.Outputs["changed"] != "false" {
		t.Fatalf("second run changed the crontab: %v", o.Outputs)
	}
	b, _ := os.ReadFile(tab)
	if strings.Count(string(b), "rsync") != 1 {
		t.Fatalf("crontab:\n%s", b)
	}
	os.WriteFile(tab, append([]byte("MAILTO=ops\n"), b...), 0o600)
	if o := run(present); o.Outputs["changed"] != "false" || strings.Contains(o.Stdout, "MAILTO") || !strings.HasPrefix(o.Stdout, "# BEGIN hamnflow sync\n") {
		t.Fatalf("with another line: %v, stdout %q (want only our block)", o.Outputs, o.Stdout)
	}
	if o := run(map[string]any{"block": "sync", "state": "absent"}); o.Outputs["changed"] != "true" {
		t.Fatalf("remove: %v", o.Outputs)
	}
	if b, _ := os.ReadFile(tab); string(b) != "MAILTO=ops\n" {
		t.Fatalf("after remove: %q", b)
	}
	os.WriteFile(tab+".broken", nil, 0o600)
	if _, err := ct.Run(context.Background(), workflow.Call{Args: decode(present)}); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("broken read: err = %v", err)
	}
	if w, _ := os.ReadFile(tab + ".writes"); strings.Count(string(w), "write") != 2 {
		t.Fatalf("writes: %q", w)
	}
}

func TestTargetPath(t *testing.T) {
	for _, tt := range []struct{ dest, p, want string }{
		{"", "/etc/hosts", "/etc/hosts"},
		{"", "etc/xcat/ca/", "/etc/xcat/ca/"},
		{"/", "install/x", "/install/x"},
		{"/etc/xcat/", "ca/a", "/etc/xcat/ca/a"},
		{"/etc/xcat", "ca/", "/etc/xcat/ca/"},
	} {
		if got := (&SyncArgs{Dest: tt.dest}).targetPath(tt.p); got != tt.want {
			t.Errorf("dest %q, %q: got %q, want %q", tt.dest, tt.p, got, tt.want)
		}
	}
}

func TestChangeOutputs(t *testing.T) {
	changes := make([]Change, maxListed+5)
	for i := range changes {
		changes[i] = Change{Path: "/install/f" + strconv.Itoa(i), Op: Missing, Kind: "file"}
	}
	changes[0].Op, changes[1].Op = Differs, Extra
	out := changeOutputs(changes)
	want := map[string]string{"count": "1005", "listed": "1000", "missing": "1003", "differs": "1", "extra": "1"}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("%s = %q, want %q", k, out[k], v)
		}
	}
	lines := strings.Split(out["list"], "\n")
	if len(lines) != maxListed+1 || lines[0] != "differs /install/f0" || lines[maxListed] != "... and 5 more" {
		t.Errorf("list: %d lines, first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
	}
}
