package steps

import "github.com/hamnflow/hamnflow/workflow"

func postgresActions(env *Env) workflow.ActionSet { return workflow.ActionSet{} }
