package db2

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// fakeDb2 answers like the CLP for the commands the actions send. It logs
// its arguments to $FAKE/args and keeps the HADR role in $FAKE/role.
const fakeDb2 = `#!/bin/sh
printf '%s\n' "$*" >> "$FAKE/args"
case "$*" in
terminate) echo "DB20000I The TERMINATE command completed successfully."; exit 0 ;;
"CONNECT TO XCATDB") printf '\n   Database Connection Information\n\n Local database alias   = XCATDB\n\n'; exit 0 ;;
"DEACTIVATE DATABASE XCATDB") echo "SQL1496W Deactivate database is successful, but the database was not activated."; exit 2 ;;
"BACKUP DATABASE XCATDB TO "*) printf '\nBackup successful. The timestamp for this backup image is : 20240102030405\n\n'; exit 0 ;;
"RESTORE DATABASE XCATDB FROM"*"WITHOUT PROMPTING") echo "DB20000I The RESTORE DATABASE command completed successfully."; exit 0 ;;
"START HADR"*) echo "SQL1777N HADR is already started."; exit 4 ;;
"STOP HADR"*) echo 'SQL1769N Stop HADR cannot complete. Reason code = "2".'; exit 4 ;;
"SELECT"*) printf '\nNODE\n----\ntestnode\n\n  1 record(s) selected.\n\n'; exit 0 ;;
"TAKEOVER HADR ON DATABASE XCATDB USER xcatdb USING s3cr3t"*) echo primary > "$FAKE/role"; echo "DB20000I The TAKEOVER HADR ON DATABASE command completed successfully."; exit 0 ;;
"TAKEOVER"*)
  n=$(cat "$FAKE/fail7" 2>/dev/null || echo 0)
  if [ "$n" -gt 0 ]; then
    echo $((n-1)) > "$FAKE/fail7"; if [ -f "$FAKE/next" ]; then cp "$FAKE/next" "$FAKE/before"; fi
    echo 'SQL1770N Takeover HADR cannot complete. Reason code = "7".'; exit 4
  fi
  echo primary > "$FAKE/role"; echo "DB20000I The TAKEOVER HADR ON DATABASE command completed successfully."; exit 0 ;;
esac
echo "DB21034E The command was processed as an SQL statement because it was not a valid remote.Command Line Processor command. During SQL processing it returned:"
echo "SQL0104N An unexpected token \"$*\" was found following \"BEGIN-OF-STATEMENT\". SQLSTATE=42601"
exit 4
`

const fakeDb2pd = `#!/bin/sh
if [ "$(cat "$FAKE/role" 2>/dev/null)" = primary ]; then cat "$FAKE/after"; else cat "$FAKE/before"; fi
`

func standbyPd(state, conn string) string {
	return "\nDatabase Member 0 -- Database XCATDB -- Standby -- Up 0 days 00:01:00\n\n" +
		"                            HADR_ROLE = STANDBY\n                        HADR_SYNCMODE = NEARSYNC\n" +
		"                           HADR_STATE = " + state + "\n                  HADR_CONNECT_STATUS = " + conn + "\n" +
		"                  HADR_LOG_GAP(bytes) = 0\n"
}

// recorded is one command the fake transport was given.
type recorded struct {
	remote.Command
	stdin string
}

// fakeTransport runs scripts locally with the fake Db2 first on PATH and
// records every command it was given, with its stdin.
type fakeTransport struct {
	dir  string
	mu   sync.Mutex
	cmds []recorded
	last []recorded // what the last run helper call ran
}

func (f *fakeTransport) Exec(ctx context.Context, h remote.Host, c remote.Command) (remote.Result, error) {
	r := recorded{Command: c}
	if c.Stdin != nil {
		b, _ := io.ReadAll(c.Stdin)
		r.stdin = string(b)
		c.Stdin = strings.NewReader(r.stdin)
	}
	f.mu.Lock()
	f.cmds = append(f.cmds, r)
	f.mu.Unlock()
	c.Script = "PATH=" + f.dir + ":$PATH FAKE=" + f.dir + "; export PATH FAKE\n" + c.Script
	c.AsUser = ""
	return remote.Local{}.Exec(ctx, remote.Host{Name: "local", Local: true}, c)
}

func (f *fakeTransport) Close() error { return nil }

func (f *fakeTransport) take() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.cmds
	f.cmds = nil
	return c
}

