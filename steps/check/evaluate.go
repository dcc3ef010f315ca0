package check

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hamnflow/hamnflow/steps/db2"
	"github.com/hamnflow/hamnflow/steps/postgres"
)

// SyncPlaybooks are the runs that count as a file sync; DrillPlaybooks
// those that count as a failover drill or switchover.
var (
	SyncPlaybooks  = []string{"sync", "sync-setup"}
	DrillPlaybooks = []string{"failover", "failback", "deactivate", "activate"}
)

// Evaluate turns both MNs' facts into results: pure, so that table tests
// drive it with real outputs.
func Evaluate(c Config, p, s Facts) []Result {
	c = c.withDefaults()
	e := &evaluator{c: c, p: p, s: s, now: c.Now()}
	e.reach(p, c.Primary)
	e.reach(s, c.Standby)
	e.sshTrust(p, c.Primary, c.Standby)
	e.sshTrust(s, c.Standby, c.Primary)
	e.clock()
	if c.Prereq {
		e.prereq()
	}
	switch db := c.DB.Type; {
	case c.Prereq: // before pg-setup and the like: nothing replicates yet
	case db == "postgresql":
		e.postgres()
	case db == "mysql":
		e.mysql()
	case db == "db2":
		e.db2()
	case db == "sqlite":
		e.sqlite()
	}
	if !c.NoDrift {
		e.syncAge()
		e.drift()
	}
	if len(c.Credentials) > 0 {
		e.parity()
	}
	e.certs(p, c.Primary)
	e.certs(s, c.Standby)
	e.standbyServices()
	if !c.Prereq {
		e.drillAge()
	}
	return e.out
}

type evaluator struct {
	c    Config
	p, s Facts
	now  time.Time
	out  []Result
}

func (e *evaluator) add(r Result) { e.out = append(e.out, r) }

// state is a result with a word and no number.
func state(check, host, subject string, st Status, text, msg string) Result {
	return Result{Check: check, Host: host, Subject: subject, Status: st, Value: math.NaN(), Text: text,
		Limit: Limit{Warn: Off, Crit: Off}, Message: msg}
}

// measure is a result with a number judged by the named limit.
func (e *evaluator) measure(check, host, subject, limit string, v float64, unit, what string) Result {
	l := e.c.Limits[limit]
	return Result{Check: check, Host: host, Subject: subject, Status: l.Status(v), Value: v, Unit: unit, Limit: l, Message: what}
}

// unknown is a check that could not run.
func unknown(check, host, subject, why string) Result {
	return state(check, host, subject, Unknown, "", why)
}

func (e *evaluator) reach(f Facts, h Host) {
	if f.Err != nil {
		e.add(state("reach", h.Name, "", Critical, "unreachable",
			fmt.Sprintf("cannot run the checks on %s: %v: check that sshd runs there and that the inventory's address and host key are right", h.Name, f.Err)))
		return
	}
	e.add(state("reach", h.Name, "", OK, "reachable", h.Name+" answers over SSH"))
}

func (e *evaluator) sshTrust(f Facts, from, to Host) {
	switch {
	case f.Err != nil:
		e.add(unknown("ssh_trust", from.Name, to.Name, fmt.Sprintf("ssh %s -> %s not checked: %s did not answer", from.Name, to.Name, from.Name)))
	case f.SSH.Exit == 0:
		e.add(state("ssh_trust", from.Name, to.Name, OK, "ok", fmt.Sprintf("ssh %s -> %s works (BatchMode)", from.Name, to.Name)))
	case f.SSH.Exit < 0:
		e.add(unknown("ssh_trust", from.Name, to.Name, fmt.Sprintf("ssh %s -> %s: no exit status in the output", from.Name, to.Name)))
	default:
		e.add(state("ssh_trust", from.Name, to.Name, Critical, "fails",
			fmt.Sprintf("ssh -o BatchMode=yes %s -> %s (%s) fails: %s: start sshd on %s, or set up key authentication and known_hosts (guide 4.0)",
				from.Name, to.Name, to.Address, f.SSH.Tail(), to.Name)))
	}
}

