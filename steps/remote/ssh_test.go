package remote

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh"
)

// newPool returns a Pool for s that ignores ~/.ssh and the ssh-agent, after
// applying mod to its Config.
func newPool(t testing.TB, s *testSSHD, mod func(*SSHConfig)) *Pool {
	t.Helper()
	t.Setenv("SSH_AUTH_SOCK", "")
	cfg := SSHConfig{KnownHostsFile: s.KnownHosts, SSHConfigFile: "none", Logger: zerolog.New(zerolog.NewTestWriter(t))}
	if mod != nil {
		mod(&cfg)
	}
	p := NewPool(cfg)
	t.Cleanup(func() { p.Close() })
	return p
}

func exec1(t *testing.T, p *Pool, h Host, c Command) Result {
	t.Helper()
	res, err := p.Exec(context.Background(), h, c)
	if err != nil {
		t.Fatalf("Exec(%q): %v", c.Script, err)
	}
	return res
}

func TestExec(t *testing.T) {
	s := startSSHD(t)
	p := newPool(t, s, nil)
	h := s.Host("mn1")

	var stream syncBuffer
	res := exec1(t, p, h, Command{Script: "echo out; echo err >&2; exit 3", Stream: &stream})
	if string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" || res.Exit != 3 {
		t.Errorf("got stdout %q stderr %q exit %d, want out, err, 3", res.Stdout, res.Stderr, res.Exit)
	}
	if got := stream.String(); !strings.Contains(got, "out\n") || !strings.Contains(got, "err\n") {
		t.Errorf("stream got %q, want both out and err", got)
	}
	if res.Duration <= 0 {
		t.Errorf("Duration %v", res.Duration)
	}

	res = exec1(t, p, h, Command{Script: "tr a-z A-Z", Stdin: strings.NewReader("hello\n")})
	if string(res.Stdout) != "HELLO\n" || res.Exit != 0 {
		t.Errorf("stdin: got %q exit %d", res.Stdout, res.Exit)
	}

	// A command that does not read its stdin does not wait for it.
	pr, pw := io.Pipe()
	defer pw.Close()
	res = exec1(t, p, h, Command{Script: "echo done", Stdin: pr, Timeout: 5 * time.Second})
	if string(res.Stdout) != "done\n" {
		t.Errorf("unread stdin: got %q", res.Stdout)
	}

	// Killed by a signal: ran, so a Result and no error.
	res = exec1(t, p, h, Command{Script: "kill -9 $$"})
	if res.Exit != 128+9 {
		t.Errorf("killed by signal: exit %d, want 137", res.Exit)
	}
}

func TestSSHAsUser(t *testing.T) {
	s := startSSHD(t)
	p := newPool(t, s, nil)
	user := loginUser(t)
	res := exec1(t, p, s.Host("mn1"), Command{Script: "id -un; echo \"it's $HOME\"", AsUser: user})
	lines := strings.Split(string(res.Stdout), "\n")
	if res.Exit != 0 || lines[0] != user || !strings.HasPrefix(lines[1], "it's /") {
		t.Errorf("as %s: got %q %q exit %d", user, res.Stdout, res.Stderr, res.Exit)
	}
}

// loginUser returns a user other than root that has a login shell, adding
// one for the test if there is none.
func loginUser(t *testing.T) string {
	t.Helper()
	shells, _ := os.ReadFile("/etc/shells")
	f, err := os.Open("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Split(sc.Text(), ":")
		if len(fs) == 7 && fs[2] != "0" && fs[6] != "" && slices.Contains(strings.Fields(string(shells)), fs[6]) {
			return fs[0]
		}
	}
	const name = "hamnflowtest"
	if out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", "-r", name).Run() })
	return name
}

func TestUnknownHostKey(t *testing.T) {
	s := startSSHD(t)
	p := newPool(t, s, func(c *SSHConfig) { c.KnownHostsFile = filepath.Join(t.TempDir(), "known_hosts") })
	_, err := p.Exec(context.Background(), s.Host("mn9"), Command{Script: "true"})
	var unknown *UnknownHostKeyError
	if !errors.As(err, &unknown) {
		t.Fatalf("got %v, want an UnknownHostKeyError", err)
	}
	msg := err.Error()
	want := []string{"mn9", fmt.Sprintf("127.0.0.1:%d", s.Port), unknown.Key.Type(), ssh.FingerprintSHA256(unknown.Key),
		"--accept-new-host-keys", "ssh-keyscan"}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("message lacks %q: %s", w, msg)
		}
	}
	if k := s.HostKeys[unknown.Key.Type()]; k == nil || ssh.FingerprintSHA256(k) != ssh.FingerprintSHA256(unknown.Key) {
		t.Errorf("presented key %s is not the host's", ssh.FingerprintSHA256(unknown.Key))
	}
	if _, err := os.Stat(p.cfg.KnownHostsFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("known_hosts written without AcceptNew: %v", err)
	}
}

