package db2model

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// monitorView is what db2pd and GET SNAPSHOT report about one database.
type monitorView struct {
	instance string
	db       Database
	hadr     *HADRInfo // nil when HADR is not running
	times    map[uint64]time.Time
}

// view collects the database's state and, when HADR runs, its daemon's
// status. ok is false when the instance is down (up=false) or the database
// is not active.
func (c *cli) view(name string) (v monitorView, up, active bool, err error) {
	err = c.update(func(st *State) error {
		up = st.Up
		v.instance = st.Instance
		db := st.DBs[strings.ToUpper(name)]
		if db == nil {
			return nil
		}
		active = db.Active
		v.db = *db
		v.times = map[uint64]time.Time{db.Log.BaseLSN: db.Created}
		for _, r := range db.Log.Records {
			v.times[r.LSN] = r.Time
		}
		return nil
	})
	if err != nil || !up || !active || v.db.DaemonPID == 0 {
		return v, up, active, err
	}
	if in, err := c.hadrStatus(v.db.Name); err == nil {
		v.hadr = in
	}
	return v, up, active, nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "NULL"
	}
	return fmt.Sprintf("%s (%d)", t.Local().Format("01/02/2006 15:04:05.000000"), t.Unix())
}

func uptime(since time.Time) string {
	d := time.Since(since)
	if since.IsZero() || d < 0 {
		d = 0
	}
	days := int(d / (24 * time.Hour))
	d -= time.Duration(days) * 24 * time.Hour
	return fmt.Sprintf("%d days %02d:%02d:%02d", days, int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second))
}

func (c *cli) db2pd(args []string) int {
	name, hadr := "", false
	for i := 0; i < len(args); i++ {
		switch strings.ToLower(args[i]) {
		case "-d", "-db", "-database":
			if i+1 < len(args) {
				name = args[i+1]
				i++
			}
		case "-hadr":
			hadr = true
		}
	}
	v, up, active, err := c.view(name)
	if err != nil {
		return c.report(err)
	}
	if !up {
		c.say("Unable to attach to database manager on member 0.",
			"Please ensure the following are true:",
			"   - db2start has been run for the member.",
			"   - db2pd is being run on the same physical machine as the member.",
			"   - DB2NODE environment variable setting is correct for the member or db2pd -mem setting is correct for the member.")
		return 1
	}
	if name == "" {
		c.say("Option -hadr requires -db <database> or -alldbs option and active database.")
		return 1
	}
	dbName := strings.ToUpper(name)
	if !active {
		c.say(fmt.Sprintf("Database %s not activated on database member 0 or this database name cannot be found in the local database directory.", dbName), "",
			"Option -hadr requires -db <database> or -alldbs option and active database.")
		return 0
	}
	if c.env.Getenv(EnvDb2pdLayout) == "v97" {
		writeDb2pdV97(c.env.Stdout, v, hadr)
	} else {
		writeDb2pd(c.env.Stdout, v, hadr)
	}
	return 0
}

