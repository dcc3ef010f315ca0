package steps

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"

	"github.com/hamnflow/hamnflow/workflow"
)

// PostgreSQL actions: replication status and loss window, promotion,
// configuration files, the server's state, and (re)building a standby
// with pg_basebackup or pg_rewind. Commands run as the database owner
// (with: user, default postgres); with: bin_dir is the directory of the
// server's programs.
func postgresActions(env *Env) map[string]textAction {
	return map[string]textAction{
		"pg_status":     PGStatusAction{Env: env},
		"pg_promote":    PGPromote{Env: env},
		"pg_conf":       PGConf{Env: env},
		"pg_service":    PGService{Env: env},
		"pg_basebackup": PGBasebackup{Env: env},
		"pg_rewind":     PGRewind{Env: env},
	}
}

// pgArgs are the arguments every PostgreSQL action shares.
type pgArgs struct {
	bin, data, conf, user, port, socket, log string
}

func pgFrom(a map[string]string) pgArgs {
	p := pgArgs{bin: a["bin_dir"], data: a["data_dir"], conf: a["conf_dir"], user: a["user"], port: a["port"], socket: a["socket"], log: a["log"]}
	if p.user == "" {
		p.user = "postgres"
	}
	if p.port == "" {
		p.port = "5432"
	}
	if p.conf == "" {
		p.conf = p.data
	}
	if p.log == "" {
		p.log = "/var/log/postgresql/hamnflow-postgresql.log"
	}
	return p
}

func (p pgArgs) exe(name string) string {
	return remote.ShellQuote(strings.TrimRight(p.bin, "/") + "/" + name)
}

// psql is a psql command line running each query with its own -c.
func (p pgArgs) psql(db string, queries ...string) string {
	s := p.exe("psql") + " -X -A -t -q -v ON_ERROR_STOP=1 -p " + remote.ShellQuote(p.port) + " -d " + remote.ShellQuote(db)
	if p.socket != "" {
		s += " -h " + remote.ShellQuote(p.socket)
	}
	for _, q := range queries {
		s += " -c " + remote.ShellQuote(q)
	}
	return s
}

// pgctl is pg_ctl on the data directory with extra arguments.
func (p pgArgs) pgctl(args string) string {
	s := p.exe("pg_ctl") + " -D " + remote.ShellQuote(p.data)
	if p.conf != p.data {
		s += " -o " + remote.ShellQuote("-c config_file="+strings.TrimRight(p.conf, "/")+"/postgresql.conf")
	}
	return s + " " + args
}

// start starts the server with its log in p.log.
func (p pgArgs) start() string {
	return p.pgctl("-l " + remote.ShellQuote(p.log) + " -w -t 120 start")
}

var pgCommon = []string{"user", "port", "socket"}

// PGStatusAction reads a server's replication state: its role, WAL
// positions, replay delay and its streaming replicas.
//
//	with: bin_dir; allow_down "true" (a server that does not answer is
//	role "down", not a failure); expect_role primary|standby;
//	primary_lsn (the primary's last known position: adds the loss
//	window); min_replicas N (streaming replicas required);
//	min_replay_lsn (fail until the standby replayed this far)
//
// Outputs: role (primary|standby|down), receive_lsn, replay_lsn,
// current_lsn, last_replay, replay_delay, receiver, replicas,
// max_replay_lag, loss_bytes, loss_window. Items: the replicas.
type PGStatusAction struct{ Env *Env }

// Params implements workflow.Action.
func (PGStatusAction) Params() ([]string, []string) {
	return []string{"bin_dir"}, append([]string{"allow_down", "expect_role", "primary_lsn", "min_replicas", "min_replay_lsn"}, pgCommon...)
}

