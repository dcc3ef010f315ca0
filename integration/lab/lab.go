package lab

import (
	"github.com/hamnflow/hamnflow/integration/db2model"
	"github.com/hamnflow/hamnflow/integration/standins"

	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Addresses and names every lab uses.
const (
	Subnet         = "198.51.100.0/24"
	PrefixLen      = 24
	Gateway        = "198.51.100.1"  // in the inventory; nobody answers it
	ClusterAddress = "198.51.100.10" // floating service address, on mn1 at start
	ClusterName    = "xcatmn"        // cluster_hostname
	Domain         = "lab"           // DNS search domain in the hosts' resolv.conf
	Interface      = "eth0"          // every host's port on the bridge

	// GuestPath is the PATH of SSH sessions and Exec inside the hosts.
	GuestPath = "/opt/xcat/bin:/opt/xcat/sbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

	// PostgreSQL as the lab installs it on the MNs.
	PGBinDir  = "/usr/lib/postgresql/15/bin"
	PGDataDir = "/var/lib/postgresql/15/main"
	PGLogFile = "/var/log/postgresql/postgresql-15-main.log"
	PGPort    = 5432
	PGDBName  = "xcatdb"
)

// Host roles.
const (
	RoleOperator = "operator"
	RoleMN       = "mn"
	RoleSN       = "sn"
)

// Config says what lab to build.
type Config struct {
	// Prefix names the lab's namespaces (<prefix>-mn1, ...); unique per lab.
	// "" picks $HAMNFLOW_LAB_PREFIX_STEM (default "hf") + 4 random hex
	// digits, so that people sharing a machine can keep their labs apart.
	Prefix string
	// Dir holds keys, host roots, inventory and state.json. "" creates a
	// temporary directory that Down removes; a given Dir is kept, only the
	// entries the lab wrote into it are removed.
	Dir string
	// ServiceNodes is the number of service nodes sn01..snNN (0: 2).
	ServiceNodes int
	// Postgres initialises PostgreSQL 15 with database xcatdb on both MNs,
	// running on mn1 and stopped on mn2 (the guide's standby).
	Postgres bool
	// Provision, when set, is called for every MN and SN (in host order,
	// one at a time) after its root is laid out, its namespaces and network
	// are up and PostgreSQL is set up, and before its sshd starts. l.Exec
	// works on h already. An error aborts Up, which then tears down.
	Provision func(ctx context.Context, l *Lab, h *Host) error
	// XCAT installs the xCAT stand-ins (program StandinExe) on every MN and
	// SN, with /install seeded on mn1 only, for OS ("linux" or "aix").
	XCAT       bool
	StandinExe string
	OS         string
	// Db2 installs the Db2 model (program Db2ModelExe) on both MNs:
	// instance Db2Instance with home Db2Home, database XCATDB started.
	Db2         bool
	Db2ModelExe string

	// Systemd makes every MN and SN a systemd-nspawn container that boots a
	// real systemd from the shared Debian 12 base root (EnsureBase; built
	// once, minutes, cached in BaseCacheDir) through an overlay of its own.
	// sshd, PostgreSQL and xCAT's services are systemd units there. Needs
	// systemd-nspawn and debootstrap (InstallPrereqs).
	Systemd bool
	// RealXCAT (needs Systemd) installs the real xCAT 2.19 from XCATSrc
	// on both MNs, configured by xcatconfig -i (see xcat.go): on
	// PostgreSQL with Postgres, else on SQLite, xcatconfig's own default
	// (one file a table in /etc/xcat). XCATSrc "" is $XCAT_SRC, else ../shared/xcat-core next
	// to the module's root.
	RealXCAT bool
	XCATSrc  string
	// Log receives progress (base build, boots, xCAT set-up); nil: none.
	Log io.Writer
}

// Where the Db2 model is installed on the MNs.
const (
	Db2Instance = "xcatdb"
	Db2Home     = "/var/lib/db2"
)

// Host is one machine of the lab.
type Host struct {
	Name      string `json:"name"`
	Role      string `json:"role"` // operator | mn | sn
	Namespace string `json:"namespace"`
	Interface string `json:"interface"`
	Address   string `json:"address"` // the host's own address on eth0
	// AdminAddress (MNs only) is a second address on eth0 that never
	// moves: the inventory's ssh_address.
	AdminAddress string `json:"admin_address,omitempty"`
	MAC          string `json:"mac"`
	// Root is the directory whose subdirectories are mounted over
	// /etc, /root, ... inside the host; "" for the operator.
	Root string `json:"root,omitempty"`
	// InitPid is process 1 of the host's PID namespace (as this machine
	// sees it), which owns its mount, UTS and PID namespaces; Exec enters
	// them through it. 0 for the operator.
	InitPid int `json:"init_pid,omitempty"`
	SSHDPid int `json:"sshd_pid,omitempty"`
	// NspawnPid is the host's systemd-nspawn (Systemd labs only).
	NspawnPid int `json:"nspawn_pid,omitempty"`
}

// SSHAddress is the address to dial for SSH: the admin address if the host
// has one, else its address.
func (h *Host) SSHAddress() string {
	if h.AdminAddress != "" {
		return h.AdminAddress
	}
	return h.Address
}

// Block is one partition made by Partition: blackhole routes to the
// addresses of B inside A's namespace and to those of A inside B's.
type Block struct {
	A       string   `json:"a"`
	B       string   `json:"b"`
	AtoB    []string `json:"a_to_b"` // B's addresses blackholed in A
	BtoA    []string `json:"b_to_a"`
	Created string   `json:"created"`
}

// Timing is how long one phase of Up or Down took.
type Timing struct {
	Phase string        `json:"phase"`
	Took  time.Duration `json:"took"`
}

// timed runs f and records how long it took.
func (l *Lab) timed(phase string, f func() error) error {
	start := time.Now()
	err := f()
	l.mu.Lock()
	l.Timings = append(l.Timings, Timing{phase, time.Since(start)})
	l.mu.Unlock()
	return err
}

// Lab is a running (or partly built) lab. Its exported fields are saved to
// Dir/state.json, so that another process can Load it and tear it down.
type Lab struct {
	Prefix          string   `json:"prefix"`
	Dir             string   `json:"dir"`
	OwnsDir         bool     `json:"owns_dir"` // Dir was created by Up: Down removes it
	Postgres        bool     `json:"postgres"`
	OS              string   `json:"os"`  // linux or aix: what the stand-ins answer as
	Db2             bool     `json:"db2"` // the Db2 model is on the MNs
	SwitchNamespace string   `json:"switch_namespace"`
	Hosts           []*Host  `json:"hosts"`
	Namespaces      []string `json:"namespaces"`          // created by this lab
	EtcNetns        string   `json:"etc_netns,omitempty"` // /etc/netns/<op>, if created
	Blocks          []Block  `json:"blocks,omitempty"`
	// Systemd labs: the base root the hosts' overlays are on, the overlays
	// mounted (their merged roots) and the cgroups made, for Down.
	Systemd  bool     `json:"systemd,omitempty"`
	RealXCAT bool     `json:"real_xcat,omitempty"`
	XCATSrc  string   `json:"xcat_src,omitempty"`
	Base     string   `json:"base,omitempty"`
	Mounts   []string `json:"mounts,omitempty"`
	Cgroups  []string `json:"cgroups,omitempty"`
	// Timings are how long each phase of Up and of the last Down took.
	Timings []Timing `json:"timings,omitempty"`

	mu       sync.Mutex            // guards the fields above and children
	saveMu   sync.Mutex            // serialises writes of state.json
	children map[int]chan struct{} // processes started by this process: closed when reaped
	log      io.Writer             // progress; nil: none
}

// logf writes one progress line to Config.Log.
func (l *Lab) logf(format string, args ...any) {
	if l.log != nil {
		fmt.Fprintf(l.log, format+"\n", args...)
	}
}

var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9]{1,11}$`)

// Up builds a lab. On any error, including a cancelled ctx, it tears down
// what it built before returning.
func Up(ctx context.Context, cfg Config) (_ *Lab, err error) {
	if err := Check(cfg.Postgres); err != nil {
		return nil, err
	}
	if err := cfg.checkSystemd(); err != nil {
		return nil, err
	}
	xcatSrc, err := cfg.xcatSource()
	if err != nil {
		return nil, err
	}
	n := cfg.ServiceNodes
	if n == 0 {
		n = 2
	}
	if n < 0 || n > 79 { // .21 to .99: below the MNs' admin addresses
		return nil, fmt.Errorf("lab: %d service nodes: want 1..79", n)
	}
	prefix := cfg.Prefix
	if prefix == "" {
		b := make([]byte, 2)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("lab: random prefix: %w", err)
		}
		stem := os.Getenv("HAMNFLOW_LAB_PREFIX_STEM")
		if stem == "" {
			stem = "hf"
		}
		prefix = stem + hex.EncodeToString(b)
	}
	if !prefixRE.MatchString(prefix) {
		return nil, fmt.Errorf("lab: prefix %q: want a lower-case letter then 1-11 letters or digits", prefix)
	}
	names, err := listNetns()
	if err != nil {
		return nil, err
	}
	for _, ns := range names {
		if strings.HasPrefix(ns, prefix+"-") {
			return nil, fmt.Errorf("lab: prefix %q in use: namespace %s exists", prefix, ns)
		}
	}
	if _, err := os.Stat(filepath.Join("/etc/netns", prefix+"-op")); err == nil {
		return nil, fmt.Errorf("lab: prefix %q in use: /etc/netns/%s-op exists", prefix, prefix)
	}

	osType := cfg.OS
	if osType == "" {
		osType = "linux"
	}
	l := &Lab{Prefix: prefix, Postgres: cfg.Postgres, OS: osType, Db2: cfg.Db2, SwitchNamespace: prefix + "-sw",
		Systemd: cfg.Systemd, RealXCAT: cfg.RealXCAT, XCATSrc: xcatSrc, children: map[int]chan struct{}{}, log: cfg.Log}
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "hamnflow-lab-"+prefix+"-")
		if err != nil {
			return nil, fmt.Errorf("lab: state dir: %w", err)
		}
		l.Dir, l.OwnsDir = d, true
	} else {
		d, err := filepath.Abs(cfg.Dir)
		if err != nil {
			return nil, fmt.Errorf("lab: state dir %s: %w", cfg.Dir, err)
		}
		if _, err := os.Stat(filepath.Join(d, stateFile)); err == nil {
			return nil, fmt.Errorf("lab: %s already holds a lab (state.json); run down first", d)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("lab: state dir: %w", err)
		}
		l.Dir = d
	}
	l.Hosts = planHosts(prefix, l.Dir, n, cfg.Systemd)

	defer func() {
		if err == nil {
			return
		}
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
		defer cancel()
		if derr := l.Down(tctx); derr != nil {
			err = errors.Join(err, fmt.Errorf("lab %s: tear down after failed bring-up: %w", prefix, derr))
		}
	}()
	if err := l.save(); err != nil {
		return nil, err
	}

	phases := []struct {
		name string
		run  func(context.Context) error
	}{
		{"lay out host roots and keys", l.layout},
		{"create namespaces", l.createNamespaces},
		{"build network", l.buildNetwork},
		{"start host namespaces", l.startInits},
		{"set up postgresql", l.setupPostgres},
		{"install stand-ins", func(ctx context.Context) error { return l.provision(ctx, cfg.installExtras) }},
		{"provision", func(ctx context.Context) error { return l.provision(ctx, cfg.Provision) }},
		{"start sshd", l.startSSHDs},
		{"write inventory", func(context.Context) error { return l.WriteInventory(l.Inventory()) }},
	}
	if cfg.Systemd {
		phases = []struct {
			name string
			run  func(context.Context) error
		}{
			{"base root", l.ensureBase},
			{"lay out host roots and keys", l.layout},
			{"create namespaces", l.createNamespaces},
			{"build network", l.buildNetwork},
			{"boot hosts", l.bootHosts},
			{"set up postgresql", l.setupPostgres},
			{"install xCAT", l.installXCAT},
			{"install stand-ins", func(ctx context.Context) error { return l.provision(ctx, cfg.installExtras) }},
			{"provision", func(ctx context.Context) error { return l.provision(ctx, cfg.Provision) }},
			{"write inventory", func(context.Context) error { return l.WriteInventory(l.Inventory()) }},
		}
	}
	for _, p := range phases {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("lab %s: %s: %w", prefix, p.name, err)
		}
		l.logf("lab %s: %s", prefix, p.name)
		if err := l.timed("up: "+p.name, func() error { return p.run(ctx) }); err != nil {
			if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
				err = fmt.Errorf("%w: %w", cerr, err) // killed commands say "signal: killed"
			}
			return nil, fmt.Errorf("lab %s: %s: %w", prefix, p.name, err)
		}
		if err := l.save(); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// planHosts names the hosts and gives them addresses.
// A systemd host's Root is its merged overlay (Dir/hosts/<name>/root).
func planHosts(prefix, dir string, sns int, systemd bool) []*Host {
	mk := func(name, role string, octet int) *Host {
		h := &Host{
			Name:      name,
			Role:      role,
			Namespace: prefix + "-" + name,
			Interface: Interface,
			Address:   fmt.Sprintf("198.51.100.%d", octet),
			MAC:       fmt.Sprintf("02:42:c6:33:64:%02x", octet),
		}
		if role != RoleOperator {
			h.Root = filepath.Join(dir, "hosts", name)
			if systemd {
				h.Root = filepath.Join(h.Root, "root")
			}
		}
		return h
	}
	hosts := []*Host{mk("op", RoleOperator, 2)}
	for i := 1; i <= 2; i++ {
		h := mk(fmt.Sprintf("mn%d", i), RoleMN, 10+i)
		h.AdminAddress = fmt.Sprintf("198.51.100.%d", 100+i)
		hosts = append(hosts, h)
	}
	for i := 1; i <= sns; i++ {
		hosts = append(hosts, mk(fmt.Sprintf("sn%02d", i), RoleSN, 20+i))
	}
	return hosts
}

// provision calls the hook for every MN and SN, in order.
func (l *Lab) provision(ctx context.Context, hook func(context.Context, *Lab, *Host) error) error {
	if hook == nil {
		return nil
	}
	for _, h := range l.Hosts {
		if h.Role == RoleOperator {
			continue
		}
		if err := hook(ctx, l, h); err != nil {
			return fmt.Errorf("provision %s: %w", h.Name, err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("provision %s: %w", h.Name, err)
		}
	}
	return nil
}

// installExtras lays the xCAT stand-ins and the Db2 model into h.
func (cfg Config) installExtras(ctx context.Context, l *Lab, h *Host) error {
	osType := cfg.OS
	if osType == "" {
		osType = "linux"
	}
	if cfg.XCAT {
		if err := standins.Install(h.Root, cfg.StandinExe, osType); err != nil {
			return fmt.Errorf("xCAT stand-ins: %w", err)
		}
		if h.Name == "mn1" {
			if err := standins.SeedInstallDir(h.Root, osType); err != nil {
				return fmt.Errorf("seed /install: %w", err)
			}
		}
	}
	if cfg.Db2 && h.Role == RoleMN {
		if err := db2model.Install(h.Root, cfg.Db2ModelExe, Db2Instance, Db2Home); err != nil {
			return fmt.Errorf("db2 model: %w", err)
		}
		pw, err := l.Secret("db2_password")
		if err != nil {
			return fmt.Errorf("db2 model: %w", err)
		}
		if err := db2model.SetPassword(filepath.Join(h.Root, Db2Home, "sqllib/model"), pw); err != nil {
			return fmt.Errorf("db2 model: %w", err)
		}
	}
	if cfg.XCAT && h.Name == "mn1" {
		// The primary MN runs xCAT and its network services.
		if _, err := l.Exec(ctx, h.Name, "/etc/init.d/xcatd start && /etc/init.d/isc-dhcp-server start && /etc/init.d/conserver-server start && /etc/init.d/bind9 start"); err != nil {
			return fmt.Errorf("start xCAT services: %w", err)
		}
	}
	return nil
}

const stateFile = "state.json"

// save writes Dir/state.json.
func (l *Lab) save() error {
	l.saveMu.Lock()
	defer l.saveMu.Unlock()
	l.mu.Lock()
	b, err := json.MarshalIndent(l, "", "  ")
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("lab %s: encode state: %w", l.Prefix, err)
	}
	p := filepath.Join(l.Dir, stateFile)
	if err := os.WriteFile(p+".tmp", append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("lab %s: write state: %w", l.Prefix, err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		return fmt.Errorf("lab %s: write state: %w", l.Prefix, err)
	}
	return nil
}

// Load reads a lab from dir/state.json, e.g. to tear it down or show its
// status from another process.
func Load(dir string) (*Lab, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("lab: load %s: %w", dir, err)
	}
	l := &Lab{}
	if err := json.Unmarshal(b, l); err != nil {
		return nil, fmt.Errorf("lab: load %s: %w", dir, err)
	}
	if !prefixRE.MatchString(l.Prefix) || l.Dir == "" {
		return nil, fmt.Errorf("lab: load %s: bad state (prefix %q, dir %q)", dir, l.Prefix, l.Dir)
	}
	return l, nil
}

// Host returns the host with that name, or nil.
func (l *Lab) Host(name string) *Host {
	for _, h := range l.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// host is Host with an error for unknown names.
func (l *Lab) host(name string) (*Host, error) {
	if h := l.Host(name); h != nil {
		return h, nil
	}
	return nil, fmt.Errorf("lab %s: no host %q", l.Prefix, name)
}

// InventoryPath is the hamnflow inventory of the lab.
func (l *Lab) InventoryPath() string { return filepath.Join(l.Dir, "inventory.yaml") }

// KnownHostsPath holds the host key of every MN and SN under its names and
// addresses (the cluster address is deliberately absent).
func (l *Lab) KnownHostsPath() string { return filepath.Join(l.Dir, "known_hosts") }

// OperatorKey is the private key that logs in as root on every host.
func (l *Lab) OperatorKey() string { return filepath.Join(l.Dir, "id_ed25519") }

// SSHConfigPath is an ssh_config for people: `ip netns exec <prefix>-op ssh
// -F <it> mn1`.
func (l *Lab) SSHConfigPath() string { return filepath.Join(l.Dir, "ssh_config") }

