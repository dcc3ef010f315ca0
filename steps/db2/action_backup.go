package db2

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// Backup (action db2_backup) takes an offline backup of the database
// (guide 5.1.3): it deactivates the database (xcatd must be stopped
// everywhere, 5.1.1), creates the directory and runs BACKUP DATABASE DB TO
// DIR.
//
// Outputs: timestamp (yyyymmddhhmmss, for RESTORE ... TAKEN AT), dir.
type Backup struct {
	Env      *act.Env
	Settings Settings
}

// BackupArgs are the arguments of db2_backup.
type BackupArgs struct {
	Dir string `arg:"dir"` // backup directory (created); default the inventory's database.backup_dir
	Target
}

// NewArgs implements workflow.Action.
func (*Backup) NewArgs() any { return &BackupArgs{} }

func (s Settings) dir(arg string) string {
	if arg != "" {
		return arg
	}
	return s.BackupDir
}

func errNoDir() error {
	return errors.New("dir: give the backup directory (or database.backup_dir in the inventory)")
}

func (s Settings) backupLines(a *BackupArgs) []clpLine {
	db := s.database(a.Database)
	return []clpLine{
		{text: "mkdir -p " + remote.ShellQuote(s.dir(a.Dir)), shell: true},
		{text: "DEACTIVATE DATABASE " + db},
		{text: "BACKUP DATABASE " + db + " TO " + s.dir(a.Dir)},
	}
}

// Plan implements workflow.Action.
func (d *Backup) Plan(_ string, args any) []string {
	a := args.(*BackupArgs)
	return []string{planSession(d.Settings.owner(a.Owner), d.Settings.backupLines(a))}
}

// Run implements workflow.Action.
func (d *Backup) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*BackupArgs)
	db := d.Settings.database(a.Database)
	if d.Settings.dir(a.Dir) == "" {
		return workflow.Outcome{}, errNoDir()
	}
	s, err := runCLP(d.Env, ctx, c, d.Settings.owner(a.Owner), d.Settings.backupLines(a))
	s.out.Outputs = sessionOutputs(s)
	if err != nil {
		return s.out, fmt.Errorf("backup %s: %w", db, err)
	}
	ts, err := ParseBackupTimestamp([]byte(s.out.Stdout))
	if err != nil {
		return s.out, fmt.Errorf("backup %s on %s: %w", db, c.Host, err)
	}
	s.out.Outputs["timestamp"] = ts
	s.out.Outputs["dir"] = d.Settings.dir(a.Dir)
	return s.out, nil
}

// Restore (action db2_restore) restores a backup image over the database
// (guide 5.1.4), without the y/n question the guide answers by hand.
//
// Outputs: timestamp.
type Restore struct {
	Env      *act.Env
	Settings Settings
}

// RestoreArgs are the arguments of db2_restore.
type RestoreArgs struct {
	Dir       string `arg:"dir"`                // directory holding the image; default database.backup_dir
	Timestamp string `arg:"timestamp,required"` // the image's (db2_backup's Outputs.timestamp)
	Target
}

// NewArgs implements workflow.Action.
func (*Restore) NewArgs() any { return &RestoreArgs{} }

// ArgNames implements workflow.ArgDecoder.
func (a *RestoreArgs) ArgNames() []string { return workflow.SpecOf(a).Names() }

// DecodeArgs implements workflow.ArgDecoder: the tags, then timestamp
// and dir checked.
func (a *RestoreArgs) DecodeArgs(vals map[string]any, unknown map[string]bool) []error {
	return decodeChecked(a, vals, unknown, a.check)
}

var timestampRE = regexp.MustCompile(`^\d{14}$`)

func (a *RestoreArgs) check(unknown map[string]bool) []error {
	var errs []error
	if !timestampRE.MatchString(a.Timestamp) && !unknown["timestamp"] {
		errs = append(errs, argErr("timestamp", fmt.Sprintf("timestamp %q: want the 14-digit backup image timestamp (yyyymmddhhmmss)", a.Timestamp)))
	}
	if strings.ContainsAny(a.Dir, "\"\n") && !unknown["dir"] {
		errs = append(errs, argErr("dir", fmt.Sprintf("dir %q: a directory name with quotes or line breaks cannot be given to RESTORE", a.Dir)))
	}
	return errs
}

func (s Settings) restoreLines(a *RestoreArgs) []clpLine {
	db := s.database(a.Database)
	return []clpLine{
		{text: "DEACTIVATE DATABASE " + db},
		{text: fmt.Sprintf(`RESTORE DATABASE %s FROM "%s" TAKEN AT %s REPLACE HISTORY FILE WITHOUT PROMPTING`, db, s.dir(a.Dir), a.Timestamp)},
	}
}

// Plan implements workflow.Action.
func (d *Restore) Plan(_ string, args any) []string {
	a := args.(*RestoreArgs)
	return []string{planSession(d.Settings.owner(a.Owner), d.Settings.restoreLines(a))}
}

// Run implements workflow.Action.
func (d *Restore) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*RestoreArgs)
	if errs := a.check(nil); len(errs) > 0 {
		return workflow.Outcome{}, errors.Join(errs...)
	}
	switch dir := d.Settings.dir(a.Dir); {
	case dir == "":
		return workflow.Outcome{}, errNoDir()
	case strings.ContainsAny(dir, "\"\n"):
		return workflow.Outcome{}, fmt.Errorf("dir %q: a directory name with quotes or line breaks cannot be given to RESTORE", dir)
	}
	db := d.Settings.database(a.Database)
	s, err := runCLP(d.Env, ctx, c, d.Settings.owner(a.Owner), d.Settings.restoreLines(a))
	s.out.Outputs = sessionOutputs(s)
	if err != nil {
		return s.out, fmt.Errorf("restore %s from image %s: %w", db, a.Timestamp, err)
	}
	s.out.Outputs["timestamp"] = a.Timestamp
	return s.out, nil
}
