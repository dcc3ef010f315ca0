package db2model

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HADR states as db2pd (10.1+) prints them.
const (
	stLocalCatchup  = "LOCAL_CATCHUP"
	stRCPending     = "REMOTE_CATCHUP_PENDING"
	stRemoteCatchup = "REMOTE_CATCHUP"
	stPeer          = "PEER"
	stDiscPeer      = "DISCONNECTED_PEER"
	stDisconnected  = "DISCONNECTED"
)

// hadrConfig is what a daemon needs from the database configuration.
type hadrConfig struct {
	Instance, DB                    string
	LocalHost, LocalSvc, RemoteHost string
	RemoteSvc, RemoteInst, SyncMode string
	LocalPort, RemotePort           int
	Timeout, PeerWindow             time.Duration
	servicesFile                    string
}

func (c hadrConfig) localAddr() string {
	return net.JoinHostPort(c.LocalHost, strconv.Itoa(c.LocalPort))
}
func (c hadrConfig) remoteAddr() string {
	return net.JoinHostPort(c.RemoteHost, strconv.Itoa(c.RemotePort))
}

// usesPeerWindow: Db2 ignores HADR_PEER_WINDOW in ASYNC and SUPERASYNC.
func (c hadrConfig) usesPeerWindow() bool {
	return c.PeerWindow > 0 && (c.SyncMode == "SYNC" || c.SyncMode == "NEARSYNC")
}

// hbInterval is the heartbeat interval: a quarter of HADR_TIMEOUT.
func (c hadrConfig) hbInterval() time.Duration {
	iv := c.Timeout / 4
	if iv < 100*time.Millisecond {
		iv = 100 * time.Millisecond
	}
	if iv > 30*time.Second {
		iv = 30 * time.Second
	}
	return iv
}

// lookupService resolves an HADR service name through the services file;
// a number is a port.
func lookupService(file, name string) (int, bool) {
	if n, err := strconv.Atoi(name); err == nil {
		return n, n > 0 && n < 65536
	}
	f, err := os.Open(file)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fs := strings.Fields(line)
		if len(fs) < 2 {
			continue
		}
		port, proto, ok := strings.Cut(fs[1], "/")
		if !ok || proto != "tcp" {
			continue
		}
		for _, n := range append([]string{fs[0]}, fs[2:]...) {
			if n == name {
				p, err := strconv.Atoi(port)
				return p, err == nil
			}
		}
	}
	return 0, false
}

// resolveHADR checks the HADR configuration the way START HADR does and
// returns it, or the SQL1768N message explaining what is wrong.
func resolveHADR(st *State, d *Database, servicesFile string) (hadrConfig, string) {
	c := hadrConfig{Instance: st.Instance, DB: d.Name, servicesFile: servicesFile,
		LocalHost: d.Cfg["HADR_LOCAL_HOST"], LocalSvc: d.Cfg["HADR_LOCAL_SVC"],
		RemoteHost: d.Cfg["HADR_REMOTE_HOST"], RemoteSvc: d.Cfg["HADR_REMOTE_SVC"],
		RemoteInst: d.Cfg["HADR_REMOTE_INST"], SyncMode: d.Cfg["HADR_SYNCMODE"]}
	if !d.recoverable() {
		return c, sql1768(1)
	}
	if c.LocalHost == "" || c.LocalSvc == "" || c.RemoteHost == "" || c.RemoteSvc == "" || c.RemoteInst == "" {
		return c, sql1768(8)
	}
	if net.ParseIP(c.LocalHost) == nil {
		if _, err := net.LookupHost(c.LocalHost); err != nil {
			return c, sql1768(4)
		}
	}
	var ok bool
	if c.LocalPort, ok = lookupService(servicesFile, c.LocalSvc); !ok {
		return c, sql1768(5)
	}
	if c.RemotePort, ok = lookupService(servicesFile, c.RemoteSvc); !ok {
		return c, sql1768(6)
	}
	t, _ := strconv.Atoi(d.Cfg["HADR_TIMEOUT"])
	pw, _ := strconv.Atoi(d.Cfg["HADR_PEER_WINDOW"])
	c.Timeout, c.PeerWindow = time.Duration(t)*time.Second, time.Duration(pw)*time.Second
	return c, ""
}

// wire is one message on an HADR link (a JSON line).
type wire struct {
	T          string  `json:"t"`
	ID         int     `json:"id,omitempty"`
	Instance   string  `json:"inst,omitempty"`
	RemoteInst string  `json:"rinst,omitempty"`
	DB         string  `json:"db,omitempty"`
	SyncMode   string  `json:"sync,omitempty"`
	Timeout    int64   `json:"timeout,omitempty"`
	PeerWindow int64   `json:"pw,omitempty"`
	LSN        uint64  `json:"lsn,omitempty"`
	Hash       string  `json:"hash,omitempty"`
	Role       string  `json:"role,omitempty"`
	State      string  `json:"state,omitempty"`
	Host       string  `json:"host,omitempty"`
	Reason     string  `json:"reason,omitempty"`
	Rec        *Record `json:"rec,omitempty"`
}