// Describe implements workflow.Action.
func (PGStatusAction) Describe(_ string, a map[string]string) string {
	p := pgFrom(a)
	s := "[as " + p.user + "] " + p.exe("psql") + " -p " + p.port + " -d postgres: pg_is_in_recovery(), WAL receive/replay/current LSN, pg_stat_replication"
	var want []string
	if a["expect_role"] != "" {
		want = append(want, "role "+a["expect_role"])
	}
	if a["min_replicas"] != "" {
		want = append(want, "at least "+a["min_replicas"]+" streaming replica(s)")
	}
	if a["min_replay_lsn"] != "" {
		want = append(want, "replayed up to "+a["min_replay_lsn"])
	}
	if a["primary_lsn"] != "" {
		want = append(want, "loss window against primary at "+a["primary_lsn"])
	}
	if len(want) > 0 {
		s += " (want " + strings.Join(want, ", ") + ")"
	}
	return s
}

// Run implements workflow.Action.
func (s PGStatusAction) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	p := pgFrom(c.Args)
	o, _, err := runText(s.Env, ctx, c, p.psql("postgres", pgStatusSQL...), p.user, nil)
	if err != nil {
		if c.Args["allow_down"] == "true" && ctx.Err() == nil {
			o.Outputs = map[string]string{"role": "down", "current_lsn": "", "receive_lsn": "", "replay_lsn": "", "loss_bytes": "-1",
				"loss_window": "server does not answer: " + err.Error()}
			return o, nil
		}
		return o, fmt.Errorf("query PostgreSQL status: %w", err)
	}
	st, err := ParsePGStatus(o.Stdout)
	if err != nil {
		return o, fmt.Errorf("read PostgreSQL status: %w", err)
	}
	streaming, maxLag := 0, 0.0
	for _, r := range st.Replicas {
		if r.State == "streaming" {
			streaming++
		}
		maxLag = max(maxLag, r.ReplayLagSeconds)
		o.Items = append(o.Items, map[string]string{"name": r.Name, "client": r.Client, "state": r.State,
			"sent_lsn": r.SentLSN, "replay_lsn": r.ReplayLSN, "sync_state": r.SyncState,
			"replay_lag": strconv.FormatFloat(r.ReplayLagSeconds, 'f', 3, 64)})
	}
	o.Outputs = map[string]string{
		"role": st.Role(), "receive_lsn": st.ReceiveLSN, "replay_lsn": st.ReplayLSN, "current_lsn": st.CurrentLSN,
		"last_replay": st.LastReplay, "replay_delay": strconv.FormatFloat(st.ReplayDelay, 'f', 3, 64),
		"receiver": st.Receiver, "replicas": strconv.Itoa(streaming), "max_replay_lag": strconv.FormatFloat(maxLag, 'f', 3, 64),
	}
	if st.InRecovery {
		n, words := st.LossWindow(c.Args["primary_lsn"])
		o.Outputs["loss_bytes"], o.Outputs["loss_window"] = strconv.FormatInt(n, 10), words
		say(c, &o, "loss window: "+words)
	}
	if want := c.Args["expect_role"]; want != "" && want != st.Role() {
		return o, fmt.Errorf("PostgreSQL on %s is a %s, expected a %s", act.HostLabel(c.Host), st.Role(), want)
	}
	if v := c.Args["min_replicas"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return o, fmt.Errorf("min_replicas %q is not a number", v)
		}
		if streaming < n {
			return o, fmt.Errorf("PostgreSQL on %s has %d streaming replica(s), want at least %d (pg_stat_replication: %d row(s))", act.HostLabel(c.Host), streaming, n, len(st.Replicas))
		}
	}
	if v := c.Args["min_replay_lsn"]; v != "" {
		want, err := ParseLSN(v)
		if err != nil {
			return o, fmt.Errorf("min_replay_lsn: %w", err)
		}
		got, err := ParseLSN(st.ReplayLSN)
		if err != nil || got < want {
			return o, fmt.Errorf("standby %s replayed WAL up to %s, not yet %s", act.HostLabel(c.Host), orNone(st.ReplayLSN), v)
		}
	}
	return o, nil
}

// PGPromote ends recovery on a standby (pg_ctl promote -w). A server that
// is already a primary is left as it is.
//
//	with: bin_dir, data_dir
//
// Outputs: promoted (true, or false when it already was a primary).
type PGPromote struct{ Env *Env }

// Params implements workflow.Action.
func (PGPromote) Params() ([]string, []string) {
	return []string{"bin_dir", "data_dir"}, append([]string{"conf_dir"}, pgCommon...)
}

