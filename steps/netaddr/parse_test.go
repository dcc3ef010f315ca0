package netaddr

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/act"
)

func testdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const ipAddrOut = `1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever
2: eth0    inet 198.51.100.101/24 scope global eth0\       valid_lft forever preferred_lft forever
2: eth0    inet 198.51.100.10/24 scope global secondary eth0\       valid_lft forever preferred_lft forever
2: eth0    inet6 fe80::42:c6ff:fe33:640b/64 scope link \       valid_lft forever preferred_lft forever
3: en1@if12    inet 9.114.47.103/26 brd 9.114.47.127 scope global en1:0\       valid_lft forever preferred_lft forever
`

func TestParseIPAddr(t *testing.T) {
	tests := []struct {
		name, out string
		want      []IfAddr
	}{
		{"hand-made, with @parent", ipAddrOut, []IfAddr{
			{Dev: "lo", Family: "inet", Addr: "127.0.0.1", Prefix: 8},
			{Dev: "eth0", Family: "inet", Addr: "198.51.100.101", Prefix: 24},
			{Dev: "eth0", Family: "inet", Addr: "198.51.100.10", Prefix: 24},
			{Dev: "eth0", Family: "inet6", Addr: "fe80::42:c6ff:fe33:640b", Prefix: 64},
			{Dev: "en1", Family: "inet", Addr: "9.114.47.103", Prefix: 26, Label: "en1:0"},
		}},
		{"iproute2 6.1, every interface", testdata(t, "ip-o-addr.txt"), []IfAddr{
			{Dev: "lo", Family: "inet", Addr: "127.0.0.1", Prefix: 8},
			{Dev: "lo", Family: "inet6", Addr: "::1", Prefix: 128},
			{Dev: "eth0", Family: "inet", Addr: "198.51.100.102", Prefix: 24},
			{Dev: "eth0", Family: "inet", Addr: "198.51.100.10", Prefix: 24},
			{Dev: "eth0", Family: "inet", Addr: "198.51.100.11", Prefix: 24, Label: "eth0:1"},
			{Dev: "eth0", Family: "inet6", Addr: "fe80::7452:daff:fefc:fb5a", Prefix: 64},
			{Dev: "mv0", Family: "inet", Addr: "192.0.2.7", Prefix: 25},
			{Dev: "mv0", Family: "inet6", Addr: "fe80::58bc:c8ff:fe98:4b17", Prefix: 64},
		}},
		{"iproute2 6.1, one interface", testdata(t, "ip-o-addr-dev.txt"), []IfAddr{
			{Dev: "eth0", Family: "inet", Addr: "198.51.100.102", Prefix: 24},
			{Dev: "eth0", Family: "inet", Addr: "198.51.100.10", Prefix: 24},
			{Dev: "eth0", Family: "inet", Addr: "198.51.100.11", Prefix: 24, Label: "eth0:1"},
			{Dev: "eth0", Family: "inet6", Addr: "fe80::7452:daff:fefc:fb5a", Prefix: 64},
		}},
		{"no such device", testdata(t, "ip-o-addr-nodev.txt"), nil},
		{"nothing", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseIPAddr(tt.out); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseIPAddr:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestHasAddr(t *testing.T) {
	real := ParseIPAddr(testdata(t, "ip-o-addr.txt"))
	for _, tt := range []struct {
		addrs     []IfAddr
		addr, dev string
		want      bool
	}{
		{ParseIPAddr(ipAddrOut), "198.51.100.10", "eth0", true},
		{ParseIPAddr(ipAddrOut), "198.51.100.10", "", true},
		{ParseIPAddr(ipAddrOut), "198.51.100.10", "en1", false},
		{ParseIPAddr(ipAddrOut), "198.51.100.1", "", false},   // a prefix of .10 and .101 is not a match
		{ParseIPAddr(ipAddrOut), "9.114.47.103", "en1", true}, // en1@if12
		{ParseIPAddr(ipAddrOut), "", "", false},
		{real, "198.51.100.11", "eth0", true}, // labelled eth0:1, still on eth0
		{real, "192.0.2.7", "eth0", false},
		{real, "192.0.2.7", "", true},
		{real, "198.51.100.50", "", false},
	} {
		if got := HasAddr(tt.addrs, tt.addr, tt.dev); got != tt.want {
			t.Errorf("HasAddr(%q, %q) = %v, want %v", tt.addr, tt.dev, got, tt.want)
		}
	}
}

func TestParseARPReplies(t *testing.T) {
	holder, second := ARPReply{"198.51.100.10", "76:52:da:fc:fb:5a"}, ARPReply{"198.51.100.10", "aa:20:01:fd:79:d7"}
	tests := []struct {
		name, out string
		want      []ARPReply
		ran       bool
	}{
		{"habets replies", testdata(t, "habets-reply.txt"), []ARPReply{holder}, true},
		{"habets, two hosts answer", testdata(t, "habets-two.txt"), []ARPReply{second, holder}, true},
		{"habets silence", testdata(t, "habets-silence.txt"), nil, true},
		{"habets, no interface", testdata(t, "habets-noiface.txt"), nil, false},
		{"iputils reply", testdata(t, "iputils-reply.txt"), []ARPReply{holder}, true},
		{"iputils -D, two hosts answer: the first only", testdata(t, "iputils-two.txt"), []ARPReply{second}, true},
		{"iputils without -D, two hosts answer", testdata(t, "iputils-two-nodad.txt"), []ARPReply{second, holder}, true},
		{"iputils silence", testdata(t, "iputils-silence.txt"), nil, true},
		{"iputils, no interface", testdata(t, "iputils-noiface.txt"), nil, false},
		{"habets, older version", `ARPING 198.51.100.10
60 bytes from 02:42:c6:33:64:0b (198.51.100.10): index=0 time=8.390 usec
60 bytes from 02:42:c6:33:64:0b (198.51.100.10): index=1 time=10.100 usec

--- 198.51.100.10 statistics ---
2 packets transmitted, 2 packets received,   0% unanswered (0 extra)
`, []ARPReply{{"198.51.100.10", "02:42:c6:33:64:0b"}}, true},
		{"iputils, upper-case MACs folded", "ARPING 198.51.100.10 from 0.0.0.0 eth0\nUnicast reply from 198.51.100.10 [02:42:C6:33:64:0B]  0.611ms\nUnicast reply from 198.51.100.10 [02:42:C6:33:64:15]  0.702ms\nUnicast reply from 198.51.100.10 [02:42:C6:33:64:0B]  0.650ms\nSent 3 probes (3 broadcast(s))\nReceived 3 response(s)\n",
			[]ARPReply{{"198.51.100.10", "02:42:c6:33:64:0b"}, {"198.51.100.10", "02:42:c6:33:64:15"}}, true},
		{"not run", "", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseARPReplies(tt.out); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("replies %+v, want %+v", got, tt.want)
			}
			if got := ARPRan(tt.out); got != tt.ran {
				t.Errorf("ARPRan = %v, want %v", got, tt.ran)
			}
		})
	}
}

func TestParseProbe(t *testing.T) {
	head := func(flavor, mac, rc string) string {
		return "mac=" + mac + "\nflavor=" + flavor + "\nrc=" + rc + "\n" + probeMark + "\n"
	}
	tests := []struct {
		name, out string
		want      Probe
	}{
		{"habets, someone answers", head("habets", "a2:3c:c4:c5:86:ea", "0") + testdata(t, "habets-reply.txt"),
			Probe{Flavor: "habets", OwnMAC: "a2:3c:c4:c5:86:ea", Exit: 0, Ran: true, Replies: []ARPReply{{"198.51.100.10", "76:52:da:fc:fb:5a"}}}},
		{"habets, the prober's own MAC is no one else's", head("habets", "76:52:DA:FC:FB:5A", "0") + testdata(t, "habets-reply.txt"),
			Probe{Flavor: "habets", OwnMAC: "76:52:da:fc:fb:5a", Exit: 0, Ran: true}},
		{"iputils silence", head("iputils", "a2:3c:c4:c5:86:ea", "0") + testdata(t, "iputils-silence.txt"),
			Probe{Flavor: "iputils", OwnMAC: "a2:3c:c4:c5:86:ea", Exit: 0, Ran: true}},
		{"iputils, no interface", head("iputils", "", "2") + testdata(t, "iputils-noiface.txt"),
			Probe{Flavor: "iputils", Exit: 2}},
		{"no arping", head("none", "a2:3c:c4:c5:86:ea", "127") + "\n", Probe{Flavor: "none", OwnMAC: "a2:3c:c4:c5:86:ea", Exit: 127}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseProbe(tt.out)
			got.Output = ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseProbe:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if p := ParseProbe(head("habets", "", "1") + testdata(t, "habets-silence.txt")); !strings.HasPrefix(p.Output, "ARPING 198.51.100.50") || strings.HasSuffix(p.Output, "\n") {
		t.Errorf("Output = %q", p.Output)
	}
}

func TestFenceVerdict(t *testing.T) {
	rogue := []ARPReply{{"198.51.100.10", "02:42:c6:33:64:15"}}
	tests := []struct {
		name   string
		v      FenceVerdict
		ok     bool
		saying string
	}{
		{"silent, old primary clean", FenceVerdict{ARPRan: true, OldPrimary: "mn1", OldState: "reachable-clean"}, true, "no ARP answer"},
		{"silent, old primary dead", FenceVerdict{ARPRan: true, OldPrimary: "mn1", OldState: "unreachable"}, true, "no ARP answer"},
		{"someone answers", FenceVerdict{ARPRan: true, Replies: rogue, OldPrimary: "mn1", OldState: "reachable-clean"}, false, "02:42:c6:33:64:15"},
		{"answers even when confirmed", FenceVerdict{ARPRan: true, Replies: rogue, Confirmed: true}, false, "never taken while anyone answers"},
		{"old primary holds it", FenceVerdict{ARPRan: true, OldPrimary: "mn1", OldState: "holds"}, false, "still holds"},
		{"no arping, old primary clean", FenceVerdict{OldPrimary: "mn1", OldState: "reachable-clean"}, true, "ARP probe unavailable"},
		{"no arping, old primary dead", FenceVerdict{OldPrimary: "mn1", OldState: "unreachable"}, false, "--set fenced=yes"},
		{"no arping, operator confirmed", FenceVerdict{OldPrimary: "mn1", OldState: "unreachable", Confirmed: true}, true, "operator confirmed fencing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.v.Address = "198.51.100.10"
			ok, msg := tt.v.Decide()
			if ok != tt.ok || !strings.Contains(msg, tt.saying) {
				t.Errorf("Decide() = %v, %q; want %v and a message with %q", ok, msg, tt.ok, tt.saying)
			}
		})
	}
}

func TestKeyValues(t *testing.T) {
	got := act.KeyValues("was=running\nstate=stopped\nnoise line\n a b=c\nmac=02:42:c6:33:64:0c\n")
	want := map[string]string{"was": "running", "state": "stopped", "mac": "02:42:c6:33:64:0c"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("keyValues = %v, want %v", got, want)
	}
}

func TestCheckAddr(t *testing.T) {
	for _, tt := range []struct {
		addr   string
		prefix int
		ok     bool
	}{
		{"198.51.100.10", 24, true}, {"9.114.47.103", 26, true}, {"198.51.100.10", 32, true}, {"198.51.100.10", 0, false},
		{"198.51.100.10", 33, false}, {"xcatmn", 24, false}, {"2001:db8::1", 64, false}, {"198.51.100.10; reboot", 24, false},
	} {
		if err := checkAddr(Addr{Address: tt.addr, Prefix: tt.prefix, Interface: "eth0"}); (err == nil) != tt.ok {
			t.Errorf("checkAddr(%q, %d) = %v", tt.addr, tt.prefix, err)
		}
	}
}