// link is an established HADR connection.
type link struct {
	conn net.Conn
	wmu  sync.Mutex
	enc  *json.Encoder
	// remote is the partner's HADR host as it introduced itself.
	remote string
}

func newLink(c net.Conn) *link { return &link{conn: c, enc: json.NewEncoder(c)} }

func (l *link) send(m wire) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	_ = l.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	return l.enc.Encode(m)
}

// HADRInfo is a daemon's view of its HADR pair, as db2pd reports it.
type HADRInfo struct {
	Role, State, SyncMode, ConnectStatus string
	ConnectTime                          time.Time
	HeartbeatsMissed, HeartbeatsExpected int
	HeartbeatInterval                    time.Duration
	Timeout, PeerWindow                  time.Duration
	PeerWindowEnd                        time.Time
	TimeSinceLastRecv                    time.Duration
	Instance, LocalHost, LocalService    string
	RemoteHost, RemoteService            string
	RemoteInstance                       string
	PrimaryLSN, StandbyLSN               uint64
	LogGap                               int64
	Started                              time.Time
	LastError                            string
}

// daemon runs HADR for one database.
type daemon struct {
	store Store
	cfg   hadrConfig
	logf  func(format string, args ...any)

	mu            sync.Mutex
	cond          *sync.Cond
	role, state   string
	link          *link
	connStatus    string
	connTime      time.Time
	lastRecv      time.Time
	lastSent      time.Time
	peerWindowEnd time.Time
	localLSN      uint64
	localHash     string
	remoteLSN     uint64 // partner's log end as last reported
	ackedLSN      uint64 // primary: highest LSN the standby acknowledged
	sentLSN       uint64 // primary: highest LSN sent on the current link
	started       time.Time
	lastError     string
	nextID        int
	takeoverWait  map[int]chan wire
	// hungUntil simulates a host that died without closing its sockets
	// (power loss, kernel hang): until then the daemon sends nothing,
	// discards what it receives and accepts no connection, so its partner
	// keeps reporting Peer/Connected until HADR_TIMEOUT passes without a
	// message (IBM 11.5 hadr_timeout; ClusterLabs heartbeat/db2 db2_promote:
	// "within HADR_TIMEOUT the status may be still reported as Peer").
	hungUntil time.Time
	quit      chan struct{}
	quitOnce  sync.Once
	kick      chan struct{}
}

