package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// Conf (pg_conf) edits postgresql.conf (settings) and pg_hba.conf
// (records) in conf_dir, keeping a .hamnflow-bak copy of each file it
// changes, then reloads the server; when a changed setting needs a
// restart (pg_settings.pending_restart), it restarts it.
//
// Each file is read with cat, edited in Go (EditConf, EditHBA) and written
// back, only when the edit changed it, by a script fed the new text on
// stdin; the script's first lines are comments that say the edit, so that
// the plan and the journal show it ("# set wal_level = replica in
// /etc/postgresql/15/main/postgresql.conf"). The files are read and
// written as the login user; the reload runs as the server's owner.
//
//	with: bin_dir, data_dir, conf_dir (default data_dir), user, port,
//	socket, log (the inventory's by default); set: settings, a list or one
//	a line ("wal_level = replica", "listen_addresses += ADDR" adds to the
//	list); hba: pg_hba.conf records, a list or one a line; apply: reload
//	(default) or none
//
// Outputs: changed (keys and records), restarted.
type Conf struct {
	Env      *act.Env
	Settings Settings
}

// ConfArgs are pg_conf's arguments.
type ConfArgs struct {
	Cluster
	Log   string   `arg:"log"`
	Set   []string `arg:"set"`
	HBA   []string `arg:"hba"`
	Apply string   `arg:"apply" oneof:"reload|none"`
}

// NewArgs implements workflow.Action.
func (pc Conf) NewArgs() any {
	return &ConfArgs{Cluster: Cluster{Conn: Conn{set: pc.Settings}}, Apply: "reload"}
}

// ArgNames implements workflow.ArgDecoder.
func (a *ConfArgs) ArgNames() []string { return workflow.SpecOf(a).Names() }

// DecodeArgs implements workflow.ArgDecoder.
func (a *ConfArgs) DecodeArgs(vals map[string]any, unknown map[string]bool) []error {
	return decode(a, vals, unknown)
}

func (a *ConfArgs) check(known func(string) bool) []error {
	errs := a.server().check(true)
	if known("set") {
		if _, err := ParseSettings(strings.Join(a.Set, "\n")); err != nil {
			errs = append(errs, argErr("set", "argument set: "+err.Error()))
		}
	}
	return errs
}

// settingLines are the settings as given, one each, without comments.
func settingLines(set []string) []string {
	var out []string
	for _, line := range strings.FieldsFunc(strings.Join(set, "\n"), func(r rune) bool { return r == '\n' || r == ';' }) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// hbaRecords are the records as given, fields separated by one space.
func hbaRecords(hba []string) []string {
	var out []string
	for _, h := range hba {
		if f := strings.Fields(h); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			out = append(out, strings.Join(f, " "))
		}
	}
	return out
}

// confFile is one file pg_conf edits: the command that reads it and the
// one that writes the edited text back (fed on stdin).
type confFile struct {
	name        string // postgresql.conf or pg_hba.conf
	path        string
	read, write act.Script
	// effective prints "key=value" for the settings += adds to, as the
	// server reads them from all its files (postgresql.conf only).
	effective *act.Script
}

