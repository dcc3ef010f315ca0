package labtest

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/integration/lab"
	"github.com/hamnflow/hamnflow/playbooks"
)

// What real xCAT says, on the real lab (Options{Systemd, Postgres,
// RealXCAT}).

// XCAT runs an xCAT command line on host with xCAT's environment and
// returns what it printed (stdout and stderr) and its exit status.
func (e *Env) XCAT(t testing.TB, host, cmdline string) (string, int) {
	t.Helper()
	out := e.Exec(t, host, lab.XCATEnv+"PATH=/opt/xcat/bin:/opt/xcat/sbin:$PATH\n( "+cmdline+" ) 2>&1; echo \"rc=$?\"")
	out = strings.TrimRight(out, "\n")
	i := strings.LastIndex(out, "rc=")
	if i < 0 {
		t.Fatalf("%s on %s: no exit status in %q", cmdline, host, out)
	}
	rc, err := strconv.Atoi(out[i+3:])
	if err != nil {
		t.Fatalf("%s on %s: exit status %q", cmdline, host, out[i:])
	}
	return strings.TrimRight(out[:i], "\n"), rc
}

// clusterAddress is the cluster address of the inventory the lab's
// hamnflow uses (a test may have rewritten it).
func (e *Env) clusterAddress(t testing.TB) string {
	t.Helper()
	inv, _, err := playbooks.LoadInventory(e.Lab.InventoryPath())
	if err != nil {
		t.Fatal(err)
	}
	return inv.ClusterAddress
}

// Offer is one DHCPOFFER a service node got.
type Offer struct{ Address, Server string }

var offerLine = regexp.MustCompile(`^offer yiaddr=(\S+) server=(\S+)$`)

// DHCPOffers asks for mac's lease from host (a service node) and returns
// every offer it got within 3 s.
func (e *Env) DHCPOffers(t testing.TB, host, mac string) []Offer {
	t.Helper()
	var offers []Offer
	for _, l := range strings.Split(e.Exec(t, host, "dhcpprobe -mac "+mac+" -wait 3s"), "\n") {
		if m := offerLine.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			offers = append(offers, Offer{Address: m[1], Server: m[2]})
		}
	}
	return offers
}

// unitStates are systemctl's is-active and is-enabled answers for units on
// host, in order.
func (e *Env) unitStates(t testing.TB, host string, units []string) (active, enabled []string) {
	t.Helper()
	u := strings.Join(units, " ")
	out := e.Exec(t, host, "systemctl is-active "+u+" 2>/dev/null; echo --; systemctl is-enabled "+u+" 2>/dev/null; true")
	a, b, _ := strings.Cut(out, "--")
	return strings.Fields(a), strings.Fields(b)
}

// clusterServices are the units of an MN's xCAT services on the lab's
// hosts (Debian's names).
var clusterServices = []string{"xcatd", "isc-dhcp-server", "named", "conserver-server"}

