package steps

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"

	"github.com/hamnflow/hamnflow/steps/db2"
	"github.com/hamnflow/hamnflow/workflow"
)

// The Db2 actions run the guide's commands (section 5.1) as the instance
// owner and read what Db2 prints through package db2:
//
//	db2              a CLP session (one shell, so CONNECT holds) of commands
//	db2_hadr_status  db2pd -hadr or GET SNAPSHOT, parsed; want_role checks 5.1.8
//	db2_backup       DEACTIVATE + BACKUP DATABASE, the image timestamp parsed
//	db2_restore      RESTORE DATABASE ... TAKEN AT ... WITHOUT PROMPTING
//	db2_takeover     TAKEOVER HADR chosen by the standby's state
//	db2_services     /etc/services lines for the HADR ports
//
// Secrets (the instance owner's password) are never part of a command line
// hamnflow sends: a script reads them from stdin into shell variables and
// only db2 itself gets them, as its arguments.
func db2Actions(env *Env) map[string]textAction {
	return map[string]textAction{
		"db2":             Db2{Env: env},
		"db2_hadr_status": Db2HADRStatus{Env: env},
		"db2_backup":      Db2Backup{Env: env},
		"db2_restore":     Db2Restore{Env: env},
		"db2_takeover":    Db2Takeover{Env: env},
		"db2_services":    Db2Services{Env: env},
	}
}

// defaultOwner is the instance owner the guide uses.
const defaultOwner = "xcatdb"

func owner(a map[string]string) string {
	if o := a["owner"]; o != "" {
		return o
	}
	return defaultOwner
}

func database(a map[string]string) string {
	if d := a["database"]; d != "" {
		return strings.ToUpper(d)
	}
	return db2.Database
}

// okCode is a failure a step allows: a message identifier, optionally
// with its reason code ("SQL1769N:1").
type okCode struct {
	code   string
	reason int // -1: any
}

var okCodeRE = regexp.MustCompile(`^(SQL\d{4,5}[NWC]|DB2\d{4}[IWNEC])(?::(\d+))?$`)

func parseOKCodes(s string) ([]okCode, error) {
	var out []okCode
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		m := okCodeRE.FindStringSubmatch(strings.ToUpper(f))
		if m == nil {
			return nil, fmt.Errorf("ok_codes %q: want message identifiers like SQL1777N or SQL1769N:1 (with a reason code)", f)
		}
		c := okCode{code: m[1], reason: -1}
		if m[2] != "" {
			c.reason, _ = strconv.Atoi(m[2])
		}
		out = append(out, c)
	}
	return out, nil
}

// grep is an extended regular expression matching the code in the
// CLP's output, for the generated shell script.
func (c okCode) grep() string {
	if c.reason < 0 {
		return c.code
	}
	return fmt.Sprintf(`%s.{0,400}Reason code *= *"?%d"?([^0-9]|$)`, c.code, c.reason)
}

// clpLine is one line of a CLP session: a db2 command, or a shell command
// (written "!cmd", like the CLP's own shell escape).
type clpLine struct {
	text  string
	shell bool
	ok    []okCode
}

// parseCLPScript reads a script argument: one command per line; empty
// lines and "--" comments are skipped; a leading "db2 " is dropped.
func parseCLPScript(s string, ok []okCode) []clpLine {
	var out []clpLine
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "--") {
			continue
		}
		if strings.HasPrefix(l, "!") {
			out = append(out, clpLine{text: strings.TrimSpace(l[1:]), shell: true})
			continue
		}
		if len(l) > 4 && strings.EqualFold(l[:4], "db2 ") {
			l = strings.TrimSpace(l[4:])
		}
		out = append(out, clpLine{text: l, ok: ok})
	}
	return out
}

// mask replaces every secret in s.
func mask(s string, secrets []string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, workflow.Mask)
		}
	}
	return s
}

