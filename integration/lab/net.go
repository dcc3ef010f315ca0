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

const netnsDir = "/run/netns"

// run runs a command on this machine (in the root namespaces), with stdin
// if given, and returns its combined output.
func run(ctx context.Context, stdin, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// ipBatch runs ip commands, one a line, inside namespace ns.
func ipBatch(ctx context.Context, ns, batch string) error {
	_, err := run(ctx, batch, "ip", "-n", ns, "-batch", "-")
	return err
}

// listNetns lists the named network namespaces of this machine.
func listNetns() ([]string, error) {
	ents, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list network namespaces: %w", err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names, nil
}

// netnsInode is the inode of a named network namespace, as it appears in
// /proc/PID/ns/net ("net:[INODE]").
func netnsInode(ns string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(netnsDir, ns), &st); err != nil {
		return 0, fmt.Errorf("namespace %s: %w", ns, err)
	}
	return st.Ino, nil
}

// pidNetInode is the network namespace inode of a process, 0 if unknown
// (no such process, a zombie, a kernel thread we cannot read).
func pidNetInode(pid int) uint64 {
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil || !strings.HasPrefix(link, "net:[") {
		return 0
	}
	ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "net:["), "]"), 10, 64)
	if err != nil {
		return 0
	}
	return ino
}

// alive says whether pid is a live process (zombies count as dead).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	st := s[i+2]
	return st != 'Z' && st != 'X'
}

// createNamespaces adds the switch namespace and one per host, recording
// each one it created (and only those) for Down.
func (l *Lab) createNamespaces(ctx context.Context) error {
	add := func(ns string) error {
		if _, err := run(ctx, "", "ip", "netns", "add", ns); err != nil {
			return fmt.Errorf("create namespace %s: %w", ns, err)
		}
		l.mu.Lock()
		l.Namespaces = append(l.Namespaces, ns)
		l.mu.Unlock()
		return nil
	}
	// The first one alone: ip sets up /run/netns on first use.
	if err := add(l.SwitchNamespace); err != nil {
		return err
	}
	return parallel(len(l.Hosts), func(i int) error { return add(l.Hosts[i].Namespace) })
}

// buildNetwork puts a bridge in the switch namespace and connects every host
// to it with a veth pair created there, whose far end is born inside the
// host's namespace as eth0. Nothing is created in the root namespace.
func (l *Lab) buildNetwork(ctx context.Context) error {
	var sw strings.Builder
	sw.WriteString("link add name br0 type bridge\nlink set dev br0 up\n")
	for _, h := range l.Hosts {
		fmt.Fprintf(&sw, "link add name %s type veth peer name %s netns %s\n", h.Name, h.Interface, h.Namespace)
		fmt.Fprintf(&sw, "link set dev %s master br0\nlink set dev %s up\n", h.Name, h.Name)
	}
	if err := ipBatch(ctx, l.SwitchNamespace, sw.String()); err != nil {
		return fmt.Errorf("switch in ns %s: %w", l.SwitchNamespace, err)
	}
	return parallel(len(l.Hosts), func(i int) error {
		h := l.Hosts[i]
		var b strings.Builder
		fmt.Fprintf(&b, "link set dev lo up\nlink set dev %s address %s\n", h.Interface, h.MAC)
		// The admin address first: it is the primary one and never moves.
		for _, a := range h.staticAddresses() {
			fmt.Fprintf(&b, "address add %s/%d dev %s\n", a, PrefixLen, h.Interface)
		}
		fmt.Fprintf(&b, "link set dev %s up\n", h.Interface)
		if err := ipBatch(ctx, h.Namespace, b.String()); err != nil {
			return fmt.Errorf("network of %s in ns %s: %w", h.Name, h.Namespace, err)
		}
		return nil
	})
}

// staticAddresses are the addresses the lab puts on the host's eth0, the
// primary first.
func (h *Host) staticAddresses() []string {
	var as []string
	if h.AdminAddress != "" {
		as = append(as, h.AdminAddress)
	}
	as = append(as, h.Address)
	if h.Name == "mn1" {
		as = append(as, ClusterAddress)
	}
	return as
}

