package playbooks

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps"
	"github.com/hamnflow/hamnflow/workflow"
)

// linuxPlaybooks are the built-in playbooks of the HAMN life cycle that
// serve every database.
var linuxPlaybooks = []string{"prereq", "pg-setup", "failover", "failback", "activate", "deactivate"}

// inventories are the clusters of testdata every built-in playbook must
// validate against: database type and OS of each.
var inventories = []struct{ file, db, os string }{
	{"inventory.yaml", "postgresql", "linux"},
	{"db2-linux.yaml", "db2", "linux"},
	{"db2.yaml", "db2", "aix"},
	{"mysql.yaml", "mysql", "linux"},
	{"sqlite.yaml", "sqlite", "linux"},
}

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

// Every built-in playbook validates against a PostgreSQL, a Db2 (Linux),
// an AIX/Db2, a MySQL and a SQLite inventory.
func TestPlaybooksValidate(t *testing.T) {
	list := Library{}.List()
	if len(list) < 10 {
		t.Fatalf("only %d built-in playbooks", len(list))
	}
	for _, pb := range list {
		for _, inv := range inventories {
			p := prepareWith(t, pb.Name, inv.file, nil)
			if diags := checker(p).Validate(p.Playbook, p.Data); len(diags) > 0 {
				t.Errorf("%s with %s:\n%v", pb.Name, inv.file, diags)
			}
		}
	}
}

// The step lists the failover playbook was merged from are gone.
func TestNoStepLists(t *testing.T) {
	txt, _ := filepath.Glob("library/*.txt")
	if len(txt) > 0 {
		t.Errorf("left-over step lists: %v", txt)
	}
}

var (
	dbCond = regexp.MustCompile(`\.inv\.database\.type "(\w+)"`)
	osCond = regexp.MustCompile(`\.inv\.primary\.os "(\w+)"`)
)

// dbOfAction is the database whose steps an action belongs to.
func dbOfAction(kind string) string {
	switch {
	case strings.HasPrefix(kind, "pg_"):
		return "postgresql"
	case kind == "db2" || strings.HasPrefix(kind, "db2_"):
		return "db2"
	case strings.HasPrefix(kind, "mysql_"):
		return "mysql"
	case strings.HasPrefix(kind, "sqlite_"):
		return "sqlite"
	}
	return ""
}

// aixActions run AIX commands; linuxActions Linux ones (ip, /etc/init.d).
var (
	aixActions   = map[string]bool{"mktcpip": true, "startsrc": true, "stopsrc": true, "lssrc": true, "nim_master": true, "nim_osimage": true, "nim_exists": true, "nim_resource": true, "nim_nodes": true, "aix_osimages": true}
	linuxActions = map[string]bool{"addr_takeover": true, "addr_release": true, "xcat_service": true, "xcat_osimages": true}
)

