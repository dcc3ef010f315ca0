//go:build lab

package standins_test

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/integration/standins"
)

// fakeDb2 is a db2 command line processor good enough to check what the
// stand-in sends and how it reads the answers: it logs each call, answers
// SELECT with the file named by FAKE_DB2_SELECT, and succeeds otherwise.
const fakeDb2 = `#!/bin/sh
printf '%s\n' "$*" >> "$FAKE_DB2_LOG"
case "$1" in
connect)
	if [ "$2" = to ]; then
		printf '\n   Database Connection Information\n\n Database server        = DB2/LINUXX8664 9.7.0\n SQL authorization ID   = XCATDB\n Local database alias   = XCATDB\n\n'
	fi
	exit 0 ;;
SELECT*)
	cat "$FAKE_DB2_SELECT"; exit 0 ;;
*)
	echo "DB20000I  The SQL command completed successfully."; exit 0 ;;
esac
`

const db2SelectOut = `
NODE                 GROUPS                         STATUS
-------------------- ------------------------------ ----------
cn1                  compute,all                    booted
testnode             compute                        -

  2 record(s) selected.

`

func TestDb2Backend(t *testing.T) {
	h := newHost(t, "aix")
	h.startXcatd()
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "db2"), fakeDb2)
	if err := os.Chmod(filepath.Join(bin, "db2"), 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(bin, "db2.log")
	sel := filepath.Join(bin, "select.out")
	writeFile(t, sel, db2SelectOut)
	// The instance owner is the current user here, so no su is needed.
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(h.root, standins.CfgLoc), "DB2:xcatdb|"+u.Username+"|cluster\n")
	h.env = append(h.env, "PATH="+bin+":"+os.Getenv("PATH"), "FAKE_DB2_LOG="+log, "FAKE_DB2_SELECT="+sel)

	if got, want := h.must("/opt/xcat/bin/lsdef", "-l"), "Object name: cn1\n    groups=compute,all\n    status=booted\nObject name: testnode\n    groups=compute\n"; got != want {
		t.Errorf("lsdef -l = %q, want %q", got, want)
	}
	h.must("/opt/xcat/bin/mkdef", "-t", "node", "-o", "cn2", "groups=compute,all")
	h.must("/opt/xcat/bin/rmdef", "-t", "node", "-o", "testnode")
	h.expect(1, "", "Could not find an object named 'ghost'", "/opt/xcat/bin/rmdef", "ghost")

	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	stmts := string(data)
	for _, want := range []string{
		"connect to xcatdb\nSELECT node,groups,status FROM nodelist\nconnect reset\n",
		"INSERT INTO nodelist (node,groups,status) VALUES ('cn2','compute,all',NULL)\n",
		"DELETE FROM nodelist WHERE node='testnode'\n",
	} {
		if !strings.Contains(stmts, want) {
			t.Errorf("db2 calls lack %q:\n%s", want, stmts)
		}
	}
}

// TestPostgresBackend runs the node commands against a real PostgreSQL
// server (started on a Unix socket in a temporary directory).
func TestPostgresBackend(t *testing.T) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	pg, err := user.Lookup("postgres")
	if len(bins) == 0 || err != nil || os.Geteuid() != 0 {
		needMachine(t, "needs root, the postgres user and PostgreSQL's server binaries")
	}
	if _, err := exec.LookPath("psql"); err != nil {
		needMachine(t, "needs psql")
	}
	pgbin := filepath.Dir(bins[len(bins)-1])
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	dir, err := os.MkdirTemp("", "standins-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	asPostgres := func(cmd string) {
		t.Helper()
		out, err := exec.Command("su", "-s", "/bin/sh", "postgres", "-c", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	data := filepath.Join(dir, "data")
	asPostgres(pgbin + "/initdb -D " + data + " -A trust -U postgres --no-sync >/dev/null")
	asPostgres(pgbin + "/pg_ctl -D " + data + " -l " + dir + "/log -w -o \"-k " + dir + " -c listen_addresses=''\" start >/dev/null")
	t.Cleanup(func() {
		exec.Command("su", "-s", "/bin/sh", "postgres", "-c", pgbin+"/pg_ctl -D "+data+" -m immediate -w stop").Run()
	})
	asPostgres("psql -h " + dir + " -d postgres -qc 'CREATE DATABASE xcatdb'")

	h := newHost(t, "linux")
	h.startXcatd()
	writeFile(t, filepath.Join(h.root, standins.CfgLoc), "Pg:dbname=xcatdb;host="+dir+"|postgres|cluster\n")
	bin := "/opt/xcat/bin/"
	h.expect(0, "Could not find any object definitions to display.", "", bin+"lsdef") // no table yet
	h.must(bin+"mkdef", "-t", "node", "-o", "testnode", "groups=compute,all")
	h.must(bin+"mkdef", "-t", "node", "-o", "o'brien", "groups=all", "status=booted")
	h.expect(1, "", "A definition for 'testnode' already exists.", bin+"mkdef", "-t", "node", "-o", "testnode", "groups=all")
	h.must(bin+"chdef", "testnode", "status=installing")
	if got, want := h.must(bin+"lsdef", "-l"), "Object name: o'brien\n    groups=all\n    status=booted\nObject name: testnode\n    groups=compute,all\n    status=installing\n"; got != want {
		t.Errorf("lsdef -l = %q, want %q", got, want)
	}
	h.must(bin+"rmdef", "-t", "node", "-o", "testnode")
	if got, want := h.must(bin+"nodels"), "o'brien\n"; got != want {
		t.Errorf("nodels = %q, want %q", got, want)
	}
	// The rows really are in the database.
	out, err := exec.Command("psql", "-X", "-At", "-h", dir, "-U", "postgres", "-d", "xcatdb", "-c", "SELECT node, groups, status FROM nodelist").CombinedOutput()
	if err != nil || string(out) != "o'brien|all|booted\n" {
		t.Errorf("nodelist table = %q, %v", out, err)
	}
	// A database that does not answer is an error, not an empty list.
	writeFile(t, filepath.Join(h.root, standins.CfgLoc), "Pg:dbname=xcatdb;host="+dir+"/nowhere|postgres|cluster\n")
	h.expect(1, "", "Error: cannot read the xCAT database", bin+"lsdef")
}
