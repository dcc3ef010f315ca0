//go:build lab

package drills

import (
	"encoding/json"
	"fmt"
	"github.com/hamnflow/hamnflow/workflow"
	"io"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/integration/lab"
	"github.com/hamnflow/hamnflow/steps/db2"
)

// effectCall is a call through which a side-effect step of the failover
// acts: host and a shell pattern over "command args" (as the hold wrappers
// see them). A mid-step crash point holds the step's call before or after
// the real command.
type effectCall struct{ host, pattern string }

// pgEffectCalls are the PostgreSQL failover's effect calls on the real
// lab: systemctl for the services (and PostgreSQL's unit), pg_ctl for
// promote and reload, ip, and xCAT's make* commands. A step whose service
// is already as wanted makes no call (the standby's xcatd and dhcpd are
// stopped; makedns and makedhcp -n start named and dhcpd themselves, so
// that start_dns and start_dhcp only enable them): it has no mid-step
// point.
var pgEffectCalls = map[string]effectCall{
	"stop_console":    {"mn1", "systemctl stop conserver-server.service*"},
	"stop_dhcp":       {"mn1", "systemctl stop isc-dhcp-server.service*"},
	"stop_dns":        {"mn1", "systemctl stop named.service*"},
	"stop_xcatd":      {"mn1", "systemctl stop xcatd.service*"},
	"stop_db":         {"mn1", "systemctl stop postgresql@15-main.service*"},
	"release_address": {"mn1", "ip addr del " + lab.ClusterAddress + "/*"},
	"standby_xcatd":   {"mn2", "systemctl stop xcatd.service*"},
	"standby_dhcp":    {"mn2", "systemctl stop isc-dhcp-server.service*"},
	"take_address":    {"mn2", "ip addr add " + lab.ClusterAddress + "/*"},
	"promote":         {"mn2", "pg_ctl *promote*"},
	"pg_address":      {"mn2", "pg_ctl *reload*"},
	"start_xcatd":     {"mn2", "systemctl start xcatd.service*"},
	"makedns":         {"mn2", "makedns*"},
	"start_dns":       {"mn2", "systemctl enable named.service*"},
	"makedhcp_new":    {"mn2", "makedhcp -n*"},
	"start_dhcp":      {"mn2", "systemctl enable isc-dhcp-server.service*"},
	"makedhcp_all":    {"mn2", "makedhcp -a*"},
	"consoles":        {"mn2", "makeconservercf*"},
	"start_console":   {"mn2", "systemctl enable conserver-server.service*"},
}

// crashPoint is where hamnflow is killed: at the question before step
// (where "boundary", in step-through mode), or inside it, held before
// ("pre") or after ("post") its command's effect.
type crashPoint struct{ step, where string }

func (c crashPoint) String() string { return c.where + ":" + c.step }

// crashChains is how many failovers the crash points are spread over:
// failover k is killed at points k, k+chains, k+2*chains, ... (each kill
// followed by a resume that the next point kills in turn), then resumed to
// its end and checked against the uninterrupted failover. On the real lab
// one failover and failback cost about 45 s here, and the 59 points in 8
// chains took 8m54s; in 5 chains, about 6 minutes.
const crashChains = 5

// TestCrashDrill kills hamnflow with SIGKILL at every step boundary and
// inside every side-effect step of the PostgreSQL failover and resumes.
// Every failover must end in the uninterrupted failover's state, journal
// each step done exactly once, and apply no effect more often than the
// uninterrupted run plus the in-doubt steps resume re-ran (the wrappers'
// call log and the xCAT stand-ins' call records).
func TestCrashDrill(t *testing.T) {
	d := newDrill(t)
	d.installHolds()
	write := func(row, status string) {
		d.psql("mn1", "INSERT INTO nodelist (node, groups, status) VALUES ('"+row+"', 'compute,all', '"+status+"')")
	}
	d.crashDrill(crashChains, write, d.finalState, crashOptions{})
}