// SecretsDir holds the secrets the inventory points at.
func (l *Lab) SecretsDir() string { return filepath.Join(l.Dir, "secrets") }

// OperatorNamespace is the namespace hamnflow runs in.
func (l *Lab) OperatorNamespace() string { return l.Prefix + "-op" }

// OperatorCmd is a command run inside the operator namespace, e.g. hamnflow
// itself.
func (l *Lab) OperatorCmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.OperatorNamespace(), name}, args...)...)
}

// HostStatus is what Status found for one host.
type HostStatus struct {
	Name            string
	Namespace       string
	NamespaceExists bool
	SSHDAlive       bool // sshd runs in the host's namespace (always false for the operator)
	AddressUp       bool // eth0 has carrier and holds the host's address
	Problems        []string
}

// Healthy says whether every check that applies to the host passed.
func (s HostStatus) Healthy() bool { return len(s.Problems) == 0 }

// Status checks every host.
func (l *Lab) Status(ctx context.Context) ([]HostStatus, error) {
	var out []HostStatus
	for _, h := range l.Hosts {
		st := HostStatus{Name: h.Name, Namespace: h.Namespace}
		ino, err := netnsInode(h.Namespace)
		st.NamespaceExists = err == nil
		if !st.NamespaceExists {
			st.Problems = append(st.Problems, "namespace missing")
			out = append(out, st)
			continue
		}
		if h.Role != RoleOperator {
			st.SSHDAlive = h.SSHDPid > 0 && alive(h.SSHDPid) && pidNetInode(h.SSHDPid) == ino
			if !st.SSHDAlive {
				st.Problems = append(st.Problems, fmt.Sprintf("sshd (pid %d) not running", h.SSHDPid))
			}
		}
		up, why, err := addressUp(ctx, h)
		if err != nil {
			return nil, fmt.Errorf("lab %s: status of %s: %w", l.Prefix, h.Name, err)
		}
		st.AddressUp = up
		if !up {
			st.Problems = append(st.Problems, why)
		}
		out = append(out, st)
	}
	return out, nil
}

