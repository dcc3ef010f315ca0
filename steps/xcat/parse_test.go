package xcat

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// linuxOSImages is "lsdef -t osimage -l" as xCAT prints it
// (DBobjectdefs.pm:4124, 4237: sorted attributes, four spaces in).
const linuxOSImages = `Object name: rhels6.2-x86_64-install-compute
    imagetype=linux
    osvers=rhels6.2
    otherpkgdir=/install/post/otherpkgs/rhels6.2/x86_64
    otherpkglist=/install/custom/install/rh/compute.otherpkgs.pkglist
    pkglist=/install/custom/install/rh/compute.rhels6.pkglist
    postinstall=/install/custom/netboot/rh/compute.postinstall arg1
    synclists=/install/custom/syncfiles/a,/install/custom/syncfiles/b
    pkgdir=/install/rhels6.2/x86_64,/install/updates/rhels6.2
    provmethod=install
    template=/opt/xcat/share/xcat/install/rh/compute.rhels6.tmpl
Object name: sles11.1-ppc64-netboot-service
    pkgdir=/install/sles11.1/ppc64
    rootimgdir=/install/netboot/sles11.1/ppc64/service
`

func TestParseLsdef(t *testing.T) {
	got := ParseLsdef(linuxOSImages)
	if len(got) != 2 || got[0].Name != "rhels6.2-x86_64-install-compute" || got[1].Attrs["rootimgdir"] != "/install/netboot/sles11.1/ppc64/service" {
		t.Fatalf("ParseLsdef = %+v", got)
	}
	// Directories and the files of template, pkglist, otherpkglist,
	// synclists, exlist and postinstall (its first word) under /install:
	// /install/custom holds a site's own (Schema.pm, linuximage table).
	wantPaths := []string{"/install/custom/install/rh/compute.otherpkgs.pkglist", "/install/custom/install/rh/compute.rhels6.pkglist",
		"/install/custom/netboot/rh/compute.postinstall", "/install/custom/syncfiles/a", "/install/custom/syncfiles/b",
		"/install/post/otherpkgs/rhels6.2/x86_64", "/install/rhels6.2/x86_64", "/install/updates/rhels6.2"}
	if p := got[0].InstallPaths("/install/"); !reflect.DeepEqual(p, wantPaths) {
		t.Errorf("InstallPaths = %v, want %v", p, wantPaths)
	}
	if p := got[0].InstallPaths("/srv/install"); len(p) != 0 {
		t.Errorf("paths outside the install directory: %v", p)
	}
	for _, none := range []string{"", "Could not find any object definitions to display.\n"} {
		if got := ParseLsdef(none); len(got) != 0 {
			t.Errorf("ParseLsdef(%q) = %+v", none, got)
		}
	}
	short := ParseLsdef("61cosi  (osimage)\n71bosi  (osimage)\n")
	if len(short) != 2 || short[1].Name != "71bosi" {
		t.Errorf("short form: %+v", short)
	}
}

// The stand-ins' golden lsdef output (AIX osimages) parses; its NIM
// resource attributes are names, not install paths.
func TestParseLsdefStandinGolden(t *testing.T) {
	b, err := os.ReadFile("../../integration/standins/testdata/lsdef-osimage-aix.golden")
	if err != nil {
		t.Fatal(err)
	}
	objs := ParseLsdef(string(b))
	if len(objs) < 3 {
		t.Fatalf("parsed %d objects", len(objs))
	}
	dskls := objs[1]
	if dskls.Name != "61dskls" || dskls.Attrs["spot"] != "61dskls" || dskls.Attrs["root"] != "61dskls_root" {
		t.Fatalf("second object: %+v", dskls)
	}
	if got := dskls.InstallPaths("/install"); len(got) != 0 {
		t.Errorf("InstallPaths = %v: NIM resource names taken for paths", got)
	}
	linux := XObject{Name: "rh", Attrs: map[string]string{"pkgdir": "/install/rhels8/x86_64,/install/updates", "rootimgdir": "/install/netboot/rh", "root": "rh_root"}}
	if got, want := linux.InstallPaths("/install"), []string{"/install/netboot/rh", "/install/rhels8/x86_64", "/install/updates"}; !reflect.DeepEqual(got, want) {
		t.Errorf("InstallPaths = %v, want %v", got, want)
	}
}

func TestNodeLines(t *testing.T) {
	got := NodeLines("cn001: netboot\ncn002: netboot\nStarting goconserver service ...\nError: something: bad\nWarning: cn003: no mac\n")
	want := [][2]string{{"cn001", "netboot"}, {"cn002", "netboot"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NodeLines = %v, want %v", got, want)
	}
}

func TestMissingPaths(t *testing.T) {
	got := missingPaths("missing /install\nmissing /install/rhels6.2/x86_64\nsomething else\n")
	if want := []string{"/install", "/install/rhels6.2/x86_64"}; !reflect.DeepEqual(got, want) {
		t.Errorf("missingPaths = %q, want %q", got, want)
	}
}

// lsdef -l of the real lab's site, network and a node (xCAT 2.19), and a
// value with "=" in it as lsdef prints what `chdef xcatmaster=bogus=x`
// set (recorded on the lab).
func TestParseLsdefLabLong(t *testing.T) {
	raw, err := os.ReadFile("testdata/lsdef-lab-long.txt")
	if err != nil {
		t.Fatal(err)
	}
	objs := ParseLsdef(string(raw) + "Object name: cn02\n    xcatmaster=bogus=x\n")
	var names []string
	for _, o := range objs {
		names = append(names, o.Name)
	}
	if strings.Join(names, " ") != "clustersite 198_51_100_0-255_255_255_0 cn01 cn02" {
		t.Fatalf("objects %q", names)
	}
	for _, tc := range []struct{ obj, attr, want string }{
		{"clustersite", "master", "198.51.100.10"},
		{"clustersite", "SNsyncfiledir", "/var/xcat/syncfiles"},
		{"198_51_100_0-255_255_255_0", "dynamicrange", "198.51.100.200-198.51.100.250"},
		{"198_51_100_0-255_255_255_0", "dhcpserver", "198.51.100.10"},
		{"cn01", "postscripts", "syslog,remoteshell,syncfiles"},
		{"cn01", "xcatmaster", "198.51.100.10"},
		{"cn02", "xcatmaster", "bogus=x"},
	} {
		var got string
		for _, o := range objs {
			if o.Name == tc.obj {
				got = o.Attrs[tc.attr]
			}
		}
		if got != tc.want {
			t.Errorf("%s.%s = %q, want %q", tc.obj, tc.attr, got, tc.want)
		}
	}
	if n := len(objs[0].Attrs); n != 38 {
		t.Errorf("clustersite has %d attributes, want the 38 lsdef printed", n)
	}
}