func newDaemon(store Store, db, servicesFile string, logf func(string, ...any)) (*daemon, error) {
	d := &daemon{store: store, logf: logf, started: time.Now(), connStatus: "DISCONNECTED",
		takeoverWait: map[int]chan wire{}, quit: make(chan struct{}), kick: make(chan struct{}, 1)}
	d.cond = sync.NewCond(&d.mu)
	err := store.View(func(st *State) error {
		dbs := st.DBs[db]
		if dbs == nil {
			return fmt.Errorf("no database %s", db)
		}
		c, msg := resolveHADR(st, dbs, servicesFile)
		if msg != "" {
			return errors.New(msg)
		}
		d.cfg = c
		d.role = dbs.Role
		d.localLSN, d.localHash = dbs.Log.LSN, dbs.Log.Hash
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch d.role {
	case RolePrimary:
		d.state = stDisconnected
	case RoleStandby:
		d.state = stLocalCatchup
	default:
		return nil, fmt.Errorf("database %s has role %s", db, d.role)
	}
	d.connTime = d.started
	return d, nil
}

func (d *daemon) stop() { d.quitOnce.Do(func() { close(d.quit) }) }

func (d *daemon) stopped() bool {
	select {
	case <-d.quit:
		return true
	default:
		return false
	}
}

func (d *daemon) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// setState changes the HADR state; d.mu is held.
func (d *daemon) setState(s string) {
	if d.state != s {
		d.logf("HADR state %s -> %s (role %s)", d.state, s, d.role)
		d.state = s
	}
	d.cond.Broadcast()
}

// info reports the daemon's status.
func (d *daemon) info() HADRInfo {
	d.refreshLocal()
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	in := HADRInfo{Role: d.role, State: d.state, SyncMode: d.cfg.SyncMode, ConnectStatus: d.connStatus,
		ConnectTime: d.connTime, HeartbeatInterval: d.cfg.hbInterval(), Timeout: d.cfg.Timeout,
		PeerWindow: d.cfg.PeerWindow, Instance: d.cfg.Instance, LocalHost: d.cfg.LocalHost,
		LocalService: d.cfg.LocalSvc, RemoteHost: d.cfg.RemoteHost, RemoteService: d.cfg.RemoteSvc,
		RemoteInstance: d.cfg.RemoteInst, Started: d.started, LastError: d.lastError}
	if !d.cfg.usesPeerWindow() {
		in.PeerWindow = 0
	}
	if d.link != nil {
		since := now.Sub(d.lastRecv)
		in.TimeSinceLastRecv = since
		in.HeartbeatsMissed = int(since / d.cfg.hbInterval())
		in.HeartbeatsExpected = int(now.Sub(d.connTime) / d.cfg.hbInterval())
		if d.state == stPeer && d.cfg.usesPeerWindow() {
			in.PeerWindowEnd = d.lastRecv.Add(d.cfg.PeerWindow)
		}
	}
	if d.state == stDiscPeer {
		in.PeerWindowEnd = d.peerWindowEnd
	}
	if d.role == RolePrimary {
		in.PrimaryLSN, in.StandbyLSN = d.localLSN, d.remoteLSN
	} else {
		in.PrimaryLSN, in.StandbyLSN = d.remoteLSN, d.localLSN
	}
	if d.remoteLSN != 0 && in.PrimaryLSN > in.StandbyLSN {
		in.LogGap = int64(in.PrimaryLSN - in.StandbyLSN)
	}
	return in
}

// refreshLocal rereads the end of the local log (the CLI appends records).
func (d *daemon) refreshLocal() {
	var lsn uint64
	var hash string
	if err := d.store.View(func(st *State) error {
		if db := st.DBs[d.cfg.DB]; db != nil {
			lsn, hash = db.Log.LSN, db.Log.Hash
		}
		return nil
	}); err != nil {
		return
	}
	d.mu.Lock()
	d.localLSN, d.localHash = lsn, hash
	d.mu.Unlock()
}

// run serves until stopped. hl is the HADR listener.
func (d *daemon) run(hl net.Listener) {
	go d.acceptHADR(hl)
	go d.dialLoop()
	go d.sender()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	d.mu.Lock()
	if d.role == RoleStandby {
		// Local catchup: replay of local log files is instantaneous here.
		d.setState(stRCPending)
	}
	d.mu.Unlock()
	for {
		select {
		case <-d.quit:
			_ = hl.Close()
			d.mu.Lock()
			if l := d.link; l != nil {
				d.link = nil
				_ = l.conn.Close()
			}
			d.cond.Broadcast()
			d.mu.Unlock()
			return
		case <-tick.C:
			d.onTick()
		}
	}
}

// onTick detects heartbeat timeouts and the end of the peer window, and
// sends heartbeats.
func (d *daemon) onTick() {
	now := time.Now()
	d.mu.Lock()
	if now.Before(d.hungUntil) {
		d.mu.Unlock()
		return
	}
	l := d.link
	if l != nil && now.Sub(d.lastRecv) > d.cfg.Timeout {
		d.logf("no message from the partner for %v (HADR_TIMEOUT %v): closing the connection", now.Sub(d.lastRecv).Round(time.Millisecond), d.cfg.Timeout)
		d.linkDownLocked(l, false)
		l = nil
	}
	if d.state == stDiscPeer && !now.Before(d.peerWindowEnd) {
		d.logf("peer window ended")
		d.afterDisconnectLocked()
	}
	sendHB := l != nil && now.Sub(d.lastSent) >= d.cfg.hbInterval()
	hb := wire{T: "hb", Role: d.role, State: d.state, LSN: d.localLSN}
	if sendHB {
		d.lastSent = now
	}
	d.mu.Unlock()
	if sendHB {
		_ = l.send(hb)
	}
}

// linkDownLocked handles the loss of link l; d.mu is held. A graceful
// loss (bye, takeover) skips the peer window.
func (d *daemon) linkDownLocked(l *link, graceful bool) {
	if d.link != l || l == nil {
		return
	}
	d.link = nil
	_ = l.conn.Close()
	d.connStatus = "DISCONNECTED"
	d.connTime = time.Now()
	if d.state == stPeer && !graceful && d.cfg.usesPeerWindow() {
		end := d.lastRecv.Add(d.cfg.PeerWindow)
		if time.Now().Before(end) {
			d.peerWindowEnd = end
			d.setState(stDiscPeer)
			return
		}
	}
	d.afterDisconnectLocked()
}

func (d *daemon) afterDisconnectLocked() {
	d.peerWindowEnd = time.Time{}
	if d.role == RolePrimary {
		d.setState(stDisconnected)
	} else {
		d.setState(stRCPending)
	}
}

// startLinkLocked makes l the current link; d.mu is held.
func (d *daemon) startLinkLocked(l *link, remoteLSN uint64) {
	d.link = l
	now := time.Now()
	d.connStatus, d.connTime, d.lastRecv, d.lastSent = "CONNECTED", now, now, time.Time{}
	d.remoteLSN = remoteLSN
	d.peerWindowEnd = time.Time{}
	if d.role == RolePrimary {
		d.sentLSN, d.ackedLSN = remoteLSN, remoteLSN
	}
	d.setState(stRemoteCatchup)
	d.wake()
}

func (d *daemon) acceptHADR(hl net.Listener) {
	for {
		c, err := hl.Accept()
		if err != nil {
			return
		}
		go d.inbound(c)
	}
}

// inbound handles a connection to the HADR port: a standby's hello or a
// forced takeover's disable.
func (d *daemon) inbound(c net.Conn) {
	d.mu.Lock()
	hung := time.Now().Before(d.hungUntil)
	d.mu.Unlock()
	if hung {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(d.cfg.Timeout + time.Second))
	dec := json.NewDecoder(c)
	var m wire
	if err := dec.Decode(&m); err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	l := newLink(c)
	switch m.T {
	case "disable":
		d.logf("forced takeover by %s: this primary is disabled", m.Host)
		_ = l.send(wire{T: "ok"})
		c.Close()
		d.disable()
	case "hello":
		if reason := d.accept(m); reason != "" {
			d.logf("rejected standby %s (instance %s): %s", m.Host, m.Instance, reason)
			_ = l.send(wire{T: "reject", Reason: reason})
			c.Close()
			return
		}
		d.mu.Lock()
		if d.role != RolePrimary || d.link != nil {
			d.mu.Unlock()
			_ = l.send(wire{T: "reject", Reason: "primary already has a standby"})
			c.Close()
			return
		}
		l.remote = m.Host
		if err := l.send(wire{T: "welcome", Instance: d.cfg.Instance, LSN: d.localLSN}); err != nil {
			d.mu.Unlock()
			c.Close()
			return
		}
		d.logf("standby %s (instance %s) connected at log position %d", m.Host, m.Instance, m.LSN)
		d.startLinkLocked(l, m.LSN)
		d.mu.Unlock()
		go d.readerDecoder(l, dec)
	default:
		c.Close()
	}
}

// accept validates a standby's hello; it returns why it is refused.
func (d *daemon) accept(m wire) string {
	d.mu.Lock()
	role := d.role
	d.mu.Unlock()
	switch {
	case role != RolePrimary:
		return "this database is not an HADR primary"
	case m.DB != d.cfg.DB:
		return "database name " + m.DB + " does not match " + d.cfg.DB
	case !strings.EqualFold(m.Instance, d.cfg.RemoteInst):
		return fmt.Sprintf("standby instance %s does not match HADR_REMOTE_INST %s", m.Instance, d.cfg.RemoteInst)
	case !strings.EqualFold(m.RemoteInst, d.cfg.Instance):
		return fmt.Sprintf("standby's HADR_REMOTE_INST %s does not match this instance %s", m.RemoteInst, d.cfg.Instance)
	case time.Duration(m.Timeout)*time.Second != d.cfg.Timeout:
		return fmt.Sprintf("HADR_TIMEOUT differs: standby %d, primary %d", m.Timeout, int64(d.cfg.Timeout/time.Second))
	case time.Duration(m.PeerWindow)*time.Second != d.cfg.PeerWindow:
		return fmt.Sprintf("HADR_PEER_WINDOW differs: standby %d, primary %d", m.PeerWindow, int64(d.cfg.PeerWindow/time.Second))
	case !strings.EqualFold(m.SyncMode, d.cfg.SyncMode):
		return fmt.Sprintf("HADR_SYNCMODE differs: standby %s, primary %s", m.SyncMode, d.cfg.SyncMode)
	}
	ok := false
	err := d.store.View(func(st *State) error {
		if db := st.DBs[d.cfg.DB]; db != nil {
			ok = db.HasPosition(m.LSN, m.Hash)
		}
		return nil
	})
	if err != nil {
		return err.Error()
	}
	if !ok {
		return fmt.Sprintf("the standby's log end %d is not part of the primary's log (the standby has transactions the primary does not have, or was not restored from this primary)", m.LSN)
	}
	return ""
}

// dialLoop connects a standby to its primary.
func (d *daemon) dialLoop() {
	for !d.stopped() {
		d.mu.Lock()
		need := d.role == RoleStandby && d.link == nil
		d.mu.Unlock()
		if need {
			d.dialOnce()
		}
		select {
		case <-d.quit:
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (d *daemon) dialOnce() {
	c, err := net.DialTimeout("tcp", d.cfg.remoteAddr(), time.Second)
	if err != nil {
		d.noteError("connect to primary " + d.cfg.remoteAddr() + ": " + err.Error())
		return
	}
	d.mu.Lock()
	hello := wire{T: "hello", Instance: d.cfg.Instance, RemoteInst: d.cfg.RemoteInst, DB: d.cfg.DB,
		SyncMode: d.cfg.SyncMode, Timeout: int64(d.cfg.Timeout / time.Second),
		PeerWindow: int64(d.cfg.PeerWindow / time.Second), LSN: d.localLSN, Hash: d.localHash, Host: d.cfg.LocalHost}
	d.mu.Unlock()
	l := newLink(c)
	if err := l.send(hello); err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(d.cfg.Timeout + time.Second))
	dec := json.NewDecoder(c)
	var m wire
	if err := dec.Decode(&m); err != nil {
		d.noteError("no answer from primary " + d.cfg.remoteAddr())
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if m.T != "welcome" {
		d.noteError("primary " + d.cfg.remoteAddr() + " refused the connection: " + m.Reason)
		c.Close()
		time.Sleep(time.Second)
		return
	}
	d.mu.Lock()
	if d.role != RoleStandby || d.link != nil || d.stopped() {
		d.mu.Unlock()
		c.Close()
		return
	}
	d.lastError = ""
	d.logf("connected to primary %s", d.cfg.remoteAddr())
	d.startLinkLocked(l, m.LSN)
	d.mu.Unlock()
	go d.readerDecoder(l, dec)
}

func (d *daemon) noteError(msg string) {
	d.mu.Lock()
	changed := d.lastError != msg
	d.lastError = msg
	d.mu.Unlock()
	if changed {
		d.logf("%s", msg)
	}
}

// readerDecoder reads messages from l until it fails.
func (d *daemon) readerDecoder(l *link, dec *json.Decoder) {
	for {
		var m wire
		if err := dec.Decode(&m); err != nil {
			d.mu.Lock()
			if d.link == l {
				d.logf("connection to the partner lost: %v", err)
				d.linkDownLocked(l, false)
			}
			d.mu.Unlock()
			return
		}
		d.mu.Lock()
		if d.link != l {
			d.mu.Unlock()
			return
		}
		if time.Now().Before(d.hungUntil) {
			d.mu.Unlock()
			continue // a dead host hears nothing
		}
		d.lastRecv = time.Now()
		d.mu.Unlock()
		d.handle(l, m)
	}
}

func (d *daemon) handle(l *link, m wire) {
	switch m.T {
	case "hb":
		d.mu.Lock()
		if m.LSN > d.remoteLSN || d.role == RolePrimary {
			d.remoteLSN = m.LSN
		}
		d.mu.Unlock()
	case "rec":
		d.replay(l, m.Rec)
	case "ack":
		d.mu.Lock()
		if m.LSN > d.ackedLSN {
			d.ackedLSN = m.LSN
		}
		d.remoteLSN = m.LSN
		d.cond.Broadcast()
		d.mu.Unlock()
	case "caughtup":
		d.mu.Lock()
		if d.role == RoleStandby && d.localLSN == m.LSN && d.state == stRemoteCatchup {
			d.setState(stPeer)
			d.mu.Unlock()
			_ = l.send(wire{T: "peer", LSN: m.LSN})
			return
		}
		d.mu.Unlock()
	case "peer":
		d.mu.Lock()
		if d.role == RolePrimary && d.state == stRemoteCatchup {
			d.setState(stPeer)
		}
		d.mu.Unlock()
	case "bye":
		d.mu.Lock()
		d.logf("partner shut down HADR (%s)", m.Reason)
		d.linkDownLocked(l, true)
		d.mu.Unlock()
	case "takeover":
		go d.yieldPrimary(l, m.ID)
	case "takeover_ok", "takeover_fail":
		d.mu.Lock()
		ch := d.takeoverWait[m.ID]
		d.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	case "disable":
		d.logf("forced takeover by the partner: this primary is disabled")
		d.mu.Lock()
		d.linkDownLocked(l, true)
		d.mu.Unlock()
		d.disable()
	}
}

// replay applies a record on the standby and acknowledges it.
func (d *daemon) replay(l *link, rec *Record) {
	if rec == nil {
		return
	}
	var end uint64
	var hash string
	err := d.store.Update(func(st *State) error {
		db := st.DBs[d.cfg.DB]
		if db == nil {
			return fmt.Errorf("database %s vanished", d.cfg.DB)
		}
		if rec.LSN <= db.Log.LSN {
			end, hash = db.Log.LSN, db.Log.Hash
			return nil // duplicate
		}
		if err := db.Replay(*rec); err != nil {
			return err
		}
		end, hash = db.Log.LSN, db.Log.Hash
		return nil
	})
	if err != nil {
		d.mu.Lock()
		d.logf("cannot replay: %v; closing the connection", err)
		d.linkDownLocked(l, false)
		d.mu.Unlock()
		return
	}
	d.store.Journal("replayed %s on %s at LSN %d", rec.Op.Kind, rec.Op.Table, rec.LSN)
	d.mu.Lock()
	d.localLSN, d.localHash = end, hash
	if rec.LSN > d.remoteLSN {
		d.remoteLSN = rec.LSN // the primary is at least where its record ends
	}
	d.mu.Unlock()
	_ = l.send(wire{T: "ack", LSN: end})
}

// sender ships log records from a primary to its standby.
func (d *daemon) sender() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-d.quit:
			return
		case <-d.kick:
		case <-t.C:
		}
		d.mu.Lock()
		l, role, from := d.link, d.role, d.sentLSN
		hung := time.Now().Before(d.hungUntil)
		d.mu.Unlock()
		if l == nil || role != RolePrimary || hung {
			continue
		}
		var recs []Record
		var end uint64
		var hash string
		if err := d.store.View(func(st *State) error {
			if db := st.DBs[d.cfg.DB]; db != nil {
				recs, end, hash = db.RecordsAfter(from), db.Log.LSN, db.Log.Hash
			}
			return nil
		}); err != nil {
			continue
		}
		d.mu.Lock()
		d.localLSN, d.localHash = end, hash
		d.mu.Unlock()
		ok := true
		for i := range recs {
			if err := l.send(wire{T: "rec", Rec: &recs[i]}); err != nil {
				ok = false
				break
			}
			d.mu.Lock()
			if d.link == l && recs[i].LSN > d.sentLSN {
				d.sentLSN = recs[i].LSN
			}
			d.mu.Unlock()
		}
		d.mu.Lock()
		catchup := ok && d.link == l && d.state == stRemoteCatchup && d.sentLSN == end
		d.mu.Unlock()
		if catchup {
			_ = l.send(wire{T: "caughtup", LSN: end})
		}
	}
}

// waitCommitted blocks a commit at lsn until HADR allows it to return: in
// peer state with SYNC/NEARSYNC, until the standby acknowledged it; in
// disconnected peer state, until the peer window ends or the pair is back.
func (d *daemon) waitCommitted(lsn uint64) error {
	d.wake()
	stop := make(chan struct{})
	defer close(stop)
	go func() { // wake the condition regularly for timeouts
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				d.mu.Lock()
				d.cond.Broadcast()
				d.mu.Unlock()
			}
		}
	}()
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		switch {
		case d.ackedLSN >= lsn:
			return nil
		case d.stopped():
			return errors.New("HADR stopped")
		case d.role != RolePrimary:
			return errors.New("database is no longer the HADR primary")
		case d.state == stDiscPeer:
		case d.state == stPeer && (d.cfg.SyncMode == "SYNC" || d.cfg.SyncMode == "NEARSYNC"):
		default:
			return nil
		}
		d.cond.Wait()
	}
}