// Describe implements workflow.Action.
func (PGPromote) Describe(_ string, a map[string]string) string {
	p := pgFrom(a)
	return "[as " + p.user + "] " + p.pgctl("promote -w -t 120") + " (unless already a primary)"
}

// Run implements workflow.Action.
func (pr PGPromote) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	p := pgFrom(c.Args)
	script := `set -e
r=$(` + p.psql("postgres", "SELECT pg_is_in_recovery()") + `)
if [ "$r" = f ]; then echo "promoted=no (already a primary)"; exit 0; fi
` + p.pgctl("promote -w -t 120") + `
r=$(` + p.psql("postgres", "SELECT pg_is_in_recovery()") + `)
[ "$r" = f ] || { echo "still in recovery after pg_ctl promote" >&2; exit 1; }
echo "promoted=yes"
`
	o, _, err := runText(pr.Env, ctx, c, script, p.user, nil)
	if err != nil {
		return o, fmt.Errorf("promote PostgreSQL on %s: %w", act.HostLabel(c.Host), err)
	}
	o.Outputs = map[string]string{"promoted": strconv.FormatBool(strings.HasPrefix(act.KeyValues(o.Stdout)["promoted"], "yes"))}
	return o, nil
}

// PGConf edits postgresql.conf (settings) and pg_hba.conf (records) in
// conf_dir, keeping a .hamnflow-bak copy of each file it changes, then
// reloads the server; when a changed setting needs a restart
// (pg_settings.pending_restart), it restarts it.
//
//	with: bin_dir, data_dir; conf_dir (default data_dir); set: settings
//	one a line ("wal_level = replica", "listen_addresses += ADDR" adds to
//	the list); hba: pg_hba.conf records one a line; apply: reload
//	(default) or none
//
// Outputs: changed (keys and records), restarted.
type PGConf struct{ Env *Env }

// Params implements workflow.Action.
func (PGConf) Params() ([]string, []string) {
	return []string{"bin_dir", "data_dir"}, append([]string{"conf_dir", "set", "hba", "apply", "log"}, pgCommon...)
}

// Describe implements workflow.Action.
func (PGConf) Describe(_ string, a map[string]string) string {
	p := pgFrom(a)
	var parts []string
	for _, s := range strings.Split(strings.TrimSpace(a["set"]), "\n") {
		if s = strings.TrimSpace(s); s != "" {
			parts = append(parts, "set "+s+" in "+p.conf+"/postgresql.conf")
		}
	}
	for _, h := range strings.Split(strings.TrimSpace(a["hba"]), "\n") {
		if h = strings.Join(strings.Fields(h), " "); h != "" {
			parts = append(parts, "ensure \""+h+"\" in "+p.conf+"/pg_hba.conf")
		}
	}
	if a["apply"] != "none" {
		parts = append(parts, "pg_ctl reload (restart if a setting needs it)")
	}
	return strings.Join(parts, "; ")
}

