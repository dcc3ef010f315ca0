package lab

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// hostMounts are the directories every MN and SN sees from its own root
// (<Root>/<dir without leading slash>), in mount order: /etc as an overlay
// over this machine's /etc, the others bind-mounted. /tmp comes last:
// the lab's Dir may live under it. Their mountpoints must exist on this
// machine; ensureMountpoints creates the missing ones (empty).
var hostMounts = []string{
	"/etc", "/root", "/opt", "/var/lib/postgresql", "/var/lib/db2", "/var/lib/hamnflow", "/var/spool/cron",
	"/var/log", "/install", "/run", "/tmp",
}

// xcatdbUser is the Db2 instance owner the guide uses.
const xcatdbUser = "xcatdb"

// ids are the numeric users and groups the host roots are owned by.
type ids struct {
	postgresUID, postgresGID int // -1: no postgres user on this machine
	xcatdb                   int // uid and gid of xcatdb (added to each host's /etc)
	crontabGID, utmpGID      int
}

// layout makes the keys, every host's root and the operator's files.
func (l *Lab) layout(ctx context.Context) error {
	var id ids
	var err error
	layoutHost := l.layoutHost
	if l.Systemd {
		id, err = baseIDs(l.Base)
		layoutHost = l.layoutSystemdHost
	} else {
		if err := ensureMountpoints(); err != nil {
			return err
		}
		id, err = machineIDs(l.Postgres)
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(l.SecretsDir(), 0o700); err != nil {
		return fmt.Errorf("secrets dir: %w", err)
	}
	jobs := []func() error{
		func() error { return keygen(ctx, l.OperatorKey(), "hamnflow-lab-operator") },
		func() error { return keygen(ctx, l.mnKey(), "root@xcat-mn") },
	}
	for _, h := range l.Hosts {
		if h.Root != "" {
			jobs = append(jobs, func() error { return layoutHost(ctx, h, id) })
		}
	}
	if err := parallel(len(jobs), func(i int) error { return jobs[i]() }); err != nil {
		return err
	}
	return l.writeTrust(id)
}

func (l *Lab) mnKey() string { return filepath.Join(l.Dir, "mn_id_ed25519") }

// ensureMountpoints creates the (empty) mountpoints missing on this machine,
// e.g. /install and /var/lib/db2.
func ensureMountpoints() error {
	for _, m := range hostMounts {
		if _, err := os.Stat(m); errors.Is(err, os.ErrNotExist) {
			if err := os.Mkdir(m, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("create mountpoint %s: %w", m, err)
			}
		}
	}
	return nil
}

// machineIDs reads the ids the host roots need from this machine's files.
func machineIDs(postgres bool) (ids, error) {
	users, err := readIDs("/etc/passwd")
	if err != nil {
		return ids{}, err
	}
	groups, err := readIDs("/etc/group")
	if err != nil {
		return ids{}, err
	}
	id := ids{postgresUID: -1, postgresGID: -1, crontabGID: 0, utmpGID: 0}
	if uid, ok := users["postgres"]; ok {
		id.postgresUID, id.postgresGID = uid, groups["postgres"]
	} else if postgres {
		return ids{}, errors.New("no postgres user: apt-get install -y postgresql")
	}
	if g, ok := groups["crontab"]; ok {
		id.crontabGID = g
	}
	if g, ok := groups["utmp"]; ok {
		id.utmpGID = g
	}
	if uid, ok := users[xcatdbUser]; ok {
		id.xcatdb = uid
	} else {
		taken := map[int]bool{}
		for _, v := range users {
			taken[v] = true
		}
		for _, v := range groups {
			taken[v] = true
		}
		for id.xcatdb = 2001; taken[id.xcatdb]; id.xcatdb++ {
		}
	}
	return id, nil
}

// readIDs maps names to the third field of a passwd- or group-style file.
func readIDs(path string) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	m := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Split(sc.Text(), ":")
		if len(fs) < 3 {
			continue
		}
		if n, err := strconv.Atoi(fs[2]); err == nil {
			m[fs[0]] = n
		}
	}
	return m, sc.Err()
}

// keygen makes an ed25519 key pair at path (and path.pub).
func keygen(ctx context.Context, path, comment string) error {
	if _, err := run(ctx, "", "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path); err != nil {
		return fmt.Errorf("generate key %s: %w", path, err)
	}
	return nil
}