// yieldPrimary performs the primary's half of a graceful takeover: ship
// everything, become the standby, answer takeover_ok.
func (d *daemon) yieldPrimary(l *link, id int) {
	deadline := time.Now().Add(d.cfg.Timeout + 2*time.Second)
	errNotYet := errors.New("not yet")
	for {
		var end uint64
		err := d.store.Update(func(st *State) error {
			db := st.DBs[d.cfg.DB]
			if db == nil {
				return fmt.Errorf("database %s vanished", d.cfg.DB)
			}
			d.mu.Lock()
			acked, peer := d.ackedLSN, d.state == stPeer && d.link == l
			d.mu.Unlock()
			if !peer {
				return errors.New("not in peer state")
			}
			if acked < db.Log.LSN {
				return errNotYet
			}
			end = db.Log.LSN
			db.Role = RoleStandby
			db.Conns = nil
			db.Quiesced = false
			return nil
		})
		if errors.Is(err, errNotYet) && time.Now().Before(deadline) {
			d.wake()
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			d.logf("takeover request refused: %v", err)
			_ = l.send(wire{T: "takeover_fail", ID: id, Reason: err.Error()})
			return
		}
		d.mu.Lock()
		d.role = RoleStandby
		d.localLSN = end
		d.remoteLSN = end
		d.logf("graceful takeover: this database is now the standby")
		d.setState(stPeer)
		d.mu.Unlock()
		d.store.Journal("takeover: role PRIMARY -> STANDBY")
		_ = l.send(wire{T: "takeover_ok", ID: id, LSN: end})
		return
	}
}

