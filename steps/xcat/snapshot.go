package xcat

import (
	"context"
	"fmt"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// SnapshotArgs are xcat_snapshot's arguments.
type SnapshotArgs struct {
	// Dir is where the snapshot goes: a directory named for the time
	// (UTC, 20261204T193000Z) is made in it.
	Dir string `arg:"dir,required"`
}

// The snapshot's copy of /etc/xcat leaves out the private keys and
// passwords: cfgloc (the database password), *.key (ddns.key's TSIG key),
// any directory named private (the CA's key), *-key.pem and *-cred.pem
// (the server's key and credential file) and *_key (the SSH host keys).
// The snapshot is for putting the database and the configuration back;
// the credentials are kept where they are and by the file sync
// (sync-setup), and a second copy in a directory that outlives the run
// would widen who can take the cluster's identity. The list is made with
// find and the tar is plain (-cf, uncompressed): POSIX find and tar
// flags, as on AIX, not GNU tar's --exclude and -z.
var (
	configSkipNames = []string{"cfgloc", "*.key", "*-key.pem", "*-cred.pem", "*_key"}
	configSkipDirs  = []string{"private"}
)

// configListScript prints the files of /etc/xcat the snapshot keeps,
// relative to /.
func configListScript() string {
	var b strings.Builder
	b.WriteString("cd / && find etc/xcat")
	for _, d := range configSkipDirs {
		b.WriteString(" \\( -type d -name " + remote.ShellQuote(d) + " -prune \\) -o")
	}
	b.WriteString(" \\( -type f")
	for _, n := range configSkipNames {
		b.WriteString(" ! -name " + remote.ShellQuote(n))
	}
	b.WriteString(" -print \\)")
	return b.String()
}

// snapshotScript makes DIR/TIME (0700, root's), dumps xCAT's database
// there with dumpxCATdb -p (xCAT-client/sbin/dumpxCATdb: one tabdump CSV
// per table, the event and audit logs skipped as by default) and tars
// the files configListScript keeps. dumpxCATdb exits 0 even when a
// table's tabdump fails (it only prints "Error running ..."), so its
// output is kept and read, and site.csv must be there. XCATBYPASS makes
// xCAT's client commands run the plugin in the process
// (perl-xCAT/xCAT/Client.pm:158-204) instead of asking xcatd, which does
// not run yet where the failover takes the snapshot; the database is
// read at cfgloc's host, as by xcatd. XCATBYPASS names a directory that
// holds only tabutils.pm (tabdump's plugin), so that each of
// dumpxCATdb's tabdump calls loads that one plugin, not all of them:
// measured on the lab, 0.2 s a table instead of 1.4 s (71 tables: about
// 18 s, as long as through xcatd).
func snapshotScript(dir string) string {
	return xcatPath + "umask 077\nbase=" + remote.ShellQuote(dir) + "\n" +
		`dir="$base/$(date -u +%Y%m%dT%H%M%SZ)"` + "\n" +
		`mkdir -p "$dir/db" "$dir/.plugins" && chmod 700 "$base" "$dir" || exit` + "\n" +
		`ln -s "${XCATROOT:-/opt/xcat}/lib/perl/xCAT_plugin/tabutils.pm" "$dir/.plugins/" || exit` + "\n" +
		`XCATBYPASS="$dir/.plugins" dumpxCATdb -p "$dir/db" >"$dir/dumpxCATdb.log" 2>&1; rc=$?; rm -rf "$dir/.plugins"` + "\n" +
		`if [ $rc -ne 0 ] || grep -q 'Error' "$dir/dumpxCATdb.log" || [ ! -s "$dir/db/site.csv" ]; then` + "\n" +
		`  echo "dumpxCATdb -p $dir/db: exit $rc" >&2; tail -n 20 "$dir/dumpxCATdb.log" >&2; exit 1; fi` + "\n" +
		"( " + configListScript() + ` ) >"$dir/etc-xcat.list" || exit` + "\n" +
		// tar refuses to write an archive of nothing: a /etc/xcat with
		// only cfgloc and keys in it gets no tar (config= empty).
		`config=; if [ -s "$dir/etc-xcat.list" ]; then (cd / && tar -cf "$dir/etc-xcat.tar" $(cat "$dir/etc-xcat.list")) || exit; config="$dir/etc-xcat.tar"; fi` + "\n" +
		`echo "path=$dir"; echo "tables=$(ls "$dir/db" | grep -c '\.csv$')"; echo "config=$config"; echo "size=$(du -sk "$dir" | cut -f1)"`
}

// Snapshot (xcat_snapshot) saves xCAT's database and configuration on
// the step's host before the takeover serves from it, so that an
// operator (or failback) has the database as it was taken over to fall
// back on: restorexCATdb -p PATH/db puts its tables back
// (xCAT-client/pods/man1/restorexCATdb.1.pod), PATH/etc-xcat.tar the
// configuration files. It only adds a directory: rerunning it makes a
// second one, and it has nothing to undo.
//
// Outputs: path (the snapshot's directory), tables (CSV files), config
// (the tar), size (KiB).
type Snapshot struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (Snapshot) NewArgs() any { return &SnapshotArgs{} }

// Plan implements workflow.Action.
func (Snapshot) Plan(_ string, args any) []string {
	return []string{snapshotScript(args.(*SnapshotArgs).Dir)}
}

// Run implements workflow.Action.
func (x Snapshot) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*SnapshotArgs)
	if !strings.HasPrefix(a.Dir, "/") {
		return workflow.Outcome{}, fmt.Errorf("snapshot dir %q is not an absolute path", a.Dir)
	}
	o, _, err := x.Env.Run(ctx, c, act.Script{Text: snapshotScript(a.Dir)})
	kv := act.KeyValues(o.Stdout)
	o.Outputs = map[string]string{"path": kv["path"], "tables": kv["tables"], "config": kv["config"], "size": kv["size"]}
	if err != nil {
		return o, fmt.Errorf("snapshot of xCAT's database on %s under %s (dumpxCATdb needs the database at cfgloc's host; its log is in the snapshot's directory): %w",
			act.HostLabel(c.Host), a.Dir, err)
	}
	if kv["path"] == "" {
		return o, fmt.Errorf("snapshot on %s: the script did not name its directory", act.HostLabel(c.Host))
	}
	config := kv["config"] + ", without private keys and passwords"
	if kv["config"] == "" {
		config = "none: /etc/xcat holds only keys and passwords"
	}
	act.Say(c, &o, fmt.Sprintf("snapshot: %s (%s tables, restorexCATdb -p %s/db; configuration %s; %s KiB)",
		kv["path"], kv["tables"], kv["path"], config, kv["size"]))
	return o, nil
}
