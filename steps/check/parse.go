package check

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/db2"
	"github.com/hamnflow/hamnflow/steps/files"
	"github.com/hamnflow/hamnflow/steps/mysql"
	"github.com/hamnflow/hamnflow/steps/postgres"
	"github.com/hamnflow/hamnflow/steps/services"
)

// Section is one part of a host script's output.
type Section struct {
	Name, Arg string
	Lines     []string // without the exit-status line
	Exit      int      // from the @@rc line; -1 when the section has none
}

// Text is the section's lines joined.
func (s Section) Text() string { return strings.Join(s.Lines, "\n") }

// Tail is the section's last non-empty line, for messages.
func (s Section) Tail() string {
	for i := len(s.Lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(s.Lines[i]); l != "" {
			return l
		}
	}
	return "no output"
}

// SplitSections cuts a host script's output at its marker lines, by
// "name" or "name arg" (db postgresql, cert ca, drift install). Lines
// before the first marker are dropped (a login banner).
func SplitSections(out string) map[string]Section {
	out = demux(out)
	secs := map[string]Section{}
	var cur *Section
	key := ""
	flush := func() {
		if cur != nil {
			secs[key] = *cur
		}
	}
	for _, line := range strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n") {
		if rest, ok := strings.CutPrefix(line, marker); ok {
			flush()
			name, arg, _ := strings.Cut(strings.TrimSpace(rest), " ")
			cur, key = &Section{Name: name, Arg: arg, Exit: -1}, strings.TrimSpace(rest)
			continue
		}
		if cur == nil {
			continue
		}
		if rc, ok := strings.CutPrefix(line, rcMark); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(rc)); err == nil {
				cur.Exit = n
				continue
			}
		}
		cur.Lines = append(cur.Lines, line)
	}
	flush()
	// Trailing empty lines carry nothing.
	for k, s := range secs {
		for len(s.Lines) > 0 && strings.TrimSpace(s.Lines[len(s.Lines)-1]) == "" {
			s.Lines = s.Lines[:len(s.Lines)-1]
		}
		secs[k] = s
	}
	return secs
}

// demux gathers the lines of the background jobs ("@@j N line"), job by
// job, after the lines of the script itself.
func demux(out string) string {
	var main []string
	jobs := map[int][]string{}
	var order []int
	for _, line := range strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n") {
		if rest, ok := strings.CutPrefix(line, jobMark); ok {
			n, l, _ := strings.Cut(rest, " ")
			if id, err := strconv.Atoi(n); err == nil {
				if _, seen := jobs[id]; !seen {
					order = append(order, id)
				}
				jobs[id] = append(jobs[id], l)
				continue
			}
		}
		main = append(main, line)
	}
	for len(main) > 0 && main[len(main)-1] == "" {
		main = main[:len(main)-1]
	}
	for _, id := range order {
		main = append(main, jobs[id]...)
	}
	return strings.Join(main, "\n") + "\n"
}

// Facts are what one host's script found.
type Facts struct {
	Host string
	// Err is why the script could not run at all (no SSH connection, a
	// timeout); the other fields are then empty.
	Err error
	// Clock is the host's time when the script started (Unix seconds),
	// Sent the checker's just before it asked; 0 when unread.
	Clock float64
	Sent  time.Time
	// Info: os, xcat, db, subnet, resolve (the peer's address as this host
	// resolves its hostname).
	Info map[string]string
	// SSH is the SSH trust check to the peer: Exit 0 works.
	SSH Section
	// Database: the section, and what its parser made of it.
	DB      *Section
	PG      *postgres.ServerStatus
	MySQL   *mysql.ReplicaStatus
	Db2     *db2.HADRStatus
	SQLite  []FileTime // the copy's files and their modification times
	DBError error      // the parser's (or the command's) error
	// Sums: path (relative to /) to SHA-256; SumsErr when unread.
	Sums    map[string]string
	SumsErr error
	Certs   map[string]CertEnd
	// Services by role (standby).
	Services map[string]ServiceState
	// Drift by path set (primary).
	Drift map[string]Drift
}

// FileTime is a file's modification time (Unix seconds).
type FileTime struct {
	Path  string
	MTime int64
}

// CertEnd is a certificate's notAfter, or why it could not be read.
type CertEnd struct {
	NotAfter time.Time
	Err      error
}

// ServiceState is a service's state, or why it could not be read.
type ServiceState struct {
	services.Status
	Err error
}

// Drift is what rsync's dry run would copy for one path set.
type Drift struct {
	Changes []files.Change
	// Ignored counts directories that differ only in their modification
	// time (rsync -R's implied directories): not drift.
	Ignored int
	Err     error
}

// ParseFacts reads a host script's output into Facts.
func ParseFacts(host, out string) Facts {
	f := Facts{Host: host, Certs: map[string]CertEnd{}, Services: map[string]ServiceState{}, Drift: map[string]Drift{}}
	secs := SplitSections(out)
	if s, ok := secs["clock"]; ok && len(s.Lines) > 0 {
		f.Clock = parseClock(s.Lines[0])
	}
	f.Info = act.KeyValues(secs["facts"].Text())
	f.SSH = secs["ssh"]
	for _, s := range secs {
		switch s.Name {
		case "db":
			f.DB = &s
			f.parseDB(s)
		case "cert":
			f.Certs[s.Arg] = ParseEndDate(s)
		case "service":
			f.Services[s.Arg] = parseService(s)
		case "drift":
			f.Drift[s.Arg] = ParseDrift(s)
		case "sums":
			f.Sums, f.SumsErr = ParseSums(s)
		}
	}
	return f
}

