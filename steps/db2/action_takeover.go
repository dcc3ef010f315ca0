package db2

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/workflow"
)

// Takeover (action db2_takeover) makes the step's host (the standby) the
// HADR primary, choosing the command from its state the way the Pacemaker
// db2 agent does (ChooseTakeover):
//
//	Standby, Peer, Connected  -> TAKEOVER HADR ON DATABASE DB
//	Disconnected peer         -> ... BY FORCE PEER WINDOW ONLY
//	any other standby state   -> ... BY FORCE, only with fenced: true
//
// A takeover refused with SQL1770N reason code 7 (the primary did not
// answer: after its host died the standby can show Peer/Connected until
// HADR_TIMEOUT) is retried after reading the state again, for up to
// 2 x HADR_TIMEOUT, as the Pacemaker agent does; the step says so and until
// when. After the command it waits (up to 30s) until the database reports
// role Primary. Outputs: kind, command, reason, loss_warning, fence_by, state
// (the standby's state before), connect_status, role, new_state.
type Takeover struct {
	Env      *act.Env
	Settings Settings
}

// TakeoverArgs are the arguments of db2_takeover.
type TakeoverArgs struct {
	// Fenced: the old primary is proven down (or an operator accepted the
	// loss); required for BY FORCE.
	Fenced bool `arg:"fenced"`
	// Allow: the kinds permitted, graceful, peer_window, force (default
	// all three; force still needs fenced); an element may list several,
	// comma separated.
	Allow []string `arg:"allow"`
	// User and Password add USER u USING p (the guide's form); the
	// password comes from {{ secret "db2_password" }} and is never shown.
	User     string `arg:"user"`
	Password string `arg:"password"`
	Target
}

// NewArgs implements workflow.Action.
func (*Takeover) NewArgs() any { return &TakeoverArgs{} }

// ArgNames implements workflow.ArgDecoder.
func (a *TakeoverArgs) ArgNames() []string { return workflow.SpecOf(a).Names() }

// DecodeArgs implements workflow.ArgDecoder: the tags, then allow checked.
func (a *TakeoverArgs) DecodeArgs(vals map[string]any, unknown map[string]bool) []error {
	return decodeChecked(a, vals, unknown, func(unknown map[string]bool) []error {
		if _, err := allowedKinds(a.Allow); err != nil && !unknown["allow"] {
			return []error{argErr("allow", err.Error())}
		}
		return nil
	})
}

// takeoverKinds are the kinds a takeover may be, in the order ChooseTakeover
// considers them, with allow's names and when each is chosen.
var takeoverKinds = []struct {
	kind TakeoverKind
	name string
	when string
}{
	{TakeoverGraceful, "graceful", "if the standby is in Peer state and Connected (graceful)"},
	{TakeoverPeerWindowOnly, "peer_window", "if it lost the primary in Peer state: Disconnected peer, or Peer but not Connected (by force peer window only)"},
	{TakeoverForce, "force", "in any other standby state but Local catchup (by force)"},
}

// allowedKinds reads allow; empty allows every kind.
func allowedKinds(allow []string) (map[TakeoverKind]bool, error) {
	ok := map[TakeoverKind]bool{}
	given := false
	for _, f := range strings.Split(strings.Join(allow, ","), ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		given = true
		known := false
		for _, k := range takeoverKinds {
			if k.name == f {
				ok[k.kind], known = true, true
			}
		}
		if !known {
			return nil, fmt.Errorf("allow %q: use graceful, peer_window and/or force", strings.Join(allow, ","))
		}
	}
	if !given {
		for _, k := range takeoverKinds {
			ok[k.kind] = true
		}
	}
	return ok, nil
}

// takeoverCommand is the CLP command of a takeover of kind.
func (s Settings) takeoverCommand(a *TakeoverArgs, kind TakeoverKind) string {
	cmd := "TAKEOVER HADR ON DATABASE " + s.database(a.Database)
	if a.User != "" {
		cmd += " USER " + a.User + " USING " + a.Password
	}
	switch kind {
	case TakeoverPeerWindowOnly:
		cmd += " BY FORCE PEER WINDOW ONLY"
	case TakeoverForce:
		cmd += " BY FORCE"
	}
	return cmd
}

