package services

import (
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
)

// Status is what the discovery script found of one service on a host.
type Status struct {
	Unit    string // the name found; "" when none of the candidates exists
	Running bool
	Enabled bool   // starts at boot
	Active  string // the service manager's own word: active, inactive, failed, ...
	Boot    string // likewise for boot: enabled, disabled, static, masked, ...
	Inittab string // AIX: the /etc/inittab entry that starts it
}

// State says running, stopped or absent.
func (s Status) State() string {
	switch {
	case s.Unit == "":
		return "absent"
	case s.Running:
		return "running"
	}
	return "stopped"
}

// EnabledWord says true, false or absent.
func (s Status) EnabledWord() string {
	switch {
	case s.Unit == "":
		return "absent"
	case s.Enabled:
		return "true"
	}
	return "false"
}

// ParseStatus reads the discovery script's key=value lines.
//
// systemd's words are those of `systemctl is-active` and `systemctl
// is-enabled` (systemctl(1)): active, reloading, activating and
// refreshing run; enabled, enabled-runtime, alias, static, indirect and
// generated start at boot (static and indirect by another unit).
// SysV's are the discovery script's own: active when the init script's
// status exits 0 (LSB), enabled when an S link exists in a runlevel 2-5
// directory. SRC's Status column is from `lssrc -s` (active, inoperative,
// stopping); enabled when lsitab finds the subsystem in /etc/inittab.
func ParseStatus(init, out string) Status {
	kv := act.KeyValues(out)
	s := Status{Unit: kv["unit"], Active: kv["active"], Boot: kv["enabled"], Inittab: kv["inittab"]}
	if init == "src" {
		if f := strings.Fields(kv["lssrc"]); len(f) > 0 {
			s.Active = f[len(f)-1]
		}
	}
	switch s.Active {
	case "active", "reloading", "activating", "refreshing":
		s.Running = true
	}
	switch s.Boot {
	case "enabled", "enabled-runtime", "alias", "static", "indirect", "generated":
		s.Enabled = true
	}
	return s
}