// splice quotes cmd as one shell word in which every secret value is
// replaced by the shell variable that holds it: the value itself never
// appears in the script.
func splice(cmd string, secrets []string) string {
	var b strings.Builder
	rest := cmd
	for {
		at, which := -1, 0
		for i, v := range secrets {
			if v == "" {
				continue
			}
			if j := strings.Index(rest, v); j >= 0 && (at < 0 || j < at) {
				at, which = j, i
			}
		}
		if at < 0 {
			break
		}
		if at > 0 {
			b.WriteString(remote.ShellQuote(rest[:at]))
		}
		fmt.Fprintf(&b, `"$HF_S%d"`, which+1)
		rest = rest[at+len(secrets[which]):]
	}
	if rest != "" || b.Len() == 0 {
		b.WriteString(remote.ShellQuote(rest))
	}
	return b.String()
}

// clpScript builds the shell script of a CLP session. Every command is
// framed by db2.MarkIn/MarkOut lines; the first failing command (exit 4 or
// more, unless one of its ok codes) ends the session with TERMINATE.
// stdin carries the secrets, one per line.
func clpScript(lines []clpLine, secrets []string) (script, stdin string, err error) {
	var b strings.Builder
	b.WriteString("hf_t=$(mktemp) || exit 8\ntrap 'rm -f \"$hf_t\"' EXIT\nhf_rc=0\n")
	var in strings.Builder
	for i, s := range secrets {
		if strings.ContainsAny(s, "\n\r") {
			return "", "", errors.New("a secret value contains a line break; it cannot be passed to db2")
		}
		fmt.Fprintf(&b, "IFS= read -r HF_S%d || true\n", i+1)
		in.WriteString(s + "\n")
	}
	for _, l := range lines {
		if l.shell {
			fmt.Fprintf(&b, "( %s ) || { hf_r=$?; echo \"hamnflow: shell command failed with exit $hf_r: \"%s >&2; exit 8; }\n",
				l.text, remote.ShellQuote(mask(l.text, secrets)))
			continue
		}
		fmt.Fprintf(&b, "printf '%%s\\n' %s\n", remote.ShellQuote(db2.MarkIn+mask(l.text, secrets)))
		fmt.Fprintf(&b, "db2 %s >\"$hf_t\" 2>&1; hf_r=$?\ncat \"$hf_t\"\n", splice(l.text, secrets))
		b.WriteString("if [ \"$hf_r\" -ge 4 ]; then\n  hf_ok=\n")
		for _, c := range l.ok {
			fmt.Fprintf(&b, "  if tr '\\n' ' ' <\"$hf_t\" | grep -Eq %s; then hf_ok=1; fi\n", remote.ShellQuote(c.grep()))
		}
		fmt.Fprintf(&b, "  if [ -n \"$hf_ok\" ]; then printf '%%s\\n' \"%s$hf_r tolerated\"\n", db2.MarkOut)
		fmt.Fprintf(&b, "  else printf '%%s\\n' \"%s$hf_r\"; db2 terminate >/dev/null 2>&1; exit \"$hf_r\"; fi\n", db2.MarkOut)
		fmt.Fprintf(&b, "else\n  printf '%%s\\n' \"%s$hf_r\"\n", db2.MarkOut)
		b.WriteString("  if [ \"$hf_r\" -gt \"$hf_rc\" ]; then hf_rc=$hf_r; fi\nfi\n")
	}
	b.WriteString("db2 terminate >/dev/null 2>&1\nexit \"$hf_rc\"\n")
	return b.String(), in.String(), nil
}

// session is the result of one CLP session.
type session struct {
	out  workflow.Outcome
	cmds []db2.CLPCommand
}

// runCLP runs lines as owner on the call's host. It returns the first
// failed command as a *db2.CLPError wrapped with the host.
func runCLP(e *Env, ctx context.Context, c Call, own string, lines []clpLine) (session, error) {
	script, stdin, err := clpScript(lines, c.Secrets)
	if err != nil {
		return session{}, err
	}
	o := workflow.Outcome{Command: mask(describeCLP(own, lines), c.Secrets)}
	h, err := hostOf(e, c.Host)
	if err != nil {
		return session{out: o}, err
	}
	cmd := remote.Command{Script: script, AsUser: own, Stream: c.Output}
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	res, err := e.Transport.Exec(ctx, h, cmd)
	o.Stdout, o.Stderr, o.Exit = mask(string(res.Stdout), c.Secrets), mask(string(res.Stderr), c.Secrets), res.Exit
	if err != nil {
		return session{out: o}, fmt.Errorf("db2 on %s as %s: %s", h.Label(), own, mask(err.Error(), c.Secrets))
	}
	o.Ran = true
	s := session{out: o, cmds: db2.ParseSession([]byte(o.Stdout))}
	for _, cmd := range s.cmds {
		if err := cmd.Err(); err != nil {
			return s, fmt.Errorf("on %s: %w", h.Label(), err)
		}
	}
	if res.Exit >= db2.ExitError {
		// A shell line failed, or the session died between commands.
		return s, fmt.Errorf("db2 session on %s as %s: exit status %d%s", h.Label(), own, res.Exit,
			mask(act.Tail(res.Stderr, nil), c.Secrets))
	}
	return s, nil
}

