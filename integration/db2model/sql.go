package db2model

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The SQL subset: INSERT INTO t [(cols)] VALUES (...)[, (...)],
// DELETE FROM t [WHERE col = 'v'], UPDATE t SET col = 'v'[, ...]
// [WHERE col = 'v'], SELECT */cols/COUNT(*) FROM t [WHERE col = 'v'].

type stmt struct {
	kind   string // select, insert, update, delete
	table  string
	cols   []string // select list or insert column list
	count  bool
	rows   [][]*string
	set    map[string]*string
	where  bool
	wcol   string
	wval   *string
	wnull  bool
	source string
}

func (p *parser) tableName() (string, error) {
	n, ok := p.value()
	if !ok {
		return "", p.fail("<table-name>")
	}
	if i := strings.LastIndexByte(n, '.'); i >= 0 {
		n = n[i+1:]
	}
	return strings.ToUpper(n), nil
}

// literal parses 'text', a number or NULL.
func (p *parser) literal() (*string, error) {
	if p.done() {
		return nil, p.fail("<literal>")
	}
	t := p.toks[p.i]
	switch {
	case t.kind == tString:
		p.i++
		v := t.text
		return &v, nil
	case t.kind == tWord && strings.EqualFold(t.text, "NULL"):
		p.i++
		return nil, nil
	case t.kind == tWord:
		if _, err := strconv.ParseFloat(t.text, 64); err == nil {
			p.i++
			v := t.text
			return &v, nil
		}
	}
	return nil, p.fail("<literal>")
}

func (p *parser) whereClause(s *stmt) error {
	if !p.accept("WHERE") {
		return nil
	}
	col, ok := p.value()
	if !ok {
		return p.fail("<column-name>")
	}
	s.where, s.wcol = true, strings.ToUpper(col)
	if p.accept("IS", "NULL") {
		s.wnull = true
		return nil
	}
	if !p.acceptPunct("=") {
		return p.fail("=")
	}
	v, err := p.literal()
	if err != nil {
		return err
	}
	s.wval = v
	return nil
}

func parseSQL(p *parser) (*stmt, error) {
	s := &stmt{}
	switch {
	case p.accept("SELECT"):
		s.kind = "select"
		if p.acceptPunct("*") {
		} else if p.accept("COUNT") {
			if !p.acceptPunct("(") || !p.acceptPunct("*") || !p.acceptPunct(")") {
				return nil, p.fail("(*)")
			}
			s.count = true
		} else {
			for {
				col, ok := p.value()
				if !ok {
					return nil, p.fail("<column-name>")
				}
				s.cols = append(s.cols, strings.ToUpper(col))
				if !p.acceptPunct(",") {
					break
				}
			}
		}
		if !p.accept("FROM") {
			return nil, p.fail("FROM")
		}
		t, err := p.tableName()
		if err != nil {
			return nil, err
		}
		s.table = t
		if err := p.whereClause(s); err != nil {
			return nil, err
		}
	case p.accept("INSERT", "INTO"):
		s.kind = "insert"
		t, err := p.tableName()
		if err != nil {
			return nil, err
		}
		s.table = t
		if p.acceptPunct("(") {
			for {
				col, ok := p.value()
				if !ok {
					return nil, p.fail("<column-name>")
				}
				s.cols = append(s.cols, strings.ToUpper(col))
				if p.acceptPunct(")") {
					break
				}
				if !p.acceptPunct(",") {
					return nil, p.fail(",")
				}
			}
		}
		if !p.accept("VALUES") {
			return nil, p.fail("VALUES")
		}
		for {
			if !p.acceptPunct("(") {
				return nil, p.fail("(")
			}
			var row []*string
			for {
				v, err := p.literal()
				if err != nil {
					return nil, err
				}
				row = append(row, v)
				if p.acceptPunct(")") {
					break
				}
				if !p.acceptPunct(",") {
					return nil, p.fail(",")
				}
			}
			s.rows = append(s.rows, row)
			if !p.acceptPunct(",") {
				break
			}
		}
	case p.accept("DELETE", "FROM"):
		s.kind = "delete"
		t, err := p.tableName()
		if err != nil {
			return nil, err
		}
		s.table = t
		if err := p.whereClause(s); err != nil {
			return nil, err
		}
	case p.accept("UPDATE"):
		s.kind = "update"
		t, err := p.tableName()
		if err != nil {
			return nil, err
		}
		s.table = t
		if !p.accept("SET") {
			return nil, p.fail("SET")
		}
		s.set = map[string]*string{}
		for {
			col, ok := p.value()
			if !ok {
				return nil, p.fail("<column-name>")
			}
			if !p.acceptPunct("=") {
				return nil, p.fail("=")
			}
			v, err := p.literal()
			if err != nil {
				return nil, err
			}
			s.set[strings.ToUpper(col)] = v
			if !p.acceptPunct(",") {
				break
			}
		}
		if err := p.whereClause(s); err != nil {
			return nil, err
		}
	default:
		return nil, p.fail("SELECT")
	}
	if !p.done() {
		return nil, p.fail("END-OF-STATEMENT")
	}
	return s, nil
}