func TestChangedHostKey(t *testing.T) {
	s := startSSHD(t)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ssh.NewPublicKey(pub)
	known := filepath.Join(t.TempDir(), "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%d %s", s.Port, ssh.MarshalAuthorizedKey(other))
	writeFile(t, known, line)

	for _, accept := range []bool{false, true} {
		p := newPool(t, s, func(c *SSHConfig) { c.KnownHostsFile, c.AcceptNew = known, accept })
		_, err := p.Exec(context.Background(), s.Host("mn1"), Command{Script: "true"})
		var changed *ChangedHostKeyError
		if !errors.As(err, &changed) {
			t.Fatalf("AcceptNew %v: got %v, want a ChangedHostKeyError", accept, err)
		}
		msg := err.Error()
		want := []string{"mn1", ssh.FingerprintSHA256(s.HostKeys[ssh.KeyAlgoED25519]), ssh.FingerprintSHA256(other),
			known + ":1", "possible man-in-the-middle, or the host was reinstalled"}
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("AcceptNew %v: message lacks %q: %s", accept, w, msg)
			}
		}
	}
	if b, _ := os.ReadFile(known); string(b) != line {
		t.Errorf("known_hosts changed to %q", b)
	}
}

// TestKnownKeyType checks that the host is asked for the key type known for
// it, not the one x/crypto prefers (ECDSA over ed25519).
func TestKnownKeyType(t *testing.T) {
	s := startSSHD(t)
	for typ, k := range s.HostKeys {
		known := filepath.Join(t.TempDir(), "known_hosts")
		writeFile(t, known, fmt.Sprintf("[127.0.0.1]:%d %s", s.Port, ssh.MarshalAuthorizedKey(k)))
		p := newPool(t, s, func(c *SSHConfig) { c.KnownHostsFile = known })
		if _, err := p.Exec(context.Background(), s.Host("mn1"), Command{Script: "true"}); err != nil {
			t.Errorf("only %s known: %v", typ, err)
		}
	}
}

func TestAcceptNew(t *testing.T) {
	s := startSSHD(t)
	known := filepath.Join(t.TempDir(), "ssh", "known_hosts")
	p := newPool(t, s, func(c *SSHConfig) { c.KnownHostsFile, c.AcceptNew = known, true })
	exec1(t, p, s.Host("mn1"), Command{Script: "true"})
	b, err := os.ReadFile(known)
	if err != nil {
		t.Fatal(err)
	}
	marker, hosts, key, _, _, err := ssh.ParseKnownHosts(b)
	if err != nil || marker != "" || !slices.Equal(hosts, []string{fmt.Sprintf("[127.0.0.1]:%d", s.Port)}) ||
		s.HostKeys[key.Type()] == nil || !bytes.Equal(s.HostKeys[key.Type()].Marshal(), key.Marshal()) ||
		strings.Count(string(b), "\n") != 1 {
		t.Errorf("known_hosts is %q (%v), want one line with the host's key", b, err)
	}

	p2 := newPool(t, s, func(c *SSHConfig) { c.KnownHostsFile = known })
	exec1(t, p2, s.Host("mn1"), Command{Script: "true"})
}

func TestOneConnection(t *testing.T) {
	s := startSSHD(t)
	p := newPool(t, s, nil)
	for i := range 50 {
		res := exec1(t, p, s.Host("mn1"), Command{Script: "echo " + strconv.Itoa(i)})
		if got := strings.TrimSpace(string(res.Stdout)); got != strconv.Itoa(i) {
			t.Fatalf("command %d printed %q", i, got)
		}
	}
	if n := s.Logins(); n != 1 {
		t.Errorf("%d logins for 50 commands, want 1", n)
	}
}