func describeCLP(own string, lines []clpLine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[as %s]", own)
	for i, l := range lines {
		sep := "\n"
		if i == 0 {
			sep = " "
		}
		if l.shell {
			b.WriteString(sep + l.text)
		} else {
			b.WriteString(sep + "db2 " + l.text)
		}
	}
	return b.String()
}

// Db2 runs Db2 CLP commands as the instance owner in one shell session,
// so that a CONNECT holds until CONNECT RESET (the guide's QUIESCE
// sequence needs that).
//
//	with:
//	  script: commands, one per line ("db2 " prefix optional; "!cmd" is a
//	          shell command; "--" starts a comment)
//	  owner: instance owner (default xcatdb)
//	  ok_codes: failures that count as success, e.g. "SQL1777N,SQL1769N:1"
//	  want_records: the last query must select exactly this many rows
//
// A command that fails (CLP exit 4 or 8) ends the session; the error is a
// *db2.CLPError naming the message (SQL1035N ...). Warnings (exit 2) pass
// and are listed in Outputs.warnings.
//
// Outputs: codes (all message identifiers), warnings, records (of the last
// query), exit.
type Db2 struct{ Env *Env }

// Params implements workflow.Action.
func (Db2) Params() ([]string, []string) {
	return []string{"script"}, []string{"owner", "ok_codes", "want_records"}
}

// Describe implements workflow.Action.
func (Db2) Describe(_ string, a map[string]string) string {
	ok, _ := parseOKCodes(a["ok_codes"])
	s := describeCLP(owner(a), parseCLPScript(a["script"], ok))
	if a["ok_codes"] != "" {
		s += " (allowing " + a["ok_codes"] + ")"
	}
	if a["want_records"] != "" {
		s += " (expecting " + a["want_records"] + " row(s))"
	}
	return s
}

// Run implements workflow.Action.
func (d Db2) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	ok, err := parseOKCodes(c.Args["ok_codes"])
	if err != nil {
		return workflow.Outcome{}, err
	}
	want := -1
	if v := c.Args["want_records"]; v != "" {
		if want, err = strconv.Atoi(v); err != nil || want < 0 {
			return workflow.Outcome{}, fmt.Errorf("want_records %q: not a row count", v)
		}
	}
	lines := parseCLPScript(c.Args["script"], ok)
	if len(lines) == 0 {
		return workflow.Outcome{}, errors.New("script: no Db2 command given")
	}
	s, err := runCLP(d.Env, ctx, c, owner(c.Args), lines)
	s.out.Outputs = sessionOutputs(s)
	if err != nil {
		return s.out, err
	}
	if want >= 0 {
		last := lastQuery(s.cmds)
		switch {
		case last == nil:
			return s.out, errors.New("want_records: the script ran no query that reported selected rows")
		case last.Records != want:
			return s.out, fmt.Errorf("db2 %s on %s selected %d row(s), want %d", last.Command, c.Host, last.Records, want)
		}
	}
	return s.out, nil
}

func lastQuery(cmds []db2.CLPCommand) *db2.CLPCommand {
	for i := len(cmds) - 1; i >= 0; i-- {
		if cmds[i].Records >= 0 {
			return &cmds[i]
		}
	}
	return nil
}

