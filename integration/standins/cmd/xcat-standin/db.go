package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"

	"github.com/hamnflow/hamnflow/integration/standins"
)

// Node is one row of xCAT's nodelist table (the columns the stand-in keeps).
type Node struct {
	Name   string `json:"node"`
	Groups string `json:"groups,omitempty"`
	Status string `json:"status,omitempty"`
}

// nodeStore is where the node definitions live: the xCAT database named
// by /etc/xcat/cfgloc, or a local file when there is none.
type nodeStore interface {
	List() ([]Node, error)
	Insert(Node) error
	Update(Node) error
	Delete(name string) error
}

// cfgLoc is a parsed /etc/xcat/cfgloc: "TYPE:CONNECTION|USER|PASSWORD".
type cfgLoc struct {
	Kind     string // Pg, DB2, mysql, SQLite
	Conn     string // Pg: "dbname=xcatdb;host=ADDR;port=5432"; DB2: database name
	User     string
	Password string
}

func parseCfgLoc(s string) (cfgLoc, error) {
	s = strings.TrimSpace(s)
	kind, rest, ok := strings.Cut(s, ":")
	if !ok || kind == "" {
		return cfgLoc{}, fmt.Errorf("%s: cannot parse %q", standins.CfgLoc, s)
	}
	f := strings.Split(rest, "|")
	for len(f) < 3 {
		f = append(f, "")
	}
	return cfgLoc{Kind: kind, Conn: f[0], User: f[1], Password: strings.Join(f[2:], "|")}, nil
}

// pgConnInfo turns cfgloc's "dbname=x;host=y;port=z" into libpq's
// "dbname=x host=y port=z user=u".
func (c cfgLoc) pgConnInfo() string {
	var parts []string
	for _, kv := range strings.Split(c.Conn, ";") {
		if kv = strings.TrimSpace(kv); kv != "" {
			parts = append(parts, kv)
		}
	}
	if c.User != "" {
		parts = append(parts, "user="+c.User)
	}
	return strings.Join(parts, " ")
}

// nodeStore opens the node store this host's xCAT would use.
func (a *app) nodeStore() (nodeStore, error) {
	data, err := os.ReadFile(a.path(standins.CfgLoc))
	if errors.Is(err, os.ErrNotExist) {
		return jsonStore{a: a}, nil
	}
	if err != nil {
		return nil, err
	}
	loc, err := parseCfgLoc(string(data))
	if err != nil {
		return nil, err
	}
	switch loc.Kind {
	case "Pg":
		return pgStore{loc: loc}, nil
	case "DB2":
		return db2Store{loc: loc}, nil
	}
	return nil, fmt.Errorf("the xCAT database type %q in %s is not supported by the stand-in yet", loc.Kind, standins.CfgLoc)
}

