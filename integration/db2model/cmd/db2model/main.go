// Command db2model is the lab model of Db2's command line (db2, db2pd,
// db2gcf, db2start, db2stop) and its HADR daemon. It dispatches on the name
// it is run under; see package db2model.
package main

import (
	"os"

	"github.com/hamnflow/hamnflow/integration/db2model"
)

func main() {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	os.Exit(db2model.Main(os.Args[0], os.Args[1:], db2model.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv: os.Getenv, Exe: exe, PPID: os.Getppid(),
	}))
}