// Database- and OS-specific steps are guarded by .inv.database.type and
// .inv.primary.os, so that one failover serves every cluster: with each
// inventory the other databases' and OS's steps are skipped, and the
// shared steps run.
func TestStepsGuarded(t *testing.T) {
	for _, name := range linuxPlaybooks {
		for _, inv := range inventories {
			p := prepareWith(t, name, inv.file, nil)
			plan, err := checker(p).Plan(p.Playbook, p.Data)
			if err != nil {
				t.Fatal(err)
			}
			skipped := map[string]bool{}
			for _, ps := range plan {
				skipped[ps.ID] = ps.Skipped
			}
			for _, s := range p.Playbook.Steps {
				dbs := dbCond.FindAllStringSubmatch(s.When, -1)
				oss := osCond.FindAllStringSubmatch(s.When, -1)
				if db := dbOfAction(s.Action.Kind); db != "" && (len(dbs) == 0 || dbs[0][1] != db) {
					t.Errorf("%s: step %s (%s) is %s's but has no when on .inv.database.type", name, s.ID, s.Action.Kind, db)
				}
				bothOS := name == "failover" || name == "failback"
				if bothOS && aixActions[s.Action.Kind] && (len(oss) == 0 || oss[0][1] != "aix") {
					t.Errorf("%s: step %s (%s) runs AIX commands but has no when on .inv.primary.os", name, s.ID, s.Action.Kind)
				}
				if bothOS && linuxActions[s.Action.Kind] && (len(oss) == 0 || !strings.Contains(s.When, `ne .inv.primary.os "aix"`)) {
					t.Errorf("%s: step %s (%s) runs Linux commands but is not guarded by os != aix", name, s.ID, s.Action.Kind)
				}
				// The plan cannot tell conditions on run-time outputs.
				if strings.Contains(s.When, ".steps.") {
					continue
				}
				foreign := len(dbs) > 0 && dbs[0][1] != inv.db && strings.Contains(s.When, "eq .inv.database.type")
				foreignOS := false
				for _, m := range oss {
					eq := strings.Contains(s.When, `eq .inv.primary.os "`+m[1]+`"`) && !strings.Contains(s.When, `ne .inv.primary.os "`+m[1]+`"`)
					if (eq && m[1] != inv.os) || (!eq && m[1] == inv.os) {
						foreignOS = true
					}
				}
				switch {
				case (foreign || foreignOS) && !skipped[s.ID]:
					t.Errorf("%s: step %s (when %s) runs with %s", name, s.ID, s.When, inv.file)
				case !foreign && !foreignOS && skipped[s.ID] && !strings.Contains(s.When, ".inv.mode") && !strings.Contains(s.When, ".params.") && !strings.Contains(s.When, ".inv.hanim") && !strings.Contains(s.When, ".inv.database.method"):
					t.Errorf("%s: step %s (when %s) is skipped with %s", name, s.ID, s.When, inv.file)
				}
			}
		}
	}
}

// Destructive steps ask an operator first; the takeover has an undo and
// a probe.
func TestDestructiveStepsConfirm(t *testing.T) {
	destructive := map[string]bool{"addr_takeover": true, "pg_promote": true, "pg_basebackup": true, "pg_rewind": true,
		"db2_takeover": true, "mktcpip": true, "mysql_promote": true}
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
			for _, id := range []string{"stop_old_db", "db2_stop_for_rename", "aix_takeover_identity"} {
				if s := p.Playbook.Step(id); s == nil || !s.Confirm {
					t.Errorf("failover: %s must confirm", id)
				}
			}
		}
	}
}

// ancestors returns what step id needs, directly or not.
func ancestors(pb *workflow.Playbook, id string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(id string) {
		for _, n := range pb.Step(id).Needs {
			if !seen[n] {
				seen[n] = true
				walk(n)
			}
		}
	}
	walk(id)
	return seen
}

// checkOrder fails unless the DAG makes each pair's first step run
// before its second.
func checkOrder(t *testing.T, pb *workflow.Playbook, pairs [][2]string) {
	t.Helper()
	for _, pair := range pairs {
		if pb.Step(pair[0]) == nil || pb.Step(pair[1]) == nil {
			t.Errorf("%s: no step %s or %s", pb.Name, pair[0], pair[1])
			continue
		}
		if !ancestors(pb, pair[1])[pair[0]] {
			t.Errorf("%s: %s does not depend on %s", pb.Name, pair[1], pair[0])
		}
	}
}

