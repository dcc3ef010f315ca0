package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"syscall"
	"time"
)

// watchdog starts, ahead of a local command, the background shell that
// kills the command's process group when fd 3 reads end of file (hamnflow
// died), and closes fd 3 for the command itself. It is a fork of the
// shell, not a new program.
const watchdog = `{ IFS= read -r _ <&3 || kill -KILL 0; } </dev/null >/dev/null 2>&1 &
exec 3<&-
`

// Local runs commands on this machine with /bin/sh.
type Local struct{}

// Exec runs c.Script with /bin/sh -c in its own process group, so that a
// timeout or cancellation kills everything it started.
func (Local) Exec(ctx context.Context, h Host, c Command) (Result, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	asRoot := true
	if c.AsUser != "" {
		u, err := user.Current()
		if err != nil {
			return Result{Exit: -1}, fmt.Errorf("who am I: %w", err)
		}
		asRoot = u.Uid == "0"
	}
	// The script goes by stdin, not on the command line where any user of
	// this machine could read it (and the secrets in it) with ps.
	line, stdin := hidden(h.WithEnv(c.Script), c.AsUser, asRoot, c.Stdin)
	// The command dies with hamnflow, however hamnflow ends: its shell by
	// the kernel's parent-death signal, and everything else it started
	// (its process group) by a watchdog that holds the read end of a pipe
	// whose write end only this process has. The pipe reads end of file
	// when this process dies (kill -9 included); at the command's normal
	// end a line goes down it instead, and the watchdog leaves what the
	// command started in the background alone.
	alive, lifeline, err := os.Pipe()
	if err != nil {
		return Result{Exit: -1}, fmt.Errorf("run command on %s: %w", h.Label(), err)
	}
	defer lifeline.Close()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", watchdog+line)
	cmd.ExtraFiles = []*os.File{alive} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if c.Stream != nil {
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&stdout, c.Stream), io.MultiWriter(&stderr, c.Stream)
	}
	cmd.Stdin = stdin
	start := time.Now()
	err = cmd.Start()
	alive.Close()
	if err == nil {
		err = cmd.Wait()
	}
	io.WriteString(lifeline, "ended\n")
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Duration: time.Since(start), Exit: -1}
	if ctx.Err() != nil {
		return res, fmt.Errorf("command on %s stopped after %s (it may have partly run): %w", h.Label(), res.Duration.Round(time.Millisecond), ctx.Err())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		res.Exit = 0
	case errors.As(err, &ee) && ee.Exited():
		res.Exit = ee.ExitCode()
	default:
		return res, fmt.Errorf("run command on %s: %w", h.Label(), err)
	}
	return res, nil
}

// Close does nothing.
func (Local) Close() error { return nil }

// Label names the host in messages.
func (h Host) Label() string {
	if h.Local || h.Name == "" {
		return "this machine"
	}
	if h.Address != "" && h.Address != h.Name {
		return h.Name + " (" + h.Address + ")"
	}
	return h.Name
}

// Router sends commands for local hosts to Local and the rest to Remote.
type Router struct {
	Local  Transport
	Remote Transport // nil: remote hosts are refused
}

// Exec runs c on h through the matching transport.
func (r Router) Exec(ctx context.Context, h Host, c Command) (Result, error) {
	if h.Local {
		return r.Local.Exec(ctx, h, c)
	}
	if r.Remote == nil {
		return Result{Exit: -1}, fmt.Errorf("host %s is remote and no SSH transport is configured", h.Label())
	}
	return r.Remote.Exec(ctx, h, c)
}

// Close closes both transports.
func (r Router) Close() error {
	var err error
	if r.Remote != nil {
		err = r.Remote.Close()
	}
	return errors.Join(err, r.Local.Close())
}
