package steps

import (
	"testing"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/aix"
	"github.com/hamnflow/hamnflow/steps/check"
	"github.com/hamnflow/hamnflow/steps/db2"
	"github.com/hamnflow/hamnflow/steps/files"
	"github.com/hamnflow/hamnflow/steps/mysql"
	"github.com/hamnflow/hamnflow/steps/netaddr"
	"github.com/hamnflow/hamnflow/steps/postgres"
	"github.com/hamnflow/hamnflow/steps/services"
	"github.com/hamnflow/hamnflow/steps/shell"
	"github.com/hamnflow/hamnflow/steps/sqlite"
	"github.com/hamnflow/hamnflow/steps/xcat"
	"github.com/hamnflow/hamnflow/workflow"
)

// No action is defined twice: a domain package's action never hides a
// legacy one of the same name, nor another domain's.
func TestActionNamesUnique(t *testing.T) {
	env := &act.Env{}
	seen := map[string]string{}
	for pkg, set := range map[string]map[string]workflow.Action{
		"netaddr": netaddr.Actions(env), "xcat": xcat.Actions(env), "aix": aix.Actions(env),
		"services": services.Actions(env), "shell": shell.Actions(env), "files": files.Actions(env),
		"postgres": postgres.Actions(env, postgres.Settings{}), "db2": db2.Actions(env, db2.Settings{}),
		"mysql": mysql.Actions(env, mysql.Settings{}), "sqlite": sqlite.Actions(env, sqlite.Settings{}),
		"check": check.Actions(env, check.Config{}),
	} {
		for name, a := range set {
			if other := seen[name]; other != "" {
				t.Errorf("action %s is in %s and %s", name, other, pkg)
			}
			seen[name] = pkg
			if _, ok := a.NewArgs().(workflow.ArgDecoder); !ok {
				workflow.SpecOf(a.NewArgs()) // panics on arguments with: cannot give
			}
		}
	}
	if got := Actions(env, Config{}); len(got) != len(seen) {
		t.Errorf("Actions has %d actions, the packages %d", len(got), len(seen))
	}
}
