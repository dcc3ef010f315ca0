package steps

import "github.com/hamnflow/hamnflow/workflow"

func dbActions(env *Env) workflow.ActionSet { return workflow.ActionSet{} }
