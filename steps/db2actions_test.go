package steps

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hamnflow/hamnflow/steps/remote"

	"github.com/hamnflow/hamnflow/steps/db2"
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
"TAKEOVER"*) echo primary > "$FAKE/role"; echo "DB20000I The TAKEOVER HADR ON DATABASE command completed successfully."; exit 0 ;;
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

// fakeTransport runs scripts locally with the fake Db2 first on PATH and
// remembers every command it was given.
type fakeTransport struct {
	dir  string
	mu   sync.Mutex
	cmds []remote.Command
}

func (f *fakeTransport) Exec(ctx context.Context, h remote.Host, c remote.Command) (remote.Result, error) {
	f.mu.Lock()
	f.cmds = append(f.cmds, c)
	f.mu.Unlock()
	c.Script = "PATH=" + f.dir + ":$PATH FAKE=" + f.dir + "; export PATH FAKE\n" + c.Script
	c.AsUser = ""
	return remote.Local{}.Exec(ctx, remote.Host{Name: "local", Local: true}, c)
}

func (f *fakeTransport) Close() error { return nil }

func newFake(t *testing.T) (*fakeTransport, map[string]textAction) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"db2": fakeDb2, "db2pd": fakeDb2pd} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f := &fakeTransport{dir: dir}
	env := &Env{Transport: f, Hosts: func(name string) (remote.Host, error) { return remote.Host{Name: name, Address: name}, nil }}
	return f, db2Actions(env)
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

func call(args map[string]string, secrets ...string) Call {
	return Call{Host: "mn1", Args: args, Secrets: secrets}
}

func TestDb2Session(t *testing.T) {
	f, acts := newFake(t)
	a := acts["db2"]
	script := "CONNECT TO XCATDB\ndb2 DEACTIVATE DATABASE XCATDB\n-- a comment\nSTART HADR ON DATABASE XCATDB AS STANDBY\nSELECT node FROM nodelist"
	o, err := a.Run(context.Background(), call(map[string]string{"script": script, "ok_codes": "SQL1777N", "want_records": "1"}))
	if err != nil {
		t.Fatalf("%v\n%s", err, o.Stdout)
	}
	if o.Outputs["warnings"] != "SQL1496W,SQL1777N" || o.Outputs["records"] != "1" || o.Exit != 2 {
		t.Errorf("outputs %v exit %d", o.Outputs, o.Exit)
	}
	if got := f.args(t); !strings.HasSuffix(got, "SELECT node FROM nodelist\nterminate\n") {
		t.Errorf("db2 calls:\n%s", got)
	}
	if f.cmds[0].AsUser != "xcatdb" {
		t.Errorf("ran as %q", f.cmds[0].AsUser)
	}

	// A failure stops the session and names the code; reason-qualified
	// ok codes only tolerate that reason.
	_, err = a.Run(context.Background(), call(map[string]string{"script": "STOP HADR ON DATABASE XCATDB\nSELECT 1", "ok_codes": "SQL1769N:1"}))
	var ce *db2.CLPError
	if !errors.As(err, &ce) || ce.Code != "SQL1769N" || ce.Reason != 2 || !strings.Contains(err.Error(), "on mn1") {
		t.Fatalf("error %v", err)
	}
	if strings.Contains(f.args(t), "SELECT 1") {
		t.Error("session went on after a failure")
	}
	if _, err := a.Run(context.Background(), call(map[string]string{"script": "STOP HADR ON DATABASE XCATDB", "ok_codes": "SQL1769N:2"})); err != nil {
		t.Errorf("reason 2 allowed: %v", err)
	}
	_, err = a.Run(context.Background(), call(map[string]string{"script": "FROB XCATDB"}))
	if !errors.As(err, &ce) || ce.Code != "SQL0104N" {
		t.Errorf("syntax error: %v", err)
	}
	if _, err := a.Run(context.Background(), call(map[string]string{"script": "SELECT x", "want_records": "0"})); err == nil ||
		!strings.Contains(err.Error(), "selected 1 row(s), want 0") {
		t.Errorf("want_records: %v", err)
	}
}

func TestDb2SecretNeverShown(t *testing.T) {
	const pw = "s3cr3t"
	f, acts := newFake(t)
	a := acts["db2"]
	args := map[string]string{"script": "CONNECT TO XCATDB USER xcatdb USING " + pw}
	shown := a.Describe("mn1", map[string]string{"script": "CONNECT TO XCATDB USER xcatdb USING " + workflow.Mask})
	o, err := a.Run(context.Background(), call(args, pw))
	if err == nil {
		t.Fatal("fake db2 accepted CONNECT ... USING (it should answer SQL0104N quoting the token)")
	}
	// The secret reached db2 ...
	if !strings.Contains(f.args(t), "USING "+pw) {
		t.Errorf("db2 did not get the password:\n%s", f.args(t))
	}
	// ... but no script, description, output or error holds it.
	for what, s := range map[string]string{"describe": shown, "command": o.Command, "stdout": o.Stdout, "stderr": o.Stderr, "error": err.Error()} {
		if strings.Contains(s, pw) {
			t.Errorf("%s shows the password: %s", what, s)
		}
	}
	for _, c := range f.cmds {
		if strings.Contains(c.Script, pw) {
			t.Errorf("script holds the password:\n%s", c.Script)
		}
	}
}

