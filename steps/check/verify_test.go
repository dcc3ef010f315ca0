package check

import (
	"errors"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/services"
)

func verifyConfig() Config {
	return Config{
		Cluster: "lab", ClusterAddress: "198.51.100.10",
		Primary:      Host{Name: "mn1", Address: "198.51.100.11"},
		Standby:      Host{Name: "mn2", Address: "198.51.100.12"},
		ServiceNodes: []Host{{Name: "sn01", Address: "198.51.100.21"}},
	}
}

func running(unit string) ServiceState {
	return ServiceState{Status: services.Status{Unit: unit, Running: true, Enabled: true, Active: "active", Boot: "enabled"}}
}

func stopped(unit string) ServiceState {
	return ServiceState{Status: services.Status{Unit: unit, Active: "inactive", Boot: "disabled"}}
}

// wholeCluster is what a served cluster looks like: every check passes.
func wholeCluster() (ServingFacts, *PeerFacts, []SNFacts) {
	sf := ServingFacts{
		Master: "198.51.100.10", Domain: "lab",
		Services: map[string]ServiceState{"xcatd": running("xcatd"), "dhcp": running("isc-dhcp-server"), "dns": running("named"), "console": running("conserver-server")},
		Nodes: []NodeEntry{
			{Name: "cn01", IP: "198.51.100.101", MAC: "42:00:00:00:00:01", Cons: "ipmi"},
			{Name: "cn02", IP: "198.51.100.102", MAC: "42:00:00:00:00:02", Cons: "ipmi"},
			{Name: "cn03", IP: "198.51.100.103"},      // no MAC, no console: neither is expected
			{Name: "cn100", MAC: "42:00:00:00:01:00"}, // no address: makedhcp cannot add it
		},
		DHCP:     map[string]DHCPEntry{"cn01": {IP: "198.51.100.101"}, "cn02": {IP: "198.51.100.102"}},
		Consoles: map[string]bool{"cn01": true, "cn02": true},
		TFTPFile: "pxelinux.0", TFTPSize: 46869,
		Probe: &ProbeResult{},
	}
	pf := &PeerFacts{Services: map[string]ServiceState{"xcatd": stopped("xcatd"), "dhcp": stopped("isc-dhcp-server"), "dns": stopped("named"), "console": stopped("conserver-server")}}
	dns := map[string]Section{}
	peer := map[string]Section{}
	for _, n := range sf.Nodes {
		dns[n.Name] = Section{Lines: []string{n.Name + ".lab has address " + n.IP}}
		peer[n.Name] = Section{Lines: []string{";; connection timed out; no servers could be reached"}, Exit: 1}
	}
	sn := SNFacts{Host: "sn01", DNS: dns, PeerDNS: peer, HasTFTP: true, TFTPSize: 46869}
	return sf, pf, []SNFacts{sn}
}

