package main

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/hamnflow/hamnflow/integration/standins"
)

// attr is one NIM attribute; NIM objects may repeat an attribute name.
type attr struct {
	K string `json:"k"`
	V string `json:"v"`
}

// nimObject is one object of the NIM database.
type nimObject struct {
	Name  string `json:"name"`
	Class string `json:"class"` // machines, resources, networks
	Type  string `json:"type"`
	Attrs []attr `json:"attrs"`
}

func (o nimObject) get(k string) string {
	for _, a := range o.Attrs {
		if a.K == k {
			return a.V
		}
	}
	return ""
}

// nimState is /opt/xcat/var/nim.json: the NIM master and its objects,
// in creation order.
type nimState struct {
	Master  bool        `json:"master_initialized"`
	Objects []nimObject `json:"objects"`
}

func (s *nimState) find(name string) (nimObject, bool) {
	for _, o := range s.Objects {
		if o.Name == name {
			return o, true
		}
	}
	return nimObject{}, false
}

// nimResourceTypes are the resource types the stand-in's NIM defines, with
// how their location is treated: "must exist" (files and directories that
// come with /install) or "create" (directories NIM makes itself).
var nimResourceTypes = map[string]string{
	"lpp_source": "must exist", "installp_bundle": "must exist", "script": "must exist",
	"bosinst_data": "must exist", "resolv_conf": "must exist", "image_data": "must exist",
	"mksysb": "must exist", "fb_script": "must exist", "spot": "must exist",
	"root": "create", "shared_root": "create", "tmp": "create", "home": "create",
	"shared_home": "create", "dump": "create", "paging": "create",
}

// nimMachineTypes are the machine types nim -o define accepts.
var nimMachineTypes = map[string]bool{"standalone": true, "diskless": true, "dataless": true}

// nimChange loads the NIM state under the lock, applies fn and saves it
// when fn succeeds and reports a change.
func (a *app) nimChange(fn func(*nimState) (changed bool, code int)) int {
	unlock, err := a.lock()
	if err != nil {
		fmt.Fprintf(a.stderr, "%s: %v\n", a.name, err)
		return 1
	}
	defer unlock()
	var st nimState
	if err := readJSON(a.path(standins.NIMState), &st); err != nil {
		fmt.Fprintf(a.stderr, "%s: %v\n", a.name, err)
		return 1
	}
	changed, code := fn(&st)
	if changed && code == 0 {
		if err := writeJSON(a.path(standins.NIMState), st); err != nil {
			fmt.Fprintf(a.stderr, "%s: %v\n", a.name, err)
			return 1
		}
	}
	return code
}

// noMaster prints NIM's error for a command run before the master exists.
func (a *app) noMaster(cmd string) int {
	fmt.Fprintf(a.stderr, "0042-001 %s: processing error encountered on \"master\":\n   0042-053 %s: there is no NIM object named \"master\"\n", cmd, cmd)
	return 1
}

// nimError prints NIM's two-line processing error.
func (a *app) nimError(format string, args ...any) int {
	fmt.Fprintf(a.stderr, "0042-001 nim: processing error encountered on \"master\":\n   "+format+"\n", args...)
	return 1
}

