// Package mysql replicates the xCAT database on MySQL or MariaDB (guide
// 5.3): binary log replication from the primary MN to the standby, the
// replica's promotion, and the wait for a replica to catch up. It holds
// the actions, the SQL they send and the parsers of what the servers
// print (parse.go).
//
//	mysql_config          server_id, log_bin, read_only in a file of their own; restart if needed
//	mysql_repl_user       the replication user on the source
//	mysql_replica_start   seed the replica from a mysqldump of the source and replicate
//	mysql_replica_status  SHOW SLAVE STATUS (SHOW REPLICA STATUS) checked
//	mysql_promote         the replica becomes a writable primary
//	mysql_catch_up        wait until the replica applied the source's binary log
//
// SQL goes to the client on stdin, never on its command line: a plan shows
// a command as the client's command line with its stdin as a here-document
// ("mysql --batch <<'SQL' ... SQL"), a command on another inventory host
// than the step's prefixed "[on HOST] ", and commands that run only in
// some cases, or again and again, after a "# ..." line saying when (it
// holds for the commands after it).
//
// Each action asks the server for its version first (SELECT VERSION()) and
// speaks its dialect: MariaDB and MySQL before 8.0.22 say SLAVE and MASTER,
// MySQL 8 REPLICA and SOURCE (SyntaxFor). A plan cannot know the version
// before the run, so it shows MariaDB's statements, the ones the library's
// playbooks assume (mariadb, /etc/mysql/mariadb.conf.d): on MySQL 8 the
// same commands run with MySQL 8's keywords in their place.
//
// None of the actions is a workflow.Reverser: promoting a replica or
// pointing it at a source is undone by other actions with other hosts
// (mysql_replica_start on the old primary), and mysql_config's inverse
// would be the settings the server ran with before, which it does not keep.
package mysql

import (
	"context"
	"fmt"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/workflow"
)

// Settings are what the MySQL actions take from the inventory; a step's
// arguments of the same names override them.
type Settings struct {
	Client   string // the client command, default mysql
	Dump     string // mysqldump's command, default mysqldump
	Database string // the database replicated (database.name)
	Port     int    // the source's port (database.port), default 3306
	// ConfFile is the file of hamnflow's replication settings, in the
	// server's configuration directory (database.conf_dir).
	ConfFile string
	Restart  string // the command that restarts the server (vars.mysql_restart)
}

func (s Settings) withDefaults() Settings {
	if s.Client == "" {
		s.Client = "mysql"
	}
	if s.Dump == "" {
		s.Dump = "mysqldump"
	}
	if s.Port == 0 {
		s.Port = 3306
	}
	return s
}

// Actions returns the MySQL/MariaDB actions, bound to env and the
// inventory's settings.
func Actions(env *act.Env, s Settings) map[string]workflow.Action {
	s = s.withDefaults()
	b := base{Env: env, Settings: s}
	return map[string]workflow.Action{
		"mysql_config":         &Config{b},
		"mysql_repl_user":      &ReplUser{b},
		"mysql_replica_start":  &ReplicaStart{b},
		"mysql_replica_status": &ReplicaStatusCheck{b},
		"mysql_promote":        &Promote{b},
		"mysql_catch_up":       &CatchUp{b},
	}
}

// base is what every action of the package holds.
type base struct {
	Env      *act.Env
	Settings Settings
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

func (b base) client(arg string) string { return or(arg, b.Settings.Client) }

// command is one command an action runs: Plan shows it, Run runs it.
type command struct {
	host   string // the inventory host it runs on; "" the step's
	script string // run by /bin/sh -c
	stdin  string // SQL for the client, ending in a newline
	ok     []int  // exit statuses that count as success; empty: 0
	what   string // for messages; default the SQL on one line
}

// sql is a command that feeds statements to the client.
func sql(host, client, statements string) command {
	return command{host: host, script: client + " --batch", stdin: statements}
}

// query is a command that runs one statement and prints its rows
// tab-separated, without column names.
func query(host, client, statement string) command {
	return sql(host, client+" --skip-column-names", statement+";\n")
}

// versionQuery asks a server which dialect it speaks.
func versionQuery(host, client string) command { return query(host, client, "SELECT VERSION()") }

// String is the command as plans and outcomes show it.
func (c command) String() string {
	s := c.script
	if c.stdin != "" {
		s += " <<'SQL'\n" + c.stdin + "SQL"
	}
	if c.host != "" {
		s = "[on " + c.host + "] " + s
	}
	return s
}

func (c command) label() string {
	if c.what != "" {
		return c.what
	}
	if c.stdin != "" {
		return strings.Join(strings.Fields(c.stdin), " ")
	}
	return c.script
}

// note is a plan's line on a command that runs only in some cases.
func note(n string, c command) string { return "# " + n + "\n" + c.String() }

// planSyntax is the dialect plans show (see the package comment).
var planSyntax, _ = SyntaxFor("10.11.6-MariaDB")

// exec runs cmd for the call (on cmd.host, or the call's host). The
// Outcome shows the command with the call's secrets masked. What a client
// fed SQL prints is not streamed (it may quote a statement, secrets and
// all, in a form the engine does not know to mask), only kept, masked.
func (b base) exec(ctx context.Context, c workflow.Call, cmd command) (workflow.Outcome, error) {
	call := c
	if cmd.host != "" {
		call.Host = cmd.host
	}
	if cmd.stdin != "" {
		call.Output = nil
	}
	o, _, err := b.Env.Run(ctx, call, act.Script{Text: cmd.script, Stdin: strings.TrimSuffix(cmd.stdin, "\n"), OK: cmd.ok})
	o.Command = mask(cmd.String(), c.Secrets)
	o.Stdout, o.Stderr = mask(o.Stdout, c.Secrets), mask(o.Stderr, c.Secrets)
	switch {
	case err != nil && !o.Ran:
		return o, fmt.Errorf("%s on %s: %s", mask(cmd.label(), c.Secrets), act.HostLabel(call.Host), mask(err.Error(), c.Secrets))
	case err != nil:
		return o, fmt.Errorf("%s: %s", mask(cmd.label(), c.Secrets), mask(err.Error(), c.Secrets))
	}
	return o, nil
}

// queryOn runs a query command and returns its output, trimmed.
func (b base) queryOn(ctx context.Context, c workflow.Call, cmd command) (string, error) {
	o, err := b.exec(ctx, c, cmd)
	return strings.TrimSpace(o.Stdout), err
}

// syntaxOn asks host's server ("" the step's) for its version and the
// syntax it takes.
func (b base) syntaxOn(ctx context.Context, c workflow.Call, host, client string) (ReplicationSyntax, error) {
	v, err := b.queryOn(ctx, c, versionQuery(host, client))
	if err != nil {
		return ReplicationSyntax{}, err
	}
	return SyntaxFor(v)
}

// mask replaces every secret in s, as it is and as an SQL string
// literal holds it (” for ').
func mask(s string, secrets []string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, workflow.Mask)
			if q := sqlString(v); q[1:len(q)-1] != v {
				s = strings.ReplaceAll(s, q[1:len(q)-1], workflow.Mask)
			}
		}
	}
	return s
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

// hostOf is the host a command runs on as plans name it: "" when it is
// the step's own.
func hostOf(step, host string) string {
	if host == step {
		return ""
	}
	return host
}
