package xcat

import (
	"sort"
	"strings"
)

// What xCAT's commands print, read into types.

// XObject is one xCAT object definition as lsdef -l prints it.
type XObject struct {
	Name  string
	Attrs map[string]string
}

// ParseLsdef reads `lsdef -l` output: "Object name: NAME" lines
// (xCAT-server/lib/xcat/plugins/DBobjectdefs.pm:4124), each followed by
// the object's set attributes, sorted, as "    attr=value" lines
// (DBobjectdefs.pm:4128, 4237). The short form, "NAME  (type)"
// (DBobjectdefs.pm:4286), gives objects without attributes. "Could not
// find any object definitions to display." (DBobjectdefs.pm:3964) and
// other messages give nothing.
func ParseLsdef(out string) []XObject {
	var objs []XObject
	for _, raw := range strings.Split(out, "\n") {
		line := strings.TrimSpace(raw)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "Object name:"):
			objs = append(objs, XObject{Name: strings.TrimSpace(strings.TrimPrefix(line, "Object name:")), Attrs: map[string]string{}})
		case raw != line && strings.Contains(line, "=") && len(objs) > 0:
			k, v, _ := strings.Cut(line, "=")
			objs[len(objs)-1].Attrs[strings.TrimSpace(k)] = strings.TrimSpace(v)
		case strings.HasSuffix(line, ")") && strings.Contains(line, "  ("):
			name, _, _ := strings.Cut(line, "  (")
			objs = append(objs, XObject{Name: strings.TrimSpace(name), Attrs: map[string]string{}})
		}
	}
	return objs
}

// installPathAttrs are the osimage attributes that name files or
// directories a deployment needs under the install directory: the Linux
// images' pkgdir, otherpkgdir and rootimgdir (perl-xCAT/xCAT/Schema.pm:3289,
// 3299, 3314) and the files template, pkglist, otherpkglist, exlist,
// postinstall and synclists, which a site keeps under /install/custom
// (Schema.pm:798-824, linuximage). Each may be a comma list; postinstall's
// entries are a script and its arguments. The AIX (NIM) images' resource
// attributes are not among them: they hold NIM resource names, not paths
// (Schema.pm:1421-1446, nimimage); where those live is NIM's to say
// (steps/aix).
var installPathAttrs = []string{"pkgdir", "otherpkgdir", "rootimgdir", "template", "pkglist", "otherpkglist", "exlist", "postinstall", "synclists"}

// InstallPaths lists the paths under installdir that an osimage needs,
// sorted and without duplicates. pkgdir and otherpkgdir may list several
// directories, comma separated.
func (o XObject) InstallPaths(installdir string) []string {
	dir := strings.TrimRight(installdir, "/") + "/"
	seen := map[string]bool{}
	var out []string
	for _, a := range installPathAttrs {
		for _, p := range strings.Split(o.Attrs[a], ",") {
			p = strings.TrimSpace(p)
			if a == "postinstall" {
				p, _, _ = strings.Cut(p, " ")
			}
			if strings.HasPrefix(p, dir) && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// NodeLines reads "node: text" lines (nodeset, makegocons, nodels NODE
// ATTR; xCAT's client prints node responses as "node_name: desc:
// contents", perl-xCAT/xCAT/Client.pm:1126) into node and text; xCAT's
// "Error: ..." and "Warning: ..." lines (Client.pm:1171, 1189) are not
// nodes.
func NodeLines(out string) [][2]string {
	var rows [][2]string
	for _, line := range strings.Split(out, "\n") {
		n, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if ok && n != "" && !strings.ContainsAny(n, " \t") && n != "Error" && n != "Warning" {
			rows = append(rows, [2]string{n, strings.TrimSpace(v)})
		}
	}
	return rows
}

// missingPaths reads checkScript's "missing PATH" lines.
func missingPaths(out string) []string {
	var l []string
	for _, line := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "missing "); ok {
			l = append(l, p)
		}
	}
	return l
}
