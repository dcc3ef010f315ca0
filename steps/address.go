package steps

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"

	"github.com/hamnflow/hamnflow/workflow"
)

// Cluster address actions: take over the address the cluster's nodes use
// for their management node, give it up, and prove that nobody else
// answers for it before anyone takes it.
func addressActions(env *Env) map[string]textAction {
	return map[string]textAction{
		"addr_takeover":  AddrTakeover{Env: env},
		"addr_release":   AddrRelease{Env: env},
		"addr_check":     AddrCheck{Env: env},
		"fence_check":    FenceCheck{Env: env},
		"host_reachable": HostReachable{Env: env},
	}
}

// arpingFlavor is a shell snippet that sets $flavor to habets or iputils
// (the two arping programs Linux distributions ship) or none.
const arpingFlavor = `if ! command -v arping >/dev/null 2>&1; then flavor=none
elif arping --help 2>&1 | grep -q Habets; then flavor=habets
else flavor=iputils; fi
`

// gratuitousARP announces ADDR on IF from this host: unsolicited ARP
// requests and replies, so that neighbours replace the old MAC at once.
func gratuitousARP(addr, iface string) string {
	a, i := remote.ShellQuote(addr), remote.ShellQuote(iface)
	return arpingFlavor + `case $flavor in
habets) arping -U -S ` + a + ` -i ` + i + ` -c 2 -W 0.2 ` + a + ` >/dev/null 2>&1 || true
	arping -U -P -S ` + a + ` -i ` + i + ` -c 2 -W 0.2 ` + a + ` >/dev/null 2>&1 || true
	echo "gratuitous ARP sent (arping -U, -U -P)" ;;
iputils) arping -q -U -c 2 -I ` + i + ` ` + a + ` >/dev/null 2>&1 || true
	arping -q -A -c 2 -I ` + i + ` ` + a + ` >/dev/null 2>&1 || true
	echo "gratuitous ARP sent (arping -U, -A)" ;;
*) echo "warning: no arping on this host: neighbours learn the new MAC only when their ARP entries expire" >&2 ;;
esac
`
}

// AddrTakeover puts the cluster address on this host's cluster-facing
// interface and announces it with gratuitous ARP.
//
//	with: address, prefix, interface
//
// Outputs: added (true, or false when it was already there), mac.
type AddrTakeover struct{ Env *Env }

// Params implements workflow.Action.
func (AddrTakeover) Params() ([]string, []string) {
	return []string{"address", "prefix", "interface"}, nil
}

// Describe implements workflow.Action.
func (AddrTakeover) Describe(_ string, a map[string]string) string {
	return fmt.Sprintf("ip addr add %s/%s dev %s && arping -U/-A %s (gratuitous ARP)", a["address"], a["prefix"], a["interface"], a["address"])
}

// Run implements workflow.Action.
func (t AddrTakeover) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	addr, iface := c.Args["address"], c.Args["interface"]
	if err := checkAddr(addr, c.Args["prefix"]); err != nil {
		return workflow.Outcome{}, err
	}
	a, i := remote.ShellQuote(addr), remote.ShellQuote(iface)
	script := `set -e
if ip -o addr show dev ` + i + ` | grep -qF ` + remote.ShellQuote(" inet "+addr+"/") + `; then echo "already=yes"
else ip addr add ` + a + `/` + c.Args["prefix"] + ` dev ` + i + `; echo "already=no"; fi
echo "mac=$(cat ` + remote.ShellQuote("/sys/class/net/"+iface+"/address") + `)"
` + gratuitousARP(addr, iface)
	o, _, err := runText(t.Env, ctx, c, script, "", nil)
	if err != nil {
		return o, fmt.Errorf("take over %s on %s: %w", addr, iface, err)
	}
	kv := act.KeyValues(o.Stdout)
	o.Outputs = map[string]string{"added": strconv.FormatBool(kv["already"] == "no"), "mac": kv["mac"]}
	return o, nil
}

