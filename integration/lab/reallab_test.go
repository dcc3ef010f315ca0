//go:build lab

package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The real lab: systemd hosts, real xCAT 2.19 on PostgreSQL. Brought up
// once by TestRealLab, whose subtests share it.
//
// HAMNFLOW_LAB_PREFIX names the lab (default: "rl" and random digits);
// HAMNFLOW_RECORD_REAL=1 rewrites testdata/real/ from what xCAT prints.

// requireSystemdLab fails (never skips) when this machine cannot run the
// systemd hosts or has no xCAT source.
func requireSystemdLab(t *testing.T) Config {
	t.Helper()
	requireLab(t)
	cfg := Config{Systemd: true, Postgres: true, RealXCAT: true}
	if err := cfg.checkSystemd(); err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.xcatSource(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// testPrefix is $HAMNFLOW_LAB_PREFIX, else "rl" and four random hex digits.
func testPrefix() string {
	if p := os.Getenv("HAMNFLOW_LAB_PREFIX"); p != "" {
		return p
	}
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return "rl" + hex.EncodeToString(b)
}

// testLog is an io.Writer that logs each line through t.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestRealLab(t *testing.T) {
	cfg := requireSystemdLab(t)
	before := rootNet(t)
	cfg.Prefix = testPrefix()
	cfg.Log = testLog{t}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	upCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	start := time.Now()
	l, err := Up(upCtx, cfg) // interrupted or failed: torn down
	stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Up (real lab: systemd hosts, xCAT on PostgreSQL) took %v", time.Since(start).Round(time.Millisecond))
	logTimings(t, l)
	uninstall := SetupSignalTeardown(l)
	down := false
	t.Cleanup(func() {
		uninstall()
		if !down {
			if err := l.Down(context.Background()); err != nil {
				t.Error(err)
			}
		}
	})
	logMemory(t, l)
	version, err := os.ReadFile(filepath.Join(l.XCATSrc, "Version"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{l: l, version: strings.TrimSpace(string(version)), record: os.Getenv("HAMNFLOW_RECORD_REAL") != ""}

	t.Run("pid 1 is systemd", func(t *testing.T) {
		for _, h := range []string{"mn1", "mn2", "sn01", "sn02"} {
			out, err := l.Exec(ctx, h, "cat /proc/1/comm")
			if got := strings.TrimSpace(string(out)); err != nil || got != "systemd" {
				t.Errorf("%s: /proc/1/comm = %q, %v; want systemd", h, got, err)
			}
		}
	})

	t.Run("ssh from operator", func(t *testing.T) {
		for target, want := range map[string]string{"mn1": "mn1", "198.51.100.102": "mn2", "sn01": "sn01"} {
			if out, err := opSSH(ctx, l, target, "hostname"); err != nil || out != want {
				t.Errorf("ssh root@%s hostname = %q, %v; want %q", target, out, err, want)
			}
		}
		if out, err := opSSH(ctx, l, "mn1", "systemctl is-active ssh.service"); err != nil || out != "active" {
			t.Errorf("ssh.service on mn1: %q, %v", out, err)
		}
	})

	t.Run("xcat version", func(t *testing.T) {
		r := rec.run(t, "lsdef-v", "mn1", "lsdef -v", 0)
		if want := "lsdef - Version " + rec.version; !strings.HasPrefix(r.stdout, want) {
			t.Errorf("lsdef -v = %q, want it to start with %q", r.stdout, want)
		}
		r = rec.run(t, "lsxcatd-a", "mn1", "lsxcatd -a", 0)
		for _, want := range []string{"Version " + rec.version, "This is a Management Node", "dbengine=Pg", "dbhost=" + ClusterAddress} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("lsxcatd -a lacks %q:\n%s", want, r.stdout)
			}
		}
	})

	t.Run("nodes", func(t *testing.T) {
		r := rec.run(t, "lsdef-t-node", "mn1", "lsdef -t node", 0)
		for i := 1; i <= ComputeNodes; i++ {
			name, _, _ := ComputeNode(i)
			if !strings.Contains(r.stdout, name+"  (node)") {
				t.Errorf("lsdef -t node lacks %s:\n%s", name, r.stdout)
			}
		}
		r = rec.run(t, "nodels-service", "mn1", "nodels service", 0)
		if strings.Fields(r.stdout)[0] != "sn01" || !strings.Contains(r.stdout, "sn02") {
			t.Errorf("nodels service = %q", r.stdout)
		}
		r = rec.run(t, "lsdef-cn01-l", "mn1", "lsdef cn01 -l", 0)
		if !strings.Contains(r.stdout, "mac=02:42:c6:33:65:01") || !strings.Contains(r.stdout, "xcatmaster="+ClusterAddress) {
			t.Errorf("lsdef cn01 -l:\n%s", r.stdout)
		}
		rec.run(t, "lsdef-t-osimage", "mn1", "lsdef -t osimage", 0)
		rec.run(t, "lsdef-t-osimage-l", "mn1", "lsdef -t osimage -l", 0)
		rec.run(t, "lsdef-t-network-l", "mn1", "lsdef -t network -l", 0)
		rec.run(t, "tabdump-site", "mn1", "tabdump site", 0)
		rec.run(t, "tabdump-networks", "mn1", "tabdump networks", 0)
		rec.run(t, "tabdump-nodelist", "mn1", "tabdump nodelist", 0)
		r = rec.run(t, "lsdef-nosuchnode", "mn1", "lsdef nosuchnode", 1)
		if want := "Error: [mn1]: Could not find an object named 'nosuchnode' of type 'node'."; !strings.Contains(r.stderr, want) {
			t.Errorf("lsdef nosuchnode: stderr %q, want %q", r.stderr, want)
		}
	})

	t.Run("database", func(t *testing.T) {
		out, err := l.PSQL(ctx, "mn1", "SELECT count(*) FROM nodelist")
		if want := strconv.Itoa(ComputeNodes + 2); err != nil || strings.TrimSpace(out) != want {
			t.Errorf("xCAT's nodelist in PostgreSQL on mn1: %q, %v; want %s rows", out, err, want)
		}
		for _, h := range []string{"mn1", "mn2"} {
			out, err := l.Exec(ctx, h, "cut -d'|' -f1,2 /etc/xcat/cfgloc")
			if want := "Pg:dbname=xcatdb;host=" + ClusterAddress + "|xcatadm"; err != nil || strings.TrimSpace(string(out)) != want {
				t.Errorf("cfgloc on %s = %q, %v; want %q", h, out, err, want)
			}
		}
	})

	t.Run("primary services", func(t *testing.T) {
		r := rec.run(t, "systemctl-is-active-primary", "mn1", "systemctl is-active xcatd named isc-dhcp-server conserver-server postgresql@15-main", 0)
		if got := strings.Fields(r.stdout); strings.Join(got, " ") != "active active active active active" {
			t.Errorf("mn1: systemctl is-active = %q", r.stdout)
		}
		// tftpd is xcatd's (AAsn.pm:1473), in xcatd's cgroup.
		if out, err := l.Exec(ctx, "mn1", "cat /proc/$(pgrep -x in.tftpd)/cgroup"); err != nil || !strings.Contains(string(out), "/system.slice/xcatd.service") {
			t.Errorf("in.tftpd on mn1: %q, %v", out, err)
		}
		rec.run(t, "systemctl-is-enabled-primary", "mn1", "systemctl is-enabled xcatd named isc-dhcp-server conserver-server", 0)
		rec.run(t, "systemctl-show-xcatd-primary", "mn1", "systemctl show -p Id,Names,LoadState,ActiveState,SubState,UnitFileState,Type xcatd.service", 0)
		rec.run(t, "systemctl-show-isc-dhcp-server-primary", "mn1", "systemctl show -p Id,LoadState,ActiveState,SubState,UnitFileState,SourcePath isc-dhcp-server.service", 0)
		rec.run(t, "systemctl-status-xcatd-primary", "mn1", "systemctl status xcatd.service --no-pager -n 0", 0)
	})

	t.Run("standby services", func(t *testing.T) {
		r := rec.run(t, "systemctl-is-enabled-standby", "mn2", "systemctl is-enabled xcatd named isc-dhcp-server", 1)
		if got := strings.Fields(r.stdout); strings.Join(got, " ") != "disabled disabled disabled" {
			t.Errorf("mn2: systemctl is-enabled xcatd named isc-dhcp-server = %q", r.stdout)
		}
		r = rec.run(t, "systemctl-is-active-standby", "mn2", "systemctl is-active xcatd named isc-dhcp-server", 3)
		if got := strings.Fields(r.stdout); strings.Join(got, " ") != "inactive inactive inactive" {
			t.Errorf("mn2: systemctl is-active = %q", r.stdout)
		}
		rec.run(t, "systemctl-show-xcatd-standby", "mn2", "systemctl show -p Id,Names,LoadState,ActiveState,SubState,UnitFileState,Type xcatd.service", 0)
		rec.run(t, "systemctl-is-enabled-postgresql-standby", "mn2", "systemctl is-enabled postgresql.service postgresql@15-main.service", 0) // enabled-runtime counts
		rec.run(t, "systemctl-is-enabled-bind9-alias-standby", "mn2", "systemctl is-enabled named.service bind9.service", 1)
		rec.run(t, "systemctl-status-xcatd-standby", "mn2", "systemctl status xcatd.service --no-pager -n 0", 3)
		r = rec.run(t, "lsdef-xcatd-down", "mn2", "lsdef -t node", 1)
		if !strings.Contains(r.stdout+r.stderr, "Unable to open socket connection to xcatd daemon") {
			t.Errorf("lsdef on mn2 (no xcatd): %+v", r)
		}
	})

	t.Run("dns", func(t *testing.T) {
		r := rec.run(t, "makedns-n", "mn1", "makedns -n", 0)
		if !strings.Contains(r.stdout, "DNS setup is completed") {
			t.Errorf("makedns -n:\n%s", r.stdout)
		}
		r = rec.run(t, "dig-cn01", "mn1", "dig +noall +answer @198.51.100.11 cn01.lab", 0)
		if !regexp.MustCompile(`^cn01\.lab\.\s+\d+\s+IN\s+A\s+198\.51\.100\.111$`).MatchString(strings.TrimSpace(r.stdout)) {
			t.Errorf("dig cn01.lab @mn1 = %q", r.stdout)
		}
		// The standby asks the cluster address, as the nodes do.
		r = rec.run(t, "host-cn01-standby", "mn2", "host cn01.lab "+ClusterAddress, 0)
		if !strings.Contains(r.stdout, "cn01.lab has address 198.51.100.111") {
			t.Errorf("host cn01.lab %s on mn2 = %q", ClusterAddress, r.stdout)
		}
		rec.run(t, "dig-reverse-cn01", "mn1", "dig +noall +answer @198.51.100.11 -x 198.51.100.111", 0)
	})

	t.Run("dhcp", func(t *testing.T) {
		rec.run(t, "makedhcp-n", "mn1", "makedhcp -n", 0)
		rec.run(t, "makedhcp-a", "mn1", "makedhcp -a", 0)
		r := rec.run(t, "makedhcp-q-cn01", "mn1", "makedhcp -q cn01", 0)
		if want := "cn01: ip-address = 198.51.100.111, hardware-address = 02:42:c6:33:65:01"; strings.TrimSpace(r.stdout) != want {
			t.Errorf("makedhcp -q cn01 = %q, want %q", r.stdout, want)
		}
		rec.run(t, "makedhcp-q-all", "mn1", "makedhcp -q all", 0)
		rec.run(t, "makedhcp-q-nosuchnode", "mn1", "makedhcp -q nosuchnode", 1)
		if out, err := l.Exec(ctx, "mn1", "systemctl is-active isc-dhcp-server"); err != nil || strings.TrimSpace(string(out)) != "active" {
			t.Errorf("dhcpd after makedhcp: %q, %v", out, err)
		}
	})

	t.Run("conserver", func(t *testing.T) {
		rec.run(t, "makeconservercf", "mn1", "makeconservercf", 0)
		if out, err := l.Exec(ctx, "mn1", "sleep 1; systemctl is-active conserver-server; grep -c '^console ' /etc/conserver.cf"); err != nil ||
			strings.Join(strings.Fields(string(out)), " ") != "active "+strconv.Itoa(ComputeNodes) {
			t.Errorf("conserver after makeconservercf: %q, %v", out, err)
		}
	})

	t.Run("nodeset", func(t *testing.T) {
		img := Osimages[0]
		r := rec.run(t, "nodeset-cn01-osimage", "mn1", "nodeset cn01 osimage="+img, 0)
		if want := "cn01: install rhels8.6-x86_64-compute"; strings.TrimSpace(r.stdout) != want {
			t.Errorf("nodeset = %q, want %q", r.stdout, want)
		}
		out, err := l.Exec(ctx, "mn1", "cat /tftpboot/pxelinux.cfg/cn01; test -s /install/autoinst/cn01 && test -s /tftpboot/xcat/osimage/"+img+"/vmlinuz && echo files-ok")
		if err != nil || !strings.Contains(string(out), "KERNEL xcat/osimage/"+img+"/vmlinuz") ||
			!strings.Contains(string(out), "inst.ks=http://"+ClusterAddress+":80/install/autoinst/cn01") || !strings.Contains(string(out), "files-ok") {
			t.Errorf("boot files of cn01: %v\n%s", err, out)
		}
		// A service node fetches the boot loader from the cluster address,
		// as a node would (UDP: one retry).
		get := "timeout 8 tftp -m binary " + ClusterAddress + " -c get pxelinux.0"
		if out, err := l.Exec(ctx, "sn01", "cd /tmp && { "+get+" || { sleep 1; "+get+"; }; } && cmp pxelinux.0 /usr/lib/PXELINUX/pxelinux.0 && echo tftp-ok"); err != nil ||
			!strings.Contains(string(out), "tftp-ok") {
			t.Errorf("tftp get pxelinux.0 from %s: %v: %s", ClusterAddress, err, out)
		}
		rec.run(t, "lsdef-cn01-currstate", "mn1", "lsdef cn01 -i currstate,currchain,provmethod", 0)
		rec.run(t, "nodeset-cn01-stat", "mn1", "nodeset cn01 stat", 0)
		rec.run(t, "nodeset-cn02-osimage-2", "mn1", "nodeset cn02 osimage="+Osimages[1], 0)
	})

	// Error messages of xCAT when settings are missing; the state changes
	// are undone after each. Run last: they change the cluster.
	t.Run("errors", func(t *testing.T) {
		const bare = "mkdef -t node -o cn99 groups=compute ip=198.51.100.199 arch=x86_64 netboot=pxe"
		rec.run(t, "nodeset-nosuchimage", "mn1", "nodeset cn02 osimage=nosuchimage", 1)
		rec.setup(t, "mn1", bare)
		rec.run(t, "nodeset-no-mac", "mn1", "nodeset cn99 osimage="+Osimages[0], 1)
		rec.run(t, "makedhcp-no-mac", "mn1", "makedhcp cn99", 0)                // a warning only
		rec.run(t, "makeconservercf-no-cons", "mn1", "makeconservercf cn99", 0) // silent
		rec.setup(t, "mn1", "rmdef cn99")
		rec.setup(t, "mn1", "mkdef -t osimage -o rhels7.9-x86_64-install-compute imagetype=linux osname=Linux osvers=rhels7.9 osarch=x86_64 "+
			"provmethod=install profile=compute pkgdir=/install/rhels7.9/x86_64 template=/opt/xcat/share/xcat/install/rh/compute.rhels7.tmpl")
		rec.run(t, "nodeset-missing-kernel", "mn1", "nodeset cn03 osimage=rhels7.9-x86_64-install-compute", 1)
		rec.setup(t, "mn1", "chdef -t site master=")
		rec.run(t, "nodeset-no-master", "mn1", "nodeset cn04 osimage="+Osimages[0], 1)
		rec.setup(t, "mn1", "chdef -t site master="+ClusterAddress)
		rec.setup(t, "mn1", "chdef -t site domain=")
		rec.run(t, "makedns-no-domain", "mn1", "makedns -n", 1)
		rec.setup(t, "mn1", "chdef -t site domain="+Domain)
		net := "$(lsdef -t network | awk '/198_51_100_0/ {print $1; exit}')"
		rec.setup(t, "mn1", "chdef sn01 setupdhcp=1 && chdef -t network -o "+net+" dhcpserver=")
		rec.run(t, "makedhcp-hierarchy-no-dhcpserver", "mn1", "makedhcp -n", 1)
		rec.setup(t, "mn1", "chdef -t network -o "+net+" dhcpserver="+ClusterAddress)
		rec.run(t, "makedhcp-hierarchy-sn-no-xcatd", "mn1", "makedhcp -n", 1)
		rec.setup(t, "mn1", "chdef sn01 setupdhcp= >/dev/null; makedhcp -n && makedhcp -a")
		// Without osimages.
		rec.setup(t, "mn1", "lsdef -t osimage -z >/root/osimages.stanza; rmdef -t osimage -o "+strings.Join(append([]string{"rhels7.9-x86_64-install-compute"}, Osimages...), ","))
		rec.run(t, "lsdef-t-osimage-none", "mn1", "lsdef -t osimage", 0)
		rec.run(t, "lsdef-t-osimage-l-none", "mn1", "lsdef -t osimage -l", 0)
		rec.setup(t, "mn1", "mkdef -z </root/osimages.stanza")
	})

	// Down: nothing of the lab is left, the root namespace is unchanged.
	pids := labPids(t, l)
	for _, h := range l.Hosts {
		pids = append(pids, h.InitPid, h.NspawnPid)
	}
	mounts, cgroups := append([]string(nil), l.Mounts...), append([]string(nil), l.Cgroups...)
	start = time.Now()
	if err := l.Down(ctx); err != nil {
		t.Fatal(err)
	}
	down = true
	t.Logf("Down took %v (%d processes)", time.Since(start).Round(time.Millisecond), len(pids))
	logTimings(t, l)
	if nss := labNamespaces(t, l.Prefix); len(nss) > 0 {
		t.Errorf("namespaces left: %v", nss)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("lab process %d still alive", pid)
		}
	}
	for _, m := range mounts {
		if ok, _ := isMountpoint(m); ok {
			t.Errorf("overlay %s still mounted", m)
		}
	}
	for _, cg := range cgroups {
		for _, hier := range cgroupHierarchies {
			if _, err := os.Stat(filepath.Join(hier, cg)); err == nil {
				t.Errorf("cgroup %s/%s left", hier, cg)
			}
		}
	}
	if after := rootNet(t); after != before {
		t.Errorf("root namespace network changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if _, err := os.Stat(l.Dir); err == nil {
		t.Errorf("%s left behind", l.Dir)
	}
	if ok, _ := baseComplete(l.Base); !ok {
		t.Errorf("base %s damaged by the lab", l.Base)
	}
}

// recorder runs xCAT commands on lab hosts and, when recording, writes
// what they print to testdata/real/.
type recorder struct {
	l       *Lab
	version string
	record  bool
}

type result struct {
	stdout, stderr string
	exit           int
}

// run runs script on host with xCAT's environment, separating stdout and
// stderr (through files in the host's /tmp), and fails t unless it exits
// with want. Recording, it writes testdata/real/<name>.txt (and
// <name>.stderr.txt) with a header line.
func (r *recorder) run(t *testing.T, name, host, script string, want int) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h := r.l.Host(host)
	base := "/tmp/rec-" + name
	wrapped := fmt.Sprintf("%s( %s ) >%s.out 2>%s.err; echo $? >%s.rc", XCATEnv, script, base, base, base)
	if out, err := r.l.Exec(ctx, host, wrapped); err != nil {
		t.Fatalf("%s on %s: %v: %s", name, host, err, out)
	}
	read := func(ext string) string {
		b, err := os.ReadFile(filepath.Join(h.Root, base+ext))
		if err != nil {
			t.Fatalf("%s on %s: %v", name, host, err)
		}
		return string(b)
	}
	res := result{stdout: read(".out"), stderr: read(".err")}
	res.exit, _ = strconv.Atoi(strings.TrimSpace(read(".rc")))
	if (want == 0) != (res.exit == 0) { // want != 0: any failure
		t.Errorf("%s: `%s` on %s exited %d, want %d\nstdout:\n%s\nstderr:\n%s", name, script, host, res.exit, want, res.stdout, res.stderr)
	}
	if r.record {
		r.write(t, name, host, script, "stdout", res.exit, res.stdout)
		if res.stderr != "" {
			r.write(t, name+".stderr", host, script, "stderr", res.exit, res.stderr)
		}
	}
	return res
}

