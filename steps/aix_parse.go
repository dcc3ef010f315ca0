package steps

import (
	"bufio"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// OSImage is one xCAT osimage definition as "lsdef -t osimage -l" prints it.
type OSImage struct {
	Name  string
	Attrs map[string]string
}

// NIMResourceTypes are the osimage attributes, besides lpp_source and
// spot, that the guide (8.0 step 8) re-creates as NIM resources named
// <osimage>_<type> at the location the attribute holds, in this order.
var NIMResourceTypes = []string{"installp_bundle", "script", "root", "shared_root", "tmp", "home", "shared_home", "dump", "paging"}

// ParseOSImages parses "lsdef -t osimage -l": "Object name: NAME" lines,
// each followed by indented "attr=value" lines. xCAT's "Could not find
// any object definitions to display." means none.
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
// "resources", the comma-separated names of its NIM resources.
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
	it["resources"] = strings.Join(names, ",")
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

// Subsystem is one line of AIX's lssrc.
type Subsystem struct {
	Name, Group string
	PID         int // 0 when not running
	Status      string
}

// Active tells whether the subsystem runs.
func (s Subsystem) Active() bool { return s.Status == "active" }

// ParseLssrc parses "lssrc -s NAME" / "lssrc -a": a header, then lines of
// subsystem, optional group, optional PID and status.
func ParseLssrc(out string) ([]Subsystem, error) {
	var subs []Subsystem
	for n, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == "Subsystem" {
			continue
		}
		s := Subsystem{Name: f[0], Status: f[len(f)-1]}
		if s.Status != "active" && s.Status != "inoperative" && s.Status != "stopping" {
			return nil, fmt.Errorf("lssrc output line %d: unknown status %q", n+1, s.Status)
		}
		mid := f[1 : len(f)-1]
		if len(mid) > 0 {
			if pid, err := strconv.Atoi(mid[len(mid)-1]); err == nil {
				s.PID, mid = pid, mid[:len(mid)-1]
			}
		}
		if len(mid) > 0 {
			s.Group = mid[0]
		}
		subs = append(subs, s)
	}
	return subs, nil
}

// sortedNames lists the names of imgs, sorted.
func sortedNames(imgs []OSImage) []string {
	names := make([]string, len(imgs))
	for i, img := range imgs {
		names[i] = img.Name
	}
	sort.Strings(names)
	return names
}
