package xcat

import (
	"context"
	"errors"
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
		`XCATBYPASS="$plugins" dumpxCATdb -p "$dir/db"`,
		`lib/perl/xCAT_plugin/tabutils.pm`,
		// dumpxCATdb exits 0 when a table fails: its log is read.
		`grep -q 'Error' "$dir/dumpxCATdb.log"`, `[ ! -s "$dir/db/site.csv" ]`,
		"--exclude=etc/xcat/cfgloc", "--exclude=etc/xcat/ddns.key", "--exclude=etc/xcat/ca/private", "--exclude='*-key.pem'", "--exclude='*_key'",
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
	out := "path=/var/lib/hamnflow/snapshots/R/20261204T193000Z\ntables=71\nconfig=/var/lib/hamnflow/snapshots/R/20261204T193000Z/etc-xcat.tar.gz\nsize=412\n"
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
