package db2

import (
	"context"
	"errors"
	"fmt"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/workflow"
)

// CLP (action db2) runs Db2 CLP commands as the instance owner in one
// shell session, so that a CONNECT holds until CONNECT RESET (the guide's
// QUIESCE sequence needs that).
//
// A command that fails (CLP exit 4 or 8) ends the session; the error is a
// *CLPError naming the message (SQL1035N ...). Warnings (exit 2) pass and
// are listed in Outputs.warnings.
//
// Outputs: codes (all message identifiers), warnings, records (of the last
// query), exit.
type CLP struct {
	Env      *act.Env
	Settings Settings
}

// CLPArgs are the arguments of db2.
type CLPArgs struct {
	// Script: commands, one per line ("db2 " prefix optional; "!cmd" is a
	// shell command; "--" starts a comment).
	Script string `arg:"script,required"`
	Owner  string `arg:"owner"` // default the inventory's instance owner
	// OKCodes are failures that count as success: SQL1777N, or with a
	// reason code SQL1769N:1; an element may list several, comma separated.
	OKCodes []string `arg:"ok_codes"`
	// WantRecords: the last query must select exactly this many rows.
	WantRecords *int `arg:"want_records"`
}

// NewArgs implements workflow.Action.
func (*CLP) NewArgs() any { return &CLPArgs{} }

// ArgNames implements workflow.ArgDecoder.
func (a *CLPArgs) ArgNames() []string { return workflow.SpecOf(a).Names() }

// DecodeArgs implements workflow.ArgDecoder: the tags, then ok_codes,
// want_records and script checked.
func (a *CLPArgs) DecodeArgs(vals map[string]any, unknown map[string]bool) []error {
	return decodeChecked(a, vals, unknown, a.check)
}

func (a *CLPArgs) check(unknown map[string]bool) []error {
	var errs []error
	if _, err := parseOKCodes(a.OKCodes); err != nil && !unknown["ok_codes"] {
		errs = append(errs, argErr("ok_codes", err.Error()))
	}
	if a.WantRecords != nil && *a.WantRecords < 0 {
		errs = append(errs, argErr("want_records", fmt.Sprintf("want_records %d: not a row count", *a.WantRecords)))
	}
	if len(parseCLPScript(a.Script, nil)) == 0 && !unknown["script"] {
		errs = append(errs, argErr("script", "script: no Db2 command given"))
	}
	return errs
}

// lines is the session the arguments describe.
func (a *CLPArgs) lines() []clpLine {
	ok, _ := parseOKCodes(a.OKCodes)
	return parseCLPScript(a.Script, ok)
}

// Plan implements workflow.Action.
func (d *CLP) Plan(_ string, args any) []string {
	a := args.(*CLPArgs)
	cmd := planSession(d.Settings.owner(a.Owner), a.lines())
	if a.WantRecords != nil {
		cmd = when(fmt.Sprintf("the last query must select exactly %d row(s)", *a.WantRecords), cmd)
	}
	return []string{cmd}
}

// Run implements workflow.Action.
func (d *CLP) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*CLPArgs)
	if errs := a.check(nil); len(errs) > 0 {
		return workflow.Outcome{}, errors.Join(errs...)
	}
	s, err := runCLP(d.Env, ctx, c, d.Settings.owner(a.Owner), a.lines())
	s.out.Outputs = sessionOutputs(s)
	if err != nil {
		return s.out, err
	}
	if want := a.WantRecords; want != nil {
		last := lastQuery(s.cmds)
		switch {
		case last == nil:
			return s.out, errors.New("want_records: the script ran no query that reported selected rows")
		case last.Records != *want:
			return s.out, fmt.Errorf("db2 %s on %s selected %d row(s), want %d", last.Command, c.Host, last.Records, *want)
		}
	}
	return s.out, nil
}
