package db2model

import (
	"strconv"
	"time"
)

// runHADR starts the HADR daemon of db in role (PRIMARY or STANDBY). A
// primary started without BY FORCE must see its standby connect within
// HADR_TIMEOUT, or HADR does not start (SQL1768N reason code 7). On failure
// the database's previous role and activation are restored.
func (c *cli) runHADR(name, role string, force bool) (string, int) {
	var prevRole string
	var prevActive, prevExplicit bool
	var timeout time.Duration
	err := c.update(func(st *State) error {
		db, err := findDB(st, name)
		if err != nil {
			return err
		}
		cfg, msg := resolveHADR(st, db, c.servicesFile())
		if msg != "" {
			return fail(exitError, msg)
		}
		timeout = cfg.Timeout
		prevRole, prevActive, prevExplicit = db.Role, db.Active, db.Explicit
		db.Role = role
		return nil
	})
	if err != nil {
		m := c.reportQuiet(err)
		return m.msg, m.rc
	}
	rollback := func() {
		_ = c.update(func(st *State) error {
			if db := st.DBs[name]; db != nil {
				db.Role, db.Active, db.Explicit, db.DaemonPID = prevRole, prevActive, prevExplicit, 0
			}
			return nil
		})
	}
	pid, msg := c.spawnDaemon(name)
	if msg != "" {
		rollback()
		return msg, exitError
	}
	if role == RolePrimary && !force {
		deadline := time.Now().Add(timeout + 500*time.Millisecond)
		connected := false
		for time.Now().Before(deadline) {
			if in, err := c.hadrStatus(name); err == nil && in.ConnectStatus == "CONNECTED" {
				connected = true
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !connected {
			c.stopDaemon(name, pid, "no standby within HADR_TIMEOUT")
			rollback()
			return sql1768(7), exitError
		}
	}
	err = c.update(func(st *State) error {
		db := st.DBs[name]
		db.DaemonPID = pid
		db.Active, db.Explicit, db.Disabled = true, true, false
		db.ActivatedAt = time.Now()
		if role == RoleStandby {
			// The standby replays the primary's log: roll-forward is in
			// progress, not pending, until HADR stops.
			db.RollforwardPending = false
			db.Conns, db.Quiesced = nil, false
		}
		return nil
	})
	if err != nil {
		c.stopDaemon(name, pid, "state update failed")
		m := c.reportQuiet(err)
		return m.msg, m.rc
	}
	c.store.Journal("HADR started on %s as %s (pid %d, force=%v)", name, role, pid, force)
	return "", exitOK
}

func (c *cli) startHADR(p *parser) int {
	name, user, pw, err := p.databaseUser(true)
	if err != nil {
		return c.report(err)
	}
	if !p.accept("AS") {
		return c.report(p.fail("AS"))
	}
	var role string
	force := false
	switch {
	case p.accept("PRIMARY"):
		role = RolePrimary
		force = p.accept("BY", "FORCE")
	case p.accept("STANDBY"):
		role = RoleStandby
	default:
		return c.report(p.fail("PRIMARY"))
	}
	if !p.done() {
		return c.report(p.fail("END-OF-STATEMENT"))
	}
	err = c.update(func(st *State) error {
		db, err := c.usable(st, name, user, pw)
		if err != nil {
			return err
		}
		if db.Active && db.Role == role {
			return fail(exitError, msgSQL1777)
		}
		if _, msg := resolveHADR(st, db, c.servicesFile()); msg != "" {
			return fail(exitError, msg)
		}
		if role == RoleStandby {
			switch {
			case db.Active:
				return fail(exitError, sql1767(1))
			case db.RollforwardPending || db.Role == RolePrimary || db.Role == RoleStandby:
				return nil // restored image, or reintegration of an old primary
			}
			return fail(exitError, sql1767(1))
		}
		if db.Role == RoleStandby {
			return fail(exitError, sql1767(2))
		}
		return connectable(db)
	})
	if err != nil {
		return c.report(err)
	}
	if msg, rc := c.runHADR(name, role, force); rc != exitOK {
		c.say(msg)
		return rc
	}
	c.say(okMsg("START HADR ON DATABASE"))
	return exitOK
}

func (c *cli) stopHADR(p *parser) int {
	name, user, pw, err := p.databaseUser(true)
	if err != nil {
		return c.report(err)
	}
	if !p.done() {
		return c.report(p.fail("END-OF-STATEMENT"))
	}
	var pid int
	err = c.update(func(st *State) error {
		db, err := c.usable(st, name, user, pw)
		if err != nil {
			return err
		}
		switch db.Role {
		case RoleStandard:
			return fail(exitError, sql1769(1))
		case RoleStandby:
			if db.Active {
				return fail(exitError, sql1769(2))
			}
			db.Role, db.RollforwardPending = RoleStandard, true
		case RolePrimary:
			pid = db.DaemonPID
			db.Role, db.DaemonPID, db.Disabled = RoleStandard, 0, false
		}
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	if pid != 0 {
		c.stopDaemon(name, pid, "STOP HADR on the primary")
	}
	c.store.Journal("STOP HADR ON DATABASE %s", name)
	c.say(okMsg("STOP HADR ON DATABASE"))
	return exitOK
}

func (c *cli) takeover(p *parser) int {
	name, user, pw, err := p.databaseUser(true)
	if err != nil {
		return c.report(err)
	}
	force, pwo := false, false
	if p.accept("BY", "FORCE") {
		force = true
		pwo = p.accept("PEER", "WINDOW", "ONLY")
	}
	if !p.done() {
		return c.report(p.fail("END-OF-STATEMENT"))
	}
	var timeout time.Duration
	err = c.update(func(st *State) error {
		db, err := c.usable(st, name, user, pw)
		if err != nil {
			return err
		}
		if db.Role != RoleStandby {
			return fail(exitError, sql1770(1))
		}
		if !db.Active || db.DaemonPID == 0 {
			return fail(exitError, sql1770(2))
		}
		t, _ := strconv.Atoi(db.Cfg["HADR_TIMEOUT"])
		timeout = time.Duration(t) * time.Second
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	resp, err := c.ctl(name, ctlReq{Op: "takeover", Force: force, PWO: pwo}, timeout+10*time.Second)
	if err != nil {
		c.say(sql1770(7))
		return exitError
	}
	c.store.Journal("TAKEOVER HADR ON DATABASE %s force=%v peerWindowOnly=%v: %s", name, force, pwo, resp.Msg)
	c.say(resp.Msg)
	return resp.RC
}
