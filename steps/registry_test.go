package steps

import (
	"testing"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/aix"
	"github.com/hamnflow/hamnflow/steps/netaddr"
	"github.com/hamnflow/hamnflow/steps/xcat"
	"github.com/hamnflow/hamnflow/workflow"
)

// No action is defined twice: a domain package's action never hides a
// legacy one of the same name, nor another domain's.
func TestActionNamesUnique(t *testing.T) {
	env := &act.Env{}
	seen := map[string]string{}
	for name := range textActions(env) {
		seen[name] = "legacy"
	}
	for pkg, set := range map[string]map[string]workflow.Action{
		"netaddr": netaddr.Actions(env), "xcat": xcat.Actions(env), "aix": aix.Actions(env),
	} {
		for name, a := range set {
			if other := seen[name]; other != "" {
				t.Errorf("action %s is in %s and %s", name, other, pkg)
			}
			seen[name] = pkg
			workflow.SpecOf(a.NewArgs()) // panics on arguments with: cannot give
		}
	}
	if got := Actions(env, Config{}); len(got) != len(seen) {
		t.Errorf("Actions has %d actions, the packages %d", len(got), len(seen))
	}
}