func TestEvaluateVerify(t *testing.T) {
	for _, tt := range []struct {
		name   string
		args   VerifyArgs
		break_ func(sf *ServingFacts, pf **PeerFacts, sns *[]SNFacts)
		fail   []string // the checks that must fail (substrings of their names)
		skip   []string
	}{
		{name: "whole"},
		{name: "xcatd does not answer through the cluster address",
			break_: func(sf *ServingFacts, _ **PeerFacts, _ *[]SNFacts) {
				sf.SiteErr = "Error: [mn2]: Connection failure: IO::Socket::INET: connect: Connection refused"
			},
			fail: []string{"xcatd answers through 198.51.100.10:3001"}},
		{name: "site.master names a physical MN",
			break_: func(sf *ServingFacts, _ **PeerFacts, _ *[]SNFacts) { sf.Master = "198.51.100.11" },
			fail:   []string{"site.master names the cluster"}},
		{name: "a second dhcpd on the old primary",
			break_: func(_ *ServingFacts, pf **PeerFacts, _ *[]SNFacts) {
				(*pf).Services["dhcp"] = running("isc-dhcp-server")
			},
			fail: []string{"DHCP stopped on mn1"}},
		{name: "the old primary's named still enabled at boot",
			break_: func(_ *ServingFacts, pf **PeerFacts, _ *[]SNFacts) {
				s := stopped("named")
				s.Enabled, s.Boot = true, "enabled"
				(*pf).Services["dns"] = s
			},
			fail: []string{"DNS stopped on mn1"}},
		{name: "the new primary's console server stopped",
			break_: func(sf *ServingFacts, _ **PeerFacts, _ *[]SNFacts) {
				sf.Services["console"] = stopped("conserver-server")
			},
			fail: []string{"the console server runs on mn2"}},
		{name: "a missing console",
			break_: func(sf *ServingFacts, _ **PeerFacts, _ *[]SNFacts) { delete(sf.Consoles, "cn02") },
			fail:   []string{"a console for every node"}},
		{name: "DHCP lacks a node",
			break_: func(sf *ServingFacts, _ **PeerFacts, _ *[]SNFacts) { delete(sf.DHCP, "cn01") },
			fail:   []string{"DHCP has every node"}},
		{name: "DHCP gives a node another address",
			break_: func(sf *ServingFacts, _ **PeerFacts, _ *[]SNFacts) { sf.DHCP["cn01"] = DHCPEntry{IP: "198.51.100.201"} },
			fail:   []string{"DHCP has every node"}},
		{name: "a name does not resolve through the cluster address",
			break_: func(_ *ServingFacts, _ **PeerFacts, sns *[]SNFacts) {
				(*sns)[0].DNS["cn02"] = Section{Lines: []string{"Host cn02.lab not found: 3(NXDOMAIN)"}, Exit: 1}
			},
			fail: []string{"DNS through 198.51.100.10 from sn01"}},
		{name: "the old primary still answers DNS",
			break_: func(_ *ServingFacts, _ **PeerFacts, sns *[]SNFacts) {
				(*sns)[0].PeerDNS["cn01"] = Section{Lines: []string{"cn01.lab has address 198.51.100.101"}}
			},
			fail: []string{"DNS silent on mn1"}},
		{name: "TFTP gets nothing",
			break_: func(_ *ServingFacts, _ **PeerFacts, sns *[]SNFacts) { (*sns)[0].TFTPSize = 0 },
			fail:   []string{"TFTP through 198.51.100.10 from sn01"}},
		{name: "xcatprobe fails a check",
			break_: func(sf *ServingFacts, _ **PeerFacts, _ *[]SNFacts) {
				sf.Probe = &ProbeResult{Exit: 1, Failed: []string{"Checking DHCP service is configured..."}}
			},
			fail: []string{"xcatprobe xcatmn"}},
		{name: "the service node does not answer",
			break_: func(_ *ServingFacts, _ **PeerFacts, sns *[]SNFacts) {
				(*sns)[0] = SNFacts{Host: "sn01", Err: errors.New("dial tcp 198.51.100.21:22: i/o timeout")}
			},
			fail: []string{"DNS through 198.51.100.10 from sn01"}},
		{name: "the dead old primary is not asked",
			break_: func(_ *ServingFacts, pf **PeerFacts, _ *[]SNFacts) {
				*pf = &PeerFacts{Err: errors.New("it did not answer at the start of the run")}
			},
			skip: []string{"xcatd stopped on mn1", "DHCP stopped on mn1", "DNS stopped on mn1", "the console server stopped on mn1"}},
		{name: "no service node, no probe, no tftp client",
			break_: func(sf *ServingFacts, _ **PeerFacts, sns *[]SNFacts) {
				sf.Probe = nil
				*sns = nil
			},
			skip: []string{"DNS through", "TFTP through", "xcatprobe xcatmn"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sf, pf, sns := wholeCluster()
			if tt.break_ != nil {
				tt.break_(&sf, &pf, &sns)
			}
			a := tt.args
			a.Node, a.Peer, a.Sample, a.XCATProbe = "mn2", "mn1", 3, true
			rows := EvaluateVerify(verifyConfig(), &a, sf, pf, sns, sampleNodes(sf.Nodes, 3))
			var table strings.Builder
			got := map[string][]string{}
			for _, r := range rows {
				table.WriteString(r.Result + " " + r.Name + ": " + r.Detail + "\n")
				got[r.Result] = append(got[r.Result], r.Name)
			}
			for _, want := range []struct {
				result string
				names  []string
			}{{"FAIL", tt.fail}, {"SKIP", tt.skip}} {
				for _, n := range want.names {
					if !containsSub(got[want.result], n) {
						t.Errorf("no %s row for %q:\n%s", want.result, n, &table)
					}
				}
				if len(got[want.result]) != len(want.names) {
					t.Errorf("%d %s rows, want %d (%q):\n%s", len(got[want.result]), want.result, len(want.names), want.names, &table)
				}
			}
		})
	}
}