func newFake(t *testing.T) (*fakeTransport, map[string]workflow.Action) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"db2": fakeDb2, "db2pd": fakeDb2pd} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f := &fakeTransport{dir: dir}
	env := &act.Env{Transport: f, Hosts: func(name string) (remote.Host, error) { return remote.Host{Name: name, Address: name}, nil }}
	return f, Actions(env, Settings{BackupDir: "/var/lib/db2/backup", Services: []string{"DB2_HADR_1:55001", "DB2_HADR_2:55002"}})
}

func (f *fakeTransport) write(t *testing.T, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fakeTransport) args(t *testing.T) string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(f.dir, "args"))
	return string(b)
}

// decode decodes with: into a's arguments as the engine does.
func decode(a workflow.Action, with map[string]any) (any, []error) {
	args := a.NewArgs()
	if d, ok := args.(workflow.ArgDecoder); ok {
		return args, d.DecodeArgs(with, nil)
	}
	return args, workflow.DecodeArgs(args, with, nil)
}

// masked is with: as plans get it: every secret replaced by Mask.
func masked(with map[string]any, secrets []string) map[string]any {
	out := map[string]any{}
	for k, v := range with {
		if s, ok := v.(string); ok {
			v = mask(s, secrets)
		}
		out[k] = v
	}
	return out
}

// stripNotes drops a planned command's "# ..." note lines.
func stripNotes(cmd string) string {
	for strings.HasPrefix(cmd, "# ") {
		i := strings.IndexByte(cmd, '\n')
		if i < 0 {
			return ""
		}
		cmd = cmd[i+1:]
	}
	return cmd
}

// run decodes with:, runs the action as step "mn1" and checks what it
// ran against its plan: every command the transport got is one of the
// plan's, in the plan's order (a command read again and again maps to one
// planned command), and when the run succeeded every planned command
// without a note ran. No secret is ever in a script or the user.
func run(t *testing.T, f *fakeTransport, a workflow.Action, with map[string]any, secrets ...string) (workflow.Outcome, error) {
	t.Helper()
	args, errs := decode(a, with)
	if len(errs) > 0 {
		t.Fatalf("decode %v: %v", with, errors.Join(errs...))
	}
	shownArgs, errs := decode(a, masked(with, secrets))
	if len(errs) > 0 {
		t.Fatalf("decode masked %v: %v", with, errors.Join(errs...))
	}
	plan := a.Plan("mn1", shownArgs)
	f.take()
	o, err := a.Run(context.Background(), workflow.Call{Host: "mn1", Args: args, Secrets: secrets})
	ran := f.take()
	f.last = ran
	checkPlan(t, plan, ran, err == nil, secrets)
	return o, err
}

func checkPlan(t *testing.T, plan []string, ran []recorded, ok bool, secrets []string) {
	t.Helper()
	at, used, loop := 0, map[int]bool{}, -1
	for i, p := range plan {
		if loop < 0 && strings.Contains(p, "reason code 7") {
			loop = i
		}
	}
	for _, r := range ran {
		for _, s := range secrets {
			if strings.Contains(r.Script, s) || strings.Contains(r.AsUser, s) {
				t.Errorf("a command line holds the secret:\n%s", r.Script)
			}
		}
		got := shown(r.AsUser, r.Script)
		i := at
		for i < len(plan) && stripNotes(plan[i]) != got {
			i++
		}
		if i == len(plan) && loop >= 0 && at >= loop {
			// A retry (the plan's note on SQL1770N reason code 7) runs the
			// commands before it again.
			for i = 0; i <= loop && stripNotes(plan[i]) != got; i++ {
			}
			if i > loop {
				i = len(plan)
			}
		}
		if i == len(plan) {
			t.Fatalf("ran a command the plan does not show (or not in its order):\n%s\n--- plan:\n%s", got, strings.Join(plan, "\n---\n"))
		}
		at, used[i] = i, true
	}
	if !ok {
		return
	}
	for i, p := range plan {
		if !strings.HasPrefix(p, "# ") && !used[i] {
			t.Errorf("planned command %d did not run:\n%s", i, p)
		}
	}
}

