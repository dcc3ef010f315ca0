package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

// globalFlags are the flags every command takes, before or after the
// command's name (normalizeArgs).
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "journal", EnvVars: []string{"HAMNFLOW_JOURNAL"}, Usage: "journal `FILE`, or etcd://HOST:2379,HOST2:2379/PREFIX for a journal on etcd (default: the inventory's journal: etcd settings, else " + defaultJournalHelp + ")"},
		&cli.StringFlag{Name: "inventory", Aliases: []string{"i"}, EnvVars: []string{"HAMNFLOW_INVENTORY"}, Usage: "cluster inventory `FILE` (default " + systemInventory + " if it exists)"},
		&cli.StringFlag{Name: "playbook-dir", EnvVars: []string{"HAMNFLOW_PLAYBOOKS"}, Usage: "`DIR` whose NAME.yaml files (and parts/) override the built-in playbooks"},
		&cli.StringFlag{Name: "log-format", Value: "auto", Usage: "auto (readable on a terminal, JSON otherwise), text or json"},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		&cli.StringFlag{Name: "log-file", Usage: "with the terminal view of a run, write the log to `FILE` (default: next to the journal)"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log every event to the terminal instead of the live view of a run"},
	}
}

// checkGlobalFlags refuses bad values of the global flags before any
// command runs.
func checkGlobalFlags(c *cli.Context) error {
	if f := c.String("log-format"); !slices.Contains([]string{"auto", "text", "json"}, f) {
		return usage("hamnflow --log-format text ...", "--log-format %q: use auto, text or json", f)
	}
	if l := c.String("log-level"); l != "" {
		if _, err := zerolog.ParseLevel(l); err != nil || l == "" {
			return usage("hamnflow --log-level debug ...", "--log-level %q: use debug, info, warn or error", l)
		}
	}
	if d := c.String("playbook-dir"); d != "" {
		fi, err := os.Stat(d)
		switch {
		case err != nil:
			return usage("hamnflow playbooks --playbook-dir DIR", "--playbook-dir %s: %v (a typo here would run the built-in playbooks instead of yours)", d, err)
		case !fi.IsDir():
			return usage("hamnflow playbooks --playbook-dir DIR", "--playbook-dir %s is not a directory", d)
		}
	}
	return nil
}

// oneOf checks a flag's value against its allowed values.
func oneOf(c *cli.Context, flag string, allowed ...string) error {
	if v := c.String(flag); !slices.Contains(allowed, v) {
		return usage(fmt.Sprintf("hamnflow %s --%s %s", c.Command.FullName(), flag, allowed[0]), "--%s %q: use %s", flag, v, strings.Join(allowed, " or "))
	}
	return nil
}

func setFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "set", Usage: "give a playbook parameter: `NAME=VALUE` (repeatable)"}
}

func outputFlag() cli.Flag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "text or json"}
}

// engineFlags are the flags of every command that runs steps.
func engineFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "step", Usage: "step through: show each step and ask before it runs"},
		&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "answer yes to every confirmation (unattended; journaled as --yes)"},
		&cli.IntFlag{Name: "parallel", Value: 4, Usage: "run at most `N` independent steps at once"},
		&cli.BoolFlag{Name: "stream", Usage: "stream the steps' output to the terminal"},
		&cli.BoolFlag{Name: "keep-output", Usage: "keep the whole of every output the journal cuts (64 KiB each of stdout and stderr) in files next to the journal (JOURNAL.output/RUN/), secrets masked"},
		&cli.BoolFlag{Name: "accept-new-host-keys", Usage: "record the keys of hosts not yet in known_hosts (like ssh's accept-new); changed keys are always refused"},
		&cli.BoolFlag{Name: "force", Usage: "take over the live run marker that another hamnflow left on the MNs (bbolt journal), once you confirm that its holder is dead (or with --yes)"},
		&cli.BoolFlag{Name: "prompt-stdin", Hidden: true, Usage: "read answers from standard input even when it is not a terminal (scripts, tests)"},
	}
}

// checkEngineFlags refuses bad values of engineFlags.
func checkEngineFlags(c *cli.Context) error {
	if n := c.Int("parallel"); n < 1 || n > 1000 {
		return usage(fmt.Sprintf("hamnflow %s --parallel 4 ...", c.Command.Name), "--parallel %d: give 1 to 1000 steps at once", n)
	}
	return nil
}

func decisionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "assume-done", Usage: "an in-doubt `STEP` whose effect you checked is in place (repeatable)"},
		&cli.StringSliceFlag{Name: "redo", Usage: "an in-doubt `STEP` to run again (repeatable)"},
	}
}

// parseSets reads --set NAME=VALUE flags.
func parseSets(c *cli.Context) (map[string]string, error) {
	out := map[string]string{}
	for _, s := range c.StringSlice("set") {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, usage(fmt.Sprintf("hamnflow %s ... --set nodes=cn01", c.Command.Name), "--set %q: use --set NAME=VALUE", s)
		}
		out[k] = v
	}
	return out, nil
}

// normalizeArgs lets operators type flags where they think of them:
// global flags after the command (hamnflow plan failover --inventory X)
// move before it, and a command's own flags after its arguments
// (hamnflow resume ID --yes) move before those, since urfave/cli stops
// reading flags at the first argument.
func normalizeArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	i := skipFlags(app.Flags, args, 1)
	cmds := app.Commands
	var cmd *cli.Command
	for i < len(args) {
		c := findCommand(cmds, args[i])
		if c == nil {
			break
		}
		cmd = c
		i++
		if len(cmd.Subcommands) == 0 {
			break
		}
		cmds = cmd.Subcommands
	}
	if cmd == nil {
		return args
	}
	head := slices.Clone(args[:i])
	var global, own, positional []string
	for j := i; j < len(args); j++ {
		a := args[j]
		switch {
		case a == "--":
			positional = append(positional, args[j:]...)
			j = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			name := flagName(a)
			takes := !strings.Contains(a, "=")
			switch {
			case hasFlag(cmd.Flags, name):
				own = append(own, a)
				if takes && takesValue(cmd.Flags, name) && j+1 < len(args) {
					own = append(own, args[j+1])
					j++
				}
			case hasFlag(app.Flags, name):
				global = append(global, a)
				if takes && takesValue(app.Flags, name) && j+1 < len(args) {
					global = append(global, args[j+1])
					j++
				}
			default:
				own = append(own, a) // urfave/cli reports it, in one line
			}
		default:
			positional = append(positional, a)
		}
	}
	out := append([]string{args[0]}, global...)
	out = append(out, head[1:]...)
	out = append(out, own...)
	return append(out, positional...)
}

func flagName(arg string) string {
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	return name
}

func skipFlags(flags []cli.Flag, args []string, i int) int {
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "-" {
		if !strings.Contains(args[i], "=") && takesValue(flags, flagName(args[i])) {
			i++
		}
		i++
	}
	return i
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name || slices.Contains(c.Aliases, name) {
			return c
		}
	}
	return nil
}

func hasFlag(flags []cli.Flag, name string) bool {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

func takesValue(flags []cli.Flag, name string) bool {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			_, isBool := f.(*cli.BoolFlag)
			return !isBool
		}
	}
	return false
}
