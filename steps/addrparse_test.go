package steps

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/act"
)

const ipAddrOut = `1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever
2: eth0    inet 198.51.100.101/24 scope global eth0\       valid_lft forever preferred_lft forever
2: eth0    inet 198.51.100.10/24 scope global secondary eth0\       valid_lft forever preferred_lft forever
2: eth0    inet6 fe80::42:c6ff:fe33:640b/64 scope link \       valid_lft forever preferred_lft forever
3: en1@if12    inet 9.114.47.103/26 brd 9.114.47.127 scope global en1:0\       valid_lft forever preferred_lft forever
`

func TestParseIPAddr(t *testing.T) {
	got := ParseIPAddr(ipAddrOut)
	want := []IfAddr{
		{Dev: "lo", Family: "inet", Addr: "127.0.0.1", Prefix: 8},
		{Dev: "eth0", Family: "inet", Addr: "198.51.100.101", Prefix: 24},
		{Dev: "eth0", Family: "inet", Addr: "198.51.100.10", Prefix: 24},
		{Dev: "eth0", Family: "inet6", Addr: "fe80::42:c6ff:fe33:640b", Prefix: 64},
		{Dev: "en1", Family: "inet", Addr: "9.114.47.103", Prefix: 26, Label: "en1:0"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseIPAddr:\n got %+v\nwant %+v", got, want)
	}
	for _, tt := range []struct {
		addr, dev string
		want      bool
	}{
		{"198.51.100.10", "eth0", true},
		{"198.51.100.10", "", true},
		{"198.51.100.10", "en1", false},
		{"198.51.100.1", "", false},   // a prefix of .10 and .101 is not a match
		{"9.114.47.103", "en1", true}, // en1@if12
		{"", "", false},
	} {
		if got := HasAddr(ParseIPAddr(ipAddrOut), tt.addr, tt.dev); got != tt.want {
			t.Errorf("HasAddr(%q, %q) = %v, want %v", tt.addr, tt.dev, got, tt.want)
		}
	}
	if got := ParseIPAddr("Device \"eth9\" does not exist.\n"); len(got) != 0 {
		t.Errorf("error text parsed as addresses: %+v", got)
	}
}

func TestParseARPReplies(t *testing.T) {
	tests := []struct {
		name, out string
		want      []ARPReply
		ran       bool
	}{
		{"habets replies", `ARPING 198.51.100.10
60 bytes from 02:42:c6:33:64:0b (198.51.100.10): index=0 time=8.390 usec
60 bytes from 02:42:c6:33:64:0b (198.51.100.10): index=1 time=10.100 usec

--- 198.51.100.10 statistics ---
2 packets transmitted, 2 packets received,   0% unanswered (0 extra)
`, []ARPReply{{"198.51.100.10", "02:42:c6:33:64:0b"}}, true},
		{"habets silence", `ARPING 198.51.100.10
Timeout
Timeout
Timeout

--- 198.51.100.10 statistics ---
3 packets transmitted, 0 packets received, 100% unanswered (0 extra)
`, nil, true},
		{"iputils two MACs", `ARPING 198.51.100.10 from 0.0.0.0 eth0
Unicast reply from 198.51.100.10 [02:42:C6:33:64:0B]  0.611ms
Unicast reply from 198.51.100.10 [02:42:C6:33:64:15]  0.702ms
Unicast reply from 198.51.100.10 [02:42:C6:33:64:0B]  0.650ms
Sent 3 probes (3 broadcast(s))
Received 3 response(s)
`, []ARPReply{{"198.51.100.10", "02:42:c6:33:64:0b"}, {"198.51.100.10", "02:42:c6:33:64:15"}}, true},
		{"iputils silence", "ARPING 198.51.100.10 from 0.0.0.0 eth0\nSent 3 probes (3 broadcast(s))\nReceived 0 response(s)\n", nil, true},
		{"no interface", "arping: Unable to open interface eth9: No such device\n", nil, false},
		{"not run", "", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseARPReplies(tt.out); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("replies %+v, want %+v", got, tt.want)
			}
			if got := arpingRan(tt.out); got != tt.ran {
				t.Errorf("arpingRan = %v, want %v", got, tt.ran)
			}
		})
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
		addr, prefix string
		ok           bool
	}{
		{"198.51.100.10", "24", true}, {"9.114.47.103", "26", true}, {"198.51.100.10", "0", false},
		{"198.51.100.10", "33", false}, {"xcatmn", "24", false}, {"2001:db8::1", "64", false}, {"198.51.100.10; reboot", "24", false},
	} {
		if err := checkAddr(tt.addr, tt.prefix); (err == nil) != tt.ok {
			t.Errorf("checkAddr(%q, %q) = %v", tt.addr, tt.prefix, err)
		}
	}
}
