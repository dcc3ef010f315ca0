package db2model

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Env is what one invocation of the model sees of its process.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Exe is the path of the model binary (os.Executable), used to find
	// the model directory and to start HADR daemons.
	Exe string
	// PPID is the parent pid, the default CLP session key.
	PPID int
}

// Main runs the model as the command prog (db2, db2pd, db2gcf, db2start,
// db2stop, or db2model with one of those or "daemon" as first argument) and
// returns the exit code.
func Main(prog string, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	name := filepath.Base(prog)
	if name == "db2model" {
		if len(args) == 0 {
			fmt.Fprintln(env.Stderr, "usage: db2model db2|db2pd|db2gcf|db2start|db2stop|daemon [args]")
			return exitSystem
		}
		name, args = args[0], args[1:]
	}
	if name == "daemon" {
		return daemonMain(args, env)
	}
	home := modelHome(env)
	c := &cli{env: env, store: Store{Dir: home}}
	if _, err := os.Stat(c.store.path("state.json")); err != nil {
		fmt.Fprintf(env.Stdout, "SQL10007N Message \"-1390\" could not be retrieved. Reason code: \"3\". (no Db2 model state in %s)\n", home)
		return exitSystem
	}
	switch name {
	case "db2":
		return c.db2(args)
	case "db2pd":
		return c.db2pd(args)
	case "db2start":
		return c.db2start(args)
	case "db2stop":
		return c.db2stop(args)
	case "db2gcf":
		return c.db2gcf(args)
	}
	fmt.Fprintf(env.Stderr, "db2model: unknown command %q\n", name)
	return exitSystem
}

func daemonMain(args []string, env Env) int {
	var home, db, services string
	for i := 0; i+1 < len(args); i += 2 {
		switch args[i] {
		case "--home":
			home = args[i+1]
		case "--db":
			db = args[i+1]
		case "--services":
			services = args[i+1]
		}
	}
	if home == "" || db == "" {
		fmt.Fprintln(env.Stderr, "usage: db2model daemon --home DIR --db NAME [--services FILE]")
		return exitSystem
	}
	if services == "" {
		services = "/etc/services"
	}
	return RunDaemon(home, db, services)
}

// modelHome is DB2MODEL_HOME, else sqllib/model next to the binary's
// sqllib/bin.
func modelHome(env Env) string {
	if h := env.Getenv(EnvHome); h != "" {
		return h
	}
	exe := env.Exe
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return filepath.Join(filepath.Dir(filepath.Dir(exe)), "model")
}

// cli is one invocation of a model command.
type cli struct {
	env   Env
	store Store
}

func (c *cli) say(lines ...string) {
	for _, l := range lines {
		fmt.Fprintln(c.env.Stdout, l)
	}
}

func (c *cli) servicesFile() string {
	if f := c.env.Getenv(EnvServices); f != "" {
		return f
	}
	return "/etc/services"
}

func (c *cli) hostname() string {
	if h := c.env.Getenv(EnvHostname); h != "" {
		return h
	}
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return h
}

func (c *cli) session() string {
	if s := c.env.Getenv(EnvSession); s != "" {
		return s
	}
	return "ppid:" + strconv.Itoa(c.env.PPID)
}

func (c *cli) password(st *State) string {
	if p := c.env.Getenv(EnvPassword); p != "" {
		return p
	}
	return st.Password
}

// update runs fn under the state lock after reconciling the state with
// the processes that died (CLP sessions, HADR daemons).
func (c *cli) update(fn func(*State) error) error {
	return c.store.Update(func(st *State) error {
		reconcile(st)
		return fn(st)
	})
}

// reconcile drops connections of dead CLP sessions and marks databases
// whose HADR daemon died as inactive (a crash of the database).
func reconcile(st *State) {
	for _, db := range st.DBs {
		had := len(db.Conns)
		kept := db.Conns[:0]
		for _, cn := range db.Conns {
			if pid, ok := strings.CutPrefix(cn.Session, "ppid:"); ok {
				if n, err := strconv.Atoi(pid); err == nil && n > 1 && !processAlive(n) {
					continue
				}
			}
			kept = append(kept, cn)
		}
		db.Conns = kept
		if db.DaemonPID != 0 && !processAlive(db.DaemonPID) {
			db.DaemonPID = 0
			db.Active, db.Explicit, db.Conns, db.Quiesced = false, false, nil, false
		}
		if had > 0 && len(db.Conns) == 0 && db.Active && !db.Explicit && db.DaemonPID == 0 {
			db.Active = false // the last connection went with its CLP session
		}
	}
}

// errMsg carries a Db2 message and exit code out of an update function.
type errMsg struct {
	msg string
	rc  int
}

func (e *errMsg) Error() string { return e.msg }