func sessionOutputs(s session) map[string]string {
	var codes, warns []string
	for _, cmd := range s.cmds {
		codes = append(codes, cmd.Codes...)
		if cmd.Exit == db2.ExitWarning || cmd.Tolerated {
			for _, c := range cmd.Codes {
				if strings.HasSuffix(c, "W") || cmd.Tolerated {
					warns = append(warns, c)
				}
			}
		}
	}
	out := map[string]string{"codes": strings.Join(codes, ","), "warnings": strings.Join(warns, ","),
		"exit": strconv.Itoa(s.out.Exit)}
	if q := lastQuery(s.cmds); q != nil {
		out["records"] = strconv.Itoa(q.Records)
	}
	return out
}

// Db2HADRStatus reads the HADR status of the database on the step's host
// (guide 5.1.8) and, with want_role, checks it: Role is want_role, State
// Peer and ConnectStatus Connected, or the step fails naming each wrong
// field and what to check.
//
//	with:
//	  owner: instance owner (default xcatdb)
//	  database: default XCATDB
//	  source: db2pd (db2pd -d DB -hadr, default) or snapshot (GET SNAPSHOT FOR DB ON DB)
//	  want_role: Primary or Standby
//	  wait: with want_role, keep reading until healthy for up to this long (e.g. 30s)
//
// Outputs: role, state, syncmode, connect_status, log_gap, heartbeats_missed,
// peer_window, peer_window_end (RFC 3339), primary_log, standby_log,
// local_host, remote_host, remote_instance, active (false when the database
// is not active), healthy, takeover (what db2_takeover would choose here).
type Db2HADRStatus struct{ Env *Env }

// Params implements workflow.Action.
func (Db2HADRStatus) Params() ([]string, []string) {
	return nil, []string{"owner", "database", "source", "want_role", "wait"}
}

func statusCommand(a map[string]string) (string, error) {
	switch a["source"] {
	case "", "db2pd":
		return "db2pd -d " + strings.ToLower(database(a)) + " -hadr", nil
	case "snapshot":
		return "db2 get snapshot for db on " + strings.ToLower(database(a)), nil
	}
	return "", fmt.Errorf("source %q: use db2pd or snapshot", a["source"])
}

// Describe implements workflow.Action.
func (Db2HADRStatus) Describe(_ string, a map[string]string) string {
	cmd, err := statusCommand(a)
	if err != nil {
		cmd = err.Error()
	}
	s := "[as " + owner(a) + "] " + cmd
	if a["want_role"] != "" {
		s += fmt.Sprintf(" (want Role %s, State Peer, ConnectStatus Connected", a["want_role"])
		if a["wait"] != "" {
			s += ", waiting up to " + a["wait"]
		}
		s += ")"
	}
	return s
}