func TestDb2Session(t *testing.T) {
	f, acts := newFake(t)
	a := acts["db2"]
	script := "CONNECT TO XCATDB\ndb2 DEACTIVATE DATABASE XCATDB\n-- a comment\nSTART HADR ON DATABASE XCATDB AS STANDBY\nSELECT node FROM nodelist"
	o, err := run(t, f, a, map[string]any{"script": script, "ok_codes": "SQL1777N", "want_records": "1"})
	if err != nil {
		t.Fatalf("%v\n%s", err, o.Stdout)
	}
	if o.Outputs["warnings"] != "SQL1496W,SQL1777N" || o.Outputs["records"] != "1" || o.Exit != 2 {
		t.Errorf("outputs %v exit %d", o.Outputs, o.Exit)
	}
	if got := f.args(t); !strings.HasSuffix(got, "SELECT node FROM nodelist\nterminate\n") {
		t.Errorf("db2 calls:\n%s", got)
	}
	if len(f.last) != 1 || f.last[0].AsUser != "xcatdb" {
		t.Errorf("ran %+v, want one session as xcatdb", f.last)
	}

	// A failure stops the session and names the code; reason-qualified
	// ok codes only tolerate that reason.
	_, err = run(t, f, a, map[string]any{"script": "STOP HADR ON DATABASE XCATDB\nSELECT 1", "ok_codes": "SQL1769N:1"})
	var ce *CLPError
	if !errors.As(err, &ce) || ce.Code != "SQL1769N" || ce.Reason != 2 || !strings.Contains(err.Error(), "on mn1") {
		t.Fatalf("error %v", err)
	}
	if strings.Contains(f.args(t), "SELECT 1") {
		t.Error("session went on after a failure")
	}
	if _, err := run(t, f, a, map[string]any{"script": "STOP HADR ON DATABASE XCATDB", "ok_codes": []string{"SQL1024N", "SQL1769N:2"}}); err != nil {
		t.Errorf("reason 2 allowed: %v", err)
	}
	_, err = run(t, f, a, map[string]any{"script": "FROB XCATDB"})
	if !errors.As(err, &ce) || ce.Code != "SQL0104N" {
		t.Errorf("syntax error: %v", err)
	}
	if _, err := run(t, f, a, map[string]any{"script": "SELECT x", "want_records": "0"}); err == nil ||
		!strings.Contains(err.Error(), "selected 1 row(s), want 0") {
		t.Errorf("want_records: %v", err)
	}
	// The owner argument overrides the inventory's.
	if _, err := run(t, f, a, map[string]any{"script": "CONNECT TO XCATDB", "owner": "db2inst1"}); err != nil {
		t.Fatal(err)
	}
}

func TestDb2SecretNeverShown(t *testing.T) {
	const pw = "s3cr3t"
	f, acts := newFake(t)
	a := acts["db2"]
	with := map[string]any{"script": "CONNECT TO XCATDB USER xcatdb USING " + pw}
	shownArgs, _ := decode(a, masked(with, []string{pw}))
	plan := strings.Join(a.Plan("mn1", shownArgs), "\n")
	o, err := run(t, f, a, with, pw)
	if err == nil {
		t.Fatal("fake db2 accepted CONNECT ... USING (it should answer SQL0104N quoting the token)")
	}
	// The secret reached db2 ...
	if !strings.Contains(f.args(t), "USING "+pw) {
		t.Errorf("db2 did not get the password:\n%s", f.args(t))
	}
	// ... but no script, plan, output or error holds it.
	for what, s := range map[string]string{"plan": plan, "command": o.Command, "stdout": o.Stdout, "stderr": o.Stderr, "error": err.Error()} {
		if strings.Contains(s, pw) {
			t.Errorf("%s shows the password: %s", what, s)
		}
	}
	if !strings.Contains(plan, `USING '"$HF_S1"`) || !strings.Contains(plan, "IFS= read -r HF_S1") {
		t.Errorf("plan does not read the secret from stdin:\n%s", plan)
	}
}

