//go:build lab

package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/integration/standins"
)

func TestGetopt(t *testing.T) {
	tests := []struct {
		args     []string
		spec     string
		opts     string // "c=val c=val"
		operands []string
		err      bool
	}{
		{[]string{"-Fo", "define", "-t", "lpp_source", "-a", "server=master", "NAME"}, "Fo:t:a:", "F= o=define t=lpp_source a=server=master", []string{"NAME"}, false},
		{[]string{"-haixmn1", "-s", ""}, "h:s", "h=aixmn1 s=", []string{""}, false},
		{[]string{"NAME", "-o", "remove"}, "o:", "o=remove", []string{"NAME"}, false},
		{[]string{"-o", "-a", "x=1", "--", "-name"}, "oa:", "o= a=x=1", []string{"-name"}, false},
		{[]string{"-x"}, "o:", "", nil, true},
		{[]string{"-o"}, "o:", "", nil, true},
	}
	for _, tt := range tests {
		opts, operands, err := getopt(tt.args, tt.spec)
		if (err != nil) != tt.err {
			t.Errorf("getopt(%q): err %v", tt.args, err)
			continue
		}
		var got []string
		for _, o := range opts {
			got = append(got, fmt.Sprintf("%c=%s", o.c, o.val))
		}
		if strings.Join(got, " ") != tt.opts || !reflect.DeepEqual(operands, tt.operands) {
			t.Errorf("getopt(%q) = %q %q, want %q %q", tt.args, got, operands, tt.opts, tt.operands)
		}
	}
}

func TestParseMktcpip(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want tcpipConfig
		err  string
	}{
		{"guide, attached values", []string{"-haixmn1", "-a9.114.47.103", "-m255.255.255.192", "-ien1", "-g9.114.47.126", "-Ano", "-tN/A", "-s"},
			tcpipConfig{Host: "aixmn1", Addr: "9.114.47.103", Mask: "255.255.255.192", Iface: "en1", Gateway: "9.114.47.126", Autoconf: "no", Cable: "N/A", Start: true}, ""},
		{"separate values and empty -s value", []string{"-h", "aixmn1", "-a", "198.51.100.10", "-m", "255.255.255.0", "-i", "en1", "-A", "no", "-t", "N/A", "-s", ""},
			tcpipConfig{Host: "aixmn1", Addr: "198.51.100.10", Mask: "255.255.255.0", Iface: "en1", Autoconf: "no", Cable: "N/A", Start: true}, ""},
		{"missing interface", []string{"-h", "x", "-a", "198.51.100.10"}, tcpipConfig{}, "required"},
		{"bad address", []string{"-h", "x", "-a", "198.51.100", "-i", "en0"}, tcpipConfig{}, "not a valid address"},
		{"bad -A", []string{"-h", "x", "-a", "198.51.100.1", "-i", "en0", "-A", "maybe"}, tcpipConfig{}, "yes or no"},
		{"stray operand", []string{"-h", "x", "-a", "198.51.100.1", "-i", "en0", "extra"}, tcpipConfig{}, "unexpected"},
	}
	for _, tt := range tests {
		got, err := parseMktcpip(tt.args)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}

func TestMaskPrefix(t *testing.T) {
	tests := []struct {
		mask, addr string
		want       int
		err        bool
	}{
		{"255.255.255.192", "9.114.47.103", 26, false},
		{"255.255.255.0", "198.51.100.1", 24, false},
		{"255.255.0.0", "10.0.0.1", 16, false},
		{"255.255.255.255", "10.0.0.1", 32, false},
		{"", "9.114.47.103", 8, false},
		{"", "172.16.0.1", 16, false},
		{"", "198.51.100.1", 24, false},
		{"255.0.255.0", "10.0.0.1", 0, true},
		{"garbage", "10.0.0.1", 0, true},
	}
	for _, tt := range tests {
		got, err := maskPrefix(tt.mask, tt.addr)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("maskPrefix(%q, %q) = %d, %v; want %d", tt.mask, tt.addr, got, err, tt.want)
		}
	}
}

