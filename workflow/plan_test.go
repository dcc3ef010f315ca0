package workflow_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/workflow"
)

func ids(steps []*workflow.Step) string {
	var out []string
	for _, s := range steps {
		out = append(out, s.ID)
	}
	return strings.Join(out, " ")
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name  string
		steps string // "id:need,need id ..." in file order
		want  string
	}{
		{"file order when independent", "c b a", "c b a"},
		{"chain written backwards", "c:b b:a a", "a b c"},
		{"earliest ready first", "x:a y a z", "y a x z"},
		{"diamond", "join:l,r l:root r:root root", "root l r join"},
		{"wide fan-in", "end:a,b,c,d d c b a", "d c b a end"},
		{"two chains keep file order", "a1 b1 a2:a1 b2:b1", "a1 b1 a2 b2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb := &workflow.Playbook{Name: "o"}
			for _, f := range strings.Fields(tt.steps) {
				id, needs, _ := strings.Cut(f, ":")
				s := &workflow.Step{ID: id}
				if needs != "" {
					s.Needs = strings.Split(needs, ",")
				}
				pb.Steps = append(pb.Steps, s)
			}
			for range 20 { // the same answer every time
				if got := ids(workflow.Order(pb)); got != tt.want {
					t.Fatalf("Order = %q, want %q", got, tt.want)
				}
			}
		})
	}
}

// TestOrderRespectsNeeds checks the order of random DAGs: every step after
// what it needs, each step once, and the same order on every call.
func TestOrderRespectsNeeds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 200 {
		size := 1 + rng.IntN(12)
		names := rng.Perm(size) // step i is named s<names[i]>; needs only lower i
		pb := &workflow.Playbook{Name: "r"}
		for i := range size {
			s := &workflow.Step{ID: fmt.Sprintf("s%d", names[i])}
			for j := range i {
				if rng.IntN(3) == 0 {
					s.Needs = append(s.Needs, fmt.Sprintf("s%d", names[j]))
				}
			}
			pb.Steps = append(pb.Steps, s)
		}
		rng.Shuffle(len(pb.Steps), func(i, j int) { pb.Steps[i], pb.Steps[j] = pb.Steps[j], pb.Steps[i] })
		order := workflow.Order(pb)
		if len(order) != size {
			t.Fatalf("dag %d: Order gave %d steps, want %d", n, len(order), size)
		}
		pos := map[string]int{}
		for i, s := range order {
			if _, dup := pos[s.ID]; dup {
				t.Fatalf("dag %d: %s twice", n, s.ID)
			}
			pos[s.ID] = i
		}
		for _, s := range order {
			for _, need := range s.Needs {
				if pos[need] > pos[s.ID] {
					t.Errorf("dag %d: %s before %s, which it needs", n, s.ID, need)
				}
			}
		}
		if again := ids(workflow.Order(pb)); again != ids(order) {
			t.Errorf("dag %d: Order not deterministic: %q then %q", n, ids(order), again)
		}
	}
}

func TestOrderCycleStops(t *testing.T) {
	pb := parse(t, "name: c\nsteps:\n  - id: a\n    needs: [b]\n    action: do\n  - id: b\n    needs: [a]\n    action: do\n  - id: c\n    action: do\n")
	if got := ids(workflow.Order(pb)); got != "c" {
		t.Errorf("Order of a cycle = %q, want only the steps outside it", got)
	}
}

func loadPlan(t *testing.T, given map[string]string) (*workflow.Playbook, map[string]any) {
	t.Helper()
	text, err := os.ReadFile("testdata/plan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pb, params, err := workflow.Load(workflow.LoadInput{Name: "testdata/plan.yaml", Text: text, Given: given,
		Inv: testData(nil)["inv"].(map[string]any), Funcs: testFuncs()})
	if err != nil {
		t.Fatal(err)
	}
	data := testData(params)
	if diags := checkerFor(newWorld()).Validate(pb, data); len(diags) > 0 {
		t.Fatalf("plan.yaml does not validate:\n%v", diags)
	}
	return pb, data
}

