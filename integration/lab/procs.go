package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hamnflow/hamnflow/steps/remote"
)

// startTimeout bounds how long a host's init or sshd may take to be ready.
const startTimeout = 15 * time.Second

// guestEnv is the environment of processes the lab starts inside hosts.
func guestEnv() []string {
	return []string{"PATH=" + GuestPath, "HOME=/root", "USER=root", "LOGNAME=root", "SHELL=/bin/sh", "LANG=C.UTF-8", "TERM=dumb"}
}

// track reaps cmd in the background; Down waits for it after killing.
func (l *Lab) track(cmd *exec.Cmd) {
	done := make(chan struct{})
	l.mu.Lock()
	if l.children == nil {
		l.children = map[int]chan struct{}{}
	}
	l.children[cmd.Process.Pid] = done
	l.mu.Unlock()
	go func() {
		_ = cmd.Wait() // killed by Down: expected
		close(done)
	}()
}

// startInits starts every MN's and SN's holder process.
func (l *Lab) startInits(ctx context.Context) error {
	var hs []*Host
	for _, h := range l.Hosts {
		if h.Root != "" {
			hs = append(hs, h)
		}
	}
	return parallel(len(hs), func(i int) error { return l.startInit(ctx, hs[i]) })
}

// initScript is run by bash as process 1 of the host's new PID namespace,
// inside its new mount and UTS namespaces: it mounts the host's view, names
// the host and then stays, keeping the namespaces alive and reaping orphans
// (daemons such as postgres end up as its children). Sources are relative
// to the host root (the working directory), so mounts that cover the lab's
// Dir (e.g. /tmp) do not hide later sources.
func initScript(h *Host) string {
	var b strings.Builder
	b.WriteString("set -e\ncd " + remote.ShellQuote(h.Root) + "\n")
	for _, m := range hostMounts {
		if m == "/etc" {
			b.WriteString("mount -n -t overlay overlay -o lowerdir=/etc,upperdir=./etc,workdir=./.etc-work /etc\n")
			continue
		}
		fmt.Fprintf(&b, "mount -n --bind ./%s %s\n", strings.TrimPrefix(m, "/"), m)
	}
	b.WriteString("cd /\nhostname " + h.Name + "\n")
	// Removing the primary address must not take the others with it.
	for _, dev := range []string{"all", "default", h.Interface} {
		fmt.Fprintf(&b, "echo 1 > /proc/sys/net/ipv4/conf/%s/promote_secondaries\n", dev)
	}
	b.WriteString("echo ready\nexec </dev/null >/dev/null 2>&1\n")
	b.WriteString("exec -a lab-init /bin/bash -c 'while :; do sleep 3600; done'\n")
	return b.String()
}

// startInit starts h's init: ip netns exec puts it in h's network
// namespace, unshare gives it new mount, UTS and PID namespaces and forks
// it as process 1 there. h.InitPid is its pid as this machine sees it.
func (l *Lab) startInit(ctx context.Context, h *Host) error {
	logPath := filepath.Join(h.Root, "var/log/lab-init.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start init of %s: %w", h.Name, err)
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start init of %s: %w", h.Name, err)
	}
	defer r.Close()
	cmd := exec.Command("ip", "netns", "exec", h.Namespace,
		"unshare", "--mount", "--uts", "--pid", "--fork", "--mount-proc", "--propagation", "private",
		"--", "/bin/bash", "-c", initScript(h))
	cmd.Env = guestEnv()
	cmd.Stdout, cmd.Stderr = w, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a terminal's Ctrl-C is for us, not for the lab
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("start init of %s in ns %s: %w", h.Name, h.Namespace, err)
	}
	l.track(cmd)

	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case s := <-line:
		if s != "ready" {
			return fmt.Errorf("start init of %s in ns %s: %s", h.Name, h.Namespace, tail(logPath))
		}
		kids := childPids(cmd.Process.Pid)
		if len(kids) != 1 {
			return fmt.Errorf("start init of %s: unshare (pid %d) has children %v, want one", h.Name, cmd.Process.Pid, kids)
		}
		l.mu.Lock()
		h.InitPid = kids[0]
		l.mu.Unlock()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("start init of %s: %w", h.Name, ctx.Err())
	case <-time.After(startTimeout):
		return fmt.Errorf("start init of %s in ns %s: not ready after %v: %s", h.Name, h.Namespace, startTimeout, tail(logPath))
	}
}

// startSSHDs starts sshd on every MN and SN.
func (l *Lab) startSSHDs(ctx context.Context) error {
	var hs []*Host
	for _, h := range l.Hosts {
		if h.Root != "" {
			hs = append(hs, h)
		}
	}
	return parallel(len(hs), func(i int) error { return l.startSSHD(ctx, hs[i].Name) })
}