// layoutHost builds h.Root: the host's layer of /etc, and the
// other directories bind-mounted inside it.
func (l *Lab) layoutHost(ctx context.Context, h *Host, id ids) error {
	r := h.Root
	if err := os.MkdirAll(r, 0o755); err != nil {
		return fmt.Errorf("root of %s: %w", h.Name, err)
	}
	if err := etcUpper(r, h, id); err != nil {
		return fmt.Errorf("/etc of %s: %w", h.Name, err)
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
		{"opt/xcat/bin", 0o755, 0, 0},
		{"opt/xcat/sbin", 0o755, 0, 0},
		{"opt/xcat/var", 0o755, 0, 0},
		{"tmp", 0o1777, 0, 0},
		{"var/lib/postgresql", 0o755, id.postgresUID, id.postgresGID},
		{"var/lib/db2", 0o755, id.xcatdb, id.xcatdb},
		{"var/lib/db2/.ssh", 0o700, id.xcatdb, id.xcatdb},
		{"var/lib/hamnflow", 0o700, 0, 0}, // the failover's snapshots, xcat_site_fix's records
		{"var/spool/cron", 0o755, 0, 0},
		{"var/spool/cron/crontabs", 0o1730, 0, id.crontabGID},
		{"var/log", 0o755, 0, 0},
		{"var/log/postgresql", 0o1775, id.postgresUID, id.postgresGID},
		{"install", 0o755, 0, 0},
		{"run", 0o755, 0, 0},
		{"run/sshd", 0o755, 0, 0},
		{"run/lock", 0o1777, 0, 0},
		{"run/postgresql", 0o2775, id.postgresUID, id.postgresGID},
	}
	for _, d := range dirs {
		if err := mkdir(filepath.Join(r, d.path), d.mode, d.uid, d.gid); err != nil {
			return fmt.Errorf("root of %s: %w", h.Name, err)
		}
	}
	for _, f := range []string{".bashrc", ".profile"} {
		if b, err := os.ReadFile(filepath.Join("/etc/skel", f)); err == nil {
			if err := os.WriteFile(filepath.Join(r, "root", f), b, 0o644); err != nil {
				return fmt.Errorf("root of %s: %w", h.Name, err)
			}
		}
	}
	if err := writeFile(filepath.Join(r, "run/utmp"), "", 0o664, 0, id.utmpGID); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(r, "var/log/wtmp"), "", 0o664, 0, id.utmpGID); err != nil {
		return err
	}
	if h.Name == "mn1" {
		return l.sampleGuideFiles(r)
	}
	if h.Role == RoleMN {
		// The standby has xCAT installed and pointed at its database
		// (guide 5), but nothing synchronised yet.
		if err := mkdir(filepath.Join(r, "etc/xcat"), 0o755, 0, 0); err != nil {
			return err
		}
		return l.writeCfgloc(r)
	}
	return nil
}

// etcUpper prepares the upper layer of the host's /etc, an overlay whose
// lower layer is this machine's /etc (a copy-on-write copy: copying /etc
// for every host is slow on this machine's disk). It holds the host's own
// files: name, resolver, sshd config, users (passwords locked, xcatdb
// added), and whiteouts that hide this machine's ssh host keys. The work
// directory is <root>/.etc-work.
func etcUpper(r string, h *Host, id ids) error {
	etc := filepath.Join(r, "etc")
	if err := mkdirLike(etc, "/etc"); err != nil {
		return err
	}
	if err := mkdir(filepath.Join(r, ".etc-work"), 0o700, 0, 0); err != nil {
		return err
	}
	if err := mkdirLike(filepath.Join(etc, "ssh"), "/etc/ssh"); err != nil {
		return err
	}
	files := []fileSpec{
		{"hostname", h.Name + "\n", 0o644, 0, 0},
		{"resolv.conf", resolvConf(), 0o644, 0, 0},
		{"ssh/sshd_config", sshdConfig(h), 0o644, 0, 0},
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(etc, f.path), f.content, f.mode, f.uid, f.gid); err != nil {
			return err
		}
	}
	// This machine's host keys stay this machine's: the host has its own.
	keys, _ := filepath.Glob("/etc/ssh/ssh_host_*")
	for _, k := range keys {
		if b := filepath.Base(k); b != "ssh_host_ed25519_key" && b != "ssh_host_ed25519_key.pub" {
			if err := syscall.Mknod(filepath.Join(etc, "ssh", b), syscall.S_IFCHR, 0); err != nil {
				return fmt.Errorf("hide %s: %w", k, err)
			}
		}
	}
	// Users: every password locked ("*": keys still work, unlike "!"), so
	// no password hash of this machine is copied; xcatdb added.
	x := strconv.Itoa(id.xcatdb)
	for _, u := range []struct{ file, password, add string }{
		{"passwd", "", xcatdbUser + ":x:" + x + ":" + x + ":Db2 instance owner:/var/lib/db2:/bin/sh"},
		{"group", "", xcatdbUser + ":x:" + x + ":"},
		{"shadow", "*", xcatdbUser + ":*:19000:0:99999:7:::"},
		{"gshadow", "!", xcatdbUser + ":!::"},
	} {
		if err := rewriteUsers("/etc/"+u.file, filepath.Join(etc, u.file), u.password, u.add); err != nil {
			return err
		}
	}
	return nil
}

