package db2

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ParseDb2pdHADR reads the output of "db2pd -d xcatdb -hadr" in either
// layout: the field-per-line layout of Db2 10.1 and later ("HADR_ROLE =
// PRIMARY") or the Db2 9.7 column layout the guide shows (header lines such
// as "Role State SyncMode HeartBeatsMissed LogGapRunAvg (bytes)" followed by
// value lines). Header and value lines may be wrapped as in the guide's copy.
//
// Times in the 9.7 layout and the 10.1+ layout are taken from the epoch Db2
// prints in parentheses, so they do not depend on the server's time zone.
// For a database that is not in an HADR role the error wraps
// ErrHADRNotActive; for an inactive database it wraps ErrDatabaseNotActive.
func ParseDb2pdHADR(out []byte) (HADRStatus, error) {
	text := cleanText(string(out))
	if strings.TrimSpace(text) == "" {
		return HADRStatus{}, errors.New("db2pd -hadr: empty output")
	}
	if fieldLineRE.MatchString(text) && hadrRoleRE.MatchString(text) {
		return parseDb2pdFields(text)
	}
	switch {
	case strings.Contains(text, "HADR is not active"):
		return HADRStatus{Role: RoleStandard}, fmt.Errorf("db2pd -hadr: %w", ErrHADRNotActive)
	case strings.Contains(text, "requires -db <database> or -alldbs option and active database"),
		strings.Contains(text, "not activated on database"):
		return HADRStatus{}, fmt.Errorf("db2pd -hadr: %w: %s", ErrDatabaseNotActive, firstLine(text))
	}
	return parseDb2pdColumns(text)
}

var (
	fieldLineRE = regexp.MustCompile(`(?m)^\s*[A-Z][A-Z0-9_(),]*\s*=`)
	hadrRoleRE  = regexp.MustCompile(`(?m)^\s*HADR_ROLE\s*=`)
	epochRE     = regexp.MustCompile(`\((\d+)\)`)
	fracRE      = regexp.MustCompile(`\d{1,2}:\d{2}:\d{2}\.(\d{1,9})`)
)

// cleanText undoes what copying Db2 output into markdown does to it: code
// fence lines are dropped and backslash escapes (DB2\_HADR\_1) removed.
func cleanText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			continue
		}
		line = strings.NewReplacer(`\_`, "_", `\*`, "*", `\-`, "-").Replace(line)
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(l); t != "" {
			return t
		}
	}
	return ""
}

// parseDb2pdFields reads the Db2 10.1+ layout. With several standbys the
// primary prints one block per standby; the first (principal) is used.
func parseDb2pdFields(text string) (HADRStatus, error) {
	fields := map[string]string{}
	var last string
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "Database Member") || strings.HasPrefix(t, "Database Partition") {
			last = ""
			continue
		}
		k, v, ok := splitField(t)
		if !ok {
			if strings.Contains(t, "=") {
				last = ""
			} else if last != "" { // a wrapped value
				fields[last] = strings.TrimSpace(fields[last] + " " + t)
			}
			continue
		}
		if _, seen := fields[k]; seen && k == "HADR_ROLE" {
			break // second standby block
		}
		if _, seen := fields[k]; !seen {
			fields[k] = v
		}
		last = k
	}
	var s HADRStatus
	var missing, bad []string
	get := func(k string) (string, bool) {
		v, ok := fields[k]
		return v, ok
	}
	need := func(k string, norm func(string) string, dst *string) {
		v, ok := get(k)
		switch {
		case !ok:
			missing = append(missing, k)
		case norm(v) == "":
			bad = append(bad, fmt.Sprintf("%s=%q", k, v))
		default:
			*dst = norm(v)
		}
	}
	need("HADR_ROLE", NormalizeRole, &s.Role)
	need("HADR_STATE", NormalizeState, &s.State)
	need("HADR_CONNECT_STATUS", NormalizeConnectStatus, &s.ConnectStatus)
	if v, ok := get("HADR_SYNCMODE"); ok {
		s.SyncMode = NormalizeSyncMode(v)
	}
	if v, ok := get("HADR_CONNECT_STATUS_TIME"); ok {
		t, err := parseStamp(v, time.Local)
		if err != nil {
			bad = append(bad, "HADR_CONNECT_STATUS_TIME: "+err.Error())
		}
		s.ConnectTime = t
	}
	if v, ok := get("HEARTBEAT_MISSED"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			bad = append(bad, fmt.Sprintf("HEARTBEAT_MISSED=%q", v))
		}
		s.HeartbeatsMissed = n
	}
	if v, ok := get("PEER_WINDOW_END"); ok {
		t, err := parseStamp(v, time.Local)
		if err != nil {
			bad = append(bad, "PEER_WINDOW_END: "+err.Error())
		}
		s.PeerWindowEnd = t
	}
	durField := func(k string, dst *time.Duration) {
		if v, ok := get(k); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				bad = append(bad, fmt.Sprintf("%s=%q", k, v))
				return
			}
			*dst = time.Duration(n * float64(time.Second))
		}
	}
	durField("PEER_WINDOW(seconds)", &s.PeerWindow)
	durField("HADR_TIMEOUT(seconds)", &s.Timeout)
	posField := func(k string, dst *LogPosition) {
		if v, ok := get(k); ok {
			p, err := parseLogPosition(v)
			if err != nil {
				bad = append(bad, k+": "+err.Error())
			}
			*dst = p
		}
	}
	posField("PRIMARY_LOG_FILE,PAGE,POS", &s.PrimaryLog)
	posField("STANDBY_LOG_FILE,PAGE,POS", &s.StandbyLog)
	if v, ok := get("HADR_LOG_GAP(bytes)"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			bad = append(bad, fmt.Sprintf("HADR_LOG_GAP(bytes)=%q", v))
		}
		s.LogGap = n
	}
	// 10.1+ reports hosts and instances per role, not local/remote.
	local, remote := "PRIMARY", "STANDBY"
	if s.Role == RoleStandby {
		local, remote = remote, local
	}
	s.LocalHost = fields[local+"_MEMBER_HOST"]
	s.RemoteHost = fields[remote+"_MEMBER_HOST"]
	s.RemoteInstance = fields[remote+"_INSTANCE"]
	return s, problemsErr("db2pd -hadr", missing, bad)
}

