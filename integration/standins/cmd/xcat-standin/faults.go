package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hamnflow/hamnflow/integration/standins"
)

// matchFault returns the index of the first rule matching the command and
// its arguments, or -1.
func matchFault(rules []standins.Fault, name string, args []string) int {
	joined := strings.Join(args, " ")
	for i, r := range rules {
		if r.Command != name && r.Command != filepath.Base(name) {
			continue
		}
		if strings.Contains(joined, r.ArgsContain) {
			return i
		}
	}
	return -1
}

// applyFault fires the first fault rule matching this call, if any: it
// prints the rule's output and returns its exit code. A rule with times
// left is decremented and removed once used up.
func (a *app) applyFault() (code int, fired bool, err error) {
	unlock, err := a.lock()
	if err != nil {
		return 0, false, err
	}
	defer unlock()
	rules, err := standins.ReadFaults(a.root)
	if err != nil || len(rules) == 0 {
		return 0, false, err
	}
	i := matchFault(rules, a.name, a.args)
	if i < 0 {
		return 0, false, nil
	}
	r := rules[i]
	if r.Times > 0 {
		if r.Times == 1 {
			rules = append(rules[:i], rules[i+1:]...)
		} else {
			rules[i].Times--
		}
		if err := standins.WriteFaults(a.root, rules); err != nil {
			return 0, false, err
		}
	}
	fmt.Fprint(a.stdout, r.Stdout)
	if r.Stderr != "" {
		fmt.Fprint(a.stderr, r.Stderr)
		if !strings.HasSuffix(r.Stderr, "\n") {
			fmt.Fprintln(a.stderr)
		}
	}
	return r.ExitCode(), true, nil
}
