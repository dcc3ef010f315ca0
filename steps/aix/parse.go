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

// NIMResourceTypes are the osimage attributes, besides lpp_source and
// spot, that the guide (8.0 step 8) re-creates as NIM resources named
// <osimage>_<type> at the location the attribute holds, in this order
// (the nimimage attributes, perl-xCAT/xCAT/Schema.pm:3425-3490).
var NIMResourceTypes = []string{"installp_bundle", "script", "root", "shared_root", "tmp", "home", "shared_home", "dump", "paging"}

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

// NIMResources lists the resources the guide creates for an osimage, in
// the guide's order: the lpp_source under installdir/nim/lpp_source, the
// SPOT under installdir/nim/spot/, then <osimage>_<type> at the location
// of every other resource attribute the osimage has.
func (img OSImage) NIMResources(installdir string) []NIMResource {
	if installdir == "" {
		installdir = "/install"
	}
	var rs []NIMResource
	if v := img.Attrs["lpp_source"]; v != "" {
		rs = append(rs, NIMResource{Name: v, Type: "lpp_source", Location: path.Join(installdir, "nim/lpp_source", v)})
	}
	if v := img.Attrs["spot"]; v != "" {
		rs = append(rs, NIMResource{Name: v, Type: "spot", Location: path.Join(installdir, "nim/spot") + "/"})
	}
	for _, t := range NIMResourceTypes {
		if loc := img.Attrs[t]; loc != "" {
			rs = append(rs, NIMResource{Name: img.Name + "_" + t, Type: t, Location: loc})
		}
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
	for _, r := range img.NIMResources(installdir) {
		names = append(names, r.Name)
	}
	it["resources"] = strings.Join(names, "\n")
	return it
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
