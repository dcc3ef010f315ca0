// Package sqlite keeps the standby's copy of an SQLite xCAT database
// current (guide 5.3: SQLite has no replication, so the files are copied
// consistently) and checks copies:
//
//	sqlite_sync         copy the database to another host now
//	sqlite_sync_script  install that copy as a script, for cron
//	sqlite_check        PRAGMA integrity_check of every database file
//
// Each action runs one shell script on its step's host, which its plan
// shows as it is. None is a workflow.Reverser: a copy overwrites the
// other host's database, which it does not keep, and a check changes
// nothing.
package sqlite

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// Settings are what the SQLite actions take from the inventory; a step's
// path overrides it.
type Settings struct {
	// Path is the database: one file, or a directory of *.sqlite files
	// (database.file; xCAT's default /etc/xcat).
	Path string
}

// Actions returns the SQLite actions, bound to env and the inventory's
// settings.
func Actions(env *act.Env, s Settings) map[string]workflow.Action {
	return map[string]workflow.Action{
		"sqlite_sync":        &Sync{Env: env, Settings: s},
		"sqlite_sync_script": &SyncScript{Env: env, Settings: s},
		"sqlite_check":       &Check{Env: env, Settings: s},
	}
}

func (s Settings) path(arg string) string {
	if arg != "" {
		return arg
	}
	return s.Path
}

// safePathRE is what the SQLite scripts accept as a path or host: they
// pass it through ssh, where quoting is not preserved.
var safePathRE = regexp.MustCompile(`^[A-Za-z0-9_./+@:-]+$`)

func checkSafe(what, v string) error {
	if !safePathRE.MatchString(v) {
		return fmt.Errorf("%s %q: use only letters, digits and _ . / + @ : -", what, v)
	}
	return nil
}

// checkArgs checks the named values (path, to, script) that are given
// and known, as *workflow.ArgError.
func checkArgs(vals map[string]string, unknown map[string]bool) []error {
	var errs []error
	for _, k := range []string{"path", "to", "script"} {
		if v, ok := vals[k]; ok && v != "" && !unknown[k] {
			if err := checkSafe(k, v); err != nil {
				errs = append(errs, &workflow.ArgError{Arg: k, Msg: err.Error()})
			}
		}
	}
	return errs
}

// sqliteFiles is shell that sets "$@" to the SQLite files at $src: the
// file itself, or the *.sqlite files of a directory (xCAT keeps one file
// per table in /etc/xcat).
const sqliteFiles = `if [ -d "$src" ]; then dir=$src; set -- "$src"/*.sqlite; else dir=$(dirname "$src"); set -- "$src"; fi
[ -e "$1" ] || { echo "no SQLite database at $src" >&2; exit 1; }
`

// SyncScriptText is the script that copies the SQLite database at src
// (a file or a directory of *.sqlite) consistently to the same place on
// host to: sqlite3's .backup (the online backup API, safe while xcatd
// writes) into a staging directory, integrity_check of each copy, rsync
// to to's staging directory, then a rename into place there (removing
// stale -wal, -shm and -journal files). Cron runs the same script.
func SyncScriptText(src, to string) string {
	return `set -eu
src=` + src + `
to=` + to + `
` + sqliteFiles + `stage=$(mktemp -d "${TMPDIR:-/tmp}/hamnflow-sqlite.XXXXXX")
trap 'rm -rf "$stage"' EXIT
for f in "$@"; do
	n=$(basename "$f")
	sqlite3 "$f" ".timeout 10000" ".backup '$stage/$n'"
	r=$(sqlite3 "$stage/$n" "PRAGMA integrity_check;")
	[ "$r" = ok ] || { echo "$n: the copy fails integrity_check: $r" >&2; exit 1; }
	echo "copied $f"
done
in=$dir/.hamnflow-incoming
ssh -o BatchMode=yes "$to" "mkdir -p $in"
rsync -a --delete "$stage/" "$to:$in/"
ssh -o BatchMode=yes "$to" "cd $dir && for f in .hamnflow-incoming/*.sqlite; do n=\${f#.hamnflow-incoming/}; rm -f \$n-wal \$n-shm \$n-journal; mv \$f \$n; done && rmdir .hamnflow-incoming"
echo "synchronised $# file(s) to $to:$dir"
`
}

// installScript writes the copy script to script on the step's host.
func installScript(script, body string) string {
	return "set -e\nmkdir -p $(dirname " + script + ")\ncat > " + script + ".tmp <<'HAMNFLOW_EOF'\n#!/bin/sh\n# written by hamnflow: copy the xCAT SQLite database to the standby MN\n" +
		body + "HAMNFLOW_EOF\nchmod 755 " + script + ".tmp\nmv " + script + ".tmp " + script + "\n"
}

// Sync (action sqlite_sync) copies the SQLite database from the step's
// host to another host now.
//
// Outputs: files (how many were copied).
type Sync struct {
	Env      *act.Env
	Settings Settings
}

// SyncArgs are the arguments of sqlite_sync.
type SyncArgs struct {
	Path string `arg:"path"`        // file or directory of *.sqlite; default the inventory's
	To   string `arg:"to,required"` // host name or address as the step's host reaches it by ssh
}

// NewArgs implements workflow.Action.
func (*Sync) NewArgs() any { return &SyncArgs{} }

// ArgNames implements workflow.ArgDecoder.
func (a *SyncArgs) ArgNames() []string { return workflow.SpecOf(a).Names() }

