// Package netaddr holds the cluster address actions: take over the
// address the cluster's nodes use for their management node
// (addr_takeover), give it up (addr_release), check who holds it
// (addr_check), prove that nobody else answers for it before anyone takes
// it (fence_check), and tell whether a host answers at all
// (host_reachable). Linux only: ip from iproute2 and either arping.
package netaddr

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/workflow"
)

// Actions returns this package's actions by name.
func Actions(env *act.Env) map[string]workflow.Action {
	return map[string]workflow.Action{
		"addr_takeover":  Takeover{Env: env},
		"addr_release":   Release{Env: env},
		"addr_check":     Check{Env: env},
		"fence_check":    FenceCheck{Env: env},
		"host_reachable": Reachable{Env: env},
	}
}

var (
	_ workflow.Reverser = Takeover{}
	_ workflow.Reverser = Release{}
)

// Addr is an address on an interface, as addr_takeover and addr_release
// take it.
type Addr struct {
	Address   string `arg:"address,required"` // IPv4
	Prefix    int    `arg:"prefix,required"`  // 1-32
	Interface string `arg:"interface,required"`
}

// TakeoverArgs are addr_takeover's arguments.
type TakeoverArgs struct {
	Addr
}

// ReleaseArgs are addr_release's arguments.
type ReleaseArgs struct {
	Addr
	// IfReachable counts an unreachable host as done: a dead primary
	// holds nothing.
	IfReachable bool `arg:"if_reachable"`
}

// unchanged is the undo of a takeover or release that changed nothing
// (the address was already there, or already gone, or the host was
// down): it runs nothing.
type unchanged struct{ why string }

// Takeover (addr_takeover) puts the cluster address on this host's
// cluster-facing interface unless it is there, and announces it with
// gratuitous ARP.
//
// Outputs: added (true, or false when it was already there), mac.
//
// Its undo is addr_release of the same address (Reverse), unless the run
// recorded added=false: then the address was there before the step and
// stays.
type Takeover struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (Takeover) NewArgs() any { return &TakeoverArgs{} }

// Plan implements workflow.Action.
func (Takeover) Plan(_ string, args any) []string { return planAddr(args) }

// Run implements workflow.Action.
func (t Takeover) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	return runAddr(ctx, t.Env, c)
}

// Reverse implements workflow.Reverser: release what the takeover added.
func (Takeover) Reverse(args any, outputs map[string]string) any { return reverseAddr(args, outputs) }

// Release (addr_release) removes the cluster address from a host's
// interface, e.g. the old primary's. It is idempotent.
//
// Outputs: removed (true/false), reachable.
//
// Its undo is addr_takeover of the same address (Reverse), unless the run
// recorded removed=false or reachable=false: then there was nothing to
// give back.
type Release struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (Release) NewArgs() any { return &ReleaseArgs{} }

// Plan implements workflow.Action.
func (Release) Plan(_ string, args any) []string { return planAddr(args) }

// Run implements workflow.Action.
func (r Release) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	return runAddr(ctx, r.Env, c)
}

// Reverse implements workflow.Reverser: take back what the release removed.
func (Release) Reverse(args any, outputs map[string]string) any { return reverseAddr(args, outputs) }

// addr_takeover and addr_release are each other's undo. The engine runs
// an undo through the step's own action, so both actions take both
// argument types (and unchanged): the arguments say which way it goes.

func planAddr(args any) []string {
	switch a := args.(type) {
	case *TakeoverArgs:
		return []string{takeoverScript(a.Addr)}
	case *ReleaseArgs:
		return []string{releaseScript(a.Addr)}
	case *unchanged:
		return nil
	}
	panic(fmt.Sprintf("netaddr: address action given %T", args))
}

func runAddr(ctx context.Context, env *act.Env, c workflow.Call) (workflow.Outcome, error) {
	switch a := c.Args.(type) {
	case *TakeoverArgs:
		return takeover(ctx, env, c, a)
	case *ReleaseArgs:
		return release(ctx, env, c, a)
	case *unchanged:
		var o workflow.Outcome
		act.Say(c, &o, "nothing to put back: "+a.why)
		return o, nil
	}
	return workflow.Outcome{}, fmt.Errorf("netaddr: address action given %T", c.Args)
}

// reverseAddr gives the arguments of the undo of a run with args, from
// the outputs it recorded (nil when planning: the undo of a change).
func reverseAddr(args any, out map[string]string) any {
	switch a := args.(type) {
	case *TakeoverArgs:
		if out["added"] == "false" {
			return &unchanged{why: a.Address + " was on " + a.Interface + " before the takeover"}
		}
		return &ReleaseArgs{Addr: a.Addr}
	case *ReleaseArgs:
		switch {
		case out["reachable"] == "false":
			return &unchanged{why: "the host was unreachable, so nothing was removed from it"}
		case out["removed"] == "false":
			return &unchanged{why: a.Address + " was not on " + a.Interface + " before the release"}
		}
		return &TakeoverArgs{Addr: a.Addr}
	}
	return args
}