// takeover runs TAKEOVER HADR on this (standby) database and returns the
// message to print and the exit code.
func (d *daemon) takeover(force, peerWindowOnly bool) (string, int) {
	d.mu.Lock()
	if d.role != RoleStandby {
		d.mu.Unlock()
		return sql1770(1), exitError
	}
	if d.state == stLocalCatchup {
		d.mu.Unlock()
		return sql1770(2), exitError
	}
	l := d.link
	if !force {
		if d.state != stPeer || l == nil {
			d.mu.Unlock()
			return sql1770(3), exitError
		}
		d.nextID++
		id := d.nextID
		ch := make(chan wire, 1)
		d.takeoverWait[id] = ch
		d.mu.Unlock()
		defer func() {
			d.mu.Lock()
			delete(d.takeoverWait, id)
			d.mu.Unlock()
		}()
		if err := l.send(wire{T: "takeover", ID: id}); err != nil {
			return sql1770(7), exitError
		}
		select {
		case m := <-ch:
			if m.T != "takeover_ok" {
				d.logf("primary refused takeover: %s", m.Reason)
				return sql1770(7), exitError
			}
			return d.becomePrimary(false, nil, m.LSN)
		case <-time.After(d.cfg.Timeout + 3*time.Second):
			d.logf("primary did not answer the takeover request")
			return sql1770(7), exitError
		}
	}
	if peerWindowOnly {
		inWindow := d.state == stPeer && l != nil && d.cfg.usesPeerWindow() ||
			d.state == stDiscPeer && time.Now().Before(d.peerWindowEnd)
		if !inWindow {
			d.mu.Unlock()
			return sql1770(9), exitError
		}
	}
	d.mu.Unlock()
	return d.becomePrimary(true, l, 0)
}

