package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/playbooks"
	"github.com/hamnflow/hamnflow/steps/remote"
)

// checkRemote reaches every host of the inventory and reports, per host,
// whether SSH works, the host key is known and the OS matches.
func checkRemote(c *cli.Context, inv *playbooks.Inventory) error {
	pool := remote.NewPool(remote.SSHConfig{KnownHostsFile: inv.KnownHostsFile(), AcceptNew: c.Bool("accept-new-host-keys"), Logger: stderrLogger(c)})
	defer pool.Close()
	names := sortedHostNames(inv)
	lines := make([]string, len(names))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			lines[i] = checkHost(c.Context, pool, inv, name)
		}()
	}
	wg.Wait()
	failed := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "FAIL") {
			failed++
		}
		fmt.Fprintln(c.App.Writer, l)
	}
	if failed > 0 {
		return fmt.Errorf("%d host(s) failed the remote check; see the lines marked FAIL", failed)
	}
	return nil
}

// checkHost runs uname and hostname on one host and says how it went.
func checkHost(ctx context.Context, pool *remote.Pool, inv *playbooks.Inventory, name string) string {
	h, _ := inv.Host(name)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	res, err := pool.Exec(ctx, h, remote.Command{Script: "uname -s; hostname"})
	want := inv.Hosts[name].OS
	f := strings.Fields(string(res.Stdout))
	switch {
	case err != nil:
		return fmt.Sprintf("FAIL %-10s %v", name, err)
	case res.Exit != 0 || len(f) == 0:
		return fmt.Sprintf("FAIL %-10s uname -s; hostname exited %d%s", name, res.Exit, strings.TrimSpace(" "+string(res.Stderr)))
	case !strings.EqualFold(f[0], want):
		return fmt.Sprintf("FAIL %-10s inventory says os %s, the host runs %s", name, want, f[0])
	}
	return fmt.Sprintf("ok   %-10s %s, hostname %s", name, f[0], strings.Join(f[1:], " "))
}

func sortedHostNames(inv *playbooks.Inventory) []string {
	var names []string
	for n := range inv.Hosts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