// rewriteUsers writes dst from the passwd-style file src: the second
// field set to password (unless ""), the line add appended if its name is
// absent. Mode and owner are src's. A missing src is skipped.
func rewriteUsers(src, dst, password, add string) error {
	b, err := os.ReadFile(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	name := strings.SplitN(add, ":", 2)[0] + ":"
	var out []string
	found := false
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		fs := strings.Split(line, ":")
		if password != "" && len(fs) > 1 {
			fs[1] = password
		}
		found = found || strings.HasPrefix(line, name)
		out = append(out, strings.Join(fs, ":"))
	}
	if !found {
		out = append(out, add)
	}
	sys := st.Sys().(*syscall.Stat_t)
	return writeFile(dst, strings.Join(out, "\n")+"\n", st.Mode().Perm(), int(sys.Uid), int(sys.Gid))
}

// mkdirLike creates dir with the mode and owner of src.
func mkdirLike(dir, src string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	sys := st.Sys().(*syscall.Stat_t)
	return mkdir(dir, st.Mode().Perm(), int(sys.Uid), int(sys.Gid))
}

// hostsFile is /etc/hosts of every host (and of the operator).
func (l *Lab) hostsFile() string {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\n# hamnflow lab " + l.Prefix + "\n")
	for _, h := range l.Hosts {
		fmt.Fprintf(&b, "%s\t%s.%s %s\n", h.Address, h.Name, Domain, h.Name)
		if h.AdminAddress != "" {
			fmt.Fprintf(&b, "%s\t%s-adm.%s %s-adm\n", h.AdminAddress, h.Name, Domain, h.Name)
		}
	}
	fmt.Fprintf(&b, "%s\t%s.%s %s\n", ClusterAddress, ClusterName, Domain, ClusterName)
	return b.String()
}

func resolvConf() string {
	return "search " + Domain + "\nnameserver 198.51.100.11\noptions timeout:1 attempts:1\n"
}

func sshdConfig(h *Host) string {
	return `# sshd of lab host ` + h.Name + `
Port 22
AddressFamily inet
ListenAddress 0.0.0.0
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 100:30:200
MaxSessions 100
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
SetEnv PATH=` + GuestPath + `
`
}

// knownHostsNames are the names and addresses under which h's key is
// trusted (never the cluster address or name).
func knownHostsNames(h *Host) string {
	names := []string{h.Name, h.Name + "." + Domain, h.Address}
	if h.AdminAddress != "" {
		names = append(names, h.AdminAddress, h.Name+"-adm", h.Name+"-adm."+Domain)
	}
	return strings.Join(names, ",")
}