// Run implements workflow.Action.
func (pc PGConf) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	p := pgFrom(c.Args)
	settings, err := ParsePGSettings(c.Args["set"])
	if err != nil {
		return workflow.Outcome{}, err
	}
	h, err := hostOf(pc.Env, c.Host)
	if err != nil {
		return workflow.Outcome{}, err
	}
	o := workflow.Outcome{Command: pc.Describe(c.Host, c.Args)}
	var log strings.Builder
	var changed []string
	edit := func(name string, f func(string) (string, []string)) error {
		path := strings.TrimRight(p.conf, "/") + "/" + name
		res, err := pc.Env.Transport.Exec(ctx, h, remote.Command{Script: "cat " + remote.ShellQuote(path)})
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if res.Exit != 0 {
			return fmt.Errorf("read %s: exit %d%s", path, res.Exit, act.Tail(res.Stderr, res.Stdout))
		}
		text, what := f(string(res.Stdout))
		if len(what) == 0 {
			fmt.Fprintf(&log, "%s: already as wanted\n", path)
			return nil
		}
		q := remote.ShellQuote(path)
		write := `set -e
[ -e ` + q + `.hamnflow-bak ] || cp -p ` + q + ` ` + q + `.hamnflow-bak
cat > ` + q + `.hamnflow-new
chown --reference=` + q + ` ` + q + `.hamnflow-new
chmod --reference=` + q + ` ` + q + `.hamnflow-new
mv ` + q + `.hamnflow-new ` + q + `
`
		res, err = pc.Env.Transport.Exec(ctx, h, remote.Command{Script: write, Stdin: strings.NewReader(text)})
		if err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if res.Exit != 0 {
			return fmt.Errorf("write %s: exit %d%s", path, res.Exit, act.Tail(res.Stderr, res.Stdout))
		}
		fmt.Fprintf(&log, "%s: %s\n", path, strings.Join(what, "; "))
		changed = append(changed, what...)
		return nil
	}
	if len(settings) > 0 {
		if err := edit("postgresql.conf", func(t string) (string, []string) { return EditPGConf(t, settings) }); err != nil {
			o.Stdout = log.String()
			return o, err
		}
	}
	if hba := strings.TrimSpace(c.Args["hba"]); hba != "" {
		if err := edit("pg_hba.conf", func(t string) (string, []string) { return EditHBA(t, strings.Split(hba, "\n")) }); err != nil {
			o.Stdout = log.String()
			return o, err
		}
	}
	o.Ran = true
	o.Outputs = map[string]string{"changed": strings.Join(changed, "; "), "restarted": "false"}
	if c.Args["apply"] == "none" {
		o.Stdout = log.String()
		return o, nil
	}
	// Reload a running server; restart it when a setting needs that;
	// refuse a pg_hba.conf the server cannot read.
	script := `set -e
if ! ` + p.pgctl("status") + ` >/dev/null 2>&1; then echo "server not running: the files apply at its next start"; exit 0; fi
# Reload, then wait until the postmaster has read the files: a new
# session's pg_conf_load_time() changes once it has (no fixed sleep).
before=$(` + p.psql("postgres", "SELECT pg_conf_load_time()") + `)
` + p.pgctl("reload") + ` >/dev/null
i=0
while [ "$(` + p.psql("postgres", "SELECT pg_conf_load_time()") + `)" = "$before" ]; do
	i=$((i+1)); [ $i -le 200 ] || { echo "the server did not reload its configuration within 10s" >&2; exit 1; }
	sleep 0.05
done
bad=$(` + p.psql("postgres", "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL") + `)
if [ "$bad" != 0 ]; then ` + p.psql("postgres", "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL") + ` >&2; exit 1; fi
pending=$(` + p.psql("postgres", "SELECT string_agg(name, ',') FROM pg_settings WHERE pending_restart") + `)
if [ -n "$pending" ]; then
	echo "restart needed for: $pending"
	` + p.pgctl("-m fast -w -t 120 stop") + `
	` + p.start() + `
	echo "restarted=yes"
else echo "reloaded"; fi
`
	ro, _, err := runText(pc.Env, ctx, c, script, p.user, nil)
	o.Stdout = log.String() + ro.Stdout
	o.Stderr, o.Exit = ro.Stderr, ro.Exit
	if err != nil {
		return o, fmt.Errorf("apply PostgreSQL configuration on %s: %w", act.HostLabel(c.Host), err)
	}
	if act.KeyValues(ro.Stdout)["restarted"] == "yes" {
		o.Outputs["restarted"] = "true"
	}
	return o, nil
}

// PGService brings the server to a state: running or stopped (fast
// shutdown). check "true" only checks the state (a probe). Stopping
// reports where the stopped cluster's WAL ends.
//
//	with: bin_dir, data_dir, state; check; if_reachable; log
//
// Outputs: was (running|stopped), state; after a stop: cluster_state and
// checkpoint_lsn (pg_controldata).
type PGService struct{ Env *Env }

// Params implements workflow.Action.
func (PGService) Params() ([]string, []string) {
	return []string{"bin_dir", "data_dir", "state"}, append([]string{"conf_dir", "check", "if_reachable", "log"}, pgCommon...)
}

