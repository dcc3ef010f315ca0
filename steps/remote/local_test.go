package remote

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestShellQuote(t *testing.T) {
	for _, s := range []string{
		"", "plain", "/etc/xcat/ca", "a b", "it's", `"double"`, "$HOME", "`id`", "a;b", "new\nline",
		"*", "~root", "-n", "x'y'z", `back\slash`, "tab\there", "é",
	} {
		q := ShellQuote(s)
		out, err := exec.Command("/bin/sh", "-c", "printf %s "+q).Output()
		if err != nil {
			t.Fatalf("sh with %q: %v", q, err)
		}
		if string(out) != s {
			t.Errorf("ShellQuote(%q) = %s: the shell saw %q", s, q, out)
		}
	}
	for s, want := range map[string]string{"plain": "plain", "a b": "'a b'", "it's": `'it'\''s'`, "": "''"} {
		if got := ShellQuote(s); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestAsUser(t *testing.T) {
	tests := []struct {
		script, user string
		root         bool
		want         string
	}{
		{"db2 list db directory", "", true, "db2 list db directory"},
		{"db2 list db directory", "xcatdb", true, `su - xcatdb -c 'db2 list db directory'`},
		{"db2 \"connect to xcatdb user xcatdb using 'x'\"", "xcatdb", true, `su - xcatdb -c 'db2 "connect to xcatdb user xcatdb using '\''x'\''"'`},
		{"id -un", "xcatdb", false, `sudo -n -H -u xcatdb -- sh -c 'id -un'`},
	}
	for _, tt := range tests {
		if got := AsUser(tt.script, tt.user, tt.root); got != tt.want {
			t.Errorf("AsUser(%q, %q, %v) =\n %s\nwant\n %s", tt.script, tt.user, tt.root, got, tt.want)
		}
	}
}

func TestLocalExec(t *testing.T) {
	ctx := context.Background()
	h := Host{Name: "local", Local: true}
	res, err := Local{}.Exec(ctx, h, Command{Script: "echo out; echo err >&2; exit 3"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Exit != 3 || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" {
		t.Errorf("got exit %d stdout %q stderr %q", res.Exit, res.Stdout, res.Stderr)
	}
	res, err = Local{}.Exec(ctx, h, Command{Script: "cat", Stdin: strings.NewReader("fed")})
	if err != nil || string(res.Stdout) != "fed" {
		t.Errorf("stdin: %q, %v", res.Stdout, err)
	}
}

// TestLocalTimeoutKillsTree checks that a timeout kills the whole process
// group: a background child that would write a file later never does.
func TestLocalTimeoutKillsTree(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "late")
	script := "(sleep 1; touch " + ShellQuote(marker) + ") & sleep 30"
	start := time.Now()
	res, err := Local{}.Exec(context.Background(), Host{Local: true}, Command{Script: script, Timeout: 200 * time.Millisecond})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a deadline error, got %v (exit %d)", err, res.Exit)
	}
	if !strings.Contains(err.Error(), "may have partly run") {
		t.Errorf("error does not warn that the command may have partly run: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("timeout not enforced")
	}
	time.Sleep(1500 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Error("a child of the timed-out command survived and ran")
	}
}

func TestHostEnv(t *testing.T) {
	h := Host{Name: "local", Local: true, Env: map[string]string{"PATH": "/opt/xcat/bin:/usr/bin:/bin", "GREETING": "it's here"}}
	res, err := Local{}.Exec(context.Background(), h, Command{Script: `echo "$PATH|$GREETING"`})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(res.Stdout)); got != "/opt/xcat/bin:/usr/bin:/bin|it's here" {
		t.Errorf("the command saw %q", got)
	}
	if got := h.WithEnv("true"); got != "GREETING='it'\\''s here'; export GREETING\nPATH=/opt/xcat/bin:/usr/bin:/bin; export PATH\ntrue" {
		t.Errorf("WithEnv = %q", got)
	}
}

type plain struct {
	out  string
	exit int
}

// execPlain runs script with /bin/sh -c on the command line, as a reference.
func (Local) execPlain(script string) (plain, error) {
	out, err := exec.Command("/bin/sh", "-c", script).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return plain{string(out), ee.ExitCode()}, nil
	}
	return plain{string(out), 0}, err
}

func itoa(n int) string { return strconv.Itoa(n) }