// findNode returns the named node from list.
func findNode(list []Node, name string) (Node, bool) {
	for _, n := range list {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// jsonStore keeps nodes in /opt/xcat/var/nodes.json, standing in for
// xCAT's default SQLite database.
type jsonStore struct{ a *app }

type nodesFile struct {
	Nodes []Node `json:"nodes"`
}

func (s jsonStore) List() ([]Node, error) {
	var f nodesFile
	err := readJSON(s.a.path(standins.NodesJSON), &f)
	return f.Nodes, err
}

// change applies fn to the node list under the state lock.
func (s jsonStore) change(fn func([]Node) ([]Node, error)) error {
	unlock, err := s.a.lock()
	if err != nil {
		return err
	}
	defer unlock()
	list, err := s.List()
	if err != nil {
		return err
	}
	if list, err = fn(list); err != nil {
		return err
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return writeJSON(s.a.path(standins.NodesJSON), nodesFile{Nodes: list})
}

func (s jsonStore) Insert(n Node) error {
	return s.change(func(list []Node) ([]Node, error) {
		if _, ok := findNode(list, n.Name); ok {
			return nil, fmt.Errorf("node %s already exists", n.Name)
		}
		return append(list, n), nil
	})
}

func (s jsonStore) Update(n Node) error {
	return s.change(func(list []Node) ([]Node, error) {
		for i := range list {
			if list[i].Name == n.Name {
				list[i] = n
			}
		}
		return list, nil
	})
}

func (s jsonStore) Delete(name string) error {
	return s.change(func(list []Node) ([]Node, error) {
		out := list[:0]
		for _, n := range list {
			if n.Name != name {
				out = append(out, n)
			}
		}
		return out, nil
	})
}

// sqlQuote quotes s as an SQL string literal; empty is NULL.
func sqlQuote(s string) string {
	if s == "" {
		return "NULL"
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// pgStore runs psql against the PostgreSQL database named by cfgloc.
type pgStore struct{ loc cfgLoc }

const pgCreate = "CREATE TABLE IF NOT EXISTS nodelist (node text PRIMARY KEY, groups text, status text)"

// psql runs sql and returns the unaligned, unit-separator-delimited rows.
func (s pgStore) psql(sql string) (string, error) {
	cmd := exec.Command("psql", "-X", "-q", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
		"-d", s.loc.pgConnInfo(), "-c", sql)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+s.loc.Password, "PGCONNECT_TIMEOUT=5")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", errors.New(msg)
	}
	return stdout.String(), nil
}

func pgNoTable(err error) bool {
	return err != nil && strings.Contains(err.Error(), `relation "nodelist" does not exist`)
}

func (s pgStore) List() ([]Node, error) {
	out, err := s.psql("SELECT node, groups, status FROM nodelist ORDER BY node")
	if pgNoTable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var list []Node
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\x1f")
		for len(f) < 3 {
			f = append(f, "")
		}
		list = append(list, Node{Name: f[0], Groups: f[1], Status: f[2]})
	}
	return list, nil
}

func (s pgStore) Insert(n Node) error {
	_, err := s.psql(pgCreate + "; INSERT INTO nodelist (node, groups, status) VALUES (" +
		sqlQuote(n.Name) + ", " + sqlQuote(n.Groups) + ", " + sqlQuote(n.Status) + ")")
	return err
}

func (s pgStore) Update(n Node) error {
	_, err := s.psql("UPDATE nodelist SET groups = " + sqlQuote(n.Groups) + ", status = " + sqlQuote(n.Status) +
		" WHERE node = " + sqlQuote(n.Name))
	return err
}

func (s pgStore) Delete(name string) error {
	_, err := s.psql("DELETE FROM nodelist WHERE node = " + sqlQuote(name))
	if pgNoTable(err) {
		return nil
	}
	return err
}

// db2Store runs the db2 command line processor as the instance owner
// (su - OWNER -c ...), as xCAT's DB2 setup does.
type db2Store struct{ loc cfgLoc }

const db2Create = "CREATE TABLE nodelist (node VARCHAR(128) NOT NULL PRIMARY KEY, groups VARCHAR(1024), status VARCHAR(64))"

// db2Error is a failed db2 statement: its CLP exit code and SQL message.
type db2Error struct {
	rc  int
	msg string
}

func (e *db2Error) Error() string { return e.msg }

var sqlMsg = regexp.MustCompile(`SQL\d{4,5}[NWC]\b.*`)

// db2Script is the shell script that connects, runs stmts in order
// (stopping at the first error: CLP exit code 4 or more) and disconnects.
func db2Script(db string, stmts []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "out=$(db2 connect to %s 2>&1); rc=$?\n", shQuote(db))
	b.WriteString("if [ \"$rc\" -ge 4 ]; then printf '%s\\n' \"$out\"; exit \"$rc\"; fi\n")
	for _, st := range stmts {
		fmt.Fprintf(&b, "db2 %s; rc=$?\n", shQuote(st))
		b.WriteString("if [ \"$rc\" -ge 4 ]; then db2 connect reset >/dev/null 2>&1; exit \"$rc\"; fi\n")
	}
	b.WriteString("db2 connect reset >/dev/null 2>&1\nexit \"$rc\"\n")
	return b.String()
}

// db2 runs stmts and returns the CLP's output; exit codes 1 (no row) and
// 2 (warning) are successes, as for xCAT.
func (s db2Store) db2(stmts ...string) (string, error) {
	script := db2Script(s.loc.Conn, stmts)
	var cmd *exec.Cmd
	if s.loc.User == "" || s.loc.User == effectiveUser() {
		cmd = exec.Command("sh", "-c", script)
	} else {
		cmd = exec.Command("su", "-", s.loc.User, "-c", script)
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() < 4 {
		err = nil
	}
	if err != nil {
		rc := -1
		if ee != nil {
			rc = ee.ExitCode()
		}
		msg := strings.TrimSpace(sqlMsg.FindString(string(out)))
		if msg == "" {
			msg = strings.TrimSpace(string(out))
		}
		if msg == "" {
			msg = err.Error()
		}
		return string(out), &db2Error{rc: rc, msg: msg}
	}
	return string(out), nil
}

func db2NoTable(err error) bool {
	return err != nil && strings.Contains(err.Error(), "SQL0204N")
}

func (s db2Store) List() ([]Node, error) {
	out, err := s.db2("SELECT node,groups,status FROM nodelist")
	if db2NoTable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	list := parseDb2Select(out)
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list, nil
}

func db2Insert(n Node) string {
	return "INSERT INTO nodelist (node,groups,status) VALUES (" +
		sqlQuote(n.Name) + "," + sqlQuote(n.Groups) + "," + sqlQuote(n.Status) + ")"
}

func db2Delete(name string) string {
	return "DELETE FROM nodelist WHERE node=" + sqlQuote(name)
}

func (s db2Store) Insert(n Node) error {
	_, err := s.db2(db2Insert(n))
	if db2NoTable(err) {
		_, err = s.db2(db2Create, db2Insert(n))
	}
	return err
}

// Update replaces the row (DELETE then INSERT), the statements the Db2
// model of the lab understands.
func (s db2Store) Update(n Node) error {
	_, err := s.db2(db2Delete(n.Name), db2Insert(n))
	return err
}

func (s db2Store) Delete(name string) error {
	_, err := s.db2(db2Delete(name))
	if db2NoTable(err) {
		return nil
	}
	return err
}

// parseDb2Select reads the NODE, GROUPS, STATUS rows of a CLP result
// table: a heading line, a line of dashes giving the column widths, the
// rows, a blank line and "N record(s) selected.". "-" is NULL.
func parseDb2Select(out string) []Node {
	lines := strings.Split(strings.ReplaceAll(out, "\r", ""), "\n")
	for i := 0; i+1 < len(lines); i++ {
		head := strings.Fields(strings.ToUpper(lines[i]))
		if len(head) != 3 || head[0] != "NODE" || head[1] != "GROUPS" || head[2] != "STATUS" {
			continue
		}
		cols := dashColumns(lines[i+1])
		if cols == nil {
			continue
		}
		var list []Node
		for _, row := range lines[i+2:] {
			if strings.TrimSpace(row) == "" || strings.Contains(row, "record(s) selected") {
				break
			}
			var f []string
			if aligned(row, cols) {
				for _, c := range cols {
					end := min(c[1], len(row))
					f = append(f, strings.TrimSpace(row[min(c[0], end):end]))
				}
			} else {
				f = strings.Fields(row)
			}
			for len(f) < 3 {
				f = append(f, "-")
			}
			for k := range f {
				if f[k] == "-" {
					f[k] = ""
				}
			}
			list = append(list, Node{Name: f[0], Groups: f[1], Status: f[2]})
		}
		return list
	}
	return nil
}

// aligned reports whether row's fields sit in the heading's columns:
// every column but the first starts after a blank.
func aligned(row string, cols [][2]int) bool {
	if len(cols) != 3 {
		return false
	}
	for _, c := range cols[1:] {
		if c[0] < len(row) && row[c[0]-1] != ' ' {
			return false
		}
	}
	return true
}

// dashColumns returns the [start,end) byte ranges of the dash runs in a
// CLP heading underline, or nil if line is not one. The last column runs
// to the end of the row.
func dashColumns(line string) [][2]int {
	t := strings.TrimRight(line, " ")
	if t == "" || strings.Trim(t, "- ") != "" {
		return nil
	}
	var cols [][2]int
	start := -1
	for i := 0; i <= len(t); i++ {
		if i < len(t) && t[i] == '-' {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			cols = append(cols, [2]int{start, i})
			start = -1
		}
	}
	if len(cols) > 0 {
		cols[len(cols)-1][1] = 1 << 30
	}
	return cols
}

// shQuote quotes s for a POSIX shell.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
