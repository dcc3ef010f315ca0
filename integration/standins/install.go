package standins

import (
	"bytes"
	"embed"
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
// AIX the lpp_source directories (with a .toc), SPOTs, installp bundles,
// scripts and the directories of the other NIM resources; for Linux the
// package, other-package and root image directories. Call it for the
// primary only to test that the standby gets /install by synchronisation.
func SeedInstallDir(root, osType string) error {
	seed, err := SeedOSImages(osType)
	if err != nil {
		return err
	}
	objs, err := ParseStanzas(bytes.NewReader(seed))
	if err != nil {
		return err
	}
	at := func(p string) string { return filepath.Join(root, p) }
	mkdir := func(p string) error { return os.MkdirAll(at(p), 0o755) }
	for _, o := range objs {
		if osType == "aix" {
			lpp := "/install/nim/lpp_source/" + o.Attrs["lpp_source"]
			if err := writeIfMissing(at(lpp+"/.toc"), "0\n"); err != nil {
				return err
			}
			if err := mkdir(lpp + "/installp/ppc"); err != nil {
				return err
			}
			if err := mkdir("/install/nim/spot/" + o.Attrs["spot"] + "/usr/lpp/bos"); err != nil {
				return err
			}
			for _, t := range NIMResourceTypes {
				loc := o.Attrs[t]
				switch {
				case loc == "":
				case t == "installp_bundle" || t == "script":
					if err := writeIfMissing(at(loc), "# "+t+" for "+o.Name+"\n"); err != nil {
						return err
					}
				default:
					if err := mkdir(loc); err != nil {
						return err
					}
				}
			}
			continue
		}
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

// NIMResourceTypes are the osimage attributes, besides lpp_source and spot,
// that name NIM resources the HAMN guide re-creates on the standby.
var NIMResourceTypes = []string{"installp_bundle", "script", "root", "shared_root", "tmp", "home", "shared_home", "dump", "paging"}

func writeIfMissing(path, content string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o644)
}