// Describe implements workflow.Action.
func (PGService) Describe(_ string, a map[string]string) string {
	p := pgFrom(a)
	var s string
	switch {
	case a["check"] == "true":
		s = p.pgctl("status") + " (must be " + a["state"] + ")"
	case a["state"] == "stopped":
		s = p.pgctl("-m fast -w stop")
	default:
		s = p.start()
	}
	s = "[as " + p.user + "] " + s
	if a["if_reachable"] == "true" {
		s += " (if the host is reachable)"
	}
	return s
}

// Run implements workflow.Action.
func (ps PGService) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	p := pgFrom(c.Args)
	state := c.Args["state"]
	if state != "running" && state != "stopped" {
		return workflow.Outcome{}, fmt.Errorf("state %q: use running or stopped", state)
	}
	var verb string
	switch {
	case c.Args["check"] == "true":
		verb = `[ "$was" = ` + state + ` ] || { echo "PostgreSQL is $was, not ` + state + `" >&2; exit 1; }`
	case state == "running":
		verb = `[ "$was" = running ] || ` + p.start() + ` >/dev/null`
	default:
		verb = `[ "$was" = stopped ] || ` + p.pgctl("-m fast -w -t 120 stop") + ` >/dev/null`
	}
	script := `if ` + p.pgctl("status") + ` >/dev/null 2>&1; then was=running; else was=stopped; fi
echo "was=$was"
set -e
` + verb + `
if ` + p.pgctl("status") + ` >/dev/null 2>&1; then echo "state=running"; else echo "state=stopped"
	` + p.exe("pg_controldata") + ` -D ` + remote.ShellQuote(p.data) + ` 2>/dev/null || true; fi
`
	o, reached, err := runReach(ps.Env, ctx, c, script, p.user, nil)
	if !reached {
		return o, nil
	}
	if err != nil {
		return o, fmt.Errorf("PostgreSQL %s on %s: %w", state, act.HostLabel(c.Host), err)
	}
	kv := act.KeyValues(o.Stdout)
	o.Outputs = map[string]string{"was": kv["was"], "state": kv["state"], "reachable": "true", "cluster_state": "", "checkpoint_lsn": ""}
	if kv["state"] == "stopped" {
		cd := ParsePGControlData(o.Stdout)
		o.Outputs["cluster_state"], o.Outputs["checkpoint_lsn"] = cd.State, cd.CheckpointLSN
	}
	if kv["state"] != state {
		return o, fmt.Errorf("PostgreSQL on %s is %s, wanted %s", act.HostLabel(c.Host), kv["state"], state)
	}
	return o, nil
}

// basebackupScript clones the primary into data_dir as a streaming
// standby: the clone is made beside the data directory, which is only
// replaced once the clone is complete; then the server starts.
func basebackupScript(p pgArgs, a map[string]string) string {
	d := remote.ShellQuote(p.data)
	conn := "-h " + remote.ShellQuote(a["primary"]) + " -p " + remote.ShellQuote(p.port) + " -U " + remote.ShellQuote(replUser(a))
	return `new=` + d + `.hamnflow-new; old=` + d + `.hamnflow-old
rm -rf "$new" "$old"
` + p.exe("pg_basebackup") + ` ` + conn + ` -D "$new" -R -X stream -c fast -w
chmod 0700 "$new"
if [ -d ` + d + ` ]; then mv ` + d + ` "$old"; fi
mv "$new" ` + d + `
rm -rf "$old"
`
}

func replUser(a map[string]string) string {
	if a["repl_user"] != "" {
		return a["repl_user"]
	}
	return "postgres"
}

// passwordPrelude reads the replication password from stdin, when one is
// given, so that it never appears in a command line.
const passwordPrelude = `IFS= read -r PGPASSWORD || true
if [ -n "$PGPASSWORD" ]; then export PGPASSWORD; else unset PGPASSWORD; fi
`

// PGBasebackup makes this host a streaming standby of primary: it stops
// the local server, clones the primary with pg_basebackup -R -X stream
// and starts the clone, which then follows the primary.
//
//	with: bin_dir, data_dir, primary (address); repl_user (default
//	postgres); password (use {{ secret "..." }})
//
// Outputs: role (standby).
type PGBasebackup struct{ Env *Env }

