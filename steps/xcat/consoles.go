package xcat

import (
	"context"
	"fmt"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// ConsolesArgs are xcat_consoles' arguments.
type ConsolesArgs struct {
	// Server is the console server xCAT drives: goconserver (makegocons)
	// or conserver (makeconservercf); auto takes the one the host's
	// inventory entry names (services: {console: ...}), else the one
	// installed, goconserver first.
	Server string `arg:"server" oneof:"auto|goconserver|conserver"`
	// Nodes is a noderange; "" for every node with a console.
	Nodes string `arg:"nodes"`
}

// consolesScript picks the console server and runs its xCAT command.
//
// xCAT's makeconservercf refuses while goconserver runs ("goconserver is
// being used as the console service, did you mean: makegocons") and
// fails without /usr/sbin/conserver ("conserver is not supported or not
// installed"), xCAT-server/lib/xcat/plugins/conserver.pm:205-224;
// makegocons refuses while conserver runs and starts goconserver itself
// (xCAT-server/lib/xcat/plugins/goconserver.pm:143-180). Both find the
// servers at those paths.
func consolesScript(a *ConsolesArgs) string {
	server := a.Server
	if server == "" {
		server = "auto"
	}
	nodes := ""
	if a.Nodes != "" {
		nodes = " " + remote.ShellQuote(a.Nodes)
	}
	return xcatPath + `server=` + server + `
if [ "$server" = auto ]; then
	if [ -x /usr/bin/goconserver ]; then server=goconserver
	elif [ -x /usr/sbin/conserver ]; then server=conserver
	else echo "no console server on this host (neither /usr/bin/goconserver nor /usr/sbin/conserver): install goconserver or conserver as on the primary" >&2; exit 1; fi
fi
echo "server=$server"
case $server in
goconserver) makegocons` + nodes + ` ;;
conserver) makeconservercf` + nodes + ` ;;
esac`
}

// Consoles (xcat_consoles) writes the console server's configuration from
// the xCAT database with the command of the server the host runs:
// makegocons for goconserver, makeconservercf for conserver.
//
// Outputs: server (goconserver|conserver).
type Consoles struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (Consoles) NewArgs() any { return &ConsolesArgs{Server: "auto"} }

// on is a with the server the host's inventory entry names, if a says
// auto.
func (x Consoles) on(host string, a *ConsolesArgs) *ConsolesArgs {
	b := *a
	if b.Server != "" && b.Server != "auto" || x.Env == nil {
		return &b
	}
	if h, err := x.Env.Host(host); err == nil {
		switch own := h.Services["console"]; {
		case strings.Contains(own, "goconserver"):
			b.Server = "goconserver"
		case strings.Contains(own, "conserver"):
			b.Server = "conserver"
		}
	}
	return &b
}

// Plan implements workflow.Action.
func (x Consoles) Plan(host string, args any) []string {
	return []string{consolesScript(x.on(host, args.(*ConsolesArgs)))}
}

// Run implements workflow.Action.
func (x Consoles) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := x.on(c.Host, c.Args.(*ConsolesArgs))
	o, _, err := x.Env.Run(ctx, c, act.Script{Text: consolesScript(a)})
	kv := act.KeyValues(o.Stdout)
	o.Outputs = map[string]string{"server": kv["server"]}
	if err != nil {
		cmd := map[string]string{"goconserver": "makegocons", "conserver": "makeconservercf"}[kv["server"]]
		if cmd == "" {
			cmd = "the console configuration"
		}
		return o, fmt.Errorf("%s on %s: %w", cmd, act.HostLabel(c.Host), err)
	}
	return o, nil
}
