package aix

import (
	"os"
	"reflect"
	"testing"
)

func TestParseOSImages(t *testing.T) {
	golden, err := os.ReadFile("../../integration/standins/testdata/lsdef-osimage-aix.golden")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		out     string
		want    []string // name:nimtype:resources
		wantErr bool
	}{
		{"stand-in golden", string(golden), []string{
			"61cosi:standalone:61cosi_lpp_source 61cosi 61cosi_bosinst_data xCATaixSSH mypkgs xcataixscript",
			"61dskls:diskless:61dskls_lpp_source 61dskls 61dskls_resolv_conf 61dskls_root 61dskls_tmp 61dskls_home 61dskls_shared_home 61dskls_dump 61dskls_paging",
			"71bosi:standalone:71bosi_lpp_source 71bosi 71bosi_bosinst_data xCATaixSN71 71bosi_script",
			"71sdskls:diskless:71sdskls_lpp_source 71sdskls 71sdskls_shared_root 71sdskls_dump 71sdskls_paging",
		}, false},
		{"none", "Could not find any object definitions to display.\n", nil, false},
		{"value with =", "Object name: x\n    imagetype=NIM\n    comments=a=b\n", []string{"x::"}, false},
		{"attribute before object", "    imagetype=NIM\n", nil, true},
		{"unindented attribute", "Object name: x\nimagetype=NIM\n", nil, true},
		{"object without a name", "Object name: \n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imgs, err := ParseOSImages(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			var got []string
			for _, img := range imgs {
				it := img.Item("/install")
				got = append(got, it["name"]+":"+it["nimtype"]+":"+spaced(it["resources"]))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n %q\nwant\n %q", got, tt.want)
			}
		})
	}
}

func spaced(lines string) string {
	b := []byte(lines)
	for i := range b {
		if b[i] == '\n' {
			b[i] = ' '
		}
	}
	return string(b)
}