// The failover never takes the address or the database's primary role
// before the fence check, and stops the old primary's services in reverse
// order; the guide's order of steps 3 to 7 holds for Db2 and AIX.
func TestFailoverOrder(t *testing.T) {
	p := prepareWith(t, "failover", "inventory.yaml", nil)
	checkOrder(t, p.Playbook, [][2]string{
		{"stop_old_conserver", "stop_old_dhcpd"}, {"stop_old_dhcpd", "stop_old_xcatd"}, {"stop_old_xcatd", "stop_old_db"},
		{"stop_old_db", "release_old_address"}, {"release_old_address", "fence_check"}, {"promote", "pg_address"},
		{"pg_address", "start_xcatd"}, {"start_xcatd", "makedns"}, {"makedns", "makedhcp_new"}, {"makedhcp_new", "makedhcp_all"},
		{"makedhcp_all", "makeconservercf"}, {"osimages", "nodeset"},
		// Db2
		{"db2_standby_status", "stop_old_conserver"}, {"db2_takeover", "db2_stop_for_rename"}, {"db2_stop_for_rename", "take_hostname"},
		{"db2_stop_for_rename", "aix_takeover_identity"}, {"take_hostname", "db2_gcf_start"}, {"aix_takeover_identity", "db2_gcf_start"},
		{"db2_accepts", "start_xcatd"}, {"db2_accepts", "aix_start_xcatd"},
		// AIX
		{"aix_stop_old_xcatd", "stop_old_db"}, {"aix_release_old_address", "fence_check"}, {"aix_stop_standby_xcatd", "aix_takeover_identity"},
		{"aix_takeover_identity", "aix_start_xcatd"}, {"aix_start_xcatd", "makedns"}, {"aix_start_xcatd", "aix_list_osimages"},
		{"aix_create_nim_resources", "nodeset"}, {"check_mode", "old_primary"},
		// MySQL, SQLite
		{"stop_old_xcatd", "sqlite_final_copy"}, {"sqlite_final_copy", "sqlite_check_standby"}, {"sqlite_check_standby", "start_xcatd"},
		{"db_check_promoted", "start_xcatd"}, {"mysql_promote", "db_check_promoted"},
	})
	for _, id := range []string{"take_address", "take_hostname", "promote", "start_xcatd", "db2_takeover", "aix_takeover_identity", "aix_start_xcatd", "mysql_promote", "sqlite_check_standby"} {
		if !ancestors(p.Playbook, id)["fence_check"] {
			t.Errorf("failover: %s does not depend on fence_check", id)
		}
	}
	// BY FORCE only with fenced=yes.
	if s := p.Playbook.Step("db2_takeover"); s.Action.With["fenced"] != `{{ eq .params.fenced "yes" }}` {
		t.Errorf("db2_takeover fenced: %q", s.Action.With["fenced"])
	}
}

