//go:build lab

package drills

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/hamnflow/hamnflow/workflow"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/integration/lab"
	"github.com/hamnflow/hamnflow/integration/labtest"
	"github.com/hamnflow/hamnflow/journal"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// drill is a lab prepared for a failover: standby prepared as the guide
// leaves it, the database replicated to mn2 (PostgreSQL streaming
// replication, or Db2 HADR for newDb2Drill), a row written on mn1.
type drill struct {
	t   *testing.T
	env *labtest.Env
	db  string // the inventory's database type: postgresql or db2
	// real: the real lab (systemd hosts, real xCAT); else the namespace
	// hosts with the xCAT stand-ins.
	real bool
	// dir is the drill's directory on the MNs (holds, wrappers, the log
	// of completed calls): one the machine sees through the host's root
	// (a systemd host's /run is its own tmpfs).
	dir string
	// effectCalls are the calls through which the failover's side-effect
	// steps act, by step (the crash drills).
	effectCalls map[string]effectCall
}

// newDrill brings up the real lab (systemd hosts, real xCAT 2.19 on
// PostgreSQL), synchronises the standby's files and sets up streaming
// replication as the guide does, and writes a row on mn1.
func newDrill(t *testing.T) *drill {
	t.Helper()
	env := labtest.Up(t, labtest.Options{Systemd: true, Postgres: true, RealXCAT: true, ServiceNodes: 1})
	env.MustRun(t, 0, "run", "sync-setup", "--yes")
	env.MustRun(t, 0, "run", "pg-setup", "--yes")
	d := &drill{t: t, env: env, db: "postgresql", real: true, dir: "/var/lib/hamnflow-drill", effectCalls: pgEffectCalls}
	d.psql("mn1", "INSERT INTO nodelist (node, groups, status) VALUES ('cn100', 'compute,all', 'before-drill')")
	return d
}

func (d *drill) psql(host, sql string) string {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := d.env.Lab.PSQL(ctx, host, sql)
	if err != nil {
		d.t.Fatalf("psql on %s: %s: %v\n%s", host, sql, err, out)
	}
	return strings.TrimSpace(out)
}

// tryPSQL is psql that may fail (a stopped server).
func (d *drill) tryPSQL(host, sql string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := d.env.Lab.PSQL(ctx, host, sql)
	return strings.TrimSpace(out), err
}

// holds says how many times host has addr on an interface.
func (d *drill) holds(host, addr string) int {
	d.t.Helper()
	return strings.Count(d.env.Exec(d.t, host, "ip -o -4 addr show"), " "+addr+"/")
}

// lastRun is the run started last in the drill's journal.
func (d *drill) lastRun() workflow.Run {
	d.t.Helper()
	j, err := journal.Open(d.env.Journal)
	if err != nil {
		d.t.Fatal(err)
	}
	runs, err := j.Runs(workflow.Filter{})
	if err != nil || len(runs) == 0 {
		d.t.Fatalf("no runs in %s: %v", d.env.Journal, err)
	}
	last := runs[0]
	for _, r := range runs {
		if r.StartedAt.After(last.StartedAt) {
			last = r
		}
	}
	return last
}

func (d *drill) events(id string) []workflow.Event {
	d.t.Helper()
	j, err := journal.Open(d.env.Journal)
	if err != nil {
		d.t.Fatal(err)
	}
	evs, err := j.Events(id)
	if err != nil {
		d.t.Fatal(err)
	}
	return evs
}

// proc is a hamnflow started in the operator namespace.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // stderr line by line
	mu     sync.Mutex
	stderr strings.Builder
	done   chan struct{}
	exit   int
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// start starts hamnflow with args; it is killed at the test's end if it
// still runs.
func (d *drill) start(args ...string) *proc {
	d.t.Helper()
	cmd := d.env.Command(context.Background(), args...)
	p := &proc{cmd: cmd, lines: make(chan string, 4096), done: make(chan struct{})}
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		d.t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		d.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	go func() {
		r := bufio.NewReader(errPipe)
		for {
			s, err := r.ReadString('\n')
			p.mu.Lock()
			p.stderr.WriteString(s)
			p.mu.Unlock()
			if s != "" {
				select {
				case p.lines <- strings.TrimRight(s, "\n"):
				default:
				}
			}
			if err != nil {
				break
			}
		}
		close(p.lines)
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			p.exit = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				p.exit = 128 + int(ws.Signal())
			}
		case err != nil:
			p.exit = -1
		}
		close(p.done)
	}()
	return p
}