// TestDb2SecretOnStdin checks that the password of a takeover reaches the
// session on stdin, and only there.
func TestDb2SecretOnStdin(t *testing.T) {
	const pw = "s3cr3t"
	f, acts := newFake(t)
	f.write(t, "before", standbyPd("PEER", "CONNECTED"))
	f.write(t, "after", strings.NewReplacer("STANDBY", "PRIMARY", "Standby", "Active").Replace(standbyPd("PEER", "CONNECTED")))
	a := acts["db2_takeover"]
	args, _ := decode(a, map[string]any{"user": "xcatdb", "password": pw})
	if _, err := a.Run(context.Background(), workflow.Call{Host: "mn1", Args: args, Secrets: []string{pw}}); err != nil {
		t.Fatal(err)
	}
	stdins := 0
	for _, c := range f.take() {
		if strings.Contains(c.Script, pw) {
			t.Errorf("script holds the password:\n%s", c.Script)
		}
		if c.stdin != "" {
			stdins++
			if c.stdin != pw+"\n" {
				t.Errorf("stdin %q, want the password alone", c.stdin)
			}
		}
	}
	if stdins != 1 {
		t.Errorf("%d commands got stdin, want the takeover session only", stdins)
	}
}

func TestDb2BackupRestore(t *testing.T) {
	f, acts := newFake(t)
	dir := filepath.Join(t.TempDir(), "backup")
	o, err := run(t, f, acts["db2_backup"], map[string]any{"dir": dir})
	if err != nil || o.Outputs["timestamp"] != "20240102030405" || o.Outputs["dir"] != dir {
		t.Fatalf("%v %v\n%s", err, o.Outputs, o.Stdout)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("backup dir not created: %v", err)
	}
	restore := acts["db2_restore"]
	args := restore.NewArgs().(*RestoreArgs)
	args.Dir, args.Timestamp = dir, "2024"
	if _, err := restore.Run(context.Background(), workflow.Call{Host: "mn1", Args: args}); err == nil {
		t.Error("short timestamp accepted")
	}
	o, err = run(t, f, restore, map[string]any{"dir": dir, "timestamp": "20240102030405"})
	if err != nil {
		t.Fatalf("%v\n%s", err, o.Stdout)
	}
	want := `RESTORE DATABASE XCATDB FROM "` + dir + `" TAKEN AT 20240102030405 REPLACE HISTORY FILE WITHOUT PROMPTING`
	if !strings.Contains(f.args(t), want) {
		t.Errorf("db2 calls:\n%s", f.args(t))
	}
	// Without dir, the inventory's backup directory.
	plan := strings.Join(restore.Plan("mn1", &RestoreArgs{Timestamp: "20240102030405"}), "\n")
	if !strings.Contains(plan, `FROM "/var/lib/db2/backup" TAKEN AT`) {
		t.Errorf("plan without dir:\n%s", plan)
	}
	plan = strings.Join(acts["db2_backup"].Plan("mn1", &BackupArgs{}), "\n")
	if !strings.Contains(plan, "( mkdir -p /var/lib/db2/backup )") || !strings.Contains(plan, "db2 'BACKUP DATABASE XCATDB TO /var/lib/db2/backup'") {
		t.Errorf("plan without dir:\n%s", plan)
	}
}

func TestDb2HADRStatus(t *testing.T) {
	f, acts := newFake(t)
	a := acts["db2_hadr_status"]
	f.write(t, "before", standbyPd("REMOTE_CATCHUP_PENDING", "DISCONNECTED"))
	o, err := run(t, f, a, map[string]any{})
	if err != nil || o.Outputs["role"] != "Standby" || o.Outputs["state"] != "Remote catchup pending" || o.Outputs["healthy"] != "false" ||
		o.Outputs["takeover"] != "by force" {
		t.Fatalf("%v %v", err, o.Outputs)
	}
	_, err = run(t, f, a, map[string]any{"want_role": "Standby"})
	if err == nil || !strings.Contains(err.Error(), `State is "Remote catchup pending", want "Peer"`) ||
		!strings.Contains(err.Error(), `ConnectStatus is "Disconnected"`) {
		t.Errorf("%v", err)
	}
	_, err = run(t, f, a, map[string]any{"want_role": "Standby", "wait": "1s"})
	if err == nil || !strings.Contains(err.Error(), "after 1s") {
		t.Errorf("wait: %v", err)
	}
	f.write(t, "before", standbyPd("PEER", "CONNECTED"))
	if o, err := run(t, f, a, map[string]any{"want_role": "standby", "database": "xcatdb", "owner": "db2inst1"}); err != nil || o.Outputs["healthy"] != "true" {
		t.Errorf("%v %v", err, o.Outputs)
	}
	f.write(t, "before", "Database XCATDB not activated on database member 0 or this database name cannot be found in the local database directory.\n\nOption -hadr requires -db <database> or -alldbs option and active database.\n")
	if o, err := run(t, f, a, map[string]any{}); err != nil || o.Outputs["active"] != "false" {
		t.Errorf("inactive: %v %v", err, o.Outputs)
	}
}