func TestMapInterface(t *testing.T) {
	has := func(names ...string) func(string) bool {
		return func(n string) bool {
			for _, x := range names {
				if x == n {
					return true
				}
			}
			return false
		}
	}
	tests := []struct {
		name   string
		exists func(string) bool
		want   string
	}{
		{"en1", has("eth0"), "eth0"},
		{"en1", has("en1", "eth0"), "en1"},
		{"en0", has(), "eth0"},
		{"eth1", has("eth0"), "eth1"},
	}
	for _, tt := range tests {
		if got := mapInterface(tt.name, tt.exists); got != tt.want {
			t.Errorf("mapInterface(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseCfgLoc(t *testing.T) {
	tests := []struct {
		in       string
		want     cfgLoc
		connInfo string
	}{
		{"Pg:dbname=xcatdb;host=198.51.100.10;port=5432|xcatadm|cluster\n",
			cfgLoc{Kind: "Pg", Conn: "dbname=xcatdb;host=198.51.100.10;port=5432", User: "xcatadm", Password: "cluster"},
			"dbname=xcatdb host=198.51.100.10 port=5432 user=xcatadm"},
		{"DB2:xcatdb|xcatdb|cluster", cfgLoc{Kind: "DB2", Conn: "xcatdb", User: "xcatdb", Password: "cluster"}, "xcatdb user=xcatdb"},
		{"SQLite:/etc/xcat", cfgLoc{Kind: "SQLite", Conn: "/etc/xcat"}, "/etc/xcat"},
		{"Pg:dbname=x|u|pa|ss", cfgLoc{Kind: "Pg", Conn: "dbname=x", User: "u", Password: "pa|ss"}, "dbname=x user=u"},
	}
	for _, tt := range tests {
		got, err := parseCfgLoc(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseCfgLoc(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if ci := got.pgConnInfo(); ci != tt.connInfo {
			t.Errorf("pgConnInfo(%q) = %q, want %q", tt.in, ci, tt.connInfo)
		}
	}
	if _, err := parseCfgLoc("nonsense"); err == nil {
		t.Error("parseCfgLoc accepted a line without a type")
	}
}

func TestParseDb2Select(t *testing.T) {
	want := []Node{{"cn1", "compute,all", "booted"}, {"sn 1", "", ""}, {"testnode", "compute", ""}}
	tests := map[string]string{
		"aligned CLP table after connect output": `
   Database Connection Information

 Database server        = DB2/AIX64 9.7.0
 SQL authorization ID   = XCATDB
 Local database alias   = XCATDB


NODE         GROUPS            STATUS
------------ ----------------- --------------------------------
cn1          compute,all       booted
sn 1         -                 -
testnode     compute           -

  3 record(s) selected.

`,
		// Rows that do not fit the heading's columns are split at blanks.
		"lower-case heading, ragged rows": "node  groups  status\n----- ------- ------\ncn1   compute,all booted\nsn 1  -       -\ntestnode compute -\n",
	}
	for name, out := range tests {
		got := parseDb2Select(out)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, want %+v", name, got, want)
		}
	}
	if got := parseDb2Select("NODE GROUPS STATUS\n---- ------ ------\n\n  0 record(s) selected.\n"); len(got) != 0 {
		t.Errorf("empty result = %+v", got)
	}
}

func TestDb2Script(t *testing.T) {
	got := db2Script("xcatdb", []string{"DELETE FROM nodelist WHERE node='it''s'"})
	for _, want := range []string{
		"out=$(db2 connect to 'xcatdb' 2>&1); rc=$?\n",
		`db2 'DELETE FROM nodelist WHERE node='\''it'\'''\''s'\'''; rc=$?` + "\n",
		"db2 connect reset >/dev/null 2>&1\nexit \"$rc\"\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("script lacks %q:\n%s", want, got)
		}
	}
	if got := sqlQuote("o'brien"); got != "'o''brien'" {
		t.Errorf("sqlQuote = %s", got)
	}
	if got := sqlQuote(""); got != "NULL" {
		t.Errorf("sqlQuote(\"\") = %s", got)
	}
}

func TestExpandNoderange(t *testing.T) {
	nodes := []standins.Object{
		nodeObject(Node{Name: "cn1", Groups: "compute,all"}),
		nodeObject(Node{Name: "cn2", Groups: "compute,all"}),
		nodeObject(Node{Name: "sn1", Groups: "service,all"}),
	}
	tests := []struct {
		tokens         []string
		names, unknown []string
	}{
		{[]string{"cn1"}, []string{"cn1"}, nil},
		{[]string{"compute"}, []string{"cn1", "cn2"}, nil},
		{[]string{"sn1", "all"}, []string{"sn1", "cn1", "cn2"}, nil},
		{[]string{"cn1", "ghost"}, []string{"cn1"}, []string{"ghost"}},
	}
	for _, tt := range tests {
		names, unknown := expandNoderange(tt.tokens, nodes)
		if !reflect.DeepEqual(names, tt.names) || !reflect.DeepEqual(unknown, tt.unknown) {
			t.Errorf("expandNoderange(%q) = %q, %q; want %q, %q", tt.tokens, names, unknown, tt.names, tt.unknown)
		}
	}
}

func TestMatchFault(t *testing.T) {
	rules := []standins.Fault{
		{Command: "nim", ArgsContain: "71bosi"},
		{Command: "/etc/init.d/xcatd", ArgsContain: "start"},
		{Command: "lsnim"},
	}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"nim", []string{"-Fo", "define", "71bosi_lpp_source"}, 0},
		{"nim", []string{"-Fo", "define", "61cosi_lpp_source"}, -1},
		{"/etc/init.d/xcatd", []string{"start"}, 1},
		{"/etc/init.d/xcatd", []string{"stop"}, -1},
		{"lsnim", nil, 2},
		{"lsdef", []string{"71bosi"}, -1},
	}
	for _, tt := range tests {
		if got := matchFault(rules, tt.name, tt.args); got != tt.want {
			t.Errorf("matchFault(%s %q) = %d, want %d", tt.name, tt.args, got, tt.want)
		}
	}
}

func TestParseDefArgs(t *testing.T) {
	d, err := parseDefArgs([]string{"-t", "osimage", "-l", "-o", "a,b", "c", "x=1", "-i", "lpp_source,spot"})
	if err != nil {
		t.Fatal(err)
	}
	if d.typ != "osimage" || !d.long || !reflect.DeepEqual(d.names, []string{"a", "b", "c"}) ||
		!reflect.DeepEqual(d.attrs, [][2]string{{"x", "1"}}) || !reflect.DeepEqual(d.only, []string{"lpp_source", "spot"}) {
		t.Errorf("parseDefArgs = %+v", d)
	}
	if _, err := parseDefArgs([]string{"--bogus"}); err == nil {
		t.Error("parseDefArgs accepted --bogus")
	}
	if _, err := parseDefArgs([]string{"-t"}); err == nil {
		t.Error("parseDefArgs accepted -t without a value")
	}
}
