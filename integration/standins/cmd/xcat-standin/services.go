package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hamnflow/hamnflow/integration/standins"
)

// service is one daemon, reachable through its init script (Linux) and
// its System Resource Controller subsystem (AIX).
type service struct {
	init   string // init script name in /etc/init.d
	src    string // AIX SRC subsystem name
	group  string // AIX SRC group
	daemon string // process name (argv[0]) and pidfile name
	ports  bool   // listens on xcatd's two ports
}

// services is fixed; nothing changes it.
var services = []service{
	{init: "xcatd", src: "xcatd", daemon: "xcatd", ports: true},
	{init: "isc-dhcp-server", src: "dhcpsd", group: "tcpip", daemon: "dhcpd"},
	{init: "conserver-server", src: "conserver", daemon: "conserver"},
	// AIX's named is an SRC subsystem of group tcpip (AIX's startsrc -s
	// named; xCAT's servicemap, perl-xCAT/xCAT/Utils.pm:4076, names it
	// named everywhere).
	{init: "bind9", src: "named", group: "tcpip", daemon: "named"},
}

func serviceByInit(name string) (service, bool) {
	for _, s := range services {
		if s.init == name {
			return s, true
		}
	}
	return service{}, false
}

func serviceByDaemon(name string) (service, bool) {
	for _, s := range services {
		if s.daemon == name {
			return s, true
		}
	}
	return service{}, false
}

func serviceBySRC(name string) (service, bool) {
	for _, s := range services {
		if s.src == name {
			return s, true
		}
	}
	return service{}, false
}

// xcatdPort is xcatd's request port; the install port is one more.
func xcatdPort() int { return envInt("XCAT_STANDIN_XCATD_PORT", standins.XcatdPort) }

func (a *app) pidfile(s service) string {
	return a.path(standins.RunDir + "/" + s.daemon + ".pid")
}

// running returns the pid of s's daemon if its pidfile names a live
// process of that name.
func (a *app) running(s service) (int, bool) {
	data, err := os.ReadFile(a.pidfile(s))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, processIs(pid, s.daemon)
}

// processIs reports whether pid is a live (not zombie) process whose
// argv[0] has base name name.
func processIs(pid int, name string) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	return filepath.Base(string(argv0)) == name
}

// xcatdUp reports whether something accepts connections on xcatd's port,
// which is how xCAT's clients find out.
func xcatdUp() bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(xcatdPort())), 2*time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// requireXcatd prints xCAT's client error and returns false when xcatd
// does not answer.
func (a *app) requireXcatd() bool {
	// XCATBYPASS runs the request in the client's process, without xcatd
	// (perl-xCAT/xCAT/Client.pm:158-204).
	if os.Getenv("XCATBYPASS") != "" || xcatdUp() {
		return true
	}
	a.errorf("Unable to open socket connection to xcatd daemon on localhost:%d. Verify that the xcatd daemon is running and that your SSL configuration is correct.", xcatdPort())
	return false
}

// ready reports whether s's daemon runs and, for xcatd, answers.
func (a *app) ready(s service) bool {
	if _, ok := a.running(s); !ok {
		return false
	}
	return !s.ports || xcatdUp()
}

// serviceLock serialises starting and stopping s (not the daemon itself,
// which takes the state lock when it checks for faults).
func (a *app) serviceLock(s service) (func(), error) {
	return lockFile(a.path(standins.RunDir + "/" + s.daemon + ".lock"))
}

// start starts s's daemon unless it runs; already tells which.
func (a *app) start(s service) (pid int, already bool, err error) {
	unlock, err := a.serviceLock(s)
	if err != nil {
		return 0, false, err
	}
	defer unlock()
	if pid, ok := a.running(s); ok {
		return pid, true, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return 0, false, err
	}
	logPath := a.path(standins.LogDir + "/" + s.daemon + ".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return 0, false, err
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return 0, false, err
	}
	defer logf.Close()
	cmd := exec.Command(exe)
	cmd.Args = []string{s.daemon}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, false, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return 0, false, fmt.Errorf("%s exited during start-up (%v); see %s", s.daemon, err, standins.LogDir+"/"+s.daemon+".log")
		case <-time.After(50 * time.Millisecond):
		}
		if a.ready(s) {
			return cmd.Process.Pid, false, nil
		}
	}
	cmd.Process.Kill()
	return 0, false, fmt.Errorf("%s did not become ready within 10s", s.daemon)
}

