package mysql

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// dialectNote is the plan's note before the first statement that depends
// on the server's version.
const dialectNote = "statements as MariaDB takes them; MySQL 8 gets its REPLICA/SOURCE forms instead, as SELECT VERSION() above says"

// ReplUser (action mysql_repl_user) creates (or updates) the replication
// user on the source.
type ReplUser struct{ base }

// ReplUserArgs are the arguments of mysql_repl_user.
type ReplUserArgs struct {
	User     string `arg:"user,required"`
	Password string `arg:"password,required"` // a secret
	Host     string `arg:"host"`              // the hosts it may connect from, default '%'
	Client   string `arg:"client"`
}

// NewArgs implements workflow.Action.
func (*ReplUser) NewArgs() any { return &ReplUserArgs{Host: "%"} }

func (m *ReplUser) command(a *ReplUserArgs) command {
	acct := sqlString(a.User) + "@" + sqlString(or(a.Host, "%"))
	c := sql("", m.client(a.Client), "CREATE USER IF NOT EXISTS "+acct+" IDENTIFIED BY "+sqlString(a.Password)+";\n"+
		"ALTER USER "+acct+" IDENTIFIED BY "+sqlString(a.Password)+";\n"+
		"GRANT REPLICATION SLAVE ON *.* TO "+acct+";\n")
	c.what = "create the replication user " + acct
	return c
}

// Plan implements workflow.Action.
func (m *ReplUser) Plan(_ string, args any) []string {
	return []string{m.command(args.(*ReplUserArgs)).String()}
}

// Run implements workflow.Action.
func (m *ReplUser) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	return m.exec(ctx, c, m.command(c.Args.(*ReplUserArgs)))
}

// ReplicaStart (action mysql_replica_start) makes the step's host a
// replica of source: a consistent mysqldump of the database on the source
// (with its binary log position), loaded here after CHANGE MASTER TO (or
// CHANGE REPLICATION SOURCE TO) points at the source, then START SLAVE
// (REPLICA). A replica that already replicates from source_address is left
// alone unless reseed is true.
//
// Outputs: seeded (yes|no).
type ReplicaStart struct{ base }

// ReplicaStartArgs are the arguments of mysql_replica_start.
type ReplicaStartArgs struct {
	Source        string `arg:"source,required"`         // the inventory host to dump from
	SourceAddress string `arg:"source_address,required"` // the source's address as this host reaches it
	User          string `arg:"user,required"`
	Password      string `arg:"password,required"` // a secret
	Database      string `arg:"database"`          // default the inventory's
	Port          int    `arg:"port"`              // the source's; default the inventory's (3306)
	Client        string `arg:"client"`
	Dump          string `arg:"dump"` // mysqldump's command
	Reseed        bool   `arg:"reseed"`
}

// NewArgs implements workflow.Action.
func (*ReplicaStart) NewArgs() any { return &ReplicaStartArgs{} }

func statusQuery(host, client string, syn ReplicationSyntax) command {
	c := sql(host, client, syn.Status+"\\G\n")
	c.what = syn.Status
	return c
}

func (m *ReplicaStart) database(a *ReplicaStartArgs) string {
	return or(a.Database, m.Settings.Database)
}

func (m *ReplicaStart) port(a *ReplicaStartArgs) int {
	if a.Port != 0 {
		return a.Port
	}
	return m.Settings.Port
}

// dumpCommand dumps the database on the source with its binary log
// position.
func (m *ReplicaStart) dumpCommand(host string, a *ReplicaStartArgs, there ReplicationSyntax) command {
	return command{host: host, script: or(a.Dump, m.Settings.Dump) + " --single-transaction " + there.DumpFlag + "=1 --databases " +
		remote.ShellQuote(m.database(a))}
}

// dumpPlaceholder stands for the dump in a plan's load command.
const dumpPlaceholder = "-- the output of the mysqldump above"

// loadCommand points the replica at the source, loads the dump and
// starts replicating.
func (m *ReplicaStart) loadCommand(a *ReplicaStartArgs, here ReplicationSyntax, dump string) command {
	change := here.ChangeSource(a.SourceAddress, m.port(a), a.User, a.Password)
	c := sql("", m.client(a.Client), here.Stop+";\n"+change+";\n"+dump+"\n"+here.Start+";\n")
	c.what = fmt.Sprintf("%s; %s; (the dump of %s); %s", here.Stop, here.Change, m.database(a), here.Start)
	return c
}

