package steps

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/remote"

	"github.com/hamnflow/hamnflow/workflow"
)

// File synchronisation between the management nodes (guide section 6):
// rsync run on the primary MN pushes files to the standby over the SSH
// trust the MNs already have; drift is the same rsync as a dry run; crontab
// keeps the guide's periodic rsync entries in a block hamnflow owns.

func syncActions(env *Env) map[string]textAction {
	return map[string]textAction{
		"rsync":   Rsync{Env: env},
		"drift":   Drift{Env: env},
		"crontab": Crontab{Env: env},
	}
}

// rsyncSSH is the remote shell rsync uses: never prompt, never accept an
// unknown or changed host key of the target.
const rsyncSSH = "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10"

// syncSpec is what rsync and drift take from `with:`.
type syncSpec struct {
	to       string   // target as the source reaches it: host, user@host
	paths    []string // absolute paths on the source
	dest     string   // "": each path to the same place on the target (rsync -R)
	delete   bool     // remove files under the paths that the source lacks
	checksum bool     // compare contents, not size and modification time
	// ignoreMissing skips paths the source lacks (rsync
	// --ignore-missing-args) instead of failing: a standby that never got
	// some of the guide's files.
	ignoreMissing bool
	program       string // rsync, or its full path (cron's PATH is short)
	excludes      []string
}

var syncParams = []string{"dest", "delete", "checksum", "ignore_missing", "rsync", "exclude"}

func parseSyncSpec(a map[string]string) (syncSpec, error) {
	s := syncSpec{to: strings.TrimSpace(a["to"]), paths: strings.Fields(a["paths"]),
		dest: strings.TrimSpace(a["dest"]), program: strings.TrimSpace(a["rsync"]),
		excludes: strings.Fields(a["exclude"])}
	if s.program == "" {
		s.program = "rsync"
	}
	switch {
	case s.to == "":
		return s, fmt.Errorf("to: name the target host")
	case strings.ContainsAny(s.to, " \t\n:/'\"$`\\;&|<>"):
		return s, fmt.Errorf("to %q: want a host name, address or user@host", s.to)
	case len(s.paths) == 0:
		return s, fmt.Errorf("paths: list at least one path")
	}
	for _, p := range s.paths {
		if !strings.HasPrefix(p, "/") {
			return s, fmt.Errorf("paths: %q is not absolute", p)
		}
	}
	if s.dest != "" && !strings.HasPrefix(s.dest, "/") {
		return s, fmt.Errorf("dest %q is not absolute", s.dest)
	}
	var err error
	if s.delete, err = parseBool(a, "delete"); err != nil {
		return s, err
	}
	if s.checksum, err = parseBool(a, "checksum"); err != nil {
		return s, err
	}
	if s.ignoreMissing, err = parseBool(a, "ignore_missing"); err != nil {
		return s, err
	}
	return s, nil
}

func parseBool(a map[string]string, key string) (bool, error) {
	v := strings.TrimSpace(a[key])
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s %q: want true or false", key, v)
	}
	return b, nil
}

// command is the rsync command line: the guide's `rsync -az`, with every
// path kept at its own place on the target unless dest is given. itemize
// adds -i (one line per changed item, see ParseItemized); dryRun adds -n.
func (s syncSpec) command(itemize, dryRun bool) string {
	w := []string{s.program, "-az"}
	if s.dest == "" {
		w = append(w, "-R")
	}
	if s.checksum {
		w = append(w, "-c")
	}
	if s.delete {
		w = append(w, "--delete")
	}
	if s.ignoreMissing {
		w = append(w, "--ignore-missing-args")
	}
	if dryRun {
		w = append(w, "-n")
	}
	if itemize {
		w = append(w, "-i")
	}
	for _, x := range s.excludes {
		w = append(w, "--exclude="+remote.ShellQuote(x))
	}
	w = append(w, "-e", remote.ShellQuote(rsyncSSH))
	for _, p := range s.paths {
		w = append(w, remote.ShellQuote(p))
	}
	dest := s.dest
	if dest == "" {
		dest = "/"
	}
	return strings.Join(append(w, remote.ShellQuote(s.to+":"+dest)), " ")
}

