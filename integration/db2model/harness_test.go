//go:build lab

package db2model

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/steps/db2"
)

// modelExe is the model binary built once by TestMain.
var modelExe string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "db2model-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	modelExe = filepath.Join(dir, "db2model")
	args := []string{"build", "-o", modelExe}
	if os.Getenv("DB2MODEL_TEST_RACE") != "" {
		args = append(args, "-race") // race-check the daemons too
	}
	build := exec.Command("go", append(args, "./cmd/db2model")...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build db2model: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const instHome = "/var/lib/db2"

// host is one management node: an installed model in its own root.
type host struct {
	t     *testing.T
	name  string
	root  string
	bin   string
	store Store
	env   []string
	// services is the host's /etc/services.
	services string
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// archive is a LOGARCHMETH1 DISK: value naming an existing directory of
// the host (created on first use).
func (h *host) archive() string {
	dir := filepath.Join(h.root, "var/lib/db2/archive")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		h.t.Fatal(err)
	}
	return "DISK:" + dir
}

// newHost installs the model in a fresh root. services is the
// /etc/services the host sees.
func newHost(t *testing.T, name, services string) *host {
	t.Helper()
	root := t.TempDir()
	if err := Install(root, modelExe, "xcatdb", instHome); err != nil {
		t.Fatal(err)
	}
	h := &host{t: t, name: name, root: root, services: services,
		bin:   filepath.Join(root, instHome, "sqllib/bin"),
		store: Store{Dir: filepath.Join(root, instHome, "sqllib/model")}}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "DB2") {
			h.env = append(h.env, e)
		}
	}
	h.env = append(h.env, EnvServices+"="+services, EnvSession+"="+name+"-shell", EnvHostname+"="+hostOf(root))
	t.Cleanup(h.killDaemons)
	return h
}

