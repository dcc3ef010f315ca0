package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// conn is a pooled connection to one host.
type conn struct {
	target *target
	client *ssh.Client
	slots  chan struct{} // one token per open session, at most maxSessions
	done   chan struct{} // closed once the connection is gone

	closeOnce sync.Once
	mu        sync.Mutex
	err       error // why the connection is gone
}

// dial connects to t, checks its host key and logs in, within
// Config.ConnectTimeout and ctx.
func (p *Pool) dial(ctx context.Context, t *target) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, p.cfg.ConnectTimeout)
	defer cancel()
	timedOut := func() error {
		if ctx.Err() != nil {
			return fmt.Errorf("dial %s: %w", t, ctx.Err())
		}
		return fmt.Errorf("dial %s: no answer within %v: is the host up, the address right in the inventory, "+
			"and port %d open in its firewall?", t, p.cfg.ConnectTimeout, t.port)
	}

	check, algos, err := p.hostKeyCheck(t)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", t, err)
	}
	var hostKeyErr error
	signers, agentDone := p.signers(dctx, t)
	defer agentDone()
	if len(signers) == 0 {
		return nil, fmt.Errorf("dial %s: no usable ssh key (tried ssh-agent and %s): "+
			"set identity files in the inventory or ~/.ssh/config, or load a key into ssh-agent",
			t, strings.Join(t.identities, ", "))
	}
	cfg := &ssh.ClientConfig{
		User: t.user,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signers...)},
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			hostKeyErr = check(hostname, remote, key)
			return hostKeyErr
		},
		HostKeyAlgorithms: algos,
	}

	p.log.Debug().Str("host", t.name).Str("addr", t.addr()).Str("user", t.user).Msg("dialing ssh")
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", t.addr())
	if err != nil {
		if dctx.Err() != nil {
			return nil, timedOut()
		}
		return nil, dialErr(t, err)
	}
	// The handshake takes no context: abort its reads and writes instead.
	stop := context.AfterFunc(dctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	sc, chans, reqs, err := ssh.NewClientConn(nc, t.addr(), cfg)
	if !stop() {
		nc.Close()
		return nil, timedOut()
	}
	switch {
	case err == nil:
	case hostKeyErr != nil:
		nc.Close()
		return nil, hostKeyErr
	case strings.Contains(err.Error(), "unable to authenticate"):
		nc.Close()
		return nil, fmt.Errorf("log in to %s as %s: %w: is one of these keys (ssh-agent, %s) in %s's authorized_keys there?",
			t, t.user, err, strings.Join(t.identities, ", "), t.user)
	default:
		nc.Close()
		return nil, fmt.Errorf("ssh handshake with %s: %w: does sshd there accept this host (AllowUsers, MaxStartups, firewall)?", t, err)
	}
	nc.SetDeadline(time.Time{})

	c := &conn{
		target: t,
		client: ssh.NewClient(sc, chans, reqs),
		slots:  make(chan struct{}, maxSessions),
		done:   make(chan struct{}),
	}
	go c.wait()
	go c.keepalive(p.cfg.KeepAlive)
	p.log.Debug().Str("host", t.name).Str("addr", t.addr()).Str("user", t.user).Msg("ssh connected")
	return c, nil
}

// dialErr explains a failed TCP dial to t.
func dialErr(t *target, err error) error {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("dial %s: connection refused: is sshd running there, is the address right in the inventory?", t)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("dial %s: %w: is the address right in the inventory or ~/.ssh/config?", t, err)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return fmt.Errorf("dial %s: %w: is the host up, and the network path to it (routes, VLANs) there?", t, err)
	}
	return fmt.Errorf("dial %s: %w: is the host up, is the address right in the inventory?", t, err)
}

// wait records why the connection ended, then closes c.done.
func (c *conn) wait() {
	err := c.client.Wait()
	c.mu.Lock()
	if c.err == nil {
		if err == nil || errors.Is(err, io.EOF) {
			err = errors.New("closed by the host (did it reboot, or sshd restart?)")
		}
		c.err = err
	}
	c.mu.Unlock()
	close(c.done)
}

// keepalive sends keepalive@openssh.com requests every interval and closes
// the connection when one is not answered within two intervals.
func (c *conn) keepalive(interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		timer := time.NewTimer(2 * interval)
		select {
		case <-c.done:
		case err := <-reply:
			if err != nil {
				c.close(fmt.Errorf("keepalive failed: %w", err))
			}
		case <-timer.C:
			c.close(fmt.Errorf("no answer to keepalive within %v (host hung, or network cut?)", 2*interval))
		}
		timer.Stop()
	}
}

// probe checks that the host still answers on the connection within d;
// when it does not, the connection is closed and the reason returned.
func (c *conn) probe(d time.Duration) error {
	reply := make(chan error, 1)
	go func() {
		_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
		reply <- err
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.done:
		return fmt.Errorf("connection lost: %v", c.reason())
	case err := <-reply:
		if err != nil {
			c.close(fmt.Errorf("connection lost: %w", err))
			return fmt.Errorf("connection lost: %w", err)
		}
		return nil
	case <-t.C:
		err := fmt.Errorf("connection lost: no answer within %v (host down, or network cut?)", d)
		c.close(err)
		return err
	}
}

// close closes the connection, giving reason as why it is gone.
func (c *conn) close(reason error) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		if c.err == nil {
			c.err = reason
		}
		c.mu.Unlock()
		c.client.Close()
	})
}

// lost returns why the connection is gone if it is, or goes within grace;
// else nil.
func (c *conn) lost(grace time.Duration) error {
	select {
	case <-c.done:
		return c.reason()
	default:
	}
	if grace <= 0 {
		return nil
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
		return c.reason()
	case <-t.C:
		return nil
	}
}

// reason returns why the connection is gone, once c.done is closed.
func (c *conn) reason() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// newSession opens a session once fewer than maxSessions are open. On
// success the caller must call release after closing the session.
func (c *conn) newSession(ctx context.Context) (*ssh.Session, error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		return nil, c.reason()
	}
	s, err := c.openSession(ctx)
	if err != nil {
		c.release()
	}
	return s, err
}

// openSession opens a session, giving up when ctx ends.
func (c *conn) openSession(ctx context.Context) (*ssh.Session, error) {
	type result struct {
		s   *ssh.Session
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := c.client.NewSession()
		ch <- result{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-ctx.Done():
		go func() { // close the session we no longer wait for
			if r := <-ch; r.err == nil {
				r.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// release frees the session slot taken by newSession.
func (c *conn) release() { <-c.slots }
