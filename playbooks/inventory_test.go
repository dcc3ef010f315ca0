package playbooks

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/workflow"
)

const goodInventory = `cluster: c1
mode: floating
cluster_address: 198.51.100.10
prefix: 24
gateway: 198.51.100.1
primary: mn1
standby: mn2
database:
  type: postgresql
  method: streaming
  bin_dir: /usr/lib/postgresql/15/bin
  data_dir: /var/lib/postgresql/15/main
hosts:
  mn1: {address: 198.51.100.11, interface: eth0}
  mn2: {address: 198.51.100.12, interface: eth0}
  sn01: {address: sn01.cluster}
groups:
  service_nodes: [sn01]
secrets:
  pg_password: {file: /etc/hamnflow/pg_password}
`

func TestParseInventoryGood(t *testing.T) {
	inv, err := ParseInventory("inv.yaml", []byte(goodInventory))
	if err != nil {
		t.Fatal(err)
	}
	if inv.InstallDir != "/install" {
		t.Errorf("installdir default = %q, want /install", inv.InstallDir)
	}
	d := inv.Data()
	if got := d["netmask"]; got != "255.255.255.0" {
		t.Errorf("netmask = %v", got)
	}
	if got := d["primary"].(map[string]any)["address"]; got != "198.51.100.11" {
		t.Errorf("primary address = %v", got)
	}
	if got := d["groups"].(map[string]any)["service_nodes"].([]any); len(got) != 1 || got[0] != "sn01" {
		t.Errorf("service_nodes = %v", got)
	}
}

// TestParseInventoryErrors checks each problem's message and line: an
// operator must find it in the file from the message alone.
func TestParseInventoryErrors(t *testing.T) {
	tests := []struct {
		name, from, to string
		line           int
		want           string
	}{
		{"unknown key", "gateway: 198.51.100.1\n", "gateway: 198.51.100.1\npasword: x\n", 6, `unknown field "pasword"`},
		{"mode", "mode: floating", "mode: flaoting", 2, `mode "flaoting": use identity`},
		{"cluster address", "cluster_address: 198.51.100.10", "cluster_address: 198.51.100.300", 3, `cluster_address "198.51.100.300" is not an IP address`},
		{"prefix", "prefix: 24", "prefix: 33", 4, "prefix 33: give the cluster network's prefix length"},
		{"primary not a host", "primary: mn1", "primary: mn9", 6, `primary "mn9" is not in hosts`},
		{"same MN twice", "standby: mn2", "standby: mn1", 7, `standby and primary are both "mn1"`},
		{"MN without interface", "mn2: {address: 198.51.100.12, interface: eth0}", "mn2: {address: 198.51.100.12}", 15, "management node mn2: give its cluster-facing interface"},
		{"bad address", "sn01: {address: sn01.cluster}", "sn01: {address: 'sn 01'}", 16, `host sn01: address "sn 01" is neither`},
		{"group member", "service_nodes: [sn01]", "service_nodes: [sn01, sn02]", 18, `group service_nodes: "sn02" is not in hosts`},
		{"database type", "type: postgresql", "type: oracle", 9, `database type "oracle": use postgresql, mysql, sqlite or db2`},
		{"pg method", "method: streaming", "method: logical", 10, `database method "logical": use streaming`},
		{"secret in clear", "pg_password: {file: /etc/hamnflow/pg_password}", "pg_password: {file: /x, env: PGPW}", 20, "secret pg_password: give exactly one of env: VARIABLE or file: PATH"},
		{"two hosts, one address", "sn01: {address: sn01.cluster}", "sn01: {address: 198.51.100.12}", 16, "hosts mn2 and sn01 have the same address 198.51.100.12: give each host its own"},
		{"two hosts, one name", "sn01: {address: sn01.cluster}", "sn01: {address: sn01.cluster}\n  sn02: {address: SN01.cluster}", 17, "hosts sn01 and sn02 have the same address SN01.cluster"},
		{"a group lists a host twice", "service_nodes: [sn01]", "service_nodes: [sn01, sn01]", 18, "group service_nodes lists sn01 twice"},
		{"floating address is an MN's own", "cluster_address: 198.51.100.10", "cluster_address: 198.51.100.11", 3, "cluster_address 198.51.100.11 is the own address of mn1: in floating mode"},
		{"IPv6 cluster address, IPv4 MNs", "cluster_address: 198.51.100.10", "cluster_address: 2001:db8::10", 3, "cluster_address 2001:db8::10 and mn1's address 198.51.100.11 are not of one IP version"},
		{"five-part address", "sn01: {address: sn01.cluster}", "sn01: {address: 1.2.3.4.5}", 16, `host sn01: address "1.2.3.4.5" is neither an IP address nor a host name`},
		{"cluster address off the MNs' subnet", "cluster_address: 198.51.100.10", "cluster_address: 203.0.113.10", 3, "cluster_address 203.0.113.10 is not in the subnet of mn1 (198.51.100.11/24)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.Replace(goodInventory, tt.from, tt.to, 1)
			if text == goodInventory {
				t.Fatalf("test case does not change the inventory: %q", tt.from)
			}
			_, err := ParseInventory("inv.yaml", []byte(text))
			var diags workflow.Diagnostics
			if !errors.As(err, &diags) {
				t.Fatalf("want diagnostics, got %v", err)
			}
			for _, d := range diags {
				if strings.Contains(d.Msg, tt.want) {
					if d.File != "inv.yaml" || d.Line != tt.line {
						t.Errorf("%q reported at %s:%d, want inv.yaml:%d", tt.want, d.File, d.Line, tt.line)
					}
					return
				}
			}
			t.Errorf("no diagnostic says %q; got:\n%v", tt.want, err)
		})
	}
}