// CheckServing checks that the cluster is served by mn alone, as real xCAT
// and the services say: xcatd answers lsdef through the cluster address;
// a service node resolves a compute node's name through it, and not from
// old; a DHCP request for a compute node from a service node gets one
// offer, from mn, of the node's address; conserver on mn has every
// console; mn's services run and start at boot, old's (when it is
// reachable) neither.
func (e *Env) CheckServing(t testing.TB, mn, old string) {
	t.Helper()
	cluster := e.clusterAddress(t)
	name, ip, mac := lab.ComputeNode(1)

	active, enabled := e.unitStates(t, mn, clusterServices)
	if strings.Join(active, " ") != "active active active active" || strings.Join(enabled, " ") != "enabled enabled enabled enabled" {
		t.Errorf("%s: %v are %v, start at boot: %v; want all active and enabled", mn, clusterServices, active, enabled)
	}
	if old != "" {
		active, enabled := e.unitStates(t, old, clusterServices)
		for i := range clusterServices {
			if i < len(active) && active[i] == "active" || i < len(enabled) && enabled[i] == "enabled" {
				t.Errorf("old primary %s: %v are %v, start at boot: %v; want none active or enabled", old, clusterServices, active, enabled)
				break
			}
		}
	}

	if out, rc := e.XCAT(t, mn, "XCATHOST="+cluster+":3001 lsdef "+name+" -i mac,xcatmaster"); rc != 0 || !strings.Contains(out, "mac="+mac) {
		t.Errorf("lsdef %s through %s:3001 on %s: exit %d\n%s", name, cluster, mn, rc, out)
	}

	sn := e.Lab.Inventory().Groups["service_nodes"][0]
	if out := e.Exec(t, sn, "host -W 3 "+name+"."+lab.Domain+" "+cluster+" || true"); !strings.Contains(out, "has address "+ip) {
		t.Errorf("%s: host %s.%s %s:\n%s", sn, name, lab.Domain, cluster, out)
	}
	if old != "" {
		if addr := e.Lab.Host(old).Address; addr != cluster {
			if out := e.Exec(t, sn, "host -W 2 "+name+"."+lab.Domain+" "+addr+" >/dev/null 2>&1 && echo answered || echo silent"); strings.TrimSpace(out) != "silent" {
				t.Errorf("%s: the old primary %s (%s) still answers DNS for %s", sn, old, addr, name)
			}
		}
	}

	offers := e.DHCPOffers(t, sn, mac)
	mnAddrs := e.Exec(t, mn, "ip -o -4 addr show | awk '{print $4}' | cut -d/ -f1")
	switch {
	case len(offers) != 1:
		t.Errorf("%s: DHCP for %s (%s): %d offers %v, want one from %s", sn, name, mac, len(offers), offers, mn)
	case offers[0].Address != ip || !strings.Contains("\n"+mnAddrs+"\n", "\n"+offers[0].Server+"\n"):
		t.Errorf("%s: DHCP for %s (%s): offer %+v, want %s from %s (%s)", sn, name, mac, offers[0], ip, mn, strings.Fields(mnAddrs))
	}

	if out := e.Exec(t, mn, "grep -c '^console ' /etc/conserver.cf || true"); strings.TrimSpace(out) != strconv.Itoa(lab.ComputeNodes) {
		t.Errorf("%s: /etc/conserver.cf has %s consoles, want %d", mn, strings.TrimSpace(out), lab.ComputeNodes)
	}
}

// CheckBootFiles checks that nodeset on mn wrote node's boot files for
// osimage img, served from the cluster address, and that a service node
// fetches the boot loader from there over TFTP.
func (e *Env) CheckBootFiles(t testing.TB, mn, node, img string) {
	t.Helper()
	cluster := e.clusterAddress(t)
	out := e.Exec(t, mn, "cat /tftpboot/pxelinux.cfg/"+node+" 2>&1; test -s /install/autoinst/"+node+" && echo autoinst-ok")
	if !strings.Contains(out, "KERNEL xcat/osimage/"+img+"/vmlinuz") || !strings.Contains(out, "http://"+cluster+":80/install/autoinst/"+node) || !strings.Contains(out, "autoinst-ok") {
		t.Errorf("%s: boot files of %s (osimage %s):\n%s", mn, node, img, out)
	}
	sn := e.Lab.Inventory().Groups["service_nodes"][0]
	get := "timeout 8 tftp -m binary " + cluster + " -c get pxelinux.0"
	if out := e.Exec(t, sn, "cd /tmp && rm -f pxelinux.0 && { "+get+" || { sleep 1; "+get+"; }; } && cmp pxelinux.0 /usr/lib/PXELINUX/pxelinux.0 && echo tftp-ok || true"); !strings.Contains(out, "tftp-ok") {
		t.Errorf("%s: tftp get pxelinux.0 from %s: %s", sn, cluster, out)
	}
}
