package db2model

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cfgParam describes one updatable database configuration parameter.
type cfgParam struct {
	name string
	// desc is the description GET DB CFG prints.
	desc string
	// norm validates and normalises a value; it returns "" and a message
	// when the value is not allowed.
	norm func(string) (string, string)
	// hadr parameters take effect at the next activation (SQL1363W).
	static bool
}

func enum(param string, values map[string]string) func(string) (string, string) {
	return func(v string) (string, string) {
		if n, ok := values[strings.ToUpper(v)]; ok {
			return n, ""
		}
		return "", sql0104(v, param, firstKey(values))
	}
}

func firstKey(m map[string]string) string {
	best := ""
	for k := range m {
		if best == "" || k < best {
			best = k
		}
	}
	return best
}

func number(param string, min, max uint64) func(string) (string, string) {
	return func(v string) (string, string) {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n < min || n > max {
			return "", fmt.Sprintf(`SQL5130N The value specified for the configuration parameter "%s" is not in the valid range of "%d" to "%d".`,
				strings.ToLower(param), min, max)
		}
		return strconv.FormatUint(n, 10), ""
	}
}

func text(max int) func(string) (string, string) {
	return func(v string) (string, string) {
		if len(v) > max {
			return "", fmt.Sprintf(`SQL0102N The string constant beginning with "%s" is too long. SQLSTATE=54002`, v[:8])
		}
		return v, ""
	}
}

var onOff = map[string]string{"ON": "ON", "OFF": "OFF", "YES": "ON", "NO": "OFF"}

// archMeth validates LOGARCHMETH1/LOGARCHMETH2. IBM Db2 11.5, "logarchmeth1
// - Primary log archive method configuration parameter" (r0011448): OFF,
// LOGRETAIN, USEREXIT, DISK:<fully qualified existing path>, DB2REMOTE:...,
// TSM[:management class], VENDOR:<library>; logarchmeth2 takes OFF, DISK,
// DB2REMOTE, TSM and VENDOR only (r0011449).
func archMeth(param string, second bool) func(string) (string, string) {
	return func(v string) (string, string) {
		up := strings.ToUpper(v)
		switch {
		case up == "OFF":
			return "OFF", ""
		case !second && (up == "LOGRETAIN" || up == "USEREXIT"):
			return up, ""
		case up == "TSM" || strings.HasPrefix(up, "TSM:"):
			return "TSM" + v[3:], ""
		case strings.HasPrefix(up, "VENDOR:") && len(v) > 7:
			return "VENDOR" + v[6:], ""
		case strings.HasPrefix(up, "DB2REMOTE:") && len(v) > 10:
			return "DB2REMOTE" + v[9:], ""
		case strings.HasPrefix(up, "DISK:"):
			path := v[5:]
			// "a fully qualified existing path name" (r0011448). Db2
			// answers SQL5099N for a path it cannot use (IBM 11.5
			// messages SQL5000-SQL5499).
			if fi, err := os.Stat(path); !filepath.IsAbs(path) || err != nil || !fi.IsDir() {
				return "", fmt.Sprintf(`SQL5099N The value "%s" indicated by the database configuration parameter "%s" is not valid, reason code "2".`, // reason codes as the model assigns them
					v, strings.ToLower(param))
			}
			return "DISK:" + path, ""
		}
		return "", fmt.Sprintf(`SQL5099N The value "%s" indicated by the database configuration parameter "%s" is not valid, reason code "1".`,
			v, strings.ToLower(param))
	}
}

