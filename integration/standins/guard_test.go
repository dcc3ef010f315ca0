//go:build lab

package standins_test

import (
	"os"
	"testing"
)

// needMachine stops a test that cannot run on this machine. It fails
// with the reason rather than skipping, so that a missing package or
// privilege is never hidden: the lab tests (build tag lab) need root and
// `make deps`.
func needMachine(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Geteuid() != 0 {
		format += " (the lab tests need root)"
	}
	t.Fatalf(format, args...)
}
