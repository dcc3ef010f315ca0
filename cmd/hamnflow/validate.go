package main

import (
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/hamnflow/hamnflow/playbooks"
	"github.com/hamnflow/hamnflow/workflow"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check playbooks (files or built-in names) and report every problem with file:line",
		ArgsUsage: "PLAYBOOK...",
		Flags:     []cli.Flag{setFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usage("hamnflow validate failover my-playbook.yaml", "validate: name one or more playbooks (built-in names or files)")
			}
			given, err := parseSets(c)
			if err != nil {
				return err
			}
			var all workflow.Diagnostics
			var other []error
			lib := library(c)
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