// becomePrimary turns this standby into the primary. For a forced takeover
// old is the link to the old primary (or nil) and the old primary is told
// to disable itself; a graceful takeover passes the primary's log end lsn.
func (d *daemon) becomePrimary(forced bool, old *link, lsn uint64) (string, int) {
	err := d.store.Update(func(st *State) error {
		db := st.DBs[d.cfg.DB]
		if db == nil {
			return fmt.Errorf("database %s vanished", d.cfg.DB)
		}
		db.Role = RolePrimary
		db.Active, db.Explicit, db.Disabled = true, true, false
		return nil
	})
	if err != nil {
		d.logf("takeover failed: %v", err)
		return sql1770(7), exitError
	}
	d.mu.Lock()
	d.role = RolePrimary
	if forced {
		d.logf("forced takeover: this database is now the primary")
		if old != nil {
			_ = old.send(wire{T: "disable", Host: d.cfg.LocalHost})
			d.linkDownLocked(old, true)
		}
		if d.link == nil {
			d.afterDisconnectLocked()
		}
	} else {
		d.logf("graceful takeover: this database is now the primary")
		d.sentLSN, d.ackedLSN, d.remoteLSN = lsn, lsn, lsn
		d.setState(stPeer)
	}
	hadLink := old != nil
	d.mu.Unlock()
	d.store.Journal("takeover (forced=%v): role STANDBY -> PRIMARY", forced)
	if forced && !hadLink {
		d.disableRemote()
	}
	return okMsg("TAKEOVER HADR ON DATABASE"), exitOK
}