// parseClock reads date +%s.%N; AIX's date prints a literal N, which
// leaves the whole seconds.
func parseClock(s string) float64 {
	s = strings.TrimSpace(s)
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return v
	}
	sec, _, _ := strings.Cut(s, ".")
	v, _ := strconv.ParseFloat(sec, 64)
	return v
}

func (f *Facts) parseDB(s Section) {
	fail := func(what string, err error) {
		f.DBError = fmt.Errorf("%s: %w", what, err)
	}
	switch s.Arg {
	case "postgresql":
		if s.Exit != 0 {
			fail("psql", fmt.Errorf("exit status %d: %s", s.Exit, s.Tail()))
			return
		}
		st, err := postgres.ParseStatus(s.Text())
		if err != nil {
			fail("psql", err)
			return
		}
		f.PG = &st
	case "mysql":
		if s.Exit != 0 {
			fail("SHOW REPLICA STATUS", fmt.Errorf("exit status %d: %s", s.Exit, s.Tail()))
			return
		}
		st, err := mysql.ParseReplicaStatus(s.Text())
		if err != nil {
			fail("SHOW REPLICA STATUS", err)
			return
		}
		f.MySQL = &st
	case "db2":
		st, err := db2.ParseDb2pdHADR([]byte(s.Text()))
		if err != nil && !errors.Is(err, db2.ErrHADRNotActive) {
			fail("db2pd -hadr", err)
			return
		}
		f.Db2 = &st
	case "sqlite":
		for _, l := range s.Lines {
			t, p, ok := strings.Cut(strings.TrimSpace(l), " ")
			n, err := strconv.ParseInt(t, 10, 64)
			if !ok || err != nil {
				fail("stat", fmt.Errorf("unexpected line %q", l))
				return
			}
			f.SQLite = append(f.SQLite, FileTime{Path: p, MTime: n})
		}
	}
}

// ParseEndDate reads openssl x509 -enddate: "notAfter=Dec  3 16:40:53 2046 GMT".
func ParseEndDate(s Section) CertEnd {
	if s.Exit != 0 {
		return CertEnd{Err: fmt.Errorf("openssl x509 exit status %d: %s", s.Exit, s.Tail())}
	}
	for _, l := range s.Lines {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "notAfter="); ok {
			t, err := time.Parse("Jan _2 15:04:05 2006 MST", strings.Join(strings.Fields(v), " "))
			if err != nil {
				t, err = time.Parse("Jan 2 15:04:05 2006 MST", strings.Join(strings.Fields(v), " "))
			}
			if err != nil {
				return CertEnd{Err: fmt.Errorf("notAfter %q: %w", v, err)}
			}
			return CertEnd{NotAfter: t.UTC()}
		}
	}
	return CertEnd{Err: fmt.Errorf("no notAfter in openssl's output: %s", s.Tail())}
}

func parseService(s Section) ServiceState {
	kv := act.KeyValues(s.Text())
	if _, ok := kv["unit"]; !ok {
		return ServiceState{Err: fmt.Errorf("service discovery: %s", s.Tail())}
	}
	// The section's init is not in the output; ParseStatus only needs it
	// for SRC's lssrc line.
	init := "systemd"
	if _, ok := kv["lssrc"]; ok {
		init = "src"
	}
	return ServiceState{Status: services.ParseStatus(init, s.Text())}
}

// ParseDrift reads rsync's dry run: its "@@item" lines are items
// (files.ParseItemized), any other line is rsync's message; a non-zero
// exit status is an error with the last message.
func ParseDrift(s Section) Drift {
	var items, msgs []string
	for _, l := range s.Lines {
		if it, ok := strings.CutPrefix(l, itemMark); ok {
			items = append(items, it)
		} else if strings.TrimSpace(l) != "" {
			msgs = append(msgs, strings.TrimSpace(l))
		}
	}
	if s.Exit != 0 {
		msg := "no message"
		if len(msgs) > 0 {
			msg = strings.Join(msgs[max(0, len(msgs)-3):], "; ")
		}
		return Drift{Err: fmt.Errorf("rsync -n exit status %d: %s", s.Exit, msg)}
	}
	changes, err := files.ParseItemized(strings.Join(items, "\n"))
	if err != nil {
		return Drift{Err: err}
	}
	var d Drift
	for _, ch := range changes {
		if ch.Kind == "dir" && ch.Op == files.Differs && len(ch.Attrs) == 1 && ch.Attrs[0] == "time" {
			d.Ignored++
			continue
		}
		d.Changes = append(d.Changes, ch)
	}
	return d
}

// ParseSums reads sha256sum's "HASH  path" lines.
func ParseSums(s Section) (map[string]string, error) {
	if s.Exit != 0 {
		return nil, fmt.Errorf("sha256sum exit status %d: %s", s.Exit, s.Tail())
	}
	sums := map[string]string{}
	for _, l := range s.Lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		h, p, ok := strings.Cut(l, "  ")
		if !ok || len(h) != 64 {
			return nil, fmt.Errorf("sha256sum: unexpected line %q", l)
		}
		sums[p] = h
	}
	return sums, nil
}
