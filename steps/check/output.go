package check

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes the report as a table: one row per result, worst
// first within each group, then the verdict.
func WriteTable(w io.Writer, rep Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tCHECK\tHOST\tVALUE\tMESSAGE")
	for _, r := range rep.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Status, checkName(r), dash(r.Host), valueText(r), r.Message)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	n := rep.Counts()
	_, err := fmt.Fprintf(w, "%s: %d OK, %d WARNING, %d CRITICAL, %d UNKNOWN\n", rep.Status, n[OK], n[Warning], n[Critical], n[Unknown])
	return err
}

func checkName(r Result) string {
	if r.Subject != "" {
		return r.Check + " " + r.Subject
	}
	return r.Check
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// valueText is a result's value in its units, or its word.
func valueText(r Result) string {
	if !r.HasValue() {
		return dash(r.Text)
	}
	switch r.Unit {
	case "B":
		return humanBytes(r.Value)
	case "s":
		if r.Check == "clock_skew" || r.Value < 60 {
			return strconv.FormatFloat(r.Value, 'f', -1, 64) + "s"
		}
		return formatAge(r.Value)
	case "d":
		return strconv.FormatFloat(r.Value, 'f', -1, 64) + "d"
	}
	return strconv.FormatFloat(r.Value, 'f', -1, 64)
}

// WriteJSON writes the report as one JSON document.
func WriteJSON(w io.Writer, rep Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteNagios writes the report as a Nagios plugin's output (Nagios
// Plugin Development Guidelines, "Plugin Output for Nagios"): a first line
// "HAMNFLOW STATUS - text | perfdata", then one line per result that is
// not OK, then the OK ones. Perfdata is 'label'=value[UOM];warn;crit;min;max
// with UOM s, B or none (a count, or days), thresholds as Nagios ranges
// ("30:" alerts below 30), empty when off.
func WriteNagios(w io.Writer, rep Report) error {
	var perf []string
	for _, r := range rep.Results {
		if p := Perfdata(r); p != "" {
			perf = append(perf, p)
		}
	}
	line := "HAMNFLOW " + rep.Status.String() + " - " + oneLine(rep.Summary())
	if len(perf) > 0 {
		line += " | " + strings.Join(perf, " ")
	}
	var b strings.Builder
	b.WriteString(line + "\n")
	for _, pass := range []func(Status) bool{func(s Status) bool { return s != OK }, func(s Status) bool { return s == OK }} {
		for _, r := range rep.Results {
			if pass(r.Status) {
				fmt.Fprintf(&b, "[%s] %s: %s\n", r.Status, r.Label(), oneLine(r.Message))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// oneLine keeps the plugin's text free of the characters its format
// reserves: | starts perfdata, new lines start the long text.
func oneLine(s string) string {
	return strings.NewReplacer("|", "/", "\n", " ").Replace(s)
}

// Perfdata is a result's perfdata, "" when it measured no number.
func Perfdata(r Result) string {
	if !r.HasValue() {
		return ""
	}
	uom := map[string]string{"s": "s", "B": "B"}[r.Unit]
	num := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	rng := func(v float64) string {
		s := num(v)
		if s != "" && r.Limit.Below {
			s += ":"
		}
		return s
	}
	minimum := "0"
	if r.Check == "cert_days" {
		minimum = "" // an expired certificate counts below zero
	}
	return fmt.Sprintf("'%s'=%s%s;%s;%s;%s;", r.Label(), num(r.Value), uom, rng(r.Limit.Warn), rng(r.Limit.Crit), minimum)
}

// WriteMetrics writes the report in Prometheus' text format: each
// result's status and value, the verdict, how long the checks took and
// when they ran.
func WriteMetrics(w io.Writer, rep Report, at time.Time) error {
	var b strings.Builder
	cl := `cluster="` + escLabel(rep.Cluster) + `"`
	labels := func(r Result) string {
		return cl + `,check="` + escLabel(r.Check) + `",host="` + escLabel(r.Host) + `",subject="` + escLabel(r.Subject) + `"`
	}
	b.WriteString("# HELP hamnflow_check_status Status of one check of hamnflow check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n# TYPE hamnflow_check_status gauge\n")
	for _, r := range rep.Results {
		fmt.Fprintf(&b, "hamnflow_check_status{%s} %d\n", labels(r), int(r.Status))
	}
	b.WriteString("# HELP hamnflow_check_value The value one check measured, in the unit its label says (seconds, bytes, days, or a count).\n# TYPE hamnflow_check_value gauge\n")
	for _, r := range rep.Results {
		if r.HasValue() {
			unit := map[string]string{"s": "seconds", "B": "bytes", "d": "days", "": "count"}[r.Unit]
			fmt.Fprintf(&b, "hamnflow_check_value{%s,unit=\"%s\"} %s\n", labels(r), unit, strconv.FormatFloat(r.Value, 'g', -1, 64))
		}
	}
	fmt.Fprintf(&b, "# HELP hamnflow_check_verdict The worst status of all checks: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n# TYPE hamnflow_check_verdict gauge\nhamnflow_check_verdict{%s} %d\n", cl, int(rep.Status))
	fmt.Fprintf(&b, "# HELP hamnflow_check_duration_seconds How long hamnflow check took.\n# TYPE hamnflow_check_duration_seconds gauge\nhamnflow_check_duration_seconds{%s} %s\n", cl, strconv.FormatFloat(rep.Took, 'f', 3, 64))
	fmt.Fprintf(&b, "# HELP hamnflow_check_last_run_timestamp_seconds When hamnflow check ran (Unix time).\n# TYPE hamnflow_check_last_run_timestamp_seconds gauge\nhamnflow_check_last_run_timestamp_seconds{%s} %d\n", cl, at.Unix())
	_, err := io.WriteString(w, b.String())
	return err
}

func escLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// TextfileName is the file WriteTextfile writes in dir: node_exporter's
// textfile collector reads *.prom.
func TextfileName(cluster string) string { return "hamnflow_check_" + sanitize(cluster) + ".prom" }

// WriteTextfile writes the metrics into dir atomically: a temporary file
// in dir (a name the collector ignores), synced, then renamed over the
// last one, so that the collector never reads half a file.
func WriteTextfile(dir string, rep Report, at time.Time) (string, error) {
	final := filepath.Join(dir, TextfileName(rep.Cluster))
	tmp, err := os.CreateTemp(dir, "."+TextfileName(rep.Cluster)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("textfile: %w (give a directory node_exporter's --collector.textfile.directory reads, writable by this user)", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing
	if err := WriteMetrics(tmp, rep, at); err != nil {
		tmp.Close()
		return "", fmt.Errorf("textfile %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", fmt.Errorf("textfile %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("textfile %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("textfile %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", fmt.Errorf("textfile: %w", err)
	}
	return final, nil
}
