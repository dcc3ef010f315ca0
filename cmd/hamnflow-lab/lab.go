package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/integration/lab"
)

// labCommands bring up, inspect and tear down a rehearsal lab. The lab is
// an operator host, two management nodes and service nodes, each in its own
// network, mount and PID namespace with a real sshd, on 198.51.100.0/24.
// Run hamnflow against it from the operator namespace:
//
//	ip netns exec PREFIX-op hamnflow --inventory DIR/inventory.yaml run failover
func labCommands() []*cli.Command {
	dirFlag := &cli.StringFlag{Name: "dir", Usage: "the lab's state directory (keys, inventory, known_hosts)"}
	return []*cli.Command{
		{
			Name:  "up",
			Usage: "build a lab; prints its state directory",
			Flags: []cli.Flag{
				dirFlag,
				&cli.StringFlag{Name: "prefix", Usage: "namespace prefix (default: hf + 4 random hex digits)"},
				&cli.IntFlag{Name: "service-nodes", Aliases: []string{"sn"}, Value: 2, Usage: "number of service nodes"},
				&cli.BoolFlag{Name: "postgres", Usage: "PostgreSQL 15 on the MNs (running on mn1)"},
				&cli.BoolFlag{Name: "xcat", Usage: "xCAT on the MNs: with --os linux the real xCAT 2.19 from --xcat-src on systemd hosts, on PostgreSQL (implies --postgres) or --xcat-db sqlite; with --os aix the AIX stand-ins"},
				&cli.StringFlag{Name: "xcat-db", Value: "postgresql", Usage: "the real xCAT's database: postgresql (streaming replication) or sqlite (xcatconfig's default, copied by cron)"},
				&cli.StringFlag{Name: "xcat-src", EnvVars: []string{"XCAT_SRC"}, Usage: "the xCAT source tree (xcat2/xcat-core 2.19) the real lab lays out (default: ../shared/xcat-core beside the module)"},
				&cli.BoolFlag{Name: "db2", Usage: "the Db2 model on the MNs (program db2model next to hamnflow-lab, or --db2model)"},
				&cli.StringFlag{Name: "os", Value: "linux", Usage: "linux or aix (which stand-ins answer)"},
				&cli.StringFlag{Name: "standin", Usage: "path of the xcat-standin program"},
				&cli.StringFlag{Name: "db2model", Usage: "path of the db2model program"},
			},
			Action: labUp,
		},
		{Name: "status", Usage: "show the lab's hosts and their health", Flags: []cli.Flag{dirFlag}, Action: labStatus},
		{Name: "down", Usage: "tear the lab down (namespaces, processes, files)", Flags: []cli.Flag{dirFlag}, Action: labDown},
	}
}

// besideSelf finds a program next to the hamnflow-lab executable.
func besideSelf(flag, name string) string {
	if flag != "" {
		return flag
	}
	exe, err := os.Executable()
	if err != nil {
		return name
	}
	return filepath.Join(filepath.Dir(exe), name)
}

func labUp(c *cli.Context) error {
	cfg := lab.Config{
		Prefix: c.String("prefix"), Dir: c.String("dir"), ServiceNodes: c.Int("service-nodes"),
		Postgres: c.Bool("postgres"), OS: c.String("os"), Db2: c.Bool("db2"),
		StandinExe:  besideSelf(c.String("standin"), "xcat-standin"),
		Db2ModelExe: besideSelf(c.String("db2model"), "db2model"),
		XCATSrc:     c.String("xcat-src"),
		Log:         c.App.ErrWriter,
	}
	switch {
	case c.Bool("xcat") && cfg.OS == "aix":
		cfg.XCAT = true // no AIX here: NIM, SRC and mktcpip are stand-ins
	case c.Bool("xcat") && cfg.Db2:
		return errors.New("lab up: the real xCAT runs on PostgreSQL; the Db2 model goes with --os aix and its stand-ins (--xcat --db2 --os aix)")
	case c.Bool("xcat"):
		switch db := c.String("xcat-db"); db {
		case "postgresql":
			cfg.Systemd, cfg.RealXCAT, cfg.Postgres = true, true, true
		case "sqlite":
			if cfg.Postgres {
				return errors.New("lab up: --xcat-db sqlite and --postgres exclude each other")
			}
			cfg.Systemd, cfg.RealXCAT = true, true
		default:
			return fmt.Errorf("lab up: --xcat-db %q: give postgresql or sqlite", db)
		}
	}
	for _, need := range []struct {
		on   bool
		path string
		flag string
	}{{cfg.XCAT, cfg.StandinExe, "--standin"}, {cfg.Db2, cfg.Db2ModelExe, "--db2model"}} {
		if _, err := os.Stat(need.path); need.on && err != nil {
			return fmt.Errorf("lab up: %s not found; build it (make build) or name it with %s", need.path, need.flag)
		}
	}
	start := time.Now()
	l, err := lab.Up(c.Context, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.ErrWriter, "lab %s up in %v\n  inventory:   %s\n  known_hosts: %s\n  run:         ip netns exec %s %s --inventory %s ...\n  tear down:   hamnflow-lab down --dir %s\n",
		l.Prefix, time.Since(start).Round(time.Millisecond), l.InventoryPath(), l.KnownHostsPath(),
		l.OperatorNamespace(), besideSelf("", "hamnflow"), l.InventoryPath(), l.Dir)
	fmt.Fprintln(c.App.Writer, l.Dir)
	return nil
}

func loadLab(c *cli.Context) (*lab.Lab, error) {
	dir := c.String("dir")
	if dir == "" {
		return nil, fmt.Errorf("lab %s: --dir is required (the directory lab up printed)", c.Command.Name)
	}
	l, err := lab.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("lab %s: %w", c.Command.Name, err)
	}
	return l, nil
}

func labStatus(c *cli.Context) error {
	l, err := loadLab(c)
	if err != nil {
		return err
	}
	st, err := l.Status(c.Context)
	if err != nil {
		return err
	}
	bad := 0
	for _, s := range st {
		state := "ok"
		if !s.Healthy() {
			state, bad = strings.Join(s.Problems, "; "), bad+1
		}
		fmt.Fprintf(c.App.Writer, "%-6s %-14s %s\n", s.Name, s.Namespace, state)
	}
	if bad > 0 {
		return fmt.Errorf("lab %s: %d host(s) unhealthy; tear it down with: hamnflow-lab down --dir %s", l.Prefix, bad, l.Dir)
	}
	return nil
}

func labDown(c *cli.Context) error {
	l, err := loadLab(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Context), 2*time.Minute)
	defer cancel()
	return l.Down(ctx)
}
