package aix

import (
	"bufio"
	"fmt"
	"path"
	"sort"
	"strings"
)

// What xCAT's and NIM's commands print on AIX, read into types.

// OSImage is one xCAT osimage definition as "lsdef -t osimage -l" prints it.
type OSImage struct {
	Name  string
	Attrs map[string]string
}

// NIMResourceTypes are the osimage attributes besides lpp_source and spot
// that name NIM resources: the resource columns of xCAT's nimimage table
// (perl-xCAT/xCAT/Schema.pm:1422-1446: "The name of the NIM ... resource";
// res_group names a NIM group and otherpkgs packages, neither a resource),
// in the order they are re-created. xCAT makes lpp_source first, the SPOT
// second and the rest after them ("always do lpp 1st, spot 2nd, rest
// after that", xCAT-server/lib/xcat/plugins/aixinstall.pm:10199).
var NIMResourceTypes = []string{"bosinst_data", "installp_bundle", "script", "fb_script", "resolv_conf", "image_data",
	"mksysb", "root", "shared_root", "tmp", "home", "shared_home", "dump", "paging"}

// nimListTypes are the attributes that may name several resources,
// comma separated: "installp_bundle => 'One or more comma separated NIM
// installp_bundle resources.'" (Schema.pm:1443, mknimimage.1.pod:104), and
// script, which xCAT splits the same way ("if installp_bundle or script
// they could have multiple names", aixinstall.pm:10388).
var nimListTypes = map[string]bool{"installp_bundle": true, "script": true}

// ConventionLocation is where xCAT puts a NIM resource of type typ named
// name for osimage image under installdir, the location NIM re-creation
// uses when no lsnim -l told it (the "location" each define takes; for a
// SPOT the directory that holds SPOTs, m_mkspot's location):
//
//	lpp_source   DIR/nim/lpp_source/NAME          aixinstall.pm:3882
//	spot         DIR/nim/spot                     aixinstall.pm:4343
//	bosinst_data DIR/nim/bosinst_data/NAME        aixinstall.pm:4490, 4551
//	resolv_conf  DIR/nim/resolv_conf/NAME/resolv.conf  aixinstall.pm:5032-5034
//	mksysb       DIR/nim/mksysb/IMAGE/NAME        aixinstall.pm:5471-5474
//	dump         DIR/nim/dump/NAME                aixinstall.pm:7159
//	script       DIR/nim/scripts/NAME             aixinstall.pm:8733-8755
//	root, shared_root, tmp, home, shared_home, paging
//	             DIR/nim/TYPE/NAME                aixinstall.pm:7273 (mknimres)
//
// installp_bundle, fb_script and image_data are files the administrator
// made wherever he chose (nimnodecust.1.pod:29 puts a bundle at
// /install/nim/mypkgs.bnd): for them DIR/nim/TYPE/NAME is only a guess, and
// lsnim -l on the NIM master that knew them is what to go by.
func ConventionLocation(installdir, image, typ, name string) string {
	if installdir == "" {
		installdir = "/install"
	}
	nim := path.Join(installdir, "nim")
	switch typ {
	case "spot":
		return path.Join(nim, "spot") + "/"
	case "resolv_conf":
		return path.Join(nim, "resolv_conf", name, "resolv.conf")
	case "mksysb":
		return path.Join(nim, "mksysb", image, name)
	case "script":
		return path.Join(nim, "scripts", name)
	}
	return path.Join(nim, typ, name)
}

// SpotParent is m_mkspot's location for a SPOT whose lsnim location is loc
// (DIR/spot/NAME/usr -> DIR/spot/): "location for spot is odd ... want
// /install/nim/spot for loc when creating new one" (aixinstall.pm:10557-10566).
func SpotParent(loc string) string {
	loc = strings.TrimSuffix(loc, "/")
	if path.Base(loc) == "usr" {
		loc = path.Dir(loc)
	}
	return path.Dir(loc) + "/"
}

// ParseOSImages parses "lsdef -t osimage -l": "Object name: NAME" lines
// (xCAT-server/lib/xcat/plugins/DBobjectdefs.pm:4124), each followed by
// indented "attr=value" lines (DBobjectdefs.pm:4237). xCAT's "Could not
// find any object definitions to display." (DBobjectdefs.pm:3964) means
// none. Anything else is an error: these definitions decide which NIM
// resources get created.
func ParseOSImages(out string) ([]OSImage, error) {
	var imgs []OSImage
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		t := strings.TrimSpace(line)
		switch {
		case t == "" || strings.HasPrefix(t, "Could not find any object definitions"):
		case strings.HasPrefix(t, "Object name:"):
			name := strings.TrimSpace(strings.TrimPrefix(t, "Object name:"))
			if name == "" {
				return nil, fmt.Errorf("lsdef output line %d: object without a name", n)
			}
			imgs = append(imgs, OSImage{Name: name, Attrs: map[string]string{}})
		default:
			k, v, ok := strings.Cut(t, "=")
			if !ok || len(imgs) == 0 || line == t {
				return nil, fmt.Errorf("lsdef output line %d: want \"Object name: NAME\" or an indented attr=value, got %q", n, t)
			}
			imgs[len(imgs)-1].Attrs[strings.TrimSpace(k)] = v
		}
	}
	return imgs, sc.Err()
}