func TestDb2Takeover(t *testing.T) {
	primary := strings.NewReplacer("STANDBY", "PRIMARY", "Standby", "Active").Replace(standbyPd("PEER", "CONNECTED"))
	tests := []struct {
		name, state, conn string
		args              map[string]any
		want              string // the TAKEOVER command, "" when refused
		errHas            string
	}{
		{"peer", "PEER", "CONNECTED", map[string]any{"user": "xcatdb", "password": "s3cr3t"},
			"TAKEOVER HADR ON DATABASE XCATDB USER xcatdb USING s3cr3t", ""},
		{"disconnected peer", "DISCONNECTED_PEER", "DISCONNECTED", nil, "TAKEOVER HADR ON DATABASE XCATDB BY FORCE PEER WINDOW ONLY", ""},
		{"never in peer, not fenced", "REMOTE_CATCHUP_PENDING", "DISCONNECTED", nil, "", "refusing TAKEOVER HADR ON DATABASE XCATDB BY FORCE"},
		{"never in peer, fenced", "REMOTE_CATCHUP_PENDING", "DISCONNECTED", map[string]any{"fenced": "true"}, "TAKEOVER HADR ON DATABASE XCATDB BY FORCE", ""},
		{"graceful only", "DISCONNECTED_PEER", "DISCONNECTED", map[string]any{"allow": "graceful"}, "", "allows only graceful"},
		{"graceful or peer window", "DISCONNECTED_PEER", "DISCONNECTED", map[string]any{"allow": []string{"graceful", "peer_window"}},
			"TAKEOVER HADR ON DATABASE XCATDB BY FORCE PEER WINDOW ONLY", ""},
		{"local catchup", "LOCAL_CATCHUP", "DISCONNECTED", map[string]any{"fenced": "true"}, "", "local catchup"},
		{"user without password", "PEER", "CONNECTED", map[string]any{"user": "xcatdb"}, "", "without a password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, acts := newFake(t)
			f.write(t, "before", standbyPd(tt.state, tt.conn))
			f.write(t, "after", primary)
			with := map[string]any{}
			for k, v := range tt.args {
				with[k] = v
			}
			var secrets []string
			if pw, ok := with["password"].(string); ok {
				secrets = append(secrets, pw)
			}
			o, err := run(t, f, acts["db2_takeover"], with, secrets...)
			got := f.args(t)
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || strings.Contains(got, "TAKEOVER") {
					t.Fatalf("want refusal with %q, got %v; db2 calls:\n%s", tt.errHas, err, got)
				}
				if tt.name == "never in peer, not fenced" && !strings.Contains(err.Error(), "may be lost") {
					t.Errorf("refusal does not spell out the loss: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, o.Stdout)
			}
			if !strings.Contains(got, tt.want+"\n") {
				t.Errorf("db2 calls:\n%s\nwant %s", got, tt.want)
			}
			if o.Outputs["role"] != "Primary" || strings.Contains(o.Outputs["command"], "s3cr3t") || strings.Contains(o.Stdout, "s3cr3t") {
				t.Errorf("outputs %v", o.Outputs)
			}
		})
	}
}

