// Package steps is every action hamnflow has, gathered from its domain
// packages (steps/postgres, steps/db2, steps/services, ...), and the
// template functions playbooks may use.
package steps

import (
	"strings"
	"text/template"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/aix"
	"github.com/hamnflow/hamnflow/steps/check"
	"github.com/hamnflow/hamnflow/steps/db2"
	"github.com/hamnflow/hamnflow/steps/files"
	"github.com/hamnflow/hamnflow/steps/mysql"
	"github.com/hamnflow/hamnflow/steps/netaddr"
	"github.com/hamnflow/hamnflow/steps/postgres"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/steps/services"
	"github.com/hamnflow/hamnflow/steps/shell"
	"github.com/hamnflow/hamnflow/steps/sqlite"
	"github.com/hamnflow/hamnflow/steps/xcat"
	"github.com/hamnflow/hamnflow/workflow"
)

// Config holds what actions take from the cluster's inventory (each
// domain's Settings: the database's programs and directories, ...), so that
// playbooks need not repeat them in every step's with:.
type Config struct {
	// Each domain package adds its Settings here.
	Postgres postgres.Settings
	Db2      db2.Settings
	MySQL    mysql.Settings
	SQLite   sqlite.Settings
	Check    check.Config // the MNs as hamnflow check sees them (prereq_check)
}

// Actions returns every action hamnflow knows, bound to env and cfg. Each
// domain package (steps/postgres, steps/db2, ...) gives its own actions.
func Actions(env *act.Env, cfg Config) workflow.ActionSet {
	set := workflow.ActionSet{}
	for _, domain := range []map[string]workflow.Action{
		services.Actions(env),
		shell.Actions(env),
		files.Actions(env),
		postgres.Actions(env, cfg.Postgres),
		db2.Actions(env, cfg.Db2),
		mysql.Actions(env, cfg.MySQL),
		sqlite.Actions(env, cfg.SQLite),
		netaddr.Actions(env), // cluster address takeover, fencing checks
		xcat.Actions(env),    // xCAT's commands, the osimage check
		aix.Actions(env),     // mktcpip, NIM
		check.Actions(env, cfg.Check),
	} {
		for name, a := range domain {
			set[name] = a
		}
	}
	return set
}

// Funcs are the template functions playbooks may use besides secret.
func Funcs() template.FuncMap {
	return template.FuncMap{
		"quote": remote.ShellQuote,
		"join": func(sep string, l any) string {
			switch v := l.(type) {
			case []string:
				return strings.Join(v, sep)
			case []any:
				s := make([]string, len(v))
				for i, e := range v {
					s[i], _ = e.(string)
				}
				return strings.Join(s, sep)
			}
			return ""
		},
		"default": func(def, v any) any {
			if s, ok := v.(string); ok && s == "" || v == nil {
				return def
			}
			return v
		},
		"lower": strings.ToLower,
		"upper": strings.ToUpper,
	}
}