// Plan implements workflow.Action.
func (m *ReplicaStart) Plan(host string, args any) []string {
	a := args.(*ReplicaStartArgs)
	client, src := m.client(a.Client), hostOf(host, a.Source)
	if a.Reseed {
		return []string{versionQuery("", client).String(), versionQuery(src, client).String(),
			note(dialectNote, m.dumpCommand(src, a, planSyntax)),
			m.loadCommand(a, planSyntax, dumpPlaceholder).String()}
	}
	return []string{versionQuery("", client).String(),
		note(dialectNote, statusQuery("", client, planSyntax)),
		note("unless the status above shows a replica of "+a.SourceAddress+" with both threads running (then nothing more runs):",
			versionQuery(src, client)),
		m.dumpCommand(src, a, planSyntax).String(),
		m.loadCommand(a, planSyntax, dumpPlaceholder).String()}
}

// Run implements workflow.Action.
func (m *ReplicaStart) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*ReplicaStartArgs)
	if m.database(a) == "" {
		return workflow.Outcome{}, errors.New("database: name the database to replicate (or database.name in the inventory)")
	}
	client, src := m.client(a.Client), hostOf(c.Host, a.Source)
	here, err := m.syntaxOn(ctx, c, "", client)
	if err != nil {
		return workflow.Outcome{}, fmt.Errorf("replica %s: %w", c.Host, err)
	}
	if !a.Reseed {
		o, err := m.exec(ctx, c, statusQuery("", client, here))
		if err != nil {
			return o, fmt.Errorf("replica %s: %w", c.Host, err)
		}
		if st, err := ParseReplicaStatus(o.Stdout); err == nil && st.Healthy() && st.SourceHost == a.SourceAddress {
			o.Outputs = map[string]string{"seeded": "no"}
			return o, nil
		}
	}
	there, err := m.syntaxOn(ctx, c, src, client)
	if err != nil {
		return workflow.Outcome{}, fmt.Errorf("source %s: %w", a.Source, err)
	}
	quiet := c
	quiet.Output = nil // the dump is not for the operator's screen
	dump, err := m.exec(ctx, quiet, m.dumpCommand(src, a, there))
	if err != nil {
		return workflow.Outcome{Command: dump.Command, Stderr: dump.Stderr}, fmt.Errorf("dump %s on %s: %w", m.database(a), a.Source, err)
	}
	if !strings.Contains(dump.Stdout, "_LOG_POS=") {
		return workflow.Outcome{Command: dump.Command}, fmt.Errorf("dump of %s on %s has no binary log position: is log_bin on there?", m.database(a), a.Source)
	}
	load := m.loadCommand(a, here, dump.Stdout)
	o, err := m.exec(ctx, c, load)
	// The outcome shows the load as the plan does, without the dump.
	o.Command = mask(m.loadCommand(a, here, fmt.Sprintf("%s (%d bytes)", dumpPlaceholder, len(dump.Stdout))).String(), c.Secrets)
	if err != nil {
		return o, fmt.Errorf("start replication from %s: %w", a.Source, err)
	}
	o.Outputs = map[string]string{"seeded": "yes"}
	return o, nil
}

// ReplicaStatusCheck (action mysql_replica_status) reads SHOW SLAVE
// STATUS (SHOW REPLICA STATUS) and checks it.
//
// Outputs: io_running, sql_running, seconds_behind (-1 unknown), source_host.
type ReplicaStatusCheck struct{ base }

// ReplicaStatusArgs are the arguments of mysql_replica_status.
type ReplicaStatusArgs struct {
	// Want: running (both threads run) or none (the server is no replica).
	Want   string         `arg:"want" oneof:"running|none"`
	MaxLag *time.Duration `arg:"max_lag"` // with want running: at most this far behind
	Client string         `arg:"client"`
}

// NewArgs implements workflow.Action.
func (*ReplicaStatusCheck) NewArgs() any { return &ReplicaStatusArgs{Want: "running"} }

// Plan implements workflow.Action.
func (m *ReplicaStatusCheck) Plan(_ string, args any) []string {
	a := args.(*ReplicaStatusArgs)
	client := m.client(a.Client)
	return []string{versionQuery("", client).String(), note(dialectNote, statusQuery("", client, planSyntax))}
}