// TestTakeoverRetry: SQL1770N reason code 7 (the primary did not answer;
// the standby still shows Peer/Connected until HADR_TIMEOUT) makes the
// takeover read the state again and retry, for up to 2 x HADR_TIMEOUT, as
// the ClusterLabs agent does (heartbeat/db2, db2_promote), saying so.
func TestTakeoverRetry(t *testing.T) {
	primary := strings.NewReplacer("STANDBY", "PRIMARY", "Standby", "Active").Replace(standbyPd("PEER", "CONNECTED"))
	withTimeout := func(pd string) string { return pd + "            HADR_TIMEOUT(seconds) = 1\n" }
	tests := []struct {
		name  string
		fails string
		next  string // the state after the first refusal ("" unchanged)
		want  []string
		err   string
	}{
		{"graceful on the second try", "1", "", []string{"TAKEOVER HADR ON DATABASE XCATDB\nTAKEOVER HADR ON DATABASE XCATDB\n"}, ""},
		{"primary gone: peer window only", "1", withTimeout(standbyPd("DISCONNECTED_PEER", "DISCONNECTED")),
			[]string{"TAKEOVER HADR ON DATABASE XCATDB\nTAKEOVER HADR ON DATABASE XCATDB BY FORCE PEER WINDOW ONLY\n"}, ""},
		{"never answers", "100", "", nil, "after 3 attempt(s) over 2 x HADR_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, acts := newFake(t)
			f.write(t, "before", withTimeout(standbyPd("PEER", "CONNECTED")))
			f.write(t, "after", primary)
			f.write(t, "fail7", tt.fails)
			if tt.next != "" {
				f.write(t, "next", tt.next)
			}
			o, err := run(t, f, acts["db2_takeover"], map[string]any{})
			if !strings.Contains(o.Stdout, "retrying for up to 2 x HADR_TIMEOUT = 2s, until ") {
				t.Errorf("the step does not say how long it waits:\n%s", o.Stdout)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, o.Stdout)
			}
			got := strings.ReplaceAll(f.args(t), "terminate\n", "")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("db2 calls:\n%s\nwant %s", got, w)
				}
			}
			if o.Outputs["role"] != "Primary" || o.Outputs["attempts"] != "2" {
				t.Errorf("outputs %v", o.Outputs)
			}
		})
	}
}

// TestTakeoverPlan checks what a plan says of the takeovers it may not run.
func TestTakeoverPlan(t *testing.T) {
	_, acts := newFake(t)
	a := acts["db2_takeover"]
	args, _ := decode(a, map[string]any{"allow": "graceful,force", "user": "xcatdb", "password": workflow.Mask})
	plan := a.Plan("mn1", args)
	all := strings.Join(plan, "\n")
	if len(plan) != 4 || !strings.Contains(all, "refused here: peer_window (not in allow), force (fenced is false)") ||
		strings.Contains(all, "BY FORCE") || !strings.Contains(all, "TAKEOVER HADR ON DATABASE XCATDB USER xcatdb USING ********") {
		t.Errorf("plan:\n%s", all)
	}
	if plan[0] != "[as xcatdb] db2pd -d xcatdb -hadr" {
		t.Errorf("first command %q", plan[0])
	}
}

