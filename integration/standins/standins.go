// Package standins installs stand-ins for xCAT's and AIX's commands on the
// hosts of hamnflow's lab, and reads back what they recorded.
//
// xCAT and AIX are not packaged for Debian, so each lab host gets one
// multi-call program (cmd/xcat-standin) under /opt/xcat/standin, reached
// through symlinks named like the real commands (lsdef, nim, mktcpip, ...)
// and through LSB init scripts in /etc/init.d. Every invocation appends one
// JSON line to /opt/xcat/var/calls.log; ReadCalls parses that log.
//
// All paths in this package are paths inside a host. Functions taking a
// root join it in front of them, so that the lab can reach a host's files
// from outside (root is the directory the host sees as /).
package standins

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Paths inside a host, shared by Install and the stand-in program.
const (
	StandinDir  = "/opt/xcat/standin"               // holds the program itself
	StandinExe  = StandinDir + "/xcat-standin"      // the multi-call binary
	XCATBinDir  = "/opt/xcat/bin"                   // lsdef, mkdef, ...
	XCATSbinDir = "/opt/xcat/sbin"                  // xcatd, makedns, ...
	AIXBinDir   = "/opt/aix/bin"                    // mktcpip, nim, lsnim, ...
	NIMMethods  = "/opt/aix/nim/methods"            // m_mkspot
	InitDir     = "/etc/init.d"                     // LSB init scripts
	VarDir      = "/opt/xcat/var"                   // all state of the stand-ins
	RunDir      = VarDir + "/run"                   // pidfiles
	LogDir      = VarDir + "/log"                   // daemon logs
	CallLog     = VarDir + "/calls.log"             // one JSON line per invocation
	FaultsFile  = VarDir + "/faults.json"           // optional fault rules
	OSImages    = VarDir + "/osimages"              // osimage definitions (xCAT stanza file)
	NodesJSON   = VarDir + "/nodes.json"            // node table when there is no cfgloc
	NIMState    = VarDir + "/nim.json"              // NIM master and objects
	LockFile    = VarDir + "/.lock"                 // serialises state updates
	CfgLoc      = "/etc/xcat/cfgloc"                // xCAT's database location
	XcatdPort   = 3001                              // xcatd's request port (3002: install port)
	RootEnv     = "XCAT_STANDIN_ROOT"               // test-only: prefix for all host paths
	relStandin  = "../standin/xcat-standin"         // symlink target from /opt/xcat/{bin,sbin}
	relFromAIX  = "../../xcat/standin/xcat-standin" // symlink target from /opt/aix/bin
	relFromMeth = "../../../xcat/standin/xcat-standin"
)

// Command names installed as symlinks to the stand-in program.
var (
	XCATBinCommands  = []string{"lsdef", "mkdef", "chdef", "rmdef", "nodels", "tabdump"}
	XCATSbinCommands = []string{"xcatd", "makedns", "makedhcp", "makeconservercf", "makegocons", "nodeset", "nimnodeset", "mkdsklsnode", "dumpxCATdb"}
	AIXCommands      = []string{"mktcpip", "nim", "lsnim", "nim_master_setup", "startsrc", "stopsrc", "lssrc", "lsitab", "mkitab", "rmitab"}
	InitScripts      = []string{"xcatd", "isc-dhcp-server", "conserver-server", "bind9"}
)

// Call is one recorded invocation of a stand-in.
type Call struct {
	Time    time.Time `json:"time"`    // when the call started
	Host    string    `json:"host"`    // hostname inside the host's UTS namespace, at start
	Command string    `json:"command"` // e.g. "lsdef", "nim", "/etc/init.d/xcatd", "xcatd" (the daemon)
	Args    []string  `json:"args"`    // arguments, without the command name
	User    string    `json:"user"`    // effective user's name (uid number if unknown)
	Exit    int       `json:"exit"`    // final exit code
}

// Fault makes matching calls fail instead of running. Faults live as a JSON
// array in /opt/xcat/var/faults.json; the first matching rule wins.
type Fault struct {
	Command     string `json:"command"`                // command name as recorded in Call.Command (or its base name)
	ArgsContain string `json:"args_contain,omitempty"` // substring of the space-joined arguments; empty matches all
	Exit        *int   `json:"exit,omitempty"`         // exit code; absent means 1
	Stdout      string `json:"stdout,omitempty"`       // printed as is
	Stderr      string `json:"stderr,omitempty"`       // printed as is (a newline is added if missing)
	Times       int    `json:"times,omitempty"`        // fire this many times, then the rule is removed; 0 = always
	Note        string `json:"note,omitempty"`         // free text for the test's reader
}

// ExitCode is the exit code the fault produces.
func (f Fault) ExitCode() int {
	if f.Exit == nil {
		return 1
	}
	return *f.Exit
}

// ReadCalls returns the calls recorded in root's call log, oldest first.
// A host without a log has no calls.
func ReadCalls(root string) ([]Call, error) {
	data, err := os.ReadFile(filepath.Join(root, CallLog))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseCalls(bytes.NewReader(data))
}

// ParseCalls parses a call log (JSON lines).
func ParseCalls(r io.Reader) ([]Call, error) {
	var calls []Call
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var c Call
		if err := json.Unmarshal(line, &c); err != nil {
			return calls, fmt.Errorf("call log line %d: %w", n, err)
		}
		calls = append(calls, c)
	}
	return calls, sc.Err()
}

// WriteFaults replaces root's fault rules; no rules removes the file.
func WriteFaults(root string, rules []Fault) error {
	p := filepath.Join(root, FaultsFile)
	if len(rules) == 0 {
		err := os.Remove(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	data, err := json.MarshalIndent(rules, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(p, append(data, '\n'), 0o644)
}

// ReadFaults returns root's fault rules (none if there is no file).
func ReadFaults(root string) ([]Fault, error) {
	data, err := os.ReadFile(filepath.Join(root, FaultsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rules []Fault
	if err := json.Unmarshal(data, &rules); err != nil {
		return nil, fmt.Errorf("%s: %w", FaultsFile, err)
	}
	return rules, nil
}

// WriteFileAtomic writes data to a temporary file beside path, syncs it
// and renames it over path, creating parent directories as needed.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
