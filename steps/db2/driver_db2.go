//go:build db2

// This file reads HADR status over SQL with IBM's Go driver
// (github.com/ibmdb/go_ibm_db), as an alternative to parsing db2pd. The
// driver needs IBM's CLI driver (headers and libdb2) through cgo, so it is
// only built with -tags db2:
//
//	export IBM_DB_HOME=/opt/ibm/clidriver
//	export CGO_CFLAGS=-I$IBM_DB_HOME/include CGO_LDFLAGS=-L$IBM_DB_HOME/lib
//	export LD_LIBRARY_PATH=$IBM_DB_HOME/lib
//	go build -tags db2 ./...

package db2

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	_ "github.com/ibmdb/go_ibm_db" // registers driver "go_ibm_db"
)

// DriverName is the database/sql driver name of go_ibm_db.
const DriverName = "go_ibm_db"

// ConnInfo says how to reach a Db2 database over TCP.
type ConnInfo struct {
	Host     string
	Port     int // the instance's SVCENAME port, 60000 in the guide
	Database string
	User     string
	Password string
}

// DSN is the CLI connection string go_ibm_db takes.
func (c ConnInfo) DSN() string {
	db := c.Database
	if db == "" {
		db = Database
	}
	return fmt.Sprintf("HOSTNAME=%s;DATABASE=%s;PORT=%d;PROTOCOL=TCPIP;UID=%s;PWD=%s", c.Host, db, c.Port, c.User, c.Password)
}

