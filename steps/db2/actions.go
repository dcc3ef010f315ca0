package db2

import (
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/workflow"
)

// The Db2 actions run the guide's commands (section 5.1) as the instance
// owner and read what Db2 prints with this package's parsers:
//
//	db2              a CLP session (one shell, so CONNECT holds) of commands
//	db2_hadr_status  db2pd -hadr or GET SNAPSHOT, parsed; want_role checks 5.1.8
//	db2_backup       DEACTIVATE + BACKUP DATABASE, the image timestamp parsed
//	db2_restore      RESTORE DATABASE ... TAKEN AT ... WITHOUT PROMPTING
//	db2_takeover     TAKEOVER HADR chosen by the standby's state
//	db2_services     /etc/services lines for the HADR ports
//
// Plans are the commands themselves: each action builds its scripts with
// one function that Plan and Run both call. A command run as the instance
// owner is shown as "[as OWNER] SCRIPT" (the transport wraps SCRIPT in
// su - OWNER -c, or sudo when it does not log in as root); a command that
// runs only in some cases, or repeatedly, is preceded by a "# ..." line
// saying when. Lines without such a prefix run as the login user (root).
//
// Secrets (the instance owner's password) are never part of a command line
// hamnflow sends: a CLP script reads them from stdin into shell variables
// and only db2 itself gets them, as its arguments. Plans show the same
// script, which is why it holds no secret to mask.
//
// None of the actions is a workflow.Reverser: a session of CLP commands,
// a backup, a restore or a takeover has no inverse made of the same action
// with other arguments (a takeover back runs on the other host), and
// db2_services only ever adds or corrects entries.

// Settings are what the Db2 actions take from the inventory; a step's
// arguments of the same names override them.
type Settings struct {
	Owner     string // instance owner the CLP runs as (database.owner); default xcatdb
	Database  string // database name (database.name); default XCATDB
	BackupDir string // db2_backup and db2_restore's dir (database.backup_dir)
	// Services are the HADR services "NAME:PORT" db2_services ensures
	// (database.hadr_primary_service/port, hadr_standby_service/port).
	Services []string
}

// DefaultOwner is the instance owner the guide uses.
const DefaultOwner = "xcatdb"

func (s Settings) withDefaults() Settings {
	if s.Owner == "" {
		s.Owner = DefaultOwner
	}
	if s.Database == "" {
		s.Database = Database
	}
	s.Database = strings.ToUpper(s.Database)
	return s
}

// Actions returns the Db2 actions, bound to env and the inventory's
// settings.
func Actions(env *act.Env, s Settings) map[string]workflow.Action {
	s = s.withDefaults()
	return map[string]workflow.Action{
		"db2":             &CLP{Env: env, Settings: s},
		"db2_hadr_status": &Status{Env: env, Settings: s},
		"db2_backup":      &Backup{Env: env, Settings: s},
		"db2_restore":     &Restore{Env: env, Settings: s},
		"db2_takeover":    &Takeover{Env: env, Settings: s},
		"db2_services":    &HADRServices{Env: env, Settings: s},
	}
}

// Target is the instance owner and database an action works on; empty
// means the inventory's.
type Target struct {
	Owner    string `arg:"owner"`
	Database string `arg:"database"`
}

func (s Settings) owner(arg string) string {
	if arg != "" {
		return arg
	}
	return s.Owner
}

// database is the database name as CLP commands write it (upper case).
func (s Settings) database(arg string) string {
	if arg != "" {
		return strings.ToUpper(arg)
	}
	return s.Database
}

// shown is a command as plans and outcomes show it: "[as OWNER] SCRIPT"
// for one run as another user.
func shown(asUser, script string) string {
	if asUser == "" {
		return script
	}
	return "[as " + asUser + "] " + script
}

// when is a plan's note on a command that runs only in some cases (or
// again and again): a shell comment line before it.
func when(note, cmd string) string { return "# " + note + "\n" + cmd }

// mask replaces every secret in s.
func mask(s string, secrets []string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, workflow.Mask)
		}
	}
	return s
}

// decodeChecked decodes with: into args through its tags, then runs check
// (the checks the tags cannot express) when every value is known.
func decodeChecked(args any, vals map[string]any, unknown map[string]bool, check func(unknown map[string]bool) []error) []error {
	if errs := workflow.DecodeArgs(args, vals, unknown); len(errs) > 0 {
		return errs
	}
	return check(unknown)
}

func argErr(arg, msg string) error { return &workflow.ArgError{Arg: arg, Msg: msg} }