// After a takeover, the status is read every takeoverPoll until the
// database is primary, for up to takeoverWait.
const (
	takeoverPoll = 300 * time.Millisecond
	takeoverWait = 30 * time.Second
)

// Plan implements workflow.Action: the status read, then the session of
// each takeover this step may run with the state it runs in, then the
// reads until the database is primary.
func (d *Takeover) Plan(_ string, args any) []string {
	a := args.(*TakeoverArgs)
	own := d.Settings.owner(a.Owner)
	read := shown(own, d.Settings.statusCommand(a.Target, "db2pd"))
	out := []string{read}
	allow, _ := allowedKinds(a.Allow)
	var refused []string
	for _, k := range takeoverKinds {
		switch {
		case !allow[k.kind]:
			refused = append(refused, k.name+" (not in allow)")
		case k.kind == TakeoverForce && !a.Fenced:
			refused = append(refused, "force (fenced is false)")
		default:
			out = append(out, when(k.when, planSession(own, []clpLine{{text: d.Settings.takeoverCommand(a, k.kind)}})))
		}
	}
	note := "refused when the database is no standby or is in Local catchup"
	if len(refused) > 0 {
		note += "; refused here: " + strings.Join(refused, ", ")
	}
	if len(out) == 1 {
		out = append(out, "# "+note)
	} else {
		out[1] = when(note, out[1])
	}
	out = append(out, when(fmt.Sprintf("if the takeover answers SQL1770N reason code 7 (the primary did not answer): read the state again "+
		"every %s and run the takeover it then calls for, for up to 2 x HADR_TIMEOUT (%s with the default HADR_TIMEOUT)",
		takeoverRetryPause, 2*defaultHADRTimeout), read))
	return append(out, when(fmt.Sprintf("after the takeover: read again every %s, for up to %s, until Role is Primary", takeoverPoll, takeoverWait), read))
}

