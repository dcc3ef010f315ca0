package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/journal"
	etcdjournal "github.com/hamnflow/hamnflow/journal/etcd"
	"github.com/hamnflow/hamnflow/playbooks"
	"github.com/hamnflow/hamnflow/workflow"
)

// The one place that decides which journal a command works on and opens
// it: --journal (or $HAMNFLOW_JOURNAL) as a file or an etcd:// URL, else
// the inventory's journal: etcd settings, else the bbolt file at the
// default path.

// store is an open journal.
type store struct {
	workflow.Store
	// local is the file name that a run's log (LOCAL.log) and kept output
	// (LOCAL.output/) are named after: the journal file, or for etcd the
	// default journal path's directory's etcd-journal.
	local string
	// missing says that the journal does not exist yet (a bbolt file
	// not yet created); an etcd journal is never missing.
	missing bool
	close   func() error
}

// Close closes the journal's connection, if it has one.
func (s *store) Close() error {
	if s.close == nil {
		return nil
	}
	return s.close()
}

// journalChoice is where the journal is: a file, or an etcd config.
type journalChoice struct {
	path string
	etcd *etcdjournal.Config
	from string // where the choice came from, for messages
}

// chooseJournal decides where the journal is.
func chooseJournal(c *cli.Context) (journalChoice, error) {
	if p := c.String("journal"); p != "" {
		return namedJournal(p, "--journal or $HAMNFLOW_JOURNAL")
	}
	if inv := inventoryPath(c); inv != "" {
		text, err := os.ReadFile(inv)
		if err != nil {
			return journalChoice{}, usage("hamnflow inventory check --inventory FILE", "read inventory: %v", err)
		}
		js, err := playbooks.ReadJournalSettings(inv, text)
		if err != nil {
			return journalChoice{}, err
		}
		if e := js.Etcd; e != nil {
			lease, dial, _ := e.Durations() // checked by ReadJournalSettings
			cfg := etcdjournal.Config{
				Endpoints: e.Endpoints, Prefix: e.Prefix, LeaseTTL: lease, DialTimeout: dial,
				TLS: etcdjournal.TLSFiles{CA: e.TLS.CA, Cert: e.TLS.Cert, Key: e.TLS.Key, ServerName: e.TLS.ServerName},
			}
			return journalChoice{etcd: &cfg, from: "the inventory " + inv}, nil
		}
	}
	return journalChoice{path: defaultJournalPath(), from: "the default"}, nil
}

// namedJournal is the journal a flag names: a file or an etcd:// URL.
func namedJournal(name, flag string) (journalChoice, error) {
	if etcdjournal.IsURL(name) {
		cfg, err := etcdjournal.ParseURL(name)
		if err != nil {
			return journalChoice{}, usage("hamnflow history --journal etcd://mn1:2379,mn2:2379,sn1:2379/hamnflow/", "%s: %v", flag, err)
		}
		return journalChoice{etcd: &cfg, from: flag}, nil
	}
	return journalChoice{path: name, from: flag}, nil
}

// defaultJournalPath is the bbolt journal's place when none is given.
func defaultJournalPath() string {
	if os.Geteuid() == 0 {
		return systemJournal
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "state", "hamnflow", "journal.db")
}

// openJournal opens the journal the command works on; a bbolt file is
// created if missing. Close it when done.
func openJournal(c *cli.Context) (*store, error) {
	ch, err := chooseJournal(c)
	if err != nil {
		return nil, err
	}
	return ch.open(c)
}

// open opens the chosen journal.
func (ch journalChoice) open(c *cli.Context) (*store, error) {
	if ch.etcd != nil {
		s, err := etcdjournal.Open(c.Context, *ch.etcd)
		if err != nil {
			return nil, fmt.Errorf("%w (the journal given by %s)", err, ch.from)
		}
		local := filepath.Join(filepath.Dir(defaultJournalPath()), "etcd-journal")
		return &store{Store: s, local: local, close: s.Close}, nil
	}
	j, err := journal.Open(ch.path)
	if err != nil {
		return nil, err
	}
	return &store{Store: j, local: j.Path()}, nil
}

// journalMissing says whether the journal is a file that does not exist
// yet, so that commands that only read can say "no runs yet" without
// creating it; the name is what to say is missing.
func journalMissing(c *cli.Context) (bool, string, error) {
	ch, err := chooseJournal(c)
	if err != nil || ch.etcd != nil {
		return false, "", err
	}
	_, err = os.Stat(ch.path)
	return errors.Is(err, fs.ErrNotExist), ch.path, nil
}