// cfgParams are the parameters UPDATE DB CFG accepts. LOGRETAIN and
// USEREXIT are not among them: both database configuration parameters are
// discontinued since Db2 10.1 (IBM 11.1 "Summary of deprecated and
// discontinued functionality", c0054775); their function lives on as
// LOGARCHMETH1's LOGRETAIN and USEREXIT values. Db2 10.1+ CLP
// does not know the keyword, so UPDATE DB CFG ... USING LOGRETAIN ON fails
// in the parser with SQL0104N (an unexpected token "LOGRETAIN" following
// "USING"), as for any name that is not a configuration parameter.
var cfgParams = map[string]cfgParam{
	// logarchmeth1 is "Configurable Online" (r0011448).
	"LOGARCHMETH1":  {"LOGARCHMETH1", "First log archive method", archMeth("LOGARCHMETH1", false), false},
	"LOGARCHMETH2":  {"LOGARCHMETH2", "Second log archive method", archMeth("LOGARCHMETH2", true), false},
	"TRACKMOD":      {"TRACKMOD", "Track modified pages", enum("TRACKMOD", onOff), true},
	"LOGINDEXBUILD": {"LOGINDEXBUILD", "Log pages during index build", enum("LOGINDEXBUILD", onOff), false},
	"INDEXREC": {"INDEXREC", "Index re-creation time and redo index build", enum("INDEXREC", map[string]string{
		"SYSTEM": "SYSTEM", "ACCESS": "ACCESS", "RESTART": "RESTART", "ACCESS_NO_REDO": "ACCESS_NO_REDO",
		"RESTART_NO_REDO": "RESTART_NO_REDO"}), false},
	"LOGFILSIZ":        {"LOGFILSIZ", "Log file size (4KB)", number("LOGFILSIZ", 4, 1048572), true},
	"LOGPRIMARY":       {"LOGPRIMARY", "Number of primary log files", number("LOGPRIMARY", 2, 256), true},
	"HADR_LOCAL_HOST":  {"HADR_LOCAL_HOST", "HADR local host name", text(255), true},
	"HADR_LOCAL_SVC":   {"HADR_LOCAL_SVC", "HADR local service name", text(40), true},
	"HADR_REMOTE_HOST": {"HADR_REMOTE_HOST", "HADR remote host name", text(255), true},
	"HADR_REMOTE_SVC":  {"HADR_REMOTE_SVC", "HADR remote service name", text(40), true},
	"HADR_REMOTE_INST": {"HADR_REMOTE_INST", "HADR instance name of remote server", text(8), true},
	"HADR_TIMEOUT":     {"HADR_TIMEOUT", "HADR timeout value", number("HADR_TIMEOUT", 1, 4294967295), true},
	"HADR_SYNCMODE": {"HADR_SYNCMODE", "HADR log write synchronization mode", enum("HADR_SYNCMODE", map[string]string{
		"SYNC": "SYNC", "NEARSYNC": "NEARSYNC", "ASYNC": "ASYNC", "SUPERASYNC": "SUPERASYNC"}), true},
	"HADR_PEER_WINDOW": {"HADR_PEER_WINDOW", "HADR peer window duration (seconds)", number("HADR_PEER_WINDOW", 0, 4294967295), true},
}

func defaultCfg() map[string]string {
	return map[string]string{
		"LOGARCHMETH1": "OFF", "LOGARCHMETH2": "OFF", "TRACKMOD": "OFF", "LOGINDEXBUILD": "OFF", "INDEXREC": "SYSTEM",
		"LOGFILSIZ": "1024", "LOGPRIMARY": "13",
		"HADR_LOCAL_HOST": "", "HADR_LOCAL_SVC": "", "HADR_REMOTE_HOST": "", "HADR_REMOTE_SVC": "",
		"HADR_REMOTE_INST": "", "HADR_TIMEOUT": "120", "HADR_SYNCMODE": "NEARSYNC", "HADR_PEER_WINDOW": "0",
	}
}

// recoverable: archive logging is on. "If you set both the logarchmeth1
// and logarchmeth2 configuration parameters to OFF ... the database is
// considered to be using circular logging and is not rollforward
// recoverable" (r0011448).
func (d *Database) recoverable() bool {
	m1, m2 := d.Cfg["LOGARCHMETH1"], d.Cfg["LOGARCHMETH2"]
	return (m1 != "" && m1 != "OFF") || (m2 != "" && m2 != "OFF")
}

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

// Version is a Db2 release the model imitates (DB2MODEL_VERSION).
type Version struct {
	// Name is what DB2MODEL_VERSION selects: "11.5" (the default) or "10.5".
	Name string
	// Server is the CONNECT banner's "Database server" value.
	Server string
	// Level is GET DB CFG's "Database configuration release level".
	Level string
}

// Versions the model can imitate. The release levels are those GET DB CFG
// prints for databases of each release (0x1000 for 10.5, 0x1500 for 11.5;
// IBM 11.5 "GET DATABASE CONFIGURATION command", sample output).
var Versions = map[string]Version{
	"11.5": {"11.5", "DB2/LINUXX8664 11.5.9.0", "0x1500"},
	"10.5": {"10.5", "DB2/LINUXX8664 10.5.11", "0x1000"},
}

// DefaultVersion is the release followed unless DB2MODEL_VERSION says.
const DefaultVersion = "11.5"

func (c *cli) version() Version {
	if v, ok := Versions[c.env.Getenv(EnvVersion)]; ok {
		return v
	}
	return Versions[DefaultVersion]
}