// Down tears the lab down: kills every process in its namespaces (by pid),
// deletes the namespaces, removes /etc/netns/<prefix>-op and what Up wrote
// in Dir (all of Dir if Up created it). It is idempotent.
func (l *Lab) Down(ctx context.Context) error {
	var errs []error
	if l.Systemd {
		if err := l.timed("down: halt hosts", func() error { return l.haltHosts(ctx) }); err != nil {
			errs = append(errs, err)
		}
	}
	if err := l.timed("down: kill processes", func() error { return l.killAll(ctx) }); err != nil {
		errs = append(errs, err)
	}
	if l.Systemd {
		if err := l.timed("down: kill cgroups", func() error { return l.killCgroups(ctx) }); err != nil {
			errs = append(errs, err)
		}
		if err := l.timed("down: unmount overlays", func() error { return l.unmountAll(ctx) }); err != nil {
			errs = append(errs, err)
		}
	}
	if err := l.timed("down: delete namespaces", func() error { return l.deleteNamespaces(ctx) }); err != nil {
		errs = append(errs, err)
	}
	if l.EtcNetns != "" {
		if err := removeEtcNetns(l.EtcNetns, l.Prefix); err != nil {
			errs = append(errs, err)
		}
	}
	if err := l.timed("down: remove files", l.removeFiles); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lab %s: down: %w", l.Prefix, err)
	}
	return nil
}