// Run implements workflow.Action.
func (m *ReplicaStatusCheck) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*ReplicaStatusArgs)
	client := m.client(a.Client)
	syn, err := m.syntaxOn(ctx, c, "", client)
	if err != nil {
		return workflow.Outcome{}, err
	}
	o, err := m.exec(ctx, c, statusQuery("", client, syn))
	if err != nil {
		return o, err
	}
	st, err := ParseReplicaStatus(o.Stdout)
	if err != nil {
		return o, fmt.Errorf("%s on %s: %w", syn.Status, c.Host, err)
	}
	o.Outputs = map[string]string{"io_running": st.IORunning, "sql_running": st.SQLRunning,
		"seconds_behind": strconv.Itoa(st.SecondsBehind), "source_host": st.SourceHost}
	switch want := or(a.Want, "running"); want {
	case "none":
		if st.Configured {
			return o, fmt.Errorf("%s is still a replica of %s", c.Host, st.SourceHost)
		}
		return o, nil
	case "running":
	default:
		return o, fmt.Errorf("want %q: use running or none", want)
	}
	if !st.Configured {
		return o, fmt.Errorf("%s is no replica (%s is empty)", c.Host, syn.Status)
	}
	if !st.Healthy() {
		return o, fmt.Errorf("replication on %s: IO thread %s, SQL thread %s%s%s", c.Host, st.IORunning, st.SQLRunning,
			prefixed("; IO error: ", st.LastIOError), prefixed("; SQL error: ", st.LastSQLError))
	}
	if lim := a.MaxLag; lim != nil {
		if st.SecondsBehind < 0 || time.Duration(st.SecondsBehind)*time.Second > *lim {
			return o, fmt.Errorf("replication on %s is %ds behind, more than %s", c.Host, st.SecondsBehind, *lim)
		}
	}
	return o, nil
}

// Promote (action mysql_promote) makes a replica a writable primary: STOP
// SLAVE, RESET SLAVE ALL, SET GLOBAL read_only = OFF (REPLICA forms on
// MySQL 8), and read_only = OFF in conf_file so that a restart keeps it.
type Promote struct{ base }

// PromoteArgs are the arguments of mysql_promote.
type PromoteArgs struct {
	ConfFile string `arg:"conf_file"` // default the inventory's; "" with none: the server's settings only
	Client   string `arg:"client"`
}

// NewArgs implements workflow.Action.
func (*Promote) NewArgs() any { return &PromoteArgs{} }

// promotePoll is how often, and promoteTries how many more times, the
// server is asked whether it dropped read_only.
const (
	promotePoll  = 200 * time.Millisecond
	promoteTries = 10
)

func promoteSQL(client string, syn ReplicationSyntax) command {
	c := sql("", client, syn.Stop+";\n"+syn.ResetAll+";\nSET GLOBAL read_only = OFF;\n")
	c.what = c.label()
	return c
}

func confReadOnlyOff(file string) command {
	q := remote.ShellQuote(file)
	return command{script: "if [ -f " + q + " ]; then sed -i 's/^read_only *=.*/read_only = OFF/' " + q + "; fi",
		what: "read_only = OFF in " + file}
}

func readOnlyQuery(client string) command { return query("", client, "SELECT @@read_only") }

// Plan implements workflow.Action.
func (m *Promote) Plan(_ string, args any) []string {
	a := args.(*PromoteArgs)
	client := m.client(a.Client)
	out := []string{versionQuery("", client).String(), note(dialectNote, promoteSQL(client, planSyntax))}
	if f := or(a.ConfFile, m.Settings.ConfFile); f != "" {
		out = append(out, confReadOnlyOff(f).String())
	}
	return append(out, note(fmt.Sprintf("until it prints 0, again every %s, up to %d more times:", promotePoll, promoteTries), readOnlyQuery(client)))
}

// Run implements workflow.Action.
func (m *Promote) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*PromoteArgs)
	client := m.client(a.Client)
	syn, err := m.syntaxOn(ctx, c, "", client)
	if err != nil {
		return workflow.Outcome{}, fmt.Errorf("promote %s: %w", c.Host, err)
	}
	o, err := m.exec(ctx, c, promoteSQL(client, syn))
	if err != nil {
		return o, fmt.Errorf("promote %s: %w", c.Host, err)
	}
	if f := or(a.ConfFile, m.Settings.ConfFile); f != "" {
		if fo, err := m.exec(ctx, c, confReadOnlyOff(f)); err != nil {
			return fo, fmt.Errorf("promote %s: %w", c.Host, err)
		}
	}
	// The server may take a moment to drop read_only for clients.
	for i := 0; ; i++ {
		v, err := m.queryOn(ctx, c, readOnlyQuery(client))
		if err == nil && v == "0" {
			break
		}
		if i == promoteTries {
			return o, fmt.Errorf("promote %s: read_only is still %q (%v)", c.Host, v, err)
		}
		select {
		case <-ctx.Done():
			return o, ctx.Err()
		case <-time.After(promotePoll):
		}
	}
	return o, nil
}

