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

// rsyncSSH is the remote shell rsync uses: never prompt, never accept an
// unknown or changed host key of the target.
const rsyncSSH = "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10"

// SyncArgs are the arguments of rsync and drift.
type SyncArgs struct {
	// To is the target as the step's host reaches it: host, address or
	// user@host.
	To string `arg:"to,required"`
	// Paths are absolute paths on the step's host; each element may hold
	// several, separated by spaces.
	Paths []string `arg:"paths,required"`
	// Dest is the directory on the target for all paths; "": each path to
	// the same place on the target (rsync -R to /).
	Dest          string   `arg:"dest"`
	Delete        bool     `arg:"delete"`         // remove files under the paths that the source lacks
	Checksum      bool     `arg:"checksum"`       // compare contents, not size and modification time (rsync -c)
	IgnoreMissing bool     `arg:"ignore_missing"` // skip paths the source lacks (--ignore-missing-args)
	Rsync         string   `arg:"rsync"`          // the program, or its full path (cron's PATH is short); "": rsync
	Exclude       []string `arg:"exclude"`        // patterns to leave out; spaces separate them too
}

// ArgNames implements workflow.ArgDecoder.
func (a *SyncArgs) ArgNames() []string { return workflow.SpecOf(a).Names() }

// DecodeArgs implements workflow.ArgDecoder: the engine's decoding, paths
// and patterns split at spaces, then the checks of the values known now.
func (a *SyncArgs) DecodeArgs(vals map[string]any, unknown map[string]bool) []error {
	if errs := workflow.DecodeArgs(a, vals, unknown); len(errs) > 0 {
		return errs
	}
	a.Paths, a.Exclude = words(a.Paths), words(a.Exclude)
	return a.check(func(k string) bool { return !unknown[k] })
}

// words splits every element at white space.
func words(l []string) []string {
	var out []string
	for _, e := range l {
		out = append(out, strings.Fields(e)...)
	}
	return out
}

func (a *SyncArgs) check(known func(string) bool) []error {
	var errs []error
	bad := func(arg, format string, v ...any) {
		errs = append(errs, &workflow.ArgError{Arg: arg, Msg: "argument " + arg + ": " + fmt.Sprintf(format, v...)})
	}
	to := strings.TrimSpace(a.To)
	switch {
	case !known("to"):
	case to == "":
		bad("to", "name the target host")
	case strings.ContainsAny(to, " \t\n:/'\"$`\\;&|<>"):
		bad("to", "%q: want a host name, address or user@host", to)
	}
	if known("paths") {
		if len(a.Paths) == 0 {
			bad("paths", "list at least one path")
		}
		for _, p := range a.Paths {
			if !strings.HasPrefix(p, "/") {
				bad("paths", "%q is not absolute", p)
			}
		}
	}
	if d := strings.TrimSpace(a.Dest); known("dest") && d != "" && !strings.HasPrefix(d, "/") {
		bad("dest", "%q is not absolute", d)
	}
	return errs
}