// stop stops s's daemon if it runs; wasRunning tells whether it did.
func (a *app) stop(s service) (wasRunning bool, err error) {
	unlock, err := a.serviceLock(s)
	if err != nil {
		return false, err
	}
	defer unlock()
	pid, ok := a.running(s)
	if !ok {
		os.Remove(a.pidfile(s))
		return false, nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return true, err
	}
	for i := 0; i < 200 && processIs(pid, s.daemon); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if processIs(pid, s.daemon) {
		syscall.Kill(pid, syscall.SIGKILL)
		for i := 0; i < 100 && processIs(pid, s.daemon); i++ {
			time.Sleep(50 * time.Millisecond)
		}
	}
	os.Remove(a.pidfile(s))
	return true, nil
}

// initScript implements /etc/init.d/<service> {start|stop|status|restart}
// with LSB exit codes: status is 0 when running and 3 when stopped; start
// and stop succeed when there is nothing to do.
func (a *app) initScript(s service) int {
	action := ""
	if len(a.args) > 0 {
		action = a.args[0]
	}
	switch action {
	case "start":
		return a.initStart(s)
	case "stop":
		return a.initStop(s)
	case "restart", "force-reload":
		if c := a.initStop(s); c != 0 {
			return c
		}
		return a.initStart(s)
	case "status":
		if pid, ok := a.running(s); ok {
			a.printf("%s service is running (pid %d)\n", s.init, pid)
			return 0
		}
		a.printf("%s service is not running\n", s.init)
		return 3
	}
	fmt.Fprintf(a.stderr, "Usage: %s/%s {start|stop|status|restart}\n", standins.InitDir, s.init)
	return 2
}

func (a *app) initStart(s service) int {
	pid, already, err := a.start(s)
	switch {
	case err != nil:
		a.printf("Starting %s: [FAILED]\n", s.init)
		fmt.Fprintf(a.stderr, "%s: %v\n", s.init, err)
		return 1
	case already:
		a.printf("%s service is already running (pid %d)\n", s.init, pid)
	default:
		a.printf("Starting %s: [  OK  ]\n", s.init)
	}
	return 0
}

func (a *app) initStop(s service) int {
	was, err := a.stop(s)
	switch {
	case err != nil:
		a.printf("Stopping %s: [FAILED]\n", s.init)
		fmt.Fprintf(a.stderr, "%s: %v\n", s.init, err)
		return 1
	case !was:
		a.printf("%s service is not running\n", s.init)
	default:
		a.printf("Stopping %s: [  OK  ]\n", s.init)
	}
	return 0
}

