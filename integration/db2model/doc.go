// Package db2model is a lab model of the parts of IBM Db2's command line
// that the xCAT HA management-node guide uses: the CLP ("db2 ..."), db2pd,
// db2gcf, db2start, db2stop and HADR between two instances. Db2 cannot be
// installed in the lab; the model lets hamnflow's workflows run the guide's
// commands over SSH against something that answers like Db2 does, including
// its errors.
//
// # Layout
//
// One binary (cmd/db2model) is installed under the instance's sqllib/bin
// with the names db2, db2pd, db2gcf, db2start and db2stop (Install); it
// dispatches on its own name. Each instance keeps its state in a model
// directory, sqllib/model by default:
//
//	state.json      instance, database, configuration, tables and log (JSON)
//	lock            flock(2) lock serialising every reader and writer
//	journal.log     one line per state change (commands, shipped records)
//	hadr-XCATDB.log the HADR daemon's diagnostics (like db2diag.log)
//	hadr-XCATDB.ctl the running daemon's control address and token
//
// The environment variables below let a test run two "hosts" as two state
// directories on 127.0.0.1 with different ports.
//
// # HADR protocol
//
// START HADR (or ACTIVATE of an HADR database) starts one detached daemon per
// database (setsid; pid in state.json). Both primary and standby listen on
// their HADR_LOCAL_SVC port for their whole life; the standby dials the
// primary (HADR_REMOTE_HOST:HADR_REMOTE_SVC) every 250 ms while it is not
// connected, and an established link is symmetric, so a graceful takeover
// swaps roles on the same connection. Messages are JSON lines:
//
//	hello     standby -> primary: instance names, HADR_TIMEOUT, HADR_PEER_WINDOW,
//	          sync mode and the standby's log end (LSN + chain hash); the
//	          primary rejects mismatched settings or a log that is not a prefix
//	          of its own (e.g. an old primary after a forced takeover)
//	welcome   primary -> standby, or reject with a reason
//	rec       a log record (primary -> standby); the standby applies it and acks
//	caughtup  primary: every record up to LSN was sent; standby answers peer
//	hb        heartbeat with role, state and log position, every
//	          max(HADR_TIMEOUT/4, 100ms); a link that hears nothing for
//	          HADR_TIMEOUT is dropped
//	takeover  graceful takeover request (standby -> primary), answered by
//	          takeover_ok once everything is shipped and the primary has
//	          become the standby
//	disable   forced takeover: the new primary tells the old one to stop
//	          (it deactivates and keeps role PRIMARY, like Db2)
//	bye       orderly shutdown (DEACTIVATE, STOP HADR, db2stop): the peer
//	          skips the peer window
//
// States follow Db2: a standby goes Local catchup -> Remote catchup pending
// -> Remote catchup -> Peer; when a peer link breaks without bye both sides
// enter Disconnected peer until PEER_WINDOW_END (last contact +
// HADR_PEER_WINDOW), then the primary shows Disconnected and the standby
// Remote catchup pending. In NEARSYNC/SYNC a commit on the primary returns
// after the standby acknowledged the record; in Disconnected peer commits
// block until the window ends.
//
// Local commands reach their daemon through a loopback TCP control port whose
// address and random token are in hadr-<DB>.ctl (mode 0600).
package db2model

// Environment variables read by the model.
const (
	// EnvHome overrides the model directory (default: sqllib/model next to
	// the installed binary's sqllib/bin).
	EnvHome = "DB2MODEL_HOME"
	// EnvServices overrides /etc/services for HADR service names.
	EnvServices = "DB2MODEL_SERVICES"
	// EnvHostname overrides the host name (db2nodes.cfg, db2gcf, db2start).
	EnvHostname = "DB2MODEL_HOSTNAME"
	// EnvSession overrides the CLP session key. Db2's CLP keeps a back-end
	// process per shell, so a CONNECT holds until CONNECT RESET or TERMINATE
	// in the same shell; the model keys sessions by the parent pid.
	EnvSession = "DB2MODEL_SESSION"
	// EnvVersion selects the Db2 release the model imitates: "11.5" (the
	// default) or "10.5". It changes the CONNECT banner and GET DB CFG's
	// release level; both follow the 10.1+ configuration (LOGARCHMETH1, no
	// LOGRETAIN).
	EnvVersion = "DB2MODEL_VERSION"
	// EnvDb2pdLayout set to "v97" makes db2pd print the Db2 9.7 column
	// layout the guide shows instead of the current field-per-line layout.
	EnvDb2pdLayout = "DB2MODEL_DB2PD_LAYOUT"
	// EnvPassword overrides the instance owner's password checked by
	// USER ... USING (default "cluster", as in the guide).
	EnvPassword = "DB2MODEL_PASSWORD"
	// EnvDefaultDB is Db2's DB2DBDFT: SQL statements issued without a
	// connection implicitly connect to it. Install's db2profile sets it.
	EnvDefaultDB = "DB2DBDFT"
)
