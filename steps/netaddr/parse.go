package netaddr

import (
	"bufio"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
)

// What the commands of this package print, read into types. The table
// tests in parse_test.go run on output captured from iproute2 6.1, Thomas
// Habets' arping 2.23 (Debian's arping package) and iputils' arping
// 20221126 (Debian's iputils-arping): testdata/README.md says how.

// IfAddr is one address line of `ip -o addr show`.
type IfAddr struct {
	Dev    string // interface, without any @parent suffix
	Family string // inet or inet6
	Addr   string
	Prefix int
	Label  string // inet only: the address label, when it differs from Dev
}

// ParseIPAddr reads the one-line-per-address output of `ip -o addr show`:
//
//	2: eth0    inet 198.51.100.10/24 scope global secondary eth0\       valid_lft forever preferred_lft forever
//
// Anything else (`Device "eth9" does not exist.`) gives nothing.
func ParseIPAddr(out string) []IfAddr {
	var addrs []IfAddr
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasSuffix(f[0], ":") {
			continue
		}
		dev, _, _ := strings.Cut(f[1], "@")
		fam := f[2]
		if fam != "inet" && fam != "inet6" {
			continue
		}
		a, p, ok := strings.Cut(f[3], "/")
		if !ok {
			continue
		}
		prefix, err := strconv.Atoi(p)
		if err != nil {
			continue
		}
		ia := IfAddr{Dev: dev, Family: fam, Addr: a, Prefix: prefix}
		// The label is the last word before the "\" that ends the
		// address part, when the line has one.
		for i := 4; i < len(f); i++ {
			if strings.HasSuffix(f[i], `\`) {
				if l := strings.TrimSuffix(f[i], `\`); l != "" && l != dev {
					ia.Label = l
				}
				break
			}
		}
		addrs = append(addrs, ia)
	}
	return addrs
}

// HasAddr says whether addrs hold addr (on dev, when dev is not "").
func HasAddr(addrs []IfAddr, addr, dev string) bool {
	want := net.ParseIP(addr)
	for _, a := range addrs {
		if dev != "" && a.Dev != dev {
			continue
		}
		if ip := net.ParseIP(a.Addr); ip != nil && want != nil && ip.Equal(want) {
			return true
		}
	}
	return false
}

// ARPReply is one answer arping saw.
type ARPReply struct {
	IP  string
	MAC string // lower case
}

var (
	// iputils: "Unicast reply from 198.51.100.10 [76:52:DA:FC:FB:5A]  0.535ms"
	iputilsReply = regexp.MustCompile(`(?i)(?:unicast|broadcast) reply from ([0-9.]+) \[([0-9a-f:]{17})\]`)
	// Thomas Habets' arping: "42 bytes from 76:52:da:fc:fb:5a (198.51.100.10): index=0 time=11.091 usec"
	habetsReply = regexp.MustCompile(`(?i)bytes from ([0-9a-f:]{17}) \(([0-9.]+)\)`)
)

// ParseARPReplies reads the replies out of arping's output, for both the
// iputils and Thomas Habets' arping. Each MAC is listed once, in order of
// first appearance.
func ParseARPReplies(out string) []ARPReply {
	var replies []ARPReply
	seen := map[string]bool{}
	add := func(ip, mac string) {
		mac = strings.ToLower(mac)
		if !seen[mac] {
			seen[mac] = true
			replies = append(replies, ARPReply{IP: ip, MAC: mac})
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if m := iputilsReply.FindStringSubmatch(line); m != nil {
			add(m[1], m[2])
		} else if m := habetsReply.FindStringSubmatch(line); m != nil {
			add(m[2], m[1])
		}
	}
	return replies
}

// ARPRan says whether arping's output shows that it sent its probes: the
// statistics both arpings print at the end ("3 packets transmitted" from
// Habets', "Sent 3 probes" from iputils'). An arping that could not open
// its interface prints neither.
func ARPRan(out string) bool {
	l := strings.ToLower(out)
	return strings.Contains(l, "packets transmitted") || strings.Contains(l, "sent ") && strings.Contains(l, "probe")
}

// Probe is what the fence check's ARP probe (probeScript) printed.
type Probe struct {
	Flavor  string     // habets, iputils or none (no arping on the host)
	OwnMAC  string     // the probing interface's MAC, lower case ("" if unknown)
	Exit    int        // arping's exit status; 127 when there is none
	Ran     bool       // arping sent its probes
	Replies []ARPReply // the answers from any MAC but OwnMAC
	Output  string     // arping's output, trimmed
}

// probeMark separates probeScript's key=value head from arping's output.
const probeMark = "== arping"

// ParseProbe reads probeScript's output: flavor=, mac= and rc= lines,
// then probeMark and arping's own output. Replies from the probing
// interface itself (the host already holding the address) are not
// answers from someone else.
func ParseProbe(out string) Probe {
	head, arp, _ := strings.Cut(out, probeMark+"\n")
	kv := act.KeyValues(head)
	p := Probe{Flavor: kv["flavor"], OwnMAC: strings.ToLower(kv["mac"]), Exit: -1, Output: strings.TrimSpace(arp)}
	if n, err := strconv.Atoi(kv["rc"]); err == nil {
		p.Exit = n
	}
	for _, r := range ParseARPReplies(arp) {
		if r.MAC != p.OwnMAC {
			p.Replies = append(p.Replies, r)
		}
	}
	p.Ran = p.Flavor != "none" && ARPRan(arp)
	return p
}

// macs lists the MACs of replies, comma separated.
func macs(rs []ARPReply) string {
	var l []string
	for _, r := range rs {
		l = append(l, r.MAC)
	}
	return strings.Join(l, ",")
}
