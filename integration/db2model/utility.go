package db2model

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// image is the content of a backup image file.
type image struct {
	Magic     string
	DB        string
	Instance  string
	Timestamp string
	Online    bool
	// Recoverable: taken with archive logging on (LOGARCHMETH1/2).
	Recoverable bool
	Seed        string
	Cfg         map[string]string
	Tables      map[string]*Table
	LSN         uint64
	Hash        string
}

const imageMagic = "hamnflow-db2model-backup-1"

func imageName(db, instance, ts string) string {
	return fmt.Sprintf("%s.0.%s.NODE0000.CATN0000.%s.001", db, instance, ts)
}

func (c *cli) backup(p *parser) int {
	name, user, pw, err := p.databaseUser(true)
	if err != nil {
		return c.report(err)
	}
	online := p.accept("ONLINE")
	var dirs []string
	if p.accept("TO") {
		if dirs, err = p.directories(); err != nil {
			return c.report(err)
		}
	}
	for !p.done() {
		switch {
		case p.accept("COMPRESS"), p.accept("INCLUDE", "LOGS"), p.accept("EXCLUDE", "LOGS"), p.accept("WITHOUT", "PROMPTING"):
		default:
			return c.report(p.fail("END-OF-STATEMENT"))
		}
	}
	if len(dirs) == 0 {
		wd, _ := os.Getwd()
		dirs = []string{wd}
	}
	var ts string
	err = c.update(func(st *State) error {
		db, err := c.usable(st, name, user, pw)
		if err != nil {
			return err
		}
		switch {
		case db.Role == RoleStandby:
			return fail(exitError, sql1776(1))
		case db.RollforwardPending:
			return fail(exitError, sql1117(name))
		case online && (!db.recoverable() || db.BackupPending):
			return fail(exitError, msgSQL2413)
		case !online && (db.Active || len(db.Conns) > 0):
			return fail(exitError, msgSQL1035)
		}
		dir := dirs[0]
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return fail(exitError, sql2036(dir))
		}
		now := time.Now()
		for {
			ts = now.Format("20060102150405")
			if _, err := os.Stat(filepath.Join(dir, imageName(name, st.Instance, ts))); err != nil && ts != db.LastBackup {
				break
			}
			now = now.Add(time.Second)
		}
		img := image{Magic: imageMagic, DB: name, Instance: st.Instance, Timestamp: ts, Online: online,
			Recoverable: db.recoverable(), Seed: db.Seed, Cfg: db.Cfg, Tables: db.Tables, LSN: db.Log.LSN, Hash: db.Log.Hash}
		b, err := json.MarshalIndent(img, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, imageName(name, st.Instance, ts)), b, 0o640); err != nil {
			return fail(exitError, sql2036(dir))
		}
		db.BackupPending = false
		db.LastBackup = ts
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	c.store.Journal("BACKUP DATABASE %s online=%v timestamp %s", name, online, ts)
	c.say("", "Backup successful. The timestamp for this backup image is : "+ts, "")
	return exitOK
}

// findImage looks for the image of db taken at ts (a timestamp prefix is
// enough when it is unambiguous) in dirs.
func findImage(dirs []string, db, ts string) (image, bool) {
	var found []string
	for _, d := range dirs {
		m, _ := filepath.Glob(filepath.Join(d, db+".0.*.NODE0000.CATN0000."+ts+"*.001"))
		found = append(found, m...)
	}
	sort.Strings(found)
	if len(found) == 0 {
		return image{}, false
	}
	b, err := os.ReadFile(found[len(found)-1])
	if err != nil {
		return image{}, false
	}
	var img image
	if json.Unmarshal(b, &img) != nil || img.Magic != imageMagic {
		return image{}, false
	}
	return img, true
}

