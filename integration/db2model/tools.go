package db2model

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// nodesFile is sqllib/db2nodes.cfg (the model directory is sqllib/model).
func (c *cli) nodesFile() string { return filepath.Join(filepath.Dir(c.store.Dir), "db2nodes.cfg") }

func shortHost(h string) string {
	h, _, _ = strings.Cut(strings.ToLower(strings.TrimSpace(h)), ".")
	return h
}

// nodesHostMismatch reports the host named in db2nodes.cfg when it is not
// this host: db2start then fails like Db2 after a host name change.
func (c *cli) nodesHostMismatch() (string, bool) {
	b, err := os.ReadFile(c.nodesFile())
	if err != nil {
		return "", false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return "", false
	}
	return f[1], shortHost(f[1]) != shortHost(c.hostname())
}

func stampLine(msg string) string {
	return fmt.Sprintf("%s     0   0   %s", time.Now().Format("01/02/2006 15:04:05"), msg)
}

// start is db2start: it returns the message and whether it succeeded
// (already is set when the instance was running).
func (c *cli) start() (msg string, already bool, err error) {
	if host, bad := c.nodesHostMismatch(); bad {
		c.store.Journal("db2start: db2nodes.cfg names %s, this host is %s", host, c.hostname())
		return msgSQL6048, false, nil
	}
	err = c.update(func(st *State) error {
		if st.Up {
			already = true
			return nil
		}
		st.Up, st.StartedAt = true, time.Now()
		return nil
	})
	if already {
		return msgSQL1026, true, err
	}
	return msgSQL1063, false, err
}

func (c *cli) db2start(args []string) int {
	msg, already, err := c.start()
	if err != nil {
		return c.report(err)
	}
	c.say(stampLine(msg), msg)
	if already || msg == msgSQL6048 {
		return 1
	}
	c.store.Journal("db2start")
	return 0
}

// stop is db2stop [FORCE]: HADR daemons are shut down in an orderly way.
func (c *cli) stop(force bool) (string, error) {
	type hd struct {
		db  string
		pid int
	}
	var daemons []hd
	var msg string
	err := c.update(func(st *State) error {
		if !st.Up {
			msg = msgSQL1032
			return nil
		}
		for _, db := range st.DBs {
			if (db.Active || len(db.Conns) > 0) && !force {
				msg = msgSQL1025
				return nil
			}
		}
		for _, db := range st.DBs {
			if db.DaemonPID != 0 {
				daemons = append(daemons, hd{db.Name, db.DaemonPID})
			}
			db.Active, db.Explicit, db.Conns, db.Quiesced, db.DaemonPID = false, false, nil, false, 0
		}
		st.Up = false
		msg = msgSQL1064
		return nil
	})
	for _, d := range daemons {
		c.stopDaemon(d.db, d.pid, "db2stop")
	}
	return msg, err
}

func (c *cli) db2stop(args []string) int {
	force := false
	for _, a := range args {
		if strings.EqualFold(a, "force") {
			force = true
		}
	}
	msg, err := c.stop(force)
	if err != nil {
		return c.report(err)
	}
	c.say(stampLine(msg), msg)
	if msg != msgSQL1064 {
		return 1
	}
	c.store.Journal("db2stop force=%v", force)
	return 0
}

// db2gcf is the generic cluster framework tool: -u start, -d stop,
// -k kill, -s status, for -p partition and -i instance.
func (c *cli) db2gcf(args []string) int {
	var action, inst string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-u", "-d", "-k", "-s", "-o":
			action = args[i]
		case "-i":
			if i+1 < len(args) {
				inst = args[i+1]
				i++
			}
		case "-p", "-t", "-L":
			if args[i] != "-L" && i+1 < len(args) {
				i++
			}
		}
	}
	var instance string
	if err := c.store.View(func(st *State) error { instance = st.Instance; return nil }); err != nil {
		return c.report(err)
	}
	if inst == "" {
		inst = c.env.Getenv("DB2INSTANCE")
	}
	if action == "" {
		c.say("Usage: db2gcf -u|-d|-k|-s|-o [-i instance] [-p partition] [-t timeout] [-L]")
		return 1
	}
	c.say("Instance  : " + inst)
	if inst != "" && !strings.EqualFold(inst, instance) {
		c.say("DB2 State : Failed (no such instance)")
		return 1
	}
	switch action {
	case "-u":
		if err := c.updateNodes(); err != nil {
			c.say("DB2 Start : Failed", "Partition 0 : Failed")
			return 1
		}
		msg, _, err := c.start()
		if err != nil || msg == msgSQL6048 {
			c.say("DB2 Start : Failed", "Partition 0 : Failed")
			return 1
		}
		c.store.Journal("db2gcf -u: db2nodes.cfg set to %s, instance started", c.hostname())
		c.say("DB2 Start : Success", "Partition 0 : Success")
	case "-d", "-o":
		if _, err := c.stop(true); err != nil {
			c.say("DB2 Stop  : Failed", "Partition 0 : Failed")
			return 1
		}
		c.say("DB2 Stop  : Success", "Partition 0 : Success")
	case "-k":
		_ = c.update(func(st *State) error {
			for _, db := range st.DBs {
				if db.DaemonPID != 0 {
					_ = syscall.Kill(db.DaemonPID, syscall.SIGKILL)
				}
				db.Active, db.Explicit, db.Conns, db.DaemonPID = false, false, nil, 0
			}
			st.Up = false
			return nil
		})
		c.say("DB2 Kill  : Success")
	case "-s":
		up := false
		_ = c.store.View(func(st *State) error { up = st.Up; return nil })
		c.say("DB2 State")
		if up {
			c.say("Partition 0 : Available")
			return 0
		}
		c.say("Partition 0 : Not Operable")
		return 1
	}
	return 0
}

// updateNodes rewrites db2nodes.cfg with this host's name, as db2gcf -u
// does after the standby MN took over the primary's host name.
func (c *cli) updateNodes() error {
	port := "0"
	if b, err := os.ReadFile(c.nodesFile()); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			port = f[2]
		}
	}
	return os.WriteFile(c.nodesFile(), []byte(fmt.Sprintf("0 %s %s\n", c.hostname(), port)), 0o644)
}