// crashOptions are what a crash drill does beyond the common: warmUp
// runs one failover and failback first, for a lab whose fresh start is
// not where a failback leaves it; effects counts the effect calls (nil:
// d.effects).
type crashOptions struct {
	warmUp  bool
	effects func(mark map[string]int) map[string]int
}

// crashDrill runs the crash drill of d's failover: write puts a row on
// the primary before each failover, state describes what a failover left
// (given that row). The crash points are spread over chains failovers
// (see crashChains), each followed by a failback. A fan-out's children
// are no crash boundary of their own: step-through asks about their
// parent.
func (d *drill) crashDrill(chains int, write func(row, status string), state func(row string) string, opt crashOptions) {
	t := d.t
	effects := opt.effects
	if effects == nil {
		effects = d.effects
	}
	if opt.warmUp {
		d.env.MustRun(t, 0, "run", "failover", "--yes")
		d.failback()
	}
	t.Helper()
	start := time.Now()

	// The uninterrupted failover: order of steps, final state, effects.
	d.resetDone()
	mark := d.callMarks()
	write("cn299", "uninterrupted")
	d.env.MustRun(t, 0, "run", "failover", "--yes", "--parallel", "1")
	base := d.lastRun()
	order := d.stepOrder(base.ID)
	want := state("cn299")
	wantEffects := effects(mark)
	t.Logf("uninterrupted failover %s: %d steps run, effects %v, state:\n%s", base.ID, len(order), wantEffects, want)
	d.failback()

	// The crash points, in the order the failover reaches them. A mid-step
	// point exists for every effect call the uninterrupted run made.
	var points []crashPoint
	for _, s := range order {
		if strings.Contains(s, "[") {
			continue // a fan-out's child: step-through asks about its parent
		}
		points = append(points, crashPoint{s, "boundary"})
		if c, ok := d.effectCalls[s]; ok && d.seen(wantEffects, c.host, c.pattern) {
			points = append(points, crashPoint{s, "pre"}, crashPoint{s, "post"})
		}
	}
	for s := range d.effectCalls {
		if !slices.Contains(order, s) {
			t.Errorf("side-effect step %s did not run in the uninterrupted failover", s)
		}
	}
	tried := 0
	for k := 0; k < chains; k++ {
		var chain []crashPoint
		for i := k; i < len(points); i += chains {
			chain = append(chain, points[i])
		}
		if len(chain) == 0 {
			continue
		}
		row := fmt.Sprintf("cn%03d", 300+k)
		write(row, "crash-chain")
		d.resetDone()
		mark := d.callMarks()
		id, redone := d.crashChain(chain)
		tried += len(chain)
		t.Logf("failover %s killed at %v; resume re-ran %v", id, chain, redone)
		if t.Failed() {
			t.Fatalf("chain %v: stopping the drill", chain)
		}
		d.checkRun(id, base.ID)
		if got := state(row); got != want {
			t.Errorf("failover %s killed at %v ends in\n%s\nwant (uninterrupted)\n%s", id, chain, got, want)
		}
		d.checkEffects(id, chain, wantEffects, effects(mark), redone)
		if t.Failed() {
			t.Fatalf("chain %v: stopping the drill", chain)
		}
		d.failback()
	}
	t.Logf("crash drill (%s): %d crash points (%d boundaries, %d mid-step) over %d failovers in %s", d.db,
		tried, countWhere(points, "boundary"), len(points)-countWhere(points, "boundary"), chains, time.Since(start).Round(time.Second))
}

func countWhere(ps []crashPoint, where string) int {
	n := 0
	for _, p := range ps {
		if p.where == where {
			n++
		}
	}
	return n
}

