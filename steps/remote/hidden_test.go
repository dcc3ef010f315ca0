package remote

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// readyWriter closes ready when the first "ready" line arrives.
type readyWriter struct {
	once  sync.Once
	ready chan struct{}
	buf   syncBuffer
}

func (w *readyWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	if strings.Contains(w.buf.String(), "ready\n") {
		w.once.Do(func() { close(w.ready) })
	}
	return len(b), nil
}

// cmdlinesWith returns the command lines in this machine's process table
// (what ps shows every user) that contain s.
func cmdlinesWith(t *testing.T, s string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(s)) {
			found = append(found, e.Name()+": "+string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
		}
	}
	return found
}

// TestScriptNotOnCommandLine (issue 16, finding 9): while a command runs,
// locally, over SSH and as another user, the process table of the host
// that runs it shows neither its script nor the secret in it; the
// script still gets its stdin after it. (The sshd of these tests runs on
// this machine, so its commands are in this machine's process table.)
func TestScriptNotOnCommandLine(t *testing.T) {
	const secret = "Pa55-w0rd-in-the-script"
	dir, err := os.MkdirTemp("", "hidden-") // the other user looks here
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := startSSHD(t)
	p := newPool(t, s, nil)
	user := loginUser(t)
	os.Chmod(dir, 0o755)
	for _, tc := range []struct {
		name string
		tr   Transport
		h    Host
		as   string
	}{
		{"local", Local{}, Host{Name: "local", Local: true}, ""},
		{"local as user", Local{}, Host{Name: "local", Local: true}, user},
		{"ssh", p, s.Host("mn1"), ""},
		{"ssh as user", p, s.Host("mn1"), user},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			script := "PW='" + secret + "'\necho ready\nwhile [ ! -e " + done + " ]; do sleep 0.05; done\nread -r line\necho \"got $line, ${#PW}\"\n"
			w := &readyWriter{ready: make(chan struct{})}
			type result struct {
				res Result
				err error
			}
			ch := make(chan result, 1)
			go func() {
				res, err := tc.tr.Exec(context.Background(), tc.h, Command{Script: script, AsUser: tc.as, Stdin: strings.NewReader("stdin line\n"), Stream: w})
				ch <- result{res, err}
			}()
			select {
			case <-w.ready:
			case r := <-ch:
				t.Fatalf("the command ended before it was ready: %v, %q %q", r.err, r.res.Stdout, r.res.Stderr)
			}
			seen := cmdlinesWith(t, secret)
			os.WriteFile(done, nil, 0o644)
			r := <-ch
			if len(seen) > 0 {
				t.Errorf("the secret is in the process table while the command runs:\n%s", strings.Join(seen, "\n"))
			}
			if r.err != nil || r.res.Exit != 0 || string(r.res.Stdout) != "ready\ngot stdin line, "+itoa(len(secret))+"\n" {
				t.Errorf("the command did not run as given: %v, exit %d, %q %q", r.err, r.res.Exit, r.res.Stdout, r.res.Stderr)
			}
		})
	}
}

// TestScriptInput: scripts of any shape come through the reader whole.
func TestScriptInput(t *testing.T) {
	for _, script := range []string{
		"echo one",
		"echo one\n",
		"echo 'two\n\nlines'\n",
		"printf '%s\\n' '  lead and trail  ' 'back\\slash'",
		"cat <<EOF\nhere $((1+1))\nEOF",
		"echo no newline at end; exit 3",
		"",
	} {
		var out bytes.Buffer
		res, err := Local{}.Exec(context.Background(), Host{Local: true}, Command{Script: script, Stream: &out})
		if err != nil {
			t.Fatal(err)
		}
		want, err := Local{}.execPlain(script)
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Stdout) != want.out || res.Exit != want.exit {
			t.Errorf("%q: got %q exit %d, /bin/sh -c gives %q exit %d", script, res.Stdout, res.Exit, want.out, want.exit)
		}
	}
}
