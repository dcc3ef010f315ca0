package journal

import (
	"path/filepath"
	"testing"

	"github.com/hamnflow/hamnflow/workflow"
	"github.com/hamnflow/hamnflow/workflow/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Conformance(t, func(t *testing.T) workflow.Store {
		dir := t.TempDir()
		j, err := OpenWith(filepath.Join(dir, "journal.db"), Options{LockDir: filepath.Join(dir, "locks")})
		if err != nil {
			t.Fatal(err)
		}
		return j
	})
}
