package main

import (
	"fmt"
	"strings"
)

// option is one parsed command-line option.
type option struct {
	c   byte   // the option letter
	val string // its argument, for options that take one
}

// getopt parses args the way AIX's getopt does, with GNU's permutation:
// spec lists the option letters, a letter followed by ':' takes an
// argument (attached, as in -h'name', or as the next word). Operands may
// come between options; "--" ends the options.
func getopt(args []string, spec string) ([]option, []string, error) {
	var opts []option
	var operands []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			operands = append(operands, args[i+1:]...)
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			operands = append(operands, arg)
			continue
		}
		for j := 1; j < len(arg); j++ {
			c := arg[j]
			k := strings.IndexByte(spec, c)
			if k < 0 || c == ':' {
				return nil, nil, fmt.Errorf("illegal option -- %c", c)
			}
			if k+1 < len(spec) && spec[k+1] == ':' {
				val := arg[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return nil, nil, fmt.Errorf("option requires an argument -- %c", c)
					}
					i++
					val = args[i]
				}
				opts = append(opts, option{c: c, val: val})
				break
			}
			opts = append(opts, option{c: c})
		}
	}
	return opts, operands, nil
}
