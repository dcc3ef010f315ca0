package mysql

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ReplicaStatus is what SHOW SLAVE STATUS (SHOW REPLICA STATUS) says
// about a MySQL or MariaDB replica.
type ReplicaStatus struct {
	Configured    bool   // false when the server is no replica (empty result)
	SourceHost    string // Master_Host / Source_Host
	IORunning     string // Slave_IO_Running / Replica_IO_Running: Yes, No, Connecting
	SQLRunning    string // Slave_SQL_Running / Replica_SQL_Running: Yes, No
	SecondsBehind int    // Seconds_Behind_Master / _Source; -1 for NULL
	LastIOError   string
	LastSQLError  string
}

// Healthy tells whether both replication threads run.
func (s ReplicaStatus) Healthy() bool { return s.IORunning == "Yes" && s.SQLRunning == "Yes" }

// replicaFields maps both spellings of a status field to one name.
var replicaFields = map[string]string{
	"Master_Host": "host", "Source_Host": "host",
	"Slave_IO_Running": "io", "Replica_IO_Running": "io",
	"Slave_SQL_Running": "sql", "Replica_SQL_Running": "sql",
	"Seconds_Behind_Master": "lag", "Seconds_Behind_Source": "lag",
	"Last_IO_Error": "ioerr", "Last_SQL_Error": "sqlerr",
}

// ParseReplicaStatus parses the vertical (\G) output of SHOW SLAVE STATUS
// or SHOW REPLICA STATUS. Empty output means the server is no replica.
func ParseReplicaStatus(out string) (ReplicaStatus, error) {
	s := ReplicaStatus{SecondsBehind: -1}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || strings.HasPrefix(k, "*") {
			continue
		}
		v = strings.TrimSpace(v)
		switch replicaFields[strings.TrimSpace(k)] {
		case "host":
			s.SourceHost, s.Configured = v, true
		case "io":
			s.IORunning, s.Configured = v, true
		case "sql":
			s.SQLRunning, s.Configured = v, true
		case "lag":
			if v != "NULL" && v != "" {
				n, err := strconv.Atoi(v)
				if err != nil {
					return s, fmt.Errorf("replica status: Seconds_Behind: %q is not a number", v)
				}
				s.SecondsBehind = n
			}
		case "ioerr":
			s.LastIOError = v
		case "sqlerr":
			s.LastSQLError = v
		}
	}
	if s.Configured && (s.IORunning == "" || s.SQLRunning == "") {
		return s, fmt.Errorf("replica status without the IO and SQL thread states")
	}
	return s, nil
}

// ReplicationSyntax is the replication SQL a server version understands.
type ReplicationSyntax struct {
	MariaDB  bool
	Change   string // CHANGE MASTER TO | CHANGE REPLICATION SOURCE TO
	Prefix   string // option prefix: MASTER_ | SOURCE_
	Start    string // START SLAVE | START REPLICA
	Stop     string // STOP SLAVE | STOP REPLICA
	ResetAll string // RESET SLAVE ALL | RESET REPLICA ALL
	Status   string // SHOW SLAVE STATUS | SHOW REPLICA STATUS
	DumpFlag string // mysqldump's --master-data | --source-data
	// SourceStatus shows the server's own binary log position: SHOW
	// MASTER STATUS | SHOW BINARY LOG STATUS.
	SourceStatus string
	PosWait      string // MASTER_POS_WAIT | SOURCE_POS_WAIT
}

var versionRE = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)`)

// SyntaxFor picks the replication syntax for a server's SELECT VERSION():
// MariaDB keeps CHANGE MASTER TO and SLAVE; MySQL says REPLICA from 8.0.22,
// CHANGE REPLICATION SOURCE TO from 8.0.23 and --source-data from 8.0.26
// (8.4 dropped the old forms), SOURCE_POS_WAIT from 8.0.26 and SHOW
// BINARY LOG STATUS from 8.2.0 (8.4 dropped SHOW MASTER STATUS).
func SyntaxFor(version string) (ReplicationSyntax, error) {
	m := versionRE.FindStringSubmatch(strings.TrimSpace(version))
	if m == nil {
		return ReplicationSyntax{}, fmt.Errorf("server version %q: want MAJOR.MINOR.PATCH", version)
	}
	old := ReplicationSyntax{Change: "CHANGE MASTER TO", Prefix: "MASTER_", Start: "START SLAVE", Stop: "STOP SLAVE",
		ResetAll: "RESET SLAVE ALL", Status: "SHOW SLAVE STATUS", DumpFlag: "--master-data",
		SourceStatus: "SHOW MASTER STATUS", PosWait: "MASTER_POS_WAIT"}
	if strings.Contains(strings.ToLower(version), "mariadb") {
		old.MariaDB = true
		return old, nil
	}
	v := [3]int{}
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	at := func(a, b, c int) bool { return v[0] > a || v[0] == a && (v[1] > b || v[1] == b && v[2] >= c) }
	s := old
	if at(8, 0, 22) {
		s.Start, s.Stop, s.ResetAll, s.Status = "START REPLICA", "STOP REPLICA", "RESET REPLICA ALL", "SHOW REPLICA STATUS"
	}
	if at(8, 0, 23) {
		s.Change, s.Prefix = "CHANGE REPLICATION SOURCE TO", "SOURCE_"
	}
	if at(8, 0, 26) {
		s.DumpFlag, s.PosWait = "--source-data", "SOURCE_POS_WAIT"
	}
	if at(8, 2, 0) {
		s.SourceStatus = "SHOW BINARY LOG STATUS"
	}
	return s, nil
}

// ChangeSource is the statement that points a replica at host:port as
// user with password.
func (s ReplicationSyntax) ChangeSource(host string, port int, user, password string) string {
	return fmt.Sprintf("%s %sHOST=%s, %sPORT=%d, %sUSER=%s, %sPASSWORD=%s, %sCONNECT_RETRY=5",
		s.Change, s.Prefix, sqlString(host), s.Prefix, port, s.Prefix, sqlString(user), s.Prefix, sqlString(password), s.Prefix)
}

// BinlogPosition is a server's own binary log position, as SHOW MASTER
// STATUS (SHOW BINARY LOG STATUS) gives it.
type BinlogPosition struct {
	File     string
	Position int64
}

// ParseBinlogPosition parses the vertical (\G) output of SHOW MASTER
// STATUS or SHOW BINARY LOG STATUS. Empty output means the server writes
// no binary log.
func ParseBinlogPosition(out string) (BinlogPosition, error) {
	var p BinlogPosition
	pos := ""
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "File":
			p.File = strings.TrimSpace(v)
		case "Position":
			pos = strings.TrimSpace(v)
		}
	}
	if p.File == "" && pos == "" {
		return p, fmt.Errorf("no binary log position: is log_bin on?")
	}
	n, err := strconv.ParseInt(pos, 10, 64)
	if p.File == "" || err != nil || n < 0 {
		return p, fmt.Errorf("binary log position: file %q, position %q", p.File, pos)
	}
	p.Position = n
	return p, nil
}

// ParsePosWait reads what MASTER_POS_WAIT (SOURCE_POS_WAIT) returned: the
// number of events the replica waited for. -1 (timed out) and NULL (the
// SQL thread does not run, or the server is no replica) are errors.
func ParsePosWait(out string) (int, error) {
	switch v := strings.TrimSpace(out); v {
	case "NULL":
		return 0, fmt.Errorf("the replication SQL thread is not running, or the server is no replica")
	case "-1":
		return 0, fmt.Errorf("timed out before the replica reached the position")
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("position wait returned %q", v)
		}
		return n, nil
	}
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}
