package steps

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/remote"
)

// pgFakeTransport answers scripts by a function and records what it ran.
type pgFakeTransport struct {
	ran    []remote.Command
	stdins []string
	answer func(script string) remote.Result
}

func (f *pgFakeTransport) Exec(_ context.Context, _ remote.Host, c remote.Command) (remote.Result, error) {
	f.ran = append(f.ran, c)
	in := ""
	if c.Stdin != nil {
		b, _ := io.ReadAll(c.Stdin)
		in = string(b)
	}
	f.stdins = append(f.stdins, in)
	return f.answer(c.Script), nil
}

func (f *pgFakeTransport) Close() error { return nil }

func pgFakeEnv(answer func(string) remote.Result) (*Env, *pgFakeTransport) {
	ft := &pgFakeTransport{answer: answer}
	return &Env{Transport: ft, Hosts: func(name string) (remote.Host, error) { return remote.Host{Name: name, Address: name}, nil }}, ft
}

var pgTestArgs = map[string]string{"bin_dir": "/usr/lib/postgresql/15/bin", "data_dir": "/var/lib/postgresql/15/main", "user": "postgres"}

func withArgs(extra map[string]string) map[string]string {
	a := map[string]string{}
	for k, v := range pgTestArgs {
		a[k] = v
	}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

// The replication password reaches pg_basebackup through stdin only.
func TestBasebackupPasswordOnStdin(t *testing.T) {
	const pw = "s3cret-pw"
	env, ft := pgFakeEnv(func(string) remote.Result { return remote.Result{Exit: 0} })
	args := withArgs(map[string]string{"primary": "198.51.100.11", "repl_user": "replicator", "password": pw})
	o, err := PGBasebackup{Env: env}.Run(context.Background(), Call{Host: "mn2", Args: args, Secrets: []string{pw}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ft.ran) != 1 || ft.ran[0].AsUser != "postgres" {
		t.Fatalf("ran %+v", ft.ran)
	}
	for _, shown := range []string{ft.ran[0].Script, o.Command, PGBasebackup{}.Describe("mn2", args)} {
		if strings.Contains(shown, pw) {
			t.Errorf("password in a command: %s", shown)
		}
	}
	if ft.stdins[0] != pw+"\n" {
		t.Errorf("stdin %q", ft.stdins[0])
	}
	for _, want := range []string{"pg_basebackup -h 198.51.100.11 -p 5432 -U replicator -D \"$new\" -R -X stream -c fast -w", "mv \"$new\" /var/lib/postgresql/15/main"} {
		if !strings.Contains(ft.ran[0].Script, want) {
			t.Errorf("script lacks %q:\n%s", want, ft.ran[0].Script)
		}
	}
}

// pg_conf reads both files, writes back only what changed, keeps a
// backup, then reloads.
func TestPGConfEditsAndReloads(t *testing.T) {
	files := map[string]string{
		"/var/lib/postgresql/15/main/postgresql.conf": "listen_addresses = 'localhost'\nport = 5432\n",
		"/var/lib/postgresql/15/main/pg_hba.conf":     "host all all 198.51.100.10/32 md5\n",
	}
	env, ft := pgFakeEnv(func(script string) remote.Result {
		if p, ok := strings.CutPrefix(script, "cat "); ok {
			return remote.Result{Stdout: []byte(files[p])}
		}
		if strings.Contains(script, "pending_restart") {
			return remote.Result{Stdout: []byte("restart needed for: listen_addresses\nrestarted=yes\n")}
		}
		return remote.Result{}
	})
	args := withArgs(map[string]string{"set": "listen_addresses += 198.51.100.10", "hba": "host all all 198.51.100.10/32 md5"})
	o, err := PGConf{Env: env}.Run(context.Background(), Call{Host: "mn2", Args: args})
	if err != nil {
		t.Fatal(err)
	}
	var writes []string
	for i, c := range ft.ran {
		if strings.Contains(c.Script, ".hamnflow-new") {
			writes = append(writes, ft.stdins[i])
			if !strings.Contains(c.Script, ".hamnflow-bak") {
				t.Errorf("write without backup: %s", c.Script)
			}
		}
	}
	if len(writes) != 1 || !strings.Contains(writes[0], "listen_addresses = 'localhost,198.51.100.10' # set by hamnflow") {
		t.Errorf("writes %q (pg_hba.conf already had the record)", writes)
	}
	if o.Outputs["changed"] != "listen_addresses" || o.Outputs["restarted"] != "true" {
		t.Errorf("outputs %v", o.Outputs)
	}
	if last := ft.ran[len(ft.ran)-1]; last.AsUser != "postgres" || !strings.Contains(last.Script, "pg_ctl -D /var/lib/postgresql/15/main reload") {
		t.Errorf("last command %+v", last)
	}
}

// A dead host counts as stopped only where the step says so.
func TestIfReachable(t *testing.T) {
	env := &Env{Transport: pgDeadTransport{}, Hosts: func(name string) (remote.Host, error) { return remote.Host{Name: name}, nil }}
	args := map[string]string{"service": "xcatd", "state": "stopped", "if_reachable": "true"}
	o, err := XCATService{Env: env}.Run(context.Background(), Call{Host: "mn1", Args: args})
	if err != nil || o.Outputs["reachable"] != "false" {
		t.Errorf("if_reachable: %v %v", o.Outputs, err)
	}
	delete(args, "if_reachable")
	if _, err := (XCATService{Env: env}).Run(context.Background(), Call{Host: "mn1", Args: args}); err == nil {
		t.Errorf("unreachable host without if_reachable: no error")
	}
}

type pgDeadTransport struct{}

func (pgDeadTransport) Exec(context.Context, remote.Host, remote.Command) (remote.Result, error) {
	return remote.Result{Exit: -1}, io.ErrUnexpectedEOF
}
func (pgDeadTransport) Close() error { return nil }