// setup runs an xCAT command that prepares (or undoes) a recording's
// state; it must succeed and is not recorded.
func (r *recorder) setup(t *testing.T, host, script string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := r.l.Exec(ctx, host, XCATEnv+script); err != nil {
		t.Fatalf("on %s: %s: %v: %s", host, script, err, out)
	}
}

func (r *recorder) write(t *testing.T, name, host, script, stream string, exit int, body string) {
	t.Helper()
	header := fmt.Sprintf("# %s$ %s  (xCAT %s, real lab; %s; exit %d)\n", host, script, r.version, stream, exit)
	if err := os.MkdirAll("testdata/real", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata/real", name+".txt"), []byte(header+body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// logMemory logs what each host's processes use (proportional set size,
// shared pages split between their users).
func logMemory(t *testing.T, l *Lab) {
	t.Helper()
	var total int
	for _, h := range l.Hosts {
		if h.Root == "" {
			continue
		}
		kb := 0
		for _, pid := range cgroupPids(filepath.Join(cgroupHierarchies[1], l.cgroupName(h))) {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(b), "\n") {
				if f := strings.Fields(line); len(f) >= 2 && f[0] == "Pss:" {
					n, _ := strconv.Atoi(f[1])
					kb += n
				}
			}
		}
		total += kb
		t.Logf("  memory of %-5s %4d MiB (PSS)", h.Name, kb/1024)
	}
	t.Logf("  memory of the lab %d MiB (PSS)", total/1024)
}
