package db2

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseSnapshot reads the "HADR Status" section of
// "db2 GET SNAPSHOT FOR DB ON XCATDB". Times the snapshot prints without an
// epoch (the connection time) are read in the local time zone; use
// ParseSnapshotIn when the server's zone is known.
func ParseSnapshot(out []byte) (HADRStatus, error) {
	return ParseSnapshotIn(out, time.Local)
}

// snapshot keys, lower-cased with spaces removed.
const (
	snapRole       = "role"
	snapState      = "state"
	snapSyncMode   = "synchronizationmode"
	snapConnStatus = "connectionstatus"
	snapPWEnd      = "peerwindowend"
	snapPW         = "peerwindow(seconds)"
	snapHeartbeats = "heartbeatsmissed"
	snapLocalHost  = "localhost"
	snapLocalSvc   = "localservice"
	snapRemoteHost = "remotehost"
	snapRemoteSvc  = "remoteservice"
	snapRemoteInst = "remoteinstance"
	snapTimeout    = "timeout(seconds)"
	snapPrimaryLog = "primarylogposition(file,page,lsn)"
	snapStandbyLog = "standbylogposition(file,page,lsn)"
	snapLogGap     = "loggaprunningaverage(bytes)"
)

var snapKeys = map[string]bool{
	snapRole: true, snapState: true, snapSyncMode: true, snapConnStatus: true, snapPWEnd: true,
	snapPW: true, snapHeartbeats: true, snapLocalHost: true, snapLocalSvc: true, snapRemoteHost: true,
	snapRemoteSvc: true, snapRemoteInst: true, snapTimeout: true, snapPrimaryLog: true,
	snapStandbyLog: true, snapLogGap: true,
}

func snapKey(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), ""))
}

// incomplete says whether a value the guide wraps over two lines still lacks
// its second part.
func incomplete(key, v string) bool {
	switch key {
	case snapConnStatus:
		i := strings.Index(v, ",")
		return i >= 0 && strings.TrimSpace(v[i+1:]) == "" ||
			i >= 0 && !strings.Contains(v[i+1:], ":") && !strings.Contains(strings.ToLower(v[i+1:]), "null")
	case snapPWEnd:
		return !strings.Contains(v, "(") && !strings.EqualFold(strings.TrimSpace(v), "null")
	case snapPrimaryLog, snapStandbyLog:
		return strings.Count(v, ",") < 2 || strings.HasSuffix(strings.TrimSpace(v), ",")
	}
	return false
}

// ParseSnapshotIn is ParseSnapshot with the server's time zone.
func ParseSnapshotIn(out []byte, loc *time.Location) (HADRStatus, error) {
	text := cleanText(string(out))
	if strings.TrimSpace(text) == "" {
		return HADRStatus{}, fmt.Errorf("snapshot: empty output")
	}
	lines := strings.Split(text, "\n")
	start := -1
	for i, l := range lines {
		if strings.EqualFold(strings.TrimSpace(l), "HADR Status") {
			start = i + 1
			break
		}
	}
	if start < 0 {
		if codes := MessageCodes(out); len(codes) > 0 {
			return HADRStatus{}, fmt.Errorf("snapshot: no \"HADR Status\" section (messages %s)", strings.Join(codes, ", "))
		}
		return HADRStatus{}, fmt.Errorf("snapshot: no \"HADR Status\" section")
	}
	vals := map[string]string{}
	var last string
	for _, l := range lines[start:] {
		t := strings.TrimSpace(l)
		if t == "" {
			if len(vals) > 0 && (last == "" || !incomplete(last, vals[last])) {
				break
			}
			continue
		}
		if i := strings.Index(t, "="); i > 0 {
			k := snapKey(t[:i])
			if !snapKeys[k] {
				if len(vals) > 0 {
					break // next section
				}
				continue
			}
			if _, dup := vals[k]; dup {
				break
			}
			vals[k] = strings.TrimSpace(t[i+1:])
			last = k
			continue
		}
		if last != "" && incomplete(last, vals[last]) {
			vals[last] = strings.TrimSpace(vals[last] + " " + t)
			continue
		}
		break
	}

	var s HADRStatus
	var missing, bad []string
	role, ok := vals[snapRole]
	if !ok {
		return s, fmt.Errorf("snapshot: HADR Status section without Role")
	}
	if s.Role = NormalizeRole(role); s.Role == "" {
		return s, fmt.Errorf("snapshot: unreadable Role %q", role)
	}
	if s.Role == RoleStandard {
		return s, fmt.Errorf("snapshot: %w", ErrHADRNotActive)
	}
	need := func(k, name string, norm func(string) string) string {
		v, ok := vals[k]
		if !ok {
			missing = append(missing, name)
			return ""
		}
		n := norm(v)
		if n == "" {
			bad = append(bad, fmt.Sprintf("%s=%q", name, v))
		}
		return n
	}
	s.State = need(snapState, "State", NormalizeState)
	if v, ok := vals[snapSyncMode]; ok {
		s.SyncMode = NormalizeSyncMode(v)
	}
	if v, ok := vals[snapConnStatus]; ok {
		status, when, _ := strings.Cut(v, ",")
		if s.ConnectStatus = NormalizeConnectStatus(status); s.ConnectStatus == "" {
			bad = append(bad, fmt.Sprintf("Connection status=%q", v))
		}
		t, err := parseStamp(when, loc)
		if err != nil {
			bad = append(bad, "Connection status: "+err.Error())
		}
		s.ConnectTime = t
	} else {
		missing = append(missing, "Connection status")
	}
	if v, ok := vals[snapPWEnd]; ok {
		t, err := parseStamp(v, loc)
		if err != nil {
			bad = append(bad, "Peer window end: "+err.Error())
		}
		s.PeerWindowEnd = t
	}
	num := func(k, name string) int64 {
		v, ok := vals[k]
		if !ok {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s=%q", name, v))
		}
		return n
	}
	s.PeerWindow = time.Duration(num(snapPW, "Peer window (seconds)")) * time.Second
	s.HeartbeatsMissed = int(num(snapHeartbeats, "Heartbeats missed"))
	s.Timeout = time.Duration(num(snapTimeout, "timeout(seconds)")) * time.Second
	s.LogGap = num(snapLogGap, "Log gap running average(bytes)")
	s.LocalHost = vals[snapLocalHost]
	s.LocalService = vals[snapLocalSvc]
	s.RemoteHost = vals[snapRemoteHost]
	s.RemoteService = vals[snapRemoteSvc]
	s.RemoteInstance = vals[snapRemoteInst]
	for _, p := range []struct {
		k, name string
		dst     *LogPosition
	}{{snapPrimaryLog, "Primary log position", &s.PrimaryLog}, {snapStandbyLog, "Standby log position", &s.StandbyLog}} {
		v, ok := vals[p.k]
		if !ok {
			continue
		}
		pos, err := parseLogPosition(v)
		if err != nil {
			bad = append(bad, p.name+": "+err.Error())
		}
		*p.dst = pos
	}
	return s, problemsErr("snapshot HADR Status", missing, bad)
}
