package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/hamnflow/hamnflow/integration/standins"
)

// nodeAttrs are the node attributes the stand-in's nodelist table holds.
var nodeAttrs = []string{"groups", "status"}

// defArgs is the parsed command line of lsdef, mkdef, chdef and rmdef.
type defArgs struct {
	typ    string   // -t; default node
	names  []string // -o or the noderange operand, split at commas
	long   bool     // -l
	short  bool     // -s
	force  bool     // -f
	stanza bool     // -z
	only   []string // -i attr,attr
	attrs  [][2]string
}

func parseDefArgs(args []string) (defArgs, error) {
	d := defArgs{typ: "node"}
	next := func(i *int, opt string) (string, error) {
		if *i+1 >= len(args) {
			return "", fmt.Errorf("option %s requires a value", opt)
		}
		*i++
		return args[*i], nil
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		var err error
		var v string
		switch arg {
		case "-t", "--type":
			v, err = next(&i, arg)
			d.typ = v
		case "-o", "--objects":
			v, err = next(&i, arg)
			d.names = append(d.names, splitList(v)...)
		case "-i":
			v, err = next(&i, arg)
			d.only = splitList(v)
		case "-l", "--long":
			d.long = true
		case "-s", "--short":
			d.short = true
		case "-f", "--force":
			d.force = true
		case "-z", "--stanza":
			d.stanza = true
		case "-V", "--verbose":
		default:
			if strings.HasPrefix(arg, "-") {
				return d, fmt.Errorf("invalid option %s", arg)
			}
			if k, val, ok := strings.Cut(arg, "="); ok {
				d.attrs = append(d.attrs, [2]string{k, val})
			} else {
				d.names = append(d.names, splitList(arg)...)
			}
		}
		if err != nil {
			return d, err
		}
	}
	return d, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// nodeObject presents a node as an xCAT object.
func nodeObject(n Node) standins.Object {
	attrs := map[string]string{"objtype": "node"}
	if n.Groups != "" {
		attrs["groups"] = n.Groups
	}
	if n.Status != "" {
		attrs["status"] = n.Status
	}
	return standins.Object{Name: n.Name, Attrs: attrs}
}

// osimages reads the osimage definitions.
func (a *app) osimages() ([]standins.Object, error) {
	f, err := os.Open(a.path(standins.OSImages))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return standins.ParseStanzas(f)
}

// saveOSImages writes the osimage definitions back as a stanza file.
func (a *app) saveOSImages(objs []standins.Object) error {
	var b strings.Builder
	writeStanzas(&b, objs)
	return standins.WriteFileAtomic(a.path(standins.OSImages), []byte(b.String()), 0o644)
}

// writeStanzas prints objects in xCAT's stanza format (lsdef -z).
func writeStanzas(w io.Writer, objs []standins.Object) {
	fmt.Fprintln(w, "# <xCAT data object stanza file>")
	for _, o := range objs {
		fmt.Fprintf(w, "\n%s:\n    objtype=%s\n", o.Name, o.Type())
		for _, k := range o.SortedAttrs() {
			fmt.Fprintf(w, "    %s=%s\n", k, o.Attrs[k])
		}
	}
}

// objects loads all objects of type typ.
// writable loads the objects of typ and, for nodes, the store that
// mkdef, chdef and rmdef write them to.
func (a *app) writable(typ string) ([]standins.Object, nodeStore, error) {
	objs, err := a.objects(typ)
	if err != nil || typ != "node" {
		return objs, nil, err
	}
	st, err := a.nodeStore()
	return objs, st, err
}

func (a *app) objects(typ string) ([]standins.Object, error) {
	switch typ {
	case "osimage":
		return a.osimages()
	case "node":
		st, err := a.nodeStore()
		if err != nil {
			return nil, err
		}
		nodes, err := st.List()
		if err != nil {
			return nil, fmt.Errorf("cannot read the xCAT database: %w", err)
		}
		var objs []standins.Object
		for _, n := range nodes {
			objs = append(objs, nodeObject(n))
		}
		return objs, nil
	case "site":
		return []standins.Object{a.site()}, nil
	case "network":
		// The stand-in keeps no networks table: lsdef -t network prints
		// that nothing was found.
		return nil, nil
	}
	return nil, fmt.Errorf("Type '%s' is not a valid xCAT object type.", typ)
}

// standinMaster is site.master when cfgloc names no database host.
const standinMaster = "198.51.100.10"

// site is the site table's one object, clustersite
// (perl-xCAT/xCAT/Schema.pm site table, DBobjectdefs.pm): its master and
// name server are where the xCAT database is reached (cfgloc's host=,
// the cluster address in the lab), as xcatconfig and a HA pair set them.
func (a *app) site() standins.Object {
	master := standinMaster
	if data, err := os.ReadFile(a.path(standins.CfgLoc)); err == nil {
		if loc, err := parseCfgLoc(string(data)); err == nil {
			for _, f := range strings.Split(loc.Conn, ";") {
				if h, ok := strings.CutPrefix(f, "host="); ok && h != "" {
					master = h
				}
			}
		}
	}
	return standins.Object{Name: "clustersite", Attrs: map[string]string{"objtype": "site", "master": master,
		"nameservers": master, "domain": "cluster.lab", "installdir": "/install", "tftpdir": "/tftpboot"}}
}

// expandNoderange resolves a noderange (node names and group names) against
// nodes; unknown members are returned separately.
func expandNoderange(tokens []string, nodes []standins.Object) (names, unknown []string) {
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	for _, t := range tokens {
		found := false
		for _, n := range nodes {
			if n.Name == t {
				add(n.Name)
				found = true
			}
		}
		if found {
			continue
		}
		for _, n := range nodes {
			for _, g := range splitList(n.Attrs["groups"]) {
				if g == t {
					add(n.Name)
					found = true
				}
			}
		}
		if !found {
			unknown = append(unknown, t)
		}
	}
	return names, unknown
}

func objByName(objs []standins.Object, name string) (standins.Object, bool) {
	for _, o := range objs {
		if o.Name == name {
			return o, true
		}
	}
	return standins.Object{}, false
}

// lsdef lists object definitions in xCAT's formats: "NAME  (TYPE)" lines,
// or "Object name: NAME" blocks of sorted "    attr=value" lines.
func (a *app) lsdef() int {
	d, err := parseDefArgs(a.args)
	if err != nil {
		a.errorf("%v", err)
		return 1
	}
	if !a.requireXcatd() {
		return 1
	}
	objs, err := a.objects(d.typ)
	if err != nil {
		a.errorf("%v", err)
		return 1
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Name < objs[j].Name })
	code := 0
	show := objs
	if len(d.names) > 0 {
		names, unknown := d.names, []string(nil)
		if d.typ == "node" {
			names, unknown = expandNoderange(d.names, objs)
		} else {
			names = nil
			for _, n := range d.names {
				if _, ok := objByName(objs, n); ok {
					names = append(names, n)
				} else {
					unknown = append(unknown, n)
				}
			}
		}
		for _, n := range unknown {
			a.errorf("Could not find an object named '%s' of type '%s'.", n, d.typ)
			code = 1
		}
		sort.Strings(names)
		show = nil
		for _, n := range names {
			o, _ := objByName(objs, n)
			show = append(show, o)
		}
	}
	if len(objs) == 0 && len(d.names) == 0 {
		a.printf("Could not find any object definitions to display.\n")
		return 0
	}
	long := (d.long || len(d.names) > 0 || len(d.only) > 0) && !d.short
	switch {
	case d.stanza:
		writeStanzas(a.stdout, show)
	case long:
		for _, o := range show {
			a.printf("Object name: %s\n", o.Name)
			attrs := o.SortedAttrs()
			if len(d.only) > 0 {
				attrs = d.only
			}
			for _, k := range attrs {
				if v := o.Attrs[k]; v != "" || len(d.only) > 0 {
					a.printf("    %s=%s\n", k, v)
				}
			}
		}
	default:
		for _, o := range show {
			a.printf("%s  (%s)\n", o.Name, d.typ)
		}
	}
	return code
}

