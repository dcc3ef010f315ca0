package playbooks

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps"
	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/workflow"
)

var update = flag.Bool("update", false, "rewrite the golden plans in testdata/plans")

// planInventories are the sample clusters the golden plans are made for.
var planInventories = []struct{ name, file string }{
	{"pg-floating", "inventory.yaml"},
	{"pg-identity", "pg-identity.yaml"},
	{"db2-linux", "db2-linux.yaml"},
	{"db2-aix", "db2.yaml"},
	{"mysql", "mysql.yaml"},
	{"sqlite", "sqlite.yaml"},
}

// TestGoldenPlans renders the plan of every built-in procedure for every
// sample cluster: the exact commands, host by host, secrets masked, each
// value known only at run time a named placeholder. They are the review
// surface of every change to a procedure (go test ./playbooks -update).
func TestGoldenPlans(t *testing.T) {
	secret, err := os.ReadFile("testdata/pg_password")
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range planInventories {
		for _, pb := range (Library{}).List() {
			if !planFor(pb.Name, inv.name) {
				continue
			}
			t.Run(pb.Name+"/"+inv.name, func(t *testing.T) {
				got := renderPlan(t, pb.Name, inv.file)
				for _, bad := range []string{"<no value>", strings.TrimSpace(string(secret))} {
					if strings.Contains(got, bad) {
						t.Errorf("the plan shows %q", bad)
					}
				}
				golden(t, filepath.Join("testdata", "plans", pb.Name+"."+inv.name+".golden"), got)
			})
		}
	}
}

// planFor says which clusters a procedure has a golden plan for: the HAMN
// life cycle every cluster; a database's set-up its own database's; NIM
// the AIX cluster; the example (local steps) one.
func planFor(procedure, inv string) bool {
	switch {
	case procedure == "pg-setup":
		return strings.HasPrefix(inv, "pg-")
	case strings.HasPrefix(procedure, "hadr-"):
		return strings.HasPrefix(inv, "db2-")
	case procedure == "mysql-setup":
		return inv == "mysql"
	case procedure == "sqlite-setup":
		return inv == "sqlite"
	case procedure == "nim-recreate":
		return inv == "db2-aix"
	case procedure == "example":
		return inv == "pg-floating"
	}
	return true
}

// renderPlan prepares a procedure for an inventory, with stand-in values
// for parameters without a default (and nodes=compute for nodeset), and
// prints its plan.
func renderPlan(t *testing.T, name, invFile string) string {
	t.Helper()
	file, text, err := Library{}.Find(name)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := workflow.Parse(file, text)
	if pb == nil {
		t.Fatal(err)
	}
	given := map[string]string{}
	for _, p := range pb.Params {
		switch {
		case p.Name == "nodes":
			given[p.Name] = "compute"
		case p.Default == nil:
			given[p.Name] = "PARAM-" + p.Name
		}
	}
	p := prepareWith(t, name, invFile, given)
	ck := workflow.Checker{Actions: steps.Actions(&act.Env{Hosts: p.Inventory.Host}, p.Inventory.StepsConfig()),
		Funcs: steps.Funcs(), Secrets: NewSecrets(p.Inventory)}
	if diags := ck.Validate(p.Playbook, p.Data); len(diags) > 0 {
		t.Fatalf("%s with %s does not validate:\n%v", name, invFile, diags)
	}
	plan, err := ck.Plan(p.Playbook, p.Data)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	workflow.WritePlan(&b, p.Playbook, plan)
	return b.String()
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./playbooks -run TestGoldenPlans -update` to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden plan (rerun with -update if the change is intended)\n--- got:\n%s", path, got)
	}
}