func TestDb2Services(t *testing.T) {
	f, acts := newFake(t)
	file := filepath.Join(t.TempDir(), "services")
	if err := os.WriteFile(file, []byte("ssh 22/tcp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := acts["db2_services"]
	for i, with := range []map[string]any{
		{"services": "DB2_HADR_1:55001,DB2_HADR_2:55002", "file": file},
		{"services": []string{"DB2_HADR_1:55001", "DB2_HADR_2:55002"}, "file": file},
		{"file": file}, // the inventory's
	} {
		want := map[bool]string{true: "true", false: "false"}[i == 0]
		o, err := run(t, f, a, with)
		if err != nil || o.Outputs["changed"] != want {
			t.Fatalf("run %d: %v %v", i, err, o.Outputs)
		}
	}
	b, _ := os.ReadFile(file)
	if string(b) != "ssh 22/tcp\nDB2_HADR_1      55001/tcp\nDB2_HADR_2      55002/tcp\n" {
		t.Errorf("services:\n%s", b)
	}
	// A bad entry fails the step before it reads anything.
	if _, err := run(t, f, a, map[string]any{"services": "DB2_HADR_1=55001", "file": file}); err == nil || !strings.Contains(err.Error(), "NAME:PORT") {
		t.Errorf("bad entry: %v", err)
	}
	if len(f.last) != 0 {
		t.Errorf("ran %+v", f.last)
	}
	// A port moved: the write runs with the new file on stdin.
	o, err := run(t, f, a, map[string]any{"services": "DB2_HADR_1:55011", "file": file})
	if err != nil || o.Outputs["changed"] != "true" {
		t.Fatalf("%v %v", err, o.Outputs)
	}
	if b, _ := os.ReadFile(file); !strings.Contains(string(b), "DB2_HADR_1      55011/tcp\n") {
		t.Errorf("services:\n%s", b)
	}
}

// TestArgs checks that with: is decoded into each action's typed
// arguments, and that a bad value fails naming its argument.
func TestArgs(t *testing.T) {
	_, acts := newFake(t)
	tests := []struct {
		action string
		with   map[string]any
		badArg string // "" when it decodes
		msg    string
	}{
		{"db2", map[string]any{"script": "CONNECT TO XCATDB", "ok_codes": "SQL1777N", "want_records": "1"}, "", ""},
		{"db2", map[string]any{"script": "CONNECT TO XCATDB", "ok_codes": "SQL1769N:1,SQL4904N"}, "", ""},
		{"db2", map[string]any{"script": "CONNECT TO XCATDB", "ok_codes": []string{"SQL1769N:1", "SQL4904N"}}, "", ""},
		{"db2", map[string]any{}, "script", "needs argument"},
		{"db2", map[string]any{"script": "-- nothing"}, "script", "no Db2 command"},
		{"db2", map[string]any{"script": "X", "ok_codes": "SQL1777"}, "ok_codes", "message identifiers"},
		{"db2", map[string]any{"script": "X", "want_records": "one"}, "want_records", "not a whole number"},
		{"db2", map[string]any{"script": "X", "want_records": "-1"}, "want_records", "not a row count"},
		{"db2", map[string]any{"script": "X", "scirpt": "Y"}, "scirpt", `did you mean "script"`},
		{"db2_hadr_status", map[string]any{"want_role": "Primary", "wait": "5m", "source": "snapshot"}, "", ""},
		{"db2_hadr_status", map[string]any{"wait": "5"}, "wait", "not a duration"},
		{"db2_hadr_status", map[string]any{"source": "db2top"}, "source", "not one of db2pd, snapshot"},
		{"db2_hadr_status", map[string]any{"want_role": "Standard"}, "want_role", "not one of"},
		{"db2_hadr_status", map[string]any{"role": "Primary"}, "role", "has no argument"},
		{"db2_backup", map[string]any{"dir": "/b", "owner": "o", "database": "d"}, "", ""},
		{"db2_backup", map[string]any{"dir": []string{"/a", "/b"}}, "dir", "is a list"},
		{"db2_restore", map[string]any{"timestamp": "20240102030405"}, "", ""},
		{"db2_restore", map[string]any{"timestamp": "2024"}, "timestamp", "14-digit"},
		{"db2_restore", map[string]any{"timestamp": "20240102030405", "dir": `/a"b`}, "dir", "quotes"},
		{"db2_restore", map[string]any{}, "timestamp", "needs argument"},
		{"db2_takeover", map[string]any{"fenced": "true", "allow": "graceful, force", "user": "u", "password": "p"}, "", ""},
		{"db2_takeover", map[string]any{"fenced": "false", "allow": []string{"peer_window"}}, "", ""},
		{"db2_takeover", map[string]any{"fenced": "yes"}, "fenced", "not a boolean"},
		{"db2_takeover", map[string]any{"allow": "gracefully"}, "allow", "use graceful, peer_window and/or force"},
		{"db2_takeover", map[string]any{"force": "true"}, "force", "has no argument"},
		{"db2_services", map[string]any{"services": []string{"DB2_HADR_1:55001"}, "file": "/etc/services"}, "", ""},
		{"db2_services", map[string]any{"file": []string{"a", "b"}}, "file", "is a list"},
	}
	for _, tt := range tests {
		_, errs := decode(acts[tt.action], tt.with)
		if tt.badArg == "" {
			if len(errs) > 0 {
				t.Errorf("%s %v: %v", tt.action, tt.with, errors.Join(errs...))
			}
			continue
		}
		var ae *workflow.ArgError
		if len(errs) != 1 || !errors.As(errs[0], &ae) || ae.Arg != tt.badArg || !strings.Contains(ae.Msg, tt.msg) || !strings.Contains(ae.Msg, tt.badArg) {
			t.Errorf("%s %v: errors %v, want one naming %s with %q", tt.action, tt.with, errs, tt.badArg, tt.msg)
		}
	}
	// A value known only at run time is not checked yet.
	args := acts["db2_restore"].NewArgs().(workflow.ArgDecoder)
	if errs := args.DecodeArgs(map[string]any{"timestamp": "<steps.backup.out.timestamp>"}, map[string]bool{"timestamp": true}); len(errs) > 0 {
		t.Errorf("run-time timestamp: %v", errs)
	}
	// Every action's argument struct is one workflow can decode into.
	for name, a := range acts {
		workflow.SpecOf(a.NewArgs())
		if len(a.Plan("mn1", a.NewArgs())) == 0 {
			t.Errorf("%s plans nothing", name)
		}
	}
}
