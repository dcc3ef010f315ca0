package remote

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

const sshdPath = "/usr/sbin/sshd"

// testSSHD is a real OpenSSH sshd listening on 127.0.0.1, started by a test.
type testSSHD struct {
	Port       int
	PID        int
	Dir        string
	ClientKey  string                   // private key authorized for every user
	KnownHosts string                   // known_hosts with the ed25519 host key only
	HostKeys   map[string]ssh.PublicKey // by type: ssh-ed25519, ecdsa-sha2-nistp256
	log        *syncBuffer
}

// startSSHD starts sshd with ed25519 and ECDSA host keys, as root, on a free
// port, and stops it when tb ends.
func startSSHD(tb testing.TB) *testSSHD {
	tb.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		tb.Fatalf("%s is missing (%v): install it with apt-get install openssh-server", sshdPath, err)
	}
	if os.Geteuid() != 0 {
		tb.Fatal("the sshd tests must run as root")
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	s := &testSSHD{Dir: dir, HostKeys: map[string]ssh.PublicKey{}, log: &syncBuffer{}}

	keygen(tb, "ed25519", filepath.Join(dir, "host_ed25519"))
	keygen(tb, "ecdsa", filepath.Join(dir, "host_ecdsa"))
	s.ClientKey = filepath.Join(dir, "id_ed25519")
	keygen(tb, "ed25519", s.ClientKey)
	for _, f := range []string{"host_ed25519", "host_ecdsa"} {
		k := readPub(tb, filepath.Join(dir, f+".pub"))
		s.HostKeys[k.Type()] = k
	}
	if err := os.Rename(s.ClientKey+".pub", filepath.Join(dir, "authorized_keys")); err != nil {
		tb.Fatal(err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	l.Close()

	s.KnownHosts = filepath.Join(dir, "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%d %s", s.Port, ssh.MarshalAuthorizedKey(s.HostKeys[ssh.KeyAlgoED25519]))
	writeFile(tb, s.KnownHosts, line)

	conf := filepath.Join(dir, "sshd_config")
	writeFile(tb, conf, fmt.Sprintf(`ListenAddress 127.0.0.1:%d
HostKey %s/host_ed25519
HostKey %s/host_ecdsa
PidFile %s/sshd.pid
AuthorizedKeysFile %s/authorized_keys
UsePAM no
StrictModes no
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
LogLevel INFO
`, s.Port, dir, dir, dir, dir))

	cmd := exec.Command(sshdPath, "-D", "-e", "-f", conf)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	s.PID = cmd.Process.Pid
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		for _, pid := range descendants(s.PID) {
			syscall.Kill(pid, syscall.SIGCONT)
			syscall.Kill(pid, syscall.SIGKILL)
		}
		syscall.Kill(s.PID, syscall.SIGKILL)
		<-exited
	})

	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port))
		if err == nil {
			c.Close()
			return s
		}
		select {
		case <-exited:
			tb.Fatalf("sshd exited: %s", s.log.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("sshd does not listen on port %d: %s", s.Port, s.log.String())
		}
	}
}

// Host returns the inventory entry for the test sshd, logging in as root.
func (s *testSSHD) Host(name string) Host {
	return Host{Name: name, Address: "127.0.0.1", Port: s.Port, User: "root", IdentityFiles: []string{s.ClientKey}}
}

// Logins counts the logins sshd accepted so far.
func (s *testSSHD) Logins() int { return strings.Count(s.log.String(), "Accepted publickey") }

// Log returns what sshd logged so far.
func (s *testSSHD) Log() string { return s.log.String() }

// SessionPIDs returns the pids of the processes sshd forked for its
// connections, and theirs, sshd processes only (not the commands).
func (s *testSSHD) SessionPIDs() []int {
	var pids []int
	for _, pid := range descendants(s.PID) {
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "sshd" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// descendants returns the pids of the children of pid, their children, and
// so on, from /proc.
func descendants(pid int) []int {
	parents := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parens.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		parents[ppid] = append(parents[ppid], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		kids := parents[queue[0]]
		queue = append(queue[1:], kids...)
		out = append(out, kids...)
	}
	return out
}

func keygen(tb testing.TB, typ, file string) {
	tb.Helper()
	out, err := exec.Command("ssh-keygen", "-q", "-t", typ, "-N", "", "-C", "hamnflow-test", "-f", file).CombinedOutput()
	if err != nil {
		tb.Fatalf("ssh-keygen: %v: %s", err, out)
	}
}

func readPub(tb testing.TB, file string) ssh.PublicKey {
	tb.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func writeFile(tb testing.TB, file, content string) {
	tb.Helper()
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
