// Package labtest is the harness of hamnflow's end-to-end tests: it builds
// the hamnflow binary and the lab's stand-in programs once per test binary,
// brings up a lab (integration/lab) with the pieces a test asks for, runs
// hamnflow from the lab's operator namespace and always tears the lab down.
//
// A test package uses it as
//
//	func TestMain(m *testing.M) { labtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		env := labtest.Up(t, labtest.Options{Postgres: true, XCAT: true})
//		r := env.Run(t, "run", "failover", "--yes")
//		...
//	}
//
// Lab tests never skip: a machine that cannot run the lab fails them with
// the reason (see lab.Check). .ci/run installs what they need.
package labtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/integration/lab"
	"github.com/hamnflow/hamnflow/integration/standins"
)

// Binaries are the programs built for the tests.
type Binaries struct {
	Hamnflow string
	Standin  string // xcat-standin
	Db2Model string
	// DHCPProbe asks for a node's lease and prints every offer
	// (cmd/dhcpprobe); Up installs it on the service nodes of a systemd
	// lab as /usr/local/bin/dhcpprobe.
	DHCPProbe string
}

var (
	buildOnce sync.Once
	buildDir  string
	bins      Binaries
	buildErr  error
)

// Main runs the tests and removes the built binaries afterwards.
func Main(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// moduleRoot is the directory of hamnflow's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside the hamnflow module")
	}
	return filepath.Dir(mod), nil
}

