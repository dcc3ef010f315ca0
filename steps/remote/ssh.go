package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kevinburke/ssh_config"
	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh"
)

// Config configures a Pool. The zero value is usable.
type SSHConfig struct {
	KnownHostsFile string        // default ~/.ssh/known_hosts
	AcceptNew      bool          // record unknown host keys (like StrictHostKeyChecking=accept-new); default: refuse
	SSHConfigFile  string        // default ~/.ssh/config; "none" disables
	ConnectTimeout time.Duration // dial and handshake; default 10s
	// KeepAlive is the interval of keepalive@openssh.com requests, default
	// 5s. A request not answered within twice the interval closes the
	// connection, so that the command running on it fails.
	KeepAlive time.Duration
	Logger    zerolog.Logger
}

// maxSessions bounds the sessions a Pool opens at once on one connection,
// below OpenSSH's default MaxSessions of 10; further commands wait.
const maxSessions = 8

var (
	errPoolClosed     = errors.New("ssh: pool closed")
	errCommandTimeout = errors.New("command timeout")
)

// Pool runs commands on hosts over SSH. It keeps one connection per host
// and opens a new session for each command, checks host keys against
// known_hosts the way OpenSSH does, and resolves hosts through
// ~/.ssh/config. It implements Transport and is safe for concurrent use.
type Pool struct {
	cfg     SSHConfig
	log     zerolog.Logger
	sshConf *ssh_config.UserSettings // nil: no ssh_config
	confErr error                    // why ssh_config could not be used

	knownMu sync.Mutex // serializes writes to cfg.KnownHostsFile

	mu     sync.Mutex
	conns  map[string]*slot // by user@addr:port
	closed bool
}

// slot holds a pooled connection, or the dial in progress that will fill it.
type slot struct {
	ready chan struct{} // closed when the dial finished
	c     *conn
	err   error
}

var _ Transport = (*Pool)(nil)

// New returns a Pool configured by cfg, with defaults filled in.
func NewPool(cfg SSHConfig) *Pool {
	home, _ := os.UserHomeDir()
	if cfg.KnownHostsFile == "" {
		cfg.KnownHostsFile = filepath.Join(home, ".ssh", "known_hosts")
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 5 * time.Second
	}
	p := &Pool{cfg: cfg, log: cfg.Logger, conns: make(map[string]*slot)}

	switch file := cfg.SSHConfigFile; file {
	case "none":
	case "":
		file = filepath.Join(home, ".ssh", "config")
		if _, err := os.Stat(file); err != nil {
			break // no ~/.ssh/config is fine, as for ssh
		}
		fallthrough
	default:
		if _, err := os.Stat(file); err != nil {
			p.confErr = fmt.Errorf("ssh config: %w", err)
			break
		}
		p.sshConf = &ssh_config.UserSettings{}
		p.sshConf.ConfigFinder(func() string { return file })
	}
	return p
}

// Exec runs c on h. It returns an error only when the command could not be
// run or its exit status could not be read; see Transport.
func (p *Pool) Exec(ctx context.Context, h Host, c Command) (Result, error) {
	start := time.Now()
	res := Result{Exit: -1}
	t, err := p.resolve(h)
	if err != nil {
		return res, err
	}
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, c.Timeout, errCommandTimeout)
		defer cancel()
	}

	cn, sess, err := p.session(ctx, t)
	if err != nil {
		return res, err
	}
	defer cn.release()
	defer sess.Close()

	out := newOutput(c.Stream)
	sess.Stdout = writerFunc(out.writeStdout)
	sess.Stderr = writerFunc(out.writeStderr)
	// The script goes by stdin, never on the remote command line, where
	// any user of the host could read it (and the secrets in it) with ps.
	// Copied here, not by the session, so that a command that ends
	// without reading all of its stdin does not wait for it.
	line, input := hidden(h.WithEnv(c.Script), c.AsUser, t.user == "root", c.Stdin)
	stdin, err := sess.StdinPipe()
	if err != nil {
		return res, fmt.Errorf("command on %s: %w", t, err)
	}
	script := out.wrap(line)

	done := make(chan error, 1)
	go func() {
		if err := sess.Start(script); err != nil {
			done <- fmt.Errorf("start: %w", err)
			return
		}
		go func() {
			io.Copy(stdin, input)
			stdin.Close()
		}()
		done <- sess.Wait()
	}()

	select {
	case err = <-done:
	case <-ctx.Done():
		killErr := cn.kill(sess, out, done)
		res.Stdout, res.Stderr = out.detach()
		res.Duration = time.Since(start)
		return res, ctxErr(ctx, t, c, killErr)
	}
	res.Stdout, res.Stderr = out.detach()
	res.Duration = time.Since(start)

	var exitErr *ssh.ExitError
	switch {
	case err == nil:
		res.Exit = 0
		return res, nil
	case errors.As(err, &exitErr):
		res.Exit = exitErr.ExitStatus()
		return res, nil
	}
	if lost := cn.lost(time.Second); lost != nil {
		return res, fmt.Errorf("connection to %s lost during command: %v: it may have partly run; check the host before retrying", t, lost)
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) {
		return res, fmt.Errorf("command on %s ended without an exit status: it may have partly run; check the host", t)
	}
	return res, fmt.Errorf("command on %s: %w", t, err)
}