// disableRemote tells a reachable old primary to stop being primary.
func (d *daemon) disableRemote() {
	to := d.cfg.Timeout
	if to > time.Second {
		to = time.Second
	}
	c, err := net.DialTimeout("tcp", d.cfg.remoteAddr(), to)
	if err != nil {
		d.logf("old primary %s not reachable (%v); it is not disabled", d.cfg.remoteAddr(), err)
		return
	}
	defer c.Close()
	l := newLink(c)
	if err := l.send(wire{T: "disable", Host: d.cfg.LocalHost}); err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(to))
	var m wire
	if err := json.NewDecoder(c).Decode(&m); err == nil {
		d.logf("old primary %s disabled", d.cfg.remoteAddr())
	}
}

// disable stops an old primary after a forced takeover elsewhere: the
// database is deactivated and keeps role PRIMARY, as Db2 does; it can only be
// reintegrated with START HADR ... AS STANDBY.
func (d *daemon) disable() {
	d.mu.Lock()
	if d.role != RolePrimary {
		d.mu.Unlock()
		d.logf("ignoring disable request: not a primary")
		return
	}
	d.mu.Unlock()
	_ = d.store.Update(func(st *State) error {
		if db := st.DBs[d.cfg.DB]; db != nil {
			db.Active, db.Explicit, db.Disabled = false, false, true
			db.Conns, db.Quiesced, db.DaemonPID = nil, false, 0
		}
		return nil
	})
	d.store.Journal("disabled by a forced takeover of the partner")
	d.stop()
}

// shutdown ends HADR in an orderly way (DEACTIVATE, STOP HADR, db2stop):
// the partner is told, so it does not wait for the peer window.
func (d *daemon) shutdown(reason string) {
	d.mu.Lock()
	l := d.link
	d.mu.Unlock()
	if l != nil {
		_ = l.send(wire{T: "bye", Reason: reason})
	}
	d.logf("HADR shut down: %s", reason)
	d.stop()
}