func TestConcurrent(t *testing.T) {
	s := startSSHD(t)
	p := newPool(t, s, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			res, err := p.Exec(context.Background(), s.Host("mn1"), Command{Script: fmt.Sprintf("sleep 0.2; echo %d", i)})
			if err == nil && strings.TrimSpace(string(res.Stdout)) != strconv.Itoa(i) {
				err = fmt.Errorf("command %d printed %q (stderr %q)", i, res.Stdout, res.Stderr)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := s.Logins(); n != 1 {
		t.Errorf("%d logins for 16 concurrent commands, want 1", n)
	}
}

func TestTimeout(t *testing.T) {
	s := startSSHD(t)
	p := newPool(t, s, nil)
	// A directory every user may write to, for the AsUser case.
	dir, err := os.MkdirTemp("", "hamnflow-sshx")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)

	for _, as := range []string{"", loginUser(t)} {
		t.Run("as="+as, func(t *testing.T) {
			pidFile := filepath.Join(dir, "pid"+as)
			start := time.Now()
			res, err := p.Exec(context.Background(), s.Host("mn1"), Command{
				Script:  fmt.Sprintf("echo before; echo $$ > %s; exec sleep 30", pidFile),
				AsUser:  as,
				Timeout: 500 * time.Millisecond,
			})
			if err == nil || !strings.Contains(err.Error(), "timed out after 500ms and was killed") || !strings.Contains(err.Error(), "may have partly run") {
				t.Fatalf("got %v, want a timeout error", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Exec returned after %v", d)
			}
			if string(res.Stdout) != "before\n" {
				t.Errorf("stdout %q, want the output before the timeout", res.Stdout)
			}
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatal(err)
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			if alive(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("command (pid %d) still runs after the timeout: %s", pid, s.Log())
			}
		})
	}

	// The connection survives timed-out commands.
	exec1(t, p, s.Host("mn1"), Command{Script: "true"})
	if n := s.Logins(); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
}

// alive reports whether pid runs (and is no zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// startedWriter signals started at the first write.
type startedWriter struct {
	once    sync.Once
	started chan struct{}
}

func (w *startedWriter) Write(b []byte) (int, error) {
	w.once.Do(func() { close(w.started) })
	return len(b), nil
}

// runUntilStarted runs script on h in the background and returns once it
// printed something, with a channel that gets Exec's error.
func runUntilStarted(t *testing.T, p *Pool, h Host, script string) <-chan error {
	t.Helper()
	w := &startedWriter{started: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		_, err := p.Exec(context.Background(), h, Command{Script: script, Stream: w})
		errc <- err
	}()
	select {
	case <-w.started:
	case err := <-errc:
		t.Fatalf("command ended early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("command did not start")
	}
	return errc
}

func TestLostConnection(t *testing.T) {
	s := startSSHD(t)
	p := newPool(t, s, nil)
	h := s.Host("mn1")
	errc := runUntilStarted(t, p, h, "echo started; sleep 30")

	pids := s.SessionPIDs()
	if len(pids) == 0 {
		t.Fatal("no sshd session processes")
	}
	// The command outlives its connection: kill it when done.
	for _, pid := range descendants(s.PID) {
		t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	}
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	select {
	case err := <-errc:
		want := fmt.Sprintf("connection to mn1 (127.0.0.1:%d) lost during command", s.Port)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("got %v, want %q", err, want)
		}
		t.Log(err)
	case <-time.After(10 * time.Second):
		t.Fatal("Exec did not notice the lost connection")
	}

	exec1(t, p, h, Command{Script: "true"})
	if n := s.Logins(); n != 2 {
		t.Errorf("%d logins, want 2 (the redial)", n)
	}
}

func TestKeepAlive(t *testing.T) {
	s := startSSHD(t)
	p := newPool(t, s, func(c *SSHConfig) { c.KeepAlive = 100 * time.Millisecond })
	errc := runUntilStarted(t, p, s.Host("mn1"), "echo started; sleep 30")

	// A hung host: its sshd answers nothing, the TCP connection stays up.
	for _, pid := range s.SessionPIDs() {
		syscall.Kill(pid, syscall.SIGSTOP)
	}
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "lost during command") || !strings.Contains(err.Error(), "keepalive") {
			t.Fatalf("got %v, want a lost connection for want of keepalive answers", err)
		}
		t.Log(err)
	case <-time.After(5 * time.Second):
		t.Fatal("Exec did not notice the hung connection")
	}
}

