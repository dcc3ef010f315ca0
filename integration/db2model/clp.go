package db2model

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"
)

// db2 is the command line processor: db2 [options] command words...
func (c *cli) db2(args []string) int {
	echo, terminator := false, false
	var file string
	for len(args) > 0 && len(args[0]) > 1 && (args[0][0] == '-' || args[0][0] == '+') {
		opt := args[0]
		args = args[1:]
		for k := 1; k < len(opt); k++ {
			switch opt[k] {
			case 'v':
				echo = opt[0] == '-'
			case 't':
				terminator = opt[0] == '-'
			case 'f':
				if len(args) == 0 {
					c.say("DB21004E You cannot specify both an input file and a command when invoking the Command Line Processor.")
					return exitError
				}
				file, args = args[0], args[1:]
			}
		}
	}
	var cmds []string
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			c.say(fmt.Sprintf("DB21007E End of file reached while reading the command. (%v)", err))
			return exitError
		}
		cmds = splitCommands(string(b), terminator)
	case len(args) == 0:
		b, _ := readAll(c.env)
		cmds = splitCommands(b, terminator)
	default:
		line := strings.Join(args, " ")
		if terminator {
			cmds = splitCommands(line, true)
		} else {
			cmds = []string{line}
		}
	}
	rc := exitOK
	for _, cmd := range cmds {
		if strings.TrimSpace(cmd) == "" {
			continue
		}
		if echo {
			c.say(strings.TrimSpace(cmd))
		}
		if r := c.exec(cmd); r > rc {
			rc = r
		}
	}
	return rc
}

func readAll(env Env) (string, error) {
	if env.Stdin == nil {
		return "", nil
	}
	var b strings.Builder
	sc := bufio.NewScanner(env.Stdin)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String(), sc.Err()
}

func splitCommands(s string, terminator bool) []string {
	if terminator {
		return strings.Split(s, ";")
	}
	return strings.Split(s, "\n")
}

// exec runs one CLP command.
func (c *cli) exec(cmd string) int {
	toks, bad := tokenize(cmd)
	if bad != "" {
		c.say(bad)
		return exitError
	}
	if len(toks) == 0 {
		return exitOK
	}
	p := &parser{toks: toks}
	switch {
	case p.accept("CONNECT"):
		return c.connect(p)
	case p.accept("TERMINATE"):
		return c.terminate(p)
	case p.accept("DISCONNECT"):
		return c.connectReset("DB20000I The SQL DISCONNECT command completed successfully.")
	case p.accept("ACTIVATE"):
		return c.activate(p)
	case p.accept("DEACTIVATE"):
		return c.deactivate(p)
	case p.peek("UPDATE") && len(toks) > 1 && isCfgWord(toks[1].text, toks[min(2, len(toks)-1)].text):
		p.accept("UPDATE")
		return c.updateCfg(p)
	case p.accept("UPDATE", "ALTERNATE", "SERVER"):
		return c.updateAltServer(p)
	case p.accept("GET", "SNAPSHOT", "FOR"):
		return c.snapshot(p)
	case p.accept("GET"):
		if p.dbKeyword() && (p.accept("CFG") || p.accept("CONFIG") || p.accept("CONFIGURATION")) {
			return c.getCfg(p)
		}
	case p.accept("BACKUP"):
		return c.backup(p)
	case p.accept("RESTORE"):
		return c.restore(p)
	case p.accept("ROLLFORWARD"):
		return c.rollforward(p)
	case p.accept("START", "HADR", "ON"):
		return c.startHADR(p)
	case p.accept("STOP", "HADR", "ON"):
		return c.stopHADR(p)
	case p.accept("TAKEOVER", "HADR", "ON"):
		return c.takeover(p)
	case p.accept("QUIESCE"):
		return c.quiesce(p, true)
	case p.accept("UNQUIESCE"):
		return c.quiesce(p, false)
	case p.accept("FORCE"):
		return c.forceApps(p)
	case p.accept("LIST"):
		return c.list(p)
	case p.peek("SELECT") || p.peek("INSERT") || p.peek("DELETE") || p.peek("UPDATE") || p.peek("VALUES"):
		return c.sql(p)
	}
	// Not a CLP command: Db2 tries it as SQL, which fails to parse.
	c.say(msgDB21034, sql0104(toks[0].text, "BEGIN-OF-STATEMENT", "<space>"))
	return exitError
}

