package db2

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Markers hamnflow's generated CLP scripts print around each command, so
// that the output of one shell session can be split per command:
//
//	db2 => CONNECT TO XCATDB
//	...what db2 printed...
//	db2 <= 0
//
// A failure the step allowed (ok_codes) ends in "db2 <= 4 tolerated".
const (
	MarkIn  = "db2 => "
	MarkOut = "db2 <= "
)

// CLP exit codes: 0 success, 1 no rows, 2 warning, 4 error, 8 system error.
const (
	ExitOK      = 0
	ExitNoRows  = 1
	ExitWarning = 2
	ExitError   = 4
	ExitSystem  = 8
)

// CLPCommand is one command of a CLP session and what it printed.
type CLPCommand struct {
	Command   string
	Output    string
	Exit      int  // -1 when the session ended before the command reported
	Tolerated bool // failed with a code the step allowed
	Codes     []string
	Records   int // "N record(s) selected."; -1 when not a query
}

var recordsRE = regexp.MustCompile(`(?m)^\s*(\d+)\s+record\(s\)\s+selected\.`)

// ParseSession splits the output of a marked CLP session into commands.
// Text outside the markers (e.g. a shell line's output) is ignored.
func ParseSession(out []byte) []CLPCommand {
	var cmds []CLPCommand
	var cur *CLPCommand
	var body strings.Builder
	finish := func() {
		if cur == nil {
			return
		}
		cur.Output = body.String()
		cur.Codes = MessageCodes([]byte(cur.Output))
		cur.Records = -1
		if m := recordsRE.FindAllStringSubmatch(cur.Output, -1); m != nil {
			cur.Records, _ = strconv.Atoi(m[len(m)-1][1])
		}
		cmds = append(cmds, *cur)
		cur = nil
		body.Reset()
	}
	for _, line := range strings.SplitAfter(string(out), "\n") {
		t := strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(t, MarkIn):
			finish()
			cur = &CLPCommand{Command: strings.TrimPrefix(t, MarkIn), Exit: -1}
		case strings.HasPrefix(t, MarkOut) && cur != nil:
			f := strings.Fields(strings.TrimPrefix(t, MarkOut))
			if len(f) > 0 {
				cur.Exit, _ = strconv.Atoi(f[0])
			}
			cur.Tolerated = len(f) > 1 && f[1] == "tolerated"
			finish()
		case cur != nil:
			body.WriteString(line)
		}
	}
	finish()
	return cmds
}

// Err is the command's failure as a *CLPError, nil when it succeeded
// (exit 0, 1 or 2) or failed with a tolerated code.
func (c CLPCommand) Err() error {
	if c.Tolerated || c.Exit >= 0 && c.Exit < ExitError {
		return nil
	}
	e := &CLPError{Command: c.Command, Exit: c.Exit, Reason: -1}
	e.Code = errorCode(c.Codes)
	if e.Code != "" {
		e.Message = messageText([]byte(c.Output), e.Code)
		if n, ok := ReasonCode([]byte(c.Output), e.Code); ok {
			e.Reason = n
		}
	}
	return e
}

// CLPError is a Db2 command that failed, with the message Db2 gave.
type CLPError struct {
	Command string // as shown (secrets masked)
	Exit    int    // CLP exit code; -1 when the session died first
	Code    string // the error's message identifier, e.g. SQL1035N; "" if none was printed
	Reason  int    // the message's reason code, -1 when it has none
	Message string // the message text starting with Code
}

func (e *CLPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "db2 %s: ", e.Command)
	switch {
	case e.Code != "":
		b.WriteString(e.Message)
	case e.Exit < 0:
		b.WriteString("the session ended before the command finished")
	default:
		fmt.Fprintf(&b, "exit %d without a Db2 message", e.Exit)
	}
	if h := Hint(e.Code, e.Reason); h != "" {
		b.WriteString(" (" + h + ")")
	}
	return b.String()
}

// errorCode picks the message that explains a failure: the first SQL
// error (N or C), else the first CLP error (DB2xxxxE), else the first code.
func errorCode(codes []string) string {
	for _, c := range codes {
		if strings.HasPrefix(c, "SQL") && (strings.HasSuffix(c, "N") || strings.HasSuffix(c, "C")) {
			return c
		}
	}
	for _, c := range codes {
		if strings.HasSuffix(c, "E") {
			return c
		}
	}
	if len(codes) > 0 {
		return codes[0]
	}
	return ""
}

// messageText is the message of code in out, joined onto one line and cut
// at the next message or after 400 characters.
func messageText(out []byte, code string) string {
	s := string(out)
	i := strings.Index(s, code)
	if i < 0 {
		return code
	}
	rest := s[i:]
	if next := messageRE.FindAllStringIndex(rest, 2); len(next) > 1 {
		rest = rest[:next[1][0]]
	}
	rest = strings.Join(strings.Fields(rest), " ")
	if len(rest) > 400 {
		rest = rest[:400] + "..."
	}
	return rest
}

// Hint says what an operator checks for the Db2 messages the HADR steps
// meet; "" for others.
func Hint(code string, reason int) string {
	switch code {
	case "SQL1035N":
		return "the database is in use: stop xcatd on the management node and every service node, then DEACTIVATE DATABASE XCATDB"
	case "SQL1116N":
		return "backup pending after LOGARCHMETH1 switched on archive logging: take a full BACKUP DATABASE first"
	case "SQL1117N":
		return "roll-forward pending: run ROLLFORWARD DATABASE XCATDB TO END OF LOGS AND COMPLETE, or START HADR AS STANDBY if this is the standby"
	case "SQL1776N":
		return "this is the HADR standby; run the command on the primary"
	case "SQL1768N":
		switch reason {
		case 7:
			return "the standby did not connect within HADR_TIMEOUT: start the standby first and check HADR_REMOTE_HOST/SVC, /etc/services and the network"
		case 5, 6:
			return "an HADR service name does not resolve: check /etc/services on this host"
		}
		return "HADR did not start: check the HADR_* configuration on both management nodes"
	case "SQL1767N":
		return "START HADR AS STANDBY needs a database restored from the primary's backup and not active"
	case "SQL1769N":
		if reason == 2 {
			return "an active standby cannot stop HADR: DEACTIVATE DATABASE XCATDB first"
		}
		if reason == 1 {
			return "HADR is not running on this database"
		}
	case "SQL1770N":
		switch reason {
		case 1:
			return "TAKEOVER runs on the standby, and this database is not one"
		case 3:
			return "the standby is not in Peer state: a graceful takeover is impossible"
		case 7:
			return "the primary did not answer: after its host died the standby can show Peer until HADR_TIMEOUT; read the state again " +
				"(Disconnected peer allows BY FORCE PEER WINDOW ONLY), as db2_takeover does for 2 x HADR_TIMEOUT"
		case 9:
			return "the peer window has ended: only TAKEOVER BY FORCE remains, after the old primary is proven down"
		}
	case "SQL1777N":
		return "HADR is already started"
	case "SQL2542N":
		return "no backup image with that timestamp in the directory: check the copy from the primary"
	case "SQL30082N":
		return "the instance owner's password was refused: check the db2_password secret"
	case "SQL1032N":
		return "the instance is stopped: run db2start as the instance owner"
	}
	return ""
}