// checkAttrs reports attributes the stand-in cannot store for typ.
func (a *app) checkAttrs(typ string, attrs [][2]string) bool {
	if typ != "node" {
		return true
	}
	ok := true
	for _, kv := range attrs {
		valid := false
		for _, n := range nodeAttrs {
			valid = valid || kv[0] == n
		}
		if !valid {
			a.errorf("'%s' is not a valid attribute name for an object type of 'node'.", kv[0])
			a.errorf("Skipping to the next attribute.")
			ok = false
		}
	}
	return ok
}

// applyAttrs sets attrs on o (an empty value removes the attribute).
func applyAttrs(o standins.Object, attrs [][2]string) {
	for _, kv := range attrs {
		if kv[1] == "" {
			delete(o.Attrs, kv[0])
		} else {
			o.Attrs[kv[0]] = kv[1]
		}
	}
}

func objNode(o standins.Object) Node {
	return Node{Name: o.Name, Groups: o.Attrs["groups"], Status: o.Attrs["status"]}
}

// mkdef creates object definitions; an existing one is an error unless -f.
func (a *app) mkdef() int { return a.define(false) }

// chdef changes object definitions, creating missing ones as xCAT does.
func (a *app) chdef() int { return a.define(true) }

func (a *app) define(change bool) int {
	d, err := parseDefArgs(a.args)
	if err != nil {
		a.errorf("%v", err)
		return 1
	}
	if !a.requireXcatd() {
		return 1
	}
	if len(d.names) == 0 {
		a.errorf("No object names were provided.")
		return 1
	}
	if d.typ != "node" && d.typ != "osimage" {
		a.errorf("Type '%s' is not supported by the stand-in (node, osimage).", d.typ)
		return 1
	}
	if !a.checkAttrs(d.typ, d.attrs) {
		a.errorf("One or more errors occured when attempting to create or modify xCAT \nobject definitions.")
		return 1
	}
	objs, st, err := a.writable(d.typ)
	if err != nil {
		a.errorf("%v", err)
		return 1
	}
	failed, done := false, 0
	for _, name := range d.names {
		old, exists := objByName(objs, name)
		if exists && !change && !d.force {
			a.errorf("A definition for '%s' already exists.", name)
			a.errorf("To remove the old definition and replace it with \na new definition use the force '-f' option.")
			a.errorf("To change the existing definition use the 'chdef' command.")
			failed = true
			continue
		}
		o := standins.Object{Name: name, Attrs: map[string]string{"objtype": d.typ}}
		if exists && change {
			for k, v := range old.Attrs {
				o.Attrs[k] = v
			}
		}
		applyAttrs(o, d.attrs)
		if d.typ == "node" && o.Attrs["groups"] == "" {
			a.errorf("Attribute 'groups' is not specified for node '%s', skipping to the next node.", name)
			failed = true
			continue
		}
		if d.typ == "osimage" {
			objs = replaceObject(objs, o)
			done++
			continue
		}
		switch {
		case exists:
			err = st.Update(objNode(o))
		default:
			err = st.Insert(objNode(o))
		}
		if err != nil {
			a.errorf("Could not write data to the xCAT database: %v", err)
			failed = true
			continue
		}
		done++
	}
	if d.typ == "osimage" && done > 0 {
		if err := a.saveOSImages(objs); err != nil {
			a.errorf("Could not write data to the xCAT database: %v", err)
			return 1
		}
	}
	if failed {
		a.errorf("One or more errors occured when attempting to create or modify xCAT \nobject definitions.")
		return 1
	}
	a.printf("%d object definitions have been created or modified.\n", done)
	return 0
}

