package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// killWait bounds how long killing a command may take.
const killWait = 5 * time.Second

// probeWait bounds the liveness check made before killing a command.
const probeWait = time.Second

// killScript stops and kills process $1 and all its descendants, children
// first. It finds children with pgrep; without it, it kills $1 only.
const killScript = `k() { kill -STOP "$1" 2>/dev/null; for c in $(pgrep -P "$1" 2>/dev/null); do k "$c"; done; kill -KILL "$1" 2>/dev/null; }; k "$1"`

// kill stops the command running in sess, whose output is out, and waits
// for the session to end. done gets the session's end.
//
// sshd honours the SIGKILL "signal" request only for sessions of non-root
// users (root logins have no privilege separation after login), so kill also
// kills the command's process tree from a second session, once the wrapper
// told its process id.
func (c *conn) kill(sess *ssh.Session, out *output, done <-chan error) error {
	// A command usually overruns because the host or the link died: find
	// out quickly rather than spend killWait on a dead connection.
	if err := c.probe(probeWait); err != nil {
		sess.Close()
		return err
	}
	_ = sess.Signal(ssh.SIGKILL)
	timer := time.NewTimer(killWait)
	defer timer.Stop()
	var err error
	select {
	case <-out.found:
		if pid := out.pid(); pid > 0 {
			err = c.killTree(pid)
		} else {
			err = errors.New("its process id on the host is unknown")
		}
	case <-done:
	case <-timer.C:
		err = fmt.Errorf("its process id on the host did not arrive within %v", killWait)
	}
	select {
	case <-done:
		if lost := c.lost(0); lost != nil {
			return fmt.Errorf("connection lost: %v", lost)
		}
		return nil
	case <-timer.C:
	}
	sess.Close()
	if err == nil {
		err = fmt.Errorf("it did not end within %v", killWait)
	}
	return err
}

// killTree kills process pid and its descendants on the host.
func (c *conn) killTree(pid int) error {
	ctx, cancel := context.WithTimeout(context.Background(), killWait)
	defer cancel()
	s, err := c.openSession(ctx) // not counted in slots: it must not wait
	if err != nil {
		return fmt.Errorf("open session to kill it: %w", err)
	}
	defer s.Close()
	done := make(chan error, 1)
	go func() {
		out, err := s.CombinedOutput(shCommand(killScript, "hamnflow-kill", strconv.Itoa(pid)))
		if err != nil {
			err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
		}
		done <- err
	}()
	select {
	case err = <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("kill: %w", ctx.Err())
	}
}

// shCommand returns the command line that makes the login shell, whatever
// it is, run script with /bin/sh -c and args.
func shCommand(script string, args ...string) string {
	cmd := "exec /bin/sh -c " + ShellQuote(script)
	for _, a := range args {
		cmd += " " + ShellQuote(a)
	}
	return cmd
}

// output collects a command's stdout and stderr, copies both to stream as
// they arrive, and takes the command's process id from the first line of
// stderr that starts with marker (see wrap).
type output struct {
	mu             sync.Mutex
	stdout, stderr bytes.Buffer
	stream         io.Writer
	marker         string        // "": pid found, or given up on
	found          chan struct{} // closed when marker becomes ""
	pending        []byte        // stderr held back while looking for the marker
	pidOnHost      int
}

func newOutput(stream io.Writer) *output {
	return &output{stream: stream, marker: "hamnflow-pid-" + rand.Text() + " ", found: make(chan struct{})}
}

// stopLooking records that the marker was found, or will not be. It must be
// called with o.mu held.
func (o *output) stopLooking() {
	if o.marker != "" {
		o.marker = ""
		close(o.found)
	}
}

// wrap returns the command line that runs script with /bin/sh -c after
// printing marker and the shell's process id to stderr.
func (o *output) wrap(script string) string {
	return shCommand("printf '" + o.marker + "%d\\n' $$ >&2\n" + script)
}

// pid returns the command's process id on the host, or 0 if not yet known.
func (o *output) pid() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pidOnHost
}

func (o *output) writeStdout(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.emit(&o.stdout, b)
	return len(b), nil
}

func (o *output) writeStderr(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.marker == "" {
		o.emit(&o.stderr, b)
		return len(b), nil
	}
	o.pending = append(o.pending, b...)
	for o.marker != "" {
		i := bytes.IndexByte(o.pending, '\n')
		if i < 0 {
			if len(o.pending) > 4096 {
				o.stopLooking() // noise from the login shell, and no marker
			}
			break
		}
		line := o.pending[:i+1]
		o.pending = o.pending[i+1:]
		if rest, ok := bytes.CutPrefix(line, []byte(o.marker)); ok {
			o.pidOnHost, _ = strconv.Atoi(string(bytes.TrimSpace(rest)))
			o.stopLooking()
		} else {
			o.emit(&o.stderr, line)
		}
	}
	if o.marker == "" && len(o.pending) > 0 {
		o.emit(&o.stderr, o.pending)
		o.pending = nil
	}
	return len(b), nil
}

// emit appends b to buf and copies it to the stream. It must be called with
// o.mu held.
func (o *output) emit(buf *bytes.Buffer, b []byte) {
	if o.stream != nil {
		o.stream.Write(b) // a failing stream must not fail the command
	}
	buf.Write(b)
}

// detach returns copies of what was collected and stops writing to stream.
func (o *output) detach() (stdout, stderr []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.pending) > 0 {
		o.emit(&o.stderr, o.pending)
		o.pending = nil
	}
	o.stopLooking()
	o.stream = nil
	return bytes.Clone(o.stdout.Bytes()), bytes.Clone(o.stderr.Bytes())
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