// splitField splits "KEY = value"; KEY is an upper-case Db2 field name.
func splitField(line string) (string, string, bool) {
	i := strings.Index(line, "=")
	if i <= 0 {
		return "", "", false
	}
	k := strings.TrimSpace(line[:i])
	if k == "" || k[0] < 'A' || k[0] > 'Z' || strings.ContainsAny(k, " \t") {
		return "", "", false
	}
	for _, r := range k {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("_(),", r)) {
			return "", "", false
		}
	}
	return k, strings.TrimSpace(line[i+1:]), true
}

func problemsErr(what string, missing, bad []string) error {
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing "+strings.Join(missing, ", "))
	}
	if len(bad) > 0 {
		parts = append(parts, "unreadable "+strings.Join(bad, "; "))
	}
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s", what, strings.Join(parts, "; "))
}

// v97Headers are the column headers of the Db2 9.x db2pd -hadr layout.
var v97Headers = map[string]bool{
	"Role": true, "State": true, "SyncMode": true, "HeartBeatsMissed": true, "LogGapRunAvg": true,
	"ConnectStatus": true, "ConnectTime": true, "Timeout": true,
	"PeerWindowEnd": true, "PeerWindow": true,
	"LocalHost": true, "LocalService": true,
	"RemoteHost": true, "RemoteService": true, "RemoteInstance": true,
	"PrimaryFile": true, "PrimaryPg": true, "PrimaryLSN": true,
	"StandByFile": true, "StandByPg": true, "StandByLSN": true,
	"StandByRcvBufUsed": true,
}

// isTimeColumn reports columns whose value is a date spanning several words,
// like "Thu Aug 5 20:33:00 2010 (1281011580)".
func isTimeColumn(h string) bool { return h == "ConnectTime" || h == "PeerWindowEnd" }

func isHeaderLine(tokens []string) bool {
	if len(tokens) == 0 {
		return false
	}
	for _, t := range tokens {
		if !v97Headers[t] && t != "(bytes)" {
			return false
		}
	}
	return true
}

