package steps

import "github.com/hamnflow/hamnflow/workflow"

func xcatActions(env *Env) workflow.ActionSet { return workflow.ActionSet{} }
