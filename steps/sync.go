package steps

import "github.com/hamnflow/hamnflow/workflow"

func syncActions(env *Env) workflow.ActionSet { return workflow.ActionSet{} }