// parseDb2pdColumns reads the Db2 9.7 layout. Consecutive header lines form
// one header group (the guide wraps them), and all words up to the next
// header group are that group's values, assigned in order.
func parseDb2pdColumns(text string) (HADRStatus, error) {
	if i := strings.Index(text, "HADR Information:"); i >= 0 {
		text = text[i+len("HADR Information:"):]
	}
	values := map[string]string{}
	var headers []string
	var vals []string
	inHeader := false
	flush := func() {
		assignColumns(headers, vals, values)
		headers, vals = nil, nil
	}
	for _, line := range strings.Split(text, "\n") {
		toks := strings.Fields(line)
		if len(toks) == 0 {
			continue
		}
		if isHeaderLine(toks) {
			if !inHeader {
				flush()
			}
			inHeader = true
			for _, t := range toks {
				if t != "(bytes)" {
					headers = append(headers, t)
				}
			}
			continue
		}
		inHeader = false
		if len(headers) > 0 {
			vals = append(vals, toks...)
		}
	}
	flush()

	var s HADRStatus
	var missing, bad []string
	need := func(k string, norm func(string) string, dst *string) {
		v, ok := values[k]
		switch {
		case !ok:
			missing = append(missing, k)
		case norm(v) == "":
			bad = append(bad, fmt.Sprintf("%s=%q", k, v))
		default:
			*dst = norm(v)
		}
	}
	need("Role", NormalizeRole, &s.Role)
	need("State", NormalizeState, &s.State)
	need("ConnectStatus", NormalizeConnectStatus, &s.ConnectStatus)
	if v, ok := values["SyncMode"]; ok {
		s.SyncMode = NormalizeSyncMode(v)
	}
	intCol := func(k string, dst *int64) {
		if v, ok := values[k]; ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				bad = append(bad, fmt.Sprintf("%s=%q", k, v))
			}
			*dst = n
		}
	}
	var hb, timeout, pw, pPg, sPg int64
	intCol("HeartBeatsMissed", &hb)
	intCol("LogGapRunAvg", &s.LogGap)
	intCol("Timeout", &timeout)
	intCol("PeerWindow", &pw)
	intCol("PrimaryPg", &pPg)
	intCol("StandByPg", &sPg)
	s.HeartbeatsMissed = int(hb)
	s.Timeout = time.Duration(timeout) * time.Second
	s.PeerWindow = time.Duration(pw) * time.Second
	timeCol := func(k string, dst *time.Time) {
		if v, ok := values[k]; ok {
			t, err := parseStamp(v, time.Local)
			if err != nil {
				bad = append(bad, k+": "+err.Error())
			}
			*dst = t
		}
	}
	timeCol("ConnectTime", &s.ConnectTime)
	timeCol("PeerWindowEnd", &s.PeerWindowEnd)
	s.LocalHost = values["LocalHost"]
	s.LocalService = values["LocalService"]
	s.RemoteHost = values["RemoteHost"]
	s.RemoteService = values["RemoteService"]
	s.RemoteInstance = values["RemoteInstance"]
	if f, ok := values["PrimaryFile"]; ok {
		s.PrimaryLog = LogPosition{File: f, Page: int(pPg), LSN: trimHex(values["PrimaryLSN"])}
	}
	if f, ok := values["StandByFile"]; ok {
		s.StandbyLog = LogPosition{File: f, Page: int(sPg), LSN: trimHex(values["StandByLSN"])}
	}
	return s, problemsErr("db2pd -hadr", missing, bad)
}

// assignColumns hands out value words to headers in order; date columns
// take words up to and including the "(epoch)" word.
func assignColumns(headers, vals []string, into map[string]string) {
	i := 0
	for _, h := range headers {
		if i >= len(vals) {
			return
		}
		if !isTimeColumn(h) {
			into[h] = vals[i]
			i++
			continue
		}
		end := -1
		for j := i; j < len(vals) && j < i+7; j++ {
			if epochRE.MatchString(vals[j]) && strings.HasPrefix(vals[j], "(") {
				end = j
				break
			}
		}
		if end < 0 { // no epoch: "Thu Aug 5 20:33:00 2010"
			end = i + 4
			if end >= len(vals) {
				end = len(vals) - 1
			}
		}
		into[h] = strings.Join(vals[i:end+1], " ")
		i = end + 1
	}
}

func trimHex(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		return strings.ToUpper(s[2:])
	}
	return s
}

// parseLogPosition reads "S0000002.LOG, 18, 000000000FA18D7C".
func parseLogPosition(v string) (LogPosition, error) {
	parts := strings.Split(v, ",")
	if len(parts) != 3 {
		return LogPosition{}, fmt.Errorf("log position %q is not \"file, page, position\"", v)
	}
	page, err := strconv.Atoi(strings.TrimSpace(parts[1]))
	if err != nil {
		return LogPosition{}, fmt.Errorf("log position %q: bad page", v)
	}
	file := strings.TrimSpace(parts[0])
	lsn := trimHex(parts[2])
	if file == "" || lsn == "" {
		return LogPosition{}, fmt.Errorf("log position %q: empty file or LSN", v)
	}
	return LogPosition{File: file, Page: page, LSN: lsn}, nil
}

// parseStamp reads the time stamps Db2 prints: "Thu Aug 5 20:33:00 2010
// (1281011580)", "08/05/2010 21:03:07.000000 (1281013387)" or, without the
// epoch, "08/05/2010 20:33:00.412948" in loc. "Null (0)" is the zero time.
// When both are present the epoch wins and the fraction of the text is
// added to it.
func parseStamp(v string, loc *time.Location) (time.Time, error) {
	v = strings.Join(strings.Fields(v), " ")
	if v == "" || strings.EqualFold(v, "null") || strings.HasPrefix(strings.ToLower(v), "null ") {
		return time.Time{}, nil
	}
	if m := epochRE.FindStringSubmatch(v); m != nil {
		sec, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("bad epoch in %q", v)
		}
		if sec == 0 {
			return time.Time{}, nil
		}
		t := time.Unix(sec, 0)
		if f := fracRE.FindStringSubmatch(v); f != nil {
			frac := f[1] + strings.Repeat("0", 9-len(f[1]))
			ns, _ := strconv.Atoi(frac)
			t = t.Add(time.Duration(ns))
		}
		return t, nil
	}
	for _, layout := range []string{
		"01/02/2006 15:04:05.000000", "01/02/2006 15:04:05",
		"Mon Jan 2 15:04:05 2006", "Mon Jan 02 15:04:05 2006",
	} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unreadable time %q", v)
}