// kill kills hamnflow with SIGKILL and waits for it (ip netns exec execs
// hamnflow, so the pid is hamnflow's).
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	p.wait(t)
}

func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.exit
	case <-time.After(3 * time.Minute):
		t.Fatalf("hamnflow still running after 3 minutes:\n%s", p.output())
	}
	return -1
}

// The hold mechanism: wrappers on mn1 and mn2 around the commands the
// failover's side-effect steps run (systemctl, xCAT's make* commands,
// pg_ctl and ip on the real lab; the stand-ins' init scripts and make*
// commands on the namespace hosts) call DIR/hold before and after the real
// command (DIR is drill.dir, /run/drill below). A hold file
// /run/drill/hold-pre (or -post) holds a shell pattern; the first call
// matching it takes the file, writes its pid to /run/drill/at and blocks
// on the fifo /run/drill/gate. A fault file /run/drill/fail holds a
// pattern too: a matching call fails without running. Every completed call
// is appended to /run/drill/done with its exit code, so the drill counts
// how often each effect was applied. Calls xcatd makes itself (makedns
// restarting named through systemctl) are run as they are: they are no
// step's own effect.
const holdScript = `#!/bin/sh
# hold WHERE NAME ARGS...: block here if /run/drill/hold-WHERE matches.
w=$1; n=${2##*/}; shift 2
f=/run/drill/hold-$w
[ -f "$f" ] || exit 0
pat=$(cat "$f" 2>/dev/null) || exit 0
case "$n $*" in $pat) ;; *) exit 0 ;; esac
mv "$f" "$f.taken" 2>/dev/null || exit 0
echo $$ > /run/drill/at.$$ && mv /run/drill/at.$$ /run/drill/at
read _ < /run/drill/gate
exit 0
`

// wrapper runs real with the holds around it and logs the completed call
// (a password after USING masked).
func wrapper(name, real string) string {
	return fmt.Sprintf(`#!/bin/sh
if grep -q 'xcatd[.]service' /proc/self/cgroup 2>/dev/null; then exec %[2]s "$@"; fi
if [ -f /run/drill/fail ]; then case "%[1]s $*" in $(cat /run/drill/fail)) echo "%[1]s: injected failure (drill)" >&2; exit 1 ;; esac; fi
/run/drill/hold pre %[1]s "$@"
%[2]s "$@"
rc=$?
echo "%[1]s $* rc=$rc" | sed 's/ USING [^ ]*/ USING ********/g' >> /run/drill/done
/run/drill/hold post %[1]s "$@"
exit $rc
`, name, real)
}

// holdsPreamble starts a host's holds script in b: the drill's
// directories, the gate and done files, the hold script, and ip bound
// over by its wrapper wherever it lives (/usr/bin/ip on merged-/usr
// Debian 12, /usr/sbin/ip on this machine). It returns the function that
// adds a file (a wrapper) to the script.
func holdsPreamble(b *strings.Builder) (file func(path, content string)) {
	file = func(path, content string) {
		fmt.Fprintf(b, "rm -f %[1]s\ncat > %[1]s <<'WRAPPER_EOF'\n%[2]sWRAPPER_EOF\nchmod 0755 %[1]s\n", path, content)
	}
	b.WriteString("set -e\nmkdir -p /run/drill/real /run/drill/w\nchmod 0777 /run/drill\n")
	b.WriteString("[ -p /run/drill/gate ] || mkfifo -m 0666 /run/drill/gate\n: > /run/drill/done; chmod 0666 /run/drill/done\n")
	file("/run/drill/hold", holdScript)
	file("/run/drill/w/ip", wrapper("ip", "/run/drill/real/ip"))
	b.WriteString("ip=$(readlink -f \"$(command -v ip)\")\ntouch /run/drill/real/ip\n")
	b.WriteString("mount --bind \"$ip\" /run/drill/real/ip\nmount --make-private /run/drill/real/ip\n")
	b.WriteString("mount --bind /run/drill/w/ip \"$ip\"\n")
	return file
}

