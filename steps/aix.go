package steps

import "github.com/hamnflow/hamnflow/workflow"

func aixActions(env *Env) workflow.ActionSet { return workflow.ActionSet{} }