// removeFiles removes Dir (if Up made it) or the entries Up wrote into it.
func (l *Lab) removeFiles() error {
	if l.Dir == "" || l.Dir == "/" || !filepath.IsAbs(l.Dir) {
		return fmt.Errorf("refusing to remove state dir %q", l.Dir)
	}
	if len(l.Mounts) > 0 { // never remove through a mounted host root
		return fmt.Errorf("not removing %s: overlays still mounted: %v", l.Dir, l.Mounts)
	}
	if l.OwnsDir {
		if err := os.RemoveAll(l.Dir); err != nil {
			return fmt.Errorf("remove %s: %w", l.Dir, err)
		}
		return nil
	}
	var errs []error
	for _, name := range ownFiles {
		if err := os.RemoveAll(filepath.Join(l.Dir, name)); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// ownFiles are the entries Up writes in Dir; state.json goes last.
var ownFiles = []string{"hosts", "secrets", "id_ed25519", "id_ed25519.pub", "mn_id_ed25519", "mn_id_ed25519.pub",
	"known_hosts", "ssh_config", "inventory.yaml", stateFile + ".tmp", stateFile}

// parallel runs f(0..n-1) concurrently and joins their errors.
func parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Check says whether this machine can run a lab: root, and the tools.
func Check(postgres bool) error {
	const apt = "apt-get install -y openssh-server openssh-client rsync postgresql iproute2 iputils-ping arping cron util-linux"
	if os.Geteuid() != 0 {
		return fmt.Errorf("lab: needs root (network namespaces, mounts); run the tests as root")
	}
	tools := []string{"ip", "nsenter", "unshare", "mount", "/bin/bash", "hostname", "sleep", "cp", "su", "ssh", "ssh-keygen", "/usr/sbin/sshd", "ping"}
	if postgres {
		tools = append(tools, PGBinDir+"/initdb", PGBinDir+"/pg_ctl", "psql")
	}
	var missing []string
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("lab: missing %s: %s", strings.Join(missing, ", "), apt)
	}
	return nil
}
