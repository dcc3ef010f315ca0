package xcat

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/act/acttest"
	"github.com/hamnflow/hamnflow/workflow"
)

func TestSnapshotScript(t *testing.T) {
	s := snapshotScript("/var/lib/hamnflow/snapshots/20261204-193000-ab12")
	for _, want := range []string{
		"umask 077",
		"base=/var/lib/hamnflow/snapshots/20261204-193000-ab12\n",
		`XCATBYPASS="$dir/.plugins" dumpxCATdb -p "$dir/db"`,
		`lib/perl/xCAT_plugin/tabutils.pm`,
		// dumpxCATdb exits 0 when a table fails: its log is read.
		`grep -q 'Error' "$dir/dumpxCATdb.log"`, `[ ! -s "$dir/db/site.csv" ]`,
		`cd / && find etc/xcat \( -type d -name private -prune \) -o \( -type f ! -name cfgloc ! -name '*.key' ! -name '*-key.pem' ! -name '*-cred.pem' ! -name '*_key' -print \)`,
		`tar -cf "$dir/etc-xcat.tar"`,
		`echo "path=$dir"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("snapshot script lacks %q:\n%s", want, s)
		}
	}
	if got := snapshotScript("/tmp/it's here"); !strings.Contains(got, `base='/tmp/it'\''s here'`) {
		t.Errorf("dir not quoted:\n%s", got)
	}
}

func TestSnapshotRun(t *testing.T) {
	out := "path=/var/lib/hamnflow/snapshots/R/20261204T193000Z\ntables=71\nconfig=/var/lib/hamnflow/snapshots/R/20261204T193000Z/etc-xcat.tar\nsize=412\n"
	rec := &acttest.Recorder{Answer: func(acttest.Exec) acttest.Reply { return acttest.Reply{Stdout: out} }}
	a := Actions(acttest.Env(rec))["xcat_snapshot"]
	args := &SnapshotArgs{Dir: "/var/lib/hamnflow/snapshots/R"}
	o, err := a.Run(context.Background(), workflow.Call{Host: "mn2", Args: args})
	if err != nil {
		t.Fatal(err)
	}
	if o.Outputs["path"] != "/var/lib/hamnflow/snapshots/R/20261204T193000Z" || o.Outputs["tables"] != "71" || o.Outputs["size"] != "412" {
		t.Errorf("outputs %v", o.Outputs)
	}
	// show prints a step's output: the path is in it.
	if !strings.Contains(o.Stdout, "snapshot: /var/lib/hamnflow/snapshots/R/20261204T193000Z (71 tables, restorexCATdb -p /var/lib/hamnflow/snapshots/R/20261204T193000Z/db") {
		t.Errorf("stdout %q", o.Stdout)
	}
	if got := rec.Scripts(); len(got) != 1 || got[0] != a.Plan("mn2", args)[0] {
		t.Errorf("ran %q, planned %q", got, a.Plan("mn2", args))
	}

	rec.Answer = func(acttest.Exec) acttest.Reply {
		return acttest.Reply{Exit: 1, Stderr: "dumpxCATdb -p /x/db: exit 0\nError running tabdump -f /x/db/site.csv site\n"}
	}
	if _, err := a.Run(context.Background(), workflow.Call{Host: "mn2", Args: args}); err == nil ||
		!strings.Contains(err.Error(), "snapshot of xCAT's database on mn2 under /var/lib/hamnflow/snapshots/R") || !strings.Contains(err.Error(), "Error running tabdump") {
		t.Errorf("failed dump: %v", err)
	}
	rec.Answer = func(acttest.Exec) acttest.Reply { return acttest.Reply{Err: errors.New("ssh: connection refused")} }
	if _, err := a.Run(context.Background(), workflow.Call{Host: "mn2", Args: args}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("unreachable: %v", err)
	}
	if _, err := a.Run(context.Background(), workflow.Call{Host: "mn2", Args: &SnapshotArgs{Dir: "snapshots"}}); err == nil || !strings.Contains(err.Error(), "not an absolute path") {
		t.Errorf("relative dir: %v", err)
	}
}

// The list of /etc/xcat's files the snapshot keeps, run by sh and find
// over the real lab's /etc/xcat layout (xcatconfig -i, then pgsqlsetup):
// no private key, no password.
func TestConfigListScript(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{
		"etc/xcat/cfgloc", "etc/xcat/ddns.key", "etc/xcat/site.sqlite",
		"etc/xcat/ca/Makefile", "etc/xcat/ca/ca-cert.pem", "etc/xcat/ca/index", "etc/xcat/ca/mn1.cert", "etc/xcat/ca/openssl.cnf",
		"etc/xcat/ca/private/ca-key.pem", "etc/xcat/ca/certs/01.pem",
		"etc/xcat/cert/ca.pem", "etc/xcat/cert/server-cert.pem", "etc/xcat/cert/server-cred.pem", "etc/xcat/cert/server-key.pem", "etc/xcat/cert/server-req.pem",
		"etc/xcat/hostkeys/ssh_host_rsa_key", "etc/xcat/hostkeys/ssh_host_rsa_key.pub", "etc/xcat/hostkeys/ssh_host_ed25519_key",
	} {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	script := strings.Replace(configListScript(), "cd / ", "cd "+root+" ", 1)
	out, err := exec.Command("/bin/sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	got := strings.Fields(string(out))
	sort.Strings(got)
	want := "etc/xcat/ca/Makefile etc/xcat/ca/ca-cert.pem etc/xcat/ca/certs/01.pem etc/xcat/ca/index etc/xcat/ca/mn1.cert etc/xcat/ca/openssl.cnf " +
		"etc/xcat/cert/ca.pem etc/xcat/cert/server-cert.pem etc/xcat/cert/server-req.pem etc/xcat/hostkeys/ssh_host_rsa_key.pub etc/xcat/site.sqlite"
	if strings.Join(got, " ") != want {
		t.Errorf("kept %q\nwant %q", strings.Join(got, " "), want)
	}
}
