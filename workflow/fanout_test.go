package workflow_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/workflow"
)

const fanOutPlaybook = `name: fan
steps:
  - id: prepare
    action: do
  - id: deploy
    title: Deploy {{ .item.name }}
    needs: [prepare]
    host: "{{ .item.name }}"
    foreach:
      over: inv.groups.service_nodes
      parallel: %d
    action: need
    with:
      target: "{{ .item.name }}"
  - id: report
    needs: [deploy]
    action: do
    with:
      say: '{{ range .steps.deploy.items }}{{ .name }}={{ .state }} {{ end }}'
`

func TestFanOut(t *testing.T) {
	for _, bound := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("parallel %d", bound), func(t *testing.T) {
			h := newHarness(t, fmt.Sprintf(fanOutPlaybook, bound))
			h.e.Parallel = 8
			g := newGate()
			h.w.on("need", "deploy", func(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
				o, err := g.hook(ctx, c)
				o.Outputs = map[string]string{"state": "ok-" + argsOf(c)["target"]}
				return o, err
			})
			done := make(chan error, 1)
			var id string
			go func() {
				var err error
				id, err = h.start(testCtx(t))
				done <- err
			}()
			g.drive(t, 3, bound)
			wantRunErr(t, <-done, nil)
			if m := g.max.Load(); m != int32(bound) {
				t.Errorf("%d children ran at once, want %d", m, bound)
			}
			evs := h.events(id)
			for _, sn := range []string{"sn01", "sn02", "sn03"} {
				key := "deploy[" + sn + "]"
				if s := find(evs, "started", key); len(s) != 1 || s[0].Host != sn || s[0].Message != "Deploy "+sn {
					t.Errorf("%s: started events %+v", key, s)
				}
				if len(find(evs, "succeeded", key)) != 1 {
					t.Errorf("%s: not journaled as succeeded", key)
				}
				if c, _ := h.w.last("need", key); c.Args["target"] != sn || c.Host != sn {
					t.Errorf("%s: call %+v", key, c)
				}
			}
			fo := find(evs, "fan-out", "deploy")
			if len(fo) != 1 || len(fo[0].Items) != 3 || fo[0].Message != "3 items from inv.groups.service_nodes" {
				t.Errorf("fan-out events %+v", fo)
			}
			if s := find(evs, "succeeded", "deploy"); len(s) != 1 || s[0].Message != "3 of 3 succeeded" {
				t.Errorf("parent succeeded events %+v", s)
			}
			if c, _ := h.w.last("do", "report"); c.Args["say"] != "sn01=ok-sn01 sn02=ok-sn02 sn03=ok-sn03 " {
				t.Errorf("report got %q, want the children's outputs in item order", c.Args["say"])
			}
			checkNeedsOrder(t, h.pb, evs)
			if r := h.run(id); r.Done != 3 || r.Steps != 3 {
				t.Errorf("run done %d/%d, want 3/3 (children not counted)", r.Done, r.Steps)
			}
		})
	}
}

func TestFanOutOverStepItems(t *testing.T) {
	h := newHarness(t, `name: items
steps:
  - id: list
    action: do
    with:
      items: alpha,be,c
  - id: build
    needs: [list]
    foreach:
      over: steps.list.items
    action: do
    with:
      say: "{{ .item.name }}:{{ .item.size }}"
  - id: none
    foreach:
      over: inv.groups.empty
    action: do
  - id: after_none
    needs: [none]
    action: do
`)
	id, err := h.start(testCtx(t))
	wantRunErr(t, err, nil)
	got := map[string]string{}
	for _, k := range []string{"alpha", "be", "c"} {
		c, _ := h.w.last("do", "build["+k+"]")
		got[k] = c.Args["say"]
	}
	if want := map[string]string{"alpha": "alpha:5", "be": "be:2", "c": "c:1"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("children got %v, want %v", got, want)
	}
	st := h.status(id)
	if st["none"] != "succeeded" || st["after_none"] != "succeeded" {
		t.Errorf("an empty fan-out: %v", st)
	}
}

func TestFanOutDuplicateKeys(t *testing.T) {
	h := newHarness(t, `name: dup
steps:
  - id: list
    action: do
    with:
      items: a,b,a
  - id: each
    needs: [list]
    foreach:
      over: steps.list.items
    action: do
`)
	id, err := h.start(testCtx(t))
	wantRunErr(t, err, workflow.ErrStepFailed)
	if f := find(h.events(id), "failed", "each"); len(f) != 1 || !strings.Contains(f[0].Message, `has no unique "name"`) {
		t.Errorf("failed events %+v", f)
	}
	if n := len(h.w.steps("do")); n != 1 {
		t.Errorf("%d calls, want only list's", n)
	}
}

// TestFanOutChildFails checks that one failing child fails its parent
// while its siblings run to their end, and that resume runs only the
// failed child again.
func TestFanOutChildFails(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(fanOutPlaybook, 1)) // one at a time: sn03 starts after sn02 failed
	broken := true
	h.w.on("need", "deploy", func(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
		if argsOf(c)["target"] == "sn02" && broken {
			return exitErr(2, "disk full")
		}
		return ok(map[string]string{"state": "up"})
	})
	ctx := testCtx(t)
	id, err := h.start(ctx)
	re := wantRunErr(t, err, workflow.ErrStepFailed)
	if !strings.Contains(re.Msg, "step deploy failed") || strings.Contains(re.Msg, "deploy[") {
		t.Errorf("message %q, want the parent named once", re.Msg)
	}
	st := h.status(id)
	want := map[string]string{"deploy[sn01]": "succeeded", "deploy[sn02]": "failed", "deploy[sn03]": "succeeded", "deploy": "failed"}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("%s is %s, want %s", k, st[k], v)
		}
	}
	if f := find(h.events(id), "failed", "deploy"); len(f) != 1 || f[0].Message != "1 of 3 failed: sn02" {
		t.Errorf("parent failure %+v", f)
	}
	if h.w.count("do", "report") != 0 {
		t.Error("report ran after its fan-out failed")
	}

	broken = false
	if err := h.e.Resume(ctx, id, workflow.ResumeOptions{}); err != nil {
		t.Fatalf("resume: %v", err)
	}
	for _, k := range []string{"sn01", "sn03"} {
		if n := h.w.count("need", "deploy["+k+"]"); n != 1 {
			t.Errorf("deploy[%s] ran %d times, want once", k, n)
		}
	}
	if n := h.w.count("need", "deploy[sn02]"); n != 2 {
		t.Errorf("deploy[sn02] ran %d times, want twice", n)
	}
	if n := h.w.count("do", "prepare"); n != 1 {
		t.Errorf("prepare ran %d times, want once", n)
	}
	if len(find(h.events(id), "fan-out", "deploy")) != 1 {
		t.Error("resume fanned out again: the item list must stay as journaled")
	}
	if c, _ := h.w.last("do", "report"); c.Args["say"] != "sn01=up sn02=up sn03=up " {
		t.Errorf("report got %q", c.Args["say"])
	}
	if r := h.run(id); r.Status != workflow.RunSucceeded || r.Done != 3 {
		t.Errorf("run %s done %d, want succeeded 3", r.Status, r.Done)
	}
	if got := trace(h.events(id), "reset"); got != nil {
		t.Errorf("resume reset %v", got)
	}
}
