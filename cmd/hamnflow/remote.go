package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/playbooks"
	"github.com/hamnflow/hamnflow/steps"
	"github.com/hamnflow/hamnflow/steps/sshx"
)

// checkRemote reaches every host of the inventory and reports, per host,
// whether SSH works, the host key is known and the OS matches.
func checkRemote(c *cli.Context, inv *playbooks.Inventory) error {
	pool := sshx.New(sshx.Config{KnownHostsFile: inv.KnownHostsFile(), AcceptNew: c.Bool("accept-new-host-keys"), Logger: newLogger(c)})
	defer pool.Close()
	failed := 0
	for _, name := range sortedHostNames(inv) {
		h, _ := inv.Host(name)
		ctx, cancel := context.WithTimeout(c.Context, 15*time.Second)
		res, err := pool.Exec(ctx, h, steps.Command{Script: "uname -s; hostname"})
		cancel()
		want := inv.Hosts[name].OS
		switch {
		case err != nil:
			failed++
			fmt.Fprintf(c.App.Writer, "FAIL %-10s %v\n", name, err)
		case res.Exit != 0:
			failed++
			fmt.Fprintf(c.App.Writer, "FAIL %-10s uname exited %d\n", name, res.Exit)
		default:
			f := strings.Fields(string(res.Stdout))
			osName := strings.ToLower(f[0])
			if osName != want {
				failed++
				fmt.Fprintf(c.App.Writer, "FAIL %-10s inventory says os %s, the host runs %s\n", name, want, f[0])
				continue
			}
			fmt.Fprintf(c.App.Writer, "ok   %-10s %s, hostname %s\n", name, f[0], strings.Join(f[1:], " "))
		}
	}
	if failed > 0 {
		return cli.Exit(fmt.Sprintf("%d host(s) failed the remote check", failed), exitBadInput)
	}
	return nil
}

func sortedHostNames(inv *playbooks.Inventory) []string {
	var names []string
	for n := range inv.Hosts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