func TestSecretsNeverInInventory(t *testing.T) {
	inv, err := ParseInventory("inv.yaml", []byte(goodInventory+"  db2_password: {env: HAMNFLOW_TEST_DB2PW}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := NewSecrets(inv)
	t.Setenv("HAMNFLOW_TEST_DB2PW", "s3cret")
	if v, err := s.Secret("db2_password"); err != nil || v != "s3cret" {
		t.Errorf("env secret = %q, %v", v, err)
	}
	if _, err := s.Secret("nope"); err == nil || !strings.Contains(err.Error(), "not declared") {
		t.Errorf("undeclared secret: %v", err)
	}
	if _, err := s.Secret("pg_password"); err == nil || !strings.Contains(err.Error(), "/etc/hamnflow/pg_password") {
		t.Errorf("missing secret file should name it: %v", err)
	}
}

func TestSecretFileChecks(t *testing.T) {
	dir := t.TempDir()
	write := func(name, value string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(dir, name), mode)
	}
	write("ok", "hunter22\n", 0o600)
	write("open", "hunter22\n", 0o644)
	write("short", "x\n", 0o600)
	text := goodInventory + "  a: {file: ok}\n  b: {file: open}\n  c: {file: short}\n"
	inv, err := ParseInventory(filepath.Join(dir, "inv.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	s := NewSecrets(inv)
	if v, err := s.Secret("a"); err != nil || v != "hunter22" {
		t.Errorf("a = %q, %v", v, err)
	}
	if _, err := s.Secret("b"); err == nil || !strings.Contains(err.Error(), "can be read by others (mode 644): chmod 600 "+filepath.Join(dir, "open")) {
		t.Errorf("a 0644 secret file: %v", err)
	}
	if _, err := s.Secret("c"); err == nil || !strings.Contains(err.Error(), `secret "c" has 1 characters: give one of at least 4`) {
		t.Errorf("a one-character secret: %v", err)
	}
}

// TestInventoryBounds (issue 16, finding 5): a deeply nested or huge
// inventory is refused before the YAML parser's quadratic work.
func TestInventoryBounds(t *testing.T) {
	deep := goodInventory + "x: " + strings.Repeat("[", 200000) + strings.Repeat("]", 200000) + "\n"
	if _, err := ParseInventory("inv.yaml", []byte(deep)); err == nil || !strings.Contains(err.Error(), "inv.yaml:21: nested more than 64 levels deep") {
		t.Errorf("deep inventory: %v", err)
	}
	big := goodInventory + "# " + strings.Repeat("x", 2<<20) + "\n"
	if _, err := ParseInventory("inv.yaml", []byte(big)); err == nil || !strings.Contains(err.Error(), "bytes: an inventory may be at most 1048576 (1 MiB)") {
		t.Errorf("big inventory: %v", err)
	}
}

// TestFindUnknownReadsNoFile (issue 16, finding 5): an unknown playbook
// name is answered from the file names of --playbook-dir: no file there is
// read or parsed (here a fifo nobody writes to would hang a reader).
func TestFindUnknownReadsNoFile(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "mine.yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := Library{Dir: dir}.Find("nosuch")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), `no playbook "nosuch": give a file path or one of: `) || !strings.Contains(err.Error(), "mine") {
			t.Errorf("Find: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Find of an unknown name read the files of the playbook directory")
	}
}
