package check

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/workflow"
)

// Actions returns the check actions, bound to env and to what the
// inventory says of the cluster (playbooks' CheckConfig).
func Actions(env *act.Env, c Config) map[string]workflow.Action {
	return map[string]workflow.Action{"prereq_check": Prereq{Env: env, Config: c}, "cluster_verify": Verify{Env: env, Config: c}}
}

// Prereq (prereq_check) checks the guide's prerequisites with the typed
// checks of hamnflow check: the same OS, xCAT, database and subnet on both
// MNs, each resolving the other's hostname to its inventory address, SSH
// both ways, clocks within max_skew, and the standby's xcatd, DHCP, DNS
// and console server stopped and not enabled. It asks each MN once (both
// at once) and changes nothing; it prints a PASS/FAIL table and fails when
// a check fails.
//
//	with: max_skew (seconds, default 5)
//
// Outputs: failed (how many checks failed), checks (how many ran).
type Prereq struct {
	Env    *act.Env
	Config Config
}

// PrereqArgs are prereq_check's arguments.
type PrereqArgs struct {
	MaxSkew float64 `arg:"max_skew"`
}

// NewArgs implements workflow.Action.
func (Prereq) NewArgs() any { return &PrereqArgs{MaxSkew: 5} }

func (p Prereq) config(a *PrereqArgs) Config {
	c := p.Config
	c.Prereq, c.NoDrift, c.History = true, true, nil
	c.Limits = Limits{"clock_skew": {Warn: Off, Crit: a.MaxSkew}}
	// Only what the guide requires of the MNs before set-up: no
	// certificate or credential comparison yet.
	c.Certs, c.Credentials = []Cert{}, []string{}
	return c.withDefaults()
}

// Plan implements workflow.Action: the primary's script, then the
// standby's (run at once).
func (p Prereq) Plan(_ string, args any) []string {
	c := p.config(args.(*PrereqArgs))
	return []string{"[on " + c.Primary.Name + "] " + Script(c, Primary), "[on " + c.Standby.Name + "] " + Script(c, Standby)}
}

// Run implements workflow.Action.
func (p Prereq) Run(ctx context.Context, call workflow.Call) (workflow.Outcome, error) {
	a := call.Args.(*PrereqArgs)
	if a.MaxSkew < 0 || math.IsNaN(a.MaxSkew) {
		return workflow.Outcome{}, fmt.Errorf("prereq_check: max_skew %v: give the largest clock difference in seconds", a.MaxSkew)
	}
	c := p.config(a)
	if c.Primary.Name == "" || c.Standby.Name == "" {
		return workflow.Outcome{}, fmt.Errorf("prereq_check: the inventory names no primary or standby MN")
	}
	pf, sf := Gather(ctx, p.Env, c)
	if err := ctx.Err(); err != nil {
		return workflow.Outcome{}, err
	}
	o := workflow.Outcome{Command: "hamnflow's prerequisite checks on " + c.Primary.Name + " and " + c.Standby.Name, Ran: true}
	rows := PrereqRows(c, Evaluate(c, pf, sf))
	act.Say(call, &o, fmt.Sprintf("%-5s %-44s %s", "RESULT", "CHECK", "DETAIL"))
	var failed []string
	for _, r := range rows {
		act.Say(call, &o, fmt.Sprintf("%-5s %-44s %s", r.Result, r.Name, r.Detail))
		if r.Result != "PASS" {
			failed = append(failed, r.Name)
		}
	}
	o.Outputs = map[string]string{"failed": fmt.Sprint(len(failed)), "checks": fmt.Sprint(len(rows))}
	if len(failed) > 0 {
		return o, fmt.Errorf("prerequisites not met: %s", strings.Join(failed, ", "))
	}
	act.Say(call, &o, "all prerequisites met")
	return o, nil
}

// Row is one line of prereq's table.
type Row struct{ Result, Name, Detail string }

// PrereqRows names the results as the guide's prerequisites: PASS when
// OK, FAIL otherwise (a check that could not run fails too).
func PrereqRows(c Config, rs []Result) []Row {
	c = c.withDefaults()
	role := func(h string) string {
		if h == c.Primary.Name {
			return "primary"
		}
		return "standby"
	}
	var rows []Row
	var ranks []int
	for _, r := range rs {
		name := r.Check
		detail := r.Message
		switch r.Check {
		case "reach":
			if r.Status == OK {
				continue
			}
			name = "reach " + r.Host
		case "same_os", "same_xcat", "same_db", "same_subnet":
			name = map[string]string{"same_os": "same operating system", "same_xcat": "same xCAT version",
				"same_db": "same database version", "same_subnet": "same subnet"}[r.Check]
			if r.Status == OK {
				detail = r.Text
			}
		case "resolve":
			peer := c.Standby
			if r.Host != c.Primary.Name {
				peer = c.Primary
			}
			name = role(r.Host) + " resolves " + peer.Hostname
			if r.Status == OK {
				detail = r.Text
			}
		case "ssh_trust":
			name = "ssh " + role(r.Host) + " -> " + role(r.Subject)
		case "clock_skew":
			name = "clock skew"
			if r.HasValue() {
				detail = fmt.Sprintf("%gs (at most %gs)", r.Value, r.Limit.Crit)
				if r.Status != OK {
					detail = fmt.Sprintf("%gs, more than %gs: synchronise the clocks (NTP, guide 4.0)", r.Value, r.Limit.Crit)
				}
			}
		case "standby_service":
			name = map[string]string{"xcatd": "xcatd", "dhcp": "dhcpd", "dns": "named", "console": "console server"}[r.Subject] + " stopped on the standby"
			if name == " stopped on the standby" {
				name = r.Subject + " stopped on the standby"
			}
		default:
			continue // the database's replication is not set up yet
		}
		res := "PASS"
		if r.Status != OK {
			res = "FAIL"
		}
		rows = append(rows, Row{res, name, detail})
		ranks = append(ranks, rank[r.Check])
	}
	// The guide's order: the MNs alike, names, SSH, clocks, services.
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ranks[idx[a]] < ranks[idx[b]] })
	out := make([]Row, len(rows))
	for i, j := range idx {
		out[i] = rows[j]
	}
	return out
}

var rank = map[string]int{"reach": 0, "same_os": 1, "same_xcat": 1, "same_db": 1, "same_subnet": 1, "resolve": 2,
	"ssh_trust": 3, "clock_skew": 4, "standby_service": 5}