// Rsync copies files from the step's host (the primary MN) to another host
// (the standby MN), as the guide's section 6 crontab entries do, over the
// SSH trust between the MNs (BatchMode, StrictHostKeyChecking=yes).
//
//	with:
//	  to: the target as the step's host reaches it (name, address, user@host)
//	  paths: absolute paths, separated by spaces or new lines
//	  dest: directory on the target for all paths (default: each path at
//	    its own place, rsync -R to /)
//	  delete: "true" removes files under the paths the source lacks
//	  checksum: "true" compares contents (rsync -c)
//	  ignore_missing: "true" skips paths the source lacks
//	  exclude: patterns to leave out
//	  rsync: the program, e.g. /usr/bin/rsync (default rsync)
//
// Outputs: count (items changed; missing, differs and extra by kind of
// change), list (one "change path" a line, at most 1000, listed says how
// many), command (the same sync without -i) and cron_command (command
// with cron's % escaped, for a crontab entry).
// Items: one per listed item {name: absolute path on the target, change,
// kind, attrs}.
type Rsync struct{ Env *Env }

// Params implements workflow.Action.
func (Rsync) Params() ([]string, []string) { return []string{"to", "paths"}, syncParams }

// Describe implements workflow.Action.
func (Rsync) Describe(_ string, a map[string]string) string {
	s, err := parseSyncSpec(a)
	if err != nil {
		return "rsync: " + err.Error()
	}
	return s.command(true, false)
}

// Run implements workflow.Action.
func (r Rsync) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	return runSync(ctx, r.Env, c, false)
}

// Drift lists what differs between the step's host and the target under
// the paths, without changing anything: rsync's dry run, itemized. Same
// `with:` as rsync; `delete: "true"` also lists files only the target has.
//
// Outputs: count, missing (absent on the target), differs, extra (only on
// the target), list, listed. Items as for rsync.
type Drift struct{ Env *Env }

// Params implements workflow.Action.
func (Drift) Params() ([]string, []string) { return []string{"to", "paths"}, syncParams }

// Describe implements workflow.Action.
func (Drift) Describe(_ string, a map[string]string) string {
	s, err := parseSyncSpec(a)
	if err != nil {
		return "drift: " + err.Error()
	}
	return s.command(true, true)
}

// Run implements workflow.Action.
func (d Drift) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	return runSync(ctx, d.Env, c, true)
}

func runSync(ctx context.Context, env *Env, c Call, dryRun bool) (workflow.Outcome, error) {
	s, err := parseSyncSpec(c.Args)
	if err != nil {
		return workflow.Outcome{}, err
	}
	what := "sync"
	if dryRun {
		what = "compare"
	}
	o, res, err := runText(env, ctx, c, s.command(true, dryRun), "", nil)
	switch {
	case err != nil && o.Ran:
		// rsync's last line only says "rsync error: ... (code N)": the
		// cause (ssh's refusal, a missing path) is in the lines before.
		return o, fmt.Errorf("%s %s to %s on %s: rsync exit status %d: %s", what, strings.Join(s.paths, " "), s.to, c.Host, res.Exit, lastLines(o.Stderr, 5))
	case err != nil:
		return o, fmt.Errorf("%s %s to %s: %w", what, strings.Join(s.paths, " "), s.to, err)
	}
	changes, err := ParseItemized(o.Stdout)
	if err != nil {
		return o, fmt.Errorf("%s %s to %s: %w", what, strings.Join(s.paths, " "), s.to, err)
	}
	for i := range changes {
		changes[i].Path = s.targetPath(changes[i].Path)
	}
	o.Outputs = changeOutputs(changes)
	o.Outputs["command"] = s.command(false, dryRun)
	// cron turns an unescaped % of a command into a new line.
	o.Outputs["cron_command"] = strings.ReplaceAll(o.Outputs["command"], "%", `\%`)
	for _, ch := range changes[:min(len(changes), maxListed)] {
		o.Items = append(o.Items, ch.item())
	}
	return o, nil
}

// maxListed bounds the changes a step lists in its items and its list
// output (a first sync of an installdir may copy 100,000 files); counts
// are always complete.
const maxListed = 1000

// lastLines joins the last n non-empty lines of s with "; ".
func lastLines(s string, n int) string {
	var l []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			l = append(l, line)
		}
	}
	if len(l) > n {
		l = l[len(l)-n:]
	}
	if len(l) == 0 {
		return "no message"
	}
	return strings.Join(l, "; ")
}

