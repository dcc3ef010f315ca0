package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/workflow"
)

// The replication password never appears in a command line: the script
// reads it from its stdin into PGPASSWORD, which pg_basebackup and
// pg_rewind read, and with -R write into the standby's primary_conninfo
// (postgresql.auto.conf, mode 0600 in the data directory), where the
// standby needs it to stream (testdata/capture.sh checks it: see
// basebackup_auto_conf_password.txt). A PGPASSFILE would not do: -R writes
// the passfile's path into primary_conninfo instead, and a temporary file
// would be gone when the standby next connects.
const passwordPrelude = `IFS= read -r PGPASSWORD || true
if [ -n "$PGPASSWORD" ]; then export PGPASSWORD; else unset PGPASSWORD; fi
`

// Replication are the arguments of the actions that clone from another
// server.
type Replication struct {
	ReplUser string `arg:"repl_user"` // "": postgres
	Password string `arg:"password"`  // use {{ secret "..." }}: passed on stdin
}

func (r Replication) user() string { return or(r.ReplUser, DefaultUser) }

// prelude is the start of the script: the password read, when one is given.
func (r Replication) prelude() string {
	if r.Password == "" {
		return "set -e\n"
	}
	return "set -e\n" + passwordPrelude
}

// basebackupScript clones primary into the data directory as a streaming
// standby: the clone is made beside the data directory, which is only
// replaced once the clone is complete.
func basebackupScript(s server, primary, replUser string) string {
	d := quote(s.data)
	conn := "-h " + quote(primary) + " -p " + strconv.Itoa(s.port) + " -U " + quote(replUser)
	return `new=` + d + `.hamnflow-new; old=` + d + `.hamnflow-old
rm -rf "$new" "$old"
` + s.exe("pg_basebackup") + ` ` + conn + ` -D "$new" -R -X stream -c fast -w
chmod 0700 "$new"
if [ -d ` + d + ` ]; then mv ` + d + ` "$old"; fi
mv "$new" ` + d + `
rm -rf "$old"
`
}

// conninfoValue quotes a value of a libpq connection string when needed.
func conninfoValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n'\\=") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// Basebackup (pg_basebackup) makes this host a streaming standby of
// primary: it stops the local server, clones the primary with
// pg_basebackup -R -X stream and starts the clone, which then follows the
// primary. One script, as the server's owner; the password goes on its
// stdin.
//
//	with: bin_dir, data_dir, conf_dir, user, port, socket, log (the
//	inventory's by default); primary (address, required); repl_user
//	(default postgres); password (use {{ secret "..." }})
//
// Outputs: role (standby), method (basebackup).
type Basebackup struct {
	Env      *act.Env
	Settings Settings
}

// BasebackupArgs are pg_basebackup's arguments.
type BasebackupArgs struct {
	Cluster
	Log     string `arg:"log"`
	Primary string `arg:"primary,required"`
	Replication
}

// NewArgs implements workflow.Action.
func (b Basebackup) NewArgs() any {
	return &BasebackupArgs{Cluster: Cluster{Conn: Conn{set: b.Settings}}}
}

// ArgNames implements workflow.ArgDecoder.
func (a *BasebackupArgs) ArgNames() []string { return workflow.SpecOf(a).Names() }

// DecodeArgs implements workflow.ArgDecoder.
func (a *BasebackupArgs) DecodeArgs(vals map[string]any, unknown map[string]bool) []error {
	return decode(a, vals, unknown)
}

func (a *BasebackupArgs) check(func(string) bool) []error {
	errs := a.server().check(true)
	if strings.TrimSpace(a.Primary) == "" {
		errs = append(errs, argErr("primary", "argument primary: name the primary's address"))
	}
	return errs
}

func (a *BasebackupArgs) script() act.Script {
	s := a.server().withLog(a.Log)
	sc := s.script(a.prelude() + s.stopIfRunning() + basebackupScript(s, a.Primary, a.user()) + s.start() + "\n")
	sc.Stdin = a.Password
	return sc
}

// Plan implements workflow.Action.
func (b Basebackup) Plan(host string, args any) []string {
	a := *args.(*BasebackupArgs)
	a.on(b.Env, host)
	return []string{a.script().Shown()}
}