func replaceObject(objs []standins.Object, o standins.Object) []standins.Object {
	for i := range objs {
		if objs[i].Name == o.Name {
			objs[i] = o
			return objs
		}
	}
	return append(objs, o)
}

// rmdef removes object definitions.
func (a *app) rmdef() int {
	d, err := parseDefArgs(a.args)
	if err != nil {
		a.errorf("%v", err)
		return 1
	}
	if !a.requireXcatd() {
		return 1
	}
	if len(d.names) == 0 {
		a.errorf("No object names were provided.")
		return 1
	}
	objs, st, err := a.writable(d.typ)
	if err != nil {
		a.errorf("%v", err)
		return 1
	}
	failed, done := false, 0
	for _, name := range d.names {
		if _, ok := objByName(objs, name); !ok {
			a.errorf("Could not find an object named '%s' of type '%s'.", name, d.typ)
			failed = true
			continue
		}
		if d.typ == "node" {
			if err := st.Delete(name); err != nil {
				a.errorf("Could not remove '%s' from the xCAT database: %v", name, err)
				failed = true
				continue
			}
		} else {
			kept := objs[:0]
			for _, o := range objs {
				if o.Name != name {
					kept = append(kept, o)
				}
			}
			objs = kept
		}
		done++
	}
	if d.typ != "node" && done > 0 {
		if err := a.saveOSImages(objs); err != nil {
			a.errorf("%v", err)
			return 1
		}
	}
	if done == 0 {
		a.errorf("No objects have been removed from the xCAT database.")
		return 1
	}
	a.printf("%d object definitions have been removed.\n", done)
	if failed {
		return 1
	}
	return 0
}

