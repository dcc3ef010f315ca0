package netaddr

import (
	"strconv"

	"github.com/hamnflow/hamnflow/steps/remote"
)

// The commands this package's actions run, one builder each, called by
// both Plan and Run: what a plan shows is what runs. Every value is
// quoted with remote.ShellQuote.

// hasAddrTest is a shell test that iface holds addr, in `ip -o addr show
// dev IF` (see ParseIPAddr for the line's form).
func hasAddrTest(addr, iface string) string {
	return "ip -o addr show dev " + remote.ShellQuote(iface) + " | grep -qF " + remote.ShellQuote(" inet "+addr+"/")
}

func cidr(a Addr) string { return remote.ShellQuote(a.Address + "/" + strconv.Itoa(a.Prefix)) }

func macFile(iface string) string { return remote.ShellQuote("/sys/class/net/" + iface + "/address") }

// habetsTest tells Thomas Habets' arping (Debian's arping package) from
// iputils' (iputils-arping, RHEL's and SUSE's): their options differ.
// Only Habets' names its author in --help.
const habetsTest = "arping --help 2>&1 | grep -q Habets"

// gratuitousARP announces addr on iface from this host: unsolicited ARP
// requests and replies, so that neighbours replace the old MAC at once.
// A host without arping is warned about, not failed: its neighbours learn
// the address when their entries expire.
func gratuitousARP(addr, iface string) string {
	a, i := remote.ShellQuote(addr), remote.ShellQuote(iface)
	return `if ! command -v arping >/dev/null 2>&1; then
	echo "warning: no arping on this host: neighbours learn the new MAC only when their ARP entries expire" >&2
elif ` + habetsTest + `; then
	arping -U -S ` + a + ` -i ` + i + ` -c 2 -W 0.2 ` + a + ` >/dev/null 2>&1 || true
	arping -U -P -S ` + a + ` -i ` + i + ` -c 2 -W 0.2 ` + a + ` >/dev/null 2>&1 || true
	echo "gratuitous ARP sent (arping -U, -U -P)"
else
	arping -q -U -c 2 -I ` + i + ` ` + a + ` >/dev/null 2>&1 || true
	arping -q -A -c 2 -I ` + i + ` ` + a + ` >/dev/null 2>&1 || true
	echo "gratuitous ARP sent (arping -U, -A)"
fi`
}

// takeoverScript puts a on its interface unless it is there already,
// prints already=yes|no and the interface's mac=, and announces the
// address with gratuitous ARP.
func takeoverScript(a Addr) string {
	i := remote.ShellQuote(a.Interface)
	return `set -e
if ` + hasAddrTest(a.Address, a.Interface) + `; then echo "already=yes"
else ip addr add ` + cidr(a) + ` dev ` + i + `; echo "already=no"; fi
echo "mac=$(cat ` + macFile(a.Interface) + `)"
` + gratuitousARP(a.Address, a.Interface)
}

// releaseScript removes a from its interface if it is there and prints
// removed=yes|no.
func releaseScript(a Addr) string {
	return `set -e
if ` + hasAddrTest(a.Address, a.Interface) + `; then ip addr del ` + cidr(a) + ` dev ` + remote.ShellQuote(a.Interface) + `; echo "removed=yes"
else echo "removed=no"; fi`
}

// listCommand lists the addresses of iface, or of every interface.
func listCommand(iface string) string {
	if iface == "" {
		return "ip -o addr show"
	}
	return "ip -o addr show dev " + remote.ShellQuote(iface)
}

// probeScript ARP-probes addr from iface and prints what ParseProbe
// reads: flavor=, the interface's mac= (its own replies are no one
// else's), arping's rc= and, after probeMark, arping's output. Both
// arpings probe 3 times within 3 seconds; iputils' in duplicate address
// detection mode (-D, source 0.0.0.0), which stops at the first answer.
func probeScript(addr, iface string) string {
	a, i := remote.ShellQuote(addr), remote.ShellQuote(iface)
	return `echo "mac=$(cat ` + macFile(iface) + ` 2>/dev/null)"
if ! command -v arping >/dev/null 2>&1; then echo "flavor=none"; out=""; rc=127
elif ` + habetsTest + `; then echo "flavor=habets"; out=$(arping -i ` + i + ` -c 3 -W 0.5 -w 3 ` + a + ` 2>&1); rc=$?
else echo "flavor=iputils"; out=$(arping -D -c 3 -w 3 -I ` + i + ` ` + a + ` 2>&1); rc=$?; fi
echo "rc=$rc"
echo "` + probeMark + `"
printf '%s\n' "$out"`
}

// oldPrimaryCommand is what the fence check asks the old primary.
const oldPrimaryCommand = "ip -o addr show"

// reachCommand is host_reachable's command: any command that runs proves
// the host answers.
const reachCommand = "true"

// onHost shows a command that a step runs on another host than its own.
func onHost(host, cmd string) string { return "[on " + host + "] " + cmd }