// Run implements workflow.Action.
func (d Db2HADRStatus) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	var wait time.Duration
	if v := c.Args["wait"]; v != "" {
		var err error
		if wait, err = time.ParseDuration(v); err != nil {
			return workflow.Outcome{}, fmt.Errorf("wait %q: %w", v, err)
		}
	}
	want := c.Args["want_role"]
	if want != "" && db2.NormalizeRole(want) != db2.RolePrimary && db2.NormalizeRole(want) != db2.RoleStandby {
		return workflow.Outcome{}, fmt.Errorf("want_role %q: use Primary or Standby", want)
	}
	deadline := time.Now().Add(wait)
	for {
		o, st, err := hadrStatus(d.Env, ctx, c)
		if err != nil || want == "" {
			return o, err
		}
		ps := st.Check(want)
		if len(ps) == 0 {
			return o, nil
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			fmt.Fprintf(&b, "HADR on %s is not a healthy %s", c.Host, db2.NormalizeRole(want))
			if wait > 0 {
				fmt.Fprintf(&b, " after %s", wait)
			}
			for _, p := range ps {
				b.WriteString("; " + p.String())
			}
			return o, errors.New(b.String())
		}
		select {
		case <-ctx.Done():
			return o, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// hadrStatus reads and parses the status once. A database that is not
// active or not in HADR is a status (active=false, role Standard), not an
// error.
func hadrStatus(e *Env, ctx context.Context, c Call) (workflow.Outcome, db2.HADRStatus, error) {
	cmd, err := statusCommand(c.Args)
	if err != nil {
		return workflow.Outcome{}, db2.HADRStatus{}, err
	}
	h, err := hostOf(e, c.Host)
	if err != nil {
		return workflow.Outcome{}, db2.HADRStatus{}, err
	}
	own := owner(c.Args)
	o := workflow.Outcome{Command: "[as " + own + "] " + cmd}
	res, err := e.Transport.Exec(ctx, h, remote.Command{Script: cmd, AsUser: own})
	o.Stdout, o.Stderr, o.Exit = mask(string(res.Stdout), c.Secrets), mask(string(res.Stderr), c.Secrets), res.Exit
	if err != nil {
		return o, db2.HADRStatus{}, fmt.Errorf("read HADR status on %s: %w", h.Label(), err)
	}
	o.Ran = true
	var st db2.HADRStatus
	if c.Args["source"] == "snapshot" {
		if res.Exit >= db2.ExitError {
			if codes := db2.MessageCodes(res.Stdout); len(codes) > 0 && codes[0] == "SQL1776N" {
				// GET SNAPSHOT cannot connect to a standby; db2pd can.
				return o, st, fmt.Errorf("GET SNAPSHOT on %s: the database is an HADR standby, which takes no connections: use source db2pd", h.Label())
			}
			err := db2.CLPCommand{Command: cmd, Exit: res.Exit, Output: string(res.Stdout), Codes: db2.MessageCodes(res.Stdout)}.Err()
			return o, st, fmt.Errorf("on %s: %w", h.Label(), err)
		}
		st, err = db2.ParseSnapshot(res.Stdout)
	} else {
		if res.Exit != 0 {
			return o, st, fmt.Errorf("%s on %s: exit status %d%s", cmd, h.Label(), res.Exit, act.Tail(res.Stderr, res.Stdout))
		}
		st, err = db2.ParseDb2pdHADR(res.Stdout)
	}
	active := "true"
	switch {
	case errors.Is(err, db2.ErrDatabaseNotActive):
		active, st.Role = "false", ""
	case errors.Is(err, db2.ErrHADRNotActive):
		st.Role = db2.RoleStandard
	case err != nil:
		return o, st, fmt.Errorf("HADR status on %s: %w", h.Label(), err)
	}
	o.Outputs = statusOutputs(st)
	o.Outputs["active"] = active
	return o, st, nil
}

func statusOutputs(s db2.HADRStatus) map[string]string {
	out := map[string]string{
		"role": s.Role, "state": s.State, "syncmode": s.SyncMode, "connect_status": s.ConnectStatus,
		"log_gap": strconv.FormatInt(s.LogGap, 10), "heartbeats_missed": strconv.Itoa(s.HeartbeatsMissed),
		"peer_window": strconv.Itoa(int(s.PeerWindow / time.Second)), "peer_window_end": "",
		"primary_log": s.PrimaryLog.String(), "standby_log": s.StandbyLog.String(),
		"local_host": s.LocalHost, "remote_host": s.RemoteHost, "remote_instance": s.RemoteInstance,
	}
	if !s.PeerWindowEnd.IsZero() {
		out["peer_window_end"] = s.PeerWindowEnd.Format(time.RFC3339)
	}
	healthy := false
	if r := db2.NormalizeRole(s.Role); r == db2.RolePrimary || r == db2.RoleStandby {
		healthy = len(s.Check(r)) == 0
	}
	out["healthy"] = strconv.FormatBool(healthy)
	d := db2.ChooseTakeover(s)
	out["takeover"] = d.Kind.String()
	return out
}

// Db2Backup takes an offline backup of the database (guide 5.1.3): it
// deactivates the database (xcatd must be stopped everywhere, 5.1.1),
// creates the directory and runs BACKUP DATABASE DB TO DIR.
//
//	with:
//	  dir: backup directory (created)
//	  owner, database
//
// Outputs: timestamp (yyyymmddhhmmss, for RESTORE ... TAKEN AT), dir.
type Db2Backup struct{ Env *Env }

// Params implements workflow.Action.
func (Db2Backup) Params() ([]string, []string) { return []string{"dir"}, []string{"owner", "database"} }

func backupLines(a map[string]string) []clpLine {
	db := database(a)
	return []clpLine{
		{text: "mkdir -p " + remote.ShellQuote(a["dir"]), shell: true},
		{text: "DEACTIVATE DATABASE " + db},
		{text: "BACKUP DATABASE " + db + " TO " + a["dir"]},
	}
}

// Describe implements workflow.Action.
func (Db2Backup) Describe(_ string, a map[string]string) string {
	return describeCLP(owner(a), backupLines(a))
}

// Run implements workflow.Action.
func (d Db2Backup) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	s, err := runCLP(d.Env, ctx, c, owner(c.Args), backupLines(c.Args))
	s.out.Outputs = sessionOutputs(s)
	if err != nil {
		return s.out, fmt.Errorf("backup %s: %w", database(c.Args), err)
	}
	ts, err := db2.ParseBackupTimestamp([]byte(s.out.Stdout))
	if err != nil {
		return s.out, fmt.Errorf("backup %s on %s: %w", database(c.Args), c.Host, err)
	}
	s.out.Outputs["timestamp"] = ts
	s.out.Outputs["dir"] = c.Args["dir"]
	return s.out, nil
}

// Db2Restore restores a backup image over the database (guide 5.1.4),
// without the y/n question the guide answers by hand.
//
//	with:
//	  dir: directory holding the image
//	  timestamp: the image's timestamp (db2_backup's Outputs.timestamp)
//	  owner, database
//
// Outputs: timestamp.
type Db2Restore struct{ Env *Env }

// Params implements workflow.Action.
func (Db2Restore) Params() ([]string, []string) {
	return []string{"dir", "timestamp"}, []string{"owner", "database"}
}

var timestampRE = regexp.MustCompile(`^\d{14}$`)

func restoreLines(a map[string]string) []clpLine {
	db := database(a)
	return []clpLine{
		{text: "DEACTIVATE DATABASE " + db},
		{text: fmt.Sprintf(`RESTORE DATABASE %s FROM "%s" TAKEN AT %s REPLACE HISTORY FILE WITHOUT PROMPTING`, db, a["dir"], a["timestamp"])},
	}
}

// Describe implements workflow.Action.
func (Db2Restore) Describe(_ string, a map[string]string) string {
	return describeCLP(owner(a), restoreLines(a))
}

// Run implements workflow.Action.
func (d Db2Restore) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	if ts := c.Args["timestamp"]; !timestampRE.MatchString(ts) {
		return workflow.Outcome{}, fmt.Errorf("timestamp %q: want the 14-digit backup image timestamp (yyyymmddhhmmss)", ts)
	}
	if strings.ContainsAny(c.Args["dir"], "\"\n") {
		return workflow.Outcome{}, fmt.Errorf("dir %q: a directory name with quotes or line breaks cannot be given to RESTORE", c.Args["dir"])
	}
	s, err := runCLP(d.Env, ctx, c, owner(c.Args), restoreLines(c.Args))
	s.out.Outputs = sessionOutputs(s)
	if err != nil {
		return s.out, fmt.Errorf("restore %s from image %s: %w", database(c.Args), c.Args["timestamp"], err)
	}
	s.out.Outputs["timestamp"] = c.Args["timestamp"]
	return s.out, nil
}

