package xcat

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestConsolesScript runs consolesScript under /bin/sh against fake
// servers and xCAT commands: goconserver first when installed, then
// conserver, else a message that says what to install.
func TestConsolesScript(t *testing.T) {
	for _, tt := range []struct {
		name      string
		installed []string // of goconserver, conserver
		server    string
		want      string // the command run, or the error's text
	}{
		{"goconserver", []string{"goconserver", "conserver"}, "auto", "makegocons cn01"},
		{"conserver", []string{"conserver"}, "auto", "makeconservercf cn01"},
		{"told", []string{"goconserver", "conserver"}, "conserver", "makeconservercf cn01"},
		{"none", nil, "auto", "no console server on this host"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, d := range []string{"usr/bin", "usr/sbin", "opt/xcat/sbin"} {
				os.MkdirAll(filepath.Join(dir, d), 0o755)
			}
			for _, s := range tt.installed {
				p := map[string]string{"goconserver": "usr/bin/goconserver", "conserver": "usr/sbin/conserver"}[s]
				os.WriteFile(filepath.Join(dir, p), []byte("#!/bin/sh\n"), 0o755)
			}
			for _, c := range []string{"makegocons", "makeconservercf"} {
				os.WriteFile(filepath.Join(dir, "opt/xcat/sbin", c), []byte("#!/bin/sh\necho \"ran "+c+" $*\"\n"), 0o755)
			}
			script := strings.NewReplacer("/usr/bin/goconserver", dir+"/usr/bin/goconserver", "/usr/sbin/conserver", dir+"/usr/sbin/conserver",
				"/opt/xcat/", dir+"/opt/xcat/").Replace(consolesScript(&ConsolesArgs{Server: tt.server, Nodes: "cn01"}))
			out, err := exec.Command("/bin/sh", "-c", script).CombinedOutput()
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("got %q (%v), want %q", out, err, tt.want)
			}
			if (err != nil) != (tt.name == "none") {
				t.Errorf("exit: %v", err)
			}
		})
	}
}