func fail(rc int, msg ...string) error { return &errMsg{msg: strings.Join(msg, "\n"), rc: rc} }

// report prints the outcome of an update: a Db2 message for errMsg, a
// system error otherwise.
func (c *cli) report(err error) int {
	var em *errMsg
	if errors.As(err, &em) {
		c.say(em.msg)
		return em.rc
	}
	c.say("SQL1042C An unexpected system error occurred. SQLSTATE=58004", "("+err.Error()+")")
	return exitSystem
}

// --- HADR daemon control -------------------------------------------------

func (c *cli) readCtl(db string) (ctlFile, error) {
	var cf ctlFile
	b, err := os.ReadFile(ctlPath(c.store, db))
	if err != nil {
		return cf, err
	}
	err = json.Unmarshal(b, &cf)
	return cf, err
}

// ctl sends a request to the daemon of db.
func (c *cli) ctl(db string, req ctlReq, timeout time.Duration) (ctlResp, error) {
	var resp ctlResp
	cf, err := c.readCtl(db)
	if err != nil {
		return resp, fmt.Errorf("HADR daemon of %s: %w", db, err)
	}
	if cf.Addr == "" {
		return resp, fmt.Errorf("HADR daemon of %s is not running", db)
	}
	conn, err := net.DialTimeout("tcp", cf.Addr, time.Second)
	if err != nil {
		return resp, fmt.Errorf("HADR daemon of %s: %w", db, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	req.Token = cf.Token
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return resp, err
	}
	err = json.NewDecoder(conn).Decode(&resp)
	return resp, err
}

// Hang makes the HADR daemon of database db in model directory home behave
// as if its host had died without closing its connections, for d: it
// sends nothing, discards what it receives and accepts no connection. A
// test's way to show a standby that reports Peer/Connected until
// HADR_TIMEOUT after its primary died.
func Hang(home, db string, d time.Duration) error {
	c := &cli{store: Store{Dir: home}}
	resp, err := c.ctl(strings.ToUpper(db), ctlReq{Op: "hang", For: d}, 3*time.Second)
	if err != nil {
		return err
	}
	if !resp.OK {
		return errors.New(resp.Err)
	}
	return nil
}

// hadrStatus asks the running daemon of db for its status.
func (c *cli) hadrStatus(db string) (*HADRInfo, error) {
	resp, err := c.ctl(db, ctlReq{Op: "status"}, 3*time.Second)
	if err != nil {
		return nil, err
	}
	if resp.Status == nil {
		return nil, errors.New(resp.Err)
	}
	return resp.Status, nil
}

// spawnDaemon starts the HADR daemon of db detached from this process and
// waits until it listens. It returns the pid, or the message explaining why
// it could not start.
func (c *cli) spawnDaemon(db string) (int, string) {
	_ = os.Remove(ctlPath(c.store, db))
	out, err := os.OpenFile(c.store.path("hadr-"+db+".out"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, "SQL1042C An unexpected system error occurred. SQLSTATE=58004"
	}
	defer out.Close()
	exe := c.env.Exe
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        []string{"db2model", "daemon", "--home", c.store.Dir, "--db", db, "--services", c.servicesFile()},
		Env:         append(os.Environ(), EnvHome+"="+c.store.Dir),
		Stdout:      out,
		Stderr:      out,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		return 0, "SQL1042C An unexpected system error occurred. SQLSTATE=58004"
	}
	pid := cmd.Process.Pid
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cf, err := c.readCtl(db); err == nil && cf.PID == pid {
			if cf.Err != "" {
				<-done
				return 0, cf.Err
			}
			_ = cmd.Process.Release()
			return pid, ""
		}
		select {
		case <-done:
			return 0, sql1768(10)
		case <-time.After(20 * time.Millisecond):
		}
	}
	_ = cmd.Process.Kill()
	return 0, sql1768(10)
}

// stopDaemon ends the daemon of db in an orderly way (the partner is told)
// and waits for it to exit.
func (c *cli) stopDaemon(db string, pid int, reason string) {
	_, _ = c.ctl(db, ctlReq{Op: "stop", Reason: reason}, 3*time.Second)
	deadline := time.Now().Add(3 * time.Second)
	for processAlive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if processAlive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// --- tokens ---------------------------------------------------------------

type tokKind int

const (
	tWord tokKind = iota
	tString
	tQuoted // "double quoted"
	tPunct
)

type token struct {
	kind tokKind
	text string
}

// tokenize splits a CLP command or SQL statement.
func tokenize(s string) ([]token, string) {
	var toks []token
	i := 0
	for i < len(s) {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			i++
		case ch == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Sprintf(`SQL0010N The string constant beginning with "%s" does not have an ending string delimiter. SQLSTATE=42603`, s[i:])
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, token{tString, b.String()})
			i = j + 1
		case ch == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, fmt.Sprintf(`SQL0010N The string constant beginning with "%s" does not have an ending string delimiter. SQLSTATE=42603`, s[i:])
			}
			toks = append(toks, token{tQuoted, s[i+1 : i+1+j]})
			i += j + 2
		case strings.IndexByte("(),=*;", ch) >= 0:
			toks = append(toks, token{tPunct, string(ch)})
			i++
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \t\n\r'\"(),=*;", s[j]) < 0 {
				j++
			}
			toks = append(toks, token{tWord, s[i:j]})
			i = j
		}
	}
	return toks, ""
}

