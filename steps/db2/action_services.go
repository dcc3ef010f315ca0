package db2

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// HADRServices (action db2_services) adds the HADR service names to
// /etc/services (guide 5.1.5), idempotently: present entries are left
// alone, a name with another port is corrected, a port held by another
// service is an error. Runs as the login user (root).
//
// Outputs: changed (true/false).
type HADRServices struct {
	Env      *act.Env
	Settings Settings
}

// ServicesArgs are the arguments of db2_services.
type ServicesArgs struct {
	// Services: NAME:PORT entries, e.g. [DB2_HADR_1:55001, DB2_HADR_2:55002]
	// (an element may list several, comma separated); default the
	// inventory's HADR services. They are checked when the step runs,
	// not when the playbook is loaded: a playbook is validated against
	// inventories of other databases too, where they render empty.
	Services []string `arg:"services"`
	File     string   `arg:"file"` // default /etc/services
}

// NewArgs implements workflow.Action.
func (*HADRServices) NewArgs() any { return &ServicesArgs{File: "/etc/services"} }

func (s Settings) services(a *ServicesArgs) ([]Service, error) {
	list := a.Services
	if len(list) == 0 {
		list = s.Services
	}
	return ParseServices(strings.Join(list, ","))
}

func servicesFile(a *ServicesArgs) string {
	if a.File != "" {
		return a.File
	}
	return "/etc/services"
}

// readServices is the command that reads the file; writeServices the one
// that replaces it with its stdin.
func readServices(file string) string { return "cat " + remote.ShellQuote(file) }

func writeServices(file string) string {
	q := remote.ShellQuote(file)
	return fmt.Sprintf("t=$(mktemp %s.hamnflow.XXXXXX) && cat >\"$t\" && chmod 644 \"$t\" && mv -f \"$t\" %s", q, q)
}

func entries(svcs []Service) string {
	var l []string
	for _, s := range svcs {
		l = append(l, fmt.Sprintf("%s %d/tcp", s.Name, s.Port))
	}
	return strings.Join(l, ", ")
}

// Plan implements workflow.Action.
func (d *HADRServices) Plan(_ string, args any) []string {
	a := args.(*ServicesArgs)
	file := servicesFile(a)
	list := "the services given"
	if svcs, err := d.Settings.services(a); err == nil {
		list = entries(svcs)
	}
	return []string{readServices(file),
		when("if an entry is missing or has another port: stdin is "+file+" with "+list, writeServices(file))}
}

// Run implements workflow.Action.
func (d *HADRServices) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*ServicesArgs)
	svcs, err := d.Settings.services(a)
	if err != nil {
		return workflow.Outcome{}, err
	}
	file := servicesFile(a)
	h, err := d.Env.Host(c.Host)
	if err != nil {
		return workflow.Outcome{}, err
	}
	read := readServices(file)
	o := workflow.Outcome{Command: read}
	res, err := d.Env.Transport.Exec(ctx, h, remote.Command{Script: read})
	if err != nil {
		return o, fmt.Errorf("read %s on %s: %w", file, h.Label(), err)
	}
	if res.Exit != 0 {
		return o, fmt.Errorf("read %s on %s: exit status %d%s", file, h.Label(), res.Exit, act.Tail(res.Stderr, nil))
	}
	text, changed, err := EnsureServices(string(res.Stdout), svcs)
	if err != nil {
		return o, fmt.Errorf("%s on %s: %w", file, h.Label(), err)
	}
	o.Ran, o.Outputs = true, map[string]string{"changed": strconv.FormatBool(changed)}
	if !changed {
		o.Stdout = "HADR services already in " + file + "\n"
		return o, nil
	}
	write := writeServices(file)
	o.Command = write
	res, err = d.Env.Transport.Exec(ctx, h, remote.Command{Script: write, Stdin: strings.NewReader(text)})
	o.Stdout, o.Stderr, o.Exit = string(res.Stdout), string(res.Stderr), res.Exit
	if err != nil {
		return o, fmt.Errorf("write %s on %s: %w", file, h.Label(), err)
	}
	if res.Exit != 0 {
		return o, fmt.Errorf("write %s on %s: exit status %d%s", file, h.Label(), res.Exit, act.Tail(res.Stderr, nil))
	}
	return o, nil
}
