//go:build lab

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFullDisk fills the journal's file system in the middle of a run (a
// tmpfs of 512 KiB in a private mount namespace): hamnflow stops with exit
// 6 and a message saying what to do, starts nothing more, keeps the
// journal readable, and once space is freed `resume` finishes the run
// without running a finished step again.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: mounts a small tmpfs in a private mount namespace (run make test as root)")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	jdir := filepath.Join(dir, "j")
	if err := os.Mkdir(jdir, 0o755); err != nil {
		t.Fatal(err)
	}
	ledger := filepath.Join(dir, "ledger")
	pb := filepath.Join(dir, "fill.yaml")
	filled := filepath.Join(dir, "filled")
	text := `name: fill
steps:
  - id: s1
    action: shell
    with: {cmd: "echo s1 >> ` + ledger + `"}
  - id: s2
    needs: [s1]
    idempotent: true
    action: shell
    with: {cmd: "echo s2 >> ` + ledger + `; [ -e ` + filled + ` ] || { touch ` + filled + `; dd if=/dev/zero of=` + jdir + `/fill bs=4k 2>/dev/null; true; }"}
  - id: s3
    needs: [s2]
    action: shell
    with: {cmd: "echo s3 >> ` + ledger + `"}
`
	if err := os.WriteFile(pb, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	// One shell in a private mount namespace runs the whole scenario, as
	// the tmpfs lives only there; markers separate the commands' outputs.
	script := `set -u
mount -t tmpfs -o size=512k,mode=0700 tmpfs "$J"
export HAMNFLOW_JOURNAL="$J/journal.db" HAMNFLOW_LOCK_DIR="$J/../locks"
"$BIN" --log-format json run "$PB"; echo "@run-exit=$?"
"$BIN" history --output json; echo "@history-exit=$?"
rm -f "$J/fill"
id=$("$BIN" history --output json | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' | head -1)
"$BIN" --log-format json resume "$id"; echo "@resume-exit=$?"
"$BIN" show "$id"; echo "@show-exit=$?"
`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "J="+jdir, "BIN="+bin, "PB="+pb)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("unshare: %v\n%s", err, out)
	}
	o := string(out)
	for _, want := range []string{
		"@run-exit=6",
		"no space left on device; nothing more was run. Make the journal writable again (free space on its file system), then `hamnflow resume ",
		"@history-exit=0",
		"@resume-exit=0",
		"@show-exit=0",
	} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
	b, err := os.ReadFile(ledger)
	if err != nil {
		t.Fatal(err)
	}
	// s2 ended before the disk filled up, or it is in doubt and, being
	// idempotent, ran again; s1 never ran twice and s3 ran once.
	got := strings.Fields(string(b))
	if n := strings.Count(string(b), "s1"); n != 1 {
		t.Errorf("s1 ran %d times: %v", n, got)
	}
	if n := strings.Count(string(b), "s3"); n != 1 {
		t.Errorf("s3 ran %d times: %v", n, got)
	}
	if !strings.Contains(o, "succeeded") {
		t.Errorf("the resumed run did not succeed:\n%s", o)
	}
}