// The failback syncs the files back with sync-setup's rsync action, and
// Db2 takes the primary role back before the address moves. MySQL stops
// the acting primary's writes and waits for the returned primary to apply
// them before promoting it; SQLite copies a last time with xcatd stopped
// and checks the copy before xcatd starts on it; AIX gives the identity
// back with mktcpip after the database is handed over. No database's
// primary role and no address moves before the fence check.
func TestFailbackOrder(t *testing.T) {
	p := prepareWith(t, "failback", "db2-linux.yaml", nil)
	if s := p.Playbook.Step("reverse_sync"); s == nil || s.Action.Kind != "rsync" {
		t.Fatalf("failback: reverse_sync is not the rsync action: %+v", s)
	}
	checkOrder(t, p.Playbook, [][2]string{
		{"db2_rejoin", "db2_rejoin_check"}, {"db2_rejoin_check", "reverse_sync"}, {"db2_rejoin_check", "stop_xcatd"},
		{"stop_xcatd", "db2_takeover_back"}, {"fence_check", "db2_takeover_back"}, {"db2_takeover_back", "take_address"},
		{"db2_takeover_back", "start_xcatd"}, {"db2_takeover_back", "db2_failback_check"},
		{"rejoin_check", "reverse_sync"}, {"fence_check", "take_address"}, {"fence_check", "promote"},
		// MySQL
		{"mysql_config_primary", "mysql_rejoin"}, {"mysql_repl_user_standby", "mysql_rejoin"}, {"mysql_rejoin", "mysql_rejoin_check"},
		{"mysql_rejoin_check", "reverse_sync"}, {"stop_xcatd", "mysql_stop_writes"}, {"aix_stop_xcatd", "mysql_stop_writes"},
		{"mysql_stop_writes", "mysql_caught_up"}, {"mysql_caught_up", "mysql_promote"}, {"mysql_caught_up", "release_address"},
		{"mysql_promote", "mysql_check_promoted"}, {"mysql_check_promoted", "start_xcatd"}, {"mysql_check_promoted", "aix_start_xcatd"},
		{"mysql_check_promoted", "mysql_rejoin_standby"}, {"mysql_rejoin_standby", "mysql_replication_check"},
		// SQLite
		{"sqlite_rejoin_copy", "reverse_sync"}, {"stop_xcatd", "sqlite_final_copy"}, {"aix_stop_xcatd", "sqlite_final_copy"},
		{"sqlite_final_copy", "sqlite_check_primary"}, {"sqlite_check_primary", "release_address"}, {"sqlite_check_primary", "aix_release_identity"},
		{"sqlite_check_primary", "start_xcatd"}, {"sqlite_check_primary", "sqlite_copy_script"}, {"sqlite_copy_script", "sqlite_copy_job"},
		// AIX
		{"check_mode", "rejoin_primary"}, {"check_mode", "db2_rejoin"}, {"check_mode", "mysql_rejoin"}, {"check_mode", "sqlite_rejoin_copy"},
		{"reverse_sync", "aix_stop_conserver"}, {"aix_stop_conserver", "aix_stop_xcatd"}, {"caught_up", "aix_release_identity"},
		{"aix_stop_xcatd", "aix_release_identity"}, {"aix_release_identity", "aix_release_address"}, {"aix_release_address", "fence_check"},
		{"aix_stop_xcatd", "db2_takeover_back"}, {"aix_take_identity", "aix_start_xcatd"}, {"aix_start_xcatd", "makedns"},
		{"aix_take_identity", "aix_nim_master"}, {"aix_start_xcatd", "aix_list_osimages"}, {"aix_list_osimages", "aix_create_nim_resources"},
		{"makeconservercf", "aix_start_conserver"},
	})
	for _, id := range []string{"take_address", "promote", "db2_takeover_back", "mysql_promote", "aix_take_identity", "start_xcatd", "aix_start_xcatd"} {
		if !ancestors(p.Playbook, id)["fence_check"] {
			t.Errorf("failback: %s does not depend on fence_check", id)
		}
	}
	// The returned primary gets the guide's mktcpip arguments with the
	// cluster's hostname and address; the acting primary its own.
	take, give := p.Playbook.Step("aix_take_identity").Action.With, p.Playbook.Step("aix_release_identity").Action.With
	if take["hostname"] != "{{ .inv.cluster_hostname }}" || take["address"] != "{{ .inv.cluster_address }}" || take["interface"] != "{{ .inv.primary.interface }}" {
		t.Errorf("aix_take_identity: %v", take)
	}
	if give["hostname"] != "{{ .inv.standby.hostname }}" || give["address"] != "{{ .inv.standby.address }}" || give["interface"] != "{{ .inv.standby.interface }}" {
		t.Errorf("aix_release_identity: %v", give)
	}
	for _, s := range p.Playbook.Steps {
		if s.Action.Kind == "shell" && strings.Contains(s.Action.With["cmd"], "rsync ") {
			t.Errorf("failback: step %s runs rsync in a shell", s.ID)
		}
	}
}

// The HAMN playbooks ask only for the secrets of the cluster's database:
// a Db2, MySQL or SQLite cluster need not declare PostgreSQL's.
func TestNoForeignSecrets(t *testing.T) {
	for _, name := range linuxPlaybooks {
		if name == "pg-setup" {
			continue
		}
		for _, inv := range inventories[1:] {
			p := prepareWith(t, name, inv.file, nil)
			for s := range p.Inventory.Secrets {
				if s != inv.db+"_password" && !(inv.db == "mysql" && s == "mysql_repl_password") {
					delete(p.Inventory.Secrets, s)
				}
			}
			if diags := checker(p).Validate(p.Playbook, p.Data); len(diags) > 0 {
				t.Errorf("%s with %s and only its database's secret:\n%v", name, inv.file, diags)
			}
		}
	}
}
