package labtest

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// PrepareStandby does what the guide's standby set-up and file
// synchronisation leave behind before a failover: xCAT's database location
// (/etc/xcat/cfgloc) and the install directory copied to mn2, and the
// primary's xcatd, DHCP and conserver running on mn1.
func (e *Env) PrepareStandby(t testing.TB) {
	t.Helper()
	cfgloc := e.Exec(t, "mn1", "cat /etc/xcat/cfgloc")
	e.Exec(t, "mn2", "mkdir -p /etc/xcat && umask 077 && cat > /etc/xcat/cfgloc <<'EOF'\n"+cfgloc+"EOF\n")
	src := filepath.Join(e.Lab.Host("mn1").Root, "install") + "/."
	dst := filepath.Join(e.Lab.Host("mn2").Root, "install")
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("copy /install to mn2: %v\n%s", err, out)
	}
	e.Exec(t, "mn1", "/etc/init.d/xcatd start && /etc/init.d/isc-dhcp-server start && /etc/init.d/conserver-server start && /etc/init.d/bind9 start")
}