// crashChain starts a failover, kills it at each point of chain in turn
// (resuming after each kill), then resumes it to its end. It returns the
// run id and the steps resume re-ran (in-doubt steps decided "redo").
func (d *drill) crashChain(chain []crashPoint) (string, map[string]int) {
	t := d.t
	t.Helper()
	id := ""
	for _, pt := range chain {
		args := []string{"run", "failover"}
		if id != "" {
			args = []string{"resume", id}
		}
		args = append(args, "--parallel", "1")
		switch pt.where {
		case "boundary":
			p := d.start(append(args, "--step", "--prompt-stdin")...)
			if !d.killAtQuestion(p, pt.step) {
				t.Fatalf("%v: hamnflow ended (exit %d) without asking about %s:\n%s", pt, p.exit, pt.step, p.output())
			}
		default:
			c := d.effectCalls[pt.step]
			args = append(args, "--yes")
			for {
				d.hold(c.host, pt.where, c.pattern)
				p := d.start(args...)
				pid, ok := d.waitHeld(p, c.host)
				if ok {
					p.kill(t)
					d.killHeld(c.host, pid)
					break
				}
				if p.exit != 3 || id == "" {
					t.Fatalf("%v: hamnflow ended (exit %d) before the hold on %s:\n%s", pt, p.exit, c.host, p.output())
				}
				// A step an earlier kill left in doubt: the operator
				// decides before the run goes on to this point.
				d.clearHolds()
				step, flag := d.operatorDecision(id, p.output())
				t.Logf("run %s waits for the operator on %s: %s", id, step, flag)
				args = append(args, flag, step)
			}
		}
		d.clearHolds()
		if id == "" {
			id = d.lastRun().ID
		}
		if r := d.lastRun(); r.ID != id || r.Status != workflow.RunRunning {
			t.Fatalf("%v: killed run %s is %s (last run %s), want %s running", pt, r.ID, r.Status, r.ID, id)
		}
	}
	r := d.env.Run(t, "resume", id, "--yes", "--parallel", "1")
	for r.Exit == 3 {
		// An in-doubt step resume cannot decide: do what the operator
		// would after looking at the lab.
		step, flag := d.operatorDecision(id, r.Combined())
		t.Logf("run %s waits for the operator on %s: %s", id, step, flag)
		r = d.env.Run(t, "resume", id, "--yes", "--parallel", "1", flag, step)
	}
	if r.Exit != 0 {
		t.Fatalf("resume %s after crashes at %v: %s", id, chain, r)
	}
	redone := map[string]int{}
	for _, ev := range d.events(id) {
		if ev.Type == workflow.EvReconciled && ev.Decision == "redo" {
			redone[ev.Step]++
		}
	}
	return id, redone
}

// killAtQuestion answers yes to every step-through question until the one
// for step, and kills hamnflow there (before the step is journaled as
// started). A question about a step an earlier kill left in doubt (which
// refuses yes) is answered as the operator would after checking the lab.
// False if hamnflow ended first.
func (d *drill) killAtQuestion(p *proc, step string) bool {
	asked := ""
	for line := range p.lines {
		if strings.Contains(line, "answer one of the letters") {
			done, ok := d.inPlace(asked)
			if !ok {
				d.t.Fatalf("hamnflow asks whether %s is done, which the drill cannot check:\n%s", asked, p.output())
			}
			answer := "r\n"
			if done {
				answer = "d\n"
			}
			d.t.Logf("%s in doubt: answering %s", asked, strings.TrimSpace(answer))
			io.WriteString(p.stdin, answer)
			continue
		}
		_, rest, ok := strings.Cut(line, " · step ")
		if !ok {
			continue
		}
		got, _, _ := strings.Cut(rest, " on ")
		if got == step {
			p.kill(d.t)
			return true
		}
		asked = got
		io.WriteString(p.stdin, "y\n")
	}
	p.wait(d.t)
	return false
}