// killAll kills, by pid, every process whose network namespace is one of
// the lab's, until none is left, then waits until every process it saw is
// gone (a dying process leaves its namespaces before it is reaped; a
// host's process 1 waits for its whole PID namespace) and the ones this
// process started are reaped.
func (l *Lab) killAll(ctx context.Context) error {
	l.mu.Lock()
	nss := append([]string(nil), l.Namespaces...)
	l.mu.Unlock()
	inodes := map[uint64]string{}
	for _, ns := range nss {
		if ino, err := netnsInode(ns); err == nil {
			inodes[ino] = ns
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	seen := map[int]string{} // pid -> start time
	// Each host's process 1 first: the kernel then kills its PID namespace
	// and the processes' own parents reap them at once. Killed in another
	// order, orphans wait for this machine's init, which reaps slowly.
	l.mu.Lock()
	var inits []int
	for _, h := range l.Hosts {
		if _, ok := inodes[pidNetInode(h.InitPid)]; ok && h.InitPid > 0 {
			inits = append(inits, h.InitPid)
		}
	}
	l.mu.Unlock()
	for _, pid := range inits {
		seen[pid] = startTime(pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range inits {
		for alive(pid) && startTime(pid) == seen[pid] && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
	for len(inodes) > 0 {
		pids, err := pidsIn(inodes)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("processes still alive in the lab's namespaces: %v", pids)
		}
		for _, pid := range pids {
			if _, ok := seen[pid]; !ok {
				seen[pid] = startTime(pid)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL) // gone already: fine
		}
		time.Sleep(5 * time.Millisecond)
	}
	for pid, st := range seen {
		for alive(pid) && startTime(pid) == st {
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("process %d killed but still exiting", pid)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	l.mu.Lock()
	var reaped []chan struct{}
	for _, ch := range l.children {
		reaped = append(reaped, ch)
	}
	l.mu.Unlock()
	for _, ch := range reaped {
		select {
		case <-ch:
		case <-time.After(time.Until(deadline)):
			return errors.New("a lab process was killed but not reaped")
		}
	}
	return nil
}

// startTime is field 22 of /proc/PID/stat (start time since boot), to tell
// a process from a later one with the same pid; "" if it is gone.
func startTime(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// pidsIn lists the live processes whose network namespace is in inodes.
func pidsIn(inodes map[uint64]string) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("scan /proc: %w", err)
	}
	self := os.Getpid()
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if _, ok := inodes[pidNetInode(pid)]; ok && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// deleteNamespaces deletes the namespaces the lab created.
func (l *Lab) deleteNamespaces(ctx context.Context) error {
	l.mu.Lock()
	nss := append([]string(nil), l.Namespaces...)
	l.mu.Unlock()
	var errs []error
	for _, ns := range nss {
		if _, err := os.Stat(filepath.Join(netnsDir, ns)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if _, err := run(ctx, "", "ip", "netns", "delete", ns); err != nil {
			errs = append(errs, fmt.Errorf("delete namespace %s: %w", ns, err))
		}
	}
	if len(errs) == 0 {
		l.mu.Lock()
		l.Namespaces = nil
		l.mu.Unlock()
	}
	return errors.Join(errs...)
}

// addressUp says whether h's eth0 has carrier and holds h's address, and
// if not, why.
func addressUp(ctx context.Context, h *Host) (bool, string, error) {
	link, err := run(ctx, "", "ip", "-n", h.Namespace, "-o", "link", "show", "dev", h.Interface)
	if err != nil {
		return false, "", err
	}
	if !strings.Contains(string(link), "LOWER_UP") {
		return false, h.Interface + " has no carrier or is down", nil
	}
	addrs, err := run(ctx, "", "ip", "-n", h.Namespace, "-o", "-4", "address", "show", "dev", h.Interface)
	if err != nil {
		return false, "", err
	}
	if !strings.Contains(string(addrs), " "+h.Address+"/") {
		return false, h.Address + " not on " + h.Interface, nil
	}
	return true, "", nil
}

// CutLink takes the host's port on the bridge down: the host keeps its
// addresses but nothing reaches it (like a pulled cable).
func (l *Lab) CutLink(ctx context.Context, host string) error {
	return l.setPort(ctx, host, "down")
}

// RestoreLink brings the host's port on the bridge back up.
func (l *Lab) RestoreLink(ctx context.Context, host string) error {
	return l.setPort(ctx, host, "up")
}

func (l *Lab) setPort(ctx context.Context, host, state string) error {
	h, err := l.host(host)
	if err != nil {
		return err
	}
	if _, err := run(ctx, "", "ip", "-n", l.SwitchNamespace, "link", "set", "dev", h.Name, state); err != nil {
		return fmt.Errorf("lab %s: link %s of %s: %w", l.Prefix, state, host, err)
	}
	return nil
}

// Partition makes a and b unable to reach each other while both still reach
// every other host: blackhole routes, inside each one's namespace, to the
// IPv4 addresses the other holds now (a floating address that moves later
// is not followed).
func (l *Lab) Partition(ctx context.Context, a, b string) error {
	ha, err := l.host(a)
	if err != nil {
		return err
	}
	hb, err := l.host(b)
	if err != nil {
		return err
	}
	if a == b {
		return fmt.Errorf("lab %s: partition %s from itself", l.Prefix, a)
	}
	blk := Block{A: a, B: b, Created: time.Now().UTC().Format(time.RFC3339)}
	if blk.AtoB, err = hostAddrs(ctx, hb); err != nil {
		return err
	}
	if blk.BtoA, err = hostAddrs(ctx, ha); err != nil {
		return err
	}
	l.mu.Lock()
	l.Blocks = append(l.Blocks, blk)
	l.mu.Unlock()
	if err := l.save(); err != nil {
		return err
	}
	if err := blackholes(ctx, ha.Namespace, "replace", blk.AtoB); err != nil {
		return fmt.Errorf("lab %s: partition %s from %s: %w", l.Prefix, a, b, err)
	}
	if err := blackholes(ctx, hb.Namespace, "replace", blk.BtoA); err != nil {
		return fmt.Errorf("lab %s: partition %s from %s: %w", l.Prefix, b, a, err)
	}
	return nil
}

// Heal undoes every Partition between a and b (in either order).
func (l *Lab) Heal(ctx context.Context, a, b string) error {
	ha, err := l.host(a)
	if err != nil {
		return err
	}
	hb, err := l.host(b)
	if err != nil {
		return err
	}
	l.mu.Lock()
	var keep, heal []Block
	for _, blk := range l.Blocks {
		if blk.A == a && blk.B == b || blk.A == b && blk.B == a {
			heal = append(heal, blk)
		} else {
			keep = append(keep, blk)
		}
	}
	l.mu.Unlock()
	var errs []error
	for _, blk := range heal {
		nsOf := map[string]string{ha.Name: ha.Namespace, hb.Name: hb.Namespace}
		errs = append(errs,
			blackholes(ctx, nsOf[blk.A], "delete", blk.AtoB),
			blackholes(ctx, nsOf[blk.B], "delete", blk.BtoA))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lab %s: heal %s and %s: %w", l.Prefix, a, b, err)
	}
	l.mu.Lock()
	l.Blocks = keep
	l.mu.Unlock()
	return l.save()
}

// blackholes adds ("replace") or removes ("delete") blackhole routes to
// addrs inside ns. Deleting a route that is gone already is not an error.
func blackholes(ctx context.Context, ns, op string, addrs []string) error {
	for _, a := range addrs {
		out, err := run(ctx, "", "ip", "-n", ns, "route", op, "blackhole", a+"/32")
		if err != nil && !(op == "delete" && strings.Contains(string(out), "No such process")) {
			return err
		}
	}
	return nil
}

// hostAddrs lists the IPv4 addresses on h's eth0 now.
func hostAddrs(ctx context.Context, h *Host) ([]string, error) {
	out, err := run(ctx, "", "ip", "-n", h.Namespace, "-o", "-4", "address", "show", "dev", h.Interface)
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", h.Name, err)
	}
	var as []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" {
				as = append(as, strings.SplitN(f[i+1], "/", 2)[0])
			}
		}
	}
	if len(as) == 0 {
		return nil, fmt.Errorf("addresses of %s: none on %s", h.Name, h.Interface)
	}
	return as, nil
}

// removeEtcNetns removes /etc/netns/<prefix>-op (ip netns exec's per
// namespace /etc files), refusing any other path.
func removeEtcNetns(p, prefix string) error {
	if filepath.Dir(p) != "/etc/netns" || prefix == "" || !strings.HasPrefix(filepath.Base(p), prefix+"-") {
		return fmt.Errorf("refusing to remove %q", p)
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}
