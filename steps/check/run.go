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
	out, err := execScript(ctx, env, rh, "check", Script(c, role))
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (no answer within --timeout)", err)
		}
		return Facts{Host: h.Name, Err: err}
	}
	f := ParseFacts(h.Name, out)
	f.Sent = sent
	return f
}

// runScript runs one of this package's read-only scripts on the
// inventory host name and returns what it printed; a non-zero exit is an
// error that names which script (what) and ends with its last words.
func runScript(ctx context.Context, env *act.Env, name, what, script string) (string, error) {
	h, err := env.Host(name)
	if err != nil {
		return "", err
	}
	return execScript(ctx, env, h, what, script)
}

func execScript(ctx context.Context, env *act.Env, h remote.Host, what, script string) (string, error) {
	res, err := env.Transport.Exec(ctx, h, remote.Command{Script: script})
	if err != nil {
		return "", err
	}
	if res.Exit != 0 {
		return "", fmt.Errorf("the %s script exited %d%s", what, res.Exit, act.Tail(res.Stderr, res.Stdout))
	}
	return string(res.Stdout), nil
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