// writeCfg prints GET DB CFG in the layout of Db2 10.1 and later (IBM 11.5
// "GET DATABASE CONFIGURATION command", sample output): description, the
// parameter name in parentheses right-aligned, " = " in column 58. Since
// 10.1 there is no LOGRETAIN/USEREXIT line; the informational "Log retain
// for recovery status" (log_retain_status, r0000248: RECOVERY when
// logarchmeth1 is LOGRETAIN, else NO) and "User exit for logging status"
// (user_exit_status, r0000250: YES when logs are archived by logarchmeth1
// or logarchmeth2) take their place.
func writeCfg(w io.Writer, v Version, st *State, d *Database) {
	line := func(desc, name, val string) {
		left := " " + desc
		if name != "" {
			tag := "(" + name + ")"
			pad := 56 - len(left) - len(tag)
			if pad < 1 {
				pad = 1
			}
			left += strings.Repeat(" ", pad) + tag
		}
		fmt.Fprintf(w, "%-56s = %s\n", left, val)
	}
	indexrec := d.Cfg["INDEXREC"]
	if indexrec == "SYSTEM" {
		indexrec = "SYSTEM (RESTART)"
	}
	retain := "NO"
	if d.Cfg["LOGARCHMETH1"] == "LOGRETAIN" {
		retain = "RECOVERY"
	}
	userExit := d.recoverable() && d.Cfg["LOGARCHMETH1"] != "LOGRETAIN"
	fmt.Fprintf(w, "\n       Database Configuration for Database %s\n\n", strings.ToLower(d.Name))
	line("Database configuration release level", "", v.Level)
	line("Database release level", "", v.Level)
	fmt.Fprintln(w)
	line("Update to database level pending", "", "NO (0x0)")
	line("Database territory", "", "US")
	line("Database code page", "", "1208")
	line("Database code set", "", "UTF-8")
	line("Database country/region code", "", "1")
	line("Database collating sequence", "", "IDENTITY")
	line("Alternate collating sequence", "ALT_COLLATE", "")
	line("Number compatibility", "", "OFF")
	line("Varchar2 compatibility", "", "OFF")
	line("Date compatibility", "", "OFF")
	line("Database page size", "", "4096")
	fmt.Fprintln(w)
	line("Backup pending", "", yesNo(d.BackupPending))
	fmt.Fprintln(w)
	line("All committed transactions have been written to disk", "", yesNo(!d.Active))
	line("Rollforward pending", "", map[bool]string{true: "DATABASE", false: "NO"}[d.RollforwardPending])
	line("Restore pending", "", "NO")
	fmt.Fprintln(w)
	line("Log file size (4KB)", "LOGFILSIZ", d.Cfg["LOGFILSIZ"])
	line("Number of primary log files", "LOGPRIMARY", d.Cfg["LOGPRIMARY"])
	line("Number of secondary log files", "LOGSECOND", "4")
	line("Changed path to log files", "NEWLOGPATH", "")
	line("Path to log files", "", "/var/lib/db2/"+strings.ToLower(st.Instance)+"/NODE0000/SQL00001/LOGSTREAM0000/")
	line("First active log file", "", d.LogFile(d.Log.LSN))
	fmt.Fprintln(w)
	line("Log retain for recovery status", "", retain)
	line("User exit for logging status", "", yesNo(userExit))
	fmt.Fprintln(w)
	line("HADR database role", "", d.Role)
	for _, p := range []string{"HADR_LOCAL_HOST", "HADR_LOCAL_SVC", "HADR_REMOTE_HOST", "HADR_REMOTE_SVC",
		"HADR_REMOTE_INST", "HADR_TIMEOUT"} {
		line(cfgParams[p].desc, p, d.Cfg[p])
	}
	line("HADR target list", "HADR_TARGET_LIST", "")
	line(cfgParams["HADR_SYNCMODE"].desc, "HADR_SYNCMODE", d.Cfg["HADR_SYNCMODE"])
	line("HADR spool log data limit (4KB)", "HADR_SPOOL_LIMIT", "AUTOMATIC(0)")
	line("HADR log replay delay (seconds)", "HADR_REPLAY_DELAY", "0")
	line(cfgParams["HADR_PEER_WINDOW"].desc, "HADR_PEER_WINDOW", d.Cfg["HADR_PEER_WINDOW"])
	fmt.Fprintln(w)
	line("First log archive method", "LOGARCHMETH1", d.Cfg["LOGARCHMETH1"])
	line("Archive compression for logarchmeth1", "LOGARCHCOMPR1", "OFF")
	line("Options for logarchmeth1", "LOGARCHOPT1", "")
	line("Second log archive method", "LOGARCHMETH2", d.Cfg["LOGARCHMETH2"])
	line("Archive compression for logarchmeth2", "LOGARCHCOMPR2", "OFF")
	line("Options for logarchmeth2", "LOGARCHOPT2", "")
	fmt.Fprintln(w)
	line(cfgParams["INDEXREC"].desc, "INDEXREC", indexrec)
	line(cfgParams["LOGINDEXBUILD"].desc, "LOGINDEXBUILD", d.Cfg["LOGINDEXBUILD"])
	line(cfgParams["TRACKMOD"].desc, "TRACKMOD", d.Cfg["TRACKMOD"])
	fmt.Fprintln(w)
}
