package playbooks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps"
	"github.com/hamnflow/hamnflow/workflow"
)

// linuxPlaybooks are the built-in playbooks of the Linux HAMN path.
var linuxPlaybooks = []string{"prereq", "pg-setup", "failover", "failback", "activate", "deactivate"}

func prepareWith(t *testing.T, name, inventory string, given map[string]string) *Prepared {
	t.Helper()
	file, text, err := Library{}.Find(name)
	if err != nil {
		t.Fatal(err)
	}
	invPath := filepath.Join("testdata", inventory)
	invText, err := os.ReadFile(invPath)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Prepare(file, text, invPath, invText, given)
	if err != nil {
		t.Fatalf("%s with %s: %v", name, inventory, err)
	}
	return p
}

func checker(p *Prepared) workflow.Checker {
	return workflow.Checker{Actions: steps.Actions(&steps.Env{}), Funcs: steps.Funcs(), Secrets: NewSecrets(p.Inventory)}
}

// Every Linux playbook validates against a PostgreSQL inventory (floating
// service address) and a Db2 one (the guide's identity takeover).
func TestLinuxPlaybooksValidate(t *testing.T) {
	for _, name := range linuxPlaybooks {
		for _, inv := range []string{"inventory.yaml", "db2.yaml"} {
			p := prepareWith(t, name, inv, nil)
			if diags := checker(p).Validate(p.Playbook, p.Data); len(diags) > 0 {
				t.Errorf("%s with %s:\n%v", name, inv, diags)
			}
		}
	}
}

// PostgreSQL steps are guarded by the database type, so that other
// databases' steps can live beside them; the shared steps are not.
func TestPostgresStepsGuarded(t *testing.T) {
	for _, name := range linuxPlaybooks {
		p := prepareWith(t, name, "db2.yaml", nil)
		plan, err := checker(p).Plan(p.Playbook, p.Data)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range p.Playbook.Steps {
			pg := strings.HasPrefix(s.Action.Kind, "pg_") || strings.Contains(s.Action.With["user"], ".inv.database.owner") && strings.Contains(s.Action.With["cmd"], "bin_dir")
			guarded := strings.Contains(s.When, `"postgresql"`)
			if pg && !guarded {
				t.Errorf("%s: step %s (%s) is PostgreSQL's but has no when on .inv.database.type", name, s.ID, s.Action.Kind)
			}
			var planned workflow.PlannedStep
			for _, ps := range plan {
				if ps.ID == s.ID {
					planned = ps
				}
			}
			// The plan cannot tell conditions on run-time outputs.
			if guarded && !planned.Skipped && !strings.Contains(s.When, ".steps.") {
				t.Errorf("%s: step %s runs with a Db2 inventory", name, s.ID)
			}
			if !guarded && planned.Skipped && !strings.Contains(s.When, ".inv.mode") && !strings.Contains(s.When, ".params.") {
				t.Errorf("%s: shared step %s (#%d) is skipped with a Db2 inventory", name, s.ID, i)
			}
		}
	}
}

// Destructive steps ask an operator first; the takeover has an undo and
// a probe.
func TestDestructiveStepsConfirm(t *testing.T) {
	destructive := map[string]bool{"addr_takeover": true, "pg_promote": true, "pg_basebackup": true, "pg_rewind": true}
	for _, name := range []string{"failover", "failback", "activate", "pg-setup"} {
		p := prepareWith(t, name, "inventory.yaml", nil)
		for _, s := range p.Playbook.Steps {
			if destructive[s.Action.Kind] && !s.Confirm && s.ID != "rejoin_standby" && s.ID != "rejoin_peer" {
				t.Errorf("%s: step %s (%s) does not confirm", name, s.ID, s.Action.Kind)
			}
			if s.Action.Kind == "addr_takeover" && (s.Undo == nil || s.Probe == nil) {
				t.Errorf("%s: step %s takes the address without undo and probe", name, s.ID)
			}
		}
		if name == "failover" {
			stop := p.Playbook.Step("stop_old_db")
			if stop == nil || !stop.Confirm {
				t.Errorf("failover: the old primary's database shutdown must confirm")
			}
		}
	}
}

// The failover never takes the address before the fence check, and stops
// the old primary's services in reverse order.
func TestFailoverOrder(t *testing.T) {
	p := prepareWith(t, "failover", "inventory.yaml", nil)
	order := map[string]int{}
	for i, s := range workflow.Order(p.Playbook) {
		order[s.ID] = i
	}
	for _, pair := range [][2]string{
		{"stop_old_conserver", "stop_old_dhcpd"}, {"stop_old_dhcpd", "stop_old_xcatd"}, {"stop_old_xcatd", "stop_old_db"},
		{"stop_old_db", "release_old_address"}, {"release_old_address", "fence_check"}, {"fence_check", "take_address"},
		{"fence_check", "promote"}, {"promote", "pg_address"}, {"pg_address", "start_xcatd"}, {"start_xcatd", "makedns"},
		{"makedns", "makedhcp_new"}, {"makedhcp_new", "makedhcp_all"}, {"makedhcp_all", "makeconservercf"}, {"osimages", "nodeset"},
	} {
		if order[pair[0]] >= order[pair[1]] {
			t.Errorf("failover runs %s (#%d) before %s (#%d)", pair[1], order[pair[1]], pair[0], order[pair[0]])
		}
	}
	// and the DAG makes it so, not only the listing order
	anc := func(id string) map[string]bool {
		seen := map[string]bool{}
		var walk func(string)
		walk = func(id string) {
			for _, n := range p.Playbook.Step(id).Needs {
				if !seen[n] {
					seen[n] = true
					walk(n)
				}
			}
		}
		walk(id)
		return seen
	}
	for _, id := range []string{"take_address", "promote", "start_xcatd"} {
		if !anc(id)["fence_check"] {
			t.Errorf("failover: %s does not depend on fence_check", id)
		}
	}
}
