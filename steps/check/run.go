package check

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
)

// Gather runs each MN's script on env's transport, both at once, and
// parses what they print. ctx bounds the whole (the command's --timeout);
// a host that does not answer in time has Facts.Err set.
func Gather(ctx context.Context, env *act.Env, c Config) (p, s Facts) {
	c = c.withDefaults()
	var wg sync.WaitGroup
	one := func(h Host, role Role, out *Facts) {
		defer wg.Done()
		*out = gatherOne(ctx, env, h, role, c)
	}
	wg.Add(2)
	go one(c.Primary, Primary, &p)
	go one(c.Standby, Standby, &s)
	wg.Wait()
	return p, s
}

func gatherOne(ctx context.Context, env *act.Env, h Host, role Role, c Config) Facts {
	rh, err := env.Host(h.Name)
	if err != nil {
		return Facts{Host: h.Name, Err: err}
	}
	sent := time.Now()
	res, err := env.Transport.Exec(ctx, rh, remote.Command{Script: Script(c, role)})
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (no answer within --timeout)", err)
		}
		return Facts{Host: h.Name, Err: err}
	}
	if res.Exit != 0 {
		return Facts{Host: h.Name, Err: fmt.Errorf("the check script exited %d%s", res.Exit, act.Tail(res.Stderr, res.Stdout))}
	}
	f := ParseFacts(h.Name, string(res.Stdout))
	f.Sent = sent
	return f
}

// Run gathers both MNs' facts and evaluates them into a report.
func Run(ctx context.Context, env *act.Env, c Config) Report {
	start := time.Now()
	c = c.withDefaults()
	p, s := Gather(ctx, env, c)
	rs := Evaluate(c, p, s)
	return Report{Cluster: c.Cluster, Primary: c.Primary.Name, Standby: c.Standby.Name, Status: Verdict(rs), Results: rs,
		Took: time.Since(start).Seconds()}
}
