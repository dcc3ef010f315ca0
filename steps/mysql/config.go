package mysql

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// Config (action mysql_config) makes a MySQL/MariaDB server run with the
// replication settings: it writes them to conf_file and restarts the
// server, unless the server already runs with them and the file holds
// them.
//
// Outputs: changed (yes|no).
type Config struct{ base }

// ConfigArgs are the arguments of mysql_config.
type ConfigArgs struct {
	ConfFile string `arg:"conf_file"` // default the inventory's (database.conf_dir/60-hamnflow-replication.cnf)
	ServerID int    `arg:"server_id,required"`
	Restart  string `arg:"restart"` // the command that restarts the server; default the inventory's
	LogBin   string `arg:"log_bin"` // default mysql-bin
	ReadOnly bool   `arg:"read_only"`
	Client   string `arg:"client"`
}

// NewArgs implements workflow.Action.
func (*Config) NewArgs() any { return &ConfigArgs{LogBin: "mysql-bin"} }

func onOff(b bool) string {
	if b {
		return "ON"
	}
	return "OFF"
}

// conf is the settings file's text.
func (a *ConfigArgs) conf() string {
	return "# written by hamnflow (mysql-setup): replication settings\n[mysqld]\n" +
		"server_id = " + strconv.Itoa(a.ServerID) + "\n" +
		"log_bin = " + or(a.LogBin, "mysql-bin") + "\n" +
		"relay_log = relay-bin\n" + // not named after the host, which a takeover renames
		"read_only = " + onOff(a.ReadOnly) + "\n"
}

// want is what currentSettings prints for a server running with the
// settings.
func (a *ConfigArgs) want() string {
	ro := "0"
	if a.ReadOnly {
		ro = "1"
	}
	return strconv.Itoa(a.ServerID) + "\t1\t" + ro
}

func currentSettings(client string) command {
	return query("", client, "SELECT @@server_id, @@log_bin, @@read_only")
}

func readConf(file string) command {
	return command{script: "cat " + remote.ShellQuote(file) + " 2>/dev/null", ok: []int{0, 1}}
}

// writeConf writes the settings file, restarts the server and waits for
// it to answer.
func writeConf(file, conf, restart, client string) command {
	q := remote.ShellQuote(file)
	return command{script: "set -e\nmkdir -p \"$(dirname " + q + ")\"\ncat > " + q + ".tmp <<'HAMNFLOW_EOF'\n" + conf + "HAMNFLOW_EOF\nmv " + q + ".tmp " + q + "\n" +
		restart + "\n" +
		"i=0; until " + client + " -e 'SELECT 1' >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 60 ] || { echo 'the server did not come back within 60s' >&2; exit 1; }; sleep 1; done\n",
		what: "write " + file + " and restart the server"}
}

func (m *Config) files(a *ConfigArgs) (file, restart string) {
	return or(a.ConfFile, m.Settings.ConfFile), or(a.Restart, m.Settings.Restart)
}

// Plan implements workflow.Action.
func (m *Config) Plan(_ string, args any) []string {
	a := args.(*ConfigArgs)
	file, restart := m.files(a)
	client := m.client(a.Client)
	return []string{
		readConf(file).String(),
		currentSettings(client).String(),
		note(fmt.Sprintf("unless the server runs with server_id %d, log_bin ON, read_only %s and %s holds these settings:",
			a.ServerID, onOff(a.ReadOnly), file), writeConf(file, a.conf(), restart, client)),
		note("after the restart, to check the settings took:", currentSettings(client)),
	}
}

// Run implements workflow.Action.
func (m *Config) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*ConfigArgs)
	file, restart := m.files(a)
	switch {
	case file == "":
		return workflow.Outcome{}, errors.New("conf_file: give the settings file (or database.conf_dir in the inventory)")
	case restart == "":
		return workflow.Outcome{}, errors.New("restart: give the command that restarts the server (or vars.mysql_restart in the inventory)")
	}
	client := m.client(a.Client)
	conf := a.conf()
	same, _ := m.exec(ctx, c, readConf(file))
	if cur, _ := m.queryOn(ctx, c, currentSettings(client)); cur == a.want() && same.Stdout == conf {
		return workflow.Outcome{Ran: true, Command: "nothing to change", Outputs: map[string]string{"changed": "no"}}, nil
	}
	o, err := m.exec(ctx, c, writeConf(file, conf, restart, client))
	if err != nil {
		return o, fmt.Errorf("configure MySQL replication settings in %s: %w", file, err)
	}
	if got, _ := m.queryOn(ctx, c, currentSettings(client)); got != a.want() {
		return o, fmt.Errorf("after the restart the server runs with server_id, log_bin, read_only = %q, want %q: is %s read by the server?", got, a.want(), file)
	}
	o.Outputs = map[string]string{"changed": "yes"}
	return o, nil
}
