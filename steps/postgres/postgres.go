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
	// Unit is the systemd unit that runs the cluster on a systemd host:
	// "" derives it from DataDir (UnitFor), "none" has pg_ctl start and
	// stop the server even there.
	Unit string
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
	Unit    string `arg:"unit"`

	init string // the step's host's service manager, set by on
}

// on sets the service manager of the host the commands run on, from the
// inventory (systemd, sysv, src; "" for a host it does not name).
func (c *Cluster) on(env *act.Env, host string) {
	c.init = ""
	if env == nil {
		return
	}
	if h, err := env.Host(host); err == nil {
		c.init = h.Init
	}
}

// server is what the commands are built from: with:, else the
// inventory, else the defaults.
type server struct {
	bin, data, conf, user, socket, log string
	port                               int
	// unit is the systemd unit that starts and stops the server; "":
	// pg_ctl does.
	unit string
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
	if c.init == "systemd" {
		switch u := or(c.Unit, c.set.Unit); u {
		case "none":
		case "":
			s.unit = UnitFor(s.data)
		default:
			s.unit = u
		}
	}
	return s
}

// UnitFor is the systemd unit the distributions' packages run a cluster
// with data directory data under: Debian's and Ubuntu's postgresql-common
// run /var/lib/postgresql/VERSION/CLUSTER as postgresql@VERSION-CLUSTER
// (its postgresql@.service template; the umbrella postgresql.service only
// starts them), the PGDG RPMs run /var/lib/pgsql/VERSION/data as
// postgresql-VERSION, and RHEL's and SLES's own packages run one cluster
// as postgresql.
func UnitFor(data string) string {
	f := strings.Split(strings.Trim(data, "/"), "/")
	switch {
	case len(f) == 5 && f[0] == "var" && f[1] == "lib" && f[2] == "postgresql" && isVersion(f[3]):
		return "postgresql@" + f[3] + "-" + f[4]
	case len(f) == 5 && f[0] == "var" && f[1] == "lib" && f[2] == "pgsql" && isVersion(f[3]) && f[4] == "data":
		return "postgresql-" + f[3]
	}
	return "postgresql"
}

// DebianConfDir is where postgresql-common keeps the configuration of
// the cluster in data (/etc/postgresql/VERSION/CLUSTER for
// /var/lib/postgresql/VERSION/CLUSTER); "" for another layout, whose
// configuration is in the data directory.
func DebianConfDir(data string) string {
	f := strings.Split(strings.Trim(data, "/"), "/")
	if len(f) == 5 && f[0] == "var" && f[1] == "lib" && f[2] == "postgresql" && isVersion(f[3]) {
		return "/etc/postgresql/" + f[3] + "/" + f[4]
	}
	return ""
}

// isVersion says whether v is a PostgreSQL major version (15, 9.6).
func isVersion(v string) bool {
	if v == "" {
		return false
	}
	for _, r := range v {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return true
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

// exe is the command line of one of the server's programs. Under a
// systemd unit the scripts run as root (systemctl needs it), and the
// programs as the owner through runuser: pg_ctl refuses root.
func (s server) exe(name string) string {
	path := remote.ShellQuote(strings.TrimRight(s.bin, "/") + "/" + name)
	if s.unit != "" {
		return "runuser -u " + remote.ShellQuote(s.user) + " -- " + path
	}
	return path
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

// start starts the server with its log in s.log, or through its unit
// (which waits until it accepts connections: pg_ctlcluster and the RPMs'
// units start it with -w).
func (s server) start() string {
	if s.unit != "" {
		return "systemctl start " + remote.ShellQuote(s.unit+".service")
	}
	return s.pgctl("-l " + remote.ShellQuote(s.log) + " -w -t 120 start")
}

// stop stops the server with a fast shutdown (the units' stop is one).
func (s server) stop() string {
	if s.unit != "" {
		return "systemctl stop " + remote.ShellQuote(s.unit+".service")
	}
	return s.pgctl("-m fast -w -t 120 stop")
}

// stopIfRunning stops a running server and leaves a stopped one.
func (s server) stopIfRunning() string {
	return "if " + s.pgctl("status") + " >/dev/null 2>&1; then " + s.stop() + "; fi\n"
}

// script is a command run as the server's owner, or as root with the
// programs run as the owner (exe) when a systemd unit runs the server.
func (s server) script(text string) act.Script {
	if s.unit != "" {
		return act.Script{Text: text}
	}
	return act.Script{Text: text, AsUser: s.user}
}

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
