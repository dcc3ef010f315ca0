//go:build lab

package remote

import (
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/integration/labtest"
)

// TestInventoryCheckRemote: `inventory check --remote` reaches every host
// of the lab and says, per host, what is wrong: here an OS the inventory
// gets wrong and a host whose key is unknown.
func TestInventoryCheckRemote(t *testing.T) {
	env := labtest.Up(t, labtest.Options{ServiceNodes: 2})
	r := env.MustRun(t, 0, "inventory", "check", "--remote")
	for _, h := range []string{"mn1", "mn2", "sn01", "sn02"} {
		if !strings.Contains(r.Stdout, "ok   "+h+" ") {
			t.Errorf("no ok line for %s:\n%s", h, r)
		}
	}

	inv := env.Lab.Inventory()
	h := inv.Hosts["sn02"]
	h.OS, h.Init = "aix", "src"
	inv.Hosts["sn02"] = h
	if err := env.Lab.WriteInventory(inv); err != nil {
		t.Fatal(err)
	}
	editKnownHosts(t, env, func(l string) string {
		if strings.Contains(l, env.Lab.Host("sn01").Address) {
			return ""
		}
		return l
	})
	r = env.MustRun(t, 2, "inventory", "check", "--remote")
	for _, want := range []string{
		"FAIL sn02       inventory says os aix, the host runs Linux",
		"FAIL sn01 ",
		"ok   mn1 ",
		"2 host(s) failed the remote check",
	} {
		if !strings.Contains(r.Combined(), want) {
			t.Errorf("output lacks %q:\n%s", want, r)
		}
	}
	if !strings.Contains(r.Stdout, "known_hosts") {
		t.Errorf("the unknown host key is not explained:\n%s", r)
	}
}