// daemon is the body of a stand-in daemon: xcatd listens on its two
// ports; the others just hold their pidfile until SIGTERM.
func (a *app) daemon(s service) int {
	logf := func(format string, args ...any) {
		fmt.Fprintf(a.stderr, time.Now().Format(time.RFC3339)+" "+s.daemon+"["+strconv.Itoa(os.Getpid())+"]: "+format+"\n", args...)
	}
	if pid, ok := a.running(s); ok && pid != os.Getpid() {
		logf("already running as pid %d", pid)
		return 1
	}
	var listeners []net.Listener
	if s.ports {
		host := os.Getenv("XCAT_STANDIN_XCATD_LISTEN")
		if host == "" {
			host = "0.0.0.0"
		}
		for _, port := range []int{xcatdPort(), xcatdPort() + 1} {
			l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				logf("%v", err)
				return 1
			}
			defer l.Close()
			listeners = append(listeners, l)
			go serve(l)
			logf("listening on %s", l.Addr())
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	if err := standins.WriteFileAtomic(a.pidfile(s), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		logf("%v", err)
		return 1
	}
	logf("started")
	got := <-sig
	for _, l := range listeners {
		l.Close()
	}
	if pid, _ := a.running(s); pid == os.Getpid() {
		os.Remove(a.pidfile(s))
	}
	logf("stopped by %v", got)
	return 0
}

// serve accepts connections and closes them: the stand-in's clients only
// need to know that xcatd answers.
func serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// srcServices parses "-s SUBSYSTEM" (or "-g GROUP") of the SRC commands.
func (a *app) srcServices(allowAll bool) ([]service, int) {
	opts, _, err := getopt(a.args, "s:g:ap:lT")
	if err != nil {
		fmt.Fprintf(a.stderr, "%s: %v\n", a.name, err)
		return nil, 1
	}
	var out []service
	for _, o := range opts {
		switch o.c {
		case 's':
			s, ok := serviceBySRC(o.val)
			if !ok {
				fmt.Fprintf(a.stderr, "0513-085 The %s Subsystem is not on file.\n", o.val)
				return nil, 1
			}
			out = append(out, s)
		case 'g':
			for _, s := range services {
				if s.group == o.val {
					out = append(out, s)
				}
			}
			if len(out) == 0 {
				fmt.Fprintf(a.stderr, "0513-086 The %s Group is not on file.\n", o.val)
				return nil, 1
			}
		case 'a':
			if allowAll {
				out = append(out, services...)
			}
		}
	}
	if len(out) == 0 {
		fmt.Fprintf(a.stderr, "Usage: %s {-a|-g Group|-s Subsystem}\n", a.name)
		return nil, 1
	}
	return out, 0
}

// startsrc starts SRC subsystems as AIX does: starting an active one is
// an error (0513-029).
func (a *app) startsrc() int {
	svcs, code := a.srcServices(false)
	if code != 0 {
		return code
	}
	for _, s := range svcs {
		pid, already, err := a.start(s)
		switch {
		case err != nil:
			fmt.Fprintf(a.stderr, "0513-001 The %s Subsystem could not be started: %v\n", s.src, err)
			code = 1
		case already:
			fmt.Fprintf(a.stderr, "0513-029 The %s Subsystem is already active.\nMultiple instances are not supported.\n", s.src)
			code = 1
		default:
			a.printf("0513-059 The %s Subsystem has been started. Subsystem PID is %d.\n", s.src, pid)
		}
	}
	return code
}

// stopsrc stops SRC subsystems as AIX does: stopping an inoperative one
// is an error (0513-004).
func (a *app) stopsrc() int {
	svcs, code := a.srcServices(false)
	if code != 0 {
		return code
	}
	for _, s := range svcs {
		was, err := a.stop(s)
		switch {
		case err != nil:
			fmt.Fprintf(a.stderr, "0513-003 The %s Subsystem could not be stopped: %v\n", s.src, err)
			code = 1
		case !was:
			fmt.Fprintf(a.stderr, "0513-004 The Subsystem or Group, %s, is currently inoperative.\n", s.src)
			code = 1
		default:
			a.printf("0513-044 The %s Subsystem was requested to stop.\n", s.src)
		}
	}
	return code
}

// lssrc prints AIX's subsystem status table.
func (a *app) lssrc() int {
	svcs, code := a.srcServices(true)
	if code != 0 {
		return code
	}
	a.printf("%-18s%-17s%-13s%s\n", "Subsystem", "Group", "PID", "Status")
	for _, s := range svcs {
		if pid, ok := a.running(s); ok {
			a.printf(" %-17s%-17s%-13d%s\n", s.src, s.group, pid, "active")
		} else {
			a.printf(" %-17s%-17s%-13s%s\n", s.src, s.group, "", "inoperative")
		}
	}
	return 0
}