// AddrRelease removes the cluster address from a host's interface, e.g.
// the old primary's. It is idempotent.
//
//	with: address, prefix, interface; if_reachable: "true" to count an
//	unreachable host as done (a dead primary holds nothing)
//
// Outputs: removed (true/false), reachable.
type AddrRelease struct{ Env *Env }

// Params implements workflow.Action.
func (AddrRelease) Params() ([]string, []string) {
	return []string{"address", "prefix", "interface"}, []string{"if_reachable"}
}

// Describe implements workflow.Action.
func (AddrRelease) Describe(_ string, a map[string]string) string {
	s := fmt.Sprintf("ip addr del %s/%s dev %s", a["address"], a["prefix"], a["interface"])
	if a["if_reachable"] == "true" {
		s += " (if the host is reachable)"
	}
	return s
}

// Run implements workflow.Action.
func (r AddrRelease) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	addr, iface := c.Args["address"], c.Args["interface"]
	if err := checkAddr(addr, c.Args["prefix"]); err != nil {
		return workflow.Outcome{}, err
	}
	i := remote.ShellQuote(iface)
	script := `set -e
if ip -o addr show dev ` + i + ` | grep -qF ` + remote.ShellQuote(" inet "+addr+"/") + `; then
	ip addr del ` + remote.ShellQuote(addr) + `/` + c.Args["prefix"] + ` dev ` + i + `; echo "removed=yes"
else echo "removed=no"; fi
`
	o, reached, err := runReach(r.Env, ctx, c, script, "", nil)
	if !reached {
		return o, nil
	}
	if err != nil {
		return o, fmt.Errorf("release %s on %s: %w", addr, iface, err)
	}
	o.Outputs = map[string]string{"removed": strconv.FormatBool(act.KeyValues(o.Stdout)["removed"] == "yes"), "reachable": "true"}
	return o, nil
}

// AddrCheck is a read-only check of whether a host holds an address:
// the probe of takeover and release steps.
//
//	with: address; interface (any when empty); present: "true" (default)
//	or "false"
type AddrCheck struct{ Env *Env }

// Params implements workflow.Action.
func (AddrCheck) Params() ([]string, []string) {
	return []string{"address"}, []string{"interface", "present"}
}

// Describe implements workflow.Action.
func (AddrCheck) Describe(_ string, a map[string]string) string {
	want := "holds"
	if a["present"] == "false" {
		want = "does not hold"
	}
	return fmt.Sprintf("ip -o addr show %s (check it %s %s)", a["interface"], want, a["address"])
}

// Run implements workflow.Action.
func (k AddrCheck) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	script := "ip -o addr show"
	if c.Args["interface"] != "" {
		script += " dev " + remote.ShellQuote(c.Args["interface"])
	}
	o, _, err := runText(k.Env, ctx, c, script, "", nil)
	if err != nil {
		return o, fmt.Errorf("list addresses: %w", err)
	}
	has := HasAddr(ParseIPAddr(o.Stdout), c.Args["address"], c.Args["interface"])
	o.Outputs = map[string]string{"present": strconv.FormatBool(has)}
	want := c.Args["present"] != "false"
	if has != want {
		if want {
			return o, fmt.Errorf("%s does not hold %s", act.HostLabel(c.Host), c.Args["address"])
		}
		return o, fmt.Errorf("%s still holds %s", act.HostLabel(c.Host), c.Args["address"])
	}
	return o, nil
}

// FenceCheck proves, before a takeover, that nobody answers for the
// cluster address: it ARP-probes the address from the step's host (the
// standby) and asks the old primary over SSH whether it still holds it.
// Any ARP answer fails the step: hamnflow never takes an address while
// someone answers for it. When the absence cannot be proven (no arping,
// or arping did not run) the step fails and asks the operator to confirm
// that the old primary is fenced; operator_confirmed: "yes" then lets it
// pass (an ARP answer still fails it).
//
//	with: address, interface; old_primary (inventory name); operator_confirmed
//
// Outputs: answered (false), arp (ran|unavailable), old_primary
// (reachable-clean|unreachable|holds|not-checked), proof.
type FenceCheck struct{ Env *Env }