// Run implements workflow.Action.
func (b Basebackup) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*BasebackupArgs)
	a.on(b.Env, c.Host)
	host := act.HostLabel(c.Host)
	data := a.server().data
	if err := valid(a); err != nil {
		return workflow.Outcome{}, fmt.Errorf("clone %s into %s on %s: %w", a.Primary, data, host, err)
	}
	script := a.script()
	o, _, err := b.Env.Run(ctx, c, script)
	o.Command = script.Shown()
	if err != nil {
		return o, fmt.Errorf("clone %s into %s on %s: %w", a.Primary, data, host, err)
	}
	o.Outputs = map[string]string{"role": "standby", "method": "basebackup"}
	return o, nil
}

// Rewind (pg_rewind) turns a former primary into a standby of the new
// primary (source): pg_rewind -R when its timeline allows it, else
// (fallback: basebackup, the default) a fresh pg_basebackup clone. The
// server is started afterwards. One script, as the server's owner; the
// password goes on its stdin.
//
//	with: bin_dir, data_dir, conf_dir, user, port, socket, log (the
//	inventory's by default); source (address of the new primary,
//	required); repl_user; password; fallback basebackup|none
//
// Outputs: method (rewind|basebackup), role (standby).
type Rewind struct {
	Env      *act.Env
	Settings Settings
}

// RewindArgs are pg_rewind's arguments.
type RewindArgs struct {
	Cluster
	Log    string `arg:"log"`
	Source string `arg:"source,required"`
	Replication
	Fallback string `arg:"fallback" oneof:"basebackup|none"`
}

// NewArgs implements workflow.Action.
func (r Rewind) NewArgs() any {
	return &RewindArgs{Cluster: Cluster{Conn: Conn{set: r.Settings}}, Fallback: "basebackup"}
}

// ArgNames implements workflow.ArgDecoder.
func (a *RewindArgs) ArgNames() []string { return workflow.SpecOf(a).Names() }

// DecodeArgs implements workflow.ArgDecoder.
func (a *RewindArgs) DecodeArgs(vals map[string]any, unknown map[string]bool) []error {
	return decode(a, vals, unknown)
}

func (a *RewindArgs) check(func(string) bool) []error {
	errs := a.server().check(true)
	if strings.TrimSpace(a.Source) == "" {
		errs = append(errs, argErr("source", "argument source: name the new primary's address"))
	}
	return errs
}

func (a *RewindArgs) script() act.Script {
	s := a.server().withLog(a.Log)
	src := "host=" + conninfoValue(a.Source) + " port=" + strconv.Itoa(s.port) + " user=" + conninfoValue(a.user()) + " dbname=postgres"
	fallback := `echo "pg_rewind failed and fallback is none" >&2; exit 1`
	if a.Fallback != "none" {
		fallback = `echo "pg_rewind was not possible: re-cloning with pg_basebackup"
` + basebackupScript(s, a.Source, a.user()) + `echo "method=basebackup"`
	}
	sc := s.script(a.prelude() + s.stopIfRunning() + `if ` + s.exe("pg_rewind") + ` -D ` + quote(s.data) + ` --source-server=` + quote(src) + ` -R --progress; then
	echo "method=rewind"
else
	` + fallback + `
fi
` + s.start() + "\n")
	sc.Stdin = a.Password
	return sc
}

// Plan implements workflow.Action.
func (r Rewind) Plan(host string, args any) []string {
	a := *args.(*RewindArgs)
	a.on(r.Env, host)
	return []string{a.script().Shown()}
}

// Run implements workflow.Action.
func (r Rewind) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*RewindArgs)
	a.on(r.Env, c.Host)
	host := act.HostLabel(c.Host)
	if err := valid(a); err != nil {
		return workflow.Outcome{}, fmt.Errorf("make %s a standby of %s: %w", host, a.Source, err)
	}
	script := a.script()
	o, _, err := r.Env.Run(ctx, c, script)
	o.Command = script.Shown()
	if err != nil {
		return o, fmt.Errorf("make %s a standby of %s: %w", host, a.Source, err)
	}
	o.Outputs = map[string]string{"method": act.KeyValues(o.Stdout)["method"], "role": "standby"}
	return o, nil
}
