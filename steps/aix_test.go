package steps

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/remote"
)

func TestParseLssrc(t *testing.T) {
	tests := []struct {
		out  string
		want []Subsystem
	}{
		{"Subsystem         Group            PID          Status\n xcatd                             12345        active\n",
			[]Subsystem{{Name: "xcatd", PID: 12345, Status: "active"}}},
		{"Subsystem         Group            PID          Status\n dhcpsd           tcpip                         inoperative\n",
			[]Subsystem{{Name: "dhcpsd", Group: "tcpip", Status: "inoperative"}}},
		{"Subsystem         Group            PID          Status\n inetd            tcpip            4063        active\n",
			[]Subsystem{{Name: "inetd", Group: "tcpip", PID: 4063, Status: "active"}}},
	}
	for _, tt := range tests {
		got, err := ParseLssrc(tt.out)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseLssrc(%q) = %+v, %v; want %+v", tt.out, got, err, tt.want)
		}
	}
	if _, err := ParseLssrc(" xcatd  123 running\n"); err == nil {
		t.Error("unknown status parsed")
	}
}

func TestSRCIdempotent(t *testing.T) {
	dir := t.TempDir()
	// startsrc/stopsrc answer as AIX does for a subsystem already in the state.
	for name, msg := range map[string]string{
		"startsrc": "0513-029 The xcatd Subsystem is already active.",
		"stopsrc":  "0513-004 The Subsystem or Group, xcatd, is currently inoperative.",
	} {
		if err := os.WriteFile(dir+"/"+name, []byte("#!/bin/sh\n[ \"$2\" = xcatd ] || { echo '0513-085 The '$2' Subsystem is not on file.' >&2; exit 1; }\necho '"+msg+"' >&2\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	acts := textActions(&Env{Transport: remote.Router{Local: remote.Local{}}})
	for _, name := range []string{"startsrc", "stopsrc"} {
		o, err := acts[name].Run(context.Background(), Call{Args: map[string]string{"subsystem": "xcatd", "path": dir}})
		if err != nil || o.Outputs["changed"] != "no" {
			t.Errorf("%s on a subsystem already in place: %v %v", name, o.Outputs, err)
		}
		if _, err := acts[name].Run(context.Background(), Call{Args: map[string]string{"subsystem": "nosuch", "path": dir}}); err == nil || !strings.Contains(err.Error(), "0513-085") {
			t.Errorf("%s of an unknown subsystem: %v", name, err)
		}
	}
	if got := acts["stopsrc"].Describe("", map[string]string{"subsystem": "xcatd"}); got != "stopsrc -s xcatd" {
		t.Errorf("Describe = %q", got)
	}
}
