// Package remote runs hamnflow's commands on hosts: a Host as the
// inventory names it, a Command (a shell script, its user, stdin and
// timeout), its Result, and the transports that run it, on this machine
// (Local) or over SSH (Pool), with shell quoting in one place. It knows
// nothing of actions or the engine.
package remote

import (
	"context"
	"io"
	"sort"
	"strings"
	"time"
)

// Host is a machine a command runs on, as the inventory names it.
type Host struct {
	Name          string   // inventory name, e.g. "mn1"
	Address       string   // address or DNS name to dial
	Port          int      // 0: 22 (or ~/.ssh/config's Port)
	User          string   // "": ~/.ssh/config's User, else the current user
	IdentityFiles []string // private keys, tried after the ssh-agent
	Local         bool     // run on this machine, no SSH
	// Env is set for every command on the host, e.g. PATH on an AIX MN
	// whose xCAT and NIM commands live outside the login PATH.
	Env map[string]string
	// Init is the host's service manager: systemd, sysv or src (AIX).
	Init string
	// Services names the host's services by role where they differ from
	// the usual names (e.g. dhcp: kea-dhcp4-server).
	Services map[string]string
}

// WithEnv prefixes script with the host's environment.
func (h Host) WithEnv(script string) string {
	if len(h.Env) == 0 {
		return script
	}
	keys := make([]string, 0, len(h.Env))
	for k := range h.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + ShellQuote(h.Env[k]) + "; export " + k + "\n")
	}
	return b.String() + script
}

// Command is one shell script to run on a host.
type Command struct {
	Script  string        // run by /bin/sh -c on the host
	AsUser  string        // run as this user (su - USER -c); "" runs as the login user
	Stdin   io.Reader     // optional
	Timeout time.Duration // 0: no timeout beyond ctx
	// Stream, when set, receives stdout and stderr as they arrive (already
	// masked by the caller's writer).
	Stream io.Writer
}

// Result is what a finished command left behind.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	Exit     int // -1 when the command never reported a status
	Duration time.Duration
}

// Transport runs commands on hosts. Exec returns an error only when the
// command could not be run or its status could not be read (connection
// refused, host key mismatch, link lost, timeout); a command that ran and
// exited non-zero is a Result with Exit != 0 and a nil error.
type Transport interface {
	Exec(ctx context.Context, h Host, c Command) (Result, error)
	Close() error
}