func colIndex(t *Table, name string) int {
	for i, c := range t.Cols {
		if c.Name == name {
			return i
		}
	}
	return -1
}

func matches(s *stmt, t *Table, row []*string) bool {
	if !s.where {
		return true
	}
	v := row[colIndex(t, s.wcol)]
	if s.wnull {
		return v == nil
	}
	return v != nil && s.wval != nil && *v == *s.wval
}

// ops validates a write against the table and turns it into log records'
// operations; n is the number of rows it changes.
func (s *stmt) ops(schema string, t *Table) ([]Op, int, error) {
	full := schema + "." + t.Name
	if s.where && colIndex(t, s.wcol) < 0 {
		return nil, 0, fail(exitError, sql0206(s.wcol))
	}
	keyOf := func(row []*string) string {
		if row[t.Key] == nil {
			return "\x00"
		}
		return *row[t.Key]
	}
	keys := map[string]bool{}
	for _, r := range t.Rows {
		keys[keyOf(r)] = true
	}
	switch s.kind {
	case "insert":
		var ops []Op
		for _, vals := range s.rows {
			row := make([]*string, len(t.Cols))
			if len(s.cols) > 0 {
				if len(vals) != len(s.cols) {
					return nil, 0, fail(exitError, msgSQL0117)
				}
				for i, c := range s.cols {
					j := colIndex(t, c)
					if j < 0 {
						return nil, 0, fail(exitError, sql0206(c))
					}
					row[j] = vals[i]
				}
			} else {
				if len(vals) != len(t.Cols) {
					return nil, 0, fail(exitError, msgSQL0117)
				}
				copy(row, vals)
			}
			if row[t.Key] == nil {
				return nil, 0, fail(exitError, fmt.Sprintf(`SQL0407N Assignment of a NULL value to a NOT NULL column "TBSPACEID=2, TABLEID=4, COLNO=%d" is not allowed. SQLSTATE=23502`, t.Key))
			}
			if keys[keyOf(row)] {
				return nil, 0, fail(exitError, sql0803(full))
			}
			keys[keyOf(row)] = true
			ops = append(ops, Op{Kind: "insert", Table: t.Name, Row: row})
		}
		return ops, len(ops), nil
	case "delete", "update":
		n := 0
		for _, r := range t.Rows {
			if matches(s, t, r) {
				n++
			}
		}
		op := Op{Kind: s.kind, Table: t.Name, Where: s.where, Col: s.wcol, Val: s.wval}
		if s.wnull {
			// Only equality is logged; IS NULL matches are expanded by key.
			var ops []Op
			for _, r := range t.Rows {
				if matches(s, t, r) && r[t.Key] != nil {
					o := Op{Kind: s.kind, Table: t.Name, Where: true, Col: t.Cols[t.Key].Name, Val: r[t.Key], Set: s.set}
					ops = append(ops, o)
				}
			}
			return ops, n, nil
		}
		if s.kind == "update" {
			for c, v := range s.set {
				if colIndex(t, c) < 0 {
					return nil, 0, fail(exitError, sql0206(c))
				}
				if c == t.Cols[t.Key].Name {
					if v == nil {
						return nil, 0, fail(exitError, msgSQL0117)
					}
					if n > 1 || keys[*v] && (s.wval == nil || *s.wval != *v) {
						return nil, 0, fail(exitError, sql0803(full))
					}
				}
			}
			op.Set = s.set
		}
		if n == 0 {
			return nil, 0, nil
		}
		return []Op{op}, n, nil
	}
	return nil, 0, fmt.Errorf("not a write: %s", s.kind)
}