// clock compares the MNs' clocks: each host's offset from the checker
// (its clock at the script's start minus the checker's when it asked),
// standby's minus primary's.
func (e *evaluator) clock() {
	if e.p.Err != nil || e.s.Err != nil || e.p.Clock == 0 || e.s.Clock == 0 || e.p.Sent.IsZero() || e.s.Sent.IsZero() {
		e.add(unknown("clock_skew", e.c.Standby.Name, "", "clock skew not measured: both MNs must answer"))
		return
	}
	off := func(f Facts) float64 { return f.Clock - float64(f.Sent.UnixNano())/1e9 }
	skew := math.Round(off(e.s) - off(e.p))
	r := e.measure("clock_skew", e.c.Standby.Name, "", "clock_skew", math.Abs(skew), "s", "")
	r.Message = fmt.Sprintf("%s's clock is %+.0fs from %s's (to a second)", e.c.Standby.Name, skew, e.c.Primary.Name)
	if r.Status != OK {
		r.Message += ": synchronise the clocks (NTP, guide 4.0)"
	}
	e.add(r)
}

// prereq compares what the guide requires to be the same on both MNs.
func (e *evaluator) prereq() {
	if e.p.Err != nil || e.s.Err != nil {
		return
	}
	for _, k := range []struct{ key, what string }{{"os", "operating system"}, {"xcat", "xCAT version"}, {"db", "database version"}, {"subnet", "subnet"}} {
		a, b := strings.TrimSpace(e.p.Info[k.key]), strings.TrimSpace(e.s.Info[k.key])
		if a != "" && a == b {
			e.add(state("same_"+k.key, "", "", OK, a, "same "+k.what+": "+a))
		} else {
			e.add(state("same_"+k.key, "", "", Critical, "differs",
				fmt.Sprintf("%s differs: primary %s, standby %s: the guide needs the same on both MNs", k.what, orQ(a), orQ(b))))
		}
	}
	for _, r := range []struct {
		f        Facts
		from, to Host
	}{{e.p, e.c.Primary, e.c.Standby}, {e.s, e.c.Standby, e.c.Primary}} {
		got := r.f.Info["resolve"]
		switch {
		case got == r.to.Address:
			e.add(state("resolve", r.from.Name, r.to.Name, OK, got, fmt.Sprintf("%s resolves %s to %s", r.from.Name, r.to.Hostname, got)))
		case got == "":
			e.add(state("resolve", r.from.Name, r.to.Name, Critical, "none",
				fmt.Sprintf("%s does not resolve %s: add it to /etc/hosts or DNS", r.from.Name, r.to.Hostname)))
		default:
			e.add(state("resolve", r.from.Name, r.to.Name, Critical, got,
				fmt.Sprintf("%s resolves %s to %s, the inventory says %s: fix /etc/hosts or DNS", r.from.Name, r.to.Hostname, got, r.to.Address)))
		}
	}
}

