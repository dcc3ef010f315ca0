package files

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// Crontab keeps a block of entries in a user's crontab, between the lines
// "# BEGIN hamnflow NAME" and "# END hamnflow NAME", and never touches the
// other lines. Running it again with the same entries changes nothing.
//
// It reads the crontab (crontab -l), edits it in Go and, only when that
// changed it, installs the new table, fed on stdin, with crontab FILE
// (here and on AIX; AIX has no -u, so another user's crontab is run as
// that user). The install script's first lines are comments that say the
// edit, so that the plan and the journal show it.
//
//	with:
//	  entries: crontab lines, a list or one a line (for state present)
//	  block: the block's NAME (default "default")
//	  user: whose crontab (default: the login user's); run through su/sudo
//	  state: present (default) or absent (remove the block only)
//
// Outputs: changed ("true" when the crontab was written), entries (how many
// the block holds afterwards), was (present or absent: the block before
// the run) and was_entries (its lines then).
//
// Crontab is a workflow.Reverser: its undo puts the block back as the run
// found it (was, was_entries): absent, or present with its old entries;
// before a run (in plans) the undo of present is absent, and that of
// absent puts back the entries the run will record.
type Crontab struct{ Env *act.Env }

// CrontabArgs are crontab's arguments.
type CrontabArgs struct {
	Entries []string `arg:"entries"`
	Block   string   `arg:"block"`
	User    string   `arg:"user"`
	State   string   `arg:"state" oneof:"present|absent"`

	restore bool // an undo's: put back the entries the run records
}

// NewArgs implements workflow.Action.
func (Crontab) NewArgs() any { return &CrontabArgs{Block: "default", State: "present"} }

// ArgNames implements workflow.ArgDecoder.
func (a *CrontabArgs) ArgNames() []string { return workflow.SpecOf(a).Names() }

// DecodeArgs implements workflow.ArgDecoder.
func (a *CrontabArgs) DecodeArgs(vals map[string]any, unknown map[string]bool) []error {
	if errs := workflow.DecodeArgs(a, vals, unknown); len(errs) > 0 {
		return errs
	}
	return a.check(func(k string) bool { return !unknown[k] })
}

func (a *CrontabArgs) block() string {
	if b := strings.TrimSpace(a.Block); b != "" {
		return b
	}
	return "default"
}

func (a *CrontabArgs) check(known func(string) bool) []error {
	var errs []error
	bad := func(arg, msg string) {
		errs = append(errs, &workflow.ArgError{Arg: arg, Msg: "argument " + arg + ": " + msg})
	}
	if known("block") && strings.ContainsAny(a.block(), " \t\n") {
		bad("block", fmt.Sprintf("%q: want one word", a.block()))
	}
	if a.State == "absent" || !known("entries") {
		// The entries an undo inherits from its step are not needed:
		// the block goes whatever it holds.
		return errs
	}
	if _, err := ParseCronEntries(strings.Join(a.Entries, "\n")); err != nil {
		bad("entries", strings.TrimPrefix(err.Error(), "entries: "))
	} else if len(a.Entries) == 0 && !a.restore {
		bad("entries", "none given (use state: absent to remove the block)")
	}
	return errs
}

func (a *CrontabArgs) whose() string {
	if a.User == "" {
		return "the login user"
	}
	return a.User
}

// Scripts that read and write a crontab, here and on AIX: crontab FILE
// installs FILE on both (AIX has no -u; other users go through su).
const (
	cronRead  = "crontab -l"
	cronWrite = `f="${TMPDIR:-/tmp}/hamnflow-crontab.$$"; umask 077; cat > "$f" && crontab "$f"; rc=$?; rm -f "$f"; exit $rc`
)

// scripts are the read and the install (fed the new table), as the user.
func (a *CrontabArgs) scripts() (read, write act.Script) {
	var b strings.Builder
	switch {
	case a.State == "absent":
		fmt.Fprintf(&b, "# remove hamnflow block %q from the crontab\n", a.block())
	case a.restore:
		fmt.Fprintf(&b, "# put hamnflow block %q of the crontab back as the step found it (the entries it recorded)\n", a.block())
	default:
		fmt.Fprintf(&b, "# set hamnflow block %q of the crontab to:\n", a.block())
		for _, e := range cronEntries(a.Entries) {
			b.WriteString("#   " + e + "\n")
		}
	}
	b.WriteString(cronWrite)
	return act.Script{Text: cronRead, AsUser: a.User}, act.Script{Text: b.String(), AsUser: a.User}
}