// Db2Takeover makes the step's host (the standby) the HADR primary,
// choosing the command from its state the way the Pacemaker db2 agent
// does (db2.ChooseTakeover):
//
//	Standby, Peer, Connected  -> TAKEOVER HADR ON DATABASE DB
//	Disconnected peer         -> ... BY FORCE PEER WINDOW ONLY
//	any other standby state   -> ... BY FORCE, only with fenced=true
//
//	with:
//	  fenced: "true" when the old primary is proven down (or an operator
//	          accepted the loss); required for BY FORCE
//	  allow: kinds permitted, comma separated: graceful, peer_window, force
//	         (default all three; force still needs fenced)
//	  user, password: add USER u USING p (the guide's form); the password
//	         comes from {{ secret "db2_password" }} and is never shown
//	  owner, database
//
// After the command it waits (up to 30s) until the database reports role
// Primary. Outputs: kind, command, reason, loss_warning, fence_by, state
// (the standby's state before), role, new_state.
type Db2Takeover struct{ Env *Env }

// Params implements workflow.Action.
func (Db2Takeover) Params() ([]string, []string) {
	return nil, []string{"fenced", "allow", "user", "password", "owner", "database"}
}

// Describe implements workflow.Action.
func (Db2Takeover) Describe(_ string, a map[string]string) string {
	auth := ""
	if a["user"] != "" {
		auth = " USER " + a["user"] + " USING " + workflow.Mask
	}
	db := database(a)
	s := fmt.Sprintf("[as %s] db2pd -d %s -hadr, then by the standby's state: Peer/Connected -> db2 TAKEOVER HADR ON DATABASE %s%s; "+
		"Disconnected peer -> ... BY FORCE PEER WINDOW ONLY; otherwise ... BY FORCE",
		owner(a), strings.ToLower(db), db, auth)
	if a["fenced"] == "true" {
		s += " (old primary declared fenced)"
	} else {
		s += " only with fenced=true (refused now)"
	}
	if a["allow"] != "" {
		s += "; allowed: " + a["allow"]
	}
	return s
}

