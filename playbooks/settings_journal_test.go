package playbooks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The inventory's journal: etcd settings check out with the rest, and
// are read on their own (for history, show) with TLS paths made absolute.
func TestJournalSettings(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "inventory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join("/etc/hamnflow", "inventory.yaml")
	good := string(base) + `
journal:
  etcd:
    endpoints: [mn1:2379, mn2:2379, sn1:2379]
    prefix: /hamnflow/c1/
    tls: {ca: etcd/ca.pem, cert: /etc/hamnflow/client.pem, key: /etc/hamnflow/client-key.pem}
    lease_ttl: 20s
`
	inv, err := ParseInventory(file, []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if e := inv.Journal.Etcd; e == nil || len(e.Endpoints) != 3 || e.Prefix != "/hamnflow/c1/" {
		t.Fatalf("journal settings %+v", inv.Journal)
	}
	js, err := ReadJournalSettings(file, []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if e := js.Etcd; e.TLS.CA != "/etc/hamnflow/etcd/ca.pem" || e.TLS.Key != "/etc/hamnflow/client-key.pem" {
		t.Fatalf("TLS files %+v", e.TLS)
	}
	if lease, _, _ := js.Etcd.Durations(); lease.Seconds() != 20 {
		t.Fatalf("lease %s", lease)
	}
	// None set: bbolt.
	if js, err := ReadJournalSettings(file, base); err != nil || js.Etcd != nil {
		t.Fatalf("no journal settings: %+v, %v", js, err)
	}
	// Only the journal is read: the rest need not check out.
	if js, err := ReadJournalSettings(file, []byte("cluster: x\nmode: nonsense\njournal:\n  etcd:\n    endpoints: [h:2379]\n")); err != nil || js.Etcd == nil {
		t.Fatalf("lenient read: %+v, %v", js, err)
	}
	for bad, want := range map[string]string{
		"journal:\n  etcd: {prefix: /x/}\n":                                  "name the etcd members' client addresses",
		"journal:\n  etcd:\n    endpoints: [h:1]\n    lease_ttl: soon\n":     `journal.etcd.lease_ttl "soon"`,
		"journal:\n  etcd:\n    endpoints: [h:1]\n    tls: {cert: /c.pem}\n": "give both cert and key",
		"journal:\n  etcd:\n    endpoints: [h:1]\n    lease_tll: 3s\n":       "lease_tll",
	} {
		_, err := ParseInventory(file, []byte(string(base)+"\n"+bad))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", bad, err, want)
		}
	}
}