// operatorDecision reads which step resume asks about and checks the lab:
// flag is --assume-done when the step's effect is in place, else --redo.
func (d *drill) operatorDecision(id, msg string) (step, flag string) {
	d.t.Helper()
	_, rest, ok := strings.Cut(msg, "hamnflow resume "+id+" --assume-done ")
	if !ok {
		d.t.Fatalf("resume %s waits without naming a step:\n%s", id, msg)
	}
	step, _, _ = strings.Cut(rest, "`")
	done, ok := d.inPlace(step)
	if !ok {
		d.t.Fatalf("resume %s waits on %s, which the drill cannot check:\n%s", id, step, msg)
	}
	if done {
		return step, "--assume-done"
	}
	return step, "--redo"
}

// inPlace says whether step's effect is in place (ok false: the drill
// cannot tell). PostgreSQL: the step's effect call completed (the
// wrappers' log); Db2: the lab's state, as an operator checks it (see
// db2InPlace).
func (d *drill) inPlace(step string) (done, ok bool) {
	if d.db == "db2" {
		return d.db2InPlace(step)
	}
	if d.real {
		if c, ok := d.effectCalls[step]; ok {
			// A service's state, as an operator reads it with systemctl.
			if f := strings.Fields(strings.TrimSuffix(c.pattern, "*")); len(f) == 3 && f[0] == "systemctl" {
				q := map[string]string{"start": "is-active", "stop": "is-active", "enable": "is-enabled", "disable": "is-enabled"}[f[1]]
				got := strings.TrimSpace(d.env.Exec(d.t, c.host, "systemctl "+q+" "+f[2]+" 2>/dev/null || true"))
				on := got == "active" || got == "enabled"
				return on == (f[1] == "start" || f[1] == "enable"), true
			}
		}
	}
	c, ok := d.effectCalls[step]
	if !ok {
		return false, false
	}
	for _, l := range d.doneLines(c.host) {
		if matchCall(c.pattern, l) {
			return true, true
		}
	}
	return false, true
}

// matchCall says whether a done-log line ("cmd args rc=N") matches a
// wrapper pattern and succeeded.
func matchCall(pattern, line string) bool {
	call, rc, ok := strings.Cut(line, " rc=")
	if !ok || rc != "0" {
		return false
	}
	// Init scripts are logged by path; the patterns name the service.
	return globMatch(pattern, strings.TrimPrefix(call, "/etc/init.d/"))
}

// globMatch matches the drill's patterns: literal text and "*".
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(s, p)
		}
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	return true
}

// stepOrder lists the steps of a run that ran, in the order they started.
func (d *drill) stepOrder(id string) []string {
	var order []string
	for _, ev := range d.events(id) {
		if ev.Type == workflow.EvStepStarted && !slices.Contains(order, ev.Step) {
			order = append(order, ev.Step)
		}
	}
	return order
}

// checkRun checks that run id succeeded and journals every step of the
// uninterrupted run base done exactly once (succeeded, or reconciled done).
func (d *drill) checkRun(id, base string) {
	t := d.t
	t.Helper()
	r := d.lastRun()
	if r.ID != id || r.Status != workflow.RunSucceeded {
		t.Errorf("run %s: %s (%s), want succeeded", id, r.Status, r.Message)
	}
	ended := map[string]int{}
	for _, ev := range d.events(id) {
		if ev.Type == workflow.EvStepSucceeded || ev.Type == workflow.EvReconciled && ev.Decision == "done" {
			ended[ev.Step]++
		}
	}
	for _, s := range d.stepOrder(base) {
		if ended[s] != 1 {
			t.Errorf("run %s: step %s journaled done %d times, want once", id, s, ended[s])
		}
	}
}