// IsNIM tells whether the osimage is an AIX (NIM) image.
func (img OSImage) IsNIM() bool { return strings.EqualFold(img.Attrs["imagetype"], "NIM") }

// NIMResource is one NIM resource to define for an osimage.
type NIMResource struct {
	Name     string
	Type     string // lpp_source, spot, installp_bundle, ...
	Location string // for spot: the directory that holds SPOTs (m_mkspot's location)
}

// NIMResources lists the NIM resources the osimage names, in the order
// xCAT creates them (NIMResourceTypes): each attribute holds resource
// NAMES, installp_bundle and script possibly several, comma separated.
// The location of each is locs[NAME] when given (what lsnim -l printed
// for it on a NIM master that knows it), else xCAT's convention
// (ConventionLocation). A name given twice is listed once.
func (img OSImage) NIMResources(installdir string, locs map[string]string) []NIMResource {
	var rs []NIMResource
	seen := map[string]bool{}
	add := func(typ, name string) {
		name = strings.TrimSpace(name)
		if name == "" || seen[name] {
			return
		}
		seen[name] = true
		loc := ConventionLocation(installdir, img.Name, typ, name)
		if l := locs[name]; l != "" {
			loc = l
			if typ == "spot" {
				loc = SpotParent(l)
			}
		}
		rs = append(rs, NIMResource{Name: name, Type: typ, Location: loc})
	}
	add("lpp_source", img.Attrs["lpp_source"])
	add("spot", img.Attrs["spot"])
	for _, t := range NIMResourceTypes {
		v := img.Attrs[t]
		if nimListTypes[t] {
			for _, n := range strings.Split(v, ",") {
				add(t, n)
			}
			continue
		}
		add(t, v)
	}
	return rs
}

// Item is the osimage as a fan-out item: its name, nimtype, every resource
// attribute (empty when absent, so templates may name them all) and
// "resources", the names of its NIM resources one a line (a list, as
// nim_exists' names takes it).
func (img OSImage) Item(installdir string) map[string]string {
	it := map[string]string{"name": img.Name, "nimtype": img.Attrs["nimtype"],
		"lpp_source": img.Attrs["lpp_source"], "spot": img.Attrs["spot"]}
	for _, t := range NIMResourceTypes {
		it[t] = img.Attrs[t]
	}
	var names []string
	for _, r := range img.NIMResources(installdir, nil) {
		names = append(names, r.Name)
	}
	it["resources"] = strings.Join(names, "\n")
	return it
}

// ParseLocations reads "lsnim -l" into each object's location (NAME ->
// location attribute); objects without one (machines, networks) are left
// out.
func ParseLocations(out string) (map[string]string, error) {
	objs, err := ParseLsnim(out)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, o := range objs {
		if l := o.Get("location"); l != "" {
			m[o.Name] = l
		}
	}
	return m, nil
}

// NIMObject is one object of "lsnim -l".
type NIMObject struct {
	Name  string
	Attrs map[string][]string // NIM may repeat an attribute (serves, if1, ...)
}

// Get returns the first value of attribute k.
func (o NIMObject) Get(k string) string {
	if v := o.Attrs[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// ParseLsnim parses "lsnim -l": "NAME:" lines followed by indented
// "attr = value" lines.
func ParseLsnim(out string) ([]NIMObject, error) {
	var objs []NIMObject
	sc := bufio.NewScanner(strings.NewReader(out))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		t := strings.TrimSpace(line)
		switch {
		case t == "":
		case line == t && strings.HasSuffix(t, ":") && !strings.Contains(t, " "):
			objs = append(objs, NIMObject{Name: strings.TrimSuffix(t, ":"), Attrs: map[string][]string{}})
		default:
			k, v, ok := strings.Cut(t, "=")
			if !ok || len(objs) == 0 {
				return nil, fmt.Errorf("lsnim output line %d: want \"NAME:\" or an indented \"attr = value\", got %q", n, t)
			}
			k = strings.TrimSpace(k)
			o := &objs[len(objs)-1]
			o.Attrs[k] = append(o.Attrs[k], strings.TrimSpace(v))
		}
	}
	return objs, sc.Err()
}

// Ensured is what ensureScript printed: the NIM objects it found, the
// ones it defined, in order, and the one lsnim could not look up.
type Ensured struct {
	Existing, Created []string
	LookupFailed      string
}

// ParseEnsured reads ensureScript's "existing=NAME", "created=NAME" and
// "lookup_failed=NAME" lines.
func ParseEnsured(out string) Ensured {
	var e Ensured
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		switch {
		case !ok:
		case k == "existing":
			e.Existing = append(e.Existing, v)
		case k == "created":
			e.Created = append(e.Created, v)
		case k == "lookup_failed":
			e.LookupFailed = v
		}
	}
	return e
}

// ParseMissing reads existsScript's output: the names lsnim does not
// know, one a line.
func ParseMissing(out string) []string { return strings.Fields(out) }

// sortedNames lists the names of imgs, sorted.
func sortedNames(imgs []OSImage) []string {
	names := make([]string, len(imgs))
	for i, img := range imgs {
		names[i] = img.Name
	}
	sort.Strings(names)
	return names
}