// parser walks tokens with case-insensitive keyword matching.
type parser struct {
	toks []token
	i    int
}

func (p *parser) done() bool { return p.i >= len(p.toks) }

func (p *parser) peek(kw string) bool {
	return !p.done() && p.toks[p.i].kind == tWord && strings.EqualFold(p.toks[p.i].text, kw)
}

// accept consumes the keywords kws if they all follow.
func (p *parser) accept(kws ...string) bool {
	for k, kw := range kws {
		j := p.i + k
		if j >= len(p.toks) || p.toks[j].kind != tWord || !strings.EqualFold(p.toks[j].text, kw) {
			return false
		}
	}
	p.i += len(kws)
	return true
}

func (p *parser) acceptPunct(s string) bool {
	if !p.done() && p.toks[p.i].kind == tPunct && p.toks[p.i].text == s {
		p.i++
		return true
	}
	return false
}

// value consumes a word or quoted string.
func (p *parser) value() (string, bool) {
	if p.done() || p.toks[p.i].kind == tPunct {
		return "", false
	}
	v := p.toks[p.i].text
	p.i++
	return v, true
}

// fail builds the SQL0104N message for the current token.
func (p *parser) fail(expected string) error {
	tok := "END-OF-STATEMENT"
	if !p.done() {
		tok = p.toks[p.i].text
	}
	start := p.i - 3
	if start < 0 {
		start = 0
	}
	var prev []string
	for _, t := range p.toks[start:min(p.i, len(p.toks))] {
		prev = append(prev, t.text)
	}
	after := strings.Join(prev, " ")
	if after == "" {
		after = "BEGIN-OF-STATEMENT"
	}
	return fail(exitError, sql0104(tok, after, expected))
}

// dbKeyword accepts DATABASE or DB.
func (p *parser) dbKeyword() bool { return p.accept("DATABASE") || p.accept("DB") }

// database parses "DATABASE alias" (or "DB alias"), the alias in upper
// case when upper is set, as the CLP folds it.
func (p *parser) database(upper bool) (string, error) {
	if !p.dbKeyword() {
		return "", p.fail("DATABASE")
	}
	name, ok := p.value()
	if !ok {
		return "", p.fail("<database-alias>")
	}
	if upper {
		name = strings.ToUpper(name)
	}
	return name, nil
}

// userUsing parses an optional USER u [USING p].
// databaseUser parses "DATABASE alias [USER name USING password]", as
// most commands begin.
func (p *parser) databaseUser(upper bool) (name, user, pw string, err error) {
	if name, err = p.database(upper); err != nil {
		return "", "", "", err
	}
	user, pw, err = p.userUsing()
	return name, user, pw, err
}

// directories parses "dir[, dir ...]" (BACKUP ... TO, RESTORE ... FROM).
func (p *parser) directories() ([]string, error) {
	var dirs []string
	for {
		d, ok := p.value()
		if !ok {
			return nil, p.fail("<directory>")
		}
		dirs = append(dirs, d)
		if !p.acceptPunct(",") {
			return dirs, nil
		}
	}
}

func (p *parser) userUsing() (user, pw string, err error) {
	if !p.accept("USER") {
		return "", "", nil
	}
	var ok bool
	if user, ok = p.value(); !ok {
		return "", "", p.fail("<user-name>")
	}
	if p.accept("USING") {
		if pw, ok = p.value(); !ok {
			return "", "", p.fail("<password>")
		}
	}
	return user, pw, nil
}

// auth checks USER/USING against the instance owner.
// usable finds database name on a started instance, checking the
// credentials given with USER ... USING, as most commands begin.
func (c *cli) usable(st *State, name, user, pw string) (*Database, error) {
	if err := requireUp(st); err != nil {
		return nil, err
	}
	db, err := findDB(st, name)
	if err != nil {
		return nil, err
	}
	if err := c.auth(st, user, pw); err != nil {
		return nil, err
	}
	return db, nil
}

func (c *cli) auth(st *State, user, pw string) error {
	if user == "" {
		return nil
	}
	if !strings.EqualFold(user, st.Instance) || pw != c.password(st) {
		return fail(exitError, msgSQL30082)
	}
	return nil
}
