package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/journal"
	"github.com/hamnflow/hamnflow/playbooks"
	"github.com/hamnflow/hamnflow/steps"
	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/workflow"
)

func setFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "set", Usage: "give a playbook parameter: `NAME=VALUE` (repeatable)"}
}

func checker(p *playbooks.Prepared) workflow.Checker {
	var secrets workflow.Secrets = noSecrets{}
	if p.Inventory != nil {
		secrets = playbooks.NewSecrets(p.Inventory)
	}
	return workflow.Checker{Actions: steps.Actions(&act.Env{}, p.Inventory.StepsConfig()), Funcs: steps.Funcs(), Secrets: secrets}
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "start a run of a playbook (e.g. hamnflow run failover)",
		ArgsUsage: "PLAYBOOK",
		Flags:     append([]cli.Flag{setFlag()}, engineFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("usage: hamnflow run PLAYBOOK [--set NAME=VALUE ...]", exitBadInput)
			}
			p, err := prepare(c, c.Args().First())
			if err != nil {
				return err
			}
			if diags := checker(p).Validate(p.Playbook, p.Data); len(diags) > 0 {
				return diags
			}
			j, err := openJournal(c)
			if err != nil {
				return err
			}
			w := newEngine(c, j, p)
			defer w.close()
			p.Source.Options = map[string]string{"parallel": fmt.Sprint(c.Int("parallel"))}
			cluster := "local"
			if p.Inventory != nil {
				cluster = p.Inventory.Cluster
			}
			id, err := w.engine.Start(c.Context, p.Playbook, p.Source, p.Data, cluster)
			return finish(c, id, err)
		},
	}
}

// finish prints the run's outcome line for people and scripts.
func finish(c *cli.Context, id string, err error) error {
	if id != "" && err == nil {
		fmt.Fprintf(c.App.Writer, "run %s succeeded\n", id)
	}
	return err
}

func idArg(c *cli.Context, usage string) (string, error) {
	if c.NArg() != 1 {
		return "", cli.Exit("usage: "+usage, exitBadInput)
	}
	return c.Args().First(), nil
}

// reload rebuilds a run's playbook and inventory from the journal, and
// says when the files on disk changed since.
func reload(c *cli.Context, j *journal.Journal, id string) (*playbooks.Prepared, error) {
	src, err := j.Source(id)
	if err != nil {
		return nil, err
	}
	p, err := (playbooks.Library{Dir: c.String("playbook-dir")}).FromSource(src)
	if err != nil {
		return nil, fmt.Errorf("the playbook recorded for run %s no longer parses: %w", id, err)
	}
	name := strings.TrimSuffix(strings.TrimPrefix(src.PlaybookPath, "builtin:"), ".yaml")
	if !strings.HasPrefix(src.PlaybookPath, "builtin:") {
		name = src.PlaybookPath
	}
	if _, now, err := (playbooks.Library{Dir: c.String("playbook-dir")}).Find(name); err == nil && !bytes.Equal(now, []byte(src.PlaybookText)) {
		fmt.Fprintf(c.App.ErrWriter, "note: playbook %s changed since run %s started; continuing with the version the run started with\n", src.PlaybookPath, id)
	}
	if src.InventoryPath != "" {
		if now, err := os.ReadFile(src.InventoryPath); err == nil && !bytes.Equal(now, []byte(src.InventoryText)) {
			fmt.Fprintf(c.App.ErrWriter, "note: inventory %s changed since run %s started; continuing with the version the run started with\n", src.InventoryPath, id)
		}
	}
	return p, nil
}

func decisionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "assume-done", Usage: "an in-doubt `STEP` whose effect you checked is in place (repeatable)"},
		&cli.StringSliceFlag{Name: "redo", Usage: "an in-doubt `STEP` to run again (repeatable)"},
	}
}

// onRun opens the journal, reloads run RUN-ID (the command's argument) as
// it started, wires an engine for it and calls f.
func onRun(c *cli.Context, usage string, f func(w *wired, id string) error) error {
	id, err := idArg(c, usage)
	if err != nil {
		return err
	}
	j, err := openJournal(c)
	if err != nil {
		return err
	}
	p, err := reload(c, j, id)
	if err != nil {
		return err
	}
	w := newEngine(c, j, p)
	defer w.close()
	return f(w, id)
}