// ctlFile is the content of hadr-<DB>.ctl.
type ctlFile struct {
	Addr, Token string
	PID         int
	Err         string
}

func ctlPath(s Store, db string) string { return s.path("hadr-" + db + ".ctl") }

// ctlReq and ctlResp are the control protocol between the CLI and a daemon.
type ctlReq struct {
	Token  string
	Op     string        // status, ship, takeover, stop, hang
	For    time.Duration // hang: how long
	LSN    uint64
	Force  bool
	PWO    bool
	Reason string
}

type ctlResp struct {
	OK     bool
	Msg    string
	RC     int
	Err    string
	Status *HADRInfo
}

// RunDaemon is the daemon mode of the binary: it serves HADR for database
// db of the instance in home until HADR is stopped. It returns the exit code.
func RunDaemon(home, db, servicesFile string) int {
	store := Store{Dir: home}
	lf, err := os.OpenFile(store.path("hadr-"+db+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return exitSystem
	}
	defer lf.Close()
	var lmu sync.Mutex
	logf := func(format string, args ...any) {
		lmu.Lock()
		defer lmu.Unlock()
		fmt.Fprintf(lf, "%s pid=%d %s\n", time.Now().Format("2006-01-02-15.04.05.000000"), os.Getpid(), fmt.Sprintf(format, args...))
	}
	writeCtl := func(c ctlFile) {
		b, _ := json.Marshal(c)
		tmp := ctlPath(store, db) + ".tmp"
		if os.WriteFile(tmp, b, 0o600) == nil {
			_ = os.Rename(tmp, ctlPath(store, db))
		}
	}
	d, err := newDaemon(store, db, servicesFile, logf)
	if err != nil {
		logf("cannot start HADR: %v", err)
		writeCtl(ctlFile{PID: os.Getpid(), Err: err.Error()})
		return exitError
	}
	hl, err := net.Listen("tcp", d.cfg.localAddr())
	if err != nil {
		logf("cannot listen on HADR_LOCAL_HOST/SVC %s: %v", d.cfg.localAddr(), err)
		rc := 5
		if strings.Contains(err.Error(), "assign requested address") {
			rc = 4
		}
		writeCtl(ctlFile{PID: os.Getpid(), Err: sql1768(rc)})
		return exitError
	}
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		hl.Close()
		writeCtl(ctlFile{PID: os.Getpid(), Err: err.Error()})
		return exitSystem
	}
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	token := hex.EncodeToString(tok)
	logf("HADR started as %s on %s, partner %s (HADR_TIMEOUT %v, HADR_PEER_WINDOW %v, %s)",
		d.role, d.cfg.localAddr(), d.cfg.remoteAddr(), d.cfg.Timeout, d.cfg.PeerWindow, d.cfg.SyncMode)
	go d.serveCtl(cl, token)
	writeCtl(ctlFile{Addr: cl.Addr().String(), Token: token, PID: os.Getpid()})
	d.run(hl)
	cl.Close()
	// Remove the control file if it is still ours.
	if b, err := os.ReadFile(ctlPath(store, db)); err == nil {
		var c ctlFile
		if json.Unmarshal(b, &c) == nil && c.PID == os.Getpid() {
			_ = os.Remove(ctlPath(store, db))
		}
	}
	logf("HADR daemon exits")
	return exitOK
}

func (d *daemon) serveCtl(cl net.Listener, token string) {
	for {
		c, err := cl.Accept()
		if err != nil {
			return
		}
		go func(c net.Conn) {
			defer c.Close()
			var req ctlReq
			if err := json.NewDecoder(c).Decode(&req); err != nil || req.Token != token {
				return
			}
			resp := d.control(req)
			_ = json.NewEncoder(c).Encode(resp)
		}(c)
	}
}

func (d *daemon) control(req ctlReq) ctlResp {
	switch req.Op {
	case "status":
		in := d.info()
		return ctlResp{OK: true, Status: &in}
	case "ship":
		if err := d.waitCommitted(req.LSN); err != nil {
			return ctlResp{Err: err.Error()}
		}
		return ctlResp{OK: true}
	case "takeover":
		msg, rc := d.takeover(req.Force, req.PWO)
		return ctlResp{OK: rc == exitOK, Msg: msg, RC: rc}
	case "stop":
		d.shutdown(req.Reason)
		return ctlResp{OK: true}
	case "hang":
		d.mu.Lock()
		d.hungUntil = time.Now().Add(req.For)
		d.mu.Unlock()
		d.logf("simulated host failure: silent for %v", req.For)
		return ctlResp{OK: true}
	}
	return ctlResp{Err: "unknown operation " + req.Op}
}
