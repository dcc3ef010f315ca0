// Package check answers "can the standby take over tonight?" with typed,
// read-only checks of the two management nodes: replication (PostgreSQL's
// WAL receiver and lag, Db2 HADR, MySQL/MariaDB replica threads, the SQLite
// copy's age), file sync (the journal's last sync, rsync's dry-run drift
// per path set, the credentials' checksums), the standby's services
// (stopped and not enabled), xCAT's certificates, SSH trust both ways,
// clock skew and the age of the last drill.
//
// Each host is asked once: one script per MN, run over the transport's one
// connection, whose sections the parsers here turn into facts. The
// scripts only read: no file, service or database is changed on the MNs.
//
// Each check gives a Result with a status (OK, WARNING, CRITICAL, UNKNOWN
// as Nagios counts them), a value and its thresholds; UNKNOWN means the
// check itself could not run (e.g. the host it needs did not answer).
package check

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Status is a check's verdict, numbered as Nagios plugins exit.
type Status int

// The statuses, in Nagios' order.
const (
	OK Status = iota
	Warning
	Critical
	Unknown
)

func (s Status) String() string {
	switch s {
	case OK:
		return "OK"
	case Warning:
		return "WARNING"
	case Critical:
		return "CRITICAL"
	}
	return "UNKNOWN"
}

// MarshalJSON writes the status as its word.
func (s Status) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// rank orders statuses for the verdict: CRITICAL over WARNING over
// UNKNOWN over OK (a known problem says more than a check that could not
// run).
func (s Status) rank() int { return [...]int{0, 2, 3, 1}[s] }

// Worse is the worse of a and b.
func Worse(a, b Status) Status {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Result is one check's finding on one host (or between the two).
type Result struct {
	// Check names the check, e.g. pg_streaming; with Host and Subject it
	// labels the perfdata and the metrics.
	Check   string `json:"check"`
	Host    string `json:"host,omitempty"`
	Subject string `json:"subject,omitempty"` // a path set, a service role, a certificate
	Status  Status `json:"status"`
	// Value is the measured number (NaN: none); Text the word measured
	// (streaming, PEER, inactive/disabled).
	Value float64 `json:"-"`
	Text  string  `json:"text,omitempty"`
	Unit  string  `json:"unit,omitempty"` // s, B, d or "" (a count)
	Limit Limit   `json:"-"`
	// Message says what was found and, unless OK, what to do.
	Message string `json:"message"`
}

// HasValue says whether the result measured a number.
func (r Result) HasValue() bool { return !math.IsNaN(r.Value) }

// Label is the result's name in perfdata and metrics: check, host and
// subject joined by underscores, in [a-z0-9_].
func (r Result) Label() string {
	parts := []string{r.Check}
	if r.Host != "" {
		parts = append(parts, r.Host)
	}
	if r.Subject != "" {
		parts = append(parts, r.Subject)
	}
	return sanitize(strings.Join(parts, "_"))
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// MarshalJSON adds value, warn and crit when they are numbers.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	out := struct {
		plain
		Label string   `json:"label"`
		Value *float64 `json:"value,omitempty"`
		Warn  *float64 `json:"warn,omitempty"`
		Crit  *float64 `json:"crit,omitempty"`
		Below bool     `json:"below,omitempty"`
	}{plain: plain(r), Label: r.Label(), Below: r.Limit.Below}
	num := func(v float64) *float64 {
		if math.IsNaN(v) {
			return nil
		}
		return &v
	}
	out.Value, out.Warn, out.Crit = num(r.Value), num(r.Limit.Warn), num(r.Limit.Crit)
	return json.Marshal(out)
}

// Report is every result of one check run, and its verdict.
type Report struct {
	Cluster string   `json:"cluster"`
	Primary string   `json:"primary"`
	Standby string   `json:"standby"`
	Status  Status   `json:"status"`
	Results []Result `json:"results"`
	// Took is how long the checks took, in seconds.
	Took float64 `json:"took_seconds"`
}

// Verdict is the worst status of the results; OK when there are none.
func Verdict(rs []Result) Status {
	v := OK
	for _, r := range rs {
		v = Worse(v, r.Status)
	}
	return v
}

// Counts counts the results by status.
func (rep Report) Counts() map[Status]int {
	n := map[Status]int{}
	for _, r := range rep.Results {
		n[r.Status]++
	}
	return n
}

// Summary is the report in one line: the verdict's reasons (the messages
// of the worst results) or, when all is well, what was checked.
func (rep Report) Summary() string {
	if rep.Status == OK {
		return fmt.Sprintf("standby %s ready: %d checks OK", rep.Standby, len(rep.Results))
	}
	// The problems: CRITICAL then WARNING; the checks that could not run
	// only when nothing worse is known (their lines follow in the long
	// output).
	var msgs []string
	for _, st := range []Status{Critical, Warning, Unknown} {
		if st == Unknown && rep.Status != Unknown {
			break
		}
		for _, r := range rep.Results {
			if r.Status == st {
				msgs = append(msgs, r.Message)
			}
		}
	}
	return strings.Join(msgs, "; ")
}