// nodeList loads the nodes as objects, printing the error if it fails.
func (a *app) nodeList() ([]standins.Object, bool) {
	nodes, err := a.objects("node")
	if err != nil {
		a.errorf("%v", err)
		return nil, false
	}
	return nodes, true
}

// resolve expands a noderange operand, printing xCAT's error for unknown
// members.
func (a *app) resolve(nr string, nodes []standins.Object) ([]string, bool) {
	names, unknown := expandNoderange(splitList(nr), nodes)
	if len(unknown) > 0 {
		a.errorf("Invalid nodes and/or groups in noderange: %s", strings.Join(unknown, ","))
		return nil, false
	}
	sort.Strings(names)
	return names, true
}

// nodels lists nodes, optionally with nodelist attributes
// ("node: value" for one, "node: attr: value" for several).
func (a *app) nodels() int {
	if !a.requireXcatd() {
		return 1
	}
	nodes, ok := a.nodeList()
	if !ok {
		return 1
	}
	var names []string
	var attrs []string
	if len(a.args) > 0 && !strings.HasPrefix(a.args[0], "-") {
		if names, ok = a.resolve(a.args[0], nodes); !ok {
			return 1
		}
		attrs = a.args[1:]
	} else {
		for _, n := range nodes {
			names = append(names, n.Name)
		}
		sort.Strings(names)
	}
	for _, name := range names {
		o, _ := objByName(nodes, name)
		if len(attrs) == 0 {
			a.printf("%s\n", name)
			continue
		}
		for _, at := range attrs {
			v := o.Attrs[strings.TrimPrefix(at, "nodelist.")]
			if len(attrs) == 1 {
				a.printf("%s: %s\n", name, v)
			} else {
				a.printf("%s: %s: %s\n", name, at, v)
			}
		}
	}
	return 0
}