func resumeCommand() *cli.Command {
	return &cli.Command{
		Name:      "resume",
		Usage:     "continue a run that failed, was interrupted or killed, or waits for an operator",
		ArgsUsage: "RUN-ID",
		Flags:     append(decisionFlags(), engineFlags()...),
		Action: func(c *cli.Context) error {
			return onRun(c, "hamnflow resume RUN-ID [--assume-done STEP] [--redo STEP]", func(w *wired, id string) error {
				err := w.engine.Resume(c.Context, id, workflow.ResumeOptions{AssumeDone: c.StringSlice("assume-done"), Redo: c.StringSlice("redo")})
				return finish(c, id, err)
			})
		},
	}
}

func retryCommand() *cli.Command {
	return &cli.Command{
		Name:      "retry",
		Usage:     "run a step of a run again, and everything downstream of it",
		ArgsUsage: "RUN-ID --from STEP",
		Flags:     append([]cli.Flag{&cli.StringFlag{Name: "from", Required: true, Usage: "the `STEP` to run again"}}, engineFlags()...),
		Action: func(c *cli.Context) error {
			return onRun(c, "hamnflow retry RUN-ID --from STEP", func(w *wired, id string) error {
				return finish(c, id, w.engine.Retry(c.Context, id, c.String("from")))
			})
		},
	}
}

func rollbackCommand() *cli.Command {
	return &cli.Command{
		Name:      "rollback",
		Usage:     "undo a run's steps, latest first; run again to continue an interrupted rollback",
		ArgsUsage: "RUN-ID",
		Flags:     append(append([]cli.Flag{&cli.StringFlag{Name: "to", Usage: "unwind only what came after `STEP`"}}, decisionFlags()...), engineFlags()...),
		Action: func(c *cli.Context) error {
			return onRun(c, "hamnflow rollback RUN-ID [--to STEP]", func(w *wired, id string) error {
				err := w.engine.Rollback(c.Context, id, workflow.RollbackOptions{
					To: c.String("to"), AssumeDone: c.StringSlice("assume-done"), Redo: c.StringSlice("redo"),
				})
				if err == nil {
					fmt.Fprintf(c.App.Writer, "run %s rolled back\n", id)
				}
				return err
			})
		},
	}
}

func outputFlag() cli.Flag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "text or json"}
}

func historyCommand() *cli.Command {
	return &cli.Command{
		Name:  "history",
		Usage: "list runs, newest first",
		Flags: []cli.Flag{
			outputFlag(),
			&cli.StringFlag{Name: "playbook", Usage: "only runs of this playbook"},
			&cli.StringFlag{Name: "cluster", Usage: "only runs on this cluster"},
			&cli.StringFlag{Name: "status", Usage: "only runs with this status (running, succeeded, failed, interrupted, waiting, rolled-back, ...)"},
			&cli.DurationFlag{Name: "since", Usage: "only runs started within this `DURATION` (e.g. 24h)"},
			&cli.IntFlag{Name: "limit", Value: 20, Usage: "at most `N` runs (0: all)"},
		},
		Action: func(c *cli.Context) error {
			if _, err := os.Stat(journalPath(c)); errors.Is(err, fs.ErrNotExist) {
				// Nothing has run yet: say so without creating a journal.
				if c.String("output") == "json" {
					return writeJSON(c, []workflow.Run{})
				}
				fmt.Fprintf(c.App.ErrWriter, "no runs yet: %s does not exist\n", journalPath(c))
				return nil
			}
			j, err := openJournal(c)
			if err != nil {
				return err
			}
			f := workflow.Filter{Playbook: c.String("playbook"), Cluster: c.String("cluster"), Status: workflow.RunStatus(c.String("status")), Limit: c.Int("limit")}
			if d := c.Duration("since"); d > 0 {
				f.Since = time.Now().Add(-d)
			}
			runs, err := j.Runs(f)
			if err != nil {
				return err
			}
			if c.String("output") == "json" {
				return writeJSON(c, runs)
			}
			w := bufio.NewWriter(c.App.Writer) // one write, not one per cell
			writeHistory(w, runs, time.Now())
			return w.Flush()
		},
	}
}

func showCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show a run: its steps with durations, outputs and who confirmed what",
		ArgsUsage: "RUN-ID",
		Flags:     []cli.Flag{outputFlag(), &cli.BoolFlag{Name: "events", Usage: "list every journal event"}},
		Action: func(c *cli.Context) error {
			id, err := idArg(c, "hamnflow show RUN-ID")
			if err != nil {
				return err
			}
			j, err := openJournal(c)
			if err != nil {
				return err
			}
			run, err := j.Run(id)
			if err != nil {
				return err
			}
			evs, err := j.Events(run.ID)
			if err != nil {
				return err
			}
			sum := workflow.Summarize(evs)
			if c.String("output") == "json" {
				return writeJSON(c, struct {
					Run    workflow.Run           `json:"run"`
					Steps  []workflow.StepSummary `json:"steps"`
					Events []workflow.Event       `json:"events"`
				}{run, sum, evs})
			}
			w := bufio.NewWriter(c.App.Writer)
			writeShow(w, run, sum, evs, c.Bool("events"))
			return w.Flush()
		},
	}
}

func writeJSON(c *cli.Context, v any) error {
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func planCommand() *cli.Command {
	return &cli.Command{
		Name:      "plan",
		Usage:     "print a playbook's steps in order with their exact commands; nothing runs",
		ArgsUsage: "PLAYBOOK",
		Flags:     []cli.Flag{setFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("usage: hamnflow plan PLAYBOOK", exitBadInput)
			}
			p, err := prepare(c, c.Args().First())
			if err != nil {
				return err
			}
			ck := checker(p)
			if diags := ck.Validate(p.Playbook, p.Data); len(diags) > 0 {
				return diags
			}
			plan, err := ck.Plan(p.Playbook, p.Data)
			if err != nil {
				return err
			}
			writePlan(c.App.Writer, p.Playbook, plan)
			return nil
		},
	}
}

func graphCommand() *cli.Command {
	return &cli.Command{
		Name:      "graph",
		Usage:     "print a playbook's DAG as Graphviz DOT or Mermaid",
		ArgsUsage: "PLAYBOOK",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "format", Value: "dot", Usage: "dot or mermaid"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("usage: hamnflow graph PLAYBOOK [--format dot|mermaid]", exitBadInput)
			}
			file, text, err := playbooks.Library{Dir: c.String("playbook-dir")}.Find(c.Args().First())
			if err != nil {
				return cli.Exit(err.Error(), exitBadInput)
			}
			pb, err := workflow.Parse(file, text)
			if err != nil {
				return err
			}
			switch c.String("format") {
			case "dot":
				fmt.Fprint(c.App.Writer, workflow.DOT(pb))
			case "mermaid":
				fmt.Fprint(c.App.Writer, workflow.Mermaid(pb))
			default:
				return cli.Exit("--format: use dot or mermaid", exitBadInput)
			}
			return nil
		},
	}
}

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check playbooks (files or built-in names) and report every problem with file:line",
		ArgsUsage: "PLAYBOOK...",
		Flags:     []cli.Flag{setFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.Exit("usage: hamnflow validate PLAYBOOK...", exitBadInput)
			}
			given, err := parseSets(c.StringSlice("set"))
			if err != nil {
				return err
			}
			var all workflow.Diagnostics
			var other []error
			lib := playbooks.Library{Dir: c.String("playbook-dir")}
			for _, name := range c.Args().Slice() {
				file, text, err := lib.Find(name)
				if err != nil {
					other = append(other, err)
					continue
				}
				// Without an inventory, a sample one that has every field
				// stands in, and any secret is accepted.
				inv, sample := playbooks.SampleInventory(), true
				if path := inventoryPath(c); path != "" {
					if inv, _, err = playbooks.LoadInventory(path); err != nil {
						other = append(other, err)
						continue
					}
					sample = false
				}
				p, err := lib.Compose(file, text, inv, given)
				diags := workflow.AsDiagnostics(err)
				if err != nil && diags == nil {
					other = append(other, err)
					continue
				}
				all = append(all, diags...)
				if p != nil && missingParams(diags) {
					// Parameters without a value stop a run, not the
					// check: check the rest with stand-in values.
					vals := maps.Clone(given)
					for _, prm := range p.Playbook.Params {
						if _, ok := vals[prm.Name]; !ok && prm.Default == nil {
							vals[prm.Name] = "PARAM-" + prm.Name
						}
					}
					p, _ = lib.Compose(file, text, inv, vals)
				}
				if p == nil {
					continue
				}
				ck := checker(p)
				if sample {
					ck.Secrets = anySecret{}
				}
				vd := ck.Validate(p.Playbook, p.Data)
				all = append(all, vd...)
				if len(diags) == 0 && len(vd) == 0 {
					fmt.Fprintf(c.App.Writer, "%s: ok (%d steps)\n", p.Playbook.File, len(p.Playbook.Steps))
				}
			}
			if len(other) > 0 {
				return errors.Join(append(other, error(all))...)
			}
			if len(all) > 0 {
				return all
			}
			return nil
		},
	}
}

