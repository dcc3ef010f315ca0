package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
)

// dumpxCATdb writes each table tabdump lists as DIR/TABLE.csv and says
// "Backup Complete.", as xCAT-client/sbin/dumpxCATdb does (tabdump for the
// list of tables, then `tabdump -f DIR/TABLE.csv TABLE` for each; a table
// whose tabdump fails is an "Error running ..." message and the exit
// status stays 0; -p DIR is required and made when missing). Like every
// xCAT client command it asks xcatd unless XCATBYPASS is set
// (requireXcatd).
func (a *app) dumpxCATdb() int {
	dir := ""
	for i := 0; i < len(a.args); i++ {
		switch arg := a.args[i]; {
		case (arg == "-p" || arg == "--path") && i+1 < len(a.args):
			dir = a.args[i+1]
			i++
		case strings.HasPrefix(arg, "--path="):
			dir = strings.TrimPrefix(arg, "--path=")
		}
	}
	if dir == "" {
		a.errorf(" Requires -p with path to directory to hold db files.")
		return 1
	}
	if !a.requireXcatd() {
		a.errorf("Error running tabdump to get list of tables")
		return 1
	}
	if err := os.MkdirAll(a.path(dir), 0o755); err != nil {
		a.errorf("Error running mkdir -p %s", dir)
		return 1
	}
	var list bytes.Buffer
	sub := *a
	sub.args, sub.stdout = nil, &list
	if sub.tabdump() != 0 {
		a.errorf("Error running tabdump to get list of tables")
		return 1
	}
	for _, t := range strings.Fields(list.String()) {
		var out, errb bytes.Buffer
		sub := *a
		sub.args, sub.stdout, sub.stderr = []string{t}, &out, &errb
		if sub.tabdump() != 0 {
			a.errorf("Error running tabdump -f %s/%s.csv %s, %s", dir, t, t, strings.TrimSpace(errb.String()))
			continue
		}
		if err := os.WriteFile(a.path(filepath.Join(dir, t+".csv")), out.Bytes(), 0o644); err != nil {
			a.errorf("Error running tabdump -f %s/%s.csv %s, %v", dir, t, t, err)
		}
	}
	a.printf("Backup Complete.\n")
	return 0
}