func formatPlan(steps []workflow.PlannedStep) string {
	var b strings.Builder
	for i, p := range steps {
		fmt.Fprintf(&b, "%d. %s: %s\n   host: %s\n", i+1, p.ID, p.Title, p.Host)
		if len(p.Needs) > 0 {
			fmt.Fprintf(&b, "   needs: %s\n", strings.Join(p.Needs, ", "))
		}
		if p.When != "" {
			fmt.Fprintf(&b, "   when: %s\n", p.When)
		}
		if p.ForEach != "" {
			fmt.Fprintf(&b, "   %s\n", p.ForEach)
		}
		for _, c := range p.Commands {
			fmt.Fprintf(&b, "   run: %s\n", c)
		}
		for _, c := range p.Probe {
			fmt.Fprintf(&b, "   probe: %s\n", c)
		}
		for _, c := range p.Undo {
			fmt.Fprintf(&b, "   undo: %s\n", c)
		}
		if p.UndoNote != "" {
			fmt.Fprintf(&b, "   undo: (%s)\n", p.UndoNote)
		}
		var flags []string
		if p.Confirm {
			flags = append(flags, "confirm")
		}
		if p.Idempot {
			flags = append(flags, "idempotent")
		}
		if len(flags) > 0 {
			fmt.Fprintf(&b, "   %s\n", strings.Join(flags, ", "))
		}
	}
	return b.String()
}

func TestPlanGolden(t *testing.T) {
	pb, data := loadPlan(t, nil)
	steps, err := checkerFor(newWorld()).Plan(pb, data)
	if err != nil {
		t.Fatal(err)
	}
	got := formatPlan(steps)
	if strings.Contains(got, secretValue) {
		t.Errorf("the plan shows the secret value:\n%s", got)
	}
	if n := strings.Count(got, workflow.Mask); n != 2 {
		t.Errorf("the plan shows %s %d times, want 2 (action and probe of set_password)", workflow.Mask, n)
	}
	if strings.Contains(got, "<no value>") {
		t.Errorf("the plan shows <no value>:\n%s", got)
	}
	golden(t, "plan.golden", got)

	// The order is the dependency order; identity_only is not in a
	// floating cluster's DAG at all.
	var order []string
	for _, p := range steps {
		order = append(order, p.ID)
	}
	if want := []string{"check_standby", "list_nodes", "set_password", "move_address", "update_nodes"}; !slices.Equal(order, want) {
		t.Errorf("plan order %v, want %v", order, want)
	}
}

// TestPlanWithOtherParams: the DAG is chosen when the playbook loads; the
// step that needed a left-out step waits for what that step needed.
func TestPlanWithOtherParams(t *testing.T) {
	pb, data := loadPlan(t, map[string]string{"mode": "identity"})
	steps, err := checkerFor(newWorld()).Plan(pb, data)
	if err != nil {
		t.Fatal(err)
	}
	needs := map[string][]string{}
	for _, p := range steps {
		needs[p.ID] = p.Needs
	}
	if _, ok := needs["move_address"]; ok {
		t.Errorf("move_address is in an identity cluster's plan")
	}
	if _, ok := needs["identity_only"]; !ok {
		t.Errorf("identity_only is not in an identity cluster's plan")
	}
	if want := []string{"list_nodes", "set_password"}; !slices.Equal(needs["update_nodes"], want) {
		t.Errorf("update_nodes needs %v, want %v (move_address's needs in its place)", needs["update_nodes"], want)
	}
}

func TestGraphGolden(t *testing.T) {
	pb, _ := loadPlan(t, nil)
	golden(t, "graph.dot.golden", workflow.DOT(pb))
	golden(t, "graph.mmd.golden", workflow.Mermaid(pb))
}

func TestDescribeMasksSecrets(t *testing.T) {
	// The plan, the prompt and the journal all show Describe on masked
	// arguments; the action alone gets the value.
	h := newHarness(t, `name: s
steps:
  - id: login
    action: do
    with:
      say: 'user=admin password={{ secret "pw" }}'
`)
	steps, err := h.checker().Plan(h.pb, h.data)
	if err != nil {
		t.Fatal(err)
	}
	if want := `do@local say="user=admin password=********"`; steps[0].Commands[0] != want {
		t.Errorf("plan command %q, want %q", steps[0].Commands, want)
	}
	id, err := h.start(testCtx(t))
	wantRunErr(t, err, nil)
	started := find(h.events(id), "started", "login")
	if len(started) != 1 || started[0].Command != steps[0].Commands[0] {
		t.Errorf("journaled command %+v, want %q", started, steps[0].Commands)
	}
	c, _ := h.w.last("do", "login")
	if c.Args["say"] != "user=admin password="+secretValue || !slices.Equal(c.Secrets, []string{secretValue}) {
		t.Errorf("the action got args %v secrets %v, want the real value", c.Args, c.Secrets)
	}
}
