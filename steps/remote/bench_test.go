package remote

import (
	"context"
	"os/exec"
	"strconv"
	"testing"
)

// BenchmarkExecSequential runs `true` on the test sshd over the pooled
// connection.
func BenchmarkExecSequential(b *testing.B) {
	s := startSSHD(b)
	p := newPool(b, s, nil)
	h := s.Host("mn1")
	ctx := context.Background()
	if _, err := p.Exec(ctx, h, Command{Script: "true"}); err != nil {
		b.Fatal(err) // dial outside the loop
	}
	for b.Loop() {
		if _, err := p.Exec(ctx, h, Command{Script: "true"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSSHProcess runs `true` on the test sshd with one ssh process,
// and so one connection, per command: what a tool without a pool pays.
func BenchmarkSSHProcess(b *testing.B) {
	s := startSSHD(b)
	args := []string{"-F", "none", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + s.KnownHosts, "-o", "HostKeyAlgorithms=ssh-ed25519",
		"-i", s.ClientKey, "-p", strconv.Itoa(s.Port), "root@127.0.0.1", "true"}
	for b.Loop() {
		if out, err := exec.Command("ssh", args...).CombinedOutput(); err != nil {
			b.Fatalf("ssh: %v: %s", err, out)
		}
	}
}
