package steps

import "github.com/hamnflow/hamnflow/workflow"

func addressActions(env *Env) workflow.ActionSet { return workflow.ActionSet{} }