// StartSSHD starts the host's sshd inside its namespaces and waits until it
// listens. Tests may use it to restart an sshd they killed.
func (l *Lab) StartSSHD(ctx context.Context, host string) error {
	if l.Systemd {
		h, err := l.host(host)
		if err != nil {
			return err
		}
		if _, err := l.Exec(ctx, host, "systemctl start ssh.service"); err != nil {
			return err
		}
		if err := l.findSSHD(ctx, h); err != nil {
			return err
		}
		return l.save()
	}
	if err := l.startSSHD(ctx, host); err != nil {
		return err
	}
	return l.save()
}

func (l *Lab) startSSHD(ctx context.Context, host string) error {
	h, err := l.host(host)
	if err != nil {
		return err
	}
	if h.InitPid == 0 {
		return fmt.Errorf("lab %s: %s runs no sshd", l.Prefix, host)
	}
	if err := l.checkInit(h); err != nil {
		return err
	}
	logPath := filepath.Join(h.Root, "var/log/sshd.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("start sshd for %s: %w", h.Name, err)
	}
	defer logf.Close()
	cmd := exec.Command("nsenter", "-t", strconv.Itoa(h.InitPid), "-p", "-n", "-m", "-u", "--",
		"/usr/sbin/sshd", "-D", "-e", "-f", "/etc/ssh/sshd_config")
	cmd.Env = guestEnv()
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start sshd for %s in ns %s: %w", h.Name, h.Namespace, err)
	}
	l.track(cmd)
	deadline := time.Now().Add(startTimeout)
	for {
		// nsenter forks sshd into the host's PID namespace and waits for it.
		if b, _ := os.ReadFile(logPath); strings.Contains(string(b), "Server listening on") {
			kids := childPids(cmd.Process.Pid)
			if len(kids) != 1 {
				return fmt.Errorf("start sshd for %s: nsenter (pid %d) has children %v, want one", h.Name, cmd.Process.Pid, kids)
			}
			l.mu.Lock()
			h.SSHDPid = kids[0]
			l.mu.Unlock()
			return nil
		}
		if !alive(cmd.Process.Pid) {
			return fmt.Errorf("start sshd for %s in ns %s: exited: %s", h.Name, h.Namespace, tail(logPath))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("start sshd for %s in ns %s: not listening after %v: %s", h.Name, h.Namespace, startTimeout, tail(logPath))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("start sshd for %s: %w", h.Name, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// checkInit fails if h's holder is gone (or its pid now names another
// process).
func (l *Lab) checkInit(h *Host) error {
	ino, err := netnsInode(h.Namespace)
	if err != nil {
		return fmt.Errorf("lab %s: host %s: %w", l.Prefix, h.Name, err)
	}
	if !alive(h.InitPid) || pidNetInode(h.InitPid) != ino {
		return fmt.Errorf("lab %s: host %s is down (init pid %d gone)", l.Prefix, h.Name, h.InitPid)
	}
	return nil
}

// Exec runs `sh -c script` as root inside the host (its network, mount, UTS
// and PID namespaces; for the operator, its network namespace) and returns the
// combined output. A daemon the script leaves behind holding the output
// open is not waited for beyond 2 s after the script exits.
func (l *Lab) Exec(ctx context.Context, host, script string) ([]byte, error) {
	h, err := l.host(host)
	if err != nil {
		return nil, err
	}
	var cmd *exec.Cmd
	if h.InitPid == 0 {
		cmd = exec.CommandContext(ctx, "ip", "netns", "exec", h.Namespace, "sh", "-c", script)
	} else {
		if err := l.checkInit(h); err != nil {
			return nil, err
		}
		cmd = exec.CommandContext(ctx, "nsenter", append(l.nsenterArgs(h), "sh", "-c", script)...)
	}
	cmd.Env = guestEnv()
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // exited 0; a daemon kept the output open
	}
	if err != nil {
		return out, fmt.Errorf("exec on %s: %w: %s", host, err, lastLines(string(out), 20))
	}
	return out, nil
}

// nsenterArgs enter h's namespaces through its process 1. A systemd
// host's also include IPC and cgroup, and its root and working directory
// (the container's, which nspawn set up).
func (l *Lab) nsenterArgs(h *Host) []string {
	args := []string{"-t", strconv.Itoa(h.InitPid), "-p", "-n", "-m", "-u"}
	if l.Systemd {
		args = append(args, "-i", "-C", "-r", "-w")
	}
	return append(args, "--")
}

// tail is the end of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return lastLines(string(b), 10)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// childPids lists the children of pid.
func childPids(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}