// nimMasterSetup initialises the NIM master from the installation images
// in -a device=DIR (which must exist).
func (a *app) nimMasterSetup() int {
	opts, _, err := getopt(a.args, "a:Bv")
	if err != nil {
		fmt.Fprintf(a.stderr, "nim_master_setup: %v\nUsage: nim_master_setup [-a mk_resource={yes|no}] [-a device=<device>] [-a file_system=<fs>] [-B] [-v]\n", err)
		return 1
	}
	device := "/dev/cd0"
	for _, o := range opts {
		if k, v, ok := strings.Cut(o.val, "="); o.c == 'a' && ok && k == "device" {
			device = v
		}
	}
	if _, err := os.Stat(a.path(device)); err != nil {
		fmt.Fprintf(a.stderr, "nim_master_setup: ERROR: the installation device or directory %s is not available.\n", device)
		return 1
	}
	host, _ := os.Hostname()
	return a.nimChange(func(st *nimState) (bool, int) {
		if st.Master {
			a.printf("The NIM master is already configured on %s.\n", host)
			return false, 0
		}
		st.Master = true
		st.Objects = append(st.Objects,
			nimObject{Name: "master", Class: "machines", Type: "master", Attrs: []attr{
				{"max_nimesis_threads", "20"}, {"comments", "machine which controls the NIM environment"},
				{"platform", "chrp"}, {"netboot_kernel", "64"}, {"if1", "master_net " + host + " 0"},
				{"cable_type1", "N/A"}, {"Cstate", "ready for a NIM operation"},
				{"prev_state", "ready for a NIM operation"}, {"Mstate", "currently running"},
				{"serves", "boot"}, {"serves", "nim_script"}, {"master_port", "1058"},
				{"registration_port", "1059"}, {"reserved", "yes"}}},
			nimObject{Name: "boot", Class: "resources", Type: "boot", Attrs: []attr{
				{"comments", "represents the network boot resource"}, {"Rstate", "ready for use"},
				{"location", "/tftpboot"}, {"alloc_count", "0"}, {"server", "master"}, {"reserved", "yes"}}},
			nimObject{Name: "nim_script", Class: "resources", Type: "nim_script", Attrs: []attr{
				{"comments", "directory containing customization scripts created by NIM"},
				{"Rstate", "ready for use"}, {"location", "/export/nim/scripts"}, {"alloc_count", "0"},
				{"server", "master"}, {"reserved", "yes"}}},
			nimObject{Name: "master_net", Class: "networks", Type: "ent", Attrs: []attr{
				{"Nstate", "ready for use"}, {"prev_state", "ready for use"}}},
		)
		a.printf("\n#######################################################################\n")
		a.printf("#\n#    NIM Master Setup\n#\n")
		a.printf("#    Installation source: %s\n#\n", device)
		a.printf("#######################################################################\n\n")
		a.printf("Installing NIM master fileset...\n")
		a.printf("Configuring the NIM master on %s...\n", host)
		a.printf("NIM master setup is complete - enjoy!\n")
		return true, 0
	})
}

// lsnim lists NIM objects: "NAME CLASS TYPE" lines, or with -l the
// "NAME:" blocks of "   attr = value" lines; -t TYPE and -c CLASS filter.
func (a *app) lsnim() int {
	opts, operands, err := getopt(a.args, "lt:c:a:OZ")
	if err != nil {
		fmt.Fprintf(a.stderr, "lsnim: %v\n", err)
		return 1
	}
	var long bool
	var typ, class string
	var only []string
	for _, o := range opts {
		switch o.c {
		case 'l':
			long = true
		case 't':
			typ = o.val
		case 'c':
			class = o.val
		case 'a':
			only = append(only, o.val)
		}
	}
	var st nimState
	if err := readJSON(a.path(standins.NIMState), &st); err != nil {
		fmt.Fprintf(a.stderr, "lsnim: %v\n", err)
		return 1
	}
	if !st.Master {
		return a.noMaster("lsnim")
	}
	var show []nimObject
	if len(operands) > 0 {
		for _, name := range operands {
			o, ok := st.find(name)
			if !ok {
				fmt.Fprintf(a.stderr, "0042-053 lsnim: there is no NIM object named \"%s\"\n", name)
				return 1
			}
			show = append(show, o)
		}
	} else {
		for _, o := range st.Objects {
			if (typ == "" || o.Type == typ) && (class == "" || o.Class == class) {
				show = append(show, o)
			}
		}
	}
	for _, o := range show {
		if !long && len(only) == 0 {
			a.printf("%-16s %-16s %s\n", o.Name, o.Class, o.Type)
			continue
		}
		attrs := append([]attr{{"class", o.Class}, {"type", o.Type}}, o.Attrs...)
		if len(only) > 0 {
			var sel []attr
			for _, at := range attrs {
				for _, k := range only {
					if at.K == k {
						sel = append(sel, at)
					}
				}
			}
			attrs = sel
		}
		width := 0
		for _, at := range attrs {
			width = max(width, len(at.K))
		}
		a.printf("%s:\n", o.Name)
		for _, at := range attrs {
			a.printf("   %-*s = %s\n", width, at.K, at.V)
		}
	}
	return 0
}

// resourceAttrs are the attributes NIM shows for a new resource.
func resourceAttrs(typ, location, server string, extra []attr) []attr {
	attrs := []attr{{"Rstate", "ready for use"}, {"prev_state", "unavailable for use"}, {"location", location}}
	switch typ {
	case "lpp_source":
		attrs = append([]attr{{"arch", "power"}}, attrs...)
		attrs = append(attrs, attr{"simages", "yes"})
	case "spot":
		attrs = append([]attr{{"plat_defined", "chrp"}, {"arch", "power"}, {"bos_license", "yes"}}, attrs...)
		attrs = append(attrs, attr{"if_supported", "chrp.64 ent"}, attr{"Rstate_result", "success"})
	}
	attrs = append(attrs, attr{"alloc_count", "0"}, attr{"server", server})
	return append(attrs, extra...)
}