func orQ(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

func (e *evaluator) dbFacts(f Facts, h Host, check string) bool {
	switch {
	case f.Err != nil:
		e.add(unknown(check, h.Name, "", fmt.Sprintf("%s not checked: %s did not answer", check, h.Name)))
		return false
	case f.DBError != nil:
		e.add(unknown(check, h.Name, "", fmt.Sprintf("cannot read the database's state on %s: %v", h.Name, f.DBError)))
		return false
	}
	return true
}

func (e *evaluator) postgres() {
	p, s := e.c.Primary.Name, e.c.Standby.Name
	okP := e.dbFacts(e.p, e.c.Primary, "pg_role") && e.p.PG != nil
	if okP {
		if e.p.PG.InRecovery {
			e.add(state("pg_role", p, "", Critical, "standby", fmt.Sprintf("PostgreSQL on the primary %s is in recovery: the inventory's primary is not the database's; fix the inventory or fail back", p)))
		} else {
			e.add(state("pg_role", p, "", OK, "primary", "PostgreSQL on "+p+" is the primary"))
		}
	}
	if !e.dbFacts(e.s, e.c.Standby, "pg_streaming") || e.s.PG == nil {
		return
	}
	st := e.s.PG
	if !st.InRecovery {
		e.add(state("pg_streaming", s, "", Critical, "primary",
			fmt.Sprintf("PostgreSQL on the standby %s is not in recovery: two primaries (split brain); rebuild it as a standby (hamnflow run pg-setup)", s)))
		return
	}
	if st.Receiver == "streaming" {
		e.add(state("pg_streaming", s, "", OK, "streaming", fmt.Sprintf("%s's WAL receiver is streaming", s)))
	} else {
		word := st.Receiver
		if word == "" {
			word = "none"
		}
		// check_postgres issue #220: a restarted standby can show no lag
		// while it does not stream at all.
		e.add(state("pg_streaming", s, "", Critical, word,
			fmt.Sprintf("%s's WAL receiver is %s, not streaming (pg_stat_wal_receiver): check primary_conninfo, the primary's pg_hba.conf and %s's server log, then reload it", s, word, s)))
	}
	if okP && e.p.PG.CurrentLSN != "" {
		cur, err1 := postgres.ParseLSN(e.p.PG.CurrentLSN)
		rep, err2 := postgres.ParseLSN(st.ReplayLSN)
		if err1 == nil && err2 == nil {
			lag := math.Max(0, float64(int64(cur)-int64(rep)))
			r := e.measure("pg_replay_lag_bytes", s, "", "replay_lag_bytes", lag, "B", "")
			r.Message = fmt.Sprintf("%s has replayed WAL up to %s, the primary is at %s (%s behind)", s, st.ReplayLSN, e.p.PG.CurrentLSN, humanBytes(lag))
			if r.Status != OK {
				r.Message += ": see why the standby falls behind (its disk, the network, long queries on it)"
			}
			e.add(r)
		}
	}
	if okP && st.Receiver == "streaming" {
		lag, found := 0.0, false
		for _, rep := range e.p.PG.Replicas {
			if rep.Client == e.c.Standby.Address || len(e.p.PG.Replicas) == 1 {
				lag, found = math.Max(lag, rep.ReplayLagSeconds), true
			}
		}
		if found {
			r := e.measure("pg_replay_lag", s, "", "replay_lag", lag, "s", "")
			r.Message = fmt.Sprintf("replay lag of %s as %s sees it: %.1fs", s, p, lag)
			e.add(r)
		}
	}
}

func (e *evaluator) mysql() {
	s := e.c.Standby.Name
	if !e.dbFacts(e.s, e.c.Standby, "mysql_threads") || e.s.MySQL == nil {
		return
	}
	st := e.s.MySQL
	if !st.Configured {
		e.add(state("mysql_threads", s, "", Critical, "no replica", fmt.Sprintf("%s is no replica (SHOW REPLICA STATUS is empty): set it up (hamnflow run mysql-setup)", s)))
		return
	}
	for _, t := range []struct{ name, v, errText string }{{"io", st.IORunning, st.LastIOError}, {"sql", st.SQLRunning, st.LastSQLError}} {
		if t.v == "Yes" {
			e.add(state("mysql_"+t.name+"_thread", s, "", OK, t.v, fmt.Sprintf("%s's replica %s thread runs", s, strings.ToUpper(t.name))))
			continue
		}
		msg := fmt.Sprintf("%s's replica %s thread is %s", s, strings.ToUpper(t.name), orQ(t.v))
		if t.errText != "" {
			msg += " (" + t.errText + ")"
		}
		e.add(state("mysql_"+t.name+"_thread", s, "", Critical, t.v, msg+": fix the error, then START REPLICA on "+s))
	}
	if st.SecondsBehind >= 0 {
		r := e.measure("mysql_seconds_behind", s, "", "seconds_behind", float64(st.SecondsBehind), "s", "")
		r.Message = fmt.Sprintf("%s is %ds behind its source", s, st.SecondsBehind)
		e.add(r)
	}
}

func (e *evaluator) db2() {
	for _, side := range []struct {
		f    Facts
		h    Host
		role string
	}{{e.p, e.c.Primary, db2.RolePrimary}, {e.s, e.c.Standby, db2.RoleStandby}} {
		if !e.dbFacts(side.f, side.h, "db2_role") || side.f.Db2 == nil {
			continue
		}
		st, n := side.f.Db2, side.h.Name
		if st.Role == side.role {
			e.add(state("db2_role", n, "", OK, st.Role, fmt.Sprintf("Db2 HADR role on %s: %s", n, st.Role)))
		} else {
			e.add(state("db2_role", n, "", Critical, orQ(st.Role),
				fmt.Sprintf("Db2 HADR role on %s is %s, want %s: check the inventory, or set HADR up again (hamnflow run hadr-setup)", n, orQ(st.Role), side.role)))
			continue
		}
		if side.role != db2.RoleStandby {
			continue
		}
		switch st.State {
		case db2.StatePeer:
			e.add(state("db2_state", n, "", OK, st.State, "HADR state Peer"))
		case db2.StateRemoteCatchup, db2.StateLocalCatchup, db2.StateRemoteCatchupPending:
			e.add(state("db2_state", n, "", Warning, st.State, fmt.Sprintf("HADR state on %s is %s, not Peer: the standby is catching up; a takeover now needs BY FORCE", n, st.State)))
		default:
			e.add(state("db2_state", n, "", Critical, orQ(st.State), fmt.Sprintf("HADR state on %s is %s, not Peer: check the HADR ports and START HADR AS STANDBY on %s", n, orQ(st.State), n)))
		}
		if st.ConnectStatus == db2.ConnConnected {
			e.add(state("db2_connect", n, "", OK, st.ConnectStatus, "HADR connected"))
		} else {
			e.add(state("db2_connect", n, "", Critical, orQ(st.ConnectStatus), fmt.Sprintf("HADR connect status on %s is %s: check the network between the MNs and the HADR services", n, orQ(st.ConnectStatus))))
		}
		r := e.measure("db2_log_gap", n, "", "db2_log_gap", float64(st.LogGap), "B", "")
		r.Message = fmt.Sprintf("HADR log gap on %s: %s", n, humanBytes(float64(st.LogGap)))
		e.add(r)
	}
}

func (e *evaluator) sqlite() {
	s := e.c.Standby.Name
	if !e.dbFacts(e.s, e.c.Standby, "sqlite_age") {
		return
	}
	if len(e.s.SQLite) == 0 {
		e.add(state("sqlite_age", s, "", Critical, "none", fmt.Sprintf("%s has no copy of the SQLite database at %s: set up its sync (hamnflow run sqlite-setup)", s, e.c.DB.File)))
		return
	}
	newest := e.s.SQLite[0]
	for _, f := range e.s.SQLite {
		if f.MTime > newest.MTime {
			newest = f
		}
	}
	age := math.Max(0, math.Floor(e.s.Clock)-float64(newest.MTime))
	r := e.measure("sqlite_age", s, "", "sqlite_age", age, "s", "")
	r.Message = fmt.Sprintf("%s's copy of the SQLite database is %s old", s, formatAge(age))
	if r.Status != OK {
		r.Message += ": check the sqlite sync's crontab entry on the primary (hamnflow run sqlite-setup)"
	}
	e.add(r)
}

func (e *evaluator) last(check string, playbooks []string) (JournalRun, bool, bool) {
	if e.c.History == nil {
		e.add(unknown(check, "", "", "no journal to read the runs from"))
		return JournalRun{}, false, false
	}
	r, ok, err := e.c.History.LastSucceeded(e.c.Cluster, playbooks...)
	if err != nil {
		e.add(unknown(check, "", "", "read the journal: "+err.Error()))
		return JournalRun{}, false, false
	}
	return r, ok, true
}

func (e *evaluator) syncAge() {
	r, ok, read := e.last("sync_age", SyncPlaybooks)
	if !read {
		return
	}
	if !ok {
		e.add(state("sync_age", "", "", Warning, "never",
			"no successful sync or sync-setup run in the journal: run hamnflow run sync-setup (or sync)"))
		return
	}
	age := math.Max(0, e.now.Sub(r.Ended).Seconds())
	res := e.measure("sync_age", "", "", "sync_age", math.Round(age), "s", "")
	res.Message = fmt.Sprintf("last successful %s run %s ended %s ago", r.Playbook, r.ID, formatAge(age))
	if res.Status != OK {
		res.Message += ": run hamnflow run sync"
	}
	e.add(res)
}

func (e *evaluator) drift() {
	p := e.c.Primary.Name
	for _, ps := range e.c.PathSets {
		if e.p.Err != nil {
			e.add(unknown("sync_drift", p, ps.Name, "drift of "+ps.Name+" not measured: "+p+" did not answer"))
			continue
		}
		d, ok := setDrift(e.p.Drift, ps)
		switch {
		case !ok:
			e.add(unknown("sync_drift", p, ps.Name, "drift of "+ps.Name+": no output"))
			continue
		case d.Err != nil:
			// The dry run is the sync without copying: when it fails, so
			// does the crontab's sync of these paths.
			e.add(state("sync_drift", p, ps.Name, Critical, "fails",
				fmt.Sprintf("%s: rsync from %s to %s fails, so its sync does too: %v: fix SSH from %s to %s (BatchMode, known_hosts, name resolution)",
					ps.Name, p, e.c.Standby.Hostname, d.Err, p, e.c.Standby.Hostname)))
			continue
		}
		n := float64(len(d.Changes))
		r := e.measure("sync_drift", p, ps.Name, "drift", n, "", "")
		if n == 0 {
			r.Message = fmt.Sprintf("%s: the standby has the same files", ps.Name)
		} else {
			var l []string
			for _, ch := range d.Changes[:min(3, len(d.Changes))] {
				l = append(l, ch.Path)
			}
			if len(d.Changes) > 3 {
				l = append(l, "...")
			}
			r.Message = fmt.Sprintf("%s: %d item(s) differ on %s (%s)", ps.Name, len(d.Changes), e.c.Standby.Name, strings.Join(l, ", "))
			if r.Status != OK {
				r.Message += ": run hamnflow run sync"
			}
		}
		e.add(r)
	}
}

func (e *evaluator) parity() {
	s := e.c.Standby.Name
	switch {
	case e.p.Err != nil || e.s.Err != nil:
		e.add(unknown("cred_parity", s, "", "credentials not compared: both MNs must answer"))
		return
	case e.p.SumsErr != nil:
		e.add(unknown("cred_parity", s, "", "credentials on "+e.c.Primary.Name+": "+e.p.SumsErr.Error()))
		return
	case e.s.SumsErr != nil:
		e.add(unknown("cred_parity", s, "", "credentials on "+s+": "+e.s.SumsErr.Error()))
		return
	}
	var diff []string
	for path, h := range e.p.Sums {
		switch o, ok := e.s.Sums[path]; {
		case !ok:
			diff = append(diff, "/"+path+" (missing)")
		case o != h:
			diff = append(diff, "/"+path)
		}
	}
	for path := range e.s.Sums {
		if _, ok := e.p.Sums[path]; !ok {
			diff = append(diff, "/"+path+" (only on the standby)")
		}
	}
	sort.Strings(diff)
	r := Result{Check: "cred_parity", Host: s, Value: float64(len(diff)), Limit: Limit{Warn: Off, Crit: 0}, Text: ""}
	if len(diff) == 0 {
		r.Message = fmt.Sprintf("xCAT's credentials are the same on both MNs (%d files by SHA-256)", len(e.p.Sums))
	} else {
		shown := diff[:min(3, len(diff))]
		if len(diff) > 3 {
			shown = append(shown, "...")
		}
		r.Status = Critical
		r.Message = fmt.Sprintf("%d credential file(s) differ between the MNs (%s): the standby would present other certificates or host keys; run hamnflow run sync", len(diff), strings.Join(shown, ", "))
	}
	e.add(r)
}

func (e *evaluator) certs(f Facts, h Host) {
	for _, c := range e.c.Certs {
		if f.Err != nil {
			e.add(unknown("cert_days", h.Name, c.Name, fmt.Sprintf("%s certificate on %s not read: the host did not answer", c.Name, h.Name)))
			continue
		}
		end, ok := f.Certs[c.Name]
		switch {
		case !ok:
			e.add(unknown("cert_days", h.Name, c.Name, c.Name+" certificate: no output"))
			continue
		case end.Err != nil:
			e.add(state("cert_days", h.Name, c.Name, Critical, "unreadable",
				fmt.Sprintf("xCAT's %s certificate %s on %s cannot be read (%v): regenerate the credentials (xcatconfig -c on the primary, then hamnflow run sync)", c.Name, c.Path, h.Name, end.Err)))
			continue
		}
		days := math.Floor(end.NotAfter.Sub(e.now).Hours()/24*10) / 10
		r := e.measure("cert_days", h.Name, c.Name, "cert_days", days, "d", "")
		switch {
		case days < 0:
			r.Message = fmt.Sprintf("xCAT's %s certificate on %s expired on %s", c.Name, h.Name, end.NotAfter.Format("2006-01-02"))
		default:
			r.Message = fmt.Sprintf("xCAT's %s certificate on %s expires on %s (in %.0f days)", c.Name, h.Name, end.NotAfter.Format("2006-01-02"), math.Floor(days))
		}
		if r.Status != OK {
			r.Message += ": renew it (xcatconfig -c on the primary regenerates xCAT's credentials, xCAT-server/sbin/xcatconfig line 71), then hamnflow run sync"
		}
		e.add(r)
	}
}

func (e *evaluator) standbyServices() {
	h := e.c.Standby
	for _, role := range e.c.StandbyRoles {
		if e.s.Err != nil {
			e.add(unknown("standby_service", h.Name, role, role+" on the standby not checked: "+h.Name+" did not answer"))
			continue
		}
		st, ok := e.s.Services[role]
		switch {
		case !ok:
			e.add(unknown("standby_service", h.Name, role, role+": no output"))
			continue
		case st.Err != nil:
			e.add(unknown("standby_service", h.Name, role, fmt.Sprintf("%s on %s: %v", role, h.Name, st.Err)))
			continue
		case st.Unit == "":
			e.add(state("standby_service", h.Name, role, OK, "absent", fmt.Sprintf("%s: not installed on %s", role, h.Name)))
			continue
		}
		text := st.Active + "/" + st.Boot
		var todo []string
		if st.Running {
			todo = append(todo, stopCmd(initOf(h.Init), st.Unit))
		}
		if st.Enabled {
			todo = append(todo, disableCmd(initOf(h.Init), st.Unit))
		}
		switch {
		case st.Running && st.Enabled:
			e.add(state("standby_service", h.Name, role, Critical, text, fmt.Sprintf("%s runs on the standby %s and starts at boot: two MNs serve the cluster (split brain): %s", st.Unit, h.Name, strings.Join(todo, "; "))))
		case st.Running:
			e.add(state("standby_service", h.Name, role, Critical, text, fmt.Sprintf("%s runs on the standby %s: two MNs serve the cluster (split brain): %s", st.Unit, h.Name, strings.Join(todo, "; "))))
		case st.Enabled:
			e.add(state("standby_service", h.Name, role, Critical, text, fmt.Sprintf("%s is enabled at boot on the standby %s: a reboot or an upgrade starts it beside the primary's: %s", st.Unit, h.Name, strings.Join(todo, "; "))))
		default:
			e.add(state("standby_service", h.Name, role, OK, text, fmt.Sprintf("%s on %s: stopped, not enabled", st.Unit, h.Name)))
		}
	}
}

func stopCmd(init, unit string) string {
	switch init {
	case "sysv":
		return "/etc/init.d/" + unit + " stop"
	case "src":
		return "stopsrc -s " + unit
	}
	return "systemctl stop " + unit
}

func disableCmd(init, unit string) string {
	switch init {
	case "sysv":
		return "update-rc.d " + unit + " disable (chkconfig " + unit + " off)"
	case "src":
		return "rmitab " + unit
	}
	return "systemctl disable " + unit
}

func (e *evaluator) drillAge() {
	r, ok, read := e.last("drill_age", DrillPlaybooks)
	if !read {
		return
	}
	if !ok {
		e.add(state("drill_age", "", "", OK, "never",
			"no failover, failback or switchover in the journal: rehearse one (hamnflow run deactivate, then activate) before you need it"))
		return
	}
	days := math.Floor(e.now.Sub(r.Ended).Hours()/24*10) / 10
	res := e.measure("drill_age", "", "", "drill_age", days, "d", "")
	res.Message = fmt.Sprintf("last successful %s run %s ended %s ago", r.Playbook, r.ID, formatAge(e.now.Sub(r.Ended).Seconds()))
	if res.Status != OK {
		res.Message += ": rehearse a switchover (hamnflow run deactivate, then activate)"
	}
	e.add(res)
}

// setDrift is the drift of one path set: its own dry run's, or its share
// of the changes of the group's dry run it was part of (driftGroups).
func setDrift(all map[string]Drift, ps PathSet) (Drift, bool) {
	if d, ok := all[ps.Name]; ok {
		return d, true
	}
	for name, d := range all {
		if !slices.Contains(strings.Split(name, "+"), ps.Name) {
			continue
		}
		if d.Err != nil {
			return d, true
		}
		mine := Drift{Ignored: d.Ignored}
		for _, ch := range d.Changes {
			if under(ch.Path, ps.Paths) {
				mine.Changes = append(mine.Changes, ch)
			}
		}
		return mine, true
	}
	return Drift{}, false
}

// under says whether path (as rsync -R prints it: absolute, directories
// ending in /) is one of paths or below one.
func under(path string, paths []string) bool {
	path = strings.TrimSuffix(path, "/")
	for _, p := range paths {
		p = strings.TrimSuffix(p, "/")
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// formatAge writes seconds as the largest whole units: 45s, 12m, 3h20m, 4d.
func formatAge(sec float64) string {
	d := time.Duration(sec) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