// writeTrust writes, once every key exists: authorized_keys on every host,
// the MN key pair and known_hosts on the MNs, the operator's known_hosts,
// ssh_config and /etc/netns files, and the secrets.
func (l *Lab) writeTrust(id ids) error {
	opPub, err := os.ReadFile(l.OperatorKey() + ".pub")
	if err != nil {
		return err
	}
	mnPub, err := os.ReadFile(l.mnKey() + ".pub")
	if err != nil {
		return err
	}
	mnPriv, err := os.ReadFile(l.mnKey())
	if err != nil {
		return err
	}
	var known strings.Builder
	var names []string
	for _, h := range l.Hosts {
		if h.Root == "" {
			continue
		}
		pub, err := os.ReadFile(filepath.Join(h.Root, "etc/ssh/ssh_host_ed25519_key.pub"))
		if err != nil {
			return err
		}
		f := strings.Fields(string(pub))
		if len(f) < 2 {
			return fmt.Errorf("host key of %s: bad public key", h.Name)
		}
		fmt.Fprintf(&known, "%s %s %s\n", knownHostsNames(h), f[0], f[1])
		names = append(names, h.Name)
	}
	auth := string(opPub) + string(mnPub)
	for _, h := range l.Hosts {
		if h.Root == "" {
			continue
		}
		files := []fileSpec{
			{"root/.ssh/authorized_keys", auth, 0o600, 0, 0},
			{"var/lib/db2/.ssh/authorized_keys", auth, 0o600, id.xcatdb, id.xcatdb},
			{"etc/hosts", l.hostsFile(), 0o644, 0, 0},
		}
		if h.Role == RoleMN {
			files = append(files,
				fileSpec{"root/.ssh/id_ed25519", string(mnPriv), 0o600, 0, 0},
				fileSpec{"root/.ssh/id_ed25519.pub", string(mnPub), 0o644, 0, 0},
				fileSpec{"root/.ssh/known_hosts", known.String(), 0o644, 0, 0})
		}
		for _, f := range files {
			if err := writeFile(filepath.Join(h.Root, f.path), f.content, f.mode, f.uid, f.gid); err != nil {
				return fmt.Errorf("%s of %s: %w", f.path, h.Name, err)
			}
		}
	}
	if err := os.WriteFile(l.KnownHostsPath(), []byte(known.String()), 0o644); err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	sshCfg := fmt.Sprintf("# ip netns exec %s ssh -F %s mn1\nHost %s\n\tUser root\n\tIdentityFile %s\n\tIdentitiesOnly yes\n\tUserKnownHostsFile %s\n\tStrictHostKeyChecking yes\n\tBatchMode yes\n",
		l.OperatorNamespace(), l.SSHConfigPath(), strings.Join(names, " "), l.OperatorKey(), l.KnownHostsPath())
	if err := os.WriteFile(l.SSHConfigPath(), []byte(sshCfg), 0o644); err != nil {
		return fmt.Errorf("ssh_config: %w", err)
	}
	// ip netns exec bind-mounts /etc/netns/<ns>/* over /etc/*: the operator
	// resolves the lab's names without a mount namespace of its own.
	l.EtcNetns = filepath.Join("/etc/netns", l.OperatorNamespace())
	if err := os.MkdirAll(l.EtcNetns, 0o755); err != nil {
		return fmt.Errorf("operator /etc: %w", err)
	}
	if err := os.WriteFile(filepath.Join(l.EtcNetns, "hosts"), []byte(l.hostsFile()), 0o644); err != nil {
		return fmt.Errorf("operator /etc/hosts: %w", err)
	}
	if err := os.WriteFile(filepath.Join(l.EtcNetns, "resolv.conf"), []byte(resolvConf()), 0o644); err != nil {
		return fmt.Errorf("operator /etc/resolv.conf: %w", err)
	}
	for _, s := range l.secretNames() {
		l.mustSecret(s)
		if _, err := l.Secret(s); err != nil {
			return err
		}
	}
	return nil
}

// fileSpec is a file to write into a host root.
type fileSpec struct {
	path     string
	content  string
	mode     os.FileMode
	uid, gid int
}

// secretNames are the secrets the lab writes (and the inventory names).
func (l *Lab) secretNames() []string {
	if l.Postgres {
		return []string{"db2_password", "pg_password"}
	}
	return []string{"db2_password"}
}

// Secret reads one of the lab's secrets.
func (l *Lab) Secret(name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(l.SecretsDir(), name))
	if err != nil {
		return "", fmt.Errorf("lab %s: secret %s: %w", l.Prefix, name, err)
	}
	return strings.TrimRight(string(b), "\n"), nil
}

