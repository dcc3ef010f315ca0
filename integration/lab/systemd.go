package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// checkSystemd says whether this machine can run the systemd hosts and
// real xCAT the configuration asks for.
func (cfg Config) checkSystemd() error {
	if cfg.RealXCAT && !cfg.Systemd {
		return errors.New("lab: RealXCAT needs Systemd (xCAT's services are systemd units on the hosts)")
	}
	if cfg.RealXCAT && cfg.XCAT {
		return errors.New("lab: RealXCAT and XCAT (the stand-ins) exclude each other")
	}
	if !cfg.Systemd {
		return nil
	}
	var missing []string
	for _, t := range []string{"systemd-nspawn", "debootstrap", "chroot", "unshare", "nsenter"} {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("lab: missing %s: %s", strings.Join(missing, ", "), installHint)
	}
	for _, hier := range cgroupHierarchies {
		if _, err := os.Stat(filepath.Join(hier, "cgroup.procs")); err != nil {
			return fmt.Errorf("lab: systemd hosts need the cgroup hierarchy %s: %w", hier, err)
		}
	}
	return nil
}

// xcatSource finds the xCAT source tree for RealXCAT: Config.XCATSrc,
// else $XCAT_SRC, else ../shared/xcat-core beside the module's root.
func (cfg Config) xcatSource() (string, error) {
	if !cfg.RealXCAT {
		return "", nil
	}
	src := cfg.XCATSrc
	if src == "" {
		src = os.Getenv("XCAT_SRC")
	}
	if src == "" {
		if root, err := findModuleRoot(); err == nil {
			src = filepath.Join(filepath.Dir(root), "shared", "xcat-core")
		}
	}
	if src == "" {
		return "", errors.New("lab: RealXCAT: no xCAT source: set XCAT_SRC to a checkout of xcat2/xcat-core (2.19)")
	}
	src, err := filepath.Abs(src)
	if err != nil {
		return "", err
	}
	for _, p := range []string{"Version", "perl-xCAT/xCAT/Table.pm", "xCAT-server/sbin/xcatconfig", "xCAT-client/bin/xcatclient"} {
		if _, err := os.Stat(filepath.Join(src, p)); err != nil {
			return "", fmt.Errorf("lab: RealXCAT: %s is not an xCAT source tree (%v): set XCAT_SRC to a checkout of xcat2/xcat-core (2.19)", src, err)
		}
	}
	return src, nil
}

// findModuleRoot walks up from the working directory to the go.mod.
func findModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// ensureBase finds or builds the base root (base.go).
func (l *Lab) ensureBase(ctx context.Context) error {
	base, err := EnsureBase(ctx, l.log)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.Base = base
	l.mu.Unlock()
	return nil
}