// isCfgWord tells UPDATE DB CFG (and its spellings) from an SQL UPDATE.
func isCfgWord(w1, w2 string) bool {
	w1, w2 = strings.ToUpper(w1), strings.ToUpper(w2)
	if w1 == "DB" || w1 == "DATABASE" {
		return w2 == "CFG" || w2 == "CONFIG" || w2 == "CONFIGURATION"
	}
	return false
}

// findDB returns the database or the SQL1013N error.
func findDB(st *State, name string) (*Database, error) {
	db := st.DBs[strings.ToUpper(name)]
	if db == nil {
		return nil, fail(exitError, sql1013(strings.ToUpper(name)))
	}
	return db, nil
}

func requireUp(st *State) error {
	if !st.Up {
		return fail(exitError, msgSQL1032)
	}
	return nil
}

// connectable checks what stops a connection to or activation of db.
func connectable(db *Database) error {
	switch {
	case db.Role == RoleStandby:
		return fail(exitError, sql1776(1))
	case db.RollforwardPending:
		return fail(exitError, sql1117(db.Name))
	case db.BackupPending:
		return fail(exitError, sql1116(db.Name))
	}
	return nil
}

// sessionDB is the database the current CLP session is connected to.
func (c *cli) sessionDB(st *State) *Database {
	for _, db := range st.DBs {
		for _, cn := range db.Conns {
			if cn.Session == c.session() {
				return db
			}
		}
	}
	return nil
}

// ensureActive activates db if needed. An HADR primary that is not active
// is started the way ACTIVATE starts it: it must find its standby.
func (c *cli) ensureActive(name string, explicit bool) (already bool, msg string, rc int) {
	var role string
	err := c.update(func(st *State) error {
		if err := requireUp(st); err != nil {
			return err
		}
		db, err := findDB(st, name)
		if err != nil {
			return err
		}
		if db.Active {
			already = db.Explicit // an implicit activation is no activation
			if explicit {
				db.Explicit = true
			}
			return nil
		}
		if db.Role == RolePrimary || db.Role == RoleStandby {
			if db.Role == RolePrimary {
				if err := connectable(db); err != nil {
					return err
				}
			} else if !explicit {
				return fail(exitError, sql1776(1))
			}
			role = db.Role
			return nil
		}
		if err := connectable(db); err != nil {
			return err
		}
		db.Active, db.Explicit, db.ActivatedAt = true, explicit, time.Now()
		return nil
	})
	if err != nil {
		rc := c.reportQuiet(err)
		return false, rc.msg, rc.rc
	}
	if role != "" {
		m, r := c.runHADR(strings.ToUpper(name), role, false)
		if r != exitOK {
			return false, m, r
		}
	}
	return already, "", exitOK
}

// reportQuiet turns an error into a message without printing it.
func (c *cli) reportQuiet(err error) errMsg {
	if em, ok := err.(*errMsg); ok {
		return *em
	}
	return errMsg{msg: "SQL1042C An unexpected system error occurred. SQLSTATE=58004 (" + err.Error() + ")", rc: exitSystem}
}

