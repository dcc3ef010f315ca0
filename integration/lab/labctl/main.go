// Command labctl brings a hamnflow lab up, shows its status and tears it
// down, until `hamnflow lab` does the same:
//
//	labctl up [-prefix P] [-dir D] [-sn N] [-postgres]   # prints the state dir
//	labctl hold [same flags]   # up, then keep the lab until Ctrl-C / SIGTERM
//	labctl status -dir D
//	labctl down -dir D
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hamnflow/hamnflow/integration/lab"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: labctl up|hold|status|down [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", "", "state dir (up: default a new temp dir)")
	prefix := fs.String("prefix", "", "namespace prefix (up: default hf + 4 hex)")
	sns := fs.Int("sn", 2, "service nodes (up)")
	pg := fs.Bool("postgres", false, "set up PostgreSQL on the MNs (up)")
	_ = fs.Parse(os.Args[2:])
	if err := run(os.Args[1], *dir, *prefix, *sns, *pg); err != nil {
		fmt.Fprintln(os.Stderr, "labctl:", err)
		os.Exit(1)
	}
}

func run(cmd, dir, prefix string, sns int, pg bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	switch cmd {
	case "up", "hold":
		start := time.Now()
		l, err := lab.Up(ctx, lab.Config{Prefix: prefix, Dir: dir, ServiceNodes: sns, Postgres: pg})
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "lab %s up in %v; inventory %s; run things with: ip netns exec %s ...\n",
			l.Prefix, time.Since(start).Round(time.Millisecond), l.InventoryPath(), l.OperatorNamespace())
		for _, t := range l.Timings {
			fmt.Fprintf(os.Stderr, "  %-40s %v\n", t.Phase, t.Took.Round(time.Millisecond))
		}
		fmt.Println(l.Dir)
		if cmd == "hold" {
			stop() // from here on, a signal tears the lab down
			lab.SetupSignalTeardown(l)
			select {}
		}
		return nil
	case "status", "down":
		if dir == "" {
			return fmt.Errorf("%s: -dir is required", cmd)
		}
		l, err := lab.Load(dir)
		if err != nil {
			return err
		}
		if cmd == "down" {
			err := l.Down(context.WithoutCancel(ctx))
			for _, t := range l.Timings {
				if strings.HasPrefix(t.Phase, "down") {
					fmt.Fprintf(os.Stderr, "  %-40s %v\n", t.Phase, t.Took.Round(time.Millisecond))
				}
			}
			return err
		}
		st, err := l.Status(ctx)
		if err != nil {
			return err
		}
		bad := 0
		for _, s := range st {
			state := "ok"
			if !s.Healthy() {
				state, bad = strings.Join(s.Problems, "; "), bad+1
			}
			fmt.Printf("%-6s %-14s %s\n", s.Name, s.Namespace, state)
		}
		if bad > 0 {
			return fmt.Errorf("%d host(s) unhealthy", bad)
		}
		return nil
	}
	return fmt.Errorf("unknown command %q (up|hold|status|down)", cmd)
}
