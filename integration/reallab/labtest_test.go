//go:build lab

// Package reallab holds end-to-end checks of the lab's systemd hosts
// through the test harness (integration/labtest); the real lab itself is
// proven by integration/lab's TestRealLab.
package reallab

import (
	"os"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/integration/lab"
	"github.com/hamnflow/hamnflow/integration/labtest"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// labtest.Options{Systemd: true} gives hosts with a real systemd that the
// harness reaches as it reaches the namespace hosts.
func TestLabtestSystemdHosts(t *testing.T) {
	env := labtest.Up(t, labtest.Options{Systemd: true, Postgres: true, ServiceNodes: 1})
	for _, h := range []string{"mn1", "mn2", "sn01"} {
		if got := strings.TrimSpace(env.Exec(t, h, "cat /proc/1/comm")); got != "systemd" {
			t.Errorf("%s: PID 1 is %q, want systemd", h, got)
		}
	}
	if got := strings.Fields(env.Exec(t, "mn1", "systemctl is-active postgresql@15-main ssh")); strings.Join(got, " ") != "active active" {
		t.Errorf("mn1: postgresql, ssh: %v", got)
	}
	// The standby's PostgreSQL is stopped, and postgresql.service, which
	// starts Debian's clusters at boot, disabled (the cluster's own unit
	// reads "enabled-runtime": postgresql-common's generator wants it).
	if got := strings.Fields(env.Exec(t, "mn2", "systemctl is-enabled postgresql.service postgresql@15-main.service; systemctl is-active postgresql@15-main.service || true")); strings.Join(got, " ") != "disabled enabled-runtime inactive" {
		t.Errorf("mn2: postgresql is %v, want disabled enabled-runtime inactive", got)
	}
	if !env.Holds(t, "mn1", lab.ClusterAddress) || env.Holds(t, "mn2", lab.ClusterAddress) {
		t.Errorf("the cluster address is not on mn1 alone")
	}
	// Files written through Host.Root are the host's (its merged overlay).
	env.Exec(t, "sn01", "echo from-inside >/tmp/hamnflow-probe")
	if b, err := os.ReadFile(env.Lab.Host("sn01").Root + "/tmp/hamnflow-probe"); err != nil || string(b) != "from-inside\n" {
		t.Errorf("sn01's /tmp through Host.Root: %q, %v", b, err)
	}
	// The inventory and known_hosts the lab writes work over SSH.
	out, err := env.Lab.OperatorCmd(t.Context(), "ssh", "-F", env.Lab.SSHConfigPath(), "mn2", "hostname").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "mn2" {
		t.Errorf("ssh -F ssh_config mn2 hostname: %q, %v", out, err)
	}
}
