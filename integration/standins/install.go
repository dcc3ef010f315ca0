package standins

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

//go:embed seed/*.stanza
var seedFS embed.FS

// SeedOSImages returns the osimage stanza file Install lays down for osType
// ("linux" or "aix").
func SeedOSImages(osType string) ([]byte, error) {
	switch osType {
	case "linux", "aix":
		return seedFS.ReadFile("seed/" + osType + "-osimages.stanza")
	}
	return nil, fmt.Errorf("standins: unknown os type %q (want linux or aix)", osType)
}

// initScript is the LSB init script of one service: it hands over to the
// stand-in program, which records the call and drives the daemon.
const initScript = `#!/bin/sh
### BEGIN INIT INFO
# Provides:          %[1]s
# Required-Start:    $network $remote_fs
# Required-Stop:     $network $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: %[1]s (hamnflow lab stand-in)
### END INIT INFO
exec "${XCAT_STANDIN_ROOT:-}%[2]s" /etc/init.d/%[1]s "$@"
`

// Install lays the stand-ins into the host whose root directory is root:
// the program exe is copied to /opt/xcat/standin/xcat-standin, xCAT's and
// AIX's command names become relative symlinks to it, the init scripts go
// to /etc/init.d, and /opt/xcat/var gets the seed osimage definitions for
// osType ("linux" or "aix"). Recorded calls, nodes, NIM state and faults
// already in root are kept, so Install may be run again to update the
// program.
func Install(root, exe, osType string) error {
	seed, err := SeedOSImages(osType)
	if err != nil {
		return err
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		return fmt.Errorf("standins: read program: %w", err)
	}
	at := func(p string) string { return filepath.Join(root, p) }
	for _, d := range []string{StandinDir, XCATBinDir, XCATSbinDir, AIXBinDir, NIMMethods, InitDir, VarDir, RunDir, LogDir} {
		if err := os.MkdirAll(at(d), 0o755); err != nil {
			return err
		}
	}
	// Rename over the old program so that running daemons keep theirs.
	if err := WriteFileAtomic(at(StandinExe), bin, 0o755); err != nil {
		return fmt.Errorf("standins: install program: %w", err)
	}
	links := map[string]string{}
	for _, c := range XCATBinCommands {
		links[XCATBinDir+"/"+c] = relStandin
	}
	for _, c := range XCATSbinCommands {
		links[XCATSbinDir+"/"+c] = relStandin
	}
	for _, c := range AIXCommands {
		links[AIXBinDir+"/"+c] = relFromAIX
	}
	links[NIMMethods+"/m_mkspot"] = relFromMeth
	for link, target := range links {
		if err := os.Remove(at(link)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.Symlink(target, at(link)); err != nil {
			return err
		}
	}
	for _, s := range InitScripts {
		script := fmt.Sprintf(initScript, s, StandinExe)
		if err := WriteFileAtomic(at(InitDir+"/"+s), []byte(script), 0o755); err != nil {
			return err
		}
	}
	if err := WriteFileAtomic(at(OSImages), seed, 0o644); err != nil {
		return err
	}
	if osType == "aix" {
		// What xcatconfig leaves in /etc/inittab on AIX
		// (xCAT-server/sbin/xcatconfig line 381, perl-xCAT/xCAT/Utils.pm
		// line 3317): xcatd and conserver start at boot.
		if err := writeIfMissing(at("/etc/inittab"), "xcatd:2:once:/opt/xcat/sbin/restartxcatd > /dev/console 2>&1\n"+
			"conserver:2:once:/usr/bin/startsrc -s conserver > /dev/console 2>&1\n"); err != nil {
			return err
		}
	}
	// The files xCAT itself ships that the Linux osimages name.
	objs, err := ParseStanzas(bytes.NewReader(seed))
	if err != nil {
		return err
	}
	for _, o := range objs {
		for _, a := range []string{"template", "pkglist", "otherpkglist", "exlist", "postinstall"} {
			if p := o.Attrs[a]; strings.HasPrefix(p, "/opt/xcat/share/") {
				if err := writeIfMissing(at(p), "# "+a+" shipped with xCAT (lab stand-in)\n"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// SeedInstallDir fills root's /install with the deployment files the seed
// osimages of osType refer to, as found on a primary management node: for
// AIX each NIM resource's location (SeedLocations: lpp_source directories
// with a .toc, SPOTs, bundle, script, bosinst_data and resolv.conf files,
// the directories of the diskless resources); for Linux the package,
// other-package and root image directories. On AIX it also writes the
// primary's NIM database (SeedNIM). Call it for the primary only
// to test that the standby gets /install by synchronisation.
func SeedInstallDir(root, osType string) error {
	at := func(p string) string { return filepath.Join(root, p) }
	mkdir := func(p string) error { return os.MkdirAll(at(p), 0o755) }
	if osType == "aix" {
		rs, err := SeedNIMResources()
		if err != nil {
			return err
		}
		for _, r := range rs {
			var err error
			switch r.Type {
			case "lpp_source":
				if err = writeIfMissing(at(r.Location+"/.toc"), "0\n"); err == nil {
					err = mkdir(r.Location + "/installp/ppc")
				}
			case "spot":
				err = mkdir(r.Location + "/lpp/bos")
			case "root", "shared_root", "tmp", "home", "shared_home", "dump", "paging":
				err = mkdir(r.Location)
			default: // files: bundles, scripts, bosinst_data, resolv.conf, ...
				err = writeIfMissing(at(r.Location), "# "+r.Type+" "+r.Name+"\n")
			}
			if err != nil {
				return err
			}
		}
		// The primary is the NIM master that made them.
		return SeedNIM(root)
	}
	seed, err := SeedOSImages(osType)
	if err != nil {
		return err
	}
	objs, err := ParseStanzas(bytes.NewReader(seed))
	if err != nil {
		return err
	}
	for _, o := range objs {
		for _, a := range []string{"pkgdir", "otherpkgdir", "rootimgdir"} {
			if p := o.Attrs[a]; p != "" {
				if err := mkdir(p); err != nil {
					return err
				}
			}
		}
		if p := o.Attrs["pkgdir"]; p != "" {
			if err := writeIfMissing(at(p+"/.treeinfo"), "[general]\nfamily = "+o.Attrs["osvers"]+"\n"); err != nil {
				return err
			}
		}
	}
	return nil
}

// NIMResourceTypes are the osimage attributes besides lpp_source and spot
// that name NIM resources (the nimimage table's resource columns,
// perl-xCAT/xCAT/Schema.pm:1422-1446).
var NIMResourceTypes = []string{"bosinst_data", "installp_bundle", "script", "fb_script", "resolv_conf", "image_data",
	"mksysb", "root", "shared_root", "tmp", "home", "shared_home", "dump", "paging"}

// NIMListTypes may name several resources, comma separated (Schema.pm:1443;
// aixinstall.pm:10388 splits installp_bundle and script).
var NIMListTypes = map[string]bool{"installp_bundle": true, "script": true}

// ResourceNames lists the NIM resources an osimage names, with their
// types: lpp_source, spot, then the other attributes, comma lists split.
func ResourceNames(img Object) [][2]string {
	var out [][2]string
	add := func(typ, v string) {
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				out = append(out, [2]string{typ, n})
			}
			if !NIMListTypes[typ] {
				break
			}
		}
	}
	add("lpp_source", img.Attrs["lpp_source"])
	add("spot", img.Attrs["spot"])
	for _, t := range NIMResourceTypes {
		add(t, img.Attrs[t])
	}
	return out
}

// SeedResource is one NIM resource of the seed primary's NIM database.
type SeedResource struct{ Name, Type, Location string }

// seedOddLocations are the seed resources an administrator put where he
// chose, not where xCAT's convention would (a bundle as in
// xCAT-client/pods/man1/nimnodecust.1.pod:29): NIM re-creation must take
// them from lsnim -l.
var seedOddLocations = map[string]string{"mypkgs": "/install/nim/mypkgs.bnd"}

// SeedNIMResources are the NIM resources the seed AIX osimages name, each
// where xCAT made it: lpp_source /install/nim/lpp_source/NAME
// (aixinstall.pm:3882), SPOT /install/nim/spot/NAME/usr (m_mkspot under
// /install/nim/spot, aixinstall.pm:4343, 10557-10566), bosinst_data
// /install/nim/bosinst_data/NAME (4490, 4551), resolv_conf
// /install/nim/resolv_conf/NAME/resolv.conf (5032-5034), scripts under
// /install/nim/scripts (8733-8755), bundles under
// /install/nim/installp_bundle with a .bnd, the diskless directories
// /install/nim/TYPE/NAME (7273, 7159).
func SeedNIMResources() ([]SeedResource, error) {
	seed, err := SeedOSImages("aix")
	if err != nil {
		return nil, err
	}
	objs, err := ParseStanzas(bytes.NewReader(seed))
	if err != nil {
		return nil, err
	}
	var rs []SeedResource
	seen := map[string]bool{}
	for _, o := range objs {
		for _, tn := range ResourceNames(o) {
			typ, name := tn[0], tn[1]
			if seen[name] {
				continue
			}
			seen[name] = true
			loc := "/install/nim/" + typ + "/" + name
			switch typ {
			case "spot":
				loc = "/install/nim/spot/" + name + "/usr"
			case "resolv_conf":
				loc = "/install/nim/resolv_conf/" + name + "/resolv.conf"
			case "script":
				loc = "/install/nim/scripts/" + name
			case "installp_bundle":
				loc = "/install/nim/installp_bundle/" + name + ".bnd"
			}
			if l, ok := seedOddLocations[name]; ok {
				loc = l
			}
			rs = append(rs, SeedResource{name, typ, loc})
		}
	}
	return rs, nil
}

// SeedNIM writes the primary's NIM database (the stand-in's nim.json): the
// master and every seed resource at its location, as lsnim -l shows them
// on the management node that made them.
func SeedNIM(root string) error {
	rs, err := SeedNIMResources()
	if err != nil {
		return err
	}
	type attr struct {
		K string `json:"k"`
		V string `json:"v"`
	}
	type object struct {
		Name  string `json:"name"`
		Class string `json:"class"`
		Type  string `json:"type"`
		Attrs []attr `json:"attrs"`
	}
	st := struct {
		Master  bool     `json:"master_initialized"`
		Objects []object `json:"objects"`
	}{Master: true}
	st.Objects = append(st.Objects, object{"master", "machines", "master", []attr{{"Cstate", "ready for a NIM operation"}, {"reserved", "yes"}}})
	for _, r := range rs {
		st.Objects = append(st.Objects, object{r.Name, "resources", r.Type, []attr{
			{"Rstate", "ready for use"}, {"prev_state", "unavailable for use"}, {"location", r.Location},
			{"alloc_count", "0"}, {"server", "master"}}})
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(root, NIMState)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}

func writeIfMissing(path, content string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o644)
}
