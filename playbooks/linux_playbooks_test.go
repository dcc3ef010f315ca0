package playbooks

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps"
	"github.com/hamnflow/hamnflow/steps/act"
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
	p, err := Library{}.Prepare(file, text, invPath, invText, given)
	if err != nil {
		t.Fatalf("%s with %s: %v", name, inventory, err)
	}
	return p
}

func checker(p *Prepared) workflow.Checker {
	return workflow.Checker{Actions: steps.Actions(&act.Env{}, p.Inventory.StepsConfig()), Funcs: steps.Funcs(), Secrets: NewSecrets(p.Inventory)}
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

// The loaded DAG of a cluster holds only that cluster's steps: no step of
// another database, none of AIX on Linux and none of Linux on AIX.
func TestOnlyMyClusterSteps(t *testing.T) {
	for _, name := range linuxPlaybooks {
		for _, inv := range inventories {
			p := prepareWith(t, name, inv.file, nil)
			for _, s := range p.Playbook.Steps {
				for _, ref := range []*workflow.ActionRef{&s.Action, s.Probe, s.Undo} {
					if ref == nil {
						continue
					}
					if db := dbOfAction(ref.Kind); db != "" && db != inv.db {
						t.Errorf("%s with %s: step %s (%s) is %s's", name, inv.file, s.ID, ref.Kind, db)
					}
					if inv.os != "aix" && aixActions[ref.Kind] {
						t.Errorf("%s with %s: step %s runs AIX's %s", name, inv.file, s.ID, ref.Kind)
					}
					if inv.os == "aix" && linuxActions[ref.Kind] && !(name == "deactivate" || name == "activate") {
						t.Errorf("%s with %s: step %s runs Linux's %s", name, inv.file, s.ID, ref.Kind)
					}
				}
				if dbCond.MatchString(s.When) || osCond.MatchString(s.When) {
					t.Errorf("%s: step %s decides on the inventory at run time (when: %s)", name, s.ID, s.When)
				}
			}
		}
	}
}

// Destructive steps ask an operator first; taking the address has a
// probe and is undone (addr_takeover reverses itself).
func TestDestructiveStepsConfirm(t *testing.T) {
	destructive := map[string]bool{"addr_takeover": true, "pg_promote": true, "pg_basebackup": true, "pg_rewind": true,
		"db2_takeover": true, "mktcpip": true, "mysql_promote": true}
	acts := steps.Actions(&act.Env{}, steps.Config{})
	for _, name := range []string{"failover", "failback", "activate", "pg-setup"} {
		for _, inv := range inventories {
			p := prepareWith(t, name, inv.file, nil)
			for _, s := range p.Playbook.Steps {
				if destructive[s.Action.Kind] && !s.Confirm {
					t.Errorf("%s with %s: step %s (%s) does not confirm", name, inv.file, s.ID, s.Action.Kind)
				}
				_, reverses := acts[s.Action.Kind].(workflow.Reverser)
				if s.Action.Kind == "addr_takeover" && (s.Probe == nil || (s.Undo == nil && !reverses)) {
					t.Errorf("%s: step %s takes the address without undo and probe", name, s.ID)
				}
			}
			if name == "failover" {
				for _, id := range []string{"stop_db", "db2_stop_for_rename", "take_identity"} {
					if s := p.Playbook.Step(id); s != nil && !s.Confirm {
						t.Errorf("failover: %s must confirm", id)
					}
				}
			}
		}
	}
}

// Every step of failover and failback that changes something has an
// undo: its own, the action's reversal, or undo: {none: why}.
func TestEveryChangeUndone(t *testing.T) {
	acts := steps.Actions(&act.Env{}, steps.Config{})
	for _, name := range []string{"failover", "failback"} {
		for _, inv := range inventories {
			p := prepareWith(t, name, inv.file, nil)
			for _, s := range p.Playbook.Steps {
				_, reverses := acts[s.Action.Kind].(workflow.Reverser)
				if !s.ReadOnly && s.Undo == nil && s.UndoNone == "" && !reverses {
					t.Errorf("%s with %s: step %s (%s) changes something and has no undo", name, inv.file, s.ID, s.Action.Kind)
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

// checkOrder fails unless, for every inventory whose DAG has both steps
// of a pair, the first runs before the second, and every pair is found in
// some inventory's DAG.
func checkOrder(t *testing.T, name string, pairs [][2]string) {
	t.Helper()
	found := map[[2]string]bool{}
	for _, inv := range inventories {
		var given map[string]string
		if name == "failover" {
			given = map[string]string{"nodes": "cn01"}
		}
		pb := prepareWith(t, name, inv.file, given).Playbook
		for _, pair := range pairs {
			if pb.Step(pair[0]) == nil || pb.Step(pair[1]) == nil {
				continue
			}
			found[pair] = true
			if !ancestors(pb, pair[1])[pair[0]] {
				t.Errorf("%s with %s: %s does not depend on %s", name, inv.file, pair[1], pair[0])
			}
		}
	}
	for _, pair := range pairs {
		if !found[pair] {
			t.Errorf("%s: no inventory's DAG has both %s and %s", name, pair[0], pair[1])
		}
	}
}

// The failover never takes the address or the database's primary role
// before the fence check, and stops the old primary's services in reverse
// order; the guide's order of steps 3 to 7 holds for Db2 and AIX.
func TestFailoverOrder(t *testing.T) {
	checkOrder(t, "failover", [][2]string{
		{"stop_console", "stop_dhcp"}, {"stop_dhcp", "stop_dns"}, {"stop_dns", "stop_xcatd"}, {"stop_xcatd", "stop_db"},
		{"stop_db", "release_address"}, {"release_address", "fence_check"}, {"fence_check", "promote"}, {"promote", "take_address"},
		{"take_address", "pg_address"}, {"pg_address", "start_xcatd"}, {"start_xcatd", "makedns"}, {"makedns", "start_dns"}, {"start_dns", "makedhcp_new"},
		{"makedhcp_new", "start_dhcp"}, {"start_dhcp", "makedhcp_all"}, {"makedhcp_all", "consoles"},
		{"consoles", "start_console"}, {"osimages", "nodeset"},
		// Db2
		{"db2_standby_status", "stop_console"}, {"db2_takeover", "db2_stop_for_rename"}, {"db2_stop_for_rename", "take_identity"},
		{"take_identity", "db2_gcf_start"}, {"db2_accepts", "start_xcatd"},
		// AIX
		{"release_address", "fence_check"}, {"standby_xcatd", "take_identity"}, {"take_identity", "start_xcatd"},
		{"start_xcatd", "list_osimages"}, {"create_nim_resources", "nodeset"},
		// MySQL, SQLite
		{"stop_xcatd", "sqlite_final_copy"}, {"sqlite_final_copy", "sqlite_stop_copy_job"}, {"sqlite_final_copy", "sqlite_check"},
		{"sqlite_check", "start_xcatd"}, {"mysql_promote", "mysql_check_promoted"}, {"mysql_check_promoted", "start_xcatd"},
	})
	for _, inv := range inventories {
		p := prepareWith(t, "failover", inv.file, nil)
		for _, id := range []string{"take_address", "take_hostname", "promote", "start_xcatd", "db2_takeover", "take_identity", "mysql_promote", "sqlite_check"} {
			if p.Playbook.Step(id) != nil && !ancestors(p.Playbook, id)["fence_check"] {
				t.Errorf("failover with %s: %s does not depend on fence_check", inv.file, id)
			}
		}
		// BY FORCE only with fenced=yes.
		if s := p.Playbook.Step("db2_takeover"); s != nil && s.Args["fenced"] != "false" {
			t.Errorf("db2_takeover fenced without --set fenced=yes: %q", s.Args["fenced"])
		}
	}
	if s := prepareWith(t, "failover", "db2.yaml", map[string]string{"fenced": "yes"}).Playbook.Step("db2_takeover"); s.Args["fenced"] != "true" {
		t.Errorf("db2_takeover with --set fenced=yes: fenced %q", s.Args["fenced"])
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
	checkOrder(t, "failback", [][2]string{
		{"primary_db2_rejoin", "primary_db2_rejoin_check"}, {"primary_db2_rejoin_check", "reverse_sync"}, {"stop_xcatd", "db2_takeover"},
		{"fence_check", "db2_takeover"}, {"db2_takeover", "take_address"}, {"db2_takeover", "start_xcatd"},
		{"primary_rejoin_check", "reverse_sync"}, {"stop_db", "caught_up"}, {"caught_up", "promote"}, {"fence_check", "take_address"},
		{"fence_check", "promote"}, {"pg_address", "standby_rejoin"},
		// MySQL
		{"primary_mysql_config", "primary_mysql_rejoin"}, {"primary_mysql_repl_user", "primary_mysql_rejoin"},
		{"primary_mysql_rejoin", "primary_mysql_rejoin_check"}, {"primary_mysql_rejoin_check", "reverse_sync"},
		{"stop_xcatd", "mysql_stop_writes"}, {"mysql_stop_writes", "mysql_caught_up"}, {"mysql_caught_up", "mysql_promote"},
		{"mysql_promote", "mysql_check_promoted"}, {"mysql_check_promoted", "start_xcatd"}, {"mysql_check_promoted", "standby_mysql_rejoin"},
		// SQLite
		{"primary_sqlite_rejoin_copy", "reverse_sync"}, {"stop_xcatd", "sqlite_handback_copy"}, {"sqlite_handback_copy", "sqlite_check"},
		{"sqlite_check", "start_xcatd"}, {"sqlite_check", "standby_sqlite_copy_job"},
		// AIX
		{"reverse_sync", "stop_console"}, {"stop_console", "stop_xcatd"}, {"stop_xcatd", "release_identity"},
		{"release_identity", "release_address"}, {"release_address", "fence_check"}, {"take_identity", "start_xcatd"},
		{"start_xcatd", "makedns"}, {"take_identity", "nim_master"}, {"start_xcatd", "list_osimages"},
		{"list_osimages", "create_nim_resources"}, {"consoles", "start_console"},
	})
	for _, inv := range inventories {
		p := prepareWith(t, "failback", inv.file, nil)
		for _, id := range []string{"take_address", "promote", "db2_takeover", "mysql_promote", "take_identity", "start_xcatd"} {
			if p.Playbook.Step(id) != nil && !ancestors(p.Playbook, id)["fence_check"] {
				t.Errorf("failback with %s: %s does not depend on fence_check", inv.file, id)
			}
		}
	}
	// The returned primary gets the guide's mktcpip arguments with the
	// cluster's hostname and address; the acting primary its own.
	aix := prepareWith(t, "failback", "db2.yaml", nil)
	take, give := aix.Playbook.Step("take_identity"), aix.Playbook.Step("release_identity")
	if take.Action.With["hostname"] != "{{ .inv.cluster_hostname }}" || take.Action.With["address"] != "{{ .inv.cluster_address }}" || take.Args["node"] != "aixmn1" {
		t.Errorf("take_identity: %v %v", take.Action.With, take.Args)
	}
	if give.Action.With["hostname"] != "{{ (index .inv.hosts .args.node).hostname }}" || give.Args["node"] != "aixmn2" {
		t.Errorf("release_identity: %v %v", give.Action.With, give.Args)
	}
	for _, s := range p.Playbook.Steps {
		if s.Action.Kind == "shell" && strings.Contains(fmt.Sprint(s.Action.With["cmd"]), "rsync ") {
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

// With --set fix_site=yes the failover fixes the xCAT settings on the old
// primary before anything of it stops, and again on the new primary
// before makedns; the fixes are undone by the action's own reversal.
// The snapshot is taken on the standby once its database is the primary,
// beside the activation (not before it: it takes as long), and the
// failover's end (verify) waits for neither; --set snapshot=no leaves it
// out.
func TestFailoverSiteFixAndSnapshot(t *testing.T) {
	acts := steps.Actions(&act.Env{}, steps.Config{})
	for _, inv := range inventories {
		plain := prepareWith(t, "failover", inv.file, nil).Playbook
		if plain.Step("primary_site_fix") != nil || plain.Step("site_fix") != nil {
			t.Errorf("failover with %s: a fix step without --set fix_site=yes", inv.file)
		}
		if s := plain.Step("snapshot"); s == nil || s.Action.Kind != "xcat_snapshot" || !s.Idempotent || s.UndoNone == "" ||
			!ancestors(plain, "snapshot")["fence_check"] || ancestors(plain, "start_xcatd")["snapshot"] || ancestors(plain, "snapshot")["start_xcatd"] {
			t.Errorf("failover with %s: snapshot %+v is not after the takeover of the database and beside start_xcatd", inv.file, s)
		}
		if s := plain.Step("snapshot"); s != nil && s.Action.With["dir"] != "/var/lib/hamnflow/snapshots/{{ .run.id }}" {
			t.Errorf("failover with %s: snapshot dir %v", inv.file, s.Action.With["dir"])
		}
		if s := plain.Step("site_settings"); s == nil || s.Action.With["fix_follows"] != "{{ .args.fix_site }}" || s.Args["fix_site"] != "false" {
			t.Errorf("failover with %s: site_settings without the fix: %+v", inv.file, s)
		}
		if prepareWith(t, "failover", inv.file, map[string]string{"snapshot": "no"}).Playbook.Step("snapshot") != nil {
			t.Errorf("failover with %s: a snapshot with --set snapshot=no", inv.file)
		}
		pb := prepareWith(t, "failover", inv.file, map[string]string{"fix_site": "yes"}).Playbook
		for _, id := range []string{"primary_site_fix", "site_fix"} {
			s := pb.Step(id)
			if s == nil || s.Action.Kind != "xcat_site_fix" || s.ReadOnly || s.Idempotent || s.Undo != nil {
				t.Fatalf("failover with %s and fix_site=yes: %s is %+v", inv.file, id, s)
			}
			if _, ok := acts[s.Action.Kind].(workflow.Reverser); !ok {
				t.Errorf("xcat_site_fix does not undo itself")
			}
		}
		if s := pb.Step("site_settings"); s.Args["fix_site"] != "true" {
			t.Errorf("failover with %s and fix_site=yes: site_settings args %v", inv.file, s.Args)
		}
		if a := ancestors(pb, "primary_site_fix"); !a["primary_site_settings"] {
			t.Errorf("failover with %s: primary_site_fix does not follow the check", inv.file)
		}
		for _, later := range []string{"stop_xcatd", "fence_check", "promote", "db2_takeover", "mysql_promote"} {
			if pb.Step(later) != nil && !ancestors(pb, later)["primary_site_fix"] {
				t.Errorf("failover with %s: %s does not wait for primary_site_fix", inv.file, later)
			}
		}
		if a := ancestors(pb, "makedns"); !a["site_fix"] || !ancestors(pb, "site_fix")["site_settings"] {
			t.Errorf("failover with %s: site_fix is not between site_settings and makedns", inv.file)
		}
	}
	if s := prepareWith(t, "failback", "inventory.yaml", map[string]string{"fix_site": "yes"}).Playbook.Step("site_fix"); s == nil {
		t.Errorf("failback with fix_site=yes has no site_fix")
	}
}