func takeover(ctx context.Context, env *act.Env, c workflow.Call, a *TakeoverArgs) (workflow.Outcome, error) {
	if err := checkAddr(a.Addr); err != nil {
		return workflow.Outcome{}, err
	}
	o, _, err := env.Run(ctx, c, act.Script{Text: takeoverScript(a.Addr)})
	if err != nil {
		return o, fmt.Errorf("take over %s on %s: %w", a.Address, a.Interface, err)
	}
	kv := act.KeyValues(o.Stdout)
	o.Outputs = map[string]string{"added": strconv.FormatBool(kv["already"] == "no"), "mac": kv["mac"]}
	return o, nil
}

func release(ctx context.Context, env *act.Env, c workflow.Call, a *ReleaseArgs) (workflow.Outcome, error) {
	if err := checkAddr(a.Addr); err != nil {
		return workflow.Outcome{}, err
	}
	o, reached, err := env.RunReach(ctx, c, act.Script{Text: releaseScript(a.Addr)}, a.IfReachable)
	if !reached {
		return o, nil
	}
	if err != nil {
		return o, fmt.Errorf("release %s on %s: %w", a.Address, a.Interface, err)
	}
	o.Outputs = map[string]string{"removed": strconv.FormatBool(act.KeyValues(o.Stdout)["removed"] == "yes"), "reachable": "true"}
	return o, nil
}

// CheckArgs are addr_check's arguments.
type CheckArgs struct {
	Address   string `arg:"address,required"`
	Interface string `arg:"interface"` // "": any interface
	Present   bool   `arg:"present"`   // true (the default): it must hold the address; false: it must not
}

// Check (addr_check) is a read-only check of whether a host holds an
// address: the probe of takeover and release steps.
//
// Outputs: present (true|false).
type Check struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (Check) NewArgs() any { return &CheckArgs{Present: true} }

// Plan implements workflow.Action.
func (Check) Plan(_ string, args any) []string {
	return []string{listCommand(args.(*CheckArgs).Interface)}
}

// Run implements workflow.Action.
func (k Check) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*CheckArgs)
	o, _, err := k.Env.Run(ctx, c, act.Script{Text: listCommand(a.Interface)})
	if err != nil {
		return o, fmt.Errorf("list addresses: %w", err)
	}
	has := HasAddr(ParseIPAddr(o.Stdout), a.Address, a.Interface)
	o.Outputs = map[string]string{"present": strconv.FormatBool(has)}
	if has != a.Present {
		if a.Present {
			return o, fmt.Errorf("%s does not hold %s", act.HostLabel(c.Host), a.Address)
		}
		return o, fmt.Errorf("%s still holds %s", act.HostLabel(c.Host), a.Address)
	}
	return o, nil
}

// Reachable (host_reachable) tells whether the step's host answers over
// SSH at all, so that a failover skips the steps meant for a dead primary
// instead of waiting for each one's connection to time out. It never
// fails.
//
// Outputs: reachable (true|false), detail.
type Reachable struct{ Env *act.Env }

// ReachableArgs are host_reachable's arguments: none.
type ReachableArgs struct{}

// NewArgs implements workflow.Action.
func (Reachable) NewArgs() any { return &ReachableArgs{} }

// Plan implements workflow.Action.
func (Reachable) Plan(string, any) []string { return []string{reachCommand} }

// Run implements workflow.Action.
func (r Reachable) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	o, _, err := r.Env.Run(ctx, c, act.Script{Text: reachCommand})
	if ctx.Err() != nil {
		return o, ctx.Err()
	}
	o.Outputs = map[string]string{"reachable": "true", "detail": "answers"}
	if err != nil {
		o.Outputs = map[string]string{"reachable": "false", "detail": err.Error()}
		act.Say(c, &o, act.HostLabel(c.Host)+" is unreachable: "+err.Error())
		return o, nil
	}
	act.Say(c, &o, act.HostLabel(c.Host)+" is reachable")
	return o, nil
}

// checkAddr refuses what is not an IPv4 address and prefix length.
func checkAddr(a Addr) error {
	if err := checkIPv4(a.Address); err != nil {
		return err
	}
	if a.Prefix < 1 || a.Prefix > 32 {
		return fmt.Errorf("prefix %d is not a prefix length (1-32)", a.Prefix)
	}
	return nil
}

func checkIPv4(addr string) error {
	if ip := net.ParseIP(addr); ip == nil || ip.To4() == nil {
		return fmt.Errorf("address %q is not an IPv4 address", addr)
	}
	return nil
}
