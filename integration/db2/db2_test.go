//go:build lab

// Package db2 holds hamnflow's end-to-end tests of the Db2 HADR playbooks
// (hadr-setup, hadr-verify, hadr-check, hadr-takeover, hadr-stop) on the lab,
// against the Db2 model (integration/db2model): Db2 itself cannot be
// installed here.
package db2

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/integration/lab"
	"github.com/hamnflow/hamnflow/integration/labtest"
	"github.com/hamnflow/hamnflow/steps/db2"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// upDb2 brings up a lab with the Db2 model and the xCAT stand-ins and
// writes a db2 database block into its inventory: HADR_TIMEOUT 2 s so a
// cut link shows within seconds, a peer window of 60 s. The model's
// instance password is set to the lab's db2_password secret.
func upDb2(t *testing.T) (*labtest.Env, string) {
	t.Helper()
	env := labtest.Up(t, labtest.Options{Db2: true, XCAT: true, ServiceNodes: 1})
	pw, err := env.Lab.Secret("db2_password")
	if err != nil {
		t.Fatal(err)
	}
	return env, pw
}

// hadr reads the HADR status of host with db2pd, directly in the host.
func hadr(t *testing.T, env *labtest.Env, host string) (db2.HADRStatus, error) {
	t.Helper()
	out := env.Exec(t, host, "su - "+lab.Db2Instance+" -c 'db2pd -d xcatdb -hadr'")
	return db2.ParseDb2pdHADR([]byte(out))
}

// waitHADR polls host until ok holds or d passes.
func waitHADR(t *testing.T, env *labtest.Env, host string, d time.Duration, what string, ok func(db2.HADRStatus) bool) db2.HADRStatus {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		s, err := hadr(t, env, host)
		if err == nil && ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not reached within %s: %+v (%v)", host, what, d, s, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func healthy(role string) func(db2.HADRStatus) bool {
	return func(s db2.HADRStatus) bool { return len(s.Check(role)) == 0 }
}

// shownRun is what hamnflow show --output json prints.
type shownRun struct {
	Run struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"run"`
	Events []struct {
		Type    string            `json:"type"`
		Step    string            `json:"step"`
		Command string            `json:"command"`
		Message string            `json:"message"`
		Outputs map[string]string `json:"outputs"`
	} `json:"events"`
}

// prepareStandby leaves on mn2 what the guide's file synchronisation
// (6.0) would: the install directory and xCAT's database location.
func prepareStandby(t *testing.T, env *labtest.Env) {
	t.Helper()
	env.Exec(t, "mn1", "rsync -a /install/ mn2:/install/ && rsync -a /etc/xcat/cfgloc mn2:/etc/xcat/cfgloc")
}

// checkCallOrder fails unless the stand-in calls on host from index from
// on hold each of want ("command args..."), in this order.
func checkCallOrder(t *testing.T, env *labtest.Env, host string, from int, want ...string) {
	t.Helper()
	var lines []string
	for _, c := range env.Calls(t, host)[from:] {
		lines = append(lines, strings.TrimSpace(filepath.Base(c.Command)+" "+strings.Join(c.Args, " ")))
	}
	at := 0
	for _, w := range want {
		i := slices.IndexFunc(lines[at:], func(l string) bool { return strings.HasPrefix(l, w) })
		if i < 0 {
			t.Errorf("stand-in calls on %s: no %q after call %d in\n%s", host, w, from+at, strings.Join(lines, "\n"))
			return
		}
		at += i + 1
	}
}

var runIDRE = regexp.MustCompile(`"run":"([^"]+)"`)

// shown is the run hamnflow r started (its id is in every log line), with
// its events.
func shown(t *testing.T, env *labtest.Env, r labtest.Result) shownRun {
	t.Helper()
	m := runIDRE.FindStringSubmatch(r.Stderr)
	if m == nil {
		t.Fatalf("no run id in hamnflow's log:\n%s", r)
	}
	out := env.MustRun(t, 0, "show", m[1], "--output", "json")
	var s shownRun
	if err := json.Unmarshal([]byte(out.Stdout), &s); err != nil {
		t.Fatalf("show: %v\n%s", err, out.Stdout)
	}
	return s
}

// stepOutputs are the outputs of step's success event in s.
func (s shownRun) stepOutputs(step string) map[string]string {
	for _, e := range s.Events {
		if e.Step == step && e.Type == "succeeded" {
			return e.Outputs
		}
	}
	return nil
}

func (s shownRun) failure(step string) string {
	for _, e := range s.Events {
		if e.Step == step && e.Type == "failed" {
			return e.Message
		}
	}
	return ""
}

