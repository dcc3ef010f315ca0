package lab

import (
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
)

// Hosts with a real systemd (Config.Systemd): every MN and SN is a
// systemd-nspawn container booted from the shared base root (base.go)
// through an overlay of its own, inside the lab's network namespace for
// that host. There is no systemd or machined on this machine, so each
// nspawn runs in a cgroup of its own (under hamnflow/ in the unified and
// name=systemd hierarchies), created before it starts and removed by Down.

// cgroupHierarchies are where each launcher gets its cgroup: the unified
// (v2) hierarchy, which the container's systemd gets as its own
// (SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1), and v1's name=systemd.
var cgroupHierarchies = []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"}

// cgroupParent groups the lab cgroups of every lab.
const cgroupParent = "hamnflow"

// Bounds of a host's boot and halt.
const (
	bootTimeout = 3 * time.Minute // a loaded machine boots slowly (testbed: 4-10 s for sshd)
	haltTimeout = 45 * time.Second
)

// hostDir is Dir/hosts/<name>: the host's overlay layers, its merged root
// (h.Root) and its console log.
func hostDir(h *Host) string { return filepath.Dir(h.Root) }

// cgroupName is the host's cgroup, relative to a hierarchy.
func (l *Lab) cgroupName(h *Host) string { return filepath.Join(cgroupParent, h.Namespace) }

