// Package xcat holds the actions that run xCAT's own commands: one
// command of a known list (xcat_cmd: makedns, makedhcp, nodeset, ...) and
// the takeover's check of the osimage definitions and their files
// (xcat_osimages). xCAT's services are started and stopped by the service
// action, not here.
package xcat

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// Actions returns this package's actions by name.
func Actions(env *act.Env) map[string]workflow.Action {
	return map[string]workflow.Action{
		"xcat_cmd":      Command{Env: env},
		"xcat_osimages": OSImages{Env: env},
		"xcat_consoles": Consoles{Env: env},
		"xcat_site":     Site{Env: env},
		"xcat_site_fix": SiteFix{Env: env},
		"xcat_snapshot": Snapshot{Env: env},
	}
}

// xcatPath puts xCAT's command directories first on PATH: xCAT's client
// commands are links in /opt/xcat/bin (lsdef, nodels, ...) and
// /opt/xcat/sbin (makedns, makedhcp, nodeset, ...), outside the login
// PATH (xCAT-client/xCAT-client.spec:157-253).
const xcatPath = "PATH=/opt/xcat/bin:/opt/xcat/sbin:$PATH; export PATH\n"

// Commands are the xCAT commands xcat_cmd runs; CommandArgs' oneof tag
// lists the same (a test holds them equal).
var Commands = []string{"makedns", "makedhcp", "makeconservercf", "makegocons", "nodeset", "nimnodeset", "mkdsklsnode",
	"lsdef", "mkdef", "chdef", "rmdef", "nodels", "tabdump", "lsxcatd", "makehosts", "makenetworks"}

// CommandArgs are xcat_cmd's arguments.
type CommandArgs struct {
	Command string `arg:"command,required" oneof:"makedns|makedhcp|makeconservercf|makegocons|nodeset|nimnodeset|mkdsklsnode|lsdef|mkdef|chdef|rmdef|nodels|tabdump|lsxcatd|makehosts|makenetworks"`
	// Args are the command's arguments as shell words, as typed: they
	// reach the shell as they are (e.g. makedns -n, makedhcp -a).
	Args string `arg:"args"`
}

// commandScript is the one command xcat_cmd runs.
func commandScript(a *CommandArgs) string {
	return xcatPath + strings.TrimSpace(a.Command+" "+a.Args)
}

// Command (xcat_cmd) runs one xCAT command with xCAT's directories on
// PATH.
//
// Outputs: stdout. Items: "node: text" lines ({name, text}).
type Command struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (Command) NewArgs() any { return &CommandArgs{} }

// Plan implements workflow.Action.
func (Command) Plan(_ string, args any) []string { return []string{commandScript(args.(*CommandArgs))} }

// Run implements workflow.Action.
func (x Command) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*CommandArgs)
	if !slices.Contains(Commands, a.Command) {
		return workflow.Outcome{}, fmt.Errorf("command %q is not an xCAT command hamnflow runs (%s)", a.Command, strings.Join(Commands, ", "))
	}
	o, _, err := x.Env.Run(ctx, c, act.Script{Text: commandScript(a)})
	o.Outputs = map[string]string{"stdout": strings.TrimSpace(o.Stdout)}
	for _, r := range NodeLines(o.Stdout) {
		o.Items = append(o.Items, map[string]string{"name": r[0], "text": r[1]})
	}
	if err != nil {
		return o, fmt.Errorf("%s on %s: %w", a.Command, act.HostLabel(c.Host), err)
	}
	return o, nil
}

// OSImagesArgs are xcat_osimages' arguments.
type OSImagesArgs struct {
	// Installdir, when given, is checked for the files every osimage
	// names under it; "" only lists the osimages.
	Installdir string `arg:"installdir"`
}

// listScript lists every osimage definition with its attributes.
const listScript = xcatPath + "lsdef -t osimage -l"

// checkScript reports "missing PATH" for installdir if it is no
// directory, then for each path it reads on stdin (one a line: the files
// and directories the osimages name under installdir, which Run takes
// from listScript's output) that does not exist.
func checkScript(installdir string) string {
	return "installdir=" + remote.ShellQuote(installdir) + "\n" +
		`[ -d "$installdir" ] || printf 'missing %s\n' "$installdir"` + "\n" +
		`while IFS= read -r osimage_path; do [ -e "$osimage_path" ] || printf 'missing %s\n' "$osimage_path"; done`
}

// OSImages (xcat_osimages) lists the osimage definitions (lsdef -t
// osimage -l) and, with installdir, checks that the files each needs
// under it are on the host (guide 8.0 step 8: the images must be ready
// before nodeset).
//
// Outputs: count, names, missing. Items: one per osimage {name,
// imagetype, provmethod, osvers, osarch, profile}.
type OSImages struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (OSImages) NewArgs() any { return &OSImagesArgs{} }

// Plan implements workflow.Action: the listing, then the check of the
// files it names.
func (OSImages) Plan(_ string, args any) []string {
	a := args.(*OSImagesArgs)
	if a.Installdir == "" {
		return []string{listScript}
	}
	return []string{listScript, checkScript(a.Installdir)}
}

// Run implements workflow.Action.
func (x OSImages) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*OSImagesArgs)
	o, _, err := x.Env.Run(ctx, c, act.Script{Text: listScript})
	if err != nil {
		return o, fmt.Errorf("list osimages on %s: %w", act.HostLabel(c.Host), err)
	}
	imgs := ParseLsdef(o.Stdout)
	var names []string
	for _, im := range imgs {
		names = append(names, im.Name)
		o.Items = append(o.Items, map[string]string{"name": im.Name, "imagetype": im.Attrs["imagetype"],
			"provmethod": im.Attrs["provmethod"], "osvers": im.Attrs["osvers"], "osarch": im.Attrs["osarch"], "profile": im.Attrs["profile"]})
	}
	o.Outputs = map[string]string{"count": strconv.Itoa(len(imgs)), "names": strings.Join(names, ","), "missing": ""}
	dir := a.Installdir
	if dir == "" {
		return o, nil
	}
	var paths []string
	owner := map[string][]string{}
	for _, im := range imgs {
		for _, p := range im.InstallPaths(dir) {
			if owner[p] == nil {
				paths = append(paths, p)
			}
			owner[p] = append(owner[p], im.Name)
		}
	}
	co, _, err := x.Env.Run(ctx, c, act.Script{Text: checkScript(dir), Stdin: strings.Join(paths, "\n")})
	o.Command += "\n" + co.Command
	o.Stdout += co.Stdout
	o.Stderr += co.Stderr
	if err != nil {
		return o, fmt.Errorf("check %s on %s: %w", dir, act.HostLabel(c.Host), err)
	}
	var missing []string
	for _, p := range missingPaths(co.Stdout) {
		if imgs := owner[p]; len(imgs) > 0 {
			p += " (" + strings.Join(imgs, ", ") + ")"
		}
		missing = append(missing, p)
	}
	o.Outputs["missing"] = strings.Join(missing, "; ")
	if len(missing) > 0 {
		return o, fmt.Errorf("%d osimage file(s) missing on %s: %s; synchronise %s from the primary (guide 6.2)", len(missing), act.HostLabel(c.Host), strings.Join(missing, "; "), dir)
	}
	act.Say(c, &o, fmt.Sprintf("%d osimage(s), files present under %s", len(imgs), dir))
	return o, nil
}
