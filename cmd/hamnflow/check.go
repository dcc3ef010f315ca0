package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/playbooks"
	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/check"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

func checkCommand() *cli.Command {
	var thresholds []string
	for _, n := range check.LimitNames() {
		thresholds = append(thresholds, "  "+n+": "+check.LimitHelp(n))
	}
	return &cli.Command{
		Name:      "check",
		Usage:     "is the standby ready? read-only checks of both MNs, one verdict (Nagios exit codes)",
		ArgsUsage: " ",
		Description: `check asks each MN once over SSH, both at once, and changes nothing on
them: PostgreSQL's WAL receiver and replay lag (or Db2 HADR, MySQL's replica
threads, the SQLite copy's age), the last sync in the journal and what rsync
would copy now per path set, the credentials' checksums on both MNs, the
standby's xcatd, DHCP, DNS and console server stopped and not enabled, xCAT's
certificates' days to expiry, SSH both ways, clock skew and the last drill.

Exit codes, as a Nagios plugin's: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
(the checks could not run: bad input, no inventory, or only unknowns).

Thresholds (the inventory's check.thresholds, or --warn/--crit NAME=VALUE):
` + strings.Join(thresholds, "\n"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "table or json"},
			&cli.BoolFlag{Name: "nagios", Usage: "print a Nagios/Icinga plugin's status line with perfdata instead"},
			&cli.StringFlag{Name: "textfile", Usage: "also write Prometheus metrics into `DIR` (node_exporter's textfile collector), atomically"},
			&cli.DurationFlag{Name: "timeout", Value: 20 * time.Second, Usage: "give up on the MNs after `DURATION`"},
			&cli.StringSliceFlag{Name: "warn", Usage: "warning threshold `NAME=VALUE` (e.g. replay_lag=1m), repeatable"},
			&cli.StringSliceFlag{Name: "crit", Usage: "critical threshold `NAME=VALUE` (e.g. cert_days=14), repeatable"},
		},
		Action: func(c *cli.Context) error {
			err := runCheck(c)
			var v *verdictError
			if err != nil && !errors.As(err, &v) && c.Bool("nagios") {
				// A plugin that cannot run says UNKNOWN on stdout (the
				// plugin guidelines), with the reason.
				fmt.Fprintf(c.App.Writer, "HAMNFLOW UNKNOWN - %s\n", nagiosLine(message(err)))
				return &verdictError{status: check.Unknown, quiet: true}
			}
			if err != nil && !errors.As(err, &v) {
				return &verdictError{status: check.Unknown, err: err}
			}
			return err
		},
	}
}

func nagiosLine(s string) string { return strings.NewReplacer("\n", "; ", "|", "/").Replace(s) }

// verdictError carries check's verdict to main as its exit code.
type verdictError struct {
	status check.Status
	err    error // why the checks could not run (UNKNOWN), if that is why
	quiet  bool  // the output already said it
}

func (e *verdictError) Error() string {
	switch {
	case e.quiet:
		return ""
	case e.err != nil:
		return e.err.Error()
	}
	return "check: " + e.status.String()
}

func (e *verdictError) Unwrap() error { return e.err }

// ExitCode is the Nagios plugin's exit code of the verdict.
func (e *verdictError) ExitCode() int { return int(e.status) }