// build gives the commands pg_conf runs, in order: read and write of each
// file it edits, then the reload (nil with apply: none).
func (a *ConfArgs) build() ([]confFile, *act.Script) {
	s := a.server().withLog(a.Log)
	var files []confFile
	add := func(name string, edits []string) {
		if len(edits) == 0 {
			return
		}
		path := strings.TrimRight(s.conf, "/") + "/" + name
		q := remote.ShellQuote(path)
		var b strings.Builder
		for _, e := range edits {
			b.WriteString("# " + e + " in " + path + "\n")
		}
		b.WriteString(`set -e
[ -e ` + q + `.hamnflow-bak ] || cp -p ` + q + ` ` + q + `.hamnflow-bak
cat > ` + q + `.hamnflow-new
chown --reference=` + q + ` ` + q + `.hamnflow-new
chmod --reference=` + q + ` ` + q + `.hamnflow-new
mv ` + q + `.hamnflow-new ` + q + `
`)
		f := confFile{name: name, path: path, read: act.Script{Text: "cat " + q}, write: act.Script{Text: b.String()}}
		if name == "postgresql.conf" {
			f.effective = effectiveScript(s, a.Set)
		}
		files = append(files, f)
	}
	var sets, hbas []string
	for _, l := range settingLines(a.Set) {
		sets = append(sets, "set "+l)
	}
	for _, r := range hbaRecords(a.HBA) {
		hbas = append(hbas, `ensure "`+r+`"`)
	}
	add("postgresql.conf", sets)
	add("pg_hba.conf", hbas)
	if a.Apply == "none" {
		return files, nil
	}
	// Reload a running server; restart it when a setting needs that;
	// refuse a pg_hba.conf the server cannot read, and settings that a
	// later file sets again (Debian's conf.d/, included at the end of
	// postgresql.conf, or ALTER SYSTEM's postgresql.auto.conf, read last):
	// the edit would not take effect.
	overridden := ""
	if len(sets) > 0 {
		settings, _ := ParseSettings(strings.Join(a.Set, "\n"))
		var keys []string
		for _, st := range settings {
			keys = append(keys, "'"+strings.ToLower(st.Key)+"'")
		}
		conf := "'" + strings.ReplaceAll(strings.TrimRight(s.conf, "/")+"/postgresql.conf", "'", "''") + "'"
		overridden = `over=$(` + s.psql("postgres", "SELECT DISTINCT f.name || ' is set again in ' || l.sourcefile || ':' || l.sourceline || ' = ' || l.setting "+
			"FROM pg_file_settings f JOIN pg_file_settings l ON l.name = f.name AND l.seqno > f.seqno AND l.sourcefile <> f.sourcefile "+
			"WHERE f.sourcefile = "+conf+" AND f.name IN ("+strings.Join(keys, ", ")+")") + `)
if [ -n "$over" ]; then printf '%s\n' "$over" >&2; echo "a later file sets these again and wins over postgresql.conf: remove them there, then resume" >&2; exit 1; fi
`
	}
	apply := s.script(`set -e
if ! ` + s.pgctl("status") + ` >/dev/null 2>&1; then echo "server not running: the files apply at its next start"; exit 0; fi
# Reload, then wait until the postmaster has read the files: a new
# session's pg_conf_load_time() changes once it has (no fixed sleep).
before=$(` + s.psql("postgres", "SELECT pg_conf_load_time()") + `)
` + s.pgctl("reload") + ` >/dev/null
i=0
while [ "$(` + s.psql("postgres", "SELECT pg_conf_load_time()") + `)" = "$before" ]; do
	i=$((i+1)); [ $i -le 200 ] || { echo "the server did not reload its configuration within 10s" >&2; exit 1; }
	sleep 0.05
done
bad=$(` + s.psql("postgres", "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL") + `)
if [ "$bad" != 0 ]; then ` + s.psql("postgres", "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL") + ` >&2; exit 1; fi
` + overridden + `pending=$(` + s.psql("postgres", "SELECT string_agg(name, ',') FROM pg_settings WHERE pending_restart") + `)
if [ -n "$pending" ]; then
	echo "restart needed for: $pending"
	` + s.stop() + `
	` + s.start() + `
	echo "restarted=yes"
else echo "reloaded"; fi
`)
	return files, &apply
}

// effectiveScript reads, with postgres -C, the values in effect of the
// settings that += adds to: a list given in a later file (Debian's
// conf.d/, postgresql.auto.conf) is the one to add to, and "*" already
// holds every address. nil when no setting adds.
func effectiveScript(s server, set []string) *act.Script {
	settings, _ := ParseSettings(strings.Join(set, "\n"))
	var keys []string
	for _, st := range settings {
		if st.Add {
			keys = append(keys, remote.ShellQuote(st.Key))
		}
	}
	if len(keys) == 0 {
		return nil
	}
	cmd := s.exe("postgres") + " -D " + quote(s.data)
	if s.conf != s.data {
		cmd += " -c " + quote("config_file="+strings.TrimRight(s.conf, "/")+"/postgresql.conf")
	}
	sc := s.script(`for k in ` + strings.Join(keys, " ") + `; do v=$(` + cmd + ` -C "$k") || exit 1; printf '%s=%s\n' "$k" "$v"; done`)
	return &sc
}

