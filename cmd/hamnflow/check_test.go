package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hamnflow/hamnflow/steps/check"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/check")

// The real lab's recorded outputs (steps/check/testdata), at the time of
// the recording.
var checkNow = time.Date(2026, 12, 3, 17, 35, 0, 0, time.UTC)

type goldHistory map[string]time.Time

func (h goldHistory) LastSucceeded(_ string, pbs ...string) (check.JournalRun, bool, error) {
	var best check.JournalRun
	for _, pb := range pbs {
		if t, ok := h[pb]; ok && t.After(best.Ended) {
			best = check.JournalRun{ID: "20261203-164149-3ad1", Playbook: pb, Ended: t}
		}
	}
	return best, !best.Ended.IsZero(), nil
}

func labFacts(t *testing.T, host, file string) check.Facts {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "steps", "check", "testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	f := check.ParseFacts(host, string(b))
	f.Sent = time.Unix(0, int64(f.Clock*1e9))
	return f
}

// goldReports are the reports the goldens show: the healthy lab, and the
// lab with its standby's WAL receiver stopped, dhcpd enabled and files
// changed on the primary, and the lab with its standby unreachable.
func goldReports(t *testing.T) map[string]check.Report {
	cfg := check.Config{
		Cluster: "lab",
		Primary: check.Host{Name: "mn1", Hostname: "mn1", Address: "198.51.100.11"},
		Standby: check.Host{Name: "mn2", Hostname: "mn2", Address: "198.51.100.12"},
		DB:      check.Database{Type: "postgresql", BinDir: "/usr/lib/postgresql/15/bin"},
		Now:     func() time.Time { return checkNow },
		History: goldHistory{"sync-setup": checkNow.Add(-20 * time.Minute)},
	}
	rep := func(p, s check.Facts) check.Report {
		rs := check.Evaluate(cfg, p, s)
		return check.Report{Cluster: "lab", Primary: "mn1", Standby: "mn2", Status: check.Verdict(rs), Results: rs, Took: 0.412}
	}
	down := check.Facts{Host: "mn2", Err: errors.New("dial tcp 198.51.100.102:22: connect: connection refused")}
	return map[string]check.Report{
		"healthy":     rep(labFacts(t, "mn1", "lab_primary.txt"), labFacts(t, "mn2", "lab_standby.txt")),
		"faults":      rep(labFacts(t, "mn1", "lab_primary_drift.txt"), labFacts(t, "mn2", "lab_standby_faults.txt")),
		"unreachable": rep(labFacts(t, "mn1", "lab_primary.txt"), down),
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "check", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/hamnflow -run TestCheckGolden -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// TestCheckGolden renders each report in every output, with its exit code.
func TestCheckGolden(t *testing.T) {
	wantExit := map[string]int{"healthy": 0, "faults": 2, "unreachable": 2}
	for name, rep := range goldReports(t) {
		for _, out := range []struct {
			file   string
			nagios bool
			output string
		}{{".table", false, "table"}, {".json", false, "json"}, {".nagios", true, ""}} {
			var b bytes.Buffer
			if err := printCheck(&b, out.nagios, out.output, rep); err != nil {
				t.Fatal(err)
			}
			b.WriteString("exit " + string(rune('0'+checkExit(rep))) + "\n")
			golden(t, name+out.file, b.Bytes())
		}
		var m bytes.Buffer
		if err := check.WriteMetrics(&m, rep, checkNow); err != nil {
			t.Fatal(err)
		}
		golden(t, name+".prom", m.Bytes())
		if got := checkExit(rep); got != wantExit[name] {
			t.Errorf("%s: exit %d, want %d", name, got, wantExit[name])
		}
	}
}

// checkExit is the exit code main gives the report.
func checkExit(rep check.Report) int {
	if rep.Status == check.OK {
		return exitCode(nil)
	}
	return exitCode(&verdictError{status: rep.Status, quiet: true})
}

func TestCheckExitCodes(t *testing.T) {
	for st, want := range map[check.Status]int{check.Warning: 1, check.Critical: 2, check.Unknown: 3} {
		if got := exitCode(&verdictError{status: st, quiet: true}); got != want {
			t.Errorf("%s: exit %d, want %d", st, got, want)
		}
	}
	if msg := message(&verdictError{status: check.Critical, quiet: true}); msg != "" {
		t.Errorf("a verdict the output told prints %q on stderr", msg)
	}
	err := &verdictError{status: check.Unknown, err: usage("hamnflow check --inventory FILE", "check needs the cluster inventory")}
	if exitCode(err) != 3 || !strings.Contains(message(err), "check needs the cluster inventory") {
		t.Errorf("bad input: exit %d, %q", exitCode(err), message(err))
	}
}

// perfRE is one perfdata item as the Nagios plugin guidelines write it:
// 'label'=value[UOM];[warn];[crit];[min];[max], UOM one of s ms us % B KB
// MB TB c, thresholds as ranges ([@][start:][end]).
var perfRE = regexp.MustCompile(`^'[^'=]+'=-?[0-9.]+(s|ms|us|%|B|KB|MB|TB|c)?;(@?-?[0-9.]*:?-?[0-9.]*)?;(@?-?[0-9.]*:?-?[0-9.]*)?;(-?[0-9.]*)?;(-?[0-9.]*)?$`)

// TestCheckNagiosFormat holds --nagios to the plugin guidelines: one
// status line "SERVICE STATUS - text | perfdata", perfdata items
// separated by spaces, no | in the texts, and the exit code of the status.
func TestCheckNagiosFormat(t *testing.T) {
	statusRE := regexp.MustCompile(`^HAMNFLOW (OK|WARNING|CRITICAL|UNKNOWN) - [^|]+( \| (.*))?$`)
	for name, rep := range goldReports(t) {
		var b bytes.Buffer
		if err := check.WriteNagios(&b, rep); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		m := statusRE.FindStringSubmatch(lines[0])
		if m == nil || m[1] != rep.Status.String() {
			t.Fatalf("%s: status line %q", name, lines[0])
		}
		perf := strings.Fields(m[3])
		if len(perf) < 5 {
			t.Errorf("%s: only %d perfdata items", name, len(perf))
		}
		for _, p := range perf {
			if !perfRE.MatchString(p) {
				t.Errorf("%s: perfdata %q breaks the guidelines' format", name, p)
			}
		}
		for _, l := range lines[1:] {
			if strings.Contains(l, "|") {
				t.Errorf("%s: long text line with |: %q", name, l)
			}
		}
	}
}

// TestCheckTextfile writes the textfile as --textfile does and reads it
// back with Prometheus' own text-format parser.
func TestCheckTextfile(t *testing.T) {
	dir := t.TempDir()
	rep := goldReports(t)["faults"]
	path, err := check.WriteTextfile(dir, rep, checkNow)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "hamnflow_check_lab.prom" {
		t.Errorf("textfile %s", path)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the temporary file stayed behind: %v", entries)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("expfmt: %v", err)
	}
	if v := fams["hamnflow_check_verdict"].GetMetric()[0].GetGauge().GetValue(); v != 2 {
		t.Errorf("verdict %v, want 2 (CRITICAL)", v)
	}
	found := false
	for _, m := range fams["hamnflow_check_status"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["check"] == "pg_streaming" && labels["host"] == "mn2" && labels["cluster"] == "lab" {
			found = m.GetGauge().GetValue() == 2
		}
	}
	if !found {
		t.Errorf("no hamnflow_check_status{check=pg_streaming,host=mn2} 2")
	}
	if n := len(fams["hamnflow_check_value"].GetMetric()); n < 10 {
		t.Errorf("%d values", n)
	}
	// A directory it cannot write says what to give.
	if _, err := check.WriteTextfile(filepath.Join(dir, "missing"), rep, checkNow); err == nil || !strings.Contains(err.Error(), "collector.textfile.directory") {
		t.Errorf("missing dir: %v", err)
	}
}

func TestCheckJSONShape(t *testing.T) {
	var b bytes.Buffer
	if err := check.WriteJSON(&b, goldReports(t)["healthy"]); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Status  string `json:"status"`
		Results []struct {
			Label  string   `json:"label"`
			Status string   `json:"status"`
			Value  *float64 `json:"value"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b.Bytes(), &v); err != nil || v.Status != "OK" || len(v.Results) < 20 {
		t.Fatalf("json: %v %+v", err, v)
	}
}