func (c *cli) connect(p *parser) int {
	if p.accept("RESET") {
		return c.connectReset("DB20000I The SQL command completed successfully.")
	}
	if p.done() {
		return c.connectionInfo()
	}
	if !p.accept("TO") {
		return c.report(p.fail("TO"))
	}
	name, ok := p.value()
	if !ok {
		return c.report(p.fail("<database-alias>"))
	}
	user, pw, err := p.userUsing()
	if err != nil {
		return c.report(err)
	}
	if !p.done() {
		return c.report(p.fail("END-OF-STATEMENT"))
	}
	name = strings.ToUpper(name)
	err = c.update(func(st *State) error {
		db, err := c.usable(st, name, user, pw)
		if err != nil {
			return err
		}
		return connectable(db)
	})
	if err != nil {
		return c.report(err)
	}
	if _, msg, rc := c.ensureActive(name, false); rc != exitOK {
		c.say(msg)
		return rc
	}
	var instance string
	err = c.update(func(st *State) error {
		instance = st.Instance
		for _, d := range st.DBs { // a CLP session has one connection
			d.Conns = dropSession(d.Conns, c.session())
		}
		db := st.DBs[name]
		if !db.Active {
			db.Active, db.ActivatedAt = true, time.Now()
		}
		db.Conns = append(db.Conns, Conn{Session: c.session(), Since: time.Now()})
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	authID := strings.ToUpper(instance)
	if user != "" {
		authID = strings.ToUpper(user)
	}
	c.say("", "   Database Connection Information", "",
		" Database server        = "+c.version().Server,
		" SQL authorization ID   = "+authID,
		" Local database alias   = "+name, "")
	return exitOK
}

func (c *cli) connectionInfo() int {
	var db *Database
	var instance string
	_ = c.update(func(st *State) error { db = c.sessionDB(st); instance = st.Instance; return nil })
	if db == nil {
		c.say(msgSQL1024)
		return exitError
	}
	c.say("", "   Database Connection Information", "",
		" Database server        = "+c.version().Server,
		" SQL authorization ID   = "+strings.ToUpper(instance),
		" Local database alias   = "+db.Name, "")
	return exitOK
}

func dropSession(conns []Conn, session string) []Conn {
	kept := conns[:0]
	for _, cn := range conns {
		if cn.Session != session {
			kept = append(kept, cn)
		}
	}
	return kept
}

// connectReset ends the session's connection; without HADR and explicit
// activation the database deactivates with its last connection.
func (c *cli) connectReset(okText string) int {
	err := c.update(func(st *State) error {
		for _, db := range st.DBs {
			db.Conns = dropSession(db.Conns, c.session())
			if len(db.Conns) == 0 && !db.Explicit && db.DaemonPID == 0 {
				db.Active = false
			}
		}
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	c.say(okText)
	return exitOK
}

func (c *cli) terminate(p *parser) int {
	if !p.done() {
		return c.report(p.fail("END-OF-STATEMENT"))
	}
	return c.connectReset("DB20000I The TERMINATE command completed successfully.")
}

func (c *cli) activate(p *parser) int {
	name, user, pw, err := p.databaseUser(false)
	if err != nil {
		return c.report(err)
	}
	if err := c.update(func(st *State) error { return c.auth(st, user, pw) }); err != nil {
		return c.report(err)
	}
	already, msg, rc := c.ensureActive(name, true)
	if rc != exitOK {
		c.say(msg)
		return rc
	}
	if already {
		c.say(msgSQL1490)
		return exitWarning
	}
	c.say(okMsg("ACTIVATE DATABASE"))
	return exitOK
}

func (c *cli) deactivate(p *parser) int {
	name, user, pw, err := p.databaseUser(false)
	if err != nil {
		return c.report(err)
	}
	name = strings.ToUpper(name)
	var pid int
	var warn string
	err = c.update(func(st *State) error {
		db, err := c.usable(st, name, user, pw)
		if err != nil {
			return err
		}
		switch {
		case !db.Active:
			warn = msgSQL1496
		case len(db.Conns) > 0:
			db.Explicit = false
			warn = msgSQL1495
		default:
			pid = db.DaemonPID
			db.Active, db.Explicit, db.DaemonPID, db.Quiesced = false, false, 0, false
		}
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	if pid != 0 {
		c.stopDaemon(name, pid, "database deactivated")
	}
	c.store.Journal("DEACTIVATE DATABASE %s", name)
	if warn != "" {
		c.say(warn)
		return exitWarning
	}
	c.say(okMsg("DEACTIVATE DATABASE"))
	return exitOK
}

func (c *cli) forceApps(p *parser) int {
	if !(p.accept("APPLICATIONS") || p.accept("APPLICATION")) || !p.accept("ALL") {
		return c.report(p.fail("ALL"))
	}
	err := c.update(func(st *State) error {
		if err := requireUp(st); err != nil {
			return err
		}
		for _, db := range st.DBs {
			db.Conns = nil
			if !db.Explicit && db.DaemonPID == 0 {
				db.Active = false
			}
		}
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	c.store.Journal("FORCE APPLICATIONS ALL")
	c.say(okMsg("FORCE APPLICATION"), msgDB21024)
	return exitOK
}

func (c *cli) quiesce(p *parser, on bool) int {
	if !p.dbKeyword() {
		return c.report(p.fail("DATABASE"))
	}
	force := false
	if on {
		if !(p.accept("IMMEDIATE") || p.accept("DEFER")) {
			return c.report(p.fail("IMMEDIATE"))
		}
		if p.accept("WITH", "TIMEOUT") {
			if _, ok := p.value(); !ok {
				return c.report(p.fail("<minutes>"))
			}
		}
		force = p.accept("FORCE", "CONNECTIONS")
	}
	if !p.done() {
		return c.report(p.fail("END-OF-STATEMENT"))
	}
	err := c.update(func(st *State) error {
		db := c.sessionDB(st)
		if db == nil {
			return fail(exitError, msgSQL1024)
		}
		db.Quiesced = on
		if force {
			var mine []Conn
			for _, cn := range db.Conns {
				if cn.Session == c.session() {
					mine = append(mine, cn)
				}
			}
			db.Conns = mine
		}
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	if on {
		c.say(okMsg("QUIESCE DATABASE"))
	} else {
		c.say(okMsg("UNQUIESCE DATABASE"))
	}
	return exitOK
}

// cfgTarget parses [FOR db] and resolves the database (the session's
// connection when FOR is absent).
func (c *cli) cfgTarget(p *parser, st *State) (*Database, error) {
	if p.accept("FOR") {
		name, ok := p.value()
		if !ok {
			return nil, p.fail("<database-alias>")
		}
		return findDB(st, name)
	}
	db := c.sessionDB(st)
	if db == nil {
		return nil, fail(exitError, msgSQL1024)
	}
	return db, nil
}

func (c *cli) updateCfg(p *parser) int {
	p.dbKeyword()
	if !(p.accept("CFG") || p.accept("CONFIG") || p.accept("CONFIGURATION")) {
		return c.report(p.fail("CFG"))
	}
	warn := false
	var changed []string
	err := c.update(func(st *State) error {
		if err := requireUp(st); err != nil {
			return err
		}
		db, err := c.cfgTarget(p, st)
		if err != nil {
			return err
		}
		if !p.accept("USING") {
			return p.fail("USING")
		}
		if p.done() {
			return p.fail("<parameter-name>")
		}
		updates := map[string]string{}
		for !p.done() {
			if p.peek("IMMEDIATE") || p.peek("DEFERRED") {
				p.i++
				if !p.done() {
					return p.fail("END-OF-STATEMENT")
				}
				break
			}
			name, _ := p.value()
			param, ok := cfgParams[strings.ToUpper(name)]
			if !ok {
				p.i--
				return p.fail("<parameter-name>")
			}
			v, ok := p.value()
			if !ok {
				return p.fail("<parameter-value>")
			}
			norm, msg := param.norm(v)
			if msg != "" {
				return fail(exitError, msg)
			}
			updates[param.name] = norm
		}
		for k, v := range updates {
			if strings.HasPrefix(k, "LOGARCHMETH") && v != "OFF" && !db.recoverable() {
				// "the database is placed in backup pending state" when it
				// moves from circular to archive logging (IBM 11.5
				// logarchmeth1, r0011448; SQL1116N on the next connect).
				db.BackupPending = true
			}
			if db.Cfg[k] != v {
				changed = append(changed, k+"="+v)
			}
			db.Cfg[k] = v
			if db.Active && cfgParams[k].static {
				warn = true
			}
		}
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	c.store.Journal("UPDATE DB CFG %s", strings.Join(changed, " "))
	c.say(okMsg("UPDATE DATABASE CONFIGURATION"))
	if warn {
		c.say(msgSQL1363)
		return exitWarning
	}
	return exitOK
}

func (c *cli) updateAltServer(p *parser) int {
	if !p.accept("FOR") || !p.dbKeyword() {
		return c.report(p.fail("FOR DATABASE"))
	}
	name, ok := p.value()
	if !ok {
		return c.report(p.fail("<database-alias>"))
	}
	if !p.accept("USING", "HOSTNAME") {
		return c.report(p.fail("USING HOSTNAME"))
	}
	host, ok := p.value()
	if !ok {
		return c.report(p.fail("<hostname>"))
	}
	if !p.accept("PORT") {
		return c.report(p.fail("PORT"))
	}
	port, ok := p.value()
	if !ok {
		return c.report(p.fail("<port-number>"))
	}
	if !p.done() {
		return c.report(p.fail("END-OF-STATEMENT"))
	}
	err := c.update(func(st *State) error {
		db, err := findDB(st, name)
		if err != nil {
			return err
		}
		db.AltHost, db.AltPort = host, port
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	c.say(okMsg("UPDATE ALTERNATE SERVER FOR DATABASE"), msgDB21056)
	return exitOK
}

func (c *cli) getCfg(p *parser) int {
	var out strings.Builder
	err := c.update(func(st *State) error {
		db, err := c.cfgTarget(p, st)
		if err != nil {
			return err
		}
		p.accept("SHOW", "DETAIL")
		if !p.done() {
			return p.fail("END-OF-STATEMENT")
		}
		writeCfg(&out, c.version(), st, db)
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	fmt.Fprint(c.env.Stdout, out.String())
	return exitOK
}

func (c *cli) list(p *parser) int {
	switch {
	case p.dbKeyword() || p.accept("DATABASE"):
		if !p.accept("DIRECTORY") {
			return c.report(p.fail("DIRECTORY"))
		}
		var out strings.Builder
		_ = c.update(func(st *State) error {
			fmt.Fprintf(&out, "\n System Database Directory\n\n Number of entries in the directory = %d\n\n", len(st.DBs))
			n := 0
			for _, db := range sortedDBs(st) {
				n++
				fmt.Fprintf(&out, "Database %d entry:\n\n", n)
				kv := [][2]string{{"Database alias", db.Name}, {"Database name", db.Name},
					{"Local database directory", "/var/lib/db2"}, {"Database release level", "d.00"},
					{"Comment", ""}, {"Directory entry type", "Indirect"}, {"Catalog database partition number", "0"},
					{"Alternate server hostname", db.AltHost}, {"Alternate server port number", db.AltPort}}
				for _, e := range kv {
					fmt.Fprintf(&out, " %-36s = %s\n", e[0], e[1])
				}
				fmt.Fprintln(&out)
			}
			return nil
		})
		fmt.Fprint(c.env.Stdout, out.String())
		return exitOK
	case p.accept("TABLES"):
		return c.listTables()
	case p.accept("APPLICATIONS") || p.accept("APPLICATION"):
		return c.listApplications()
	}
	return c.report(p.fail("DATABASE DIRECTORY"))
}

func (c *cli) listTables() int {
	var out strings.Builder
	err := c.update(func(st *State) error {
		db := c.sessionDB(st)
		if db == nil {
			return fail(exitError, msgSQL1024)
		}
		fmt.Fprintf(&out, "\n%-31s %-15s %-5s %-26s\n", "Table/View", "Schema", "Type", "Creation time")
		fmt.Fprintf(&out, "%s %s %s %s\n", strings.Repeat("-", 31), strings.Repeat("-", 15), strings.Repeat("-", 5), strings.Repeat("-", 26))
		for _, t := range db.Tables {
			fmt.Fprintf(&out, "%-31s %-15s %-5s %-26s\n", t.Name, strings.ToUpper(st.Instance), "T", db.Created.Format("2006-01-02-15.04.05.000000"))
		}
		fmt.Fprintf(&out, "\n  %d record(s) selected.\n\n", len(db.Tables))
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	fmt.Fprint(c.env.Stdout, out.String())
	return exitOK
}

func (c *cli) listApplications() int {
	var out strings.Builder
	n := 0
	err := c.update(func(st *State) error {
		if err := requireUp(st); err != nil {
			return err
		}
		fmt.Fprintf(&out, "\nAuth Id  Application    Appl.      Application Id                                                 DB       # of\n")
		fmt.Fprintf(&out, "         Name           Handle                                                                    Name    Agents\n")
		fmt.Fprintf(&out, "-------- -------------- ---------- -------------------------------------------------------------- -------- -----\n")
		for _, db := range sortedDBs(st) {
			for _, cn := range db.Conns {
				n++
				fmt.Fprintf(&out, "%-8s %-14s %-10d %-62s %-8s %d\n", strings.ToUpper(st.Instance), "db2bp", 6+n,
					"*LOCAL."+st.Instance+"."+cn.Since.Format("060102150405"), db.Name, 1)
			}
		}
		fmt.Fprintln(&out)
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	if n == 0 {
		c.say(msgSQL1611)
		return exitWarning
	}
	fmt.Fprint(c.env.Stdout, out.String())
	return exitOK
}

func sortedDBs(st *State) []*Database {
	var dbs []*Database
	for _, db := range st.DBs {
		dbs = append(dbs, db)
	}
	for i := 1; i < len(dbs); i++ {
		for j := i; j > 0 && dbs[j].Name < dbs[j-1].Name; j-- {
			dbs[j], dbs[j-1] = dbs[j-1], dbs[j]
		}
	}
	return dbs
}