func runCheck(c *cli.Context) error {
	if c.NArg() > 0 {
		return usage("hamnflow check", "check takes no arguments (got %q)", c.Args().First())
	}
	if err := oneOf(c, "output", "table", "json"); err != nil {
		return err
	}
	if c.Duration("timeout") <= 0 {
		return usage("hamnflow check --timeout 10s", "--timeout %s: give how long the MNs may take", c.Duration("timeout"))
	}
	if d := c.String("textfile"); d != "" {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			return usage("hamnflow check --textfile /var/lib/prometheus/node-exporter", "--textfile %s: not a directory (give node_exporter's --collector.textfile.directory)", d)
		}
	}
	path := inventoryPath(c)
	if path == "" {
		return usage("hamnflow check --inventory FILE", "check needs the cluster inventory: name it with --inventory FILE or $HAMNFLOW_INVENTORY, or create %s", systemInventory)
	}
	inv, _, err := playbooks.LoadInventory(path)
	if err != nil {
		return err
	}
	cfg, err := inv.CheckConfig()
	if err != nil {
		return err
	}
	for _, which := range []string{"warn", "crit"} {
		for _, kv := range c.StringSlice(which) {
			name, v, ok := strings.Cut(kv, "=")
			if !ok {
				return usage("hamnflow check --"+which+" replay_lag=1m", "--%s %q: give NAME=VALUE", which, kv)
			}
			if err := cfg.Limits.Set(name, which, v); err != nil {
				return usage("hamnflow check --help", "--%s %s", which, err)
			}
		}
	}
	hist, err := checkHistory(c)
	if err != nil {
		return err
	}
	cfg.History = hist

	log := stderrLogger(c)
	connect := c.Duration("timeout")
	if d, err := time.ParseDuration(inv.SSH.ConnectTimeout); err == nil && d > 0 && d < connect {
		connect = d
	}
	pool := remote.NewPool(remote.SSHConfig{KnownHostsFile: inv.KnownHostsFile(), ConnectTimeout: connect, Logger: log})
	defer pool.Close()
	env := &act.Env{Transport: remote.Router{Local: remote.Local{}, Remote: pool}, Hosts: inv.Host}

	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	defer cancel()
	rep := check.Run(ctx, env, cfg)
	if err := c.Context.Err(); err != nil {
		return err
	}
	if err := writeCheck(c, rep, time.Now()); err != nil {
		return err
	}
	if rep.Status == check.OK {
		return nil
	}
	return &verdictError{status: rep.Status, quiet: true}
}

// writeCheck prints the report as asked, and writes the textfile.
func writeCheck(c *cli.Context, rep check.Report, at time.Time) error {
	if dir := c.String("textfile"); dir != "" {
		if _, err := check.WriteTextfile(dir, rep, at); err != nil {
			return err
		}
	}
	return printCheck(c.App.Writer, c.Bool("nagios"), c.String("output"), rep)
}

func printCheck(w io.Writer, nagios bool, output string, rep check.Report) error {
	switch {
	case nagios:
		return check.WriteNagios(w, rep)
	case output == "json":
		return check.WriteJSON(w, rep)
	}
	return check.WriteTable(w, rep)
}

// checkHistory reads the journal's runs for the sync and drill checks; a
// journal that does not exist yet has none (and is not created).
func checkHistory(c *cli.Context) (check.History, error) {
	if missing, _, err := journalMissing(c); err != nil {
		return nil, err
	} else if missing {
		return noRuns{}, nil
	}
	j, err := openJournal(c)
	if err != nil {
		return nil, err
	}
	return journalHistory{j}, nil
}

type noRuns struct{}

func (noRuns) LastSucceeded(string, ...string) (check.JournalRun, bool, error) {
	return check.JournalRun{}, false, nil
}

type journalHistory struct{ j workflow.Store }

func (h journalHistory) LastSucceeded(cluster string, pbs ...string) (check.JournalRun, bool, error) {
	var best check.JournalRun
	for _, pb := range pbs {
		runs, err := h.j.Runs(workflow.Filter{Playbook: pb, Cluster: cluster, Status: workflow.RunSucceeded, Limit: 1})
		if err != nil {
			return best, false, err
		}
		for _, r := range runs {
			end := r.EndedAt
			if end.IsZero() {
				end = r.UpdatedAt
			}
			if end.After(best.Ended) {
				best = check.JournalRun{ID: r.ID, Playbook: r.Playbook, Ended: end}
			}
		}
	}
	return best, !best.Ended.IsZero(), nil
}
