//go:build lab

package lab

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/playbooks"
)

// requireLab fails (never skips) when this machine cannot run a lab.
func requireLab(t *testing.T) {
	t.Helper()
	if err := Check(true); err != nil {
		t.Fatal(err)
	}
}

// rootNet is the root namespace's links, addresses and routes.
func rootNet(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{{"-br", "link"}, {"-br", "address"}, {"route"}, {"-6", "route"}} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
		b.Write(out)
	}
	return b.String()
}

// labNamespaces lists this machine's namespaces with the lab's prefix.
func labNamespaces(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	var nss []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix+"-") {
			nss = append(nss, f[0])
		}
	}
	return nss
}

// labPids lists every live process in the lab's namespaces.
func labPids(t *testing.T, l *Lab) []int {
	t.Helper()
	inodes := map[uint64]string{}
	for _, ns := range l.Namespaces {
		ino, err := netnsInode(ns)
		if err != nil {
			t.Fatal(err)
		}
		inodes[ino] = ns
	}
	pids, err := pidsIn(inodes)
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

func logTimings(t *testing.T, l *Lab) {
	t.Helper()
	for _, tm := range l.Timings {
		t.Logf("  %-36s %v", tm.Phase, tm.Took.Round(time.Millisecond))
	}
}

// opSSH runs ssh from the operator namespace with strict host key checking.
func opSSH(ctx context.Context, l *Lab, target string, command ...string) (string, error) {
	args := append([]string{"-F", "/dev/null", "-i", l.OperatorKey(),
		"-o", "UserKnownHostsFile=" + l.KnownHostsPath(), "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
		"root@" + target}, command...)
	out, err := l.OperatorCmd(ctx, "ssh", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// reach pings addr once from host (1 s timeout).
func reach(ctx context.Context, l *Lab, host, addr string) bool {
	_, err := l.Exec(ctx, host, "ping -c1 -W1 -n "+addr)
	return err == nil
}

// eventually polls f every 100 ms until it holds or d passes.
func eventually(d time.Duration, f func() bool) bool {
	for end := time.Now().Add(d); ; time.Sleep(100 * time.Millisecond) {
		if f() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

func TestLab(t *testing.T) {
	requireLab(t)
	before := rootNet(t)
	machineHosts, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	machineName, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	start := time.Now()
	l, err := Up(ctx, Config{ServiceNodes: 2, Postgres: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Up (op, 2 MNs, 2 SNs, PostgreSQL) took %v", time.Since(start).Round(time.Millisecond))
	logTimings(t, l)
	down := false
	t.Cleanup(func() {
		if !down {
			if err := l.Down(context.Background()); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("ssh from operator", func(t *testing.T) {
		for target, want := range map[string]string{"mn1": "mn1", "198.51.100.101": "mn1", "mn2": "mn2", "sn02": "sn02"} {
			out, err := opSSH(ctx, l, target, "hostname")
			if err != nil || out != want {
				t.Errorf("ssh root@%s hostname = %q, %v; want %q", target, out, err, want)
			}
		}
		// The cluster address is not pre-trusted.
		out, err := opSSH(ctx, l, ClusterAddress, "true")
		if err == nil || !strings.Contains(out, "Host key verification failed") {
			t.Errorf("ssh to the cluster address: %v, %q; want host key verification failure", err, out)
		}
		// The session's PATH has xCAT's directories first.
		out, err = opSSH(ctx, l, "mn1", "echo $PATH")
		if err != nil || out != GuestPath {
			t.Errorf("PATH over ssh = %q, %v; want %q", out, err, GuestPath)
		}
	})

	t.Run("mn to mn with host keys checked", func(t *testing.T) {
		out, err := l.Exec(ctx, "mn1", "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes mn2 hostname")
		if err != nil || strings.TrimSpace(string(out)) != "mn2" {
			t.Errorf("mn1: ssh mn2 hostname = %q, %v", out, err)
		}
		out, err = l.Exec(ctx, "mn2", "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes mn1 hostname")
		if err != nil || strings.TrimSpace(string(out)) != "mn1" {
			t.Errorf("mn2: ssh mn1 hostname = %q, %v", out, err)
		}
		if out, err := l.Exec(ctx, "mn1", "rsync -az -e 'ssh -o BatchMode=yes -o StrictHostKeyChecking=yes' /etc/xcat/ca mn2:/tmp/"); err != nil {
			t.Errorf("mn1: rsync to mn2: %v: %s", err, out)
		}
		src, err1 := l.Exec(ctx, "mn1", "md5sum < /etc/xcat/ca/ca-cert.pem")
		dst, err2 := l.Exec(ctx, "mn2", "md5sum < /tmp/ca/ca-cert.pem")
		if err1 != nil || err2 != nil || string(src) != string(dst) {
			t.Errorf("rsynced file differs: %q %v, %q %v", src, err1, dst, err2)
		}
	})

	t.Run("separate views", func(t *testing.T) {
		if _, err := l.Exec(ctx, "mn1", "test -d /etc/xcat/ca && test -s /etc/xcat/cfgloc && test -d /root/.xcat && test -x /install/postscripts/syslog"); err != nil {
			t.Errorf("mn1 lacks the guide's sample files: %v", err)
		}
		if out, err := l.Exec(ctx, "mn2", "test ! -e /etc/xcat/ca && test -d /etc/xcat"); err != nil {
			t.Errorf("mn2 sees /etc/xcat/ca or lacks /etc/xcat: %v: %s", err, out)
		}
		if _, err := os.Stat("/etc/xcat/ca"); err == nil {
			t.Errorf("/etc/xcat/ca exists on the machine")
		}
		if out, err := l.Exec(ctx, "mn2", "echo '198.51.100.99 extra' >> /etc/hosts && grep -c extra /etc/hosts"); err != nil {
			t.Errorf("edit /etc/hosts on mn2: %v: %s", err, out)
		}
		if out, _ := l.Exec(ctx, "mn1", "grep -c extra /etc/hosts"); strings.TrimSpace(string(out)) != "0" {
			t.Errorf("mn2's /etc/hosts edit visible on mn1: %q", out)
		}
		if now, _ := os.ReadFile("/etc/hosts"); string(now) != string(machineHosts) {
			t.Errorf("the machine's /etc/hosts changed")
		}
		// Own PID namespace: mn2 does not see mn1's postgres.
		if out, _ := l.Exec(ctx, "mn2", "ps -eo comm | grep -cx postgres"); strings.TrimSpace(string(out)) != "0" {
			t.Errorf("mn2 sees %s postgres processes", out)
		}
	})

	t.Run("hostname", func(t *testing.T) {
		out, err := l.Exec(ctx, "mn2", "hostname")
		if got := strings.TrimSpace(string(out)); err != nil || got != "mn2" || got == machineName {
			t.Errorf("hostname in mn2 = %q, %v (machine: %q)", got, err, machineName)
		}
		if now, _ := os.Hostname(); now != machineName {
			t.Errorf("machine hostname changed to %q", now)
		}
	})

	t.Run("postgres", func(t *testing.T) {
		out, err := l.PSQL(ctx, "mn1", "SELECT node FROM nodelist ORDER BY node")
		if err != nil || !strings.Contains(out, "cn001") || !strings.Contains(out, "sn02") {
			t.Errorf("nodelist on mn1 = %q, %v", out, err)
		}
		net, err := l.OperatorCmd(ctx, "psql", "-X", "-A", "-t", "-h", "198.51.100.11", "-U", "postgres", "-d", PGDBName,
			"-c", "SELECT count(*) FROM nodelist").CombinedOutput()
		if err != nil || strings.TrimSpace(string(net)) != "5" {
			t.Errorf("nodelist count over the network = %q, %v", net, err)
		}
		if out, err := l.Exec(ctx, "mn2", "su postgres -s /bin/sh -c '"+PGBinDir+"/pg_ctl -D "+PGDataDir+" status'"); err == nil {
			t.Errorf("postgres runs on mn2: %s", out)
		}
	})

	t.Run("cut and restore link", func(t *testing.T) {
		if !reach(ctx, l, "op", "198.51.100.11") {
			t.Fatal("op cannot ping mn1 before the cut")
		}
		if err := l.CutLink(ctx, "mn1"); err != nil {
			t.Fatal(err)
		}
		cut := time.Now()
		if reach(ctx, l, "op", "198.51.100.11") {
			t.Errorf("op still pings mn1 after CutLink")
		}
		if d := time.Since(cut); d > 2*time.Second {
			t.Errorf("failed ping took %v, want <= 2s", d)
		}
		if st, err := l.Status(ctx); err != nil || st[1].Name != "mn1" || st[1].AddressUp {
			t.Errorf("status after cut: %+v, %v", st, err)
		}
		if err := l.RestoreLink(ctx, "mn1"); err != nil {
			t.Fatal(err)
		}
		if !eventually(5*time.Second, func() bool { return reach(ctx, l, "op", "198.51.100.11") }) {
			t.Errorf("op cannot ping mn1 after RestoreLink")
		}
	})

	t.Run("partition and heal", func(t *testing.T) {
		if err := l.Partition(ctx, "mn1", "mn2"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			from, to string
			want     bool
		}{
			{"mn1", "198.51.100.12", false}, {"mn1", "198.51.100.102", false},
			{"mn2", "198.51.100.11", false}, {"mn2", ClusterAddress, false},
			{"mn1", "198.51.100.2", true}, {"mn2", "198.51.100.2", true},
			{"op", "198.51.100.101", true}, {"op", "198.51.100.102", true},
			{"mn1", "198.51.100.21", true},
		} {
			if got := reach(ctx, l, c.from, c.to); got != c.want {
				t.Errorf("partitioned: %s reaches %s = %v, want %v", c.from, c.to, got, c.want)
			}
		}
		if err := l.Heal(ctx, "mn2", "mn1"); err != nil {
			t.Fatal(err)
		}
		if !reach(ctx, l, "mn1", "198.51.100.12") || !reach(ctx, l, "mn2", ClusterAddress) {
			t.Errorf("mn1 and mn2 still apart after Heal")
		}
		if len(l.Blocks) != 0 {
			t.Errorf("blocks left after Heal: %+v", l.Blocks)
		}
	})

	t.Run("inventory", func(t *testing.T) {
		inv, _, err := playbooks.LoadInventory(l.InventoryPath())
		if err != nil {
			t.Fatalf("lab inventory does not load: %v", err)
		}
		db := inv.Database
		if db.Type != "postgresql" || db.DataDir != PGDataDir || db.BinDir != PGBinDir || db.Method != "streaming" {
			t.Errorf("database: %+v", db)
		}
		if _, err := playbooks.NewSecrets(inv).Secret("db2_password"); err != nil {
			t.Errorf("db2_password: %v", err)
		}
	})

	t.Run("load and status", func(t *testing.T) {
		l2, err := Load(l.Dir)
		if err != nil {
			t.Fatal(err)
		}
		st, err := l2.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 5 {
			t.Errorf("status of %d hosts, want 5", len(st))
		}
		for _, s := range st {
			if !s.Healthy() {
				t.Errorf("%s unhealthy: %v", s.Name, s.Problems)
			}
		}
	})

	// Down: nothing of the lab is left, the root namespace is unchanged.
	pids := labPids(t, l)
	for _, h := range l.Hosts {
		pids = append(pids, h.InitPid, h.SSHDPid)
	}
	start = time.Now()
	if err := l.Down(ctx); err != nil {
		t.Fatal(err)
	}
	down = true
	t.Logf("Down took %v (%d processes)", time.Since(start).Round(time.Millisecond), len(pids))
	if nss := labNamespaces(t, l.Prefix); len(nss) > 0 {
		t.Errorf("namespaces left: %v", nss)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("lab process %d still alive", pid)
		}
	}
	if after := rootNet(t); after != before {
		t.Errorf("root namespace network changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	for _, p := range []string{l.Dir, "/etc/netns/" + l.OperatorNamespace()} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind (%v)", p, err)
		}
	}
	if err := l.Down(ctx); err != nil {
		t.Errorf("second Down: %v", err)
	}
}

func TestUpWithoutPostgres(t *testing.T) {
	requireLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	start := time.Now()
	l, err := Up(ctx, Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Cleanup(func() { _ = l.Down(context.Background()) })
	t.Logf("Up (op, 2 MNs, 2 SNs) took %v", took.Round(time.Millisecond))
	logTimings(t, l)
	if took > 20*time.Second {
		t.Errorf("Up took %v", took)
	}

	inv, _, err := playbooks.LoadInventory(l.InventoryPath())
	if err != nil {
		t.Fatalf("lab inventory does not load: %v", err)
	}
	if inv.Mode != "floating" || inv.ClusterAddress != ClusterAddress || inv.Primary != "mn1" || inv.Standby != "mn2" ||
		inv.Hosts["mn1"].SSHAddress != "198.51.100.101" || len(inv.Groups["service_nodes"]) != 2 ||
		inv.Database.Type != "" || inv.SSH.KnownHosts != l.KnownHostsPath() {
		t.Errorf("inventory: %+v", inv)
	}
	if _, err := os.Stat(inv.Secrets["db2_password"].File); err != nil {
		t.Errorf("db2_password: %v", err)
	}
	if out, err := opSSH(ctx, l, "sn01", "hostname"); err != nil || out != "sn01" {
		t.Errorf("ssh sn01 hostname = %q, %v", out, err)
	}
	if out, err := l.Exec(ctx, "mn1", "ip -o -4 addr show dev eth0"); err != nil || !strings.Contains(string(out), ClusterAddress+"/24") {
		t.Errorf("cluster address not on mn1: %q, %v", out, err)
	}

	start = time.Now()
	if err := l.Down(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Down took %v", time.Since(start).Round(time.Millisecond))
	if nss := labNamespaces(t, l.Prefix); len(nss) > 0 {
		t.Errorf("namespaces left: %v", nss)
	}
	// A given Dir is kept, emptied of what the lab wrote.
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 0 {
		t.Errorf("dir after Down: %v, %v", ents, err)
	}
}

func TestUpFailureLeavesNothing(t *testing.T) {
	requireLab(t)
	before := rootNet(t)
	for _, tc := range []struct {
		name string
		fail func(cancel context.CancelFunc) error
	}{
		{"provision error", func(context.CancelFunc) error { return errors.New("provision failed on purpose") }},
		{"interrupted", func(cancel context.CancelFunc) error { cancel(); return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var seen *Lab
			var pids []int
			l, err := Up(ctx, Config{ServiceNodes: 2, Provision: func(ctx context.Context, l *Lab, h *Host) error {
				seen = l
				if h.Name != "sn02" {
					return nil
				}
				// All hosts are running by now: remember their processes.
				pids = labPids(t, l)
				return tc.fail(cancel)
			}})
			if err == nil || l != nil {
				t.Fatalf("Up = %v, %v; want an error", l, err)
			}
			t.Logf("Up failed as wanted: %v", err)
			if seen == nil {
				t.Fatal("Provision never called")
			}
			if len(pids) == 0 {
				t.Error("no lab processes seen during Provision")
			}
			if nss := labNamespaces(t, seen.Prefix); len(nss) > 0 {
				t.Errorf("namespaces left: %v", nss)
			}
			for _, pid := range pids {
				if alive(pid) {
					t.Errorf("lab process %d still alive", pid)
				}
			}
			for _, p := range []string{seen.Dir, "/etc/netns/" + seen.OperatorNamespace(), filepath.Join(seen.Dir, stateFile)} {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s left behind (%v)", p, err)
				}
			}
		})
	}
	if after := rootNet(t); after != before {
		t.Errorf("root namespace network changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestUpRejectsPrefixInUse(t *testing.T) {
	requireLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := Up(ctx, Config{ServiceNodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Down(context.Background()) })
	if l2, err := Up(ctx, Config{Prefix: l.Prefix, ServiceNodes: 1}); err == nil {
		_ = l2.Down(ctx)
		t.Fatal("second lab with the same prefix came up")
	}
	// The first lab is untouched by the refused one.
	if out, err := opSSH(ctx, l, "mn1", "hostname"); err != nil || out != "mn1" {
		t.Errorf("first lab broken: %q, %v", out, err)
	}
}
