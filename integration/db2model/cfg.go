package db2model

import (
	"fmt"
	"io"
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

// cfgParams are the parameters UPDATE DB CFG accepts.
var cfgParams = map[string]cfgParam{
	"LOGRETAIN": {"LOGRETAIN", "Log retain for recovery enabled",
		enum("LOGRETAIN", map[string]string{"ON": "RECOVERY", "RECOVERY": "RECOVERY", "YES": "RECOVERY", "OFF": "OFF", "NO": "OFF"}), true},
	"USEREXIT":      {"USEREXIT", "User exit for logging enabled", enum("USEREXIT", onOff), true},
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
		"LOGRETAIN": "OFF", "USEREXIT": "OFF", "TRACKMOD": "OFF", "LOGINDEXBUILD": "OFF", "INDEXREC": "SYSTEM",
		"LOGFILSIZ": "1024", "LOGPRIMARY": "13",
		"HADR_LOCAL_HOST": "", "HADR_LOCAL_SVC": "", "HADR_REMOTE_HOST": "", "HADR_REMOTE_SVC": "",
		"HADR_REMOTE_INST": "", "HADR_TIMEOUT": "120", "HADR_SYNCMODE": "NEARSYNC", "HADR_PEER_WINDOW": "0",
	}
}

func (d *Database) logRetain() bool { return d.Cfg["LOGRETAIN"] == "RECOVERY" }

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

// writeCfg prints GET DB CFG in Db2 9.7's layout: description, the
// parameter name in parentheses right-aligned, " = " in column 58.
func writeCfg(w io.Writer, st *State, d *Database) {
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
	archmeth := "OFF"
	if d.logRetain() {
		archmeth = "LOGRETAIN"
	}
	indexrec := d.Cfg["INDEXREC"]
	if indexrec == "SYSTEM" {
		indexrec = "SYSTEM (RESTART)"
	}
	fmt.Fprintf(w, "\n       Database Configuration for Database %s\n\n", d.Name)
	line("Database configuration release level", "", "0x0d00")
	line("Database release level", "", "0x0d00")
	fmt.Fprintln(w)
	line("Database territory", "", "US")
	line("Database code page", "", "1208")
	line("Database code set", "", "UTF-8")
	line("Database country/region code", "", "1")
	line("Database collating sequence", "", "IDENTITY")
	line("Alternate collating sequence", "ALT_COLLATE", "")
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
	line("Path to log files", "", "/var/lib/db2/"+strings.ToLower(st.Instance)+"/NODE0000/SQL00001/SQLOGDIR/")
	line("First active log file", "", d.LogFile(d.Log.LSN))
	fmt.Fprintln(w)
	line("HADR database role", "", d.Role)
	for _, p := range []string{"HADR_LOCAL_HOST", "HADR_LOCAL_SVC", "HADR_REMOTE_HOST", "HADR_REMOTE_SVC",
		"HADR_REMOTE_INST", "HADR_TIMEOUT", "HADR_SYNCMODE", "HADR_PEER_WINDOW"} {
		line(cfgParams[p].desc, p, d.Cfg[p])
	}
	fmt.Fprintln(w)
	line("First log archive method", "LOGARCHMETH1", archmeth)
	line("Second log archive method", "LOGARCHMETH2", "OFF")
	fmt.Fprintln(w)
	line(cfgParams["LOGRETAIN"].desc, "LOGRETAIN", d.Cfg["LOGRETAIN"])
	line(cfgParams["USEREXIT"].desc, "USEREXIT", d.Cfg["USEREXIT"])
	fmt.Fprintln(w)
	line(cfgParams["INDEXREC"].desc, "INDEXREC", indexrec)
	line(cfgParams["LOGINDEXBUILD"].desc, "LOGINDEXBUILD", d.Cfg["LOGINDEXBUILD"])
	line(cfgParams["TRACKMOD"].desc, "TRACKMOD", d.Cfg["TRACKMOD"])
	fmt.Fprintln(w)
}