// finalState describes what a failover leaves: the cluster address, the
// databases' roles and the row, the services on both MNs, and the
// standby's PostgreSQL configuration for the cluster address.
func (d *drill) finalState(row string) string {
	d.t.Helper()
	var b strings.Builder
	for _, h := range []string{"mn1", "mn2"} {
		fmt.Fprintf(&b, "%s: holds %s %d time(s)\n", h, lab.ClusterAddress, d.holds(h, lab.ClusterAddress))
		out, err := d.tryPSQL(h, "SELECT pg_is_in_recovery(), (SELECT count(*) FROM nodelist WHERE node IN ('cn100', '"+row+"'))")
		if err != nil {
			out = "down"
		}
		fmt.Fprintf(&b, "%s: postgres in_recovery|rows = %s\n", h, out)
		fmt.Fprintf(&b, "%s: %s\n", h, d.services(h))
	}
	conf := d.env.Exec(d.t, "mn2", "grep -c '"+lab.ClusterAddress+"' /etc/postgresql/15/main/postgresql.conf /etc/postgresql/15/main/pg_hba.conf || true")
	fmt.Fprintf(&b, "mn2: lines naming %s: %s\n", lab.ClusterAddress, strings.ReplaceAll(strings.TrimSpace(conf), "\n", ", "))
	return b.String()
}

// services says which of an MN's xCAT services run (and, on the real
// lab, start at boot).
func (d *drill) services(h string) string {
	d.t.Helper()
	script := `for s in xcatd isc-dhcp-server conserver-server; do /etc/init.d/$s status >/dev/null 2>&1 && echo "$s running" || echo "$s stopped"; done`
	if d.real {
		script = `for s in xcatd isc-dhcp-server named conserver-server; do echo "$s $(systemctl is-active $s.service) $(systemctl is-enabled $s.service 2>/dev/null)"; done`
	}
	return strings.ReplaceAll(strings.TrimSpace(d.env.Exec(d.t, h, script)), "\n", ", ")
}

// callMarks are the lengths of the MNs' stand-in call logs (and, with
// Db2, of the model's journals), to count a cycle's calls from; none on
// the real lab, whose calls are all in the wrappers' log.
func (d *drill) callMarks() map[string]int {
	if d.real {
		return map[string]int{}
	}
	m := map[string]int{"mn1": len(d.env.Calls(d.t, "mn1")), "mn2": len(d.env.Calls(d.t, "mn2"))}
	if d.db == "db2" {
		for _, h := range []string{"mn1", "mn2"} {
			m[h+" model"] = len(d.modelRecords(h))
		}
	}
	return m
}

// wrappedEffect says whether a completed call in the wrappers' log is an
// effect to count: pg_ctl (but status) and ip addr add/del with
// PostgreSQL; ip addr add/del and TAKEOVER HADR with Db2.
func (d *drill) wrappedEffect(line string) bool {
	if strings.HasPrefix(line, "ip addr add") || strings.HasPrefix(line, "ip addr del") {
		return true
	}
	if d.real {
		for _, p := range []string{"systemctl start ", "systemctl stop ", "systemctl enable ", "systemctl disable ", "make"} {
			if strings.HasPrefix(line, p) {
				return true
			}
		}
	}
	if d.db == "db2" {
		return strings.HasPrefix(line, "db2 TAKEOVER ")
	}
	return strings.HasPrefix(line, "pg_ctl ") && !strings.Contains(line, " status rc=")
}