// installHolds lays the wrappers into mn1 and mn2. /etc and /opt are the
// hosts' own; pg_ctl, ip and systemctl are bind-mounted over inside each
// host's private mount namespace (the real pg_ctl stays reachable through
// a bind of its whole directory, so that it finds postgres beside it).
// Each bind of a real program is made private before the wrapper goes
// over the original: a systemd host's mounts are shared, and the wrapper
// would otherwise propagate onto the real program's bind too (and call
// itself). With Db2
// the instance's sqllib/bin/db2 (the host's own /var/lib/db2) becomes a
// wrapper that runs the model as db2, keeping the caller's shell as the
// CLP session (the model keys sessions by the parent pid).
func (d *drill) installHolds() {
	d.t.Helper()
	const standin = `"${XCAT_STANDIN_ROOT:-}/opt/xcat/standin/xcat-standin"`
	for _, host := range []string{"mn1", "mn2"} {
		var b strings.Builder
		file := holdsPreamble(&b)
		b.WriteString("mkdir -p /run/drill/real/pgbin\n")
		if d.real {
			// systemctl, bound over; xCAT's make* are links to xcatclient,
			// which runs the command its name says: the wrapper calls it
			// through a link of the same name.
			file("/run/drill/w/systemctl", wrapper("systemctl", "/run/drill/real/systemctl"))
			b.WriteString("touch /run/drill/real/systemctl\nmount --bind /usr/bin/systemctl /run/drill/real/systemctl\nmount --make-private /run/drill/real/systemctl\n")
			b.WriteString("mount --bind /run/drill/w/systemctl /usr/bin/systemctl\n")
			for _, c := range []string{"makedns", "makedhcp", "makeconservercf"} {
				b.WriteString("ln -sfn /opt/xcat/bin/xcatclient /run/drill/real/" + c + "\n")
				file("/opt/xcat/sbin/"+c, wrapper(c, "/run/drill/real/"+c))
			}
			file("/run/drill/w/pg_ctl", wrapper("pg_ctl", "/run/drill/real/pgbin/pg_ctl"))
			b.WriteString("mount --bind " + lab.PGBinDir + " /run/drill/real/pgbin\nmount --make-private /run/drill/real/pgbin\n")
			b.WriteString("mount --bind /run/drill/w/pg_ctl " + lab.PGBinDir + "/pg_ctl\n")
			d.env.Exec(d.t, host, strings.ReplaceAll(b.String(), "/run/drill", d.dir))
			continue
		}
		for _, svc := range []string{"xcatd", "isc-dhcp-server", "conserver-server", "bind9"} {
			// The LSB header update-rc.d reads to enable a service.
			lsb := strings.Replace(wrapper("/etc/init.d/"+svc, standin+" /etc/init.d/"+svc), "#!/bin/sh\n",
				"#!/bin/sh\n### BEGIN INIT INFO\n# Provides: "+svc+"\n# Default-Start: 2 3 4 5\n# Default-Stop: 0 1 6\n### END INIT INFO\n", 1)
			file("/etc/init.d/"+svc, lsb)
		}
		for _, c := range []string{"makedns", "makedhcp", "makeconservercf"} {
			file("/opt/xcat/sbin/"+c, wrapper(c, standin+" "+c))
		}
		switch d.db {
		case "postgresql":
			file("/run/drill/w/pg_ctl", wrapper("pg_ctl", "/run/drill/real/pgbin/pg_ctl"))
			b.WriteString("mount --bind " + lab.PGBinDir + " /run/drill/real/pgbin\nmount --make-private /run/drill/real/pgbin\n")
			b.WriteString("mount --bind /run/drill/w/pg_ctl " + lab.PGBinDir + "/pg_ctl\n")
		case "db2":
			bin := lab.Db2Home + "/sqllib/bin"
			file(bin+"/db2", wrapper("db2", `DB2MODEL_SESSION="${DB2MODEL_SESSION:-ppid:$PPID}" `+bin+"/db2model db2"))
		}
		d.env.Exec(d.t, host, b.String())
	}
}

