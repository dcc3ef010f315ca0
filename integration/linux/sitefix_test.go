//go:build lab

package linux

import (
	"strconv"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/integration/lab"
	"github.com/hamnflow/hamnflow/integration/labtest"
)

// siteRead is what xcat_site reads, for comparing before and after.
const siteRead = "lsdef -t site -o clustersite -i master,domain,nameservers; lsdef -t network -i dhcpserver,tftpserver,nameservers; " +
	"lsdef -t node -o all -i xcatmaster,servicenode,tftpserver,nfsserver,nameservers"

// TestSiteFixSnapshot, on the real lab: xCAT settings that name mn1's
// own address or hostname (site.master, the network's DHCP server,
// cn01's xcatmaster, cn02's tftpserver by name) are refused by default;
// with --set fix_site=yes the failover fixes them on mn1 before anything
// changes, so that xCAT on the new primary names the cluster, and
// `hamnflow rollback` puts exactly the old values back. The failover
// leaves a snapshot of xCAT's database and configuration on mn2 that
// `hamnflow show` names.
func TestSiteFixSnapshot(t *testing.T) {
	env := labtest.Up(t, realLab)
	env.MustRun(t, 0, "run", "pg-setup", "--yes")
	env.MustRun(t, 0, "run", "sync-setup", "--yes")
	mn1 := env.Lab.Host("mn1").Address
	net := "$(lsdef -t network | awk '/198_51_100_0/ {print $1; exit}')"
	for _, c := range []string{
		"chdef -t site master=" + mn1,
		"chdef -t network -o " + net + " dhcpserver=" + mn1,
		"chdef -t node -o cn01 xcatmaster=" + mn1,
		"chdef -t node -o cn02 tftpserver=mn1",
	} {
		if out, rc := env.XCAT(t, "mn1", c); rc != 0 {
			t.Fatalf("%s on mn1: exit %d: %s", c, rc, out)
		}
	}
	before, rc := env.XCAT(t, "mn1", siteRead)
	if rc != 0 || !strings.Contains(before, "master="+mn1) || !strings.Contains(before, "tftpserver=mn1\n") {
		t.Fatalf("mn1's settings before: exit %d\n%s", rc, before)
	}

	// (1) Refused by default, before anything changes, naming the fix
	// parameter.
	r := env.MustRun(t, 1, "run", "failover", "--yes", "--stream")
	out := r.Combined()
	for _, want := range []string{"site.master names mn1's own " + mn1, "chdef -t site master=" + lab.ClusterAddress,
		"noderes.tftpserver of 1 node(s) (cn02) names mn1's own mn1", "--set fix_site=yes"} {
		if !strings.Contains(out, want) {
			t.Errorf("failover without fix_site: no %q in\n%s", want, out)
		}
	}
	if !env.Holds(t, "mn1", lab.ClusterAddress) || env.Holds(t, "mn2", lab.ClusterAddress) {
		t.Fatalf("the refused failover moved the cluster address")
	}
	m := runID.FindStringSubmatch(r.Stderr)
	if m == nil {
		t.Fatalf("no run id in\n%s", r)
	}
	env.MustRun(t, 0, "rollback", m[1], "--yes")

	// (2) Fixed with fix_site=yes, on mn1 before the takeover: xCAT on
	// mn2 answers with the cluster's address (the hostname for a
	// hostname).
	r = env.MustRun(t, 0, "run", "failover", "--yes", "--stream", "--set", "fix_site=yes")
	t.Logf("failover with fix_site=yes; slow steps: %s", slowSteps(r.Combined()))
	m = runID.FindStringSubmatch(r.Combined())
	if m == nil {
		t.Fatalf("no run id in\n%s", r)
	}
	id := m[1]
	if !env.Holds(t, "mn2", lab.ClusterAddress) {
		t.Fatalf("mn2 does not hold %s after the failover", lab.ClusterAddress)
	}
	after, rc := env.XCAT(t, "mn2", siteRead)
	if rc != 0 {
		t.Fatalf("lsdef on mn2: exit %d: %s", rc, after)
	}
	for _, want := range []string{"master=" + lab.ClusterAddress + "\n", "dhcpserver=" + lab.ClusterAddress + "\n", "tftpserver=" + lab.ClusterName + "\n"} {
		if !strings.Contains(after, want) {
			t.Errorf("mn2's settings after the failover with fix_site=yes lack %q:\n%s", want, after)
		}
	}
	if strings.Contains(after, "="+mn1+"\n") || strings.Contains(after, "=mn1\n") {
		t.Errorf("mn2's settings still name mn1:\n%s", after)
	}
	env.CheckServing(t, "mn2", "mn1")

	// (3) The snapshot is on mn2, and show names it.
	show := env.MustRun(t, 0, "show", id).Stdout
	snap := "/var/lib/hamnflow/snapshots/" + id + "/"
	i := strings.Index(show, "snapshot: "+snap)
	if i < 0 {
		t.Fatalf("hamnflow show %s does not name the snapshot under %s:\n%s", id, snap, show)
	}
	path := strings.Fields(show[i+len("snapshot: "):])[0]
	for _, want := range []string{"fixed site clustersite master: " + mn1 + " -> " + lab.ClusterAddress, "fixed node cn02 tftpserver: mn1 -> " + lab.ClusterName} {
		if !strings.Contains(show, want) {
			t.Errorf("hamnflow show %s: no %q in\n%s", id, want, show)
		}
	}
	ls := env.Exec(t, "mn2", "stat -c %a "+path+"; grep -c . "+path+"/db/site.csv; grep '\"master\"' "+path+"/db/site.csv; ls "+path+"/db | wc -l; "+
		"tar -tf "+path+"/etc-xcat.tar | grep -c -e key.pem -e cred.pem -e cfgloc -e _key$ -e ddns.key -e /private/ ; tar -tf "+path+"/etc-xcat.tar | grep -c ca-cert.pem")
	t.Logf("snapshot %s on mn2: %s", path, ls)
	f := strings.Fields(ls)
	if tables, _ := strconv.Atoi(f[min(3, len(f)-1)]); len(f) != 6 || f[0] != "700" || f[2] != `"master","`+lab.ClusterAddress+`",,` || tables < 60 || f[4] != "0" || f[5] != "1" {
		t.Errorf("snapshot %s on mn2: mode, site rows, master, tables, private files in the tar, CA certificate: %q", path, f)
	}

	// (4) Rollback puts exactly the old values back on mn1.
	rb := env.MustRun(t, 0, "rollback", id, "--yes")
	t.Logf("rollback:\n%s", rb.Combined())
	if !env.Holds(t, "mn1", lab.ClusterAddress) || env.Holds(t, "mn2", lab.ClusterAddress) {
		t.Errorf("after rollback mn1 must hold %s and mn2 not", lab.ClusterAddress)
	}
	back, rc := env.XCAT(t, "mn1", siteRead)
	if rc != 0 || back != before {
		t.Errorf("mn1's settings after rollback (exit %d):\n%s\nwant as before the fix:\n%s", rc, back, before)
	}
}
