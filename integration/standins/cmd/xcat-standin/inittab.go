package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// AIX's /etc/inittab commands, which start SRC subsystems at boot. xCAT
// writes entries for xcatd and conserver with them
// (xCAT-server/sbin/xcatconfig line 381: mkitab "xcatd:2:once:...";
// perl-xCAT/xCAT/Utils.pm lines 3312-3317: rmitab conserver, then mkitab
// "conserver:2:once:/usr/bin/startsrc -s conserver ..."). As IBM's AIX
// documents them (AIX 7.2, "lsitab Command", "mkitab Command", "rmitab
// Command"): lsitab ID prints the record whose identifier is ID and exits
// 1 when there is none; mkitab RECORD adds a record, refusing an
// identifier already there; rmitab ID removes it.

const inittabFile = "/etc/inittab"

func (a *app) inittab() ([]string, error) {
	b, err := os.ReadFile(a.path(inittabFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n"), nil
}

func (a *app) writeInittab(lines []string) error {
	text := strings.Join(lines, "\n")
	if text != "" {
		text += "\n"
	}
	return os.WriteFile(a.path(inittabFile), []byte(text), 0o644)
}

func ident(line string) string { id, _, _ := strings.Cut(line, ":"); return id }

// lsitab prints one record of /etc/inittab.
func (a *app) lsitab() int {
	if len(a.args) != 1 {
		fmt.Fprintln(a.stderr, "Usage: lsitab {-a | Identifier}")
		return 1
	}
	lines, err := a.inittab()
	if err != nil {
		fmt.Fprintf(a.stderr, "lsitab: %v\n", err)
		return 1
	}
	for _, l := range lines {
		if ident(l) == a.args[0] {
			a.printf("%s\n", l)
			return 0
		}
	}
	return 1
}

// mkitab adds a record to /etc/inittab.
func (a *app) mkitab() int {
	if len(a.args) != 1 || !strings.Contains(a.args[0], ":") {
		fmt.Fprintln(a.stderr, "Usage: mkitab [-i Identifier] {[Identifier]:[RunLevel]:[Action]:[Command]}")
		return 1
	}
	lines, err := a.inittab()
	if err != nil {
		fmt.Fprintf(a.stderr, "mkitab: %v\n", err)
		return 1
	}
	for _, l := range lines {
		if ident(l) == ident(a.args[0]) {
			fmt.Fprintf(a.stderr, "mkitab: Identifier %s already exists\n", ident(l))
			return 1
		}
	}
	if err := a.writeInittab(append(lines, a.args[0])); err != nil {
		fmt.Fprintf(a.stderr, "mkitab: %v\n", err)
		return 1
	}
	return 0
}

// rmitab removes a record from /etc/inittab.
func (a *app) rmitab() int {
	if len(a.args) != 1 {
		fmt.Fprintln(a.stderr, "Usage: rmitab Identifier")
		return 1
	}
	lines, err := a.inittab()
	if err != nil {
		fmt.Fprintf(a.stderr, "rmitab: %v\n", err)
		return 1
	}
	var keep []string
	for _, l := range lines {
		if ident(l) != a.args[0] {
			keep = append(keep, l)
		}
	}
	if err := a.writeInittab(keep); err != nil {
		fmt.Fprintf(a.stderr, "rmitab: %v\n", err)
		return 1
	}
	return 0
}