// killDaemons ends every HADR daemon of the host by pid.
func (h *host) killDaemons() {
	pids := map[int]bool{}
	if b, err := os.ReadFile(h.store.path("state.json")); err == nil {
		var st State
		if json.Unmarshal(b, &st) == nil {
			for _, db := range st.DBs {
				pids[db.DaemonPID] = true
			}
		}
	}
	if cf, err := (&cli{store: h.store}).readCtl("XCATDB"); err == nil {
		pids[cf.PID] = true
	}
	for pid := range pids {
		if pid > 1 && processAlive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// daemonPID is the pid of the host's running HADR daemon.
func (h *host) daemonPID() int {
	var pid int
	_ = h.store.View(func(st *State) error { pid = st.DBs["XCATDB"].DaemonPID; return nil })
	return pid
}

// exec runs one of the model's commands on the host.
func (h *host) exec(stdin string, extraEnv []string, prog string, args ...string) (string, int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(h.bin, prog), args...)
	cmd.Env = append(append([]string{}, h.env...), extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		h.t.Fatalf("%s: %s %v: %v", h.name, prog, args, err)
	}
	return out.String(), rc
}

// db2 runs "db2 <cmd>" with the command as one argument, as a shell does
// for db2 "...".
func (h *host) db2(cmd string) (string, int) {
	h.t.Helper()
	return h.exec("", nil, "db2", cmd)
}

// must runs a db2 command and checks its exit code and output.
func (h *host) must(cmd string, rc int, contains ...string) string {
	h.t.Helper()
	out, got := h.db2(cmd)
	if got != rc {
		h.t.Fatalf("%s: db2 %s: exit %d, want %d\n%s", h.name, cmd, got, rc, out)
	}
	for _, c := range contains {
		if !strings.Contains(out, c) {
			h.t.Fatalf("%s: db2 %s: output lacks %q:\n%s", h.name, cmd, c, out)
		}
	}
	return out
}

// hadr parses the host's db2pd -d xcatdb -hadr.
func (h *host) hadr() (db2.HADRStatus, error) {
	out, _ := h.exec("", nil, "db2pd", "-d", "xcatdb", "-hadr")
	return db2.ParseDb2pdHADR([]byte(out))
}

// waitHADR polls db2pd until ok accepts the status.
func (h *host) waitHADR(what string, within time.Duration, ok func(db2.HADRStatus) bool) db2.HADRStatus {
	h.t.Helper()
	deadline := time.Now().Add(within)
	var s db2.HADRStatus
	var err error
	for time.Now().Before(deadline) {
		s, err = h.hadr()
		if err == nil && ok(s) {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("%s: %s not reached within %v: last status %+v, err %v", h.name, what, within, s, err)
	return s
}

func isState(role, state, conn string) func(db2.HADRStatus) bool {
	return func(s db2.HADRStatus) bool {
		return s.Role == role && s.State == state && s.ConnectStatus == conn
	}
}

// pair is a primary and a standby MN on 127.0.0.1.
type pair struct {
	p, s                *host
	timeout, peerWindow int
}

// newPair installs two MNs whose /etc/services name the two HADR ports.
func newPair(t *testing.T) *pair {
	t.Helper()
	services := filepath.Join(t.TempDir(), "services")
	content := fmt.Sprintf("# test services\nDB2_HADR_1      %d/tcp\nDB2_HADR_2      %d/tcp\n", freePort(t), freePort(t))
	if err := os.WriteFile(services, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return &pair{p: newHost(t, "mn1", services), s: newHost(t, "mn2", services)}
}

// prepare runs the guide's 5.1.2-5.1.6 (with the dangling "USING" line
// left out and wrapped lines joined): log retention, backup on the primary,
// restore on the standby, HADR parameters on both.
func (pr *pair) prepare(timeout, peerWindow int) {
	t := pr.p.t
	t.Helper()
	pr.timeout, pr.peerWindow = timeout, peerWindow
	for _, h := range []*host{pr.p, pr.s} {
		for _, c := range []string{"LOGARCHMETH1 " + h.archive(), "TRACKMOD ON", "LOGINDEXBUILD ON", "INDEXREC RESTART"} {
			h.must("UPDATE DB CFG FOR XCATDB USING "+c, 0, "DB20000I")
		}
	}
	backup := filepath.Join(pr.p.root, "var/lib/db2/backup")
	if err := os.MkdirAll(backup, 0o755); err != nil {
		t.Fatal(err)
	}
	out := pr.p.must("BACKUP DB XCATDB TO "+backup+"/", 0, "Backup successful.")
	ts, err := db2.ParseBackupTimestamp([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	sbBackup := filepath.Join(pr.s.root, "var/lib/db2/backup")
	if err := os.MkdirAll(sbBackup, 0o755); err != nil {
		t.Fatal(err)
	}
	img := imageName("XCATDB", "xcatdb", ts)
	b, err := os.ReadFile(filepath.Join(backup, img))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sbBackup, img), b, 0o640); err != nil {
		t.Fatal(err)
	}
	pr.s.must(fmt.Sprintf(`RESTORE DATABASE XCATDB FROM "%s" TAKEN AT %s REPLACE HISTORY FILE WITHOUT PROMPTING`, sbBackup, ts),
		0, "DB20000I The RESTORE DATABASE command completed successfully.")
	cfg := func(h *host, local, remote string) {
		h.must("UPDATE ALTERNATE SERVER FOR DATABASE XCATDB USING HOSTNAME 127.0.0.1 PORT 60000", 0, "DB20000I")
		for _, c := range []string{
			"HADR_LOCAL_HOST 127.0.0.1", "HADR_LOCAL_SVC " + local, "HADR_REMOTE_HOST 127.0.0.1",
			"HADR_REMOTE_SVC " + remote, "HADR_REMOTE_INST xcatdb", "HADR_SYNCMODE NEARSYNC",
			fmt.Sprintf("HADR_TIMEOUT %d", timeout), fmt.Sprintf("HADR_PEER_WINDOW %d", peerWindow),
		} {
			h.must("UPDATE DB CFG FOR XCATDB USING "+c, 0, "DB20000I")
		}
	}
	cfg(pr.p, "DB2_HADR_1", "DB2_HADR_2")
	pr.p.must("CONNECT TO XCATDB", 0, "Local database alias   = XCATDB")
	pr.p.must("QUIESCE DATABASE IMMEDIATE FORCE CONNECTIONS", 0, "DB20000I")
	pr.p.must("UNQUIESCE DATABASE", 0, "DB20000I")
	pr.p.must("CONNECT RESET", 0, "DB20000I")
	cfg(pr.s, "DB2_HADR_2", "DB2_HADR_1")
}

// start runs 5.1.7 and waits for Peer on both sides.
func (pr *pair) start() {
	pr.p.t.Helper()
	pr.s.must("DEACTIVATE DATABASE XCATDB", 2, "SQL1496W")
	pr.s.must("START HADR ON DATABASE XCATDB AS STANDBY", 0, "DB20000I The START HADR ON DATABASE command completed successfully.")
	pr.p.must("DEACTIVATE DATABASE XCATDB", 2, "SQL1496W")
	pr.p.must("START HADR ON DATABASE XCATDB AS PRIMARY", 0, "DB20000I The START HADR ON DATABASE command completed successfully.")
	pr.p.waitHADR("primary in peer", 5*time.Second, isState(db2.RolePrimary, db2.StatePeer, db2.ConnConnected))
	pr.s.waitHADR("standby in peer", 5*time.Second, isState(db2.RoleStandby, db2.StatePeer, db2.ConnConnected))
}

// setup is prepare + start.
func setup(t *testing.T, timeout, peerWindow int) *pair {
	t.Helper()
	pr := newPair(t)
	pr.prepare(timeout, peerWindow)
	pr.start()
	return pr
}