// Run implements workflow.Action.
func (d *Takeover) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*TakeoverArgs)
	allow, err := allowedKinds(a.Allow)
	if err != nil {
		return workflow.Outcome{}, err
	}
	if a.User != "" && a.Password == "" {
		return workflow.Outcome{}, fmt.Errorf("takeover on %s: user %s given without a password", c.Host, a.User)
	}
	var (
		o        workflow.Outcome
		outs     map[string]string
		deadline time.Time // set by the first SQL1770N reason code 7
		note     func(string)
	)
	note = func(msg string) {
		o.Stdout += msg + "\n"
		if c.Output != nil {
			fmt.Fprintln(c.Output, msg)
		}
	}
	for attempt := 1; ; attempt++ {
		ro, st, err := d.Settings.hadrStatus(d.Env, ctx, c, a.Target, "db2pd")
		if attempt == 1 {
			o = ro
		} else {
			o.Stdout += ro.Stdout
			o.Stderr += ro.Stderr
		}
		if err != nil {
			return o, fmt.Errorf("takeover on %s: %w", c.Host, err)
		}
		dec := ChooseTakeover(st)
		outs = map[string]string{"kind": dec.Kind.String(), "reason": dec.Reason, "loss_warning": dec.LossWarning,
			"state": st.State, "connect_status": st.ConnectStatus, "syncmode": st.SyncMode, "fence_by": "",
			"attempts": fmt.Sprint(attempt)}
		if !dec.FenceBy.IsZero() {
			outs["fence_by"] = dec.FenceBy.Format(time.RFC3339)
		}
		o.Outputs = outs
		if dec.Kind == TakeoverRefuse {
			return o, fmt.Errorf("no takeover on %s: %s", c.Host, dec.Reason)
		}
		if !allow[dec.Kind] {
			return o, fmt.Errorf("no takeover on %s: the standby's state calls for %s, and this step allows only %s: %s",
				c.Host, dec.Kind, strings.Join(a.Allow, ","), dec.Reason)
		}
		cmd := d.Settings.takeoverCommand(a, dec.Kind)
		if dec.NeedsFencing && !a.Fenced {
			return o, fmt.Errorf("refusing %s on %s: %s. %s Prove the old primary is down (powered off or fenced) and run again with fenced=true "+
				"(hamnflow run hadr-takeover --set fenced=true)", mask(cmd, c.Secrets), c.Host, dec.Reason, dec.LossWarning)
		}
		outs["command"] = mask(cmd, c.Secrets)
		s, err := runCLP(d.Env, ctx, c, d.Settings.owner(a.Owner), []clpLine{{text: cmd}})
		o.Command = s.out.Command
		o.Ran, o.Exit = s.out.Ran, s.out.Exit
		o.Stdout += s.out.Stdout
		o.Stderr += s.out.Stderr
		if err == nil {
			break
		}
		var ce *CLPError
		if errors.As(err, &ce) && ce.Code == "SQL1770N" && ce.Reason == 9 {
			return o, fmt.Errorf("takeover on %s: the peer window ended before the takeover (%w); the standby can only take over BY FORCE now, "+
				"once the old primary is proven down: run again with fenced=true", c.Host, err)
		}
		if !(errors.As(err, &ce) && ce.Code == "SQL1770N" && ce.Reason == 7) {
			return o, fmt.Errorf("takeover on %s: %w", c.Host, err)
		}
		// SQL1770N reason code 7: the primary did not answer. After the
		// primary's host died the standby can report Peer/Connected until
		// HADR_TIMEOUT; the Pacemaker agent reads the state again and
		// retries (ClusterLabs resource-agents heartbeat/db2, db2_promote:
		// "expected, HADR_TIMEOUT is now expired"). We do so for up to
		// 2 x HADR_TIMEOUT after the first refusal.
		now := time.Now()
		if deadline.IsZero() {
			window := 2 * hadrTimeout(st)
			deadline = now.Add(window)
			note(fmt.Sprintf("hamnflow: %s answered SQL1770N reason code 7 (the primary did not answer); reading the HADR state again "+
				"and retrying for up to 2 x HADR_TIMEOUT = %s, until %s", mask(cmd, c.Secrets), window, deadline.Format("15:04:05")))
		}
		if now.After(deadline) {
			return o, fmt.Errorf("takeover on %s: still SQL1770N reason code 7 after %d attempt(s) over 2 x HADR_TIMEOUT (until %s): "+
				"the primary neither answers nor has the standby noticed it is gone; check the standby's db2diag.log and the network (%w)",
				c.Host, attempt, deadline.Format("15:04:05"), err)
		}
		note(fmt.Sprintf("hamnflow: attempt %d failed with SQL1770N reason code 7; next read of the state in %s (%s left)",
			attempt, takeoverRetryPause, time.Until(deadline).Round(time.Second)))
		select {
		case <-ctx.Done():
			return o, ctx.Err()
		case <-time.After(takeoverRetryPause):
		}
	}
	// Wait until the database reports itself primary.
	deadline = time.Now().Add(takeoverWait)
	for {
		_, after, err := d.Settings.hadrStatus(d.Env, ctx, c, a.Target, "db2pd")
		if err == nil && after.Role == RolePrimary {
			outs["role"], outs["new_state"] = after.Role, after.State
			return o, nil
		}
		if time.Now().After(deadline) {
			return o, fmt.Errorf("takeover on %s: %s reported success but the database is not primary after %s (role %q, %v)",
				c.Host, outs["command"], takeoverWait, after.Role, err)
		}
		select {
		case <-ctx.Done():
			return o, ctx.Err()
		case <-time.After(takeoverPoll):
		}
	}
}

// takeoverRetryPause is the pause between a takeover refused with SQL1770N
// reason code 7 and the next read of the state.
const takeoverRetryPause = time.Second

// defaultHADRTimeout is HADR_TIMEOUT's default (IBM 11.5 hadr_timeout: 120
// seconds), used when the status does not carry it.
const defaultHADRTimeout = 120 * time.Second

func hadrTimeout(s HADRStatus) time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return defaultHADRTimeout
}
