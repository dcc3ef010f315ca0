package check

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/steps/act/acttest"
	"github.com/hamnflow/hamnflow/workflow"
)

var clockLine = regexp.MustCompile(`(?m)^(@@hf clock\n)[0-9.]+$`)

// TestPrereqAction runs prereq_check on recorded lab outputs: one script
// per MN (the plan's), a PASS/FAIL table, and a failure naming what is
// not met.
func TestPrereqAction(t *testing.T) {
	for _, tc := range []struct {
		name           string
		primary        string
		standby        string
		skew           int64
		edit           func(p, s string) (string, string)
		wantRows, fail []string
	}{
		{name: "good", primary: "lab_primary.txt", standby: "lab_standby.txt",
			wantRows: []string{
				"PASS  same operating system                        Debian GNU/Linux 12 (bookworm)",
				"PASS  same database version                        postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)",
				"PASS  primary resolves mn2                         198.51.100.12",
				"PASS  ssh primary -> standby",
				"PASS  ssh standby -> primary",
				"PASS  clock skew                                   0s (at most 5s)",
				"PASS  dhcpd stopped on the standby",
				"PASS  console server stopped on the standby",
				"all prerequisites met",
			}},
		{name: "broken", primary: "lab_primary.txt", standby: "lab_standby_faults.txt", skew: 600,
			edit: func(p, s string) (string, string) {
				return strings.Replace(p, "resolve=198.51.100.12", "resolve=", 1), s
			},
			wantRows: []string{
				"FAIL  primary resolves mn2                         mn1 does not resolve mn2: add it to /etc/hosts or DNS",
				"FAIL  clock skew                                   600s, more than 5s: synchronise the clocks (NTP, guide 4.0)",
				"FAIL  dhcpd stopped on the standby                 isc-dhcp-server is enabled at boot on the standby mn2",
				"PASS  ssh standby -> primary",
			},
			fail: []string{"primary resolves mn2", "clock skew", "dhcpd stopped on the standby"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, s := read(t, tc.primary), read(t, tc.standby)
			if tc.edit != nil {
				p, s = tc.edit(p, s)
			}
			rec := &acttest.Recorder{Answer: func(e acttest.Exec) acttest.Reply {
				out, off := p, int64(0)
				if e.Host == "mn2" {
					out, off = s, tc.skew
				}
				now := fmt.Sprint(time.Now().Unix() + off)
				return acttest.Reply{Stdout: clockLine.ReplaceAllString(out, "${1}"+now)}
			}}
			c := labConfig()
			a := Prereq{Env: acttest.Env(rec), Config: c}
			args := a.NewArgs().(*PrereqArgs)
			o, err := a.Run(context.Background(), workflow.Call{Args: args})
			for _, w := range tc.wantRows {
				if !strings.Contains(o.Stdout, w) {
					t.Errorf("no %q in\n%s", w, o.Stdout)
				}
			}
			switch {
			case tc.fail == nil && err != nil:
				t.Errorf("good prerequisites: %v", err)
			case tc.fail != nil && (err == nil || err.Error() != "prerequisites not met: "+strings.Join(tc.fail, ", ")):
				t.Errorf("error %v, want prerequisites not met: %s", err, strings.Join(tc.fail, ", "))
			}
			// What ran is what the plan says: one script per MN.
			plan := a.Plan("", args)
			ran := map[string]string{}
			for _, e := range rec.Execs() {
				ran[e.Host] = e.Script
			}
			if len(rec.Execs()) != 2 || "[on mn1] "+ran["mn1"] != plan[0] || "[on mn2] "+ran["mn2"] != plan[1] {
				t.Errorf("ran %d scripts, not the plan's", len(rec.Execs()))
			}
			if strings.Contains(ran["mn1"], "rsync") || strings.Contains(ran["mn2"], "psql") {
				t.Errorf("prereq runs the sync or database checks")
			}
		})
	}
}
