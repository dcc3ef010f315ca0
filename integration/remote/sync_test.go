//go:build lab

package remote

import (
	"bytes"
	"github.com/hamnflow/hamnflow/workflow"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/integration/labtest"
)

// guidePaths are the files and directories of guide 6.1-6.3 (with the
// lab's installdir), relative to a host's root.
var guidePaths = []string{"etc/xcat/ca", "etc/xcat/cert", "etc/xcat/hostkeys", "root/.xcat", "install", "etc/hosts", "etc/resolv.conf"}

// sameFiles fails t unless every file under the guide's paths on mn1 is on
// mn2 with the same content and mode.
func sameFiles(t *testing.T, env *labtest.Env) {
	t.Helper()
	r1, r2 := env.Lab.Host("mn1").Root, env.Lab.Host("mn2").Root
	n := 0
	for _, p := range guidePaths {
		err := filepath.WalkDir(filepath.Join(r1, p), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(r1, path)
			a, _ := os.ReadFile(path)
			b, err := os.ReadFile(filepath.Join(r2, rel))
			if err != nil || !bytes.Equal(a, b) {
				t.Errorf("/%s differs on mn2: %v", rel, err)
				return nil
			}
			s1, _ := os.Lstat(path)
			s2, _ := os.Lstat(filepath.Join(r2, rel))
			if s1.Mode() != s2.Mode() {
				t.Errorf("/%s: mode %v on mn1, %v on mn2", rel, s1.Mode(), s2.Mode())
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n < 15 {
		t.Fatalf("only %d files compared: the lab's sample files are missing", n)
	}
}

// items are the items the last success of step reported.
func (s shown) items(t *testing.T, key string) map[string]string {
	t.Helper()
	for i := len(s.Events) - 1; i >= 0; i-- {
		if ev := s.Events[i]; ev.Step == key && ev.Type == workflow.EvStepSucceeded {
			m := map[string]string{}
			for _, it := range ev.Items {
				m[it["name"]] = it["change"]
			}
			return m
		}
	}
	t.Fatalf("run %s: step %s never succeeded", s.Run.ID, key)
	return nil
}

func writeOn(t *testing.T, env *labtest.Env, host, path, content string, appendTo bool) {
	t.Helper()
	p := filepath.Join(env.Lab.Host(host).Root, path)
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendTo {
		flag = os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(p, flag, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
}

// TestSyncAndDrift runs the sync playbook (guide 7.0): the drift report
// lists every difference between mn1 and mn2 without changing mn2, the
// sync copies the guide's files, and a later change on mn1 (and a stale
// file on mn2) shows up as typed drift items.
func TestSyncAndDrift(t *testing.T) {
	env := labtest.Up(t, labtest.Options{})
	mn2 := env.Lab.Host("mn2").Root

	r := env.MustRun(t, 0, "run", "sync", "--set", "report_only=true")
	s := show(t, env, runID(t, r))
	out := s.outputs(t, "drift")
	if out["count"] == "0" || out["missing"] != out["count"] {
		t.Fatalf("drift before the first sync: %v, want everything missing", out)
	}
	for _, st := range s.Steps {
		if st.Step == "sync" {
			t.Fatalf("report_only: the run has a sync step (%s); it is left out when the playbook loads", st.Status)
		}
	}
	if _, err := os.Stat(filepath.Join(mn2, "etc/xcat/ca/ca-cert.pem")); err == nil {
		t.Fatal("the drift report changed mn2")
	}
	if it := s.items(t, "drift"); it["/etc/xcat/ca/ca-cert.pem"] != "missing" || it["/install/postscripts/syslog"] != "missing" {
		t.Fatalf("drift items: %v", it)
	}

	r = env.MustRun(t, 0, "run", "sync")
	if out := show(t, env, runID(t, r)).outputs(t, "verify"); out["count"] != "0" {
		t.Fatalf("drift after the sync: %v", out)
	}
	sameFiles(t, env)

	writeOn(t, env, "mn1", "etc/hosts", "198.51.100.99\tcn99.lab cn99\n", true)
	writeOn(t, env, "mn1", "install/custom/install/rh/new.tmpl", "# new template\n", false)
	writeOn(t, env, "mn2", "etc/xcat/ca/stale.pem", "# left over on mn2\n", false)
	r = env.MustRun(t, 0, "run", "sync", "--set", "report_only=true")
	s = show(t, env, runID(t, r))
	it := s.items(t, "drift")
	if it["/etc/hosts"] != "differs" || it["/install/custom/install/rh/new.tmpl"] != "missing" {
		t.Errorf("drift after changes on mn1: %v", it)
	}
	if _, ok := it["/etc/xcat/ca/stale.pem"]; ok {
		t.Errorf("without delete, a file only mn2 has is not drift: %v", it)
	}
	if out := s.outputs(t, "drift"); !strings.Contains(out["list"], "differs /etc/hosts") {
		t.Errorf("drift list: %q", out["list"])
	}
	if b, _ := os.ReadFile(filepath.Join(mn2, "etc/hosts")); strings.Contains(string(b), "cn99") {
		t.Fatal("the drift report changed mn2's /etc/hosts")
	}
	r = env.MustRun(t, 0, "run", "sync", "--set", "report_only=true", "--set", "delete=true")
	if it := show(t, env, runID(t, r)).items(t, "drift"); it["/etc/xcat/ca/stale.pem"] != "extra" {
		t.Errorf("with delete, drift does not list mn2's stale file: %v", it)
	}

	env.MustRun(t, 0, "run", "sync")
	sameFiles(t, env)
	if _, err := os.Stat(filepath.Join(mn2, "etc/xcat/ca/stale.pem")); err != nil {
		t.Errorf("sync without delete removed a file of mn2: %v", err)
	}

	// mn1 no longer knows mn2's host key: rsync refuses, and says so.
	env.Exec(t, "mn1", "ssh-keygen -R mn2 -f /root/.ssh/known_hosts >/dev/null 2>&1; sed -i '/^mn2,/d' /root/.ssh/known_hosts")
	r = env.Run(t, "run", "sync")
	if r.Exit != 1 || !strings.Contains(r.Combined(), "Host key verification failed") {
		t.Errorf("sync to a host whose key mn1 does not know: want exit 1 and ssh's refusal, got %s", r)
	}
}

// TestSyncSetup runs the sync-setup playbook (guide 6.1-6.3) twice: the
// guide's files are on mn2, root's crontab on mn1 holds the three rsync
// entries once (with the lines that were there before kept), the entries
// run as cron would run them, and rolling back removes only the block.
func TestSyncSetup(t *testing.T) {
	env := labtest.Up(t, labtest.Options{})
	env.Exec(t, "mn1", "printf 'MAILTO=ops\\n30 4 * * * /usr/local/bin/backup\\n' | crontab -")

	r := env.MustRun(t, 0, "run", "sync-setup", "--yes")
	id := runID(t, r)
	sameFiles(t, env)
	first := env.Exec(t, "mn1", "crontab -l")
	env.MustRun(t, 0, "run", "sync-setup", "--yes")
	tab := env.Exec(t, "mn1", "crontab -l")
	if tab != first {
		t.Errorf("the second run changed the crontab:\n%s\nthen\n%s", first, tab)
	}
	if !strings.HasPrefix(tab, "MAILTO=ops\n30 4 * * * /usr/local/bin/backup\n") {
		t.Errorf("the lines before the block are gone:\n%s", tab)
	}
	var entries []string
	for _, l := range strings.Split(tab, "\n") {
		if strings.Contains(l, "rsync") {
			entries = append(entries, l)
		}
	}
	if strings.Count(tab, "# BEGIN hamnflow sync\n") != 1 || strings.Count(tab, "# END hamnflow sync\n") != 1 || len(entries) != 3 {
		t.Fatalf("want one block of 3 rsync entries:\n%s", tab)
	}
	for i, want := range []string{"0 1 * * * /usr/bin/rsync -az -R -c --delete", "0 2 * * * /usr/bin/rsync -az", "0 2 * * * /usr/bin/rsync -az"} {
		if !strings.HasPrefix(entries[i], want) {
			t.Errorf("entry %d: %q, want it to start with %q", i+1, entries[i], want)
		}
	}
	for i, want := range []string{"/etc/xcat/ca /etc/xcat/cert /etc/xcat/hostkeys /root/.xcat /install/postscripts/ca /install/postscripts/_xcat /install/postscripts/_ssh /install/postscripts/hostkeys mn2:/", "/install mn2:/", "/etc/hosts /etc/resolv.conf mn2:/"} {
		if !strings.HasSuffix(entries[i], want) {
			t.Errorf("entry %d: %q, want it to end with %q", i+1, entries[i], want)
		}
	}

	// The entries work as cron runs them: sh -c with cron's short PATH.
	writeOn(t, env, "mn1", "etc/xcat/cert/ca.pem", "# renewed CA\n", false)
	writeOn(t, env, "mn1", "etc/resolv.conf", "search lab\nnameserver 198.51.100.12\n", false)
	for _, e := range entries {
		cmd := strings.Join(strings.Fields(e)[5:], " ")
		env.Exec(t, "mn1", "cd / && env -i HOME=/root LOGNAME=root SHELL=/bin/sh PATH=/usr/bin:/bin /bin/sh -c "+shellQuote(cmd))
	}
	sameFiles(t, env)

	env.MustRun(t, 0, "rollback", id, "--yes")
	if tab := env.Exec(t, "mn1", "crontab -l"); tab != "MAILTO=ops\n30 4 * * * /usr/local/bin/backup\n" {
		t.Errorf("after rollback the crontab is:\n%s", tab)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