// cronEntries are the entries as the block holds them.
func cronEntries(l []string) []string {
	var out []string
	for _, e := range l {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// Plan implements workflow.Action: the read, then the install, which runs
// only when the edit changes the crontab.
func (Crontab) Plan(_ string, args any) []string {
	read, write := args.(*CrontabArgs).scripts()
	return []string{read.Shown(), write.Shown()}
}

// Reverse implements workflow.Reverser.
func (Crontab) Reverse(args any, outputs map[string]string) any {
	a := *args.(*CrontabArgs)
	a.restore = false
	switch outputs["was"] {
	case "present":
		a.State, a.Entries = "present", splitLines(outputs["was_entries"])
	case "absent":
		a.State, a.Entries = "absent", nil
	default:
		if a.State == "absent" {
			// Planning: the run records what it removes.
			a.State, a.Entries, a.restore = "present", nil, true
		} else {
			a.State, a.Entries = "absent", nil
		}
	}
	return &a
}

// Run implements workflow.Action.
func (ct Crontab) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*CrontabArgs)
	read, write := a.scripts()
	o := workflow.Outcome{Command: read.Shown()}
	if a.restore {
		return o, fmt.Errorf("crontab of %s on %s: nothing recorded to put back in block %q", a.whose(), act.HostLabel(c.Host), a.block())
	}
	if errs := a.check(func(string) bool { return true }); len(errs) > 0 {
		return o, fmt.Errorf("crontab of %s on %s: %w", a.whose(), act.HostLabel(c.Host), errs[0])
	}
	h, err := ct.Env.Host(c.Host)
	if err != nil {
		return o, err
	}
	var entries []string
	if a.State == "present" {
		entries = cronEntries(a.Entries)
	}
	res, err := ct.Env.Transport.Exec(ctx, h, remote.Command{Script: read.Text, AsUser: read.AsUser})
	// Stdout stays empty: the other lines of the crontab are not ours to
	// journal (they may hold passwords).
	o.Stderr, o.Exit = string(res.Stderr), res.Exit
	if err != nil {
		return o, fmt.Errorf("read the crontab of %s on %s: %w", a.whose(), h.Label(), err)
	}
	old := string(res.Stdout)
	if res.Exit != 0 {
		if !noCrontab(string(res.Stderr)) {
			return o, fmt.Errorf("read the crontab of %s on %s: exit status %d%s", a.whose(), h.Label(), res.Exit, act.Tail(res.Stderr, nil))
		}
		old = ""
	}
	var tab string
	if a.State == "present" {
		tab, err = SetCronBlock(old, a.block(), entries)
	} else {
		tab, err = RemoveCronBlock(old, a.block())
	}
	if err != nil {
		return o, fmt.Errorf("crontab of %s on %s: %w", a.whose(), h.Label(), err)
	}
	o.Ran = true
	o.Outputs = map[string]string{"changed": "false", "entries": strconv.Itoa(len(entries)), "was": "absent", "was_entries": ""}
	if was, ok := CronBlock(old, a.block()); ok {
		o.Outputs["was"], o.Outputs["was_entries"] = "present", strings.Join(was, "\n")
	}
	if now, ok := CronBlock(tab, a.block()); ok {
		begin, end := cronMarkers(a.block())
		o.Stdout = strings.Join(append(append([]string{begin}, now...), end), "\n") + "\n"
	}
	if tab == withNewline(old) {
		return o, nil
	}
	o.Command = read.Shown() + "\n" + write.Shown()
	res, err = ct.Env.Transport.Exec(ctx, h, remote.Command{Script: write.Text, AsUser: write.AsUser, Stdin: strings.NewReader(tab)})
	o.Stderr, o.Exit = string(res.Stderr), res.Exit
	if err != nil {
		o.Ran = false
		return o, fmt.Errorf("write the crontab of %s on %s: %w", a.whose(), h.Label(), err)
	}
	if res.Exit != 0 {
		return o, fmt.Errorf("write the crontab of %s on %s: exit status %d%s", a.whose(), h.Label(), res.Exit, act.Tail(res.Stderr, nil))
	}
	o.Outputs["changed"] = "true"
	return o, nil
}

func cronMarkers(block string) (begin, end string) {
	return "# BEGIN hamnflow " + block, "# END hamnflow " + block
}

func isCronMarker(l string) bool {
	return strings.HasPrefix(l, "# BEGIN hamnflow ") || strings.HasPrefix(l, "# END hamnflow ")
}

// SetCronBlock returns tab with block holding exactly entries: the block
// is replaced where it is, or appended at the end. Other lines are kept as
// they are; later duplicates of the block are dropped.
func SetCronBlock(tab, block string, entries []string) (string, error) {
	begin, end := cronMarkers(block)
	body := append(append([]string{begin}, entries...), end)
	return editCronBlock(tab, block, body)
}

// RemoveCronBlock returns tab without block (every copy of it).
func RemoveCronBlock(tab, block string) (string, error) {
	return editCronBlock(tab, block, nil)
}

// editCronBlock puts body in place of the first copy of block (appending
// it when there is none) and drops any other copy.
func editCronBlock(tab, block string, body []string) (string, error) {
	begin, end := cronMarkers(block)
	lines := splitLines(tab)
	var out []string
	placed := false
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == end {
			return "", fmt.Errorf("line %d: %q without %q before it; fix the crontab by hand", i+1, end, begin)
		}
		if l != begin {
			out = append(out, lines[i])
			continue
		}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) != end {
			if strings.TrimSpace(lines[j]) == begin {
				return "", fmt.Errorf("line %d: %q again before %q; fix the crontab by hand", j+1, begin, end)
			}
			j++
		}
		if j == len(lines) {
			return "", fmt.Errorf("line %d: %q without %q after it; fix the crontab by hand", i+1, begin, end)
		}
		if !placed {
			out = append(out, body...)
			placed = true
		}
		i = j
	}
	if !placed {
		out = append(out, body...)
	}
	if len(out) == 0 {
		return "", nil
	}
	return strings.Join(out, "\n") + "\n", nil
}

func withNewline(s string) string {
	if s == "" || strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}
