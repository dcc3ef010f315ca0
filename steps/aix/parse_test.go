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
			"61cosi:standalone:61cosi_lpp_source 61cosi 61cosi_installp_bundle 61cosi_script",
			"61dskls:diskless:61dskls_lpp_source 61dskls 61dskls_root 61dskls_tmp 61dskls_home 61dskls_shared_home 61dskls_dump 61dskls_paging",
			"71bosi:standalone:71bosi_lpp_source 71bosi 71bosi_installp_bundle 71bosi_script",
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

func TestNIMResources(t *testing.T) {
	img := OSImage{Name: "61dskls", Attrs: map[string]string{
		"lpp_source": "61dskls_lpp_source", "spot": "61dskls", "root": "/install/nim/root/61dskls_root",
		"paging": "/install/nim/paging/61dskls_paging",
	}}
	want := []NIMResource{
		{"61dskls_lpp_source", "lpp_source", "/inst/nim/lpp_source/61dskls_lpp_source"},
		{"61dskls", "spot", "/inst/nim/spot/"},
		{"61dskls_root", "root", "/install/nim/root/61dskls_root"},
		{"61dskls_paging", "paging", "/install/nim/paging/61dskls_paging"},
	}
	if got := img.NIMResources("/inst"); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	cmds := []string{
		"nim -Fo define -t lpp_source -a server=master -a location=/inst/nim/lpp_source/61dskls_lpp_source 61dskls_lpp_source",
		"m_mkspot -o -a server=master -a location=/inst/nim/spot/ -a source=no 61dskls",
		"nim -Fo define -t root -a server=master -a location=/install/nim/root/61dskls_root 61dskls_root",
	}
	for i, c := range cmds {
		if got := defineCommand(want[i], "master"); got != c {
			t.Errorf("defineCommand(%v) =\n %s\nwant\n %s", want[i], got, c)
		}
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