// tabdump prints a table as xCAT's CSV (nodelist and site), or the table
// names without an argument.
func (a *app) tabdump() int {
	if !a.requireXcatd() {
		return 1
	}
	if len(a.args) == 0 {
		for _, t := range []string{"nodelist", "osimage", "site"} {
			a.printf("%s\n", t)
		}
		return 0
	}
	q := func(s string) string {
		if s == "" {
			return ""
		}
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	switch a.args[len(a.args)-1] {
	case "nodelist":
		nodes, ok := a.nodeList()
		if !ok {
			return 1
		}
		a.printf("#node,groups,status,statustime,appstatus,appstatustime,primarysn,hidden,updatestatus,updatestatustime,zonename,comments,disable\n")
		for _, n := range nodes {
			a.printf("%s,%s,%s,,,,,,,,,,\n", q(n.Name), q(n.Attrs["groups"]), q(n.Attrs["status"]))
		}
	case "site":
		a.printf("#key,value,comments,disable\n")
		for _, kv := range [][2]string{{"blademaxp", "64"}, {"consoleondemand", "no"}, {"dhcplease", "43200"}, {"installdir", "/install"}, {"tftpdir", "/tftpboot"}, {"xcatdport", fmt.Sprint(xcatdPort())}, {"xcatiport", fmt.Sprint(xcatdPort() + 1)}} {
			a.printf("%s,%s,,\n", q(kv[0]), q(kv[1]))
		}
	case "osimage":
		imgs, err := a.osimages()
		if err != nil {
			a.errorf("%v", err)
			return 1
		}
		a.printf("#imagename,profile,imagetype,provmethod,osname,osvers,osdistro,osarch,synclists,comments,disable\n")
		for _, o := range imgs {
			at := o.Attrs
			a.printf("%s,%s,%s,%s,%s,%s,,%s,,%s,\n", q(o.Name), q(at["profile"]), q(at["imagetype"]), q(at["provmethod"]), q(at["osname"]), q(at["osvers"]), q(at["osarch"]), q(at["comments"]))
		}
	default:
		a.errorf("No such table: %s", a.args[len(a.args)-1])
		return 1
	}
	return 0
}

// makedns prints what xCAT's makedns prints while it rebuilds DNS.
func (a *app) makedns() int {
	if !a.requireXcatd() {
		return 1
	}
	nodes, ok := a.nodeList()
	if !ok {
		return 1
	}
	for _, n := range nodes {
		a.printf("Handling %s in /etc/hosts.\n", n.Name)
	}
	a.printf("Getting reverse zones, this may take several minutes for a large cluster.\n")
	a.printf("Completed getting reverse zones.\n")
	a.printf("Updating zones.\n")
	a.printf("Completed updating zones.\n")
	a.printf("Restarting named\n")
	a.printf("Restarting named complete\n")
	a.printf("Updating DNS records, this may take several minutes for a large cluster.\n")
	a.printf("Completed updating DNS records.\n")
	a.printf("DNS setup is completed\n")
	return 0
}

// makedhcp: -n prints the renaming of the old configuration, the rest is
// silent, as in xCAT.
func (a *app) makedhcp() int {
	if !a.requireXcatd() {
		return 1
	}
	for _, arg := range a.args {
		if arg == "-n" {
			a.printf("Renamed existing dhcp configuration file to  /etc/dhcp/dhcpd.conf.xcatbak\n\n")
		}
	}
	return 0
}

// makeconservercf is silent on success, as in xCAT.
func (a *app) makeconservercf() int {
	if !a.requireXcatd() {
		return 1
	}
	return 0
}

// makegocons reports each node's console as created.
func (a *app) makegocons() int {
	if !a.requireXcatd() {
		return 1
	}
	nodes, ok := a.nodeList()
	if !ok {
		return 1
	}
	names := make([]string, 0, len(nodes))
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	if len(a.args) > 0 && !strings.HasPrefix(a.args[0], "-") {
		if names, ok = a.resolve(a.args[0], nodes); !ok {
			return 1
		}
	}
	a.printf("Starting goconserver service ...\n")
	for _, n := range names {
		a.printf("%s: Created\n", n)
	}
	return 0
}

// nodeset sets the next boot action of nodes: NODERANGE osimage=NAME, or
// install, netboot, statelite, boot, shell.
func (a *app) nodeset() int {
	if !a.requireXcatd() {
		return 1
	}
	if len(a.args) < 2 {
		fmt.Fprintln(a.stderr, "Usage: nodeset <noderange> [boot|install|netboot|statelite|shell|osimage=<imagename>]")
		return 1
	}
	nodes, ok := a.nodeList()
	if !ok {
		return 1
	}
	names, ok := a.resolve(a.args[0], nodes)
	if !ok {
		return 1
	}
	action := a.args[1]
	img, isImage := strings.CutPrefix(action, "osimage=")
	if !isImage {
		switch action {
		case "install", "netboot", "statelite", "boot", "shell", "iscsiboot", "offline":
		default:
			a.errorf("Unsupported nodeset action: %s", action)
			return 1
		}
		for _, n := range names {
			a.printf("%s: %s\n", n, action)
		}
		return 0
	}
	imgs, err := a.osimages()
	if err != nil {
		a.errorf("%v", err)
		return 1
	}
	o, found := objByName(imgs, img)
	if !found {
		a.errorf("Cannot find the osimage %s in the osimage table.", img)
		return 1
	}
	if o.Attrs["imagetype"] == "NIM" {
		return a.nimInit(names, o, o.Attrs["nimtype"] != "standalone")
	}
	for _, n := range names {
		a.printf("%s: %s %s-%s-%s\n", n, o.Attrs["provmethod"], o.Attrs["osvers"], o.Attrs["osarch"], o.Attrs["profile"])
	}
	return 0
}
