package main

import (
	"fmt"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/workflow"
)

func journalCommand() *cli.Command {
	return &cli.Command{
		Name:  "journal",
		Usage: "move runs between journals (a bbolt file, etcd)",
		Subcommands: []*cli.Command{{
			Name:  "copy",
			Usage: "copy runs, their sources and events to another journal, ids and seqs unchanged (e.g. hamnflow journal copy --to etcd://mn1:2379,mn2:2379,sn1:2379/hamnflow/)",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "to", Usage: "the journal to copy to: a `FILE` or etcd://HOST:2379,.../PREFIX"},
				&cli.StringFlag{Name: "from", Usage: "the journal to copy from: a `FILE` or etcd://... (default: the one hamnflow uses, see --journal)"},
				&cli.StringSliceFlag{Name: "run", Usage: "copy only run `ID` (repeat for more; default: every run)"},
				&cli.BoolFlag{Name: "skip-existing", Usage: "leave out the runs the target holds already, instead of refusing to copy"},
			},
			Action: journalCopy,
		}},
	}
}

// journalCopy copies runs from one journal to another. It refuses, before
// copying any, when a run exists in the target (unless told to skip
// those): a copy never overwrites a run.
func journalCopy(c *cli.Context) error {
	const try = "hamnflow journal copy --to etcd://mn1:2379,mn2:2379,sn1:2379/hamnflow/ [--from FILE]"
	if c.NArg() > 0 || c.String("to") == "" {
		return usage(try, "journal copy: name the journal to copy to with --to")
	}
	fromCh, err := chooseJournal(c)
	if f := c.String("from"); f != "" {
		fromCh, err = namedJournal(f, "--from")
	}
	if err != nil {
		return err
	}
	toCh, err := namedJournal(c.String("to"), "--to")
	if err != nil {
		return err
	}
	from, err := fromCh.open(c)
	if err != nil {
		return err
	}
	defer from.Close()
	to, err := toCh.open(c)
	if err != nil {
		return err
	}
	defer to.Close()
	imp, ok := to.Store.(workflow.Importer)
	if !ok {
		return fmt.Errorf("journal %s cannot take in copied runs", c.String("to"))
	}
	var ids []string
	if want := c.StringSlice("run"); len(want) > 0 {
		for _, id := range want {
			r, err := from.Run(id)
			if err != nil {
				return err
			}
			ids = append(ids, r.ID)
		}
	} else {
		runs, err := from.Runs(workflow.Filter{})
		if err != nil {
			return err
		}
		for _, r := range runs {
			ids = append(ids, r.ID)
		}
		slices.Reverse(ids) // oldest first
	}
	var copyIDs, there []string
	for _, id := range ids {
		if _, err := to.Run(id); err == nil {
			there = append(there, id)
			continue
		}
		copyIDs = append(copyIDs, id)
	}
	if len(there) > 0 && !c.Bool("skip-existing") {
		return fmt.Errorf("journal copy: the target %s holds %d of the runs already (%s); nothing was copied. A copy never overwrites a run: leave those out with --skip-existing, or name the others with --run", c.String("to"), len(there), short(there))
	}
	for _, id := range copyIDs {
		if err := workflow.CopyRun(from.Store, imp, id); err != nil {
			return fmt.Errorf("journal copy: %w (runs before it were copied; copy again with --skip-existing to go on)", err)
		}
		r, _ := to.Run(id)
		fmt.Fprintf(c.App.Writer, "copied %s (%s on %s, %s)\n", id, r.Playbook, r.Cluster, r.Status)
		if r.Status == workflow.RunRunning || r.Status == workflow.RunRollingBack {
			fmt.Fprintf(c.App.ErrWriter, "note: run %s is %s: whatever it writes from now on goes to the journal it runs on, not to the copy\n", id, r.Status)
		}
	}
	msg := fmt.Sprintf("copied %d runs to %s", len(copyIDs), c.String("to"))
	if len(there) > 0 {
		msg += fmt.Sprintf(" (%d there already left out)", len(there))
	}
	fmt.Fprintln(c.App.Writer, msg)
	return nil
}

// short lists ids, at most five.
func short(ids []string) string {
	if len(ids) > 5 {
		return fmt.Sprintf("%v and %d more", ids[:5], len(ids)-5)
	}
	return fmt.Sprint(ids)
}
