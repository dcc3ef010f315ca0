package playbooks

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoLogretain: LOGRETAIN and USEREXIT are discontinued since Db2 10.1
// (IBM 11.1 "Summary of deprecated and discontinued functionality") and
// Db2 11.5 rejects them; no playbook or part may set them.
func TestNoLogretain(t *testing.T) {
	n := 0
	err := filepath.WalkDir("library", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		for i, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			up := strings.ToUpper(line)
			if strings.Contains(up, "USING LOGRETAIN") || strings.Contains(up, "USING USEREXIT") {
				t.Errorf("%s:%d sets a discontinued Db2 parameter: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("read %d playbooks: %v", n, err)
	}
}
