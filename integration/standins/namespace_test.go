//go:build lab

package standins_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/integration/standins"
)

// TestInNamespace runs mktcpip for real and xcatd on its real ports inside
// a new network and UTS namespace (unshare), as on a lab host; nothing
// touches the machine's own network.
func TestInNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		needMachine(t, "needs root for unshare")
	}
	if err := exec.Command("unshare", "--net", "--uts", "true").Run(); err != nil {
		needMachine(t, "unshare --net --uts: %v", err)
	}
	root := t.TempDir()
	if err := standins.Install(root, exe, "aix"); err != nil {
		t.Fatal(err)
	}
	r := func(p string) string { return filepath.Join(root, p) }
	script := `set -e
ip link set lo up
ip link add eth0 type veth peer name eth0peer
ip link set eth0 up
trap '` + r("/etc/init.d/xcatd") + ` stop >/dev/null' EXIT
` + r("/opt/aix/bin/mktcpip") + ` -haixmn1 -a198.51.100.10 -m255.255.255.0 -ien1 -g198.51.100.1 -Ano -tN/A -s
echo "hostname=$(hostname)"
ip -o -4 addr show dev eth0 | awk '{print "addr=" $4}'
` + r("/opt/aix/bin/startsrc") + ` -s xcatd
` + r("/opt/xcat/bin/lsdef") + ` -t osimage | head -1
`
	cmd := exec.Command("unshare", "--net", "--uts", "sh", "-c", script)
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "XCAT_STANDIN_") {
			env = append(env, e)
		}
	}
	cmd.Env = append(env, standins.RootEnv+"="+root)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"en1\naixmn1\ninet0 changed\n",
		"hostname=aixmn1\n",
		"addr=198.51.100.10/24\n",
		"0513-059 The xcatd Subsystem has been started.",
		"61cosi  (osimage)\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	calls, err := standins.ReadCalls(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) == 0 || calls[0].Command != "mktcpip" || calls[0].Exit != 0 {
		t.Errorf("first call = %+v", calls)
	}
	// The call after mktcpip ran on the renamed host.
	if len(calls) > 1 && calls[1].Host != "aixmn1" {
		t.Errorf("call after mktcpip recorded host %q", calls[1].Host)
	}
}