func (a *SyncArgs) valid() error {
	if errs := a.check(func(string) bool { return true }); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// command is the rsync command line: the guide's `rsync -az`, with every
// path kept at its own place on the target unless dest is given. itemize
// adds -i (one line per changed item, see ParseItemized); dryRun adds -n.
func (a *SyncArgs) command(itemize, dryRun bool) string {
	program := strings.TrimSpace(a.Rsync)
	if program == "" {
		program = "rsync"
	}
	dest := strings.TrimSpace(a.Dest)
	w := []string{remote.ShellQuote(program), "-az"}
	if dest == "" {
		w = append(w, "-R")
	}
	if a.Checksum {
		w = append(w, "-c")
	}
	if a.Delete {
		w = append(w, "--delete")
	}
	if a.IgnoreMissing {
		w = append(w, "--ignore-missing-args")
	}
	if dryRun {
		w = append(w, "-n")
	}
	if itemize {
		w = append(w, "-i")
	}
	for _, x := range a.Exclude {
		w = append(w, "--exclude="+remote.ShellQuote(x))
	}
	w = append(w, "-e", remote.ShellQuote(rsyncSSH))
	for _, p := range a.Paths {
		w = append(w, remote.ShellQuote(p))
	}
	if dest == "" {
		dest = "/"
	}
	return strings.Join(append(w, remote.ShellQuote(strings.TrimSpace(a.To)+":"+dest)), " ")
}

// script is the one command rsync (dryRun false) and drift (true) run.
func (a *SyncArgs) script(dryRun bool) act.Script {
	return act.Script{Text: a.command(true, dryRun)}
}

// Rsync copies files from the step's host (the primary MN) to another host
// (the standby MN), as the guide's section 6 crontab entries do, over the
// SSH trust between the MNs (BatchMode, StrictHostKeyChecking=yes). It
// runs one rsync -az -i on the step's host, as the login user.
//
//	with: to, paths (required); dest; delete, checksum, ignore_missing
//	(true or false); exclude; rsync (see SyncArgs)
//
// Outputs: count (items changed; missing, differs and extra by kind of
// change), list (one "change path" a line, at most 1000, listed says how
// many), command (the same sync without -i) and cron_command (command
// with cron's % escaped, for a crontab entry).
// Items: one per listed item {name: absolute path on the target, change,
// kind, attrs}.
type Rsync struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (Rsync) NewArgs() any { return &SyncArgs{} }

// Plan implements workflow.Action.
func (Rsync) Plan(_ string, args any) []string { return []string{args.(*SyncArgs).script(false).Text} }

// Run implements workflow.Action.
func (r Rsync) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	return runSync(ctx, r.Env, c, false)
}

// Drift lists what differs between the step's host and the target under
// the paths, without changing anything: rsync's dry run (-n), itemized.
// Same with: as rsync; delete: true also lists files only the target has.
//
// Outputs: count, missing (absent on the target), differs, extra (only on
// the target), list, listed, command, cron_command. Items as for rsync.
type Drift struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (Drift) NewArgs() any { return &SyncArgs{} }

// Plan implements workflow.Action.
func (Drift) Plan(_ string, args any) []string { return []string{args.(*SyncArgs).script(true).Text} }

// Run implements workflow.Action.
func (d Drift) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	return runSync(ctx, d.Env, c, true)
}

func runSync(ctx context.Context, env *act.Env, c workflow.Call, dryRun bool) (workflow.Outcome, error) {
	a := c.Args.(*SyncArgs)
	what := "sync"
	if dryRun {
		what = "compare"
	}
	paths := strings.Join(a.Paths, " ")
	if err := a.valid(); err != nil {
		return workflow.Outcome{}, fmt.Errorf("%s %s to %s on %s: %w", what, paths, a.To, act.HostLabel(c.Host), err)
	}
	o, res, err := env.Run(ctx, c, a.script(dryRun))
	switch {
	case err != nil && o.Ran:
		// rsync's last line only says "rsync error: ... (code N)": the
		// cause (ssh's refusal, a missing path) is in the lines before.
		return o, fmt.Errorf("%s %s to %s on %s: rsync exit status %d: %s", what, paths, a.To, act.HostLabel(c.Host), res.Exit, lastLines(o.Stderr, 5))
	case err != nil:
		return o, fmt.Errorf("%s %s to %s: %w", what, paths, a.To, err)
	}
	changes, err := ParseItemized(o.Stdout)
	if err != nil {
		return o, fmt.Errorf("%s %s to %s on %s: %w", what, paths, a.To, act.HostLabel(c.Host), err)
	}
	for i := range changes {
		changes[i].Path = a.targetPath(changes[i].Path)
	}
	o.Outputs = changeOutputs(changes)
	o.Outputs["command"] = a.command(false, dryRun)
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
func (a *SyncArgs) targetPath(p string) string {
	return strings.TrimSuffix(a.Dest, "/") + "/" + strings.TrimPrefix(p, "/")
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