// nim runs NIM operations: -o define (-t TYPE -a attr=value... NAME),
// -o remove NAME, and accepts the other operations on existing objects.
func (a *app) nim() int {
	opts, operands, err := getopt(a.args, "Fo:t:a:S")
	if err != nil || len(operands) != 1 {
		fmt.Fprintf(a.stderr, "Usage: nim -o Operation [-F] [-t Type] [-a Attribute=Value]... ObjectName\n")
		return 1
	}
	name := operands[0]
	var op, typ string
	var attrs []attr
	for _, o := range opts {
		switch o.c {
		case 'o':
			op = o.val
		case 't':
			typ = o.val
		case 'a':
			k, v, ok := strings.Cut(o.val, "=")
			if !ok {
				fmt.Fprintf(a.stderr, "0042-139 nim: the attribute assignment \"%s\" is not valid\n", o.val)
				return 1
			}
			attrs = append(attrs, attr{k, v})
		}
	}
	get := func(k string) string { return nimObject{Attrs: attrs}.get(k) }
	return a.nimChange(func(st *nimState) (bool, int) {
		if !st.Master {
			return false, a.noMaster("nim")
		}
		switch op {
		case "define":
			if _, exists := st.find(name); exists {
				return false, a.nimError("0042-081 m_mkres: a resource already exists with the name \"%s\"", name)
			}
			if nimMachineTypes[typ] {
				st.Objects = append(st.Objects, nimObject{Name: name, Class: "machines", Type: typ,
					Attrs: append([]attr{{"Cstate", "ready for a NIM operation"}}, attrs...)})
				return true, 0
			}
			how, ok := nimResourceTypes[typ]
			if !ok {
				return false, a.nimError("0042-024 nim: \"%s\" is not a valid NIM object type", typ)
			}
			loc, server := get("location"), get("server")
			if loc == "" || server == "" {
				return false, a.nimError("0042-205 m_mkres: the \"location\" and \"server\" attributes are required for this operation")
			}
			if code := a.checkLocation(how, loc); code != 0 {
				return false, code
			}
			var extra []attr
			for _, at := range attrs {
				if at.K != "location" && at.K != "server" {
					extra = append(extra, at)
				}
			}
			st.Objects = append(st.Objects, nimObject{Name: name, Class: "resources", Type: typ,
				Attrs: resourceAttrs(typ, loc, server, extra)})
			return true, 0
		case "remove":
			if _, ok := st.find(name); !ok {
				fmt.Fprintf(a.stderr, "0042-053 nim: there is no NIM object named \"%s\"\n", name)
				return false, 1
			}
			if name == "master" {
				return false, a.nimError("0042-144 m_rmmac: the master cannot be removed")
			}
			kept := st.Objects[:0]
			for _, o := range st.Objects {
				if o.Name != name {
					kept = append(kept, o)
				}
			}
			st.Objects = kept
			return true, 0
		case "":
			fmt.Fprintf(a.stderr, "Usage: nim -o Operation [-F] [-t Type] [-a Attribute=Value]... ObjectName\n")
			return false, 1
		default:
			if _, ok := st.find(name); !ok {
				fmt.Fprintf(a.stderr, "0042-053 nim: there is no NIM object named \"%s\"\n", name)
				return false, 1
			}
			return false, 0
		}
	})
}

// checkLocation checks or creates a resource location as NIM would.
func (a *app) checkLocation(how, loc string) int {
	if !path.IsAbs(loc) {
		return a.nimError("0042-160 m_mkres: \"%s\" is not a full pathname", loc)
	}
	if how == "create" {
		if err := os.MkdirAll(a.path(loc), 0o755); err != nil {
			return a.nimError("0042-175 m_mkres: unable to create \"%s\": %v", loc, err)
		}
		return 0
	}
	if _, err := os.Stat(a.path(loc)); err != nil {
		return a.nimError("0042-154 m_mkres: the file or directory \"%s\" does not exist", loc)
	}
	return 0
}

