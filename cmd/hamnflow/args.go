package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed moves a command's positional arguments after its flags, so
// that `hamnflow resume ID --yes` works as operators type it (urfave/cli
// stops parsing flags at the first positional argument).
func interspersed(app *cli.App, args []string) []string {
	cmds := app.Commands
	i := 1
	// Skip global flags before the command.
	i = skipFlags(app.Flags, args, i)
	var cmd *cli.Command
	for i < len(args) {
		cmd = findCommand(cmds, args[i])
		if cmd == nil {
			return args
		}
		i++
		if len(cmd.Subcommands) == 0 {
			break
		}
		cmds = cmd.Subcommands
	}
	if cmd == nil {
		return args
	}
	out := append([]string{}, args[:i]...)
	var positional []string
	for i < len(args) {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			out = append(out, a)
			if !strings.Contains(a, "=") && takesValue(cmd.Flags, a) && i+1 < len(args) {
				out = append(out, args[i+1])
				i++
			}
			i++
		default:
			positional = append(positional, a)
			i++
		}
	}
	return append(out, positional...)
}

func skipFlags(flags []cli.Flag, args []string, i int) int {
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		if !strings.Contains(args[i], "=") && takesValue(flags, args[i]) {
			i++
		}
		i++
	}
	return i
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name {
			return c
		}
		for _, a := range c.Aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

func takesValue(flags []cli.Flag, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}
