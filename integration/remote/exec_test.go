//go:build lab

package remote

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/integration/labtest"
)

// TestCommandsOnBothMNs runs a command on each MN over SSH, in parallel,
// and checks each ran where the inventory says: its output is the host's
// own name and address, and a later step sees both outputs.
func TestCommandsOnBothMNs(t *testing.T) {
	env := labtest.Up(t, labtest.Options{})
	pb := writePlaybook(t, env, "both", `name: both
description: a command on each MN
steps:
  - id: on_primary
    title: who is the primary
    host: "{{ .inv.primary.name }}"
    action: shell
    with: {cmd: "hostname; ip -4 -o addr show dev eth0 | grep -c ' {{ .inv.primary.address }}/'"}
  - id: on_standby
    title: who is the standby
    host: "{{ .inv.standby.name }}"
    action: shell
    with: {cmd: "hostname; ip -4 -o addr show dev eth0 | grep -c ' {{ .inv.standby.address }}/'"}
  - id: compare
    title: both answered
    needs: [on_primary, on_standby]
    action: shell
    with: {cmd: "test {{ quote .steps.on_primary.out.stdout }} != {{ quote .steps.on_standby.out.stdout }}"}
`)
	r := env.MustRun(t, 0, "run", pb)
	s := show(t, env, runID(t, r))
	for step, host := range map[string]string{"on_primary": "mn1", "on_standby": "mn2"} {
		st := s.step(t, step)
		if st.Host != host || st.Status != "succeeded" {
			t.Errorf("%s: host %q status %q, want %s succeeded", step, st.Host, st.Status, host)
		}
		if got := s.outputs(t, step)["stdout"]; got != host+"\n1" {
			t.Errorf("%s printed %q, want %q (its hostname, and its address on eth0)", step, got, host+"\n1")
		}
	}
}

// TestFanOutPerHostResults runs one command on 8 service nodes at once; one
// of them fails. The run fails, and the journal, the output and `show`
// tell per host which succeeded and why the other failed.
func TestFanOutPerHostResults(t *testing.T) {
	env := labtest.Up(t, labtest.Options{ServiceNodes: 8})
	pb := writePlaybook(t, env, "fanout", `name: fanout
description: one command on every service node
steps:
  - id: check_disk
    title: check the disk of {{ .item.name }}
    host: "{{ .item.name }}"
    foreach: {over: inv.groups.service_nodes, parallel: 8}
    action: shell
    with:
      cmd: |
        hostname
        if [ "$(hostname)" = sn05 ]; then echo "/install: no space left on sn05" >&2; exit 3; fi
    timeout: 30s
  - id: after
    title: runs only when every node passed
    needs: [check_disk]
    action: shell
    with: {cmd: "true"}
`)
	r := env.Run(t, "run", pb)
	if r.Exit != 1 {
		t.Fatalf("want exit 1 (a step failed), got %s", r)
	}
	if !strings.Contains(r.Combined(), "sn05") || !strings.Contains(r.Combined(), "no space left on sn05") {
		t.Errorf("the output does not name the failed host and its reason:\n%s", r)
	}
	s := show(t, env, runID(t, r))
	for i := 1; i <= 8; i++ {
		sn := fmt.Sprintf("sn%02d", i)
		st := s.step(t, "check_disk["+sn+"]")
		if st.Host != sn {
			t.Errorf("check_disk[%s] ran on %q", sn, st.Host)
		}
		if sn == "sn05" {
			if st.Status != "failed" || !strings.Contains(st.Message, "exit status 3") || !strings.Contains(st.Message, "no space left") {
				t.Errorf("check_disk[sn05]: status %q message %q, want failed with the exit status and stderr", st.Status, st.Message)
			}
			continue
		}
		if st.Status != "succeeded" {
			t.Errorf("check_disk[%s]: status %q message %q, want succeeded", sn, st.Status, st.Message)
		} else if got := s.outputs(t, "check_disk["+sn+"]")["stdout"]; got != sn {
			t.Errorf("check_disk[%s] printed %q", sn, got)
		}
	}
	for _, st := range s.Steps {
		if st.Step == "after" && st.Status == "succeeded" {
			t.Errorf("step after ran although check_disk[sn05] failed")
		}
	}
	if st := s.step(t, "check_disk"); st.Status != "failed" || !strings.Contains(st.Message, "1 of 8 failed: sn05") {
		t.Errorf("check_disk: status %q message %q, want failed naming sn05", st.Status, st.Message)
	}
	text := env.MustRun(t, 0, "show", runID(t, r)).Stdout
	for _, want := range []string{"check_disk[sn05]", "check_disk[sn01]"} {
		if !strings.Contains(text, want) {
			t.Errorf("show does not list %s:\n%s", want, text)
		}
	}
}
