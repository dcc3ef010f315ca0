package files

import (
	"fmt"
	"strings"
)

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
