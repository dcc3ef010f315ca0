//go:build lab

package linux

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/integration/labtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestPlanGolden pins `hamnflow plan` of the Linux playbooks: every step,
// its host, its exact command, probe and undo. Run with -update after an
// intended change and review the diff.
func TestPlanGolden(t *testing.T) {
	bins := labtest.Build(t)
	tests := []struct {
		golden, inventory string
		args              []string
	}{
		{"plan-failover-floating.golden", "floating.yaml", []string{"plan", "failover", "--set", "nodes=compute"}},
		{"plan-failover-identity.golden", "identity.yaml", []string{"plan", "failover"}},
		{"plan-failback-floating.golden", "floating.yaml", []string{"plan", "failback"}},
		{"plan-pg-setup-floating.golden", "floating.yaml", []string{"plan", "pg-setup"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			args := append([]string{"--inventory", filepath.Join("testdata", tt.inventory)}, tt.args...)
			cmd := exec.Command(bins.Hamnflow, args...)
			cmd.Env = append(os.Environ(), "HAMNFLOW_JOURNAL="+filepath.Join(t.TempDir(), "journal.db"), "NO_COLOR=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			got, err := cmd.Output()
			if err != nil {
				t.Fatalf("hamnflow %v: %v\n%s", args, err, stderr.String())
			}
			path := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./integration/linux -run TestPlanGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("hamnflow %v differs from %s (rerun with -update if intended):\n%s", args, path, lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff shows the lines where want and got differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out strings.Builder
	for i := 0; (i < len(w) || i < len(g)) && out.Len() < 3000; i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			fmt.Fprintf(&out, "line %d:\n- %s\n+ %s\n", i+1, a, b)
		}
	}
	return out.String()
}