// Plan implements workflow.Action: for each file, its read and its write
// (which runs only when the edit changes the file), then the reload.
func (pc Conf) Plan(host string, args any) []string {
	a := *args.(*ConfArgs)
	a.on(pc.Env, host)
	files, apply := a.build()
	var out []string
	for _, f := range files {
		out = append(out, f.read.Shown())
		if f.effective != nil {
			out = append(out, f.effective.Shown())
		}
		out = append(out, f.write.Shown())
	}
	if apply != nil {
		out = append(out, apply.Shown())
	}
	return out
}

// Run implements workflow.Action.
func (pc Conf) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*ConfArgs)
	a.on(pc.Env, c.Host)
	host := act.HostLabel(c.Host)
	fail := func(o workflow.Outcome, err error) (workflow.Outcome, error) {
		return o, fmt.Errorf("configure PostgreSQL on %s: %w", host, err)
	}
	if err := valid(a); err != nil {
		return fail(workflow.Outcome{}, err)
	}
	settings, _ := ParseSettings(strings.Join(a.Set, "\n")) // checked by valid
	records := hbaRecords(a.HBA)
	h, err := pc.Env.Host(c.Host)
	if err != nil {
		return fail(workflow.Outcome{}, err)
	}
	files, apply := a.build()
	var o workflow.Outcome
	var ran []string
	var log strings.Builder
	var changed []string
	exec := func(s act.Script, stdin string) (remote.Result, error) {
		ran = append(ran, s.Shown())
		o.Command = strings.Join(ran, "\n")
		cmd := remote.Command{Script: s.Text, AsUser: s.AsUser}
		if stdin != "" {
			cmd.Stdin = strings.NewReader(stdin)
		}
		res, err := pc.Env.Transport.Exec(ctx, h, cmd)
		if err == nil && res.Exit != 0 {
			err = fmt.Errorf("exit status %d%s", res.Exit, act.Tail(res.Stderr, res.Stdout))
		}
		return res, err
	}
	for _, f := range files {
		// The file's text is not the step's output: only what changed is.
		res, err := exec(f.read, "")
		if err != nil {
			o.Stdout = log.String()
			return fail(o, fmt.Errorf("read %s: %w", f.path, err))
		}
		var text string
		var what []string
		if f.name == "postgresql.conf" {
			if f.effective != nil {
				res, err := exec(*f.effective, "")
				if err != nil {
					o.Stdout = log.String()
					return fail(o, fmt.Errorf("read the settings in effect (postgres -C): %w", err))
				}
				kv := act.KeyValues(string(res.Stdout))
				for i := range settings {
					if settings[i].Add {
						settings[i].Base = kv[settings[i].Key]
					}
				}
			}
			text, what = EditConf(string(res.Stdout), settings)
		} else {
			text, what = EditHBA(string(res.Stdout), records)
		}
		if len(what) == 0 {
			fmt.Fprintf(&log, "%s: already as wanted\n", f.path)
			continue
		}
		if _, err := exec(f.write, text); err != nil {
			o.Stdout = log.String()
			return fail(o, fmt.Errorf("write %s: %w", f.path, err))
		}
		fmt.Fprintf(&log, "%s: %s\n", f.path, strings.Join(what, "; "))
		changed = append(changed, what...)
	}
	o.Ran = true
	o.Outputs = map[string]string{"changed": strings.Join(changed, "; "), "restarted": "false"}
	if apply == nil {
		o.Stdout = log.String()
		return o, nil
	}
	ro, _, err := pc.Env.Run(ctx, c, *apply)
	ran = append(ran, apply.Shown())
	o.Command = strings.Join(ran, "\n")
	o.Stdout = log.String() + ro.Stdout
	o.Stderr, o.Exit, o.Ran = ro.Stderr, ro.Exit, ro.Ran
	if err != nil {
		return o, fmt.Errorf("apply PostgreSQL configuration on %s: %w", host, err)
	}
	if act.KeyValues(ro.Stdout)["restarted"] == "yes" {
		o.Outputs["restarted"] = "true"
	}
	return o, nil
}