// mkspot is NIM's m_mkspot method: -o -a server=master -a location=DIR
// -a source=no NAME defines the existing SPOT DIR/NAME/usr.
func (a *app) mkspot() int {
	opts, operands, err := getopt(a.args, "oa:")
	if err != nil || len(operands) != 1 {
		fmt.Fprintf(a.stderr, "Usage: m_mkspot -o -a server=<server> -a location=<dir> -a source=<source> <name>\n")
		return 1
	}
	name := operands[0]
	var attrs []attr
	for _, o := range opts {
		if o.c == 'a' {
			k, v, _ := strings.Cut(o.val, "=")
			attrs = append(attrs, attr{k, v})
		}
	}
	get := func(k string) string { return nimObject{Attrs: attrs}.get(k) }
	return a.nimChange(func(st *nimState) (bool, int) {
		if !st.Master {
			return false, a.noMaster("m_mkspot")
		}
		if _, exists := st.find(name); exists {
			fmt.Fprintf(a.stderr, "0042-081 m_mkspot: a resource already exists with the name \"%s\"\n", name)
			return false, 1
		}
		dir, server := get("location"), get("server")
		if dir == "" || server == "" {
			fmt.Fprintf(a.stderr, "0042-205 m_mkspot: the \"location\" and \"server\" attributes are required for this operation\n")
			return false, 1
		}
		if _, err := os.Stat(a.path(dir)); err != nil {
			fmt.Fprintf(a.stderr, "0042-154 m_mkspot: the directory \"%s\" does not exist\n", dir)
			return false, 1
		}
		loc := path.Join(dir, name, "usr")
		extra := []attr{{"version", "6"}, {"release", "1"}, {"mod", "6"}, {"source", get("source")}}
		st.Objects = append(st.Objects, nimObject{Name: name, Class: "resources", Type: "spot",
			Attrs: resourceAttrs("spot", loc, server, extra)})
		return true, 0
	})
}

// nimResourcesOf lists the NIM resource names an AIX osimage needs: the
// names its attributes hold (Schema.pm:1421-1446), comma lists split.
func nimResourcesOf(img standins.Object) []string {
	var names []string
	for _, tn := range standins.ResourceNames(img) {
		names = append(names, tn[1])
	}
	return names
}

// nimInitNodes implements nimnodeset and mkdsklsnode:
// [-i OSIMAGE] NODERANGE [attr=value...].
func (a *app) nimInitNodes(diskless bool) int {
	if !a.requireXcatd() {
		return 1
	}
	var image, nr string
	for i := 0; i < len(a.args); i++ {
		switch arg := a.args[i]; {
		case arg == "-i" && i+1 < len(a.args):
			i++
			image = a.args[i]
		case strings.HasPrefix(arg, "osimage="):
			image = strings.TrimPrefix(arg, "osimage=")
		case strings.HasPrefix(arg, "-") || strings.Contains(arg, "="):
		default:
			nr = arg
		}
	}
	if nr == "" {
		fmt.Fprintf(a.stderr, "Usage: %s [-V] [-f|--force] [-i osimage_name] noderange [attr=val [attr=val ...]]\n", a.name)
		return 1
	}
	nodes, ok := a.nodeList()
	if !ok {
		return 1
	}
	names, ok := a.resolve(nr, nodes)
	if !ok {
		return 1
	}
	if image == "" {
		a.errorf("Could not determine an osimage name for the nodes %s: use -i.", strings.Join(names, ","))
		return 1
	}
	imgs, err := a.osimages()
	if err != nil {
		a.errorf("%v", err)
		return 1
	}
	img, found := objByName(imgs, image)
	if !found || img.Attrs["imagetype"] != "NIM" {
		a.errorf("Could not find an AIX osimage named '%s'.", image)
		return 1
	}
	return a.nimInit(names, img, diskless)
}

// nimInit checks that the NIM resources of img exist and defines the
// nodes as NIM machines.
func (a *app) nimInit(names []string, img standins.Object, diskless bool) int {
	host, _ := os.Hostname()
	return a.nimChange(func(st *nimState) (bool, int) {
		if !st.Master {
			a.errorf("%s: The NIM master is not configured.", host)
			return false, 1
		}
		for _, r := range nimResourcesOf(img) {
			if _, ok := st.find(r); !ok {
				a.errorf("%s: The NIM resource '%s' of osimage '%s' is not defined.", host, r, img.Name)
				return false, 1
			}
		}
		typ := "standalone"
		if diskless {
			typ = img.Attrs["nimtype"]
		}
		for _, n := range names {
			if _, ok := st.find(n); !ok {
				st.Objects = append(st.Objects, nimObject{Name: n, Class: "machines", Type: typ, Attrs: []attr{
					{"platform", "chrp"}, {"netboot_kernel", "64"}, {"if1", "master_net " + n + " 0"},
					{"Cstate", "BOS installation has been enabled"}, {"Mstate", "not running"},
					{"spot", img.Attrs["spot"]}, {"lpp_source", img.Attrs["lpp_source"]}}})
			}
		}
		if diskless {
			a.printf("AIX/NIM diskless nodes were initialized.\n")
		} else {
			a.printf("AIX/NIM nodes were initialized.\n")
		}
		return true, 0
	})
}