// drillFile is a file of the drill's directory on host, seen from the
// machine.
func (d *drill) drillFile(host, name string) string {
	return filepath.Join(d.env.Lab.Host(host).Root, d.dir, name)
}

// fail makes every call on host matching pattern fail
// without running ("" clears it).
func (d *drill) fail(host, pattern string) {
	d.t.Helper()
	f := d.drillFile(host, "fail")
	if pattern == "" {
		os.Remove(f)
		return
	}
	if err := os.WriteFile(f, []byte(pattern), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// hold arms a hold on host: the first call matching pattern blocks before
// (where "pre") or after ("post") the real command.
func (d *drill) hold(host, where, pattern string) {
	d.t.Helper()
	if err := os.WriteFile(d.drillFile(host, "hold-"+where), []byte(pattern), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// waitHeld waits until a hold on host is reached and returns the held
// shell's pid (in host's pid namespace). ok is false if p ended first.
func (d *drill) waitHeld(p *proc, host string) (pid string, ok bool) {
	d.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(d.drillFile(host, "at")); err == nil {
			return strings.TrimSpace(string(b)), true
		}
		select {
		case <-p.done:
			return "", false
		case <-time.After(5 * time.Millisecond):
		}
	}
	d.t.Fatalf("hold on %s not reached within 2 minutes:\n%s", host, p.output())
	return "", false
}

// release lets a held call go on.
func (d *drill) release(host string) {
	d.t.Helper()
	f, err := os.OpenFile(d.drillFile(host, "gate"), os.O_WRONLY, 0)
	if err != nil {
		d.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("go\n"); err != nil {
		d.t.Fatal(err)
	}
}

// killHeld kills a held call and the remote command around it (every
// ancestor up to sshd, and their sessions): a step cut off with its
// operator's hamnflow.
func (d *drill) killHeld(host, pid string) {
	d.t.Helper()
	d.env.Exec(d.t, host, `p=`+pid+`; kill=""
while [ -n "$p" ] && [ "$p" -gt 1 ]; do
	c=$(ps -o comm= -p "$p" 2>/dev/null) || break
	case "$c" in sshd*) break ;; esac
	kill="$kill $p $(ps -e -o pid=,sid= | awk -v s="$(ps -o sid= -p "$p" | tr -d ' ')" '$2 == s && s > 1 {print $1}')"
	p=$(ps -o ppid= -p "$p" | tr -d ' ')
done
# Stop them all before killing any: a wrapper whose hold died first would
# otherwise run the held call before its own kill reaches it.
for k in $kill; do kill -STOP "$k" 2>/dev/null || true; done
for k in $kill; do kill -9 "$k" 2>/dev/null || true; done
rm -f `+d.dir+`/at `+d.dir+`/hold-pre `+d.dir+`/hold-post `+d.dir+`/hold-pre.taken `+d.dir+`/hold-post.taken`)
}

// clearHolds removes armed and taken hold files on both MNs.
func (d *drill) clearHolds() {
	for _, host := range []string{"mn1", "mn2"} {
		for _, n := range []string{"at", "hold-pre", "hold-post", "hold-pre.taken", "hold-post.taken"} {
			os.Remove(d.drillFile(host, n))
		}
	}
}

// doneLines are the wrapped calls completed on host since the log was
// cleared.
func (d *drill) doneLines(host string) []string {
	d.t.Helper()
	b, err := os.ReadFile(d.drillFile(host, "done"))
	if err != nil {
		d.t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func (d *drill) resetDone() {
	d.t.Helper()
	for _, host := range []string{"mn1", "mn2"} {
		if err := os.WriteFile(d.drillFile(host, "done"), nil, 0o666); err != nil {
			d.t.Fatal(err)
		}
	}
}

// runIDIn finds a run id in hamnflow's messages.
var runIDIn = regexp.MustCompile(`run (\d{8}-\d{6}-[0-9a-f]+)`)
