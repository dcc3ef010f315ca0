// Package aix holds the AIX actions: the guide's mktcpip takeover of
// hostname and address (8.0 step 4) and the re-creation of NIM resources
// from xCAT's osimage definitions (8.0 step 8): aix_osimages lists them,
// nim_master, nim_resource and nim_osimage define what lsnim does not
// know yet, nim_exists checks, nim_nodes initialises nodes. AIX's SRC
// services are the service action's.
//
// Commands are found on the PATH the actions set (Script): xCAT's
// /opt/xcat/bin and sbin, AIX's /usr/sbin and NIM's methods directory;
// with: path puts more directories first (the lab's stand-ins live in
// /opt/aix/bin).
package aix

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// Actions returns this package's actions by name.
func Actions(env *act.Env) map[string]workflow.Action {
	return map[string]workflow.Action{
		"mktcpip":       Mktcpip{Env: env},
		"aix_osimages":  OSImages{Env: env},
		"nim_master":    NIMMaster{Env: env},
		"nim_resource":  NIMDefine{Env: env},
		"nim_osimage":   NIMOSImage{Env: env},
		"nim_exists":    NIMExists{Env: env},
		"nim_nodes":     NIMNodes{Env: env},
		"nim_locations": NIMLocations{Env: env},
	}
}

// Path is the PATH the AIX actions search for AIX, NIM and xCAT commands.
const Path = "/opt/xcat/bin:/opt/xcat/sbin:/usr/sbin:/usr/bin:/usr/lpp/bos.sysmgt/nim/methods"

// Script prefixes body with the PATH the AIX actions use, extra first.
func Script(extra, body string) string {
	p := Path
	if extra != "" {
		p = extra + ":" + p
	}
	return "PATH=" + remote.ShellQuote(p) + ":\"$PATH\"; export PATH\n" + body
}

// Common are the arguments every AIX action takes.
type Common struct {
	// Path puts directories in front of the commands' PATH, e.g. the
	// lab's /opt/aix/bin:/opt/aix/nim/methods.
	Path string `arg:"path"`
}

// quoteAlways quotes s in single quotes even when it needs none, the way
// the guide writes mktcpip's attached values (-h'aixmn1').
func quoteAlways(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// MktcpipArgs are mktcpip's arguments.
type MktcpipArgs struct {
	Hostname  string `arg:"hostname,required"`
	Address   string `arg:"address,required"`
	Interface string `arg:"interface,required"` // e.g. en1
	Netmask   string `arg:"netmask"`            // "": mktcpip's default for the address
	Gateway   string `arg:"gateway"`            // "": none
	Autoconf  string `arg:"autoconf" oneof:"yes|no"`
	Cable     string `arg:"cable" oneof:"bnc|dix|tp|N/A"`
	Common
}

// Flags is the guide's mktcpip command line (8.0 step 4) for a takeover of
// hostname and address on interface: -h -a -m -i -g -A'no' -t'N/A' and -s
// followed by empty quotes, as the guide writes it and as xCAT's own
// xcatvio.script does (xCAT-server/share/xcat/scripts/xcatvio.script:283).
// An empty netmask or gateway leaves its flag out.
func (a *MktcpipArgs) Flags() string {
	var b strings.Builder
	add := func(flag, v string) { b.WriteString(" " + flag + quoteAlways(v)) }
	add("-h", a.Hostname)
	add("-a", a.Address)
	if a.Netmask != "" {
		add("-m", a.Netmask)
	}
	add("-i", a.Interface)
	if a.Gateway != "" {
		add("-g", a.Gateway)
	}
	add("-A", or(a.Autoconf, "no"))
	add("-t", or(a.Cable, "N/A"))
	b.WriteString(" -s''")
	return strings.TrimSpace(b.String())
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func mktcpipScript(a *MktcpipArgs) string { return Script(a.Path, "mktcpip "+a.Flags()) }

// Mktcpip (mktcpip) sets the cluster-facing hostname and address of an
// AIX host.
//
// Outputs: hostname, address (the new ones). It is no Reverser: it
// records nothing of the identity it replaces (the failback gives the
// identities back with its own mktcpip steps).
type Mktcpip struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (Mktcpip) NewArgs() any { return &MktcpipArgs{Autoconf: "no", Cable: "N/A"} }

// Plan implements workflow.Action.
func (Mktcpip) Plan(_ string, args any) []string { return []string{mktcpipScript(args.(*MktcpipArgs))} }

// Run implements workflow.Action.
func (m Mktcpip) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*MktcpipArgs)
	o, _, err := m.Env.Run(ctx, c, act.Script{Text: mktcpipScript(a)})
	if err != nil {
		return o, fmt.Errorf("mktcpip %s/%s on %s: %w", a.Hostname, a.Address, a.Interface, err)
	}
	o.Outputs = map[string]string{"hostname": a.Hostname, "address": a.Address}
	return o, nil
}

// OSImagesArgs are aix_osimages' arguments.
type OSImagesArgs struct {
	Installdir string `arg:"installdir"` // "": /install
	Common
}

// listScript lists every osimage definition; image, when given, only it.
func listScript(path, image string) string {
	s := "lsdef -t osimage -l"
	if image != "" {
		s += " " + remote.ShellQuote(image)
	}
	return Script(path, s)
}

// OSImages (aix_osimages) lists the AIX osimages (imagetype NIM) of
// "lsdef -t osimage -l", one fan-out item each (see OSImage.Item).
//
// Outputs: count, names (comma-separated, sorted).
type OSImages struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (OSImages) NewArgs() any { return &OSImagesArgs{} }

// Plan implements workflow.Action.
func (OSImages) Plan(_ string, args any) []string {
	return []string{listScript(args.(*OSImagesArgs).Path, "")}
}

// Run implements workflow.Action.
func (x OSImages) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*OSImagesArgs)
	o, _, err := x.Env.Run(ctx, c, act.Script{Text: listScript(a.Path, "")})
	if err != nil {
		return o, fmt.Errorf("list osimages: %w", err)
	}
	imgs, err := ParseOSImages(o.Stdout)
	if err != nil {
		return o, fmt.Errorf("list osimages on %s: %w", c.Host, err)
	}
	var nim []OSImage
	for _, img := range imgs {
		if img.IsNIM() {
			nim = append(nim, img)
			o.Items = append(o.Items, img.Item(a.Installdir))
		}
	}
	o.Outputs = map[string]string{"count": strconv.Itoa(len(nim)), "names": strings.Join(sortedNames(nim), ",")}
	return o, nil
}
