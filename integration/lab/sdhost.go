package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// baseIDs reads the ids the host roots need from the base's own users
// (they differ from this machine's).
func baseIDs(base string) (ids, error) {
	users, err := readIDs(filepath.Join(base, "etc/passwd"))
	if err != nil {
		return ids{}, err
	}
	groups, err := readIDs(filepath.Join(base, "etc/group"))
	if err != nil {
		return ids{}, err
	}
	id := ids{postgresUID: users["postgres"], postgresGID: groups["postgres"],
		xcatdb: users[xcatdbUser], crontabGID: groups["crontab"], utmpGID: groups["utmp"]}
	if _, ok := users["postgres"]; !ok {
		return ids{}, fmt.Errorf("base %s has no postgres user: rebuild it", base)
	}
	if _, ok := users[xcatdbUser]; !ok {
		return ids{}, fmt.Errorf("base %s has no %s user: rebuild it", base, xcatdbUser)
	}
	return id, nil
}

// layoutSystemdHost mounts h's overlay on the base and writes the host's
// own files through it: name, machine id, resolver, sshd config and host
// key, root's and xcatdb's directories. Users are the base's; root's
// password is locked ("*") there, so only keys log in.
func (l *Lab) layoutSystemdHost(ctx context.Context, h *Host, id ids) error {
	if err := l.mountOverlay(h); err != nil {
		return err
	}
	r := h.Root
	files := []fileSpec{
		{"etc/hostname", h.Name + "\n", 0o644, 0, 0},
		{"etc/machine-id", randomHex(16) + "\n", 0o444, 0, 0},
		{"etc/resolv.conf", resolvConf(), 0o644, 0, 0},
		{"etc/ssh/sshd_config", sshdConfig(h), 0o644, 0, 0},
		// Exec and SSH sessions find xCAT's commands first (GuestPath).
		{"etc/environment", "PATH=\"" + GuestPath + "\"\n", 0o644, 0, 0},
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(r, f.path), f.content, f.mode, f.uid, f.gid); err != nil {
			return fmt.Errorf("root of %s: %w", h.Name, err)
		}
	}
	if err := keygen(ctx, filepath.Join(r, "etc/ssh/ssh_host_ed25519_key"), "root@"+h.Name); err != nil {
		return err
	}
	dirs := []struct {
		path     string
		mode     os.FileMode
		uid, gid int
	}{
		{"root", 0o700, 0, 0},
		{"root/.ssh", 0o700, 0, 0},
		{"root/.xcat", 0o700, 0, 0},
		{"var/lib/db2", 0o755, id.xcatdb, id.xcatdb},
		{"var/lib/db2/.ssh", 0o700, id.xcatdb, id.xcatdb},
		{"install", 0o755, 0, 0},
	}
	for _, d := range dirs {
		if err := mkdir(filepath.Join(r, d.path), d.mode, d.uid, d.gid); err != nil {
			return fmt.Errorf("root of %s: %w", h.Name, err)
		}
	}
	if l.RealXCAT || h.Role != RoleMN {
		return nil // real xCAT makes its own /etc/xcat
	}
	// Without real xCAT the MNs hold what the namespace hosts hold.
	if h.Name == "mn1" {
		return l.sampleGuideFiles(r)
	}
	if err := mkdir(filepath.Join(r, "etc/xcat"), 0o755, 0, 0); err != nil {
		return err
	}
	return l.writeCfgloc(r)
}

// setNetSysctls sets, in h's network namespace, what the namespace hosts'
// init sets: removing the primary address keeps the others.
func setNetSysctls(ctx context.Context, h *Host) error {
	script := ""
	for _, dev := range []string{"all", "default", h.Interface} {
		script += fmt.Sprintf("echo 1 > /proc/sys/net/ipv4/conf/%s/promote_secondaries\n", dev)
	}
	if _, err := run(ctx, "", "ip", "netns", "exec", h.Namespace, "sh", "-ec", script); err != nil {
		return fmt.Errorf("sysctls of %s: %w", h.Name, err)
	}
	return nil
}
