package xcat

import (
	"os"
	"strings"
	"testing"
)

// The real lab's settings (xCAT 2.19, lsdef as siteScript runs it), and
// the same with the mistakes xCAT administrators report after a change
// of management node.
func TestCheckSite(t *testing.T) {
	raw, err := os.ReadFile("testdata/site-lab.txt")
	if err != nil {
		t.Fatal(err)
	}
	lab := string(raw)
	cluster := []string{"198.51.100.10", "xcatmn"}
	physical := map[string]string{"198.51.100.11": "mn1", "mn1": "mn1", "198.51.100.12": "mn2", "mn2": "mn2"}
	for _, tc := range []struct {
		name string
		out  string
		want []string // each finding's Where, in order
		fix  string   // the first finding's fix
	}{
		{"the lab as it is", lab, nil, ""},
		{"site.master names the primary's own address (#4606)",
			strings.Replace(lab, "master=198.51.100.10", "master=198.51.100.11", 1),
			[]string{"site.master"}, "chdef -t site master=198.51.100.10"},
		{"site.master names the primary's hostname with the domain",
			strings.Replace(lab, "master=198.51.100.10", "master=mn1.lab", 1),
			[]string{"site.master"}, "chdef -t site master=198.51.100.10"},
		{"a name server list naming the standby",
			strings.Replace(lab, "    nameservers=198.51.100.10\n@network", "    nameservers=198.51.100.10,198.51.100.12\n@network", 1),
			[]string{"site.nameservers"}, "chdef -t site nameservers=198.51.100.10"},
		{"no domain: makedns would refuse",
			strings.Replace(lab, "    domain=lab\n", "", 1),
			[]string{"site.domain"}, "chdef -t site domain=DOMAIN"},
		{"no master, no name servers",
			strings.Replace(strings.Replace(lab, "    master=198.51.100.10\n", "", 1), "    nameservers=198.51.100.10\n@network", "@network", 1),
			[]string{"site.master", "site.nameservers"}, "chdef -t site master=198.51.100.10"},
		{"the network's DHCP server is the old primary",
			strings.Replace(lab, "dhcpserver=198.51.100.10", "dhcpserver=198.51.100.11", 1),
			[]string{"network 198_51_100_0-255_255_255_0 dhcpserver"}, "chdef -t network -o 198_51_100_0-255_255_255_0 dhcpserver=198.51.100.10"},
		{"nodes' xcatmaster is the old primary (#4257)",
			strings.ReplaceAll(lab, "xcatmaster=198.51.100.10", "xcatmaster=198.51.100.11"),
			[]string{"noderes.xcatmaster of 2 node(s) (cn01, cn02)"}, "chdef -t node -o cn01,cn02 xcatmaster=198.51.100.10"},
		{"an address that merely starts like a physical one is no finding",
			strings.Replace(lab, "master=198.51.100.10", "master=198.51.100.110", 1), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckSite(ParseSiteSettings(tc.out), cluster, physical)
			var where []string
			for _, f := range got {
				where = append(where, f.Where)
			}
			if strings.Join(where, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("findings %q, want %q\n%v", where, tc.want, got)
			}
			if len(got) > 0 && got[0].Fix != tc.fix {
				t.Errorf("fix %q, want %q", got[0].Fix, tc.fix)
			}
		})
	}
}

func TestParseSiteSettings(t *testing.T) {
	raw, err := os.ReadFile("testdata/site-lab.txt")
	if err != nil {
		t.Fatal(err)
	}
	s := ParseSiteSettings(string(raw))
	if s.Site.Attrs["master"] != "198.51.100.10" || s.Site.Attrs["domain"] != "lab" || len(s.Networks) != 1 || len(s.Nodes) != 2 {
		t.Errorf("parsed %+v", s)
	}
	if s.Nodes[1].Name != "cn02" || s.Nodes[1].Attrs["xcatmaster"] != "198.51.100.10" || s.Nodes[1].Attrs["servicenode"] != "" {
		t.Errorf("node cn02: %+v", s.Nodes[1])
	}
	down, _ := os.ReadFile("testdata/site-xcatd-down.txt")
	if s := ParseSiteSettings(string(down)); len(s.Site.Attrs) != 0 || len(s.Nodes) != 0 {
		t.Errorf("xcatd down parsed as %+v", s)
	}
}

// In identity mode the primary's own name and address are the cluster's:
// only the standby's are findings.
func TestCheckSiteIdentity(t *testing.T) {
	raw, _ := os.ReadFile("testdata/site-lab.txt")
	out := strings.ReplaceAll(string(raw), "198.51.100.10", "198.51.100.11")
	physical := map[string]string{"198.51.100.11": "mn1", "mn1": "mn1", "198.51.100.12": "mn2", "mn2": "mn2"}
	if got := CheckSite(ParseSiteSettings(out), []string{"198.51.100.11", "mn1"}, physical); len(got) != 0 {
		t.Errorf("identity mode, master = the primary's address: %v", got)
	}
	out = strings.Replace(out, "master=198.51.100.11", "master=mn2", 1)
	if got := CheckSite(ParseSiteSettings(out), []string{"198.51.100.11", "mn1"}, physical); len(got) != 1 || got[0].Where != "site.master" {
		t.Errorf("identity mode, master = the standby's name: %v", got)
	}
}

func TestPhysicalMap(t *testing.T) {
	if _, err := physicalMap([]string{"198.51.100.12"}); err == nil || !strings.Contains(err.Error(), "VALUE=HOST") {
		t.Errorf("no =: %v", err)
	}
	m, err := physicalMap([]string{"198.51.100.12=mn2", " mn2 = mn2 "})
	if err != nil || m["198.51.100.12"] != "mn2" || m["mn2"] != "mn2" {
		t.Errorf("%v %v", m, err)
	}
}