// Build builds the binaries once per test process.
func Build(t testing.TB) Binaries {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, err = os.MkdirTemp("", "hamnflow-bin-"); err != nil {
			buildErr = err
			return
		}
		bins = Binaries{
			Hamnflow:  filepath.Join(buildDir, "hamnflow"),
			Standin:   filepath.Join(buildDir, "xcat-standin"),
			Db2Model:  filepath.Join(buildDir, "db2model"),
			DHCPProbe: filepath.Join(buildDir, "dhcpprobe"),
		}
		for out, pkg := range map[string]string{
			bins.Hamnflow:  "./cmd/hamnflow",
			bins.Standin:   "./integration/standins/cmd/xcat-standin",
			bins.Db2Model:  "./integration/db2model/cmd/db2model",
			bins.DHCPProbe: "./integration/labtest/cmd/dhcpprobe",
		} {
			cmd := exec.Command("go", "build", "-o", out, pkg)
			cmd.Dir = root
			if b, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bins
}

// Options say what a test's lab holds besides two MNs and an operator.
type Options struct {
	ServiceNodes int  // 0: 2
	Postgres     bool // PostgreSQL 15 running on mn1, stopped on mn2
	XCAT         bool // xCAT stand-ins on MNs and SNs; /install seeded on mn1
	Db2          bool // the Db2 model on both MNs (instance xcatdb, home /var/lib/db2)
	OS           string
	// Provision runs for every MN and SN after the stand-ins are in.
	Provision func(ctx context.Context, l *lab.Lab, h *lab.Host) error
	// Systemd boots the MNs and SNs as systemd-nspawn containers with a
	// real systemd (lab.Config.Systemd); the first run builds the base
	// root (minutes), later runs reuse it.
	Systemd bool
	// RealXCAT installs the real xCAT 2.19 on both MNs, on PostgreSQL
	// (needs Systemd and Postgres; lab.Config.RealXCAT). The source is
	// $XCAT_SRC, else ../shared/xcat-core beside the module.
	RealXCAT bool
	// Log receives the lab's progress; nil: the test's log.
	Log io.Writer
}

// testLog writes each chunk to the test's log.
type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Env is a running lab with a journal for hamnflow.
type Env struct {
	Lab     *lab.Lab
	Bins    Binaries
	Journal string // the journal file hamnflow uses
	Dir     string // a scratch directory of the test
	// ExtraEnv is added to every hamnflow command's environment.
	ExtraEnv []string
}

// Up brings up a lab for t and registers its tear-down.
func Up(t *testing.T, o Options) *Env {
	t.Helper()
	b := Build(t)
	osType := o.OS
	if osType == "" {
		osType = "linux"
	}
	timeout := 3 * time.Minute
	if o.Systemd {
		timeout = 30 * time.Minute // a first build of the base root, real xCAT's set-up
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM) // interrupted: Up tears down
	defer stop()
	cfg := lab.Config{
		ServiceNodes: o.ServiceNodes, Postgres: o.Postgres, Provision: o.Provision,
		XCAT: o.XCAT, StandinExe: b.Standin, OS: osType,
		Db2: o.Db2, Db2ModelExe: b.Db2Model,
		Systemd: o.Systemd, RealXCAT: o.RealXCAT, Log: o.Log,
	}
	if cfg.Log == nil && o.Systemd {
		cfg.Log = testLog{t}
	}
	l, err := lab.Up(ctx, cfg)
	stop()
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	uninstall := lab.SetupSignalTeardown(l)
	if o.Systemd {
		if err := installProbe(l, b.DHCPProbe); err != nil {
			uninstall()
			l.Down(context.Background())
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		uninstall()
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := l.Down(dctx); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	dir := t.TempDir()
	return &Env{Lab: l, Bins: b, Journal: filepath.Join(dir, "journal.db"), Dir: dir}
}

// installProbe copies dhcpprobe to the service nodes.
func installProbe(l *lab.Lab, exe string) error {
	b, err := os.ReadFile(exe)
	if err != nil {
		return err
	}
	for _, h := range l.Hosts {
		if h.Role == lab.RoleSN {
			if err := os.WriteFile(filepath.Join(h.Root, "usr/local/bin/dhcpprobe"), b, 0o755); err != nil {
				return fmt.Errorf("install dhcpprobe on %s: %w", h.Name, err)
			}
		}
	}
	return nil
}

// Result is what one hamnflow command did.
type Result struct {
	Stdout, Stderr string
	Exit           int
}

// Combined is stdout then stderr, for messages.
func (r Result) Combined() string { return r.Stdout + r.Stderr }

func (r Result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.Exit, r.Stdout, r.Stderr)
}

// Command is hamnflow with args, to be run in the operator namespace with
// the lab's inventory and the test's journal.
func (e *Env) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := e.Lab.OperatorCmd(ctx, e.Bins.Hamnflow, args...)
	cmd.Env = append(os.Environ(),
		"HAMNFLOW_JOURNAL="+e.Journal,
		"HAMNFLOW_INVENTORY="+e.Lab.InventoryPath(),
		"NO_COLOR=1",
	)
	cmd.Env = append(cmd.Env, e.ExtraEnv...)
	cmd.Dir = e.Dir
	return cmd
}

// runLimit bounds one hamnflow in Run: longer than the playbooks' longest
// wait (a 5-minute HADR or replication catch-up), so that a step that
// waits in vain ends with hamnflow's own message rather than a kill.
const runLimit = 7 * time.Minute

// Run runs hamnflow to its end (at most runLimit) and returns what it did.
// At the limit hamnflow gets SIGTERM, so that it journals and logs the
// steps it was in, and SIGKILL 30 s later. Only a failure to start it
// fails the test.
func (e *Env) Run(t testing.TB, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	cmd := e.Command(ctx, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Exit = ee.ExitCode()
	default:
		t.Fatalf("hamnflow %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Logf("hamnflow %s did not end within %s: stopped with SIGTERM", strings.Join(args, " "), runLimit)
	}
	t.Logf("hamnflow %s -> exit %d", strings.Join(args, " "), r.Exit)
	return r
}

// MustRun runs hamnflow and fails the test unless it exits with want.
func (e *Env) MustRun(t testing.TB, want int, args ...string) Result {
	t.Helper()
	r := e.Run(t, args...)
	if r.Exit != want {
		t.Fatalf("hamnflow %s: want exit %d, got %s", strings.Join(args, " "), want, r)
	}
	return r
}

// Exec runs a shell script on a lab host (outside SSH) and fails the test
// on error.
func (e *Env) Exec(t testing.TB, host, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := e.Lab.Exec(ctx, host, script)
	if err != nil {
		t.Fatalf("on %s: %v", host, err)
	}
	return string(out)
}

// Calls are the xCAT stand-in calls recorded on host.
func (e *Env) Calls(t testing.TB, host string) []standins.Call {
	t.Helper()
	h := e.Lab.Host(host)
	if h == nil {
		t.Fatalf("no lab host %s", host)
	}
	calls, err := standins.ReadCalls(h.Root)
	if err != nil {
		t.Fatalf("stand-in calls on %s: %v", host, err)
	}
	return calls
}

// JournalBytes is the raw journal file, for secret scans.
func (e *Env) JournalBytes(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(e.Journal)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Holds says whether host has addr on one of its interfaces.
func (e *Env) Holds(t testing.TB, host, addr string) bool {
	t.Helper()
	return strings.Contains(e.Exec(t, host, "ip -o -4 addr show"), " "+addr+"/")
}

// Eventually polls f until it returns "" or d is up, then fails the test
// with f's last message.
func Eventually(t testing.TB, d time.Duration, f func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
