package db2model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Db2 HADR roles as stored in the database configuration (hadr_db_role).
const (
	RoleStandard = "STANDARD"
	RolePrimary  = "PRIMARY"
	RoleStandby  = "STANDBY"
)

// State is everything one instance knows, persisted as state.json.
type State struct {
	Version  int
	Instance string
	// Up says whether db2start has run.
	Up        bool
	StartedAt time.Time
	// Password is the instance owner's password for USER ... USING.
	Password string
	DBs      map[string]*Database
}

// Conn is a CLP session connected to a database.
type Conn struct {
	Session string
	Since   time.Time
}

// Database is one database of the instance.
type Database struct {
	Name string
	// Seed identifies the database across backup and restore: restoring an
	// image over a database with the same seed is "the same database"
	// (SQL2539W), otherwise a different one (SQL2523W).
	Seed    string
	Created time.Time
	// Active: the database is activated. Explicit: by ACTIVATE or START HADR
	// (it stays active without connections).
	Active, Explicit bool
	ActivatedAt      time.Time
	Conns            []Conn
	Quiesced         bool
	BackupPending    bool
	// RollforwardPending is set by restoring a recoverable image and by
	// STOP HADR on a standby.
	RollforwardPending bool
	// Disabled: this old primary was told to stop by a forced takeover.
	Disabled   bool
	Role       string
	Cfg        map[string]string
	AltHost    string
	AltPort    string
	Tables     map[string]*Table
	Log        Log
	LastBackup string
	// DaemonPID is the HADR daemon's pid while HADR runs.
	DaemonPID int
}

// Table is a table with VARCHAR columns; Key is the primary key column.
type Table struct {
	Name string
	Cols []Column
	Key  int
	Rows [][]*string
}

// Column is a VARCHAR column.
type Column struct {
	Name  string
	Width int
}

// Log is the database's transaction log. Positions (LSNs) are byte offsets;
// each record carries a hash chained to its predecessor so two logs can be
// compared by their end alone.
type Log struct {
	// BaseLSN/BaseHash are the position before the first kept record
	// (creation or the restored image).
	BaseLSN  uint64
	BaseHash string
	Records  []Record
	// LSN/Hash are the end of the log.
	LSN  uint64
	Hash string
}

// Record is one logged write.
type Record struct {
	LSN  uint64 // end position of the record
	Prev string
	Hash string
	Time time.Time
	Op   Op
}

// Op is a row change: insert Row, or for update/delete the rows whose Key
// column equals Key (Set gives the new column values of an update).
type Op struct {
	Kind  string // insert, update, delete
	Table string
	Row   []*string          `json:",omitempty"`
	Col   string             `json:",omitempty"`
	Val   *string            `json:",omitempty"`
	Set   map[string]*string `json:",omitempty"`
	Where bool               `json:",omitempty"` // Col/Val restrict the rows
}

// logPageSize is Db2's log page size.
const logPageSize = 4096

// fileBytes is the size of one log file for LOGFILSIZ pages.
func (d *Database) fileBytes() uint64 {
	n, err := strconv.ParseUint(d.Cfg["LOGFILSIZ"], 10, 64)
	if err != nil || n == 0 {
		n = 1024
	}
	return n * logPageSize
}

// LogFile, LogPage give the log file name and page of position lsn.
func (d *Database) LogFile(lsn uint64) string {
	return fmt.Sprintf("S%07d.LOG", lsn/d.fileBytes())
}

// LogPage is the page of lsn within its log file.
func (d *Database) LogPage(lsn uint64) int { return int(lsn % d.fileBytes() / logPageSize) }

// chainHash is the hash of a record following prev.
func chainHash(prev string, lsn uint64, op Op) string {
	b, _ := json.Marshal(op)
	sum := sha256.Sum256([]byte(prev + "|" + strconv.FormatUint(lsn, 10) + "|" + string(b)))
	return hex.EncodeToString(sum[:8])
}

// Append logs op at the end of the log and applies it; it returns the record.
func (d *Database) Append(op Op, now time.Time) (Record, error) {
	b, _ := json.Marshal(op)
	lsn := d.Log.LSN + 100 + uint64(len(b))
	rec := Record{LSN: lsn, Prev: d.Log.Hash, Hash: chainHash(d.Log.Hash, lsn, op), Time: now, Op: op}
	if err := d.Apply(op); err != nil {
		return Record{}, err
	}
	d.Log.Records = append(d.Log.Records, rec)
	d.Log.LSN, d.Log.Hash = rec.LSN, rec.Hash
	return rec, nil
}