// sql runs an SQL statement on the session's database, or on DB2DBDFT by
// an implicit connection.
func (c *cli) sql(p *parser) int {
	s, err := parseSQL(p)
	if err != nil {
		return c.report(err)
	}
	// Find the database to run on.
	var name string
	err = c.update(func(st *State) error {
		if err := requireUp(st); err != nil {
			return err
		}
		if db := c.sessionDB(st); db != nil {
			name = db.Name
			return nil
		}
		dft := strings.ToUpper(c.env.Getenv(EnvDefaultDB))
		if dft == "" {
			return fail(exitError, msgSQL1024)
		}
		db, err := findDB(st, dft)
		if err != nil {
			return err
		}
		if err := connectable(db); err != nil {
			return err
		}
		name = db.Name
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	if _, msg, rc := c.ensureActive(name, false); rc != exitOK {
		c.say(msg)
		return rc
	}
	// An implicit connection stays with the CLP session, as with DB2DBDFT.
	err = c.update(func(st *State) error {
		if c.sessionDB(st) == nil {
			db := st.DBs[name]
			db.Active = true
			db.Conns = append(db.Conns, Conn{Session: c.session(), Since: time.Now()})
		}
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	if s.kind == "select" {
		return c.selectRows(s, name)
	}
	var last uint64
	var n int
	var hadr bool
	var peerWait time.Duration
	err = c.update(func(st *State) error {
		db := st.DBs[name]
		if err := connectable(db); err != nil {
			return err
		}
		if db.Disabled || db.Role == RolePrimary && !db.Active {
			return fail(exitError, sql1776(1))
		}
		t := db.Tables[s.table]
		if t == nil {
			return fail(exitError, sql0204(strings.ToUpper(st.Instance)+"."+s.table))
		}
		ops, count, err := s.ops(strings.ToUpper(st.Instance), t)
		if err != nil {
			return err
		}
		n = count
		now := time.Now()
		for _, op := range ops {
			rec, err := db.Append(op, now)
			if err != nil {
				return err
			}
			last = rec.LSN
		}
		hadr = db.Role == RolePrimary && db.DaemonPID != 0 && len(ops) > 0
		pwin, _ := strconv.Atoi(db.Cfg["HADR_PEER_WINDOW"])
		tmo, _ := strconv.Atoi(db.Cfg["HADR_TIMEOUT"])
		peerWait = time.Duration(pwin+tmo)*time.Second + 5*time.Second
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	c.store.Journal("SQL %s on %s: %d row(s), log end %d", s.kind, s.table, n, last)
	if hadr {
		resp, err := c.ctl(name, ctlReq{Op: "ship", LSN: last}, peerWait)
		if err != nil || !resp.OK {
			c.store.Journal("commit at %d not confirmed by HADR: %v %s", last, err, resp.Err)
		}
	}
	if n == 0 && s.kind != "insert" {
		c.say(msgSQL0100)
		return exitNoRows
	}
	c.say("DB20000I The SQL command completed successfully.")
	return exitOK
}

// selectRows prints the result the way the CLP does: a header padded to
// the column widths, dashes, the rows ("-" for NULL) and the count.
func (c *cli) selectRows(s *stmt, name string) int {
	var out strings.Builder
	rows := 0
	err := c.update(func(st *State) error {
		db := st.DBs[name]
		t := db.Tables[s.table]
		if t == nil {
			return fail(exitError, sql0204(strings.ToUpper(st.Instance)+"."+s.table))
		}
		if s.where && colIndex(t, s.wcol) < 0 {
			return fail(exitError, sql0206(s.wcol))
		}
		var match [][]*string
		for _, r := range t.Rows {
			if matches(s, t, r) {
				match = append(match, r)
			}
		}
		if s.count {
			n := strconv.Itoa(len(match))
			fmt.Fprintf(&out, "\n1          \n-----------\n%11s\n\n  1 record(s) selected.\n\n", n)
			rows = 1
			return nil
		}
		idx := []int{}
		if len(s.cols) == 0 {
			for i := range t.Cols {
				idx = append(idx, i)
			}
		}
		for _, c := range s.cols {
			i := colIndex(t, c)
			if i < 0 {
				return fail(exitError, sql0206(c))
			}
			idx = append(idx, i)
		}
		var head, dash []string
		for _, i := range idx {
			w := max(t.Cols[i].Width, len(t.Cols[i].Name))
			head = append(head, fmt.Sprintf("%-*s", w, t.Cols[i].Name))
			dash = append(dash, strings.Repeat("-", w))
		}
		fmt.Fprintf(&out, "\n%s\n%s\n", strings.Join(head, " "), strings.Join(dash, " "))
		for _, r := range match {
			var cells []string
			for _, i := range idx {
				v := "-"
				if r[i] != nil {
					v = *r[i]
				}
				cells = append(cells, fmt.Sprintf("%-*s", max(t.Cols[i].Width, len(t.Cols[i].Name)), v))
			}
			fmt.Fprintln(&out, strings.Join(cells, " "))
		}
		rows = len(match)
		fmt.Fprintf(&out, "\n  %d record(s) selected.\n\n", rows)
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	fmt.Fprint(c.env.Stdout, out.String())
	if rows == 0 {
		return exitNoRows
	}
	return exitOK
}
