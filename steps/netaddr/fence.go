package netaddr

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// FenceArgs are fence_check's arguments.
type FenceArgs struct {
	Address   string `arg:"address,required"`
	Interface string `arg:"interface,required"` // the step host's cluster-facing interface
	// OldPrimary is the inventory name of the host that held the
	// address, asked over SSH whether it still does ("": not asked).
	OldPrimary string `arg:"old_primary"`
	// OperatorConfirmed says the operator confirmed by other means (BMC,
	// HMC, power) that the old primary is fenced, for when the check
	// cannot prove it.
	OperatorConfirmed bool `arg:"operator_confirmed"`
}

// oldPrimaryTimeout bounds the question to the old primary: a host that
// does not answer within it counts as unreachable.
const oldPrimaryTimeout = 15 * time.Second

// FenceCheck (fence_check) proves, before a takeover, that nobody answers
// for the cluster address: it ARP-probes the address from the step's host
// (the standby) and asks the old primary over SSH whether it still holds
// it. Any ARP answer fails the step: hamnflow never takes an address
// while someone answers for it. When the absence cannot be proven (no
// arping, or arping did not run) the step fails and asks the operator to
// confirm that the old primary is fenced; operator_confirmed: true then
// lets it pass (an ARP answer still fails it).
//
// Outputs: answered (false), arp (ran|unavailable), old_primary
// (reachable-clean|unreachable|holds|not-checked), proof, replies.
type FenceCheck struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (FenceCheck) NewArgs() any { return &FenceArgs{} }

// Plan implements workflow.Action: the probe on the step's host, then
// the question to the old primary, on that host.
func (FenceCheck) Plan(_ string, args any) []string {
	a := args.(*FenceArgs)
	cmds := []string{probeScript(a.Address, a.Interface)}
	if a.OldPrimary != "" {
		cmds = append(cmds, onHost(a.OldPrimary, oldPrimaryCommand))
	}
	return cmds
}

// Run implements workflow.Action.
func (f FenceCheck) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*FenceArgs)
	if err := checkIPv4(a.Address); err != nil {
		return workflow.Outcome{}, err
	}
	o, _, err := f.Env.Run(ctx, c, act.Script{Text: probeScript(a.Address, a.Interface)})
	if err != nil {
		return o, fmt.Errorf("ARP probe of %s: %w", a.Address, err)
	}
	p := ParseProbe(o.Stdout)
	fv := FenceVerdict{Address: a.Address, ARPRan: p.Ran, Replies: p.Replies, ARPDetail: p.Output, Confirmed: a.OperatorConfirmed}
	if a.OldPrimary != "" {
		fv.OldPrimary = a.OldPrimary
		fv.OldState, fv.OldDetail = f.oldPrimaryHolds(ctx, a.OldPrimary, a.Address)
		o.Command += "\n" + onHost(a.OldPrimary, oldPrimaryCommand)
	}
	ok, proof := fv.Decide()
	o.Outputs = map[string]string{
		"answered":    strconv.FormatBool(len(p.Replies) > 0),
		"arp":         map[bool]string{true: "ran", false: "unavailable"}[p.Ran],
		"old_primary": fv.OldState,
		"proof":       proof,
		"replies":     macs(p.Replies),
	}
	if fv.OldState == "" {
		o.Outputs["old_primary"] = "not-checked"
	}
	if !ok {
		return o, fmt.Errorf("%s", proof)
	}
	act.Say(c, &o, proof)
	return o, nil
}

// oldPrimaryHolds asks the old primary over SSH whether it holds addr.
func (f FenceCheck) oldPrimaryHolds(ctx context.Context, name, addr string) (state, detail string) {
	h, err := f.Env.Host(name)
	if err != nil {
		return "unreachable", err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, oldPrimaryTimeout)
	defer cancel()
	res, err := f.Env.Transport.Exec(ctx, h, remote.Command{Script: oldPrimaryCommand, Timeout: oldPrimaryTimeout})
	if err != nil {
		return "unreachable", err.Error()
	}
	if res.Exit != 0 {
		return "unreachable", fmt.Sprintf("%s exited %d%s", oldPrimaryCommand, res.Exit, act.Tail(res.Stderr, res.Stdout))
	}
	if HasAddr(ParseIPAddr(string(res.Stdout)), addr, "") {
		return "holds", "it still has " + addr + " on an interface"
	}
	return "reachable-clean", "it does not hold " + addr
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