// writeDb2pd prints the Db2 10.1+ layout.
func writeDb2pd(w io.Writer, v monitorView, hadr bool) {
	status := "Active"
	if v.db.Role == RoleStandby {
		status = "Standby"
	}
	fmt.Fprintf(w, "\nDatabase Member 0 -- Database %s -- %s -- Up %s -- Date %s\n\n", v.db.Name, status,
		uptime(v.db.ActivatedAt), time.Now().Format("2006-01-02-15.04.05.000000"))
	if !hadr {
		return
	}
	h := v.hadr
	if h == nil {
		fmt.Fprintln(w, "HADR is not active.")
		return
	}
	f := func(k, val string) { fmt.Fprintf(w, "%39s = %s\n", k, val) }
	pos := func(lsn uint64) string {
		return fmt.Sprintf("%s, %d, %d", v.db.LogFile(lsn), v.db.LogPage(lsn), lsn)
	}
	logTime := func(lsn uint64) string {
		if t, ok := v.times[lsn]; ok {
			return stamp(t)
		}
		return "NULL"
	}
	primaryHost, standbyHost := h.LocalHost, h.RemoteHost
	primaryInst, standbyInst := h.Instance, h.RemoteInstance
	standbyID := "1"
	if h.Role == RoleStandby {
		primaryHost, standbyHost = standbyHost, primaryHost
		primaryInst, standbyInst = standbyInst, primaryInst
		standbyID = "0"
	}
	f("HADR_ROLE", h.Role)
	f("REPLAY_TYPE", "PHYSICAL")
	f("HADR_SYNCMODE", h.SyncMode)
	f("STANDBY_ID", standbyID)
	f("LOG_STREAM_ID", "0")
	f("HADR_STATE", h.State)
	f("HADR_FLAGS", "")
	f("PRIMARY_MEMBER_HOST", primaryHost)
	f("PRIMARY_INSTANCE", primaryInst)
	f("PRIMARY_MEMBER", "0")
	f("STANDBY_MEMBER_HOST", standbyHost)
	f("STANDBY_INSTANCE", standbyInst)
	f("STANDBY_MEMBER", "0")
	f("HADR_CONNECT_STATUS", h.ConnectStatus)
	f("HADR_CONNECT_STATUS_TIME", stamp(h.ConnectTime))
	f("HEARTBEAT_INTERVAL(seconds)", fmt.Sprintf("%d", max(1, int(h.HeartbeatInterval/time.Second))))
	f("HEARTBEAT_MISSED", fmt.Sprintf("%d", h.HeartbeatsMissed))
	f("HEARTBEAT_EXPECTED", fmt.Sprintf("%d", h.HeartbeatsExpected))
	f("HADR_TIMEOUT(seconds)", fmt.Sprintf("%d", int(h.Timeout/time.Second)))
	f("TIME_SINCE_LAST_RECV(seconds)", fmt.Sprintf("%d", int(h.TimeSinceLastRecv/time.Second)))
	f("PEER_WAIT_LIMIT(seconds)", "0")
	f("LOG_HADR_WAIT_CUR(seconds)", "0.000")
	f("LOG_HADR_WAIT_RECENT_AVG(seconds)", "0.000000")
	f("LOG_HADR_WAIT_ACCUMULATED(seconds)", "0.000")
	f("LOG_HADR_WAIT_COUNT", "0")
	f("SOCK_SEND_BUF_REQUESTED,ACTUAL(bytes)", "0, 16384")
	f("SOCK_RECV_BUF_REQUESTED,ACTUAL(bytes)", "0, 131072")
	f("PRIMARY_LOG_FILE,PAGE,POS", pos(h.PrimaryLSN))
	f("STANDBY_LOG_FILE,PAGE,POS", pos(h.StandbyLSN))
	f("HADR_LOG_GAP(bytes)", fmt.Sprintf("%d", h.LogGap))
	f("STANDBY_REPLAY_LOG_FILE,PAGE,POS", pos(h.StandbyLSN))
	f("STANDBY_RECV_REPLAY_GAP(bytes)", "0")
	f("PRIMARY_LOG_TIME", logTime(h.PrimaryLSN))
	f("STANDBY_LOG_TIME", logTime(h.StandbyLSN))
	f("STANDBY_REPLAY_LOG_TIME", logTime(h.StandbyLSN))
	f("STANDBY_RECV_BUF_SIZE(pages)", "512")
	f("STANDBY_RECV_BUF_PERCENT", "0")
	f("STANDBY_SPOOL_LIMIT(pages)", "0")
	f("PEER_WINDOW(seconds)", fmt.Sprintf("%d", int(h.PeerWindow/time.Second)))
	if h.PeerWindow > 0 {
		f("PEER_WINDOW_END", stamp(h.PeerWindowEnd))
	}
	f("READS_ON_STANDBY_ENABLED", "N")
	fmt.Fprintln(w)
}

