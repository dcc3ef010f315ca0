package check

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Limit is a check's thresholds: a value above Warn (below, with Below) is
// WARNING, above Crit CRITICAL. NaN turns a threshold off.
type Limit struct {
	Warn, Crit float64
	Below      bool // lower is worse (days to a certificate's expiry)
}

// Off is a threshold that never alerts.
var Off = math.NaN()

// Status is the status of v against the limit.
func (l Limit) Status(v float64) Status {
	past := func(t float64) bool {
		if math.IsNaN(t) || math.IsNaN(v) {
			return false
		}
		if l.Below {
			return v < t
		}
		return v > t
	}
	switch {
	case past(l.Crit):
		return Critical
	case past(l.Warn):
		return Warning
	}
	return OK
}

// Kind is what a threshold measures, and so how it is written.
type Kind int

// The kinds of thresholds.
const (
	Seconds Kind = iota // a duration: 30s, 5m, 2h, 7d or plain seconds
	Bytes               // a size: 16MiB, 1G, or plain bytes
	Count               // a plain number
	Days                // a number of days
)

// Limits are the thresholds of every check, by name. Defaults gives them;
// the inventory's check: block and the command line change them.
type Limits map[string]Limit

// limitSpec is one threshold's kind and default.
type limitSpec struct {
	kind Kind
	def  Limit
	help string
}

var limitSpecs = map[string]limitSpec{
	"replay_lag_bytes": {Bytes, Limit{Warn: 16 << 20, Crit: 1 << 30}, "WAL the PostgreSQL standby has not replayed (primary's current LSN minus the standby's replay LSN)"},
	"replay_lag":       {Seconds, Limit{Warn: 30, Crit: 300}, "PostgreSQL replay lag as the primary sees it (pg_stat_replication.replay_lag)"},
	"seconds_behind":   {Seconds, Limit{Warn: 30, Crit: 300}, "MySQL/MariaDB Seconds_Behind_Master (Source)"},
	"db2_log_gap":      {Bytes, Limit{Warn: 16 << 20, Crit: 1 << 30}, "Db2 HADR log gap (db2pd's HADR_LOG_GAP)"},
	"sqlite_age":       {Seconds, Limit{Warn: 2 * 3600, Crit: 26 * 3600}, "age of the standby's copy of the SQLite database"},
	"sync_age":         {Seconds, Limit{Warn: 26 * 3600, Crit: 7 * 86400}, "age of the last successful sync or sync-setup run in the journal"},
	"drift":            {Count, Limit{Warn: 0, Crit: Off}, "items rsync would copy to the standby now, per path set"},
	"cert_days":        {Days, Limit{Warn: 30, Crit: 7, Below: true}, "days until xCAT's CA or server certificate expires"},
	"clock_skew":       {Seconds, Limit{Warn: 2, Crit: 5}, "difference between the MNs' clocks"},
	"drill_age":        {Days, Limit{Warn: 180, Crit: Off}, "days since the last successful failover, failback or switchover run"},
}

// Defaults are the built-in thresholds.
func Defaults() Limits {
	l := Limits{}
	for name, s := range limitSpecs {
		l[name] = s.def
	}
	return l
}

// LimitNames lists the thresholds with what each measures, for help and
// documentation.
func LimitNames() []string {
	var out []string
	for name := range limitSpecs {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// LimitHelp says what a threshold measures and its default.
func LimitHelp(name string) string {
	s, ok := limitSpecs[name]
	if !ok {
		return ""
	}
	return fmt.Sprintf("%s (warn %s, crit %s)", s.help, formatLimit(s.kind, s.def.Warn), formatLimit(s.kind, s.def.Crit))
}

func formatLimit(k Kind, v float64) string {
	if math.IsNaN(v) {
		return "off"
	}
	switch k {
	case Seconds:
		return formatSeconds(v)
	case Bytes:
		return formatBytes(v)
	case Days:
		return strconv.FormatFloat(v, 'f', -1, 64) + "d"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// Set changes one threshold of name: which is "warn" or "crit", text a
// value of the threshold's kind or "off". Errors say what to write.
func (l Limits) Set(name, which, text string) error {
	s, ok := limitSpecs[name]
	if !ok {
		return fmt.Errorf("threshold %q: unknown; use one of %s", name, strings.Join(LimitNames(), ", "))
	}
	v, err := ParseValue(s.kind, text)
	if err != nil {
		return fmt.Errorf("threshold %s.%s: %w", name, which, err)
	}
	cur, ok := l[name]
	if !ok {
		cur = s.def
	}
	switch which {
	case "warn":
		cur.Warn = v
	case "crit":
		cur.Crit = v
	default:
		return fmt.Errorf("threshold %s: %q: use warn or crit", name, which)
	}
	l[name] = cur
	return nil
}

// ParseValue reads a threshold of kind k: "off", or a number with the
// kind's units (durations s, m, h, d; sizes B, K/KB/KiB, M.., G.., T..
// counted in 1024s; days with an optional d).
func ParseValue(k Kind, text string) (float64, error) {
	t := strings.TrimSpace(text)
	if t == "off" {
		return Off, nil
	}
	num := strings.TrimRightFunc(t, func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' })
	unit := t[len(num):]
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%q: want %s or off", text, kindWords[k])
	}
	mult, ok := kindUnits[k][strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("%q: unit %q: want %s or off", text, unit, kindWords[k])
	}
	return v * mult, nil
}

var kindWords = map[Kind]string{
	Seconds: "a duration such as 30s, 5m, 2h or 7d",
	Bytes:   "a size such as 16MiB, 1G or 4096",
	Count:   "a number",
	Days:    "a number of days such as 30 or 30d",
}

var kindUnits = map[Kind]map[string]float64{
	Seconds: {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400},
	Bytes: {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40},
	Count: {"": 1},
	Days:  {"": 1, "d": 1},
}

func formatSeconds(v float64) string {
	switch {
	case v >= 86400 && math.Mod(v, 86400) == 0:
		return strconv.FormatFloat(v/86400, 'f', -1, 64) + "d"
	case v >= 3600 && math.Mod(v, 3600) == 0:
		return strconv.FormatFloat(v/3600, 'f', -1, 64) + "h"
	case v >= 60 && math.Mod(v, 60) == 0:
		return strconv.FormatFloat(v/60, 'f', -1, 64) + "m"
	}
	return strconv.FormatFloat(v, 'f', -1, 64) + "s"
}

// humanBytes writes a size for people: 77.5KiB, 32MiB, 512B.
func humanBytes(v float64) string {
	for _, u := range []struct {
		n string
		m float64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v >= u.m {
			return strings.TrimSuffix(strconv.FormatFloat(v/u.m, 'f', 1, 64), ".0") + u.n
		}
	}
	return strconv.FormatFloat(v, 'f', -1, 64) + "B"
}

func formatBytes(v float64) string {
	for _, u := range []struct {
		n string
		m float64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v >= u.m && math.Mod(v, u.m) == 0 {
			return strconv.FormatFloat(v/u.m, 'f', -1, 64) + u.n
		}
	}
	return strconv.FormatFloat(v, 'f', -1, 64) + "B"
}