// ctxErr words the error of a command stopped by its timeout or ctx;
// killErr says why it could not be killed.
func ctxErr(ctx context.Context, t *target, c Command, killErr error) error {
	what := "was canceled"
	switch {
	case errors.Is(context.Cause(ctx), errCommandTimeout):
		what = fmt.Sprintf("timed out after %v", c.Timeout)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		what = "ran past its deadline"
	}
	if killErr != nil {
		return fmt.Errorf("command on %s %s; killing it failed (%v): it may have partly run and may still be running; check the host: %w",
			t, what, killErr, ctx.Err())
	}
	return fmt.Errorf("command on %s %s and was killed: it may have partly run; check the host: %w", t, what, ctx.Err())
}

// session opens a session on the pooled connection to t, dialing when
// needed. A pooled connection that turns out dead before the session opens
// is dropped and dialed again: nothing ran on it yet.
func (p *Pool) session(ctx context.Context, t *target) (*conn, *ssh.Session, error) {
	for attempt := 0; ; attempt++ {
		cn, fresh, err := p.get(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		sess, err := cn.newSession(ctx)
		if err == nil {
			return cn, sess, nil
		}
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("open session on %s: %w (the command did not start)", t, ctx.Err())
		}
		if lost := cn.lost(time.Second); lost != nil && !fresh && attempt == 0 {
			p.log.Debug().Str("host", t.name).Err(lost).Msg("pooled ssh connection is gone, dialing again")
			continue
		}
		return nil, nil, fmt.Errorf("open session on %s: %w: is the host overloaded, or MaxSessions in its sshd_config too low?", t, err)
	}
}

// get returns the pooled connection to t, dialing it if there is none. Only
// one dial per host runs at a time; concurrent callers share its result.
// fresh reports whether this call dialed.
func (p *Pool) get(ctx context.Context, t *target) (c *conn, fresh bool, err error) {
	key := t.key()
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, false, errPoolClosed
		}
		s := p.conns[key]
		if s == nil {
			s = &slot{ready: make(chan struct{})}
			p.conns[key] = s
			p.mu.Unlock()

			c, err := p.dial(ctx, t)
			p.mu.Lock()
			s.c, s.err = c, err
			if err != nil {
				delete(p.conns, key)
			}
			closed := p.closed
			close(s.ready)
			p.mu.Unlock()
			if err != nil {
				return nil, true, err
			}
			if closed {
				c.close(errPoolClosed)
				return nil, true, errPoolClosed
			}
			go p.watch(key, s)
			return c, true, nil
		}
		p.mu.Unlock()

		select {
		case <-s.ready:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		if s.err != nil {
			// The dialing caller gave up: its context is not ours.
			if ctx.Err() == nil && (errors.Is(s.err, context.Canceled) || errors.Is(s.err, context.DeadlineExceeded)) {
				continue
			}
			return nil, false, s.err
		}
		select {
		case <-s.c.done:
			p.drop(key, s)
			continue
		default:
			return s.c, false, nil
		}
	}
}

// watch drops the connection in s from the pool once it is gone.
func (p *Pool) watch(key string, s *slot) {
	<-s.c.done
	p.log.Debug().Str("host", s.c.target.name).Err(s.c.reason()).Msg("ssh connection closed")
	p.drop(key, s)
}

// drop removes s from the pool, if it is still there.
func (p *Pool) drop(key string, s *slot) {
	p.mu.Lock()
	if p.conns[key] == s {
		delete(p.conns, key)
	}
	p.mu.Unlock()
}

// Close closes all connections. Commands running on them fail.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	var cs []*conn
	for key, s := range p.conns {
		select {
		case <-s.ready:
			if s.c != nil {
				cs = append(cs, s.c)
			}
		default: // get closes it when the dial finishes
		}
		delete(p.conns, key)
	}
	p.mu.Unlock()
	for _, c := range cs {
		c.close(errPoolClosed)
	}
	return nil
}
