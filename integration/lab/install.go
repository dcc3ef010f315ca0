package lab

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os/exec"
	"time"
)

//go:embed install-prereqs.sh
var installScript string

// installHint says how to install what the systemd hosts need.
const installHint = "run integration/lab/install-prereqs.sh as root " +
	"(apt-get install -y --no-install-recommends systemd-container debootstrap)"

// InstallPrereqs installs on this machine the Debian packages the lab
// needs, systemd-nspawn and debootstrap included (install-prereqs.sh; only
// what is missing). Its output goes to log.
func InstallPrereqs(ctx context.Context, log io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/bash", "-c", installScript, "install-prereqs.sh")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("lab: install prerequisites: %w", err)
	}
	return nil
}
