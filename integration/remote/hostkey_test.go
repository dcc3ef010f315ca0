//go:build lab

package remote

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/integration/labtest"
)

// onHost is a playbook of one step on host that leaves a mark in /tmp, so
// that a test can tell whether the command ran.
func onHost(t *testing.T, env *labtest.Env, host string) string {
	return writePlaybook(t, env, "on-"+host, `name: on-`+host+`
description: one command on `+host+`
steps:
  - id: mark
    title: leave a mark on `+host+`
    host: `+host+`
    action: shell
    with: {cmd: "hostname; touch /tmp/hamnflow-ran"}
    timeout: 30s
`)
}

// fingerprint is the SHA256 fingerprint of a public key file.
func fingerprint(t *testing.T, pub string) string {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-lf", pub).Output()
	if err != nil {
		t.Fatalf("ssh-keygen -lf %s: %v", pub, err)
	}
	f := strings.Fields(string(out))
	if len(f) < 2 || !strings.HasPrefix(f[1], "SHA256:") {
		t.Fatalf("ssh-keygen -lf %s: %q", pub, out)
	}
	return f[1]
}

// editKnownHosts rewrites the lab's known_hosts line by line.
func editKnownHosts(t *testing.T, env *labtest.Env, edit func(line string) string) {
	t.Helper()
	p := env.Lab.KnownHostsPath()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if l = edit(l); l != "" {
			out = append(out, l)
		}
	}
	if err := os.WriteFile(p, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func ran(env *labtest.Env, host string) bool {
	_, err := os.Stat(filepath.Join(env.Lab.Host(host).Root, "tmp/hamnflow-ran"))
	return err == nil
}

// TestUnknownHostKey removes a service node from known_hosts: hamnflow
// refuses to run anything there and shows the key's fingerprint and what
// to do; with --accept-new-host-keys it records the key and runs, and the
// next run trusts the recorded key without the flag.
func TestUnknownHostKey(t *testing.T) {
	env := labtest.Up(t, labtest.Options{})
	sn := env.Lab.Host("sn01")
	editKnownHosts(t, env, func(l string) string {
		if strings.HasPrefix(l, "sn01,") {
			return ""
		}
		return l
	})
	pb := onHost(t, env, "sn01")
	fp := fingerprint(t, filepath.Join(sn.Root, "etc/ssh/ssh_host_ed25519_key.pub"))

	// Refused by the preflight, before any step: exit 2 (bad input).
	r := env.Run(t, "run", pb)
	if r.Exit != 2 {
		t.Fatalf("want exit 2, got %s", r)
	}
	for _, want := range []string{"host sn01 (step mark):", "is unknown", fp, "--accept-new-host-keys", env.Lab.KnownHostsPath()} {
		if !strings.Contains(r.Combined(), want) {
			t.Errorf("the refusal does not say %q:\n%s", want, r)
		}
	}
	if ran(env, "sn01") {
		t.Fatal("the command ran on sn01 although its host key is unknown")
	}

	env.MustRun(t, 0, "run", pb, "--accept-new-host-keys")
	if !ran(env, "sn01") {
		t.Fatal("the command did not run on sn01 after accepting its key")
	}
	b, _ := os.ReadFile(env.Lab.KnownHostsPath())
	pub, _ := os.ReadFile(filepath.Join(sn.Root, "etc/ssh/ssh_host_ed25519_key.pub"))
	key := strings.Join(strings.Fields(string(pub))[:2], " ")
	if !strings.Contains(string(b), sn.SSHAddress()+" "+key) {
		t.Fatalf("known_hosts has no entry %s %s:\n%s", sn.SSHAddress(), key, b)
	}
	env.MustRun(t, 0, "run", pb)
}

// TestChangedHostKey gives mn2 another key in known_hosts: hamnflow refuses
// to connect, shows both fingerprints (the presented and the known one)
// and how to remove the old entry, and --accept-new-host-keys does not
// override it.
func TestChangedHostKey(t *testing.T) {
	env := labtest.Up(t, labtest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	other := filepath.Join(env.Dir, "other_key")
	if out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "impostor", "-f", other).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(other + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	fake := strings.Join(strings.Fields(string(pub))[:2], " ")
	editKnownHosts(t, env, func(l string) string {
		if names, _, ok := strings.Cut(l, " "); ok && strings.HasPrefix(l, "mn2,") {
			return names + " " + fake
		}
		return l
	})
	presented := fingerprint(t, filepath.Join(env.Lab.Host("mn2").Root, "etc/ssh/ssh_host_ed25519_key.pub"))
	known := fingerprint(t, other+".pub")
	pb := onHost(t, env, "mn2")
	for _, flags := range [][]string{nil, {"--accept-new-host-keys"}} {
		r := env.Run(t, append([]string{"run", pb}, flags...)...)
		if r.Exit != 2 {
			t.Fatalf("run %v: want exit 2 (refused by the preflight), got %s", flags, r)
		}
		for _, want := range []string{"CHANGED", presented, known, "ssh-keygen -R"} {
			if !strings.Contains(r.Combined(), want) {
				t.Errorf("run %v: the refusal does not say %q:\n%s", flags, want, r)
			}
		}
		if ran(env, "mn2") {
			t.Fatalf("run %v: the command ran on mn2 although its host key changed", flags)
		}
	}
}