// DecodeArgs implements workflow.ArgDecoder: the tags, then path and to
// checked.
func (a *SyncArgs) DecodeArgs(vals map[string]any, unknown map[string]bool) []error {
	if errs := workflow.DecodeArgs(a, vals, unknown); len(errs) > 0 {
		return errs
	}
	return checkArgs(map[string]string{"path": a.Path, "to": a.To}, unknown)
}

// Plan implements workflow.Action.
func (s *Sync) Plan(_ string, args any) []string {
	a := args.(*SyncArgs)
	return []string{SyncScriptText(s.Settings.path(a.Path), a.To)}
}

// Run implements workflow.Action.
func (s *Sync) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*SyncArgs)
	path := s.Settings.path(a.Path)
	if errs := checkArgs(map[string]string{"path": path, "to": a.To}, nil); len(errs) > 0 || path == "" {
		return workflow.Outcome{}, argsError(errs, path)
	}
	o, _, err := s.Env.Run(ctx, c, act.Script{Text: SyncScriptText(path, a.To)})
	if err != nil {
		return o, fmt.Errorf("copy SQLite %s to %s: %w", path, a.To, err)
	}
	o.Outputs = map[string]string{"files": strconv.Itoa(strings.Count(o.Stdout, "copied "))}
	return o, nil
}

func argsError(errs []error, path string) error {
	if len(errs) > 0 {
		return errs[0]
	}
	if path == "" {
		return fmt.Errorf("path: give the SQLite database (or database.file in the inventory)")
	}
	return nil
}

// SyncScript (action sqlite_sync_script) installs the copy of Sync as a
// script on the step's host, for cron.
type SyncScript struct {
	Env      *act.Env
	Settings Settings
}

// SyncScriptArgs are the arguments of sqlite_sync_script.
type SyncScriptArgs struct {
	SyncArgs
	Script string `arg:"script,required"` // where the script is installed
}

// NewArgs implements workflow.Action.
func (*SyncScript) NewArgs() any { return &SyncScriptArgs{} }

// ArgNames implements workflow.ArgDecoder.
func (a *SyncScriptArgs) ArgNames() []string { return workflow.SpecOf(a).Names() }

// DecodeArgs implements workflow.ArgDecoder: the tags, then path, to and
// script checked.
func (a *SyncScriptArgs) DecodeArgs(vals map[string]any, unknown map[string]bool) []error {
	if errs := workflow.DecodeArgs(a, vals, unknown); len(errs) > 0 {
		return errs
	}
	return checkArgs(map[string]string{"path": a.Path, "to": a.To, "script": a.Script}, unknown)
}

// Plan implements workflow.Action.
func (s *SyncScript) Plan(_ string, args any) []string {
	a := args.(*SyncScriptArgs)
	return []string{installScript(a.Script, SyncScriptText(s.Settings.path(a.Path), a.To))}
}

// Run implements workflow.Action.
func (s *SyncScript) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*SyncScriptArgs)
	path := s.Settings.path(a.Path)
	if errs := checkArgs(map[string]string{"path": path, "to": a.To, "script": a.Script}, nil); len(errs) > 0 || path == "" {
		return workflow.Outcome{}, argsError(errs, path)
	}
	o, _, err := s.Env.Run(ctx, c, act.Script{Text: installScript(a.Script, SyncScriptText(path, a.To))})
	if err != nil {
		return o, fmt.Errorf("install the SQLite sync script %s: %w", a.Script, err)
	}
	return o, nil
}

// Check (action sqlite_check) runs PRAGMA integrity_check on the SQLite
// database at path (a file or a directory of *.sqlite): success when
// every file is "ok".
//
// Outputs: files (how many were checked).
type Check struct {
	Env      *act.Env
	Settings Settings
}

// CheckArgs are the arguments of sqlite_check.
type CheckArgs struct {
	Path string `arg:"path"` // default the inventory's
}

// NewArgs implements workflow.Action.
func (*Check) NewArgs() any { return &CheckArgs{} }

func checkScript(path string) string {
	return "src=" + remote.ShellQuote(path) + "\n" + sqliteFiles +
		`for f in "$@"; do echo "== $f"; sqlite3 "$f" ".timeout 10000" "PRAGMA integrity_check;" 2>&1 || echo "sqlite3 exit $?"; done`
}

// Plan implements workflow.Action.
func (s *Check) Plan(_ string, args any) []string {
	return []string{checkScript(s.Settings.path(args.(*CheckArgs).Path))}
}

// Run implements workflow.Action.
func (s *Check) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	path := s.Settings.path(c.Args.(*CheckArgs).Path)
	if path == "" {
		return workflow.Outcome{}, argsError(nil, path)
	}
	o, _, err := s.Env.Run(ctx, c, act.Script{Text: checkScript(path)})
	if err != nil {
		return o, fmt.Errorf("integrity check of SQLite %s: %w", path, err)
	}
	rep, err := ParseIntegrityReport(o.Stdout)
	if err != nil {
		return o, fmt.Errorf("integrity check of SQLite %s on %s: %w", path, c.Host, err)
	}
	o.Outputs = map[string]string{"files": strconv.Itoa(len(rep.Files))}
	if !rep.OK() {
		var bad []string
		for f, p := range rep.Problems {
			bad = append(bad, f+": "+strings.Join(p, "; "))
		}
		return o, fmt.Errorf("SQLite integrity check on %s failed: %s", c.Host, strings.Join(bad, " | "))
	}
	return o, nil
}
