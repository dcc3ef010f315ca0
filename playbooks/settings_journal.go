package playbooks

import (
	"fmt"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/hamnflow/hamnflow/workflow"
)

// JournalSettings say where the cluster's runs are journaled. None set:
// the bbolt file on the host that runs hamnflow (the default).
type JournalSettings struct {
	Etcd *EtcdJournal `yaml:"etcd,omitempty"`
}

// EtcdJournal is a journal on etcd, shared by every operator host that
// reaches it, with a lease-backed cluster lock.
type EtcdJournal struct {
	Endpoints []string `yaml:"endpoints"`        // host:port of each member
	Prefix    string   `yaml:"prefix,omitempty"` // default /hamnflow/
	TLS       struct {
		CA         string `yaml:"ca,omitempty"`
		Cert       string `yaml:"cert,omitempty"`
		Key        string `yaml:"key,omitempty"`
		ServerName string `yaml:"server_name,omitempty"`
	} `yaml:"tls,omitempty"`
	LeaseTTL    string `yaml:"lease_ttl,omitempty"`    // e.g. 15s (the default)
	DialTimeout string `yaml:"dial_timeout,omitempty"` // e.g. 5s (the default)
}

// Durations parses the lease TTL and dial timeout (zero: the default).
func (e *EtcdJournal) Durations() (lease, dial time.Duration, err error) {
	parse := func(name, s string) (time.Duration, error) {
		if s == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("journal.etcd.%s %q: give a duration such as 15s", name, s)
		}
		return d, nil
	}
	if lease, err = parse("lease_ttl", e.LeaseTTL); err != nil {
		return
	}
	dial, err = parse("dial_timeout", e.DialTimeout)
	return
}

// checkJournal checks the journal settings.
func (inv *Inventory) checkJournal(add func(path, format string, a ...any)) {
	e := inv.Journal.Etcd
	if e == nil {
		return
	}
	if len(e.Endpoints) == 0 {
		add("$.journal.etcd", "journal.etcd: name the etcd members' client addresses in endpoints, e.g. [mn1:2379, mn2:2379, sn1:2379]")
	}
	if (e.TLS.Cert == "") != (e.TLS.Key == "") {
		add("$.journal.etcd.tls", "journal.etcd.tls: give both cert and key (the client's certificate and its key), or neither")
	}
	if _, _, err := e.Durations(); err != nil {
		add("$.journal.etcd", "%v", err)
	}
}

// ReadJournalSettings reads only the journal settings of an inventory,
// with its TLS file names made absolute, without checking the rest: the
// journal must open for history and show even where the rest of the
// inventory does not check out.
func ReadJournalSettings(file string, text []byte) (JournalSettings, error) {
	var doc struct {
		Journal JournalSettings `yaml:"journal"`
	}
	if err := workflow.CheckYAMLBounds(file, "an inventory", text); err != nil {
		return JournalSettings{}, err
	}
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return JournalSettings{}, workflow.Diagnostics{yamlDiag(file, err)}
	}
	if e := doc.Journal.Etcd; e != nil {
		inv := &Inventory{file: file}
		e.TLS.CA, e.TLS.Cert, e.TLS.Key = inv.path(e.TLS.CA), inv.path(e.TLS.Cert), inv.path(e.TLS.Key)
		if _, _, err := e.Durations(); err != nil {
			return JournalSettings{}, fmt.Errorf("%s: %w", file, err)
		}
	}
	return doc.Journal, nil
}