// anySecret stands in for an inventory's secrets when validating without one.
type anySecret struct{}

func (anySecret) Has(string) bool               { return true }
func (anySecret) Secret(string) (string, error) { return "secret", nil }

// missingParams says whether a parameter without a value is among diags.
func missingParams(diags workflow.Diagnostics) bool {
	for _, d := range diags {
		if strings.Contains(d.Msg, "has no value: give it with --set") {
			return true
		}
	}
	return false
}

func playbooksCommand() *cli.Command {
	return &cli.Command{
		Name:  "playbooks",
		Usage: "list the playbooks hamnflow knows (built-in, and overrides from --playbook-dir)",
		Action: func(c *cli.Context) error {
			for _, i := range (playbooks.Library{Dir: c.String("playbook-dir")}).List() {
				origin := ""
				if i.Origin != "built-in" {
					origin = "  [" + i.Origin + "]"
				}
				fmt.Fprintf(c.App.Writer, "%-16s %s%s\n", i.Name, i.Description, origin)
			}
			return nil
		},
	}
}

func inventoryCommand() *cli.Command {
	return &cli.Command{
		Name:  "inventory",
		Usage: "work with the cluster inventory",
		Subcommands: []*cli.Command{{
			Name:  "check",
			Usage: "validate the inventory (file:line errors); with --remote also reach every host over SSH",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "remote", Usage: "also connect to every host and check what can be checked there"}, &cli.BoolFlag{Name: "accept-new-host-keys"}},
			Action: func(c *cli.Context) error {
				path := inventoryPath(c)
				if path == "" {
					return cli.Exit("no inventory: give --inventory FILE or set $HAMNFLOW_INVENTORY", exitBadInput)
				}
				inv, _, err := playbooks.LoadInventory(path)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "%s: ok: cluster %s, %d hosts, primary %s, standby %s, database %s, mode %s\n",
					path, inv.Cluster, len(inv.Hosts), inv.Primary, inv.Standby, inv.Database.Type, inv.Mode)
				if !c.Bool("remote") {
					return nil
				}
				return checkRemote(c, inv)
			},
		}},
	}
}

func manCommand() *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the man page (roff) generated from the commands",
		Hidden: false,
		Action: func(c *cli.Context) error {
			m, err := c.App.ToMan()
			if err != nil {
				return err
			}
			fmt.Fprint(c.App.Writer, m)
			return nil
		},
	}
}

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash or zsh): source <(hamnflow completion bash)",
		ArgsUsage: "bash|zsh",
		Action: func(c *cli.Context) error {
			switch c.Args().First() {
			case "bash", "":
				fmt.Fprint(c.App.Writer, bashCompletion)
			case "zsh":
				fmt.Fprint(c.App.Writer, "autoload -U bashcompinit && bashcompinit\n"+bashCompletion)
			default:
				return cli.Exit("completion: use bash or zsh", exitBadInput)
			}
			return nil
		},
	}
}

const bashCompletion = `_hamnflow() {
  local cur opts
  cur="${COMP_WORDS[COMP_CWORD]}"
  if [[ "$cur" == -* ]]; then
    opts=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:$COMP_CWORD-1}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:$COMP_CWORD-1}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
}
complete -o default -F _hamnflow hamnflow
`