// Replay applies a record shipped from the primary; it must follow the end
// of the local log.
func (d *Database) Replay(rec Record) error {
	if rec.Prev != d.Log.Hash || rec.LSN <= d.Log.LSN {
		return fmt.Errorf("log record at %d does not follow the local log end %d", rec.LSN, d.Log.LSN)
	}
	if chainHash(rec.Prev, rec.LSN, rec.Op) != rec.Hash {
		return fmt.Errorf("log record at %d is corrupt", rec.LSN)
	}
	if err := d.Apply(rec.Op); err != nil {
		return err
	}
	d.Log.Records = append(d.Log.Records, rec)
	d.Log.LSN, d.Log.Hash = rec.LSN, rec.Hash
	return nil
}

// HasPosition reports whether lsn/hash is a position of this log (its base
// or the end of one of its records): a standby ending there can follow it.
func (d *Database) HasPosition(lsn uint64, hash string) bool {
	if lsn == d.Log.BaseLSN && hash == d.Log.BaseHash {
		return true
	}
	for _, r := range d.Log.Records {
		if r.LSN == lsn {
			return r.Hash == hash
		}
	}
	return false
}

// RecordsAfter returns the records ending after lsn.
func (d *Database) RecordsAfter(lsn uint64) []Record {
	var out []Record
	for _, r := range d.Log.Records {
		if r.LSN > lsn {
			out = append(out, r)
		}
	}
	return out
}

// Apply performs op on the tables.
func (d *Database) Apply(op Op) error {
	t := d.Tables[op.Table]
	if t == nil {
		return fmt.Errorf("no table %s", op.Table)
	}
	col := func(name string) int {
		for i, c := range t.Cols {
			if strings.EqualFold(c.Name, name) {
				return i
			}
		}
		return -1
	}
	match := func(row []*string) bool {
		if !op.Where {
			return true
		}
		i := col(op.Col)
		return i >= 0 && row[i] != nil && op.Val != nil && *row[i] == *op.Val
	}
	switch op.Kind {
	case "insert":
		if len(op.Row) != len(t.Cols) {
			return fmt.Errorf("insert into %s: %d values for %d columns", t.Name, len(op.Row), len(t.Cols))
		}
		t.Rows = append(t.Rows, op.Row)
	case "delete":
		kept := t.Rows[:0]
		for _, r := range t.Rows {
			if !match(r) {
				kept = append(kept, r)
			}
		}
		t.Rows = kept
	case "update":
		for _, r := range t.Rows {
			if match(r) {
				for name, v := range op.Set {
					if i := col(name); i >= 0 {
						r[i] = v
					}
				}
			}
		}
	default:
		return fmt.Errorf("unknown operation %q", op.Kind)
	}
	return nil
}

// Store is the model directory of one instance.
type Store struct {
	Dir string
}

func (s Store) path(name string) string { return filepath.Join(s.Dir, name) }

// errNoState is returned when the model directory has no state.json.
var errNoState = errors.New("no Db2 model state (run Install)")

// lock takes the directory's flock; exclusive for writers.
func (s Store) lock(exclusive bool) (func(), error) {
	f, err := os.OpenFile(s.path("lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", f.Name(), err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func (s Store) load() (*State, error) {
	b, err := os.ReadFile(s.path("state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoState
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("state.json: %w", err)
	}
	if st.DBs == nil {
		st.DBs = map[string]*Database{}
	}
	return &st, nil
}

func (s Store) save(st *State) error {
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	tmp := s.path(fmt.Sprintf("state.json.%d.tmp", os.Getpid()))
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.path("state.json"))
}

// View runs fn on the current state under a shared lock.
func (s Store) View(fn func(*State) error) error {
	unlock, err := s.lock(false)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := s.load()
	if err != nil {
		return err
	}
	return fn(st)
}

// Update runs fn on the state under the exclusive lock and saves the result
// when fn returns nil.
func (s Store) Update(fn func(*State) error) error {
	unlock, err := s.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := s.load()
	if err != nil {
		return err
	}
	if err := fn(st); err != nil {
		return err
	}
	return s.save(st)
}

// Journal appends one line to journal.log.
func (s Store) Journal(format string, args ...any) {
	f, err := os.OpenFile(s.path("journal.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s pid=%d %s\n", time.Now().Format("2006-01-02T15:04:05.000000"), os.Getpid(), fmt.Sprintf(format, args...))
}

// processAlive reports whether pid runs and is not a zombie.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}