// targetPath is the absolute path on the target of a path rsync printed:
// relative to dest, or (with -R and absolute sources) already absolute.
func (s syncSpec) targetPath(p string) string {
	return strings.TrimSuffix(s.dest, "/") + "/" + strings.TrimPrefix(p, "/")
}

func changeOutputs(changes []Change) map[string]string {
	n := map[ChangeOp]int{}
	var lines []string
	for _, ch := range changes {
		n[ch.Op]++
		if len(lines) < maxListed {
			lines = append(lines, string(ch.Op)+" "+ch.Path)
		}
	}
	if len(changes) > maxListed {
		lines = append(lines, fmt.Sprintf("... and %d more", len(changes)-maxListed))
	}
	return map[string]string{
		"count":   strconv.Itoa(len(changes)),
		"listed":  strconv.Itoa(min(len(changes), maxListed)),
		"missing": strconv.Itoa(n[Missing]),
		"differs": strconv.Itoa(n[Differs]),
		"extra":   strconv.Itoa(n[Extra]),
		"list":    strings.Join(lines, "\n"),
	}
}

// ChangeOp is how an item on the target differs from the source.
type ChangeOp string

// The ways an item can differ.
const (
	Missing ChangeOp = "missing" // absent on the target
	Differs ChangeOp = "differs" // present on both, content or attributes differ
	Extra   ChangeOp = "extra"   // only on the target (listed with delete)
)

// Change is one line of rsync's --itemize-changes output.
type Change struct {
	Path   string   // as rsync prints it: relative to the transfer root, directories end in /
	Op     ChangeOp // missing, differs or extra
	Kind   string   // file, dir, symlink, device, special
	Attrs  []string // for differs: checksum, size, time, perms, owner, group, times, acl, xattr
	Target string   // a symlink's target, when rsync shows it
}

func (c Change) item() map[string]string {
	return map[string]string{"name": c.Path, "change": string(c.Op), "kind": c.Kind, "attrs": strings.Join(c.Attrs, ",")}
}

var itemKinds = map[byte]string{'f': "file", 'd': "dir", 'L': "symlink", 'D': "device", 'S': "special"}

// itemAttrs names the letters after the update type and the kind, in the
// order rsync prints them (YXcstpoguax).
var itemAttrs = []string{"checksum", "size", "time", "perms", "owner", "group", "times", "acl", "xattr"}

// ParseItemized reads the stdout of rsync -i (%i %n%L): one item per line,
// "YXcstpoguax path" or "*deleting path". Lines rsync adds around them
// ("created directory D") are skipped; any other line is an error, so that
// a format this parser does not know never hides a difference.
func ParseItemized(out string) ([]Change, error) {
	var changes []Change
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "created directory ") {
			continue
		}
		ch, err := parseItemLine(line)
		if err != nil {
			return nil, err
		}
		changes = append(changes, ch)
	}
	return changes, nil
}

func parseItemLine(line string) (Change, error) {
	bad := func(why string) (Change, error) {
		return Change{}, fmt.Errorf("rsync itemized line %q: %s", line, why)
	}
	if msg, ok := strings.CutPrefix(line, "*"); ok {
		word, rest, _ := strings.Cut(msg, " ")
		if word != "deleting" {
			return bad("unknown message " + word)
		}
		path := strings.TrimLeft(rest, " ")
		if path == "" {
			return bad("no path")
		}
		kind := "file"
		if strings.HasSuffix(path, "/") {
			kind = "dir"
		}
		return Change{Path: path, Op: Extra, Kind: kind}, nil
	}
	flags, path, ok := strings.Cut(line, " ")
	if !ok || path == "" {
		return bad("no path")
	}
	if len(flags) < 3 || !strings.ContainsRune("<>ch.", rune(flags[0])) {
		return bad("unknown update type")
	}
	kind, ok := itemKinds[flags[1]]
	if !ok {
		return bad("unknown file type")
	}
	ch := Change{Path: path, Kind: kind, Op: Differs}
	if kind == "symlink" {
		ch.Path, ch.Target, _ = strings.Cut(path, " -> ")
	}
	attrs := flags[2:]
	if strings.Trim(attrs, "+") == "" {
		ch.Op = Missing
		return ch, nil
	}
	for i := 0; i < len(attrs) && i < len(itemAttrs); i++ {
		if attrs[i] != '.' && attrs[i] != ' ' {
			ch.Attrs = append(ch.Attrs, itemAttrs[i])
		}
	}
	return ch, nil
}
