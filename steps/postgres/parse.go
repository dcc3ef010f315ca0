package postgres

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
)

// LSN is a PostgreSQL write-ahead log position.
type LSN uint64

// ParseLSN reads an LSN as PostgreSQL prints it, e.g. "16/B374D848".
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, fmt.Errorf("LSN %q: want HI/LO in hexadecimal", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("LSN %q: %w", s, err)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("LSN %q: %w", s, err)
	}
	return LSN(h<<32 | l), nil
}

func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xffffffff) }

// Replica is one row of pg_stat_replication.
type Replica struct {
	Name, Client, State, SyncState string
	SentLSN, ReplayLSN             string
	ReplayLagSeconds               float64
}

// ServerStatus is a server's replication state as pg_status reads it.
type ServerStatus struct {
	InRecovery bool
	ReceiveLSN string // standby: last WAL received and flushed ("" if none)
	ReplayLSN  string // standby: last WAL replayed
	CurrentLSN string // primary: current WAL write position
	LastReplay string // standby: commit time of the last replayed transaction
	// ReplayDelay is how long ago (seconds) the last replayed transaction
	// committed on the primary; -1 when unknown.
	ReplayDelay float64
	Receiver    string // standby: pg_stat_wal_receiver.status ("" if no receiver)
	Replicas    []Replica
}

// Role is "standby" or "primary".
func (s ServerStatus) Role() string {
	if s.InRecovery {
		return "standby"
	}
	return "primary"
}

// statusSQL are the queries pg_status runs (one psql -c each); their
// rows start with a tag so that one output holds both.
var statusSQL = []string{
	`SELECT 'node', pg_is_in_recovery(), pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn(), ` +
		`CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn() END, pg_last_xact_replay_timestamp(), ` +
		`CASE WHEN pg_is_in_recovery() THEN round(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::numeric, 3) END, ` +
		`(SELECT status FROM pg_stat_wal_receiver LIMIT 1)`,
	`SELECT 'replica', application_name, client_addr, state, sent_lsn, replay_lsn, sync_state, ` +
		`round(COALESCE(EXTRACT(EPOCH FROM replay_lag), 0)::numeric, 3) FROM pg_stat_replication`,
}

// ParseStatus reads the output of statusSQL run by psql -A -t (fields
// separated by |, NULL as empty).
func ParseStatus(out string) (ServerStatus, error) {
	st := ServerStatus{ReplayDelay: -1}
	sawNode := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), "|")
		switch {
		case f[0] == "node" && len(f) == 8:
			sawNode = true
			st.InRecovery = f[1] == "t"
			st.ReceiveLSN, st.ReplayLSN, st.CurrentLSN, st.LastReplay = f[2], f[3], f[4], f[5]
			if err := checkLSNs(f[2], f[3], f[4]); err != nil {
				return st, err
			}
			if f[6] != "" {
				d, err := strconv.ParseFloat(f[6], 64)
				if err != nil {
					return st, fmt.Errorf("replay delay %q: %w", f[6], err)
				}
				st.ReplayDelay = d
			}
			st.Receiver = f[7]
		case f[0] == "replica" && len(f) == 8:
			lag, err := strconv.ParseFloat(f[7], 64)
			if err != nil {
				return st, fmt.Errorf("replay lag %q: %w", f[7], err)
			}
			if err := checkLSNs(f[4], f[5]); err != nil {
				return st, err
			}
			st.Replicas = append(st.Replicas, Replica{Name: f[1], Client: f[2], State: f[3], SentLSN: f[4], ReplayLSN: f[5], SyncState: f[6], ReplayLagSeconds: lag})
		}
	}
	if !sawNode {
		return st, fmt.Errorf("no status row in psql output %q", strings.TrimSpace(out))
	}
	return st, nil
}

// checkLSNs fails on a field that is neither empty (NULL) nor an LSN.
func checkLSNs(fields ...string) error {
	for _, f := range fields {
		if f == "" {
			continue
		}
		if _, err := ParseLSN(f); err != nil {
			return err
		}
	}
	return nil
}