// TestHADR runs the guide's Db2 section end to end on one lab: setup, the
// 5.1.9 round trip, a cut link with a peer-window-only takeover, a standby
// that never reached Peer (refused without fenced=true), reintegration with
// a graceful takeover back, failover and failback with the playbooks every
// database shares, and STOP HADR with the standby's roll-forward.
// The instance password never shows in any output or the journal.
func TestHADR(t *testing.T) {
	env, pw := upDb2(t)
	var outputs []string
	run := func(want int, args ...string) labtest.Result {
		t.Helper()
		r := env.MustRun(t, want, args...)
		outputs = append(outputs, r.Combined())
		return r
	}

	// 5.1.1-5.1.8.
	env.Exec(t, "mn1", "/etc/init.d/xcatd start")
	r := run(0, "run", "hadr-setup", "--yes")
	waitHADR(t, env, "mn1", 10*time.Second, "Primary/Peer/Connected", healthy("Primary"))
	waitHADR(t, env, "mn2", 10*time.Second, "Standby/Peer/Connected", healthy("Standby"))
	setup := shown(t, env, r)
	if ts := setup.stepOutputs("backup")["timestamp"]; len(ts) != 14 {
		t.Errorf("backup timestamp %q", ts)
	}
	for _, mn := range []string{"mn1", "mn2"} {
		if svc := env.Exec(t, mn, "grep -E '^DB2_HADR_[12] ' /etc/services"); strings.Count(svc, "\n") != 2 {
			t.Errorf("%s /etc/services:\n%s", mn, svc)
		}
	}
	if out := env.Exec(t, "mn1", "/etc/init.d/xcatd status >/dev/null && echo running"); !strings.Contains(out, "running") {
		t.Error("xcatd not started again on mn1")
	}
	// Idempotent: the services step does not add lines twice.
	run(0, "run", "hadr-check")

	// 5.1.9 round trip.
	verify := shown(t, env, run(0, "run", "hadr-verify", "--yes"))
	if k := verify.stepOutputs("takeover_standby")["kind"]; k != "graceful" {
		t.Errorf("verify takeover kind %q", k)
	}
	run(0, "run", "hadr-check")

	// A pulled cable on the primary: the standby is in Disconnected peer
	// and takes over BY FORCE PEER WINDOW ONLY.
	ctx := context.Background()
	if err := env.Lab.CutLink(ctx, "mn1"); err != nil {
		t.Fatal(err)
	}
	waitHADR(t, env, "mn2", 15*time.Second, "Disconnected peer", func(s db2.HADRStatus) bool {
		return s.Role == db2.RoleStandby && s.State == db2.StateDisconnectedPeer
	})
	tk := shown(t, env, run(0, "run", "hadr-takeover", "--yes")).stepOutputs("takeover")
	if tk["kind"] != "by force peer window only" || !strings.HasSuffix(tk["command"], "BY FORCE PEER WINDOW ONLY") || tk["role"] != "Primary" {
		t.Errorf("takeover after cut link: %v", tk)
	}
	if !strings.Contains(tk["command"], "USING ********") {
		t.Errorf("takeover command not masked: %q", tk["command"])
	}

	// The old primary comes back but cannot reach mn2: started as standby
	// it never reaches Peer, and a takeover there is refused without
	// fenced=true, spelling out what may be lost.
	if err := env.Lab.Partition(ctx, "mn1", "mn2"); err != nil {
		t.Fatal(err)
	}
	if err := env.Lab.RestoreLink(ctx, "mn1"); err != nil {
		t.Fatal(err)
	}
	env.Exec(t, "mn1", "su - xcatdb -c 'db2 DEACTIVATE DATABASE XCATDB; db2 START HADR ON DATABASE XCATDB AS STANDBY'")
	waitHADR(t, env, "mn1", 10*time.Second, "Standby not in Peer", func(s db2.HADRStatus) bool {
		return s.Role == db2.RoleStandby && s.State == db2.StateRemoteCatchupPending
	})
	r = run(1, "run", "hadr-takeover", "--set", "host=mn1", "--yes")
	msg := shown(t, env, r).failure("takeover")
	for _, want := range []string{"refusing TAKEOVER HADR ON DATABASE XCATDB USER xcatdb USING ******** BY FORCE", "may be lost", "fenced=true"} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal does not say %q:\n%s\n%s", want, msg, r)
		}
	}
	if s, _ := hadr(t, env, "mn1"); s.Role != db2.RoleStandby {
		t.Errorf("mn1 took over although refused: %+v", s)
	}

	// Healed, mn1 catches up as the standby; a graceful takeover restores
	// the original roles.
	if err := env.Lab.Heal(ctx, "mn1", "mn2"); err != nil {
		t.Fatal(err)
	}
	waitHADR(t, env, "mn1", 20*time.Second, "Standby/Peer/Connected", healthy("Standby"))
	back := shown(t, env, run(0, "run", "hadr-takeover", "--set", "host=mn1", "--yes"))
	if k := back.stepOutputs("takeover")["kind"]; k != "graceful" {
		t.Errorf("takeover back: kind %q", k)
	}
	run(0, "run", "hadr-check", "--set", "wait=20s")

	// Guide 8.0 with the one failover playbook: a graceful takeover (the
	// old primary still answers), the cluster address to mn2, xCAT there.
	prepareStandby(t, env)
	before := len(env.Calls(t, "mn2"))
	fo := shown(t, env, run(0, "run", "failover", "--yes"))
	if k := fo.stepOutputs("db2_takeover")["kind"]; k != "graceful" {
		t.Errorf("failover takeover: kind %q", k)
	}
	for _, id := range []string{"promote", "take_hostname", "take_identity", "db2_stop_for_rename"} {
		if fo.stepOutputs(id) != nil {
			t.Errorf("failover ran %s on a floating Db2 cluster", id)
		}
	}
	waitHADR(t, env, "mn2", 10*time.Second, "Primary/Peer/Connected", healthy("Primary"))
	waitHADR(t, env, "mn1", 10*time.Second, "Standby/Peer/Connected", healthy("Standby"))
	if !env.Holds(t, "mn2", lab.ClusterAddress) || env.Holds(t, "mn1", lab.ClusterAddress) {
		t.Errorf("after failover mn2 must hold %s and mn1 not", lab.ClusterAddress)
	}
	checkCallOrder(t, env, "mn2", before, "xcatd start", "makedns -n", "makedhcp -n", "makedhcp -a", "makeconservercf")

	// Guide 9.0: mn1 takes the primary role back, gracefully, and the
	// address and xCAT with it.
	before = len(env.Calls(t, "mn1"))
	fb := shown(t, env, run(0, "run", "failback", "--yes"))
	if k := fb.stepOutputs("db2_takeover")["kind"]; k != "graceful" {
		t.Errorf("failback takeover: kind %q", k)
	}
	if n := fb.stepOutputs("reverse_sync")["count"]; n == "" {
		t.Errorf("failback did not synchronise the files back with rsync: %v", fb.stepOutputs("reverse_sync"))
	}
	if !env.Holds(t, "mn1", lab.ClusterAddress) || env.Holds(t, "mn2", lab.ClusterAddress) {
		t.Errorf("after failback mn1 must hold %s and mn2 not", lab.ClusterAddress)
	}
	checkCallOrder(t, env, "mn1", before, "xcatd start", "makedns -n", "makedhcp -n", "makedhcp -a", "makeconservercf")
	run(0, "run", "hadr-check", "--set", "wait=20s")

	// 5.1.10: STOP HADR; the standby is rolled forward and usable.
	run(0, "run", "hadr-stop", "--yes")
	for _, mn := range []string{"mn1", "mn2"} {
		out := env.Exec(t, mn, "su - xcatdb -c 'db2 GET DB CFG FOR XCATDB'")
		cfg, err := db2.ParseDBCfg([]byte(out))
		if err != nil || cfg["HADR database role"] != "STANDARD" {
			t.Errorf("%s after hadr-stop: role %q (%v)", mn, cfg["HADR database role"], err)
		}
	}
	if out := env.Exec(t, "mn2", "su - xcatdb -c 'db2 CONNECT TO XCATDB; db2 SELECT COUNT\\(\\*\\) FROM nodelist; db2 CONNECT RESET'"); !strings.Contains(out, "1 record(s) selected.") {
		t.Errorf("mn2 not usable after hadr-stop:\n%s", out)
	}

	// The password never shows.
	jb := string(env.JournalBytes(t))
	if strings.Contains(jb, pw) {
		t.Error("the journal holds the db2 password")
	}
	if !strings.Contains(jb, "USING ********") {
		t.Error("the journal shows no masked USER ... USING: was the password ever used?")
	}
	for _, o := range outputs {
		if strings.Contains(o, pw) {
			t.Errorf("hamnflow output shows the db2 password:\n%s", o)
		}
	}
	all := env.MustRun(t, 0, "history", "--output", "json", "--limit", "0")
	var runs []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(all.Stdout), &runs); err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		s := env.MustRun(t, 0, "show", r.ID, "--output", "json", "--events")
		if strings.Contains(s.Combined(), pw) {
			t.Errorf("hamnflow show %s reveals the db2 password", r.ID)
		}
	}
}