// Params implements workflow.Action.
func (FenceCheck) Params() ([]string, []string) {
	return []string{"address", "interface"}, []string{"old_primary", "operator_confirmed"}
}

// Describe implements workflow.Action.
func (FenceCheck) Describe(_ string, a map[string]string) string {
	s := fmt.Sprintf("arping -c 3 %s on %s (nobody may answer)", a["address"], a["interface"])
	if a["old_primary"] != "" {
		s += fmt.Sprintf("; ssh %s ip -o addr (must not hold %s)", a["old_primary"], a["address"])
	}
	return s
}

// Run implements workflow.Action.
func (f FenceCheck) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	addr, iface := c.Args["address"], c.Args["interface"]
	if err := checkAddr(addr, "32"); err != nil {
		return workflow.Outcome{}, err
	}
	a, i := remote.ShellQuote(addr), remote.ShellQuote(iface)
	script := arpingFlavor + `echo "flavor=$flavor"
echo "mac=$(cat ` + remote.ShellQuote("/sys/class/net/"+iface+"/address") + ` 2>/dev/null)"
case $flavor in
habets) out=$(arping -i ` + i + ` -c 3 -W 0.5 -w 3 ` + a + ` 2>&1); rc=$? ;;
iputils) out=$(arping -D -c 3 -w 3 -I ` + i + ` ` + a + ` 2>&1); rc=$? ;;
*) out=""; rc=127 ;;
esac
echo "rc=$rc"
echo "== arping"
printf '%s\n' "$out"
`
	o, _, err := runText(f.Env, ctx, c, script, "", nil)
	if err != nil {
		return o, fmt.Errorf("ARP probe of %s: %w", addr, err)
	}
	head, arpOut, _ := strings.Cut(o.Stdout, "== arping\n")
	kv := act.KeyValues(head)
	var replies []ARPReply
	for _, r := range ParseARPReplies(arpOut) {
		if r.MAC != strings.ToLower(kv["mac"]) {
			replies = append(replies, r)
		}
	}
	ran := kv["flavor"] != "none" && arpingRan(arpOut)
	fv := FenceVerdict{Address: addr, ARPRan: ran, Replies: replies, ARPDetail: strings.TrimSpace(arpOut)}
	if old := c.Args["old_primary"]; old != "" {
		fv.OldPrimary = old
		fv.OldState, fv.OldDetail = f.oldPrimaryHolds(ctx, old, addr)
	}
	fv.Confirmed = c.Args["operator_confirmed"] == "yes"
	ok, proof := fv.Decide()
	o.Outputs = map[string]string{
		"answered":    strconv.FormatBool(len(replies) > 0),
		"arp":         map[bool]string{true: "ran", false: "unavailable"}[ran],
		"old_primary": fv.OldState,
		"proof":       proof,
		"replies":     macs(replies),
	}
	if fv.OldState == "" {
		o.Outputs["old_primary"] = "not-checked"
	}
	if !ok {
		return o, fmt.Errorf("%s", proof)
	}
	say(c, &o, proof)
	return o, nil
}