// LossWindow says how much WAL the standby lacks against the primary's
// last known position, in bytes, and describes the window in words.
// primaryLSN may be "" (primary unreachable).
func (s ServerStatus) LossWindow(primaryLSN string) (bytes int64, words string) {
	have := s.ReceiveLSN
	if have == "" {
		have = s.ReplayLSN
	}
	when := "no transaction replayed yet"
	if s.LastReplay != "" {
		when = "last replayed transaction committed " + s.LastReplay
		if s.ReplayDelay >= 0 {
			when += fmt.Sprintf(" (%.1fs ago)", s.ReplayDelay)
		}
	}
	hv, herr := ParseLSN(have)
	if primaryLSN == "" || herr != nil {
		return -1, fmt.Sprintf("primary position unknown: transactions committed on the primary after WAL %s may be lost; %s", orNone(have), when)
	}
	pv, err := ParseLSN(primaryLSN)
	if err != nil {
		return -1, fmt.Sprintf("primary position %q unreadable; standby has WAL up to %s; %s", primaryLSN, have, when)
	}
	d := int64(pv) - int64(hv)
	if d <= 0 {
		return 0, fmt.Sprintf("no loss: standby has WAL up to %s, primary was at %s; %s", have, primaryLSN, when)
	}
	return d, fmt.Sprintf("%d bytes of WAL (%s to %s) not on the standby will be lost; %s", d, have, primaryLSN, when)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Setting is one change to postgresql.conf: Key = Value, or with Add,
// Value added to the comma-separated list Key holds (listen_addresses).
type Setting struct {
	Key, Value string
	Add        bool
	// Base is the list in effect when Add adds to it (postgres -C, which
	// reads every file: postgresql.conf, its includes such as Debian's
	// conf.d, postgresql.auto.conf); "" takes the file's own line.
	Base string
}

// ParseSettings reads settings given one a line (or separated by ;):
// "wal_level = replica", "listen_addresses += 198.51.100.10".
func ParseSettings(spec string) ([]Setting, error) {
	var out []Setting
	for _, line := range strings.FieldsFunc(spec, func(r rune) bool { return r == '\n' || r == ';' }) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("setting %q: want key = value or key += value", line)
		}
		s := Setting{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)}
		if strings.HasSuffix(s.Key, "+") {
			s.Add, s.Key = true, strings.TrimSpace(strings.TrimSuffix(s.Key, "+"))
		}
		if s.Key == "" || strings.ContainsAny(s.Key, " \t'\"") {
			return nil, fmt.Errorf("setting %q: bad parameter name", line)
		}
		out = append(out, s)
	}
	return out, nil
}

// confLine splits an active postgresql.conf line into key and value
// (quotes kept, trailing comment dropped); ok is false for comments and
// blank lines.
func confLine(line string) (key, value string, ok bool) {
	t := strings.TrimSpace(line)
	if t == "" || strings.HasPrefix(t, "#") {
		return "", "", false
	}
	i := strings.IndexAny(t, "= \t")
	if i <= 0 {
		return "", "", false
	}
	key = t[:i]
	rest := strings.TrimLeft(t[i:], " \t")
	rest = strings.TrimPrefix(rest, "=")
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "'") {
		end := 1
		for end < len(rest) {
			if rest[end] == '\'' {
				if end+1 < len(rest) && rest[end+1] == '\'' {
					end += 2
					continue
				}
				break
			}
			end++
		}
		if end < len(rest) {
			return key, rest[:end+1], true
		}
		return key, rest, true
	}
	if j := strings.Index(rest, "#"); j >= 0 {
		rest = strings.TrimSpace(rest[:j])
	}
	return key, rest, true
}

// ConfValue returns the value (quotes removed) of the last active
// setting of key in a postgresql.conf text.
func ConfValue(conf, key string) (string, bool) {
	val, found := "", false
	for _, line := range strings.Split(conf, "\n") {
		if k, v, ok := confLine(line); ok && strings.EqualFold(k, key) {
			val, found = unquoteConf(v), true
		}
	}
	return val, found
}

func unquoteConf(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return strings.ReplaceAll(v[1:len(v)-1], "''", "'")
	}
	return v
}

// ServiceState is what pg_service's script prints: the state it found
// (was=), the state it left (state=) and, after it the server stopped,
// pg_controldata's report.
type ServiceState struct {
	Was, State string // running or stopped
	Control    Control
}

// ParseServiceOutput reads the output of pg_service's script.
func ParseServiceOutput(out string) ServiceState {
	kv := act.KeyValues(out)
	st := ServiceState{Was: kv["was"], State: kv["state"]}
	if st.State == "stopped" {
		st.Control = ParseControlData(out)
	}
	return st
}

// Control is what pg_controldata says about a stopped cluster.
type Control struct {
	State         string // "shut down", "in production", "shut down in recovery", ...
	CheckpointLSN string // Latest checkpoint location
	TimeLine      int    // Latest checkpoint's TimeLineID (0 if not shown)
}

// ParseControlData reads pg_controldata's output.
func ParseControlData(out string) Control {
	var c Control
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "Database cluster state":
			c.State = v
		case "Latest checkpoint location":
			c.CheckpointLSN = v
		case "Latest checkpoint's TimeLineID":
			c.TimeLine, _ = strconv.Atoi(v)
		}
	}
	return c
}
