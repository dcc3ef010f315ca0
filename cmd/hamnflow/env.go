package main

import (
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

	"github.com/hamnflow/hamnflow/journal"
	"github.com/hamnflow/hamnflow/playbooks"
	"github.com/hamnflow/hamnflow/steps"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

const (
	systemJournal      = "/var/lib/hamnflow/journal.db"
	defaultJournalHelp = systemJournal + " as root, else ~/.local/state/hamnflow/journal.db"
	systemInventory    = "/etc/hamnflow/inventory.yaml"
)

func journalPath(c *cli.Context) string {
	if p := c.String("journal"); p != "" {
		return p
	}
	if os.Geteuid() == 0 {
		return systemJournal
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "state", "hamnflow", "journal.db")
}

func openJournal(c *cli.Context) (*journal.Journal, error) {
	return journal.Open(journalPath(c))
}

func inventoryPath(c *cli.Context) string {
	if p := c.String("inventory"); p != "" {
		return p
	}
	if _, err := os.Stat(systemInventory); err == nil {
		return systemInventory
	}
	return ""
}

func newLogger(c *cli.Context) zerolog.Logger {
	level, err := zerolog.ParseLevel(c.String("log-level"))
	if err != nil {
		level = zerolog.InfoLevel
	}
	var w io.Writer = os.Stderr
	format := c.String("log-format")
	if format == "text" || (format == "auto" && isatty.IsTerminal(os.Stderr.Fd())) {
		w = zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05", NoColor: !isatty.IsTerminal(os.Stderr.Fd())}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
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

func parseSets(sets []string) (map[string]string, error) {
	out := map[string]string{}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, cli.Exit(fmt.Sprintf("--set %q: use --set NAME=VALUE", s), exitBadInput)
		}
		out[k] = v
	}
	return out, nil
}

// prepare finds the playbook and inventory named on the command line, for
// a command that renders the steps (run, plan).
func prepare(c *cli.Context, name string) (*playbooks.Prepared, error) {
	given, err := parseSets(c.StringSlice("set"))
	if err != nil {
		return nil, err
	}
	return prepareWith(c, name, given, true)
}

// usesInventory finds a template's or a foreach's reference to the inventory.
var usesInventory = regexp.MustCompile(`(^|[^A-Za-z0-9_])\.?inv\.`)

// prepareWith is prepare with the parameter values given. With needInv, a
// playbook that uses the inventory, given none, is refused with one message
// rather than a diagnostic for every reference (validate checks against a
// sample inventory instead).
func prepareWith(c *cli.Context, name string, given map[string]string, needInv bool) (*playbooks.Prepared, error) {
	file, text, err := playbooks.Library{Dir: c.String("playbook-dir")}.Find(name)
	if err != nil {
		return nil, cli.Exit(err.Error(), exitBadInput)
	}
	var invText []byte
	invPath := inventoryPath(c)
	switch {
	case invPath != "":
		if invText, err = os.ReadFile(invPath); err != nil {
			return nil, cli.Exit(fmt.Sprintf("read inventory: %v", err), exitBadInput)
		}
	case needInv && usesInventory.Match(text):
		return nil, cli.Exit(fmt.Sprintf("%s uses the cluster inventory, and none was given: name it with --inventory FILE or $HAMNFLOW_INVENTORY, or create %s", file, systemInventory), exitBadInput)
	}
	return playbooks.Library{Dir: c.String("playbook-dir")}.Prepare(file, text, invPath, invText, given)
}

// engineFlags are the flags of every command that runs steps.
func engineFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "step", Usage: "step through: show each step and ask before it runs"},
		&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "answer yes to every confirmation (unattended; journaled as --yes)"},
		&cli.IntFlag{Name: "parallel", Value: 4, Usage: "run at most `N` independent steps at once"},
		&cli.BoolFlag{Name: "stream", Usage: "stream the steps' output to the terminal"},
		&cli.BoolFlag{Name: "accept-new-host-keys", Usage: "record the keys of hosts not yet in known_hosts (like ssh's accept-new); changed keys are always refused"},
		&cli.BoolFlag{Name: "prompt-stdin", Hidden: true, Usage: "read answers from standard input even when it is not a terminal (scripts, tests)"},
	}
}

// wired is an engine and what must be closed after it.
type wired struct {
	engine *workflow.Engine
	close  func()
}

// newEngine wires an engine for a prepared playbook and inventory.
func newEngine(c *cli.Context, j *journal.Journal, p *playbooks.Prepared) *wired {
	log := newLogger(c)
	env := &steps.Env{Transport: remote.Router{Local: remote.Local{}}}
	var secrets workflow.Secrets = noSecrets{}
	var pool *remote.Pool
	if inv := p.Inventory; inv != nil {
		pool = remote.NewPool(remote.SSHConfig{
			KnownHostsFile: inv.KnownHostsFile(),
			AcceptNew:      c.Bool("accept-new-host-keys"),
			Logger:         log,
		})
		env.Transport = remote.Router{Local: remote.Local{}, Remote: pool}
		env.Hosts = inv.Host
		secrets = playbooks.NewSecrets(inv)
	}
	who := whoAmI()
	var prompter workflow.Prompter = workflow.NoOperator{}
	if isatty.IsTerminal(os.Stdin.Fd()) || c.Bool("prompt-stdin") {
		prompter = newTermPrompter(os.Stdin, os.Stderr, who)
	}
	e := &workflow.Engine{
		Store: j, Actions: steps.Actions(env, p.Inventory.StepsConfig()), Funcs: steps.Funcs(), Secrets: secrets,
		Prompter: prompter, Who: who,
		Parallel: c.Int("parallel"), StepMode: c.Bool("step"), AssumeYes: c.Bool("yes"),
		Loader: func(workflow.Source) (*workflow.Playbook, map[string]any, error) {
			return p.Playbook, p.Data, nil
		},
		Observe: progress(log),
	}
	if c.Bool("stream") {
		e.Stream = func(_, step string) io.Writer { return &prefixWriter{w: os.Stderr, prefix: step + " | "} }
	}
	return &wired{engine: e, close: func() {
		if pool != nil {
			pool.Close()
		}
	}}
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
		msg := ev.Message
		if ev.Type == workflow.EvStepStarted && ev.Command != "" {
			e = e.Str("cmd", firstLine(ev.Command))
		}
		e.Msg(msg)
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
