//go:build lab

package remote

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/integration/labtest"
	"github.com/hamnflow/hamnflow/playbooks"
)

// TestSecretNeverRevealed gives steps a secret from the inventory (a file
// source). The command on the host gets the real value; the journal file,
// hamnflow's stdout and stderr (streamed output, debug logs, errors) and
// show/history never hold it, even when the command prints it.
func TestSecretNeverRevealed(t *testing.T) {
	env := labtest.Up(t, labtest.Options{})
	secret := addSecret(t, env, "api_token")
	pb := writePlaybook(t, env, "secret", `name: secret
description: steps that use, and print, a secret
steps:
  - id: use
    title: hand the token to mn1
    host: mn1
    action: shell
    with:
      cmd: |
        umask 077
        printf '%s\n' {{ quote (secret "api_token") }} > /tmp/hamnflow-token
        echo "token is {{ secret "api_token" }}"
        echo "stderr sees {{ secret "api_token" }}" >&2
  - id: reject
    title: mn2 rejects the token
    needs: [use]
    host: mn2
    action: shell
    with:
      cmd: echo "token {{ secret "api_token" }} refused" >&2; exit 2
`)
	var out []labtest.Result
	r := env.Run(t, "--log-level", "debug", "run", pb, "--stream")
	if r.Exit != 1 {
		t.Fatalf("want exit 1 (step reject fails), got %s", r)
	}
	out = append(out, r)
	got, err := os.ReadFile(filepath.Join(env.Lab.Host("mn1").Root, "tmp/hamnflow-token"))
	if err != nil || strings.TrimSpace(string(got)) != secret {
		t.Fatalf("the command on mn1 did not get the secret: %q, %v", got, err)
	}
	if !strings.Contains(r.Combined(), "token is ********") {
		t.Errorf("the streamed output does not show the masked line:\n%s", r)
	}
	id := runID(t, r)
	out = append(out,
		env.MustRun(t, 0, "show", id),
		env.MustRun(t, 0, "show", id, "--events"),
		env.MustRun(t, 0, "show", id, "--output", "json"),
		env.MustRun(t, 0, "history"),
		env.MustRun(t, 0, "history", "--output", "json"),
		env.Run(t, "--log-level", "debug", "resume", id),
	)
	for _, r := range out {
		if strings.Contains(r.Combined(), secret) {
			t.Errorf("the secret is in hamnflow's output:\n%s", r)
		}
	}
	j := env.JournalBytes(t)
	for _, enc := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)), hex.EncodeToString([]byte(secret))} {
		if strings.Contains(string(j), enc) {
			t.Errorf("the journal file %s holds the secret (as %q)", env.Journal, enc)
		}
	}
	if !strings.Contains(string(j), "********") {
		t.Errorf("the journal holds no masked value: did the steps' output reach it?")
	}
}

// TestSecretNotInProcessTable (issue 16, finding 9): while a shell step
// that uses a secret runs on mn1, mn1's process table (ps, as any user of
// the host sees it) shows neither the secret nor the script.
func TestSecretNotInProcessTable(t *testing.T) {
	env := labtest.Up(t, labtest.Options{})
	secret := addSecret(t, env, "api_token")
	pb := writePlaybook(t, env, "ps", `name: ps
steps:
  - id: use
    host: mn1
    action: shell
    with:
      cmd: |
        TOKEN={{ quote (secret "api_token") }}
        touch /tmp/hamnflow-ps-ready
        while [ ! -e /tmp/hamnflow-ps-go ]; do sleep 0.05; done
        echo "token of ${#TOKEN} characters"
`)
	ready := filepath.Join(env.Lab.Host("mn1").Root, "tmp/hamnflow-ps-ready")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := env.Command(ctx, "run", pb)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- cmd.Wait() }()
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		select {
		case err := <-ended:
			t.Fatalf("the run ended before the step was running: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	ps := env.Exec(t, "mn1", "ps -eo pid,user,args; cat /proc/[0-9]*/cmdline | tr '\\0' ' '")
	env.Exec(t, "mn1", "touch /tmp/hamnflow-ps-go")
	if err := <-ended; err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if strings.Contains(ps, secret) {
		t.Errorf("mn1's process table shows the secret while the step runs:\n%s", ps)
	}
	if strings.Contains(ps, "hamnflow-ps-go") {
		t.Errorf("mn1's process table shows the step's script:\n%s", ps)
	}
	if !strings.Contains(ps, "read -r n") {
		t.Errorf("the step's shell is not in mn1's process table: did ps see it?\n%s", ps)
	}
	if !strings.Contains(out.String(), "succeeded") {
		t.Errorf("the run did not succeed:\n%s", out.String())
	}
}

// addSecret gives the lab's inventory a secret of that name, a random
// token in a file source, and returns the token.
func addSecret(t *testing.T, env *labtest.Env, name string) string {
	t.Helper()
	b := make([]byte, 12)
	rand.Read(b)
	secret := "tok-" + hex.EncodeToString(b)
	file := filepath.Join(env.Dir, name)
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := env.Lab.Inventory()
	inv.Secrets[name] = playbooks.SecretSource{File: file}
	if err := env.Lab.WriteInventory(inv); err != nil {
		t.Fatal(err)
	}
	return secret
}
