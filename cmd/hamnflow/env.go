package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/playbooks"
	"github.com/hamnflow/hamnflow/steps"
	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

const (
	systemJournal      = "/var/lib/hamnflow/journal.db"
	defaultJournalHelp = systemJournal + " as root, else ~/.local/state/hamnflow/journal.db"
	systemInventory    = "/etc/hamnflow/inventory.yaml"
)

func inventoryPath(c *cli.Context) string {
	if p := c.String("inventory"); p != "" {
		return p
	}
	if _, err := os.Stat(systemInventory); err == nil {
		return systemInventory
	}
	return ""
}

func library(c *cli.Context) playbooks.Library {
	return playbooks.Library{Dir: c.String("playbook-dir")}
}

// newLogger logs to w: readable on a terminal (or with --log-format
// text), JSON otherwise.
func newLogger(c *cli.Context, w io.Writer, terminal bool) zerolog.Logger {
	level, err := zerolog.ParseLevel(c.String("log-level"))
	if err != nil {
		level = zerolog.InfoLevel
	}
	format := c.String("log-format")
	if format == "text" || (format == "auto" && terminal) {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05", NoColor: !terminal || os.Getenv("NO_COLOR") != ""}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// stderrLogger is the log of commands that run no steps.
func stderrLogger(c *cli.Context) zerolog.Logger {
	return newLogger(c, os.Stderr, isatty.IsTerminal(os.Stderr.Fd()))
}

// whoAmI says who the operator is: login user, sudo user, terminal, host.
func whoAmI() workflow.Who {
	w := workflow.Who{SudoUser: os.Getenv("SUDO_USER")}
	if u, err := user.Current(); err == nil {
		w.User = u.Username
	}
	if t, err := os.Readlink("/proc/self/fd/0"); err == nil && strings.HasPrefix(t, "/dev/") && isatty.IsTerminal(os.Stdin.Fd()) {
		w.TTY = t
	}
	w.Host, _ = os.Hostname()
	return w
}

// usesInventory finds a template's or a foreach's reference to the inventory.
var usesInventory = regexp.MustCompile(`(^|[^A-Za-z0-9_])\.?inv\.`)

// prepare finds the playbook named on the command line and composes it
// for the inventory. A playbook that uses the inventory, given none, is
// refused with one message rather than a diagnostic for every reference.
func prepare(c *cli.Context, name string) (*playbooks.Prepared, error) {
	given, err := parseSets(c)
	if err != nil {
		return nil, err
	}
	lib := library(c)
	file, text, err := lib.Find(name)
	if err != nil {
		return nil, usage("hamnflow playbooks", "%v", err)
	}
	var invText []byte
	invPath := inventoryPath(c)
	switch {
	case invPath != "":
		if invText, err = os.ReadFile(invPath); err != nil {
			return nil, usage("hamnflow inventory check --inventory FILE", "read inventory: %v", err)
		}
	case usesInventory.Match(text):
		return nil, usage("hamnflow "+c.Command.Name+" "+name+" --inventory FILE",
			"%s uses the cluster inventory, and none was given: name it with --inventory FILE or $HAMNFLOW_INVENTORY, or create %s", file, systemInventory)
	}
	return lib.Prepare(file, text, invPath, invText, given)
}

// checker validates and plans for a prepared playbook.
func checker(p *playbooks.Prepared) workflow.Checker {
	var secrets workflow.Secrets = noSecrets{}
	if p.Inventory != nil {
		secrets = playbooks.NewSecrets(p.Inventory)
	}
	return workflow.Checker{Actions: steps.Actions(planEnv(p.Inventory), p.Inventory.StepsConfig()), Funcs: steps.Funcs(), Secrets: secrets}
}

// planEnv is the environment actions plan in: the inventory's hosts (their
// service manager, names and environment), and no transport.
func planEnv(inv *playbooks.Inventory) *act.Env {
	env := &act.Env{}
	if inv != nil {
		env.Hosts = inv.Host
	}
	return env
}

// wired is an engine and what must be closed after it.
type wired struct {
	engine *workflow.Engine
	view   *view // nil without a terminal
	// reports are the steps whose tables finish prints (reportSteps).
	reports map[string]bool
	env     *act.Env
	close   func()
}

// reach checks that host is in the inventory and answers over SSH with a
// known host key: the preflight's question, asked on the run's own
// connections.
func (w *wired) reach(ctx context.Context, host string) error {
	h, err := w.env.Host(host)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	res, err := w.env.Transport.Exec(ctx, h, remote.Command{Script: "true"})
	if err != nil {
		return err
	}
	if res.Exit != 0 {
		return fmt.Errorf("`true` exited %d there", res.Exit)
	}
	return nil
}

// preflight checks what can be checked before the first step acts, and
// says what it found.
func (w *wired) preflight(c *cli.Context, p *playbooks.Prepared) error {
	diags, notes := checker(p).Preflight(c.Context, p.Playbook, p.Data, w.reach)
	for _, n := range notes {
		fmt.Fprintln(c.App.ErrWriter, "note:", n)
	}
	if err := c.Context.Err(); err != nil {
		return err
	}
	if len(diags) > 0 {
		return diags
	}
	return nil
}

// newEngine wires an engine for a prepared playbook and inventory. On a
// terminal it shows a live list of the steps and writes the log to a file;
// otherwise (or with --verbose) the log goes to stderr.
func newEngine(c *cli.Context, j *store, p *playbooks.Prepared) (*wired, error) {
	engage(c.Context)
	w := &wired{reports: reportSteps(p.Playbook)}
	var closers []func()
	w.close = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	terminal := isatty.IsTerminal(os.Stderr.Fd())
	log := newLogger(c, os.Stderr, terminal)
	if terminal && !c.Bool("verbose") && !c.Bool("stream") && c.String("log-format") == "auto" {
		path := c.String("log-file")
		if path == "" {
			path = j.local + ".log"
		}
		f, err := openLogFile(path)
		if err != nil {
			return nil, err
		}
		closers = append(closers, func() { f.Close() })
		log = newLogger(c, f, false)
		w.view = newView(os.Stderr, p.Playbook, path)
	}
	env := &act.Env{Transport: remote.Router{Local: remote.Local{}}}
	w.env = env
	var secrets workflow.Secrets = noSecrets{}
	if inv := p.Inventory; inv != nil {
		pool := remote.NewPool(remote.SSHConfig{
			KnownHostsFile: inv.KnownHostsFile(),
			AcceptNew:      c.Bool("accept-new-host-keys"),
			Logger:         log,
		})
		closers = append(closers, func() { pool.Close() })
		env.Transport = remote.Router{Local: remote.Local{}, Remote: pool}
		env.Hosts = inv.Host
		secrets = playbooks.NewSecrets(inv)
	}
	who := whoAmI()
	var prompter workflow.Prompter = workflow.NoOperator{}
	ask := func(context.Context, string) (bool, error) {
		return false, errors.New("--force takes a live run marker over only when you confirm that its holder is dead: answer on a terminal, or give --force --yes")
	}
	if isatty.IsTerminal(os.Stdin.Fd()) || c.Bool("prompt-stdin") {
		tp := newTermPrompter(os.Stdin, os.Stderr, who)
		prompter, ask = tp, tp.confirm
		if w.view != nil {
			prompter = pausing{prompter, w.view}
			ask = func(ctx context.Context, q string) (bool, error) {
				w.view.pause()
				defer w.view.resume()
				return tp.confirm(ctx, q)
			}
		}
	}
	st, err := markMNs(c, j, p.Inventory, env.Transport, ask, noteTo(c.App.ErrWriter, w.view), log)
	if err != nil {
		return nil, err
	}
	observe := progress(log)
	if w.view != nil {
		observe = func(run string, ev workflow.Event) {
			progress(log)(run, ev)
			w.view.Observe(run, ev)
		}
	}
	w.engine = &workflow.Engine{
		Store: st, Actions: steps.Actions(env, p.Inventory.StepsConfig()), Funcs: steps.Funcs(), Secrets: secrets,
		Prompter: prompter, Who: who,
		Parallel: c.Int("parallel"), StepMode: c.Bool("step"), AssumeYes: c.Bool("yes"),
		Loader: func(workflow.Source) (*workflow.Playbook, map[string]any, error) {
			return p.Playbook, p.Data, nil
		},
		Observe: observe,
	}
	if c.Bool("keep-output") {
		w.engine.OutputDir = j.local + ".output"
	}
	if c.Bool("stream") {
		w.engine.Stream = func(_, step string) io.Writer { return &prefixWriter{w: os.Stderr, prefix: step + " | "} }
	}
	return w, nil
}

// openLogFile opens a run's log for appending, never through a symlink.
func openLogFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("log file %s: %w; give another with --log-file, or --verbose to log to the terminal", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|noFollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log file %s: %w; give another with --log-file, or --verbose to log to the terminal", path, err)
	}
	return f, nil
}

type noSecrets struct{}

func (noSecrets) Has(string) bool { return false }
func (noSecrets) Secret(name string) (string, error) {
	return "", fmt.Errorf("secret %q: this run has no inventory to declare secrets", name)
}

// progress logs what runs, what ended and how long it took.
func progress(log zerolog.Logger) func(string, workflow.Event) {
	return func(run string, ev workflow.Event) {
		var e *zerolog.Event
		switch ev.Type {
		case workflow.EvStepFailed, workflow.EvUndoFailed, workflow.EvInterrupted:
			e = log.Error()
		case workflow.EvWaiting, workflow.EvInDoubt, workflow.EvDeclined:
			e = log.Warn()
		case workflow.EvStepStarted, workflow.EvUndoStarted, workflow.EvStepSucceeded, workflow.EvUndone,
			workflow.EvStepSkipped, workflow.EvConfirmed, workflow.EvReconciled, workflow.EvFanOut,
			workflow.EvRunStarted, workflow.EvRunEnded, workflow.EvRunResumed, workflow.EvRollbackStart, workflow.EvRollbackEnded:
			e = log.Info()
		default:
			e = log.Debug() // output and other detail
		}
		e = e.Str("run", run).Str("event", string(ev.Type))
		if ev.Step != "" {
			e = e.Str("step", ev.Step)
		}
		if ev.Host != "" && ev.Host != "local" {
			e = e.Str("host", ev.Host)
		}
		if ev.Attempt > 1 {
			e = e.Int("attempt", ev.Attempt)
		}
		if ev.Duration > 0 {
			e = e.Str("took", ev.Duration.Round(time.Millisecond).String())
		}
		if ev.Exit != nil && *ev.Exit != 0 {
			e = e.Int("exit", *ev.Exit)
		}
		if ev.Type == workflow.EvStepStarted && ev.Command != "" {
			e = e.Str("cmd", firstLine(ev.Command))
		}
		e.Msg(ev.Message)
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// prefixWriter prefixes each line, for streamed step output.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	mid    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []byte
	for _, c := range b {
		if !p.mid {
			out = append(out, p.prefix...)
			p.mid = true
		}
		out = append(out, c)
		if c == '\n' {
			p.mid = false
		}
	}
	_, err := p.w.Write(out)
	return len(b), err
}
