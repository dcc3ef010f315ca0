package storetest

import (
	"testing"

	"github.com/hamnflow/hamnflow/workflow"
)

func TestMemConformance(t *testing.T) {
	Conformance(t, func(*testing.T) workflow.Store { return NewMem() })
}
