package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/playbooks"
	"github.com/hamnflow/hamnflow/workflow"
)

// What resume, retry and rollback share: a run named by its id, rebuilt
// from the journal as it started.

func idArg(c *cli.Context, try string) (string, error) {
	if c.NArg() != 1 {
		return "", usage(try, "%s: name one run (hamnflow history lists them)", c.Command.Name)
	}
	return c.Args().First(), nil
}

// reload rebuilds a run's playbook and inventory from the journal, and
// says when the files on disk changed since.
func reload(c *cli.Context, j workflow.Store, id string) (*playbooks.Prepared, error) {
	src, err := j.Source(id)
	if err != nil {
		return nil, err
	}
	p, err := library(c).FromSource(src)
	if err != nil {
		return nil, fmt.Errorf("the playbook recorded for run %s cannot be read back: %w", id, err)
	}
	name := strings.TrimSuffix(strings.TrimPrefix(src.PlaybookPath, "builtin:"), ".yaml")
	if !strings.HasPrefix(src.PlaybookPath, "builtin:") {
		name = src.PlaybookPath
	}
	if _, now, err := library(c).Find(name); err == nil && !bytes.Equal(now, []byte(src.PlaybookText)) {
		fmt.Fprintf(c.App.ErrWriter, "note: playbook %s changed since run %s started; continuing with the version the run started with\n", src.PlaybookPath, id)
	}
	if src.InventoryPath != "" {
		if now, err := os.ReadFile(src.InventoryPath); err == nil && !bytes.Equal(now, []byte(src.InventoryText)) {
			fmt.Fprintf(c.App.ErrWriter, "note: inventory %s changed since run %s started; continuing with the version the run started with\n", src.InventoryPath, id)
		}
	}
	return p, nil
}

// onRun opens the journal, reloads the run the command names as it
// started, wires an engine for it and calls f.
func onRun(c *cli.Context, try string, f func(w *wired, id string) error) error {
	id, err := idArg(c, try)
	if err != nil {
		return err
	}
	if err := checkEngineFlags(c); err != nil {
		return err
	}
	j, err := openJournal(c)
	if err != nil {
		return err
	}
	defer j.Close()
	p, err := reload(c, j, id)
	if err != nil {
		return err
	}
	w, err := newEngine(c, j, p)
	if err != nil {
		return err
	}
	defer w.close()
	if err := w.preflight(c, p); err != nil {
		return err
	}
	return f(w, id)
}
