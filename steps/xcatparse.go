package steps

import (
	"sort"
	"strings"
)

// XObject is one xCAT object definition as lsdef -l prints it.
type XObject struct {
	Name  string
	Attrs map[string]string
}

// ParseLsdef reads `lsdef -l` output: "Object name: NAME" lines each
// followed by indented "attr=value" lines. The short form ("NAME  (type)")
// gives objects without attributes. Messages such as "Could not find any
// object definitions to display." give nothing.
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
// directories a deployment needs under the install directory.
var installPathAttrs = []string{"pkgdir", "otherpkgdir", "rootimgdir", "installp_bundle", "script", "root", "shared_root", "tmp", "home", "shared_home", "dump", "paging"}

// InstallPaths lists the paths under installdir that an osimage needs,
// sorted and without duplicates.
func (o XObject) InstallPaths(installdir string) []string {
	dir := strings.TrimRight(installdir, "/") + "/"
	seen := map[string]bool{}
	var out []string
	for _, a := range installPathAttrs {
		for _, p := range strings.Split(o.Attrs[a], ",") {
			p = strings.TrimSpace(p)
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
// ATTR) into node and text; xCAT's "Error: ..." and "Warning: ..."
// lines are not nodes.
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
