//go:build lab

package db2model

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/db2"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// modelTransport runs an action's scripts on a model host: its sqllib/bin
// first on PATH and its environment.
type modelTransport struct{ h *host }

func (m modelTransport) Exec(ctx context.Context, _ remote.Host, c remote.Command) (remote.Result, error) {
	var pre strings.Builder
	for _, e := range m.h.env {
		if k, v, ok := strings.Cut(e, "="); ok && (strings.HasPrefix(k, "DB2") || k == "HOME") {
			pre.WriteString(k + "=" + remote.ShellQuote(v) + "; export " + k + "\n")
		}
	}
	pre.WriteString("PATH=" + remote.ShellQuote(m.h.bin) + ":$PATH; export PATH\n")
	c.Script = pre.String() + c.Script
	c.AsUser = ""
	return remote.Local{}.Exec(ctx, remote.Host{Name: "local", Local: true}, c)
}

func (modelTransport) Close() error { return nil }

// takeoverAction is hamnflow's db2_takeover acting on model host h.
func takeoverAction(h *host, with map[string]any) (workflow.Outcome, string, error) {
	env := &act.Env{Transport: modelTransport{h}, Hosts: func(name string) (remote.Host, error) { return remote.Host{Name: name}, nil }}
	a := db2.Actions(env, db2.Settings{})["db2_takeover"]
	args := a.NewArgs()
	if errs := args.(workflow.ArgDecoder).DecodeArgs(with, nil); len(errs) > 0 {
		h.t.Fatalf("args: %v", errs)
	}
	var out bytes.Buffer
	o, err := a.Run(context.Background(), workflow.Call{Host: h.name, Args: args, Output: &out})
	return o, out.String(), err
}

// TestTakeoverThroughHADRTimeout: the primary's host dies without closing
// its connection (Hang). Until HADR_TIMEOUT the standby still reports
// Peer/Connected, so the takeover is graceful and fails with SQL1770N
// reason code 7; hamnflow reads the state again and retries for 2 x
// HADR_TIMEOUT, as the ClusterLabs agent does. A primary that comes back
// within the window (a hang, a reboot) is taken over gracefully; one that
// stays dead by force inside the peer window.
func TestTakeoverThroughHADRTimeout(t *testing.T) {
	for _, tc := range []struct {
		name     string
		hang     time.Duration
		kind     string
		oldRole  string
		commands string
	}{
		{"primary back: graceful", 3 * time.Second, "graceful", db2.RoleStandby, "TAKEOVER HADR ON DATABASE XCATDB"},
		{"primary dead: peer window only", time.Minute, "by force peer window only", "", "TAKEOVER HADR ON DATABASE XCATDB BY FORCE PEER WINDOW ONLY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := setup(t, 2, 30)
			if err := Hang(pr.p.store.Dir, "XCATDB", tc.hang); err != nil {
				t.Fatal(err)
			}
			if s, err := pr.s.hadr(); err != nil || !isState(db2.RoleStandby, db2.StatePeer, db2.ConnConnected)(s) {
				t.Fatalf("standby right after the primary died: %+v %v", s, err)
			}
			o, said, err := takeoverAction(pr.s, map[string]any{})
			if err != nil {
				t.Fatalf("takeover: %v\n%s", err, o.Stdout)
			}
			if !strings.Contains(said, "SQL1770N reason code 7") || !strings.Contains(said, "2 x HADR_TIMEOUT = 4s") {
				t.Errorf("the step did not say it retries and for how long:\n%s", said)
			}
			if o.Outputs["kind"] != tc.kind || o.Outputs["command"] != tc.commands || o.Outputs["attempts"] != "2" || o.Outputs["role"] != db2.RolePrimary {
				t.Errorf("outputs %v\n%s", o.Outputs, o.Stdout)
			}
			if tc.oldRole != "" {
				pr.p.waitHADR("old primary is the standby", 5*time.Second, isState(tc.oldRole, db2.StatePeer, db2.ConnConnected))
			}
		})
	}
}
