package steps

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
//	with:
//	  entries: crontab lines, one a line (for state present)
//	  block: the block's NAME (default "default")
//	  user: whose crontab (default: the login user's); run through su/sudo
//	  state: present (default) or absent (remove the block only)
//
// Outputs: changed ("true" when the crontab was written), entries (how many
// the block holds afterwards).
type Crontab struct{ Env *Env }

// Params implements workflow.Action.
func (Crontab) Params() ([]string, []string) {
	return nil, []string{"entries", "block", "user", "state"}
}

// cronSpec is what crontab takes from `with:`.
type cronSpec struct {
	block   string
	user    string
	present bool
	entries []string
}

func parseCronSpec(a map[string]string) (cronSpec, error) {
	s := cronSpec{block: strings.TrimSpace(a["block"]), user: strings.TrimSpace(a["user"])}
	if s.block == "" {
		s.block = "default"
	}
	if strings.ContainsAny(s.block, " \t\n") {
		return s, fmt.Errorf("block %q: want one word", s.block)
	}
	switch state := strings.TrimSpace(a["state"]); state {
	case "", "present":
		s.present = true
		var err error
		if s.entries, err = ParseCronEntries(a["entries"]); err != nil {
			return s, err
		}
		if len(s.entries) == 0 {
			return s, fmt.Errorf("entries: none given (use state: absent to remove the block)")
		}
	case "absent":
		// The entries an undo inherits from its step are not needed:
		// the block goes whatever it holds.
	default:
		return s, fmt.Errorf("state %q: want present or absent", state)
	}
	return s, nil
}

func (s cronSpec) whose() string {
	if s.user == "" {
		return "the login user"
	}
	return s.user
}

// Describe implements workflow.Action.
func (Crontab) Describe(_ string, a map[string]string) string {
	s, err := parseCronSpec(a)
	if err != nil {
		return "crontab: " + err.Error()
	}
	if !s.present {
		return fmt.Sprintf("remove block %q from the crontab of %s", s.block, s.whose())
	}
	return fmt.Sprintf("set block %q in the crontab of %s to:\n%s", s.block, s.whose(), strings.Join(s.entries, "\n"))
}

// Scripts that read and write a crontab, here and on AIX: crontab FILE
// installs FILE on both (AIX has no -u; other users go through su).
const (
	cronRead  = "crontab -l"
	cronWrite = `f="${TMPDIR:-/tmp}/hamnflow-crontab.$$"; umask 077; cat > "$f" && crontab "$f"; rc=$?; rm -f "$f"; exit $rc`
)

// Run implements workflow.Action.
func (ct Crontab) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	s, err := parseCronSpec(c.Args)
	if err != nil {
		return workflow.Outcome{}, err
	}
	o := workflow.Outcome{Command: cronRead}
	h, err := hostOf(ct.Env, c.Host)
	if err != nil {
		return o, err
	}
	res, err := ct.Env.Transport.Exec(ctx, h, remote.Command{Script: cronRead, AsUser: s.user})
	// Stdout stays empty: the other lines of the crontab are not ours to
	// journal (they may hold passwords).
	o.Stderr, o.Exit = string(res.Stderr), res.Exit
	if err != nil {
		return o, fmt.Errorf("read the crontab of %s on %s: %w", s.whose(), h.Label(), err)
	}
	old := string(res.Stdout)
	if res.Exit != 0 {
		if !noCrontab(string(res.Stderr)) {
			return o, fmt.Errorf("read the crontab of %s on %s: exit status %d%s", s.whose(), h.Label(), res.Exit, act.Tail(res.Stderr, nil))
		}
		old = ""
	}
	var tab string
	if s.present {
		tab, err = SetCronBlock(old, s.block, s.entries)
	} else {
		tab, err = RemoveCronBlock(old, s.block)
	}
	if err != nil {
		return o, fmt.Errorf("crontab of %s on %s: %w", s.whose(), h.Label(), err)
	}
	o.Ran = true
	o.Outputs = map[string]string{"changed": "false", "entries": strconv.Itoa(len(s.entries))}
	if entries, ok := CronBlock(tab, s.block); ok {
		begin, end := cronMarkers(s.block)
		o.Stdout = strings.Join(append(append([]string{begin}, entries...), end), "\n") + "\n"
	}
	if tab == withNewline(old) {
		return o, nil
	}
	o.Command = cronRead + "\n" + cronWrite
	res, err = ct.Env.Transport.Exec(ctx, h, remote.Command{Script: cronWrite, AsUser: s.user, Stdin: strings.NewReader(tab)})
	o.Stderr, o.Exit = string(res.Stderr), res.Exit
	if err != nil {
		o.Ran = false
		return o, fmt.Errorf("write the crontab of %s on %s: %w", s.whose(), h.Label(), err)
	}
	if res.Exit != 0 {
		return o, fmt.Errorf("write the crontab of %s on %s: exit status %d%s", s.whose(), h.Label(), res.Exit, act.Tail(res.Stderr, nil))
	}
	o.Outputs["changed"] = "true"
	return o, nil
}

// noCrontab tells whether crontab -l failed only because the user has no
// crontab yet: "no crontab for USER" (cron on Linux) or 0481-103 (AIX).
func noCrontab(stderr string) bool {
	return strings.Contains(stderr, "no crontab for") || strings.Contains(stderr, "0481-103")
}

// ParseCronEntries splits entries into crontab lines, dropping blank ones,
// and checks that each is a job ("m h dom mon dow command" or "@reboot
// command"), a comment or a VAR=value setting.
func ParseCronEntries(entries string) ([]string, error) {
	var out []string
	for _, l := range strings.Split(entries, "\n") {
		l = strings.TrimSpace(l)
		switch f := strings.Fields(l); {
		case l == "":
			continue
		case strings.HasPrefix(l, "#"):
			if isCronMarker(l) {
				return nil, fmt.Errorf("entries: %q looks like a hamnflow block marker", l)
			}
		case strings.HasPrefix(l, "@"):
			if len(f) < 2 {
				return nil, fmt.Errorf("entries: %q has no command", l)
			}
		case len(f) < 6:
			if name, _, ok := strings.Cut(f[0], "="); ok && name != "" && !strings.ContainsAny(name, "*/,") {
				break
			}
			return nil, fmt.Errorf("entries: %q is not a crontab line (minute hour day month weekday command)", l)
		}
		out = append(out, l)
	}
	return out, nil
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

// CronBlock returns the entries of block in tab, and whether it is there.
func CronBlock(tab, block string) ([]string, bool) {
	begin, end := cronMarkers(block)
	var entries []string
	in, found := false, false
	for _, l := range splitLines(tab) {
		switch t := strings.TrimSpace(l); {
		case t == begin && !found:
			in, found = true, true
		case t == end && in:
			return entries, true
		case in:
			entries = append(entries, l)
		}
	}
	return nil, false
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func withNewline(s string) string {
	if s == "" || strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}
