// Package postgres holds hamnflow's PostgreSQL actions: replication status
// and loss window (pg_status), promotion (pg_promote), the configuration
// files (pg_conf), the server's state (pg_service), and (re)building a
// standby with pg_basebackup or pg_rewind (pg_basebackup, pg_rewind).
//
// The server's programs, directories, port and owner come from the
// inventory (Settings); every action takes the same names in with: as
// overrides (bin_dir given in with: wins). Commands run as the database
// owner, on the step's host.
//
// Each action builds its commands in one function that both Plan and Run
// call, so a plan shows exactly what runs. A plan line "[as USER] SCRIPT"
// is SCRIPT run as USER (act.Script.Shown).
package postgres

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// Settings are the inventory's PostgreSQL settings (its database:
// section). An empty field takes the built-in default.
type Settings struct {
	BinDir  string // directory of pg_ctl, psql, ... (database.bin_dir)
	DataDir string // the cluster's data directory (database.data_dir)
	ConfDir string // where postgresql.conf and pg_hba.conf live; "": DataDir
	Port    int    // 0: 5432
	User    string // the OS user that owns and runs the server; "": postgres
	Socket  string // Unix socket directory psql connects through; "": libpq's default
	Log     string // the server log pg_ctl start writes; "": DefaultLog
}

// Built-in defaults of Settings.
const (
	DefaultUser = "postgres"
	DefaultPort = 5432
	DefaultLog  = "/var/log/postgresql/hamnflow-postgresql.log"
)

// Actions returns the PostgreSQL actions, bound to env and to the
// inventory's settings s.
func Actions(env *act.Env, s Settings) map[string]workflow.Action {
	return map[string]workflow.Action{
		"pg_status":     Status{Env: env, Settings: s},
		"pg_promote":    Promote{Env: env, Settings: s},
		"pg_conf":       Conf{Env: env, Settings: s},
		"pg_service":    Service{Env: env, Settings: s},
		"pg_basebackup": Basebackup{Env: env, Settings: s},
		"pg_rewind":     Rewind{Env: env, Settings: s},
	}
}

// Conn are the arguments of every PostgreSQL action: how psql reaches the
// server. Each overrides the inventory's setting of that name; empty (or
// 0) keeps it.
type Conn struct {
	BinDir string `arg:"bin_dir"`
	User   string `arg:"user"`
	Port   int    `arg:"port"`
	Socket string `arg:"socket"`

	set Settings // the inventory's, given by NewArgs
}

// Cluster adds the data and configuration directories, for the actions
// that run pg_ctl.
type Cluster struct {
	Conn
	DataDir string `arg:"data_dir"`
	ConfDir string `arg:"conf_dir"`
}

// server is what the commands are built from: with:, else the
// inventory, else the defaults.
type server struct {
	bin, data, conf, user, socket, log string
	port                               int
}

func or[T comparable](v ...T) T {
	var zero T
	for _, x := range v {
		if x != zero {
			return x
		}
	}
	return zero
}

func (c *Conn) server() server {
	return server{
		bin: or(c.BinDir, c.set.BinDir), user: or(c.User, c.set.User, DefaultUser),
		port: or(c.Port, c.set.Port, DefaultPort), socket: or(c.Socket, c.set.Socket),
		log: or(c.set.Log, DefaultLog),
	}
}

func (c *Cluster) server() server {
	s := c.Conn.server()
	s.data = or(c.DataDir, c.set.DataDir)
	// The configuration is in the data directory unless conf_dir says
	// otherwise.
	s.conf = or(c.ConfDir, c.set.ConfDir, s.data)
	return s
}

// withLog sets the server log from a log argument.
func (s server) withLog(log string) server {
	if log != "" {
		s.log = log
	}
	return s
}

// check reports what the commands cannot be built without.
func (s server) check(needData bool) []error {
	var errs []error
	if s.bin == "" {
		errs = append(errs, argErr("bin_dir", `needs argument "bin_dir" (or database.bin_dir in the inventory): the directory of psql and pg_ctl, e.g. /usr/lib/postgresql/15/bin`))
	}
	if needData && s.data == "" {
		errs = append(errs, argErr("data_dir", `needs argument "data_dir" (or database.data_dir in the inventory), e.g. /var/lib/postgresql/15/main`))
	}
	if s.port < 1 || s.port > 65535 {
		errs = append(errs, argErr("port", fmt.Sprintf("argument port: %d is not a TCP port (1 to 65535)", s.port)))
	}
	return errs
}

func argErr(arg, msg string) error { return &workflow.ArgError{Arg: arg, Msg: msg} }

func quote(s string) string { return remote.ShellQuote(s) }

func (s server) exe(name string) string {
	return remote.ShellQuote(strings.TrimRight(s.bin, "/") + "/" + name)
}

// psql is a psql command line running each query with its own -c.
func (s server) psql(db string, queries ...string) string {
	cmd := s.exe("psql") + " -X -A -t -q -v ON_ERROR_STOP=1 -p " + strconv.Itoa(s.port) + " -d " + remote.ShellQuote(db)
	if s.socket != "" {
		cmd += " -h " + remote.ShellQuote(s.socket)
	}
	for _, q := range queries {
		cmd += " -c " + remote.ShellQuote(q)
	}
	return cmd
}

// pgctl is pg_ctl on the data directory with extra arguments.
func (s server) pgctl(args string) string {
	cmd := s.exe("pg_ctl") + " -D " + remote.ShellQuote(s.data)
	if s.conf != s.data {
		cmd += " -o " + remote.ShellQuote("-c config_file="+strings.TrimRight(s.conf, "/")+"/postgresql.conf")
	}
	return cmd + " " + args
}

// start starts the server with its log in s.log.
func (s server) start() string {
	return s.pgctl("-l " + remote.ShellQuote(s.log) + " -w -t 120 start")
}

// stop stops the server with a fast shutdown.
func (s server) stop() string { return s.pgctl("-m fast -w -t 120 stop") }

// stopIfRunning stops a running server and leaves a stopped one.
func (s server) stopIfRunning() string {
	return "if " + s.pgctl("status") + " >/dev/null 2>&1; then " + s.stop() + "; fi\n"
}

// script is a command run as the server's owner.
func (s server) script(text string) act.Script { return act.Script{Text: text, AsUser: s.user} }

// checker is an argument struct that checks itself once decoded: known
// says whether an argument's value is known (not a run-time placeholder).
type checker interface {
	check(known func(arg string) bool) []error
}

// decode is every argument struct's DecodeArgs: the engine's decoding,
// then the struct's own checks on the values known now.
func decode(a checker, vals map[string]any, unknown map[string]bool) []error {
	if errs := workflow.DecodeArgs(a, vals, unknown); len(errs) > 0 {
		return errs
	}
	return a.check(func(k string) bool { return !unknown[k] })
}

// valid checks arguments at run time, when every value is known.
func valid(a checker) error { return errors.Join(a.check(func(string) bool { return true })...) }