// Params implements workflow.Action.
func (PGBasebackup) Params() ([]string, []string) {
	return []string{"bin_dir", "data_dir", "primary"}, append([]string{"conf_dir", "repl_user", "password", "log"}, pgCommon...)
}

// Describe implements workflow.Action.
func (PGBasebackup) Describe(_ string, a map[string]string) string {
	p := pgFrom(a)
	return fmt.Sprintf("[as %s] %s; pg_basebackup -h %s -p %s -U %s -D %s -R -X stream -c fast; %s",
		p.user, p.pgctl("-m fast stop"), a["primary"], p.port, replUser(a), p.data, p.start())
}

// Run implements workflow.Action.
func (b PGBasebackup) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	p := pgFrom(c.Args)
	script := "set -e\n" + passwordPrelude + stopIfRunning(p) + basebackupScript(p, c.Args) + p.start() + "\n"
	o, err := runStdin(b.Env, ctx, c, script, p.user, c.Args["password"])
	if err != nil {
		return o, fmt.Errorf("clone %s into %s on %s: %w", c.Args["primary"], p.data, act.HostLabel(c.Host), err)
	}
	o.Outputs = map[string]string{"role": "standby", "method": "basebackup"}
	return o, nil
}

func stopIfRunning(p pgArgs) string {
	return `if ` + p.pgctl("status") + ` >/dev/null 2>&1; then ` + p.pgctl("-m fast -w -t 120 stop") + `; fi
`
}

// PGRewind turns a former primary into a standby of the new primary
// (source): pg_rewind -R when its timeline allows it, else (fallback:
// basebackup, the default) a fresh pg_basebackup clone. The server is
// started afterwards.
//
//	with: bin_dir, data_dir, source (address of the new primary);
//	repl_user; password; fallback (basebackup|none)
//
// Outputs: method (rewind|basebackup).
type PGRewind struct{ Env *Env }

// Params implements workflow.Action.
func (PGRewind) Params() ([]string, []string) {
	return []string{"bin_dir", "data_dir", "source"}, append([]string{"conf_dir", "repl_user", "password", "fallback", "log"}, pgCommon...)
}

// Describe implements workflow.Action.
func (PGRewind) Describe(_ string, a map[string]string) string {
	p := pgFrom(a)
	s := fmt.Sprintf("[as %s] %s; pg_rewind -D %s --source-server='host=%s port=%s user=%s dbname=postgres' -R",
		p.user, p.pgctl("-m fast stop"), p.data, a["source"], p.port, replUser(a))
	if a["fallback"] != "none" {
		s += fmt.Sprintf(" || pg_basebackup -h %s -R -X stream (re-clone)", a["source"])
	}
	return s + "; " + p.start()
}

// Run implements workflow.Action.
func (r PGRewind) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	p := pgFrom(c.Args)
	src := fmt.Sprintf("host=%s port=%s user=%s dbname=postgres", c.Args["source"], p.port, replUser(c.Args))
	fallback := `echo "pg_rewind failed and fallback is none" >&2; exit 1`
	if c.Args["fallback"] != "none" {
		pa := map[string]string{"primary": c.Args["source"], "repl_user": c.Args["repl_user"]}
		fallback = `echo "pg_rewind was not possible: re-cloning with pg_basebackup"
` + basebackupScript(p, pa) + `echo "method=basebackup"`
	}
	script := "set -e\n" + passwordPrelude + stopIfRunning(p) + `if ` + p.exe("pg_rewind") + ` -D ` + remote.ShellQuote(p.data) + ` --source-server=` + remote.ShellQuote(src) + ` -R --progress; then
	echo "method=rewind"
else
	` + fallback + `
fi
` + p.start() + "\n"
	o, err := runStdin(r.Env, ctx, c, script, p.user, c.Args["password"])
	if err != nil {
		return o, fmt.Errorf("make %s a standby of %s: %w", act.HostLabel(c.Host), c.Args["source"], err)
	}
	o.Outputs = map[string]string{"method": act.KeyValues(o.Stdout)["method"], "role": "standby"}
	return o, nil
}