// TestNIMResources: an osimage's attributes hold NIM resource NAMES
// (Schema.pm nimimage, mknimimage.1.pod), installp_bundle and script
// comma lists; locations come from lsnim -l when known, else xCAT's
// convention (aixinstall.pm).
func TestNIMResources(t *testing.T) {
	tests := []struct {
		name string
		img  OSImage
		locs map[string]string
		want []NIMResource
	}{
		{"mknimimage rte image with installp_bundle b1,b2 and bosinst_data",
			OSImage{Name: "61cosi", Attrs: map[string]string{"lpp_source": "61cosi_lpp_source", "spot": "61cosi",
				"bosinst_data": "61cosi_bosinst_data", "installp_bundle": "b1,b2", "nimmethod": "rte", "otherpkgs": "I:openssh.base"}},
			map[string]string{"b1": "/install/nim/installp_bundle/b1.bnd", "b2": "/export/bundles/b2.bnd",
				"61cosi": "/install/nim/spot/61cosi/usr", "unrelated": "/x"},
			[]NIMResource{
				{"61cosi_lpp_source", "lpp_source", "/inst/nim/lpp_source/61cosi_lpp_source"},
				{"61cosi", "spot", "/install/nim/spot/"},
				{"61cosi_bosinst_data", "bosinst_data", "/inst/nim/bosinst_data/61cosi_bosinst_data"},
				{"b1", "installp_bundle", "/install/nim/installp_bundle/b1.bnd"},
				{"b2", "installp_bundle", "/export/bundles/b2.bnd"},
			}},
		{"diskless image by convention",
			OSImage{Name: "61dskls", Attrs: map[string]string{"lpp_source": "61dskls_lpp_source", "spot": "61dskls",
				"root": "61dskls_root", "paging": "61dskls_paging", "dump": "61dskls_dump", "shared_home": "61dskls_shared_home",
				"resolv_conf": "61dskls_resolv_conf", "script": "xcataixscript, s2", "res_group": "grp"}},
			nil,
			[]NIMResource{
				{"61dskls_lpp_source", "lpp_source", "/inst/nim/lpp_source/61dskls_lpp_source"},
				{"61dskls", "spot", "/inst/nim/spot/"},
				{"xcataixscript", "script", "/inst/nim/scripts/xcataixscript"},
				{"s2", "script", "/inst/nim/scripts/s2"},
				{"61dskls_resolv_conf", "resolv_conf", "/inst/nim/resolv_conf/61dskls_resolv_conf/resolv.conf"},
				{"61dskls_root", "root", "/inst/nim/root/61dskls_root"},
				{"61dskls_shared_home", "shared_home", "/inst/nim/shared_home/61dskls_shared_home"},
				{"61dskls_dump", "dump", "/inst/nim/dump/61dskls_dump"},
				{"61dskls_paging", "paging", "/inst/nim/paging/61dskls_paging"},
			}},
		{"mksysb image, fb_script, image_data, a name twice",
			OSImage{Name: "71sysb", Attrs: map[string]string{"mksysb": "71sysb_mksysb", "spot": "71sysb_spot",
				"bosinst_data": "bd", "fb_script": "fb1", "image_data": "id1", "script": "fb1"}},
			nil,
			[]NIMResource{
				{"71sysb_spot", "spot", "/inst/nim/spot/"},
				{"bd", "bosinst_data", "/inst/nim/bosinst_data/bd"},
				{"fb1", "script", "/inst/nim/scripts/fb1"},
				{"id1", "image_data", "/inst/nim/image_data/id1"},
				{"71sysb_mksysb", "mksysb", "/inst/nim/mksysb/71sysb/71sysb_mksysb"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.img.NIMResources("/inst", tt.locs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	want := tests[0].want
	cmds := []string{
		"nim -Fo define -t lpp_source -a server=master -a location=/inst/nim/lpp_source/61cosi_lpp_source 61cosi_lpp_source",
		"m_mkspot -o -a server=master -a location=/install/nim/spot/ -a source=no 61cosi",
		"nim -Fo define -t bosinst_data -a server=master -a location=/inst/nim/bosinst_data/61cosi_bosinst_data 61cosi_bosinst_data",
		"nim -Fo define -t installp_bundle -a server=master -a location=/install/nim/installp_bundle/b1.bnd b1",
	}
	for i, c := range cmds {
		if got := defineCommand(want[i], "master"); got != c {
			t.Errorf("defineCommand(%v) =\n %s\nwant\n %s", want[i], got, c)
		}
	}
}

func TestParseLocations(t *testing.T) {
	got, err := ParseLocations("master:\n   class = machines\n   type = master\nb1:\n   class = resources\n   type = installp_bundle\n   location = /install/nim/installp_bundle/b1.bnd\n")
	if err != nil || !reflect.DeepEqual(got, map[string]string{"b1": "/install/nim/installp_bundle/b1.bnd"}) {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestParseLsnim(t *testing.T) {
	out := `master:
   class               = machines
   type                = master
   serves              = boot
   serves              = nim_script
61cosi:
   class         = resources
   type          = spot
   location      = /install/nim/spot/61cosi/usr
`
	objs, err := ParseLsnim(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].Name != "master" || !reflect.DeepEqual(objs[0].Attrs["serves"], []string{"boot", "nim_script"}) ||
		objs[1].Get("location") != "/install/nim/spot/61cosi/usr" || objs[1].Get("type") != "spot" {
		t.Errorf("got %+v", objs)
	}
	if _, err := ParseLsnim("   class = machines\n"); err == nil {
		t.Error("an attribute before any object parsed")
	}
}

func TestParseEnsured(t *testing.T) {
	got := ParseEnsured("existing=61cosi_lpp_source\ncreated=61cosi\nnoise = x\ncreated=61cosi_installp_bundle\nlookup_failed=61cosi_script\n")
	want := Ensured{Existing: []string{"61cosi_lpp_source"}, Created: []string{"61cosi", "61cosi_installp_bundle"}, LookupFailed: "61cosi_script"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := ParseMissing("nope\n61cosi_script\n"); !reflect.DeepEqual(got, []string{"nope", "61cosi_script"}) {
		t.Errorf("ParseMissing = %q", got)
	}
}
