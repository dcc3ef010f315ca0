package playbooks

import (
	"strings"
	"testing"
)

func TestCheckSettings(t *testing.T) {
	inv, err := ParseInventory("inv.yaml", []byte(goodInventory+`check:
  thresholds:
    replay_lag: {warn: 1m}
    cert_days: {warn: "60", crit: "off"}
  home: /home/xcat
  path_sets:
    install: {paths: [/install]}
`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := inv.CheckConfig()
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Limits["replay_lag"]; l.Warn != 60 || l.Crit != 300 {
		t.Errorf("replay_lag: %+v (crit keeps its default)", l)
	}
	if l := c.Limits["cert_days"]; l.Warn != 60 || l.Crit == l.Crit || !l.Below {
		t.Errorf("cert_days: %+v (crit off: NaN)", l)
	}
	if len(c.PathSets) != 1 || c.PathSets[0].Name != "install" || c.Credentials[3] != "/home/xcat/.xcat" {
		t.Errorf("path sets %+v, credentials %v", c.PathSets, c.Credentials)
	}
	if c.Primary.Address != "198.51.100.11" || c.Standby.Hostname != "mn2" || c.DB.Port != 5432 || c.DB.Owner != "postgres" {
		t.Errorf("config %+v", c)
	}
	// The defaults: sync-setup's three path sets.
	inv, _ = ParseInventory("inv.yaml", []byte(goodInventory))
	if c, _ := inv.CheckConfig(); len(c.PathSets) != 3 || c.PathSets[1].Paths[0] != "/install" {
		t.Errorf("default path sets: %+v", c.PathSets)
	}
	for _, tc := range []struct{ block, want string }{
		{"check:\n  thresholds:\n    lag: {warn: 1s}\n", `check: threshold "lag": unknown; use one of cert_days, clock_skew`},
		{"check:\n  thresholds:\n    replay_lag: {warn: soon}\n", `inv.yaml:23: check: threshold replay_lag.warn: "soon": want a duration such as 30s, 5m, 2h or 7d or off`},
		{"check:\n  path_sets:\n    x: {paths: [etc/hosts]}\n", `path set x: "etc/hosts" is not absolute`},
		{"check:\n  home: root\n", `home "root" is not absolute`},
	} {
		_, err := ParseInventory("inv.yaml", []byte(goodInventory+tc.block))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.block, err, tc.want)
		}
	}
}