// camel maps db2pd 10.1 states to the 9.7 spelling (RemoteCatchupPending).
func camel(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(strings.ToLower(s), "_") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// sentence maps REMOTE_CATCHUP_PENDING to "Remote catchup pending".
func sentence(s string) string {
	s = strings.ToLower(strings.ReplaceAll(s, "_", " "))
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func ctimeStamp(t time.Time) string {
	if t.IsZero() {
		return "Null (0)"
	}
	return fmt.Sprintf("%s (%d)", t.Local().Format("Mon Jan _2 15:04:05 2006"), t.Unix())
}

// writeDb2pdV97 prints the Db2 9.7 column layout of the guide.
func writeDb2pdV97(w io.Writer, v monitorView, hadr bool) {
	fmt.Fprintf(w, "\nDatabase Partition 0 -- Database %s -- Active -- Up %s\n\n", v.db.Name, uptime(v.db.ActivatedAt))
	if !hadr {
		return
	}
	h := v.hadr
	if h == nil {
		fmt.Fprintln(w, "HADR is not active.")
		return
	}
	fmt.Fprintln(w, "HADR Information:")
	fmt.Fprintf(w, "%-7s %-20s %-8s %-18s %s\n", "Role", "State", "SyncMode", "HeartBeatsMissed", "LogGapRunAvg (bytes)")
	fmt.Fprintf(w, "%-7s %-20s %-8s %-18d %d\n\n", sentence(h.Role), camel(h.State), sentence(h.SyncMode), h.HeartbeatsMissed, h.LogGap)
	fmt.Fprintf(w, "%-13s %-37s %s\n", "ConnectStatus", "ConnectTime", "Timeout")
	fmt.Fprintf(w, "%-13s %-37s %d\n\n", sentence(h.ConnectStatus), ctimeStamp(h.ConnectTime), int(h.Timeout/time.Second))
	fmt.Fprintf(w, "%-37s %s\n", "PeerWindowEnd", "PeerWindow")
	fmt.Fprintf(w, "%-37s %d\n\n", ctimeStamp(h.PeerWindowEnd), int(h.PeerWindow/time.Second))
	fmt.Fprintf(w, "%-40s %s\n", "LocalHost", "LocalService")
	fmt.Fprintf(w, "%-40s %s\n\n", h.LocalHost, h.LocalService)
	fmt.Fprintf(w, "%-40s %-18s %s\n", "RemoteHost", "RemoteService", "RemoteInstance")
	fmt.Fprintf(w, "%-40s %-18s %s\n\n", h.RemoteHost, h.RemoteService, h.RemoteInstance)
	fmt.Fprintf(w, "%-12s %-10s %s\n", "PrimaryFile", "PrimaryPg", "PrimaryLSN")
	fmt.Fprintf(w, "%-12s %-10d 0x%016X\n\n", v.db.LogFile(h.PrimaryLSN), v.db.LogPage(h.PrimaryLSN), h.PrimaryLSN)
	fmt.Fprintf(w, "%-12s %-10s %s\n", "StandByFile", "StandByPg", "StandByLSN")
	fmt.Fprintf(w, "%-12s %-10d 0x%016X\n\n", v.db.LogFile(h.StandbyLSN), v.db.LogPage(h.StandbyLSN), h.StandbyLSN)
}

func (c *cli) snapshot(p *parser) int {
	if !p.dbKeyword() {
		return c.report(p.fail("DATABASE"))
	}
	if !p.accept("ON") {
		return c.report(p.fail("ON"))
	}
	name, ok := p.value()
	if !ok {
		return c.report(p.fail("<database-alias>"))
	}
	if !p.done() {
		return c.report(p.fail("END-OF-STATEMENT"))
	}
	v, up, active, err := c.view(name)
	if err != nil {
		return c.report(err)
	}
	switch {
	case !up:
		c.say(msgSQL1032)
		return exitError
	case v.db.Name == "":
		c.say(sql1013(strings.ToUpper(name)))
		return exitError
	case !active:
		c.say(msgSQL1611)
		return exitWarning
	}
	w := c.env.Stdout
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Local().Format("01/02/2006 15:04:05.000000")
	}
	kv := func(k, val string) { fmt.Fprintf(w, "%-43s= %s\n", k, val) }
	fmt.Fprintf(w, "\n              Database Snapshot\n\n")
	kv("Database name", v.db.Name)
	kv("Database path", "/var/lib/db2/"+strings.ToLower(v.instance)+"/NODE0000/SQL00001/")
	kv("Input database alias", v.db.Name)
	kv("Database status", "Active")
	kv("Catalog database partition number", "0")
	kv("Catalog network node name", "")
	kv("Operating system running at database server", "LINUXAMD64")
	kv("Location of the database", "Local")
	kv("First database connect timestamp", ts(v.db.ActivatedAt))
	kv("Last reset timestamp", "")
	kv("Last backup timestamp", v.db.LastBackup)
	kv("Snapshot timestamp", ts(time.Now()))
	fmt.Fprintln(w)
	kv("High water mark for connections", fmt.Sprint(len(v.db.Conns)))
	kv("Application connects", fmt.Sprint(len(v.db.Conns)))
	kv("Applications connected currently", fmt.Sprint(len(v.db.Conns)))
	kv("Appls. executing in db manager currently", "0")
	fmt.Fprintln(w)
	kv("Log space available to the database (Bytes)", "53243452")
	kv("Log space used by the database (Bytes)", "6548")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "HADR Status")
	h := v.hadr
	s := func(k, val string) { fmt.Fprintf(w, "  %-22s = %s\n", k, val) }
	if h == nil {
		s("Role", "Standard")
	} else {
		pwEnd := "Null (0)"
		if !h.PeerWindowEnd.IsZero() {
			pwEnd = stamp(h.PeerWindowEnd)
		}
		pos := func(lsn uint64) string {
			return fmt.Sprintf("%s, %d, %016X", v.db.LogFile(lsn), v.db.LogPage(lsn), lsn)
		}
		s("Role", sentence(h.Role))
		s("State", sentence(h.State))
		s("Synchronization mode", sentence(h.SyncMode))
		s("Connection status", sentence(h.ConnectStatus)+", "+ts(h.ConnectTime))
		s("Peer window end", pwEnd)
		s("Peer window (seconds)", fmt.Sprint(int(h.PeerWindow/time.Second)))
		s("Heartbeats missed", fmt.Sprint(h.HeartbeatsMissed))
		s("Local host", h.LocalHost)
		s("Local service", h.LocalService)
		s("Remote host", h.RemoteHost)
		s("Remote service", h.RemoteService)
		s("Remote instance", h.RemoteInstance)
		s("timeout(seconds)", fmt.Sprint(int(h.Timeout/time.Second)))
		fmt.Fprintf(w, "  Primary log position(file, page, LSN) = %s\n", pos(h.PrimaryLSN))
		fmt.Fprintf(w, "  Standby log position(file, page, LSN) = %s\n", pos(h.StandbyLSN))
		fmt.Fprintf(w, "  Log gap running average(bytes) = %d\n", h.LogGap)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Memory usage for database:")
	fmt.Fprintf(w, "  %-45s= %s\n", "Node number", "0")
	fmt.Fprintf(w, "  %-45s= %s\n", "Memory Pool Type", "Backup/Restore/Util Heap")
	fmt.Fprintln(w)
	return exitOK
}
