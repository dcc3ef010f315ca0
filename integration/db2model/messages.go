package db2model

import "fmt"

// Exit codes of the Db2 command line processor.
const (
	exitOK      = 0
	exitNoRows  = 1
	exitWarning = 2
	exitError   = 4
	exitSystem  = 8
)

// Message texts. They are printed on one line with single spaces, the way
// the guide quotes them; the real CLP puts two spaces after the identifier
// and between sentences and wraps at 80 columns.

func okMsg(command string) string {
	return fmt.Sprintf("DB20000I The %s command completed successfully.", command)
}

func sql0104(token, after, expected string) string {
	return fmt.Sprintf(`SQL0104N An unexpected token "%s" was found following "%s". Expected tokens may include: "%s". SQLSTATE=42601`,
		token, after, expected)
}

func sql1013(db string) string {
	return fmt.Sprintf(`SQL1013N The database alias name or database name "%s" could not be found. SQLSTATE=42705`, db)
}

func sql1116(db string) string {
	return fmt.Sprintf(`SQL1116N A connection to or activation of database "%s" cannot be made because of BACKUP PENDING. SQLSTATE=57019`, db)
}

func sql1117(db string) string {
	return fmt.Sprintf(`SQL1117N A connection to or activation of database "%s" cannot be made because of ROLL-FORWARD PENDING. SQLSTATE=57019`, db)
}

func reasonMsg(id, text string, rc int) string {
	return fmt.Sprintf(`%s %s Reason code = "%d".`, id, text, rc)
}

func sql1767(rc int) string { return reasonMsg("SQL1767N", "Start HADR cannot complete.", rc) }
func sql1768(rc int) string { return reasonMsg("SQL1768N", "Unable to start HADR.", rc) }
func sql1769(rc int) string { return reasonMsg("SQL1769N", "Stop HADR cannot complete.", rc) }
func sql1770(rc int) string { return reasonMsg("SQL1770N", "Takeover HADR cannot complete.", rc) }
func sql1776(rc int) string {
	return reasonMsg("SQL1776N", "The command cannot be issued on an HADR standby database.", rc)
}

const (
	msgSQL1024  = "SQL1024N A database connection does not exist. SQLSTATE=08003"
	msgSQL1025  = "SQL1025N The database manager was not stopped because databases are still active."
	msgSQL1026  = "SQL1026N The database manager is already active."
	msgSQL1032  = "SQL1032N No start database manager command was issued. SQLSTATE=57019"
	msgSQL1035  = "SQL1035N The database is currently in use. SQLSTATE=57019"
	msgSQL1063  = "SQL1063N DB2START processing was successful."
	msgSQL1064  = "SQL1064N DB2STOP processing was successful."
	msgSQL1363  = "SQL1363W One or more of the parameters submitted for immediate modification were not changed dynamically. For these configuration parameters, the database must be shutdown and reactivated before the configuration parameter changes become effective."
	msgSQL1490  = "SQL1490W Activate database is successful, however, the database has already been activated on one or more nodes."
	msgSQL1495  = "SQL1495W Deactivate database is successful, however, there is still a connection to the database."
	msgSQL1496  = "SQL1496W Deactivate database is successful, but the database was not activated."
	msgSQL1611  = "SQL1611W No data was returned by Database System Monitor."
	msgSQL1777  = "SQL1777N HADR is already started."
	msgSQL2001  = "SQL2001N The utility was interrupted. The output data may be incomplete."
	msgSQL2413  = "SQL2413N Online backup is not allowed because the database is not recoverable or a backup pending condition is in effect."
	msgSQL2523  = "SQL2523W Warning! Restoring to an existing database that is different from the database on the backup image, but have matching names. The target database will be overwritten by the backup version. The Roll-forward recovery logs associated with the target database will be deleted."
	msgSQL2537  = "SQL2537N Roll-forward is required following the Restore."
	msgSQL2539  = "SQL2539W Warning! Restoring to an existing database that is the same as the backup image database. The database files will be deleted."
	msgSQL6048  = "SQL6048N A communication error occurred during START or STOP DATABASE MANAGER processing."
	msgSQL30082 = `SQL30082N Security processing failed with reason "24" ("USERNAME AND/OR PASSWORD INVALID"). SQLSTATE=08001`
	msgSQL0100  = "SQL0100W No row was found for FETCH, UPDATE or DELETE; or the result of a query is an empty table. SQLSTATE=02000"
	msgSQL0117  = "SQL0117N The number of values assigned is not the same as the number of specified or implied columns or variables. SQLSTATE=42802"
	msgDB21034  = "DB21034E The command was processed as an SQL statement because it was not a valid Command Line Processor command. During SQL processing it returned:"
	msgDB21024  = "DB21024I This command is asynchronous and may not be effective immediately."
	msgDB21056  = "DB21056W Directory changes may not be effective until the directory cache is refreshed."
)

func sql2036(path string) string {
	return fmt.Sprintf(`SQL2036N The path for the file or device "%s" is not valid.`, path)
}

func sql2542(db, ts string) string {
	return fmt.Sprintf(`SQL2542N No match for a database image file was found based on the source database alias "%s" and timestamp "%s" provided.`, db, ts)
}

func sql0204(name string) string {
	return fmt.Sprintf(`SQL0204N "%s" is an undefined name. SQLSTATE=42704`, name)
}

func sql0206(name string) string {
	return fmt.Sprintf(`SQL0206N "%s" is not valid in the context where it is used. SQLSTATE=42703`, name)
}

func sql0803(table string) string {
	return fmt.Sprintf(`SQL0803N One or more values in the INSERT statement, UPDATE statement, or foreign key update caused by a DELETE statement are not valid because the primary key, unique constraint or unique index identified by "1" constrains table "%s" from having duplicate values for the index key. SQLSTATE=23505`, table)
}

func sql4904(db string) string {
	return fmt.Sprintf(`SQL4904N The pending state of database "%s" is not compatible with the specified ROLLFORWARD command.`, db)
}