func allowed(allow string, k db2.TakeoverKind) (bool, error) {
	if strings.TrimSpace(allow) == "" {
		return true, nil
	}
	names := map[string]db2.TakeoverKind{"graceful": db2.TakeoverGraceful, "peer_window": db2.TakeoverPeerWindowOnly, "force": db2.TakeoverForce}
	ok := false
	for _, f := range strings.Split(allow, ",") {
		kind, known := names[strings.TrimSpace(f)]
		if !known {
			return false, fmt.Errorf("allow %q: use graceful, peer_window and/or force", allow)
		}
		ok = ok || kind == k
	}
	return ok, nil
}

// Run implements workflow.Action.
func (d Db2Takeover) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	statusCall := c
	statusCall.Args = map[string]string{"owner": c.Args["owner"], "database": c.Args["database"]}
	o, st, err := hadrStatus(d.Env, ctx, statusCall)
	if err != nil {
		return o, fmt.Errorf("takeover on %s: %w", c.Host, err)
	}
	dec := db2.ChooseTakeover(st)
	outs := map[string]string{"kind": dec.Kind.String(), "reason": dec.Reason, "loss_warning": dec.LossWarning,
		"state": st.State, "connect_status": st.ConnectStatus, "fence_by": ""}
	if !dec.FenceBy.IsZero() {
		outs["fence_by"] = dec.FenceBy.Format(time.RFC3339)
	}
	o.Outputs = outs
	if dec.Kind == db2.TakeoverRefuse {
		return o, fmt.Errorf("no takeover on %s: %s", c.Host, dec.Reason)
	}
	ok, err := allowed(c.Args["allow"], dec.Kind)
	if err != nil {
		return o, err
	}
	if !ok {
		return o, fmt.Errorf("no takeover on %s: the standby's state calls for %s, and this step allows only %s: %s",
			c.Host, dec.Kind, c.Args["allow"], dec.Reason)
	}
	cmd := "TAKEOVER HADR ON DATABASE " + database(c.Args)
	if u := c.Args["user"]; u != "" {
		if c.Args["password"] == "" {
			return o, fmt.Errorf("takeover on %s: user %s given without a password", c.Host, u)
		}
		cmd += " USER " + u + " USING " + c.Args["password"]
	}
	switch dec.Kind {
	case db2.TakeoverPeerWindowOnly:
		cmd += " BY FORCE PEER WINDOW ONLY"
	case db2.TakeoverForce:
		cmd += " BY FORCE"
	}
	if dec.NeedsFencing && c.Args["fenced"] != "true" {
		return o, fmt.Errorf("refusing %s on %s: %s. %s Prove the old primary is down (powered off or fenced) and run again with fenced=true "+
			"(hamnflow run hadr-takeover --set fenced=true)", mask(cmd, c.Secrets), c.Host, dec.Reason, dec.LossWarning)
	}
	outs["command"] = mask(cmd, c.Secrets)
	s, err := runCLP(d.Env, ctx, c, owner(c.Args), []clpLine{{text: cmd}})
	o.Command = s.out.Command
	o.Ran, o.Exit = s.out.Ran, s.out.Exit
	o.Stdout = o.Stdout + s.out.Stdout
	o.Stderr = o.Stderr + s.out.Stderr
	if err != nil {
		var ce *db2.CLPError
		if errors.As(err, &ce) && ce.Code == "SQL1770N" && ce.Reason == 9 {
			return o, fmt.Errorf("takeover on %s: the peer window ended before the takeover (%w); the standby can only take over BY FORCE now, "+
				"once the old primary is proven down: run again with fenced=true", c.Host, err)
		}
		return o, fmt.Errorf("takeover on %s: %w", c.Host, err)
	}
	// Wait until the database reports itself primary.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, after, err := hadrStatus(d.Env, ctx, statusCall)
		if err == nil && after.Role == db2.RolePrimary {
			outs["role"], outs["new_state"] = after.Role, after.State
			return o, nil
		}
		if time.Now().After(deadline) {
			return o, fmt.Errorf("takeover on %s: %s reported success but the database is not primary after 30s (role %q, %v)",
				c.Host, outs["command"], after.Role, err)
		}
		select {
		case <-ctx.Done():
			return o, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// Db2Services adds the HADR service names to /etc/services (guide 5.1.5),
// idempotently: present entries are left alone, a name with another port
// is corrected, a port held by another service is an error. Runs as root.
//
//	with:
//	  services: "DB2_HADR_1:55001,DB2_HADR_2:55002"
//	  file: default /etc/services
//
// Outputs: changed (true/false).
type Db2Services struct{ Env *Env }

// Params implements workflow.Action.
func (Db2Services) Params() ([]string, []string) { return []string{"services"}, []string{"file"} }

func servicesFile(a map[string]string) string {
	if f := a["file"]; f != "" {
		return f
	}
	return "/etc/services"
}

// Describe implements workflow.Action.
func (Db2Services) Describe(_ string, a map[string]string) string {
	var lines []string
	svcs, err := db2.ParseServices(a["services"])
	if err != nil {
		return "ensure in " + servicesFile(a) + ": " + a["services"]
	}
	for _, s := range svcs {
		lines = append(lines, fmt.Sprintf("%s %d/tcp", s.Name, s.Port))
	}
	return "ensure lines in " + servicesFile(a) + ": " + strings.Join(lines, "; ")
}

// Run implements workflow.Action.
func (d Db2Services) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	svcs, err := db2.ParseServices(c.Args["services"])
	if err != nil {
		return workflow.Outcome{}, err
	}
	file := servicesFile(c.Args)
	h, err := hostOf(d.Env, c.Host)
	if err != nil {
		return workflow.Outcome{}, err
	}
	read := "cat " + remote.ShellQuote(file)
	o := workflow.Outcome{Command: read}
	res, err := d.Env.Transport.Exec(ctx, h, remote.Command{Script: read})
	if err != nil {
		return o, fmt.Errorf("read %s on %s: %w", file, h.Label(), err)
	}
	if res.Exit != 0 {
		return o, fmt.Errorf("read %s on %s: exit status %d%s", file, h.Label(), res.Exit, act.Tail(res.Stderr, nil))
	}
	text, changed, err := db2.EnsureServices(string(res.Stdout), svcs)
	if err != nil {
		return o, fmt.Errorf("%s on %s: %w", file, h.Label(), err)
	}
	o.Ran, o.Outputs = true, map[string]string{"changed": strconv.FormatBool(changed)}
	if !changed {
		o.Stdout = "HADR services already in " + file + "\n"
		return o, nil
	}
	q := remote.ShellQuote(file)
	write := fmt.Sprintf("t=$(mktemp %s.hamnflow.XXXXXX) && cat >\"$t\" && chmod 644 \"$t\" && mv -f \"$t\" %s", q, q)
	o.Command = write
	res, err = d.Env.Transport.Exec(ctx, h, remote.Command{Script: write, Stdin: strings.NewReader(text)})
	o.Stdout, o.Stderr, o.Exit = string(res.Stdout), string(res.Stderr), res.Exit
	if err != nil {
		return o, fmt.Errorf("write %s on %s: %w", file, h.Label(), err)
	}
	if res.Exit != 0 {
		return o, fmt.Errorf("write %s on %s: exit status %d%s", file, h.Label(), res.Exit, act.Tail(res.Stderr, nil))
	}
	return o, nil
}
