package steps

import "github.com/hamnflow/hamnflow/workflow"

func db2Actions(env *Env) workflow.ActionSet { return workflow.ActionSet{} }