func containsSub(l []string, sub string) bool {
	for _, s := range l {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// lab_verify_serving.txt is nodels and makedhcp -q as real xCAT 2.19
// printed them on the real lab (makedhcp -q cut to five nodes: cn04 is
// the one missing); lab_verify_probe.txt is xcatprobe xcatmn on the new
// primary after a failover (floating mode: eth0 holds three addresses).
func TestParseServingRealOutput(t *testing.T) {
	sf := ParseServing(read(t, "lab_verify_serving.txt"))
	if sf.NodesErr != "" || len(sf.Nodes) != 6 {
		t.Fatalf("nodes: %d (%q), want 6", len(sf.Nodes), sf.NodesErr)
	}
	if got, want := sf.Nodes[0], (NodeEntry{Name: "cn01", IP: "198.51.100.111", MAC: "02:42:c6:33:65:01", Cons: "ipmi"}); got != want {
		t.Errorf("nodes[0] = %+v, want %+v", got, want)
	}
	if got := sf.Nodes[4]; got.Name != "sn01" || got.Cons != "" || got.IP != "198.51.100.21" {
		t.Errorf("nodes[4] = %+v, want sn01 without a console", got)
	}
	if len(sf.DHCP) != 5 || sf.DHCP["cn02"] != (DHCPEntry{IP: "198.51.100.112", MAC: "02:42:c6:33:65:02"}) {
		t.Errorf("dhcp = %+v", sf.DHCP)
	}
	if _, ok := sf.DHCP["cn04"]; ok {
		t.Errorf("dhcp has cn04, which makedhcp -q did not print")
	}
	a := &VerifyArgs{Node: "mn2", Sample: 3}
	rows := EvaluateVerify(verifyConfig(), a, sf, nil, nil, nil)
	found := false
	for _, r := range rows {
		if r.Name == "DHCP has every node" {
			found = true
			if r.Result != "FAIL" || !strings.Contains(r.Detail, "missing: cn04") {
				t.Errorf("DHCP row: %+v, want FAIL naming cn04", r)
			}
		}
	}
	if !found {
		t.Errorf("no DHCP row in %+v", rows)
	}
}

func TestParseXCATProbe(t *testing.T) {
	for _, tt := range []struct {
		name, out   string
		failed      []string
		unsupported bool
		addrs       int
	}{
		{name: "real lab, floating address", out: read(t, "lab_verify_probe.txt"),
			failed: []string{"Checking provision network is configured"}, addrs: 3},
		{name: "xcatmn does not load", out: "@@hf probe\nnic_addrs=1\nUnsupported sub command: xcatmn\nSupported sub commands are:\nnodecheck        Use this command to check node defintions in xCAT DB.\n@@rc 1\n",
			unsupported: true, addrs: 1},
		{name: "all OK", out: "@@hf probe\nnic_addrs=1\n[mn]: Checking all xCAT daemons are running...                            [ OK ]\n[mn]: Checking xcatd can receive command request...                       [ OK ]\n@@rc 0\n", addrs: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := ParseXCATProbe(SplitSections(tt.out)["probe"])
			if strings.Join(p.Failed, "|") != strings.Join(tt.failed, "|") || (p.Unsupported != "") != tt.unsupported || p.NICAddrs != tt.addrs {
				t.Errorf("got %+v, want failed %q, unsupported %v, %d addresses", p, tt.failed, tt.unsupported, tt.addrs)
			}
		})
	}
	// The floating address's false alarm is excused, nothing else.
	sf, pf, sns := wholeCluster()
	sf.Probe = ParseXCATProbe(SplitSections(read(t, "lab_verify_probe.txt"))["probe"])
	a := &VerifyArgs{Node: "mn2", Peer: "mn1", Sample: 3, XCATProbe: true}
	for _, r := range EvaluateVerify(verifyConfig(), a, sf, pf, sns, sampleNodes(sf.Nodes, 3)) {
		if r.Name == "xcatprobe xcatmn" && (r.Result != "PASS" || !strings.Contains(r.Detail, "does not apply")) {
			t.Errorf("xcatprobe row: %+v, want PASS with the provision check excused", r)
		}
	}
	sf.Probe.Failed = append(sf.Probe.Failed, "Checking DHCP service is configured")
	for _, r := range EvaluateVerify(verifyConfig(), a, sf, pf, sns, sampleNodes(sf.Nodes, 3)) {
		if r.Name == "xcatprobe xcatmn" && (r.Result != "FAIL" || !strings.Contains(r.Detail, "DHCP service")) {
			t.Errorf("xcatprobe row: %+v, want FAIL naming the DHCP check", r)
		}
	}
}
