// Package files holds hamnflow's file actions: synchronising files
// between the management nodes (guide section 6) with rsync run on the
// primary MN, which pushes them to the standby over the SSH trust the MNs
// already have; drift, the same rsync as a dry run; and crontab, which
// keeps the guide's periodic rsync entries in a block hamnflow owns.
//
// Each action builds its commands in one function that both Plan and Run
// call, so a plan shows exactly what runs.
package files

import (
	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/workflow"
)

// Actions returns the file actions, bound to env.
func Actions(env *act.Env) map[string]workflow.Action {
	return map[string]workflow.Action{
		"rsync":   Rsync{Env: env},
		"drift":   Drift{Env: env},
		"crontab": Crontab{Env: env},
	}
}