func (c *cli) restore(p *parser) int {
	name, user, pw, err := p.databaseUser(true)
	if err != nil {
		return c.report(err)
	}
	var dirs []string
	if p.accept("FROM") {
		if dirs, err = p.directories(); err != nil {
			return c.report(err)
		}
	}
	ts := ""
	if p.accept("TAKEN", "AT") {
		var ok bool
		if ts, ok = p.value(); !ok {
			return c.report(p.fail("<date-time>"))
		}
	}
	noPrompt, replaceExisting, noRollforward := false, false, false
	for !p.done() {
		switch {
		case p.accept("REPLACE", "HISTORY", "FILE"):
		case p.accept("REPLACE", "EXISTING"):
			replaceExisting = true
		case p.accept("WITHOUT", "PROMPTING"):
			noPrompt = true
		case p.accept("WITHOUT", "ROLLING", "FORWARD"):
			noRollforward = true
		case p.accept("INTO"):
			into, ok := p.value()
			if !ok || !strings.EqualFold(into, name) {
				return c.report(p.fail("END-OF-STATEMENT"))
			}
		default:
			return c.report(p.fail("END-OF-STATEMENT"))
		}
	}
	if len(dirs) == 0 {
		wd, _ := os.Getwd()
		dirs = []string{wd}
	}
	img, ok := findImage(dirs, name, ts)
	if !ok {
		c.say(sql2542(name, ts))
		return exitError
	}
	if img.Online && noRollforward {
		c.say(msgSQL2537)
		return exitError
	}
	// First pass: checks, and whether the user must confirm.
	var warning string
	err = c.update(func(st *State) error {
		if err := requireUp(st); err != nil {
			return err
		}
		if err := c.auth(st, user, pw); err != nil {
			return err
		}
		db := st.DBs[name]
		if db == nil {
			return nil
		}
		if db.Active || len(db.Conns) > 0 {
			return fail(exitError, msgSQL1035)
		}
		warning = msgSQL2523
		if db.Seed == img.Seed {
			warning = msgSQL2539
		}
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	if warning != "" {
		c.say(warning)
		if !noPrompt && !replaceExisting {
			fmt.Fprint(c.env.Stdout, "Do you want to continue ? (y/n) ")
			answer := ""
			if c.env.Stdin != nil {
				line, _ := bufio.NewReader(c.env.Stdin).ReadString('\n')
				answer = strings.TrimSpace(line)
			}
			fmt.Fprintln(c.env.Stdout)
			if !strings.EqualFold(answer, "y") {
				c.say(msgSQL2001)
				return exitError
			}
		}
	}
	err = c.update(func(st *State) error {
		db := st.DBs[name]
		if db != nil && (db.Active || len(db.Conns) > 0) {
			return fail(exitError, msgSQL1035)
		}
		created := time.Now()
		if db != nil {
			created = db.Created
		}
		st.DBs[name] = &Database{
			Name: name, Seed: img.Seed, Created: created, Role: RoleStandard, Cfg: img.Cfg, Tables: img.Tables,
			RollforwardPending: img.Recoverable && !noRollforward,
			Log:                Log{BaseLSN: img.LSN, BaseHash: img.Hash, LSN: img.LSN, Hash: img.Hash},
			LastBackup:         img.Timestamp,
		}
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	c.store.Journal("RESTORE DATABASE %s from image %s", name, img.Timestamp)
	c.say(okMsg("RESTORE DATABASE"))
	return exitOK
}

func (c *cli) rollforward(p *parser) int {
	name, user, pw, err := p.databaseUser(true)
	if err != nil {
		return c.report(err)
	}
	query, complete := false, false
	switch {
	case p.accept("QUERY", "STATUS"):
		query = true
	case p.accept("COMPLETE"), p.accept("STOP"):
		complete = true
	case p.accept("TO", "END", "OF", "LOGS"):
		complete = p.accept("AND", "COMPLETE") || p.accept("AND", "STOP")
	default:
		return c.report(p.fail("TO END OF LOGS"))
	}
	if !p.done() {
		return c.report(p.fail("END-OF-STATEMENT"))
	}
	var db Database
	err = c.update(func(st *State) error {
		d, err := c.usable(st, name, user, pw)
		if err != nil {
			return err
		}
		if d.Role == RoleStandby {
			return fail(exitError, sql1776(1))
		}
		if !query && !d.RollforwardPending {
			return fail(exitError, sql4904(name))
		}
		if complete {
			d.RollforwardPending = false
		}
		db = *d
		return nil
	})
	if err != nil {
		return c.report(err)
	}
	status := "not pending"
	if db.RollforwardPending {
		status = "DB pending"
		if !query {
			status = "DB working"
		}
	}
	last := db.LogFile(db.Log.LSN)
	c.say("", "                                 Rollforward Status", "",
		" Input database alias                   = "+name,
		" Number of members have returned status = 1", "",
		" Member ID                              = 0",
		" Rollforward status                     = "+status,
		" Next log file to be read               =",
		" Log files processed                    = "+last+" - "+last,
		" Last committed transaction             = "+time.Now().UTC().Format("2006-01-02-15.04.05.000000")+" UTC", "")
	if !query {
		c.store.Journal("ROLLFORWARD DATABASE %s complete=%v", name, complete)
		c.say(okMsg("ROLLFORWARD"))
	}
	return exitOK
}