// oldPrimaryHolds asks the old primary over SSH whether it holds addr.
func (f FenceCheck) oldPrimaryHolds(ctx context.Context, name, addr string) (state, detail string) {
	h, err := hostOf(f.Env, name)
	if err != nil {
		return "unreachable", err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	res, err := f.Env.Transport.Exec(ctx, h, remote.Command{Script: "ip -o addr show", Timeout: 15 * time.Second})
	if err != nil {
		return "unreachable", err.Error()
	}
	if res.Exit != 0 {
		return "unreachable", fmt.Sprintf("ip -o addr show exited %d%s", res.Exit, act.Tail(res.Stderr, res.Stdout))
	}
	if HasAddr(ParseIPAddr(string(res.Stdout)), addr, "") {
		return "holds", "it still has " + addr + " on an interface"
	}
	return "reachable-clean", "it does not hold " + addr
}

// arpingRan says whether arping's output shows that it sent its probes.
func arpingRan(out string) bool {
	l := strings.ToLower(out)
	return strings.Contains(l, "packets transmitted") || strings.Contains(l, "sent ") && strings.Contains(l, "probe")
}

// FenceVerdict is what a fence check found.
type FenceVerdict struct {
	Address    string
	ARPRan     bool
	ARPDetail  string
	Replies    []ARPReply
	OldPrimary string // "" when not checked
	OldState   string // reachable-clean | unreachable | holds
	OldDetail  string
	Confirmed  bool // the operator confirmed fencing
}

// Decide says whether the address may be taken and why, in words for the
// operator.
func (v FenceVerdict) Decide() (bool, string) {
	old := ""
	if v.OldPrimary != "" {
		old = fmt.Sprintf("; old primary %s: %s (%s)", v.OldPrimary, v.OldState, v.OldDetail)
	}
	switch {
	case len(v.Replies) > 0:
		return false, fmt.Sprintf("someone still answers for %s (MAC %s)%s: stop or power off the old primary and remove the address from it; the address is never taken while anyone answers for it",
			v.Address, macs(v.Replies), old)
	case v.OldState == "holds":
		return false, fmt.Sprintf("old primary %s still holds %s: remove it there (ip addr del) or power the host off before the takeover", v.OldPrimary, v.Address)
	case v.ARPRan:
		return true, fmt.Sprintf("no ARP answer for %s%s", v.Address, old)
	case v.OldState == "reachable-clean":
		return true, fmt.Sprintf("ARP probe unavailable, but%s", strings.TrimPrefix(old, ";"))
	case v.Confirmed:
		return true, fmt.Sprintf("could not prove that nobody answers for %s (ARP probe unavailable%s); the operator confirmed fencing", v.Address, old)
	}
	return false, fmt.Sprintf("cannot prove that nobody answers for %s (ARP probe unavailable%s). Confirm that the old primary is powered off or fenced (e.g. through its BMC or HMC), then run again with --set fenced=yes",
		v.Address, old)
}

// HostReachable tells whether the step's host answers over SSH at all,
// so that a failover skips the steps meant for a dead primary instead of
// waiting for each one's connection to time out. It never fails.
//
// Outputs: reachable (true|false), detail.
type HostReachable struct{ Env *Env }

// Params implements workflow.Action.
func (HostReachable) Params() ([]string, []string) { return nil, nil }

// Describe implements workflow.Action.
func (HostReachable) Describe(host string, _ map[string]string) string {
	return "ssh " + host + " true (is it reachable?)"
}

// Run implements workflow.Action.
func (r HostReachable) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	o, _, err := runText(r.Env, ctx, c, "true", "", nil)
	if ctx.Err() != nil {
		return o, ctx.Err()
	}
	o.Outputs = map[string]string{"reachable": "true", "detail": "answers"}
	if err != nil {
		o.Outputs = map[string]string{"reachable": "false", "detail": err.Error()}
		say(c, &o, act.HostLabel(c.Host)+" is unreachable: "+err.Error())
		return o, nil
	}
	say(c, &o, act.HostLabel(c.Host)+" is reachable")
	return o, nil
}

// checkAddr refuses what is not an IPv4 address and prefix length.
func checkAddr(addr, prefix string) error {
	if ip := net.ParseIP(addr); ip == nil || ip.To4() == nil {
		return fmt.Errorf("address %q is not an IPv4 address", addr)
	}
	if n, err := strconv.Atoi(prefix); err != nil || n < 1 || n > 32 {
		return fmt.Errorf("prefix %q is not a prefix length (1-32)", prefix)
	}
	return nil
}