func TestDb2BackupRestore(t *testing.T) {
	f, acts := newFake(t)
	dir := filepath.Join(t.TempDir(), "backup")
	o, err := acts["db2_backup"].Run(context.Background(), call(map[string]string{"dir": dir}))
	if err != nil || o.Outputs["timestamp"] != "20240102030405" {
		t.Fatalf("%v %v\n%s", err, o.Outputs, o.Stdout)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("backup dir not created: %v", err)
	}
	if _, err := acts["db2_restore"].Run(context.Background(), call(map[string]string{"dir": dir, "timestamp": "2024"})); err == nil {
		t.Error("short timestamp accepted")
	}
	o, err = acts["db2_restore"].Run(context.Background(), call(map[string]string{"dir": dir, "timestamp": "20240102030405"}))
	if err != nil {
		t.Fatalf("%v\n%s", err, o.Stdout)
	}
	want := `RESTORE DATABASE XCATDB FROM "` + dir + `" TAKEN AT 20240102030405 REPLACE HISTORY FILE WITHOUT PROMPTING`
	if !strings.Contains(f.args(t), want) {
		t.Errorf("db2 calls:\n%s", f.args(t))
	}
}

func TestDb2HADRStatus(t *testing.T) {
	f, acts := newFake(t)
	a := acts["db2_hadr_status"]
	f.write(t, "before", standbyPd("REMOTE_CATCHUP_PENDING", "DISCONNECTED"))
	o, err := a.Run(context.Background(), call(map[string]string{}))
	if err != nil || o.Outputs["role"] != "Standby" || o.Outputs["state"] != "Remote catchup pending" || o.Outputs["healthy"] != "false" ||
		o.Outputs["takeover"] != "by force" {
		t.Fatalf("%v %v", err, o.Outputs)
	}
	_, err = a.Run(context.Background(), call(map[string]string{"want_role": "Standby"}))
	if err == nil || !strings.Contains(err.Error(), `State is "Remote catchup pending", want "Peer"`) ||
		!strings.Contains(err.Error(), `ConnectStatus is "Disconnected"`) {
		t.Errorf("%v", err)
	}
	f.write(t, "before", standbyPd("PEER", "CONNECTED"))
	if o, err := a.Run(context.Background(), call(map[string]string{"want_role": "standby"})); err != nil || o.Outputs["healthy"] != "true" {
		t.Errorf("%v %v", err, o.Outputs)
	}
	f.write(t, "before", "Database XCATDB not activated on database member 0 or this database name cannot be found in the local database directory.\n\nOption -hadr requires -db <database> or -alldbs option and active database.\n")
	if o, err := a.Run(context.Background(), call(map[string]string{})); err != nil || o.Outputs["active"] != "false" {
		t.Errorf("inactive: %v %v", err, o.Outputs)
	}
}

func TestDb2Takeover(t *testing.T) {
	primary := strings.NewReplacer("STANDBY", "PRIMARY", "Standby", "Active").Replace(standbyPd("PEER", "CONNECTED"))
	tests := []struct {
		name, state, conn string
		args              map[string]string
		want              string // the TAKEOVER command, "" when refused
		errHas            string
	}{
		{"peer", "PEER", "CONNECTED", map[string]string{"user": "xcatdb", "password": "s3cr3t"},
			"TAKEOVER HADR ON DATABASE XCATDB USER xcatdb USING s3cr3t", ""},
		{"disconnected peer", "DISCONNECTED_PEER", "DISCONNECTED", nil, "TAKEOVER HADR ON DATABASE XCATDB BY FORCE PEER WINDOW ONLY", ""},
		{"never in peer, not fenced", "REMOTE_CATCHUP_PENDING", "DISCONNECTED", nil, "", "refusing TAKEOVER HADR ON DATABASE XCATDB BY FORCE"},
		{"never in peer, fenced", "REMOTE_CATCHUP_PENDING", "DISCONNECTED", map[string]string{"fenced": "true"}, "TAKEOVER HADR ON DATABASE XCATDB BY FORCE", ""},
		{"graceful only", "DISCONNECTED_PEER", "DISCONNECTED", map[string]string{"allow": "graceful"}, "", "allows only graceful"},
		{"local catchup", "LOCAL_CATCHUP", "DISCONNECTED", map[string]string{"fenced": "true"}, "", "local catchup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, acts := newFake(t)
			f.write(t, "before", standbyPd(tt.state, tt.conn))
			f.write(t, "after", primary)
			args := map[string]string{}
			for k, v := range tt.args {
				args[k] = v
			}
			o, err := acts["db2_takeover"].Run(context.Background(), call(args, "s3cr3t"))
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

func TestDb2Services(t *testing.T) {
	_, acts := newFake(t)
	file := filepath.Join(t.TempDir(), "services")
	if err := os.WriteFile(file, []byte("ssh 22/tcp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := acts["db2_services"]
	args := map[string]string{"services": "DB2_HADR_1:55001,DB2_HADR_2:55002", "file": file}
	for i, want := range []string{"true", "false"} {
		o, err := a.Run(context.Background(), call(args))
		if err != nil || o.Outputs["changed"] != want {
			t.Fatalf("run %d: %v %v", i, err, o.Outputs)
		}
	}
	b, _ := os.ReadFile(file)
	if string(b) != "ssh 22/tcp\nDB2_HADR_1      55001/tcp\nDB2_HADR_2      55002/tcp\n" {
		t.Errorf("services:\n%s", b)
	}
}