func TestSSHConfig(t *testing.T) {
	s := startSSHD(t)
	conf := filepath.Join(t.TempDir(), "config")
	writeFile(t, conf, fmt.Sprintf("Host cfghost\n  HostName 127.0.0.1\n  Port %d\n  User nosuchuser\n  IdentityFile %s\n\nHost *\n  Port 1\n",
		s.Port, s.ClientKey))
	p := newPool(t, s, func(c *SSHConfig) { c.SSHConfigFile = conf })

	// HostName, Port and IdentityFile from the config; User from the inventory.
	res := exec1(t, p, Host{Name: "cfghost", User: "root"}, Command{Script: "id -un"})
	if got := strings.TrimSpace(string(res.Stdout)); got != "root" {
		t.Errorf("inventory User: logged in as %q, want root", got)
	}
	// User from the config.
	_, err := p.Exec(context.Background(), Host{Name: "cfghost"}, Command{Script: "id -un"})
	want := fmt.Sprintf("log in to cfghost (127.0.0.1:%d) as nosuchuser", s.Port)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want %q", err, want)
	}
	// The inventory's address and port win over the config's.
	h := s.Host("cfghost")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	h.Port = l.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = p.Exec(ctx, h, Command{Script: "true"})
	if want := fmt.Sprintf("cfghost (127.0.0.1:%d)", h.Port); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want an error about %s", err, want)
	}
}

func TestDialRefused(t *testing.T) {
	s := startSSHD(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := s.Host("mn2")
	h.Port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	p := newPool(t, s, nil)
	_, err = p.Exec(context.Background(), h, Command{Script: "true"})
	want := fmt.Sprintf("dial mn2 (127.0.0.1:%d): connection refused: is sshd running there", h.Port)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestPassphraseKeySkipped(t *testing.T) {
	s := startSSHD(t)
	locked := filepath.Join(t.TempDir(), "id_locked")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", locked).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	var log syncBuffer
	p := newPool(t, s, func(c *SSHConfig) { c.Logger = zerolog.New(&log).Level(zerolog.DebugLevel) })
	h := s.Host("mn1")
	h.IdentityFiles = []string{locked, s.ClientKey}
	exec1(t, p, h, Command{Script: "true"})
	if !strings.Contains(log.String(), "passphrase") || !strings.Contains(log.String(), locked) {
		t.Errorf("no debug line about the skipped key: %s", log.String())
	}
}

func TestCanceled(t *testing.T) {
	s := startSSHD(t)
	p := newPool(t, s, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	_, err := p.Exec(ctx, s.Host("mn1"), Command{Script: "sleep 30"})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "may have partly run") {
		t.Errorf("got %v, want a cancellation error", err)
	}
}

func TestConnectTimeout(t *testing.T) {
	s := startSSHD(t)
	// A host that accepts connections and never says a word.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	h := s.Host("mn3")
	h.Port = l.Addr().(*net.TCPAddr).Port
	p := newPool(t, s, func(c *SSHConfig) { c.ConnectTimeout = 300 * time.Millisecond })
	start := time.Now()
	_, err = p.Exec(context.Background(), h, Command{Script: "true"})
	want := fmt.Sprintf("dial mn3 (127.0.0.1:%d): no answer within 300ms", h.Port)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want %q", err, want)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gave up after %v", d)
	}
}

// TestAgent logs in with a key that only a real ssh-agent holds: no
// identity file in the inventory.
func TestAgent(t *testing.T) {
	s := startSSHD(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "agent.sock")
	agentCmd := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agentCmd.Start(); err != nil {
		t.Fatalf("ssh-agent: %v", err)
	}
	t.Cleanup(func() { agentCmd.Process.Kill(); agentCmd.Wait() })
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i > 100 {
			t.Fatal("ssh-agent did not create its socket")
		}
		time.Sleep(20 * time.Millisecond)
	}
	add := exec.Command("ssh-add", s.ClientKey)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	p := newPool(t, s, nil) // clears SSH_AUTH_SOCK
	t.Setenv("SSH_AUTH_SOCK", sock)
	h := s.Host("mn1")
	h.IdentityFiles = nil
	res := exec1(t, p, h, Command{Script: "echo via-agent"})
	if got := strings.TrimSpace(string(res.Stdout)); got != "via-agent" {
		t.Errorf("got %q", got)
	}

	// Without the agent and without key files, the error says what to do.
	home, _ := os.UserHomeDir()
	if m, _ := filepath.Glob(filepath.Join(home, ".ssh", "id_*")); len(m) > 0 {
		return // this machine's own keys would be tried
	}
	t.Setenv("SSH_AUTH_SOCK", "")
	p2 := newPool(t, s, nil)
	_, err := p2.Exec(context.Background(), h, Command{Script: "true"})
	if err == nil || !strings.Contains(err.Error(), "load a key into ssh-agent") {
		t.Errorf("no key at all: %v", err)
	}
}
