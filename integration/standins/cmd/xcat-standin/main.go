// Command xcat-standin stands in for xCAT's and AIX's commands on the
// hosts of hamnflow's lab. It is one multi-call program: the name it is
// run under (filepath.Base(os.Args[0])) selects the command, e.g. lsdef,
// nim, mktcpip or the xcatd daemon. Run as "xcat-standin NAME ARGS...",
// NAME selects it instead; the init scripts use this form with NAME
// "/etc/init.d/<service>".
//
// Every invocation appends one JSON line (standins.Call) to
// /opt/xcat/var/calls.log, and rules in /opt/xcat/var/faults.json can make
// matching calls fail. See package standins for the layout.
//
// Environment, for tests only (the lab sets none of them):
//
//	XCAT_STANDIN_ROOT          prefix of every host path (a fake root)
//	XCAT_STANDIN_XCATD_PORT    xcatd's first port instead of 3001 (the second is +1)
//	XCAT_STANDIN_XCATD_LISTEN  xcatd's listen address instead of 0.0.0.0
//	XCAT_STANDIN_DRYRUN=1      mktcpip prints what it would change instead of changing it
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hamnflow/hamnflow/integration/standins"
)

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// app is one invocation: which command, its arguments and where its files are.
type app struct {
	root   string // prefix of host paths; "" in the lab
	name   string // command name as recorded
	args   []string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// run dispatches argv and records the call; it returns the exit code.
func run(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	name, args := filepath.Base(argv[0]), argv[1:]
	if name == "xcat-standin" {
		if len(args) == 0 {
			fmt.Fprintln(stderr, "usage: xcat-standin COMMAND [ARGS...]")
			return 2
		}
		name, args = args[0], args[1:]
	}
	a := &app{
		root:   os.Getenv(standins.RootEnv),
		name:   name,
		args:   args,
		stdin:  stdin,
		stdout: stdout,
		stderr: stderr,
	}
	start := time.Now()
	host, _ := os.Hostname()
	code := a.dispatch()
	a.record(standins.Call{Time: start, Host: host, Command: name, Args: args, User: effectiveUser(), Exit: code})
	return code
}

// handler returns the implementation of a command, or nil.
func handler(name string) func(*app) int {
	if strings.HasPrefix(name, standins.InitDir+"/") {
		if s, ok := serviceByInit(strings.TrimPrefix(name, standins.InitDir+"/")); ok {
			return func(a *app) int { return a.initScript(s) }
		}
		return nil
	}
	switch name {
	case "xcatd", "dhcpd", "conserver", "named":
		s, _ := serviceByDaemon(name)
		return func(a *app) int { return a.daemon(s) }
	case "lsdef":
		return (*app).lsdef
	case "mkdef":
		return (*app).mkdef
	case "chdef":
		return (*app).chdef
	case "rmdef":
		return (*app).rmdef
	case "nodels":
		return (*app).nodels
	case "tabdump":
		return (*app).tabdump
	case "dumpxCATdb":
		return (*app).dumpxCATdb
	case "makedns":
		return (*app).makedns
	case "makedhcp":
		return (*app).makedhcp
	case "makeconservercf":
		return (*app).makeconservercf
	case "makegocons":
		return (*app).makegocons
	case "nodeset":
		return (*app).nodeset
	case "nimnodeset":
		return func(a *app) int { return a.nimInitNodes(false) }
	case "mkdsklsnode":
		return func(a *app) int { return a.nimInitNodes(true) }
	case "startsrc":
		return (*app).startsrc
	case "stopsrc":
		return (*app).stopsrc
	case "lssrc":
		return (*app).lssrc
	case "lsitab":
		return (*app).lsitab
	case "mkitab":
		return (*app).mkitab
	case "rmitab":
		return (*app).rmitab
	case "mktcpip":
		return (*app).mktcpip
	case "nim":
		return (*app).nim
	case "lsnim":
		return (*app).lsnim
	case "nim_master_setup":
		return (*app).nimMasterSetup
	case "m_mkspot":
		return (*app).mkspot
	}
	return nil
}

// dispatch applies a matching fault rule or runs the command.
func (a *app) dispatch() int {
	if code, fired, err := a.applyFault(); err != nil {
		fmt.Fprintf(a.stderr, "xcat-standin: %v\n", err)
		return 1
	} else if fired {
		return code
	}
	h := handler(a.name)
	if h == nil {
		fmt.Fprintf(a.stderr, "xcat-standin: %s: command not provided by the stand-in\n", a.name)
		return 127
	}
	return h(a)
}

// path maps a path inside the host to the path this process uses.
func (a *app) path(p string) string {
	if a.root == "" {
		return p
	}
	return filepath.Join(a.root, p)
}

// errorf prints an xCAT client error line ("Error: ...") to stderr.
func (a *app) errorf(format string, args ...any) {
	fmt.Fprintf(a.stderr, "Error: "+format+"\n", args...)
}

// printf prints to stdout.
func (a *app) printf(format string, args ...any) {
	fmt.Fprintf(a.stdout, format, args...)
}

// record appends c to the call log, fsynced; failures are reported on
// stderr but do not change the exit code.
func (a *app) record(c standins.Call) {
	if c.Args == nil {
		c.Args = []string{}
	}
	line, err := json.Marshal(c)
	if err == nil {
		err = appendSync(a.path(standins.CallLog), append(line, '\n'))
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "xcat-standin: cannot record the call: %v\n", err)
	}
}

func appendSync(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// effectiveUser is the name of the effective user, or its uid.
func effectiveUser() string {
	uid := strconv.Itoa(os.Geteuid())
	if u, err := user.LookupId(uid); err == nil {
		return u.Username
	}
	return uid
}

// lock takes the exclusive lock that serialises state updates of this host
// (nodes.json, nim.json, faults.json) and returns its release.
func (a *app) lock() (func(), error) {
	return lockFile(a.path(standins.LockFile))
}

// lockFile takes an exclusive flock on the file p and returns its release.
func lockFile(p string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// readJSON decodes path into v; a missing file leaves v unchanged.
func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeJSON replaces path with v, indented.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return standins.WriteFileAtomic(path, append(data, '\n'), 0o644)
}

// envInt reads an integer environment variable, or def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
