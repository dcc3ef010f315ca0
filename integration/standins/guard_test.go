//go:build lab

package standins_test

import (
	"os"
	"testing"
)

// needMachine stops a test that cannot run on this machine. Where such
// tests must run (as root, or in CI) it fails with the reason instead of
// skipping, so that a missing package or privilege is never hidden; only
// an unprivileged developer run outside CI skips.
func needMachine(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Geteuid() == 0 || os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...) // only when neither root nor CI: see above
}