// CatchUp (action mysql_catch_up) waits until the step's host, a replica
// of source, has applied everything source wrote to its binary log: it
// reads source's position (SHOW MASTER STATUS, SHOW BINARY LOG STATUS on
// MySQL 8.2+) and waits for it on the replica with MASTER_POS_WAIT
// (SOURCE_POS_WAIT on MySQL 8.0.26+). Stop the writes on source first, or
// the position moves on after it was read.
//
// Outputs: file, position (source's binary log position), events (how
// many events the replica still had to apply).
type CatchUp struct{ base }

// CatchUpArgs are the arguments of mysql_catch_up.
type CatchUpArgs struct {
	Source string        `arg:"source,required"` // the inventory host of the source
	Wait   time.Duration `arg:"wait"`            // how long the replica may take; whole seconds, default 60s
	Client string        `arg:"client"`
}

// NewArgs implements workflow.Action.
func (*CatchUp) NewArgs() any { return &CatchUpArgs{Wait: 60 * time.Second} }

func sourceStatusQuery(host, client string, syn ReplicationSyntax) command {
	c := sql(host, client, syn.SourceStatus+"\\G\n")
	c.what = syn.SourceStatus
	return c
}

// posWaitQuery waits on the replica for the source's position (file and
// position as SQL literals).
func posWaitQuery(client string, syn ReplicationSyntax, file, pos string, wait time.Duration) command {
	return query("", client, fmt.Sprintf("SELECT %s(%s, %s, %d)", syn.PosWait, file, pos, seconds(wait)))
}

// seconds is wait in whole seconds, rounded up.
func seconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

// Plan implements workflow.Action.
func (m *CatchUp) Plan(host string, args any) []string {
	a := args.(*CatchUpArgs)
	client, src := m.client(a.Client), hostOf(host, a.Source)
	return []string{
		versionQuery(src, client).String(),
		note(dialectNote, sourceStatusQuery(src, client, planSyntax)),
		versionQuery("", client).String(),
		note("with File and Position as the status above printed them:",
			posWaitQuery(client, planSyntax, sqlString("<File>"), "<Position>", a.Wait)),
	}
}

// Run implements workflow.Action.
func (m *CatchUp) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*CatchUpArgs)
	if a.Wait < time.Second {
		return workflow.Outcome{}, fmt.Errorf("wait %s: want at least 1s", a.Wait)
	}
	wait := seconds(a.Wait)
	client, src := m.client(a.Client), hostOf(c.Host, a.Source)
	there, err := m.syntaxOn(ctx, c, src, client)
	if err != nil {
		return workflow.Outcome{}, fmt.Errorf("source %s: %w", a.Source, err)
	}
	so, err := m.exec(ctx, c, sourceStatusQuery(src, client, there))
	if err != nil {
		return so, fmt.Errorf("binary log position of %s: %w", a.Source, err)
	}
	pos, err := ParseBinlogPosition(so.Stdout)
	if err != nil {
		return so, fmt.Errorf("%s on %s: %w", there.SourceStatus, a.Source, err)
	}
	here, err := m.syntaxOn(ctx, c, "", client)
	if err != nil {
		return so, fmt.Errorf("replica %s: %w", c.Host, err)
	}
	at := strconv.FormatInt(pos.Position, 10)
	o, err := m.exec(ctx, c, posWaitQuery(client, here, sqlString(pos.File), at, a.Wait))
	o.Outputs = map[string]string{"file": pos.File, "position": at}
	if err != nil {
		return o, fmt.Errorf("wait for %s to reach %s:%d of %s: %w", c.Host, pos.File, pos.Position, a.Source, err)
	}
	n, err := ParsePosWait(o.Stdout)
	if err != nil {
		return o, fmt.Errorf("wait for %s to reach %s:%d of %s (%ds): %w", c.Host, pos.File, pos.Position, a.Source, wait, err)
	}
	o.Outputs["events"] = strconv.Itoa(n)
	return o, nil
}
