package db2

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var (
	backupRE  = regexp.MustCompile(`(?is)Backup\s+successful\.\s*The\s+timestamp\s+for\s+this\s+backup\s+image\s+is\s*:\s*(\d+)`)
	messageRE = regexp.MustCompile(`\b(SQL\d{4,5}[NWCI]|DB2\d{4}[IWNEC]|DB\d{5}[IWNE]|ADM\d{4,5}[IWEC])\b`)
	cfgLineRE = regexp.MustCompile(`^\s*(.*?)\s*\(([A-Z][A-Z0-9_]*)\)\s*=\s*(.*?)\s*$`)
	reasonRE  = regexp.MustCompile(`Reason\s+code\s*=\s*"?(\d+)"?`)
	cfgBareRE = regexp.MustCompile(`^\s*([A-Za-z][^=()]*?)\s*=\s*(.*?)\s*$`)
)

// ParseBackupTimestamp extracts the image timestamp from the output of
// BACKUP DB, "Backup successful. The timestamp for this backup image is :
// 20100805161232", also when it is wrapped over lines as in the guide.
func ParseBackupTimestamp(out []byte) (string, error) {
	m := backupRE.FindSubmatch(out)
	if m == nil {
		if codes := MessageCodes(out); len(codes) > 0 {
			return "", fmt.Errorf("backup did not succeed: %s", strings.Join(codes, ", "))
		}
		return "", fmt.Errorf("no \"Backup successful\" line with a timestamp in the output")
	}
	ts := string(m[1])
	if len(ts) != 14 {
		return "", fmt.Errorf("backup timestamp %q is not 14 digits (yyyymmddhhmmss)", ts)
	}
	return ts, nil
}

// ParseDBCfg reads "db2 GET DB CFG FOR XCATDB" into a map keyed by the
// parenthesised parameter name (HADR_LOCAL_HOST -> 9.114.47.103). Lines
// without a parameter name, such as "HADR database role = STANDARD", are
// keyed by their description.
func ParseDBCfg(out []byte) (map[string]string, error) {
	cfg := map[string]string{}
	for _, line := range strings.Split(cleanText(string(out)), "\n") {
		if m := cfgLineRE.FindStringSubmatch(line); m != nil {
			cfg[m[2]] = m[3]
			continue
		}
		if m := cfgBareRE.FindStringSubmatch(line); m != nil && !strings.HasPrefix(strings.TrimSpace(line), "SQL") {
			cfg[m[1]] = m[2]
		}
	}
	if len(cfg) == 0 {
		if codes := MessageCodes(out); len(codes) > 0 {
			return nil, fmt.Errorf("GET DB CFG failed: %s", strings.Join(codes, ", "))
		}
		return nil, fmt.Errorf("no configuration lines in GET DB CFG output")
	}
	if _, ok := cfg["HADR_LOCAL_HOST"]; !ok {
		if _, ok := cfg["LOGARCHMETH1"]; !ok {
			return cfg, fmt.Errorf("GET DB CFG output has neither HADR nor logging parameters (%d lines read)", len(cfg))
		}
	}
	return cfg, nil
}

// MessageCodes lists the Db2 message identifiers in out (SQL1117N, SQL2539W,
// DB20000I, DB21034E, ...), each once, in order of appearance.
func MessageCodes(out []byte) []string {
	var codes []string
	seen := map[string]bool{}
	for _, m := range messageRE.FindAll(out, -1) {
		c := string(m)
		if !seen[c] {
			seen[c] = true
			codes = append(codes, c)
		}
	}
	return codes
}

// ReasonCode returns the reason code Db2 printed with message code, as in
// 'SQL1768N Unable to start HADR. Reason code = "7".'.
func ReasonCode(out []byte, code string) (int, bool) {
	i := strings.Index(string(out), code)
	if i < 0 {
		return 0, false
	}
	rest := out[i+len(code):]
	if next := messageRE.FindIndex(rest); next != nil {
		rest = rest[:next[0]]
	}
	m := reasonRE.FindSubmatch(rest)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(string(m[1]))
	return n, err == nil
}