// mountOverlay mounts h's root: lower the base, upper and work in hostDir.
func (l *Lab) mountOverlay(h *Host) error {
	d := hostDir(h)
	for _, sub := range []string{"upper", "work", "root"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return fmt.Errorf("overlay of %s: %w", h.Name, err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", l.Base, filepath.Join(d, "upper"), filepath.Join(d, "work"))
	if err := syscall.Mount("overlay", h.Root, "overlay", 0, opts); err != nil {
		return fmt.Errorf("overlay of %s on %s (%s): %w", h.Name, h.Root, opts, err)
	}
	l.mu.Lock()
	l.Mounts = append(l.Mounts, h.Root)
	l.mu.Unlock()
	return nil
}

// unmountAll unmounts the overlays Up mounted, waiting a little for
// processes that still hold them, then detaching.
func (l *Lab) unmountAll(ctx context.Context) error {
	l.mu.Lock()
	mounts := append([]string(nil), l.Mounts...)
	l.mu.Unlock()
	var errs []error
	var left []string
	for _, m := range mounts {
		if err := unmount(ctx, m); err != nil {
			errs = append(errs, err)
			left = append(left, m)
		}
	}
	l.mu.Lock()
	l.Mounts = left
	l.mu.Unlock()
	return errors.Join(errs...)
}

func unmount(ctx context.Context, path string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		mounted, err := isMountpoint(path)
		if err != nil || !mounted {
			return err
		}
		err = syscall.Unmount(path, 0)
		if err == nil || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT) {
			continue // check again: overlays may be stacked
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) || ctx.Err() != nil {
			if derr := syscall.Unmount(path, syscall.MNT_DETACH); derr != nil {
				return fmt.Errorf("unmount %s: %w (detach: %v)", path, err, derr)
			}
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// isMountpoint says whether path is a mountpoint of this mount namespace.
func isMountpoint(path string) (bool, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false, fmt.Errorf("read mountinfo: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && unescapeMount(f[4]) == path {
			return true, nil
		}
	}
	return false, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// bootHosts boots every MN and SN, in parallel.
func (l *Lab) bootHosts(ctx context.Context) error {
	var hs []*Host
	for _, h := range l.Hosts {
		if h.Root != "" {
			hs = append(hs, h)
		}
	}
	return parallel(len(hs), func(i int) error {
		start := time.Now()
		if err := l.boot(ctx, hs[i]); err != nil {
			return fmt.Errorf("boot %s: %w", hs[i].Name, err)
		}
		l.logf("lab %s: %s booted in %v", l.Prefix, hs[i].Name, time.Since(start).Round(100*time.Millisecond))
		return nil
	})
}

// nspawnArgs is the command line of h's container.
func (l *Lab) nspawnArgs(h *Host) []string {
	return []string{
		"-D", h.Root, "-b", "-q",
		"-M", h.Namespace, "--hostname=" + h.Name,
		"--network-namespace-path=" + filepath.Join(netnsDir, h.Namespace),
		"--register=no", "--keep-unit", "--link-journal=no", "--resolv-conf=off", "--timezone=off",
		"--capability=CAP_NET_ADMIN", "--console=read-only",
	}
}

// boot starts h's container and waits until its systemd finished starting
// up and its sshd runs. h.InitPid is the container's PID 1 as this machine
// sees it (Exec enters its namespaces), h.NspawnPid its launcher.
func (l *Lab) boot(ctx context.Context, h *Host) error {
	if err := setNetSysctls(ctx, h); err != nil {
		return err
	}
	var cgs []string
	for _, hier := range cgroupHierarchies {
		cg := filepath.Join(hier, l.cgroupName(h))
		if err := os.MkdirAll(cg, 0o755); err != nil {
			return fmt.Errorf("cgroup %s: %w", cg, err)
		}
		cgs = append(cgs, cg)
	}
	l.mu.Lock()
	l.Cgroups = append(l.Cgroups, l.cgroupName(h))
	l.mu.Unlock()

	// The shell moves itself into the cgroups, then becomes nspawn.
	args := append([]string{"-c", `for cg in "$1" "$2"; do echo $$ >"$cg/cgroup.procs" || exit 1; done; shift 2; exec systemd-nspawn "$@"`,
		"nspawn-launcher", cgs[0], cgs[1]}, l.nspawnArgs(h)...)
	consolePath := filepath.Join(hostDir(h), "console.log")
	console, err := os.OpenFile(consolePath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer console.Close()
	cmd := exec.Command("/bin/sh", args...)
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1",
		"SYSTEMD_NSPAWN_API_VFS_WRITABLE=network",
		// /tmp is the overlay's, as on the namespace hosts: h.Root/tmp
		// from outside is /tmp inside.
		"SYSTEMD_NSPAWN_TMPFS_TMP=0",
	}
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a terminal's Ctrl-C is for us, not for the lab
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start systemd-nspawn: %w", err)
	}
	l.track(cmd)
	l.mu.Lock()
	h.NspawnPid = cmd.Process.Pid
	l.mu.Unlock()
	if err := l.save(); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	pid1, err := waitPid1(ctx, cmd.Process.Pid)
	if err != nil {
		return fmt.Errorf("%w: %s", err, tail(consolePath))
	}
	l.mu.Lock()
	h.InitPid = pid1
	l.mu.Unlock()
	// systemctl needs systemd's private socket, made early in the boot;
	// is-system-running --wait then returns when start-up is over:
	// "running", or "degraded" if a unit failed.
	out, err := l.Exec(ctx, h.Name, `until [ -S /run/systemd/private ]; do sleep 0.05; done
systemctl is-system-running --wait; systemctl is-active ssh.service`)
	if err != nil {
		return fmt.Errorf("wait for systemd and sshd: %w (console: %s)", err, tail(consolePath))
	}
	if lines := strings.Fields(string(out)); len(lines) < 2 || lines[len(lines)-1] != "active" {
		return fmt.Errorf("after boot: %q", out)
	}
	return l.findSSHD(ctx, h)
}

// waitPid1 finds the container's PID 1: the child of nspawn that is
// process 1 of its own PID namespace and runs systemd.
func waitPid1(ctx context.Context, nspawn int) (int, error) {
	for {
		for _, c := range childPids(nspawn) {
			if nsPid(c) == 1 && comm(c) == "systemd" {
				return c, nil
			}
		}
		if !alive(nspawn) {
			return 0, fmt.Errorf("systemd-nspawn (pid %d) exited", nspawn)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("no systemd in the container of nspawn %d: %w", nspawn, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// nsPid is the pid of pid in its innermost PID namespace (NSpid's last
// field), 0 if unknown.
func nsPid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return 0
			}
			n, _ := strconv.Atoi(f[len(f)-1])
			return n
		}
	}
	return 0
}

func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// findSSHD sets h.SSHDPid to the machine's pid of the host's sshd
// (ssh.service's main process).
func (l *Lab) findSSHD(ctx context.Context, h *Host) error {
	out, err := l.Exec(ctx, h.Name, "systemctl show -p MainPID --value ssh.service")
	if err != nil {
		return err
	}
	inner, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || inner == 0 {
		return fmt.Errorf("sshd of %s: MainPID %q", h.Name, out)
	}
	pid, err := hostPid(h.InitPid, inner)
	if err != nil {
		return fmt.Errorf("sshd of %s: %w", h.Name, err)
	}
	l.mu.Lock()
	h.SSHDPid = pid
	l.mu.Unlock()
	return nil
}

// hostPid maps a pid inside the PID namespace of pid1 to this machine's.
func hostPid(pid1, inner int) (int, error) {
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid1))
	if err != nil {
		return 0, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || nsPid(pid) != inner {
			continue
		}
		if ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); ns == want {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no process %d in the PID namespace of %d", inner, pid1)
}

// haltHosts stops every container cleanly: SIGTERM to its nspawn (which
// halts the container's systemd), then waits, bounded, for the launchers
// to exit.
func (l *Lab) haltHosts(ctx context.Context) error {
	l.mu.Lock()
	type launcher struct {
		pid   int
		start string
		name  string
	}
	var ls []launcher
	for _, h := range l.Hosts {
		if h.NspawnPid > 0 && isNspawnOf(h.NspawnPid, h.Namespace) {
			ls = append(ls, launcher{h.NspawnPid, startTime(h.NspawnPid), h.Name})
		}
	}
	l.mu.Unlock()
	for _, n := range ls {
		_ = syscall.Kill(n.pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(haltTimeout)
	var slow []string
	for _, n := range ls {
		for alive(n.pid) && startTime(n.pid) == n.start {
			if time.Now().After(deadline) || ctx.Err() != nil {
				slow = append(slow, n.name)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if len(slow) > 0 {
		l.logf("lab %s: %s did not halt within %v; killing", l.Prefix, strings.Join(slow, ", "), haltTimeout)
	}
	return nil
}

// isNspawnOf says whether pid is the systemd-nspawn of that machine name
// (and not a later process that got its pid).
func isNspawnOf(pid int, machine string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	if len(args) == 0 || filepath.Base(args[0]) != "systemd-nspawn" {
		return false
	}
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-M" && args[i+1] == machine {
			return true
		}
	}
	return false
}

// killCgroups kills, by pid, whatever is left in the hosts' cgroups (after
// a halt that timed out, or processes of services with a network namespace
// of their own), then removes the cgroups, deepest first.
func (l *Lab) killCgroups(ctx context.Context) error {
	l.mu.Lock()
	cgs := append([]string(nil), l.Cgroups...)
	l.mu.Unlock()
	var errs []error
	var left []string
	for _, name := range cgs {
		if !strings.HasPrefix(name, cgroupParent+"/"+l.Prefix+"-") {
			errs = append(errs, fmt.Errorf("refusing cgroup %q", name))
			continue
		}
		if err := killCgroup(ctx, name); err != nil {
			errs = append(errs, err)
			left = append(left, name)
		}
	}
	l.mu.Lock()
	l.Cgroups = left
	l.mu.Unlock()
	return errors.Join(errs...)
}

func killCgroup(ctx context.Context, name string) error {
	deadline := time.Now().Add(15 * time.Second)
	for _, hier := range cgroupHierarchies {
		root := filepath.Join(hier, name)
		if _, err := os.Stat(root); errors.Is(err, os.ErrNotExist) {
			continue
		}
		for {
			pids := cgroupPids(root)
			if len(pids) == 0 {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("cgroup %s: processes %v survive SIGKILL", root, pids)
			}
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(20 * time.Millisecond)
		}
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- { // children before parents
			for {
				err := syscall.Rmdir(dirs[i])
				if err == nil || errors.Is(err, syscall.ENOENT) {
					break
				}
				if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
					return fmt.Errorf("remove cgroup %s: %w", dirs[i], err)
				}
				time.Sleep(20 * time.Millisecond) // exiting processes still count
			}
		}
	}
	for _, hier := range cgroupHierarchies {
		_ = syscall.Rmdir(filepath.Join(hier, cgroupParent)) // other labs may still use it
	}
	return nil
}

// cgroupPids lists the processes in a cgroup and its descendants.
func cgroupPids(root string) []int {
	var pids []int
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		return nil
	})
	return pids
}