// effects counts the effect calls since mark: "host: call" from the
// stand-ins' records (init-script start/stop, make*), from the wrappers'
// log (successful calls only, see wrappedEffect) and, with Db2, "host:
// model: record" for the state changes the model journaled.
func (d *drill) effects(mark map[string]int) map[string]int {
	n := map[string]int{}
	for _, h := range []string{"mn1", "mn2"} {
		if d.real {
			for _, l := range d.doneLines(h) {
				if call, rc, _ := strings.Cut(l, " rc="); rc == "0" && d.wrappedEffect(l) {
					n[h+": "+call]++
				}
			}
			continue
		}
		for _, c := range d.env.Calls(d.t, h)[mark[h]:] {
			cmd := strings.TrimPrefix(c.Command, "/etc/init.d/")
			line := strings.TrimSpace(cmd + " " + strings.Join(c.Args, " "))
			switch {
			case c.Exit != 0:
			case strings.HasPrefix(c.Command, "/etc/init.d/") && len(c.Args) > 0 && (c.Args[0] == "start" || c.Args[0] == "stop"),
				strings.HasPrefix(cmd, "make"):
				n[h+": "+line]++
			}
		}
		for _, l := range d.doneLines(h) {
			if d.wrappedEffect(l) {
				if call, rc, _ := strings.Cut(l, " rc="); rc == "0" {
					n[h+": "+call]++
				}
			}
		}
		if d.db == "db2" {
			for _, r := range d.modelRecords(h)[mark[h+" model"]:] {
				n[h+": model: "+r]++
			}
		}
	}
	return n
}

func (d *drill) seen(effects map[string]int, host, pattern string) bool {
	for k := range effects {
		if h, call, _ := strings.Cut(k, ": "); h == host && globMatch(pattern, call) {
			return true
		}
	}
	return false
}

// checkEffects: every effect call happened as often as in the
// uninterrupted run, more only by the steps resume re-ran (an idempotent
// step killed after its effect), never less.
func (d *drill) checkEffects(id string, chain []crashPoint, want, got map[string]int, redone map[string]int) {
	t := d.t
	t.Helper()
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		h, call, _ := strings.Cut(k, ": ")
		allowed := want[k]
		for step, n := range redone {
			if c, ok := d.effectCalls[step]; ok && c.host == h && globMatch(c.pattern, call) {
				allowed += n
			}
		}
		if got[k] < want[k] || got[k] > allowed {
			gj, _ := json.Marshal(redone)
			t.Errorf("run %s (killed at %v): %q applied %d time(s), want %d (uninterrupted) up to %d (re-run in-doubt steps %s)",
				id, chain, k, got[k], want[k], allowed, gj)
		}
	}
}

// failback returns the lab to its starting roles (integration/linux and
// integration/db2 check failback itself); with Db2 it waits until mn1 is
// the primary and mn2 the standby in Peer again.
func (d *drill) failback() {
	d.t.Helper()
	if r := d.env.Run(d.t, "run", "failback", "--yes"); r.Exit != 0 {
		if d.db == "db2" {
			// What an operator looks at first when a failback of Db2 stalls.
			for _, h := range []string{"mn1", "mn2"} {
				s, err := d.hadr(h)
				d.t.Logf("%s: HADR %+v (%v)", h, s, err)
			}
		}
		d.t.Fatalf("hamnflow run failback --yes: want exit 0, got %s", r)
	}
	if d.holds("mn1", lab.ClusterAddress) != 1 || d.holds("mn2", lab.ClusterAddress) != 0 {
		d.t.Fatalf("after failback mn1 must hold %s and mn2 not", lab.ClusterAddress)
	}
	if d.db == "db2" {
		d.waitHADR("mn1", db2.RolePrimary)
		d.waitHADR("mn2", db2.RoleStandby)
	}
}

func TestMatchCall(t *testing.T) {
	for _, tt := range []struct {
		pattern, line string
		want          bool
	}{
		{"isc-dhcp-server start*", "/etc/init.d/isc-dhcp-server start rc=0", true},
		{"isc-dhcp-server start*", "isc-dhcp-server start rc=0", true},
		{"isc-dhcp-server start*", "/etc/init.d/isc-dhcp-server start rc=1", false},
		{"isc-dhcp-server start*", "/etc/init.d/isc-dhcp-server stop rc=0", false},
		{"ip addr add *", "ip addr add 198.51.100.10/24 dev eth0 rc=0", true},
	} {
		if got := matchCall(tt.pattern, tt.line); got != tt.want {
			t.Errorf("matchCall(%q, %q) = %v, want %v", tt.pattern, tt.line, got, tt.want)
		}
	}
}