// String is the connection without its password, for messages.
func (c ConnInfo) String() string {
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// monGetHADR is the status query of Db2 10.1 and later. Durations that
// mirror configuration parameters (HADR_TIMEOUT, PEER_WINDOW) come back in
// milliseconds.
const monGetHADR = `SELECT HADR_ROLE, HADR_STATE, HADR_SYNCMODE, HADR_CONNECT_STATUS,
  HADR_CONNECT_STATUS_TIME, HEARTBEAT_MISSED, HADR_TIMEOUT, PEER_WINDOW, PEER_WINDOW_END,
  PRIMARY_MEMBER_HOST, STANDBY_MEMBER_HOST, PRIMARY_INSTANCE, STANDBY_INSTANCE,
  PRIMARY_LOG_FILE, PRIMARY_LOG_PAGE, PRIMARY_LOG_POS,
  STANDBY_LOG_FILE, STANDBY_LOG_PAGE, STANDBY_LOG_POS, HADR_LOG_GAP
FROM TABLE (MON_GET_HADR(NULL))`

// snapHADR is the query for Db2 9.7, whose SYSIBMADM.SNAPHADR view is
// what GET SNAPSHOT FOR DB prints in its HADR section (times in seconds).
const snapHADR = `SELECT HADR_ROLE, HADR_STATE, HADR_SYNCMODE, HADR_CONNECT_STATUS,
  HADR_CONNECT_TIME, HADR_HEARTBEAT, HADR_TIMEOUT, HADR_PEER_WINDOW, HADR_PEER_WINDOW_END,
  HADR_LOCAL_HOST, HADR_REMOTE_HOST, HADR_REMOTE_INSTANCE,
  HADR_PRIMARY_LOG_FILE, HADR_PRIMARY_LOG_PAGE, HADR_PRIMARY_LOG_LSN,
  HADR_STANDBY_LOG_FILE, HADR_STANDBY_LOG_PAGE, HADR_STANDBY_LOG_LSN, HADR_LOG_GAP
FROM SYSIBMADM.SNAPHADR`

// ReadHADRStatus connects to the database and reads its HADR status with
// MON_GET_HADR, falling back to SYSIBMADM.SNAPHADR on Db2 9.7. An HADR
// standby takes no connections (SQL1776N) unless reads on standby are
// enabled: read a standby with db2pd (ParseDb2pdHADR) instead.
func ReadHADRStatus(ctx context.Context, ci ConnInfo) (HADRStatus, error) {
	db, err := sql.Open(DriverName, ci.DSN())
	if err != nil {
		return HADRStatus{}, fmt.Errorf("connect to %s: %w", ci, err)
	}
	defer db.Close()
	s, err := queryMonGetHADR(ctx, db)
	if err == nil {
		return s, nil
	}
	s, err2 := querySnapHADR(ctx, db)
	if err2 != nil {
		return HADRStatus{}, fmt.Errorf("HADR status of %s: MON_GET_HADR: %v; SYSIBMADM.SNAPHADR: %w", ci, err, err2)
	}
	return s, nil
}

func queryMonGetHADR(ctx context.Context, db *sql.DB) (HADRStatus, error) {
	var (
		role, state, mode, conn                  sql.NullString
		connTime, pwEnd                          sql.NullTime
		missed, timeoutMS, windowMS              sql.NullInt64
		pHost, sHost, pInst, sInst, pFile, sFile sql.NullString
		pPage, pPos, sPage, sPos, gap            sql.NullInt64
	)
	err := db.QueryRowContext(ctx, monGetHADR).Scan(&role, &state, &mode, &conn, &connTime, &missed, &timeoutMS,
		&windowMS, &pwEnd, &pHost, &sHost, &pInst, &sInst, &pFile, &pPage, &pPos, &sFile, &sPage, &sPos, &gap)
	if err != nil {
		return HADRStatus{}, err
	}
	s := HADRStatus{
		Role: NormalizeRole(role.String), State: NormalizeState(state.String),
		SyncMode: NormalizeSyncMode(mode.String), ConnectStatus: NormalizeConnectStatus(conn.String),
		ConnectTime: connTime.Time, HeartbeatsMissed: int(missed.Int64),
		Timeout: time.Duration(timeoutMS.Int64) * time.Millisecond, PeerWindow: time.Duration(windowMS.Int64) * time.Millisecond,
		PeerWindowEnd: pwEnd.Time,
		PrimaryLog:    LogPosition{File: pFile.String, Page: int(pPage.Int64), LSN: fmt.Sprint(pPos.Int64)},
		StandbyLog:    LogPosition{File: sFile.String, Page: int(sPage.Int64), LSN: fmt.Sprint(sPos.Int64)},
		LogGap:        gap.Int64,
	}
	s.LocalHost, s.RemoteHost, s.RemoteInstance = pHost.String, sHost.String, sInst.String
	if s.Role == RoleStandby {
		s.LocalHost, s.RemoteHost, s.RemoteInstance = sHost.String, pHost.String, pInst.String
	}
	return s, checkRow(s, role.String, state.String, conn.String)
}

func querySnapHADR(ctx context.Context, db *sql.DB) (HADRStatus, error) {
	var (
		role, state, mode, conn           sql.NullString
		connTime, pwEnd                   sql.NullTime
		missed, timeout, window           sql.NullInt64
		lHost, rHost, rInst, pFile, sFile sql.NullString
		pPage, sPage, gap                 sql.NullInt64
		pLSN, sLSN                        sql.NullInt64
	)
	err := db.QueryRowContext(ctx, snapHADR).Scan(&role, &state, &mode, &conn, &connTime, &missed, &timeout, &window,
		&pwEnd, &lHost, &rHost, &rInst, &pFile, &pPage, &pLSN, &sFile, &sPage, &sLSN, &gap)
	if err != nil {
		return HADRStatus{}, err
	}
	s := HADRStatus{
		Role: NormalizeRole(role.String), State: NormalizeState(state.String),
		SyncMode: NormalizeSyncMode(mode.String), ConnectStatus: NormalizeConnectStatus(conn.String),
		ConnectTime: connTime.Time, HeartbeatsMissed: int(missed.Int64),
		Timeout: time.Duration(timeout.Int64) * time.Second, PeerWindow: time.Duration(window.Int64) * time.Second,
		PeerWindowEnd: pwEnd.Time,
		LocalHost:     lHost.String, RemoteHost: rHost.String, RemoteInstance: rInst.String,
		PrimaryLog: LogPosition{File: pFile.String, Page: int(pPage.Int64), LSN: fmt.Sprintf("%016X", pLSN.Int64)},
		StandbyLog: LogPosition{File: sFile.String, Page: int(sPage.Int64), LSN: fmt.Sprintf("%016X", sLSN.Int64)},
		LogGap:     gap.Int64,
	}
	return s, checkRow(s, role.String, state.String, conn.String)
}

// checkRow reports values the normalisers did not recognise.
func checkRow(s HADRStatus, role, state, conn string) error {
	var bad []string
	if s.Role == "" {
		bad = append(bad, fmt.Sprintf("HADR_ROLE=%q", role))
	}
	if s.State == "" && s.Role != RoleStandard {
		bad = append(bad, fmt.Sprintf("HADR_STATE=%q", state))
	}
	if s.ConnectStatus == "" && s.Role != RoleStandard {
		bad = append(bad, fmt.Sprintf("HADR_CONNECT_STATUS=%q", conn))
	}
	if len(bad) > 0 {
		return fmt.Errorf("unreadable %s", strings.Join(bad, "; "))
	}
	return nil
}