// sampleGuideFiles puts on mn1 the files the guide synchronises: xCAT's
// SSL credentials and ssh keys, ~/.xcat, the installdir, cfgloc. Each holds
// a random token, so a copy can be told from a fresh file.
func (l *Lab) sampleGuideFiles(r string) error {
	files := map[string]os.FileMode{
		"etc/xcat/ca/ca-cert.pem":                  0o644,
		"etc/xcat/ca/private/ca-key.pem":           0o600,
		"etc/xcat/ca/index":                        0o644,
		"etc/xcat/ca/serial":                       0o644,
		"etc/xcat/cert/server-cred.pem":            0o600,
		"etc/xcat/cert/ca.pem":                     0o644,
		"etc/xcat/hostkeys/ssh_host_rsa_key":       0o600,
		"etc/xcat/hostkeys/ssh_host_rsa_key.pub":   0o644,
		"etc/xcat/hostkeys/ssh_host_ecdsa_key":     0o600,
		"etc/xcat/hostkeys/ssh_host_ecdsa_key.pub": 0o644,
		"root/.xcat/ca.pem":                        0o644,
		"root/.xcat/client-cred.pem":               0o600,
		"install/postscripts/syslog":               0o755,
		"install/postscripts/remoteshell":          0o755,
		"install/postscripts/xcatdsklspost":        0o755,
		"install/custom/install/rh/compute.tmpl":   0o644,
		"install/rhels8.6/x86_64/.treeinfo":        0o644,
	}
	for p, mode := range files {
		body := fmt.Sprintf("# sample /%s of mn1 (hamnflow lab)\n%s\n", p, randomHex(16))
		if mode&0o111 != 0 {
			body = "#!/bin/sh\n" + body
		}
		if err := writeFile(filepath.Join(r, p), body, mode, 0, 0); err != nil {
			return fmt.Errorf("sample file /%s: %w", p, err)
		}
	}
	return l.writeCfgloc(r)
}

// writeCfgloc writes xCAT's database location: the cluster address, so
// that it follows the database on failover.
func (l *Lab) writeCfgloc(r string) error {
	if !l.Postgres && !l.Db2 {
		return nil // no database: the stand-ins keep nodes in a file
	}
	cfgloc := ""
	if l.Postgres {
		cfgloc = fmt.Sprintf("Pg:dbname=%s;host=%s|xcatadm|%s\n", PGDBName, ClusterAddress, l.mustSecret("pg_password"))
	} else {
		cfgloc = fmt.Sprintf("DB2:%s|%s|%s\n", strings.ToUpper(PGDBName), xcatdbUser, l.mustSecret("db2_password"))
	}
	return writeFile(filepath.Join(r, "etc/xcat/cfgloc"), cfgloc, 0o600, 0, 0)
}

// mustSecret returns the secret, creating it first if it does not exist yet
// (layout runs before writeTrust).
func (l *Lab) mustSecret(name string) string {
	p := filepath.Join(l.SecretsDir(), name)
	if b, err := os.ReadFile(p); err == nil {
		return strings.TrimRight(string(b), "\n")
	}
	v := randomHex(12)
	_ = os.WriteFile(p, []byte(v+"\n"), 0o600) // a failure shows up in writeTrust
	return v
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on Linux
	return hex.EncodeToString(b)
}

// mkdir creates dir (and parents) and sets its exact mode and owner
// (uid -1: unchanged).
func mkdir(dir string, mode os.FileMode, uid, gid int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(dir, mode|modeBits(mode)); err != nil {
		return err
	}
	return os.Lchown(dir, uid, gid)
}

// modeBits converts the setuid/setgid/sticky bits of a Unix mode given as
// 0o1777 style to os.FileMode bits.
func modeBits(m os.FileMode) os.FileMode {
	var out os.FileMode
	if m&0o1000 != 0 {
		out |= os.ModeSticky
	}
	if m&0o2000 != 0 {
		out |= os.ModeSetgid
	}
	if m&0o4000 != 0 {
		out |= os.ModeSetuid
	}
	return out
}

// writeFile writes a file (making its directory) with exact mode and owner.
func writeFile(path, content string, mode os.FileMode, uid, gid int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		return err
	}
	if err := os.Chmod(path, mode); err != nil {
		return err
	}
	return os.Lchown(path, uid, gid)
}
