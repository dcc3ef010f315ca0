package check

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/steps/services"
	"github.com/hamnflow/hamnflow/workflow"
)

// Verify (cluster_verify) checks, after a failover, failback or
// activation, that the cluster is whole: served by one management node
// through the cluster address, and by nobody else. It asks the serving MN
// first (xCAT through the cluster address, its services, the nodes, DHCP,
// consoles, the TFTP boot file, xcatprobe), then the peer MN and each
// service node at once (the peer's services; DNS and TFTP through the
// cluster address as a service node sees them, and the peer's own
// address silent). It changes nothing; it prints a PASS/FAIL/SKIP table
// and fails when a check fails. A check that cannot run here (no service
// node, no tftp client, the peer unreachable) is SKIP with the reason.
//
// Outputs: failed, passed, skipped (counts), checks (how many rows).
type Verify struct {
	Env    *act.Env
	Config Config
}

// VerifyArgs are cluster_verify's arguments.
type VerifyArgs struct {
	// Node is the MN that serves the cluster now (an inventory host).
	Node string `arg:"node,required"`
	// Peer is the other MN, whose services must be stopped and not
	// enabled; "" when there is none to check.
	Peer string `arg:"peer"`
	// PeerDown says the peer did not answer at the start (a failover's
	// dead old primary): its services are not asked, which would wait
	// for SSH's connect timeout.
	PeerDown bool `arg:"peer_down"`
	// Nodes is the noderange whose DHCP entries and consoles are checked
	// ("" for all).
	Nodes string `arg:"nodes"`
	// Sample is how many of those nodes a service node resolves through
	// the cluster address.
	Sample int `arg:"sample"`
	// TFTPFile is the boot file under /tftpboot a service node fetches
	// over TFTP from the cluster address; "" for the first of
	// DefaultTFTPFiles the serving MN has.
	TFTPFile string `arg:"tftp_file"`
	// XCATProbe runs `xcatprobe xcatmn` on the serving MN when it is
	// installed.
	XCATProbe bool `arg:"xcatprobe"`
	// Roles are the services the serving MN runs (and the peer not):
	// xcatd, dhcp, dns, console; empty items are left out (a part's
	// template drops dhcp on AIX, whose nodes boot through NIM).
	Roles []string `arg:"roles"`
}

// roles are a's service roles, the usual four when it names none.
func (a *VerifyArgs) roles() []string {
	var out []string
	for _, r := range a.Roles {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return verifyRoles
	}
	return out
}

// DefaultTFTPFiles are the boot loaders xCAT's nodeset points nodes at,
// relative to /tftpboot, in the order verify looks for them: xNBA
// (xCAT-server/lib/xcat/plugins/xnba.pm), PXELINUX (pxe.pm), GRUB 2
// (grub2.pm) and yaboot (yaboot.pm, POWER).
var DefaultTFTPFiles = []string{"xcat/xnba.kpxe", "pxelinux.0", "boot/grub2/grub2.x86_64.efi", "boot/grub2/grub2.ppc", "yaboot"}

// NewArgs implements workflow.Action.
func (Verify) NewArgs() any { return &VerifyArgs{Sample: 3, XCATProbe: true} }

// Plan implements workflow.Action.
func (v Verify) Plan(_ string, args any) []string {
	a := args.(*VerifyArgs)
	c := v.Config.withDefaults()
	lines := []string{"[on " + a.Node + "] " + servingScript(c, c.host(a.Node), a)}
	if a.XCATProbe {
		lines = append(lines, "[on "+a.Node+", after its checks, beside the service nodes'] "+probeScript(c.host(a.Node)))
	}
	if a.Peer != "" {
		lines = append(lines, "[on "+a.Peer+"] "+peerScript(c.host(a.Peer), a.roles()))
	}
	for _, sn := range c.ServiceNodes {
		lines = append(lines, "[on "+sn.Name+"] "+serviceNodeScript(c, a, ServingFacts{Domain: "DOMAIN", TFTPFile: "FILE"}, nil))
	}
	return lines
}

// peerAddress is the peer's own address where it is not the cluster's
// (floating mode): there its DNS must be silent. "" in identity mode,
// where the serving MN holds the peer's address, or without a peer.
func (c Config) peerAddress(a *VerifyArgs) string {
	if a.Peer == "" {
		return ""
	}
	if addr := c.host(a.Peer).Address; addr != c.ClusterAddress {
		return addr
	}
	return ""
}

// xcatEnv is what xCAT's commands need on an MN beyond the login
// environment (xCAT-client.spec's /etc/profile.d/xcat.sh).
const xcatEnv = "XCATROOT=${XCATROOT:-/opt/xcat}; PATH=/opt/xcat/bin:/opt/xcat/sbin:/opt/xcat/share/xcat/tools:$PATH; export XCATROOT PATH\n"

// verifyRoles are the services the serving MN runs and starts at boot,
// and the peer neither.
var verifyRoles = []string{"xcatd", "dhcp", "dns", "console"}

// servingScript is the serving MN's read-only script: lsdef of the site
// through the cluster address (xcatd's port 3001, as a node or service
// node reaches it), the services, the nodes (nodels), their DHCP entries
// (makedhcp -q, xCAT-server/lib/xcat/plugins/dhcp.pm:1624-1636), the
// consoles in conserver.cf (conserver.pm writes one "console NODE {"
// block per node), the boot file, and xcatprobe.
func servingScript(c Config, self Host, a *VerifyArgs) string {
	nodes := a.Nodes
	if nodes == "" {
		nodes = "all"
	}
	var b strings.Builder
	sec := func(name, body string) {
		b.WriteString("echo " + remote.ShellQuote(marker+name) + "\n" + body + "\n")
	}
	rc := `; echo "` + rcMark + `$?"`
	b.WriteString("cd / || exit 1\n" + xcatEnv)
	sec("site", "XCATHOST="+remote.ShellQuote(net.JoinHostPort(c.ClusterAddress, "3001"))+" lsdef -t site -o clustersite -i master,domain,nameservers 2>&1"+rc)
	serviceSections(sec, a.roles(), self)
	sec("nodes", "nodels "+remote.ShellQuote(nodes)+" hosts.ip mac.mac nodehm.cons 2>&1"+rc)
	if slices.Contains(a.roles(), "dhcp") {
		sec("dhcp", "makedhcp -q "+remote.ShellQuote(nodes)+" 2>&1"+rc)
	}
	sec("consoles", `if [ -f /etc/conserver.cf ]; then sed -n 's/^console \([^ {]*\).*/\1/p' /etc/conserver.cf; echo "`+rcMark+`0"; `+
		`elif command -v congo >/dev/null 2>&1; then echo "@@goconserver"; congo list 2>&1`+rc+`; else echo "`+rcMark+`127"; fi`)
	files := DefaultTFTPFiles
	if a.TFTPFile != "" {
		files = []string{a.TFTPFile}
	}
	var quoted []string
	for _, f := range files {
		quoted = append(quoted, remote.ShellQuote(f))
	}
	sec("tftp", "for f in "+strings.Join(quoted, " ")+`; do if [ -f "/tftpboot/$f" ]; then echo "file=$f"; echo "size=$(wc -c < "/tftpboot/$f" | tr -d ' ')"; break; fi; done`)
	b.WriteString("exit 0\n")
	return b.String()
}

// probeScript runs xcatprobe xcatmn on the serving MN, where xCAT-probe
// is installed (its own session: it takes seconds, and runs while the
// other checks do). -i names the interface facing the nodes
// (xCAT-probe/subcmds/xcatmn). xcatmn's hierarchy.pm loads
// xCAT::ServiceNodeUtils with only probe/lib/perl on @INC
// (xCAT-probe/lib/perl/hierarchy.pm:6-8), so xCAT's own library goes on
// PERL5LIB. The script also counts the interface's IPv4 addresses: xcatmn
// compares all of them, joined, with site.master (subcmds/xcatmn:470-482),
// which fails wherever the cluster address is a second address there.
func probeScript(self Host) string {
	q := remote.ShellQuote(nicOf(self))
	return "cd / || exit 1\n" + xcatEnv + `echo "` + marker + `probe"
if command -v xcatprobe >/dev/null 2>&1; then
	echo "nic_addrs=$(ip -4 -o addr show dev ` + q + ` 2>/dev/null | wc -l | tr -d ' ')"
	{ PERL5LIB=$XCATROOT/lib/perl${PERL5LIB:+:$PERL5LIB} xcatprobe xcatmn -i ` + q + ` 2>&1; echo "` + rcMark + `$?"; } | sed 's/\x1b\[[0-9;]*m//g'
else
	echo "` + rcMark + `127"
fi
exit 0
`
}

// serviceSections adds a section per service role: the service step's
// discovery of h's unit and its state (steps/services).
func serviceSections(sec func(name, body string), roles []string, h Host) {
	for _, r := range roles {
		sec("service "+r, "("+services.Discovery(r, initOf(h.Init), h.Services)+") 2>&1")
	}
}

// peerScript reads the peer's services.
func peerScript(self Host, roles []string) string {
	var b strings.Builder
	b.WriteString("cd / || exit 1\n")
	serviceSections(func(name, body string) {
		b.WriteString("echo " + remote.ShellQuote(marker+name) + "\n" + body + "\n")
	}, roles, self)
	b.WriteString("exit 0\n")
	return b.String()
}

// serviceNodeScript asks, from a service node, the cluster address's DNS
// for each sample node's name (host(1), bind9's client, as xCAT's docs
// check makedns), the peer's own address for the same (it must not
// answer), and fetches the boot file over TFTP from the cluster address.
func serviceNodeScript(c Config, a *VerifyArgs, sf ServingFacts, sample []NodeEntry) string {
	var b strings.Builder
	sec := func(name, body string) {
		b.WriteString("echo " + remote.ShellQuote(marker+name) + "\n" + body + "\n")
	}
	b.WriteString("cd / || exit 1\n")
	names := []string{"NODE"}
	if sample != nil {
		names = names[:0]
		for _, n := range sample {
			names = append(names, n.Name)
		}
	}
	fqdn := func(n string) string {
		if sf.Domain != "" {
			return remote.ShellQuote(n + "." + sf.Domain)
		}
		return remote.ShellQuote(n)
	}
	// The peer's own address is asked once, in the background: a silent
	// server costs host(1)'s whole wait, which the other checks need not
	// wait for.
	if peerAddr := c.peerAddress(a); peerAddr != "" {
		b.WriteString("( echo " + remote.ShellQuote(marker+"peerdns "+names[0]) + "\n" +
			`if command -v host >/dev/null 2>&1; then host -W 2 -r ` + fqdn(names[0]) + ` ` + remote.ShellQuote(peerAddr) + ` 2>&1; echo "` + rcMark + `$?"; else echo "` + rcMark + `127"; fi` +
			"\n) 2>&1 | awk '{ print \"" + jobMark + "1 \" $0; fflush() }' &\n")
	}
	for _, n := range names {
		sec("dns "+n, `if command -v host >/dev/null 2>&1; then host -W 3 `+fqdn(n)+` `+remote.ShellQuote(c.ClusterAddress)+` 2>&1; echo "`+rcMark+`$?"; else echo "`+rcMark+`127"; fi`)
	}
	if sf.TFTPFile != "" {
		// UDP: a lost block stalls tftp-hpa until its timeout; the
		// transfer is tried three times, 5 s each.
		sec("tftp", `d=$(mktemp -d) || exit 1
if command -v tftp >/dev/null 2>&1; then
	for try in 1 2 3; do
		rm -f "$d/got"; (cd "$d" && timeout 5 tftp -m binary `+remote.ShellQuote(c.ClusterAddress)+` -c get `+remote.ShellQuote(sf.TFTPFile)+` got 2>&1)
		size=$(wc -c < "$d/got" 2>/dev/null | tr -d ' ')
		[ "${size:-0}" = `+remote.ShellQuote(strconv.FormatInt(sf.TFTPSize, 10))+` ] && break
	done
	echo "size=$size"; echo "tries=$try"; echo "`+rcMark+`0"
else
	echo "`+rcMark+`127"
fi
rm -rf "$d"`)
	}
	b.WriteString("wait\n")
	b.WriteString("exit 0\n")
	return b.String()
}

// NodeEntry is one node as nodels printed it.
type NodeEntry struct {
	Name, IP, MAC, Cons string
}

// DHCPEntry is one node's entry as makedhcp -q printed it.
type DHCPEntry struct{ IP, MAC string }

// ServingFacts are what the serving MN's script found.
type ServingFacts struct {
	SiteErr  string // lsdef through the cluster address failed: its message
	Master   string
	Domain   string
	Services map[string]ServiceState
	Nodes    []NodeEntry
	NodesErr string
	DHCP     map[string]DHCPEntry
	DHCPErr  string
	// Consoles are the nodes conserver.cf (or goconserver) has; nil when
	// neither is there.
	Consoles   map[string]bool
	ConsoleErr string
	TFTPFile   string
	TFTPSize   int64
	Probe      *ProbeResult // nil: not asked or not installed
}

// ProbeResult is xcatprobe xcatmn's verdict.
type ProbeResult struct {
	Exit   int
	Failed []string // the checks it marked FAIL
	// Unsupported is xcatprobe's message when xcatmn would not load
	// (its -T failed: "Unsupported sub command: xcatmn").
	Unsupported string
	NICAddrs    int // IPv4 addresses on the interface it was given
	Tries       int // how often it ran (a failure is asked again once)
}

// failures are the failed checks that apply: xcatmn's provision network
// check does not where the interface has more than one address.
func (p *ProbeResult) failures() []string {
	var out []string
	for _, f := range p.Failed {
		if f == probeProvisionCheck && p.NICAddrs > 1 {
			continue
		}
		out = append(out, f)
	}
	return out
}

// probeProvisionCheck is xcatmn's check that compares the interface's
// addresses with site.master (subcmds/xcatmn:470-482).
const probeProvisionCheck = "Checking provision network is configured"

// ParseServing reads the serving MN's script output.
func ParseServing(out string) ServingFacts {
	secs := SplitSections(out)
	f := ServingFacts{Services: map[string]ServiceState{}}
	s := secs["site"]
	if s.Exit != 0 {
		f.SiteErr = s.Tail()
	} else {
		kv := act.KeyValues(s.Text())
		f.Master, f.Domain = kv["master"], kv["domain"]
	}
	for _, r := range verifyRoles {
		if sec, ok := secs["service "+r]; ok {
			f.Services[r] = parseService(sec)
		}
	}
	f.Nodes, f.NodesErr = ParseNodels(secs["nodes"])
	f.DHCP, f.DHCPErr = ParseMakedhcpQuery(secs["dhcp"])
	f.Consoles, f.ConsoleErr = parseConsoles(secs["consoles"])
	kv := act.KeyValues(secs["tftp"].Text())
	f.TFTPFile = kv["file"]
	f.TFTPSize, _ = strconv.ParseInt(kv["size"], 10, 64)
	return f
}

// ParseNodels reads `nodels NODES hosts.ip mac.mac nodehm.cons`: a line
// "NODE: TABLE.COLUMN: VALUE" per node and attribute (tabutils.pm nodels;
// the client prints name, desc and contents), the value empty when unset.
func ParseNodels(s Section) ([]NodeEntry, string) {
	if s.Exit != 0 {
		return nil, s.Tail()
	}
	byName := map[string]*NodeEntry{}
	var order []string
	for _, l := range s.Lines {
		name, rest, ok := strings.Cut(strings.TrimSpace(l), ": ")
		if !ok {
			name, rest, ok = strings.Cut(strings.TrimSpace(l), ":")
			if !ok {
				continue
			}
		}
		attr, val, _ := strings.Cut(rest, ":")
		val = strings.TrimSpace(val)
		e := byName[name]
		if e == nil {
			e = &NodeEntry{Name: name}
			byName[name] = e
			order = append(order, name)
		}
		switch strings.TrimSpace(attr) {
		case "hosts.ip":
			e.IP = val
		case "mac.mac":
			e.MAC = val
		case "nodehm.cons":
			e.Cons = val
		}
	}
	out := make([]NodeEntry, 0, len(order))
	for _, n := range order {
		out = append(out, *byName[n])
	}
	return out, ""
}

// ParseMakedhcpQuery reads makedhcp -q: with ISC dhcpd a line
// "NODE: ip-address = A, hardware-address = M" per node it has
// (dhcp.pm listnode, :443-446, from omshell's host object); with Kea
// "NODE: ip-address = A hardware-address = M hostname = H"
// (kea_query_node, :3427-3446). A node it does not have prints nothing.
func ParseMakedhcpQuery(s Section) (map[string]DHCPEntry, string) {
	if s.Exit != 0 {
		return nil, s.Tail()
	}
	m := map[string]DHCPEntry{}
	for _, l := range s.Lines {
		name, rest, ok := strings.Cut(strings.TrimSpace(l), ":")
		if !ok || strings.Contains(name, " ") {
			continue
		}
		e := m[name]
		if v := valueAfter(rest, "ip-address ="); v != "" {
			e.IP = v
		}
		if v := valueAfter(rest, "hardware-address ="); v != "" {
			e.MAC = strings.ToLower(strings.TrimSuffix(v, ";"))
		}
		if e.IP != "" || e.MAC != "" {
			m[name] = e
		}
	}
	return m, ""
}

func valueAfter(s, key string) string {
	_, rest, ok := strings.Cut(s, key)
	if !ok {
		return ""
	}
	f := strings.Fields(strings.TrimSpace(rest))
	if len(f) == 0 {
		return ""
	}
	return strings.Trim(strings.TrimSuffix(f[0], ","), `"`)
}

func parseConsoles(s Section) (map[string]bool, string) {
	switch s.Exit {
	case 127:
		return nil, ""
	case 0:
	default:
		return nil, s.Tail()
	}
	m := map[string]bool{}
	goc := false
	for _, l := range s.Lines {
		l = strings.TrimSpace(l)
		if l == "@@goconserver" {
			goc = true
			continue
		}
		if goc {
			// congo list: a node per line, its name first (goconserver's
			// client prints "NODE (host: ...)" or a table row).
			if f := strings.Fields(strings.Trim(l, "|")); len(f) > 0 && !strings.EqualFold(f[0], "node") && !strings.HasPrefix(f[0], "-") {
				m[f[0]] = true
			}
			continue
		}
		if l != "" {
			m[l] = true
		}
	}
	return m, ""
}

// ParseXCATProbe reads xcatprobe xcatmn's report: a line per check ending
// in [ OK ], [FAIL], [WARN] (xCAT-probe/lib/perl/probe_utils.pm, its
// send_msg), and its exit status.
func ParseXCATProbe(s Section) *ProbeResult {
	p := &ProbeResult{Exit: s.Exit}
	seen := map[string]bool{}
	for _, l := range s.Lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "Unsupported sub command") {
			p.Unsupported = t
		}
		if v, ok := strings.CutPrefix(t, "nic_addrs="); ok {
			p.NICAddrs, _ = strconv.Atoi(v)
			continue
		}
		// "[mn]: Checking ...   [FAIL]" and, in the summary, the same
		// check again without the server tag.
		if rest, ok := strings.CutPrefix(t, "["); ok {
			if _, after, ok := strings.Cut(rest, "]: "); ok {
				t = after
			}
		}
		if i := strings.LastIndex(t, "[FAIL]"); i >= 0 && i == len(t)-len("[FAIL]") {
			name := strings.TrimRight(strings.TrimSpace(t[:i]), ".")
			if !seen[name] && name != "Checking on MN" {
				seen[name] = true
				p.Failed = append(p.Failed, name)
			}
		}
	}
	return p
}

// PeerFacts are the peer's services.
type PeerFacts struct {
	Err      error
	Services map[string]ServiceState
}

// SNFacts are what a service node saw.
type SNFacts struct {
	Host      string
	Err       error
	DNS       map[string]Section // by node
	PeerDNS   map[string]Section
	TFTP      Section
	HasTFTP   bool
	TFTPSize  int64
	TFTPTries int
}

func parseSN(host, out string) SNFacts {
	secs := SplitSections(out)
	f := SNFacts{Host: host, DNS: map[string]Section{}, PeerDNS: map[string]Section{}}
	for _, s := range secs {
		switch s.Name {
		case "dns":
			f.DNS[s.Arg] = s
		case "peerdns":
			f.PeerDNS[s.Arg] = s
		case "tftp":
			f.TFTP, f.HasTFTP = s, true
			kv := act.KeyValues(s.Text())
			f.TFTPSize, _ = strconv.ParseInt(kv["size"], 10, 64)
			f.TFTPTries, _ = strconv.Atoi(kv["tries"])
		}
	}
	return f
}

// VerifyRow is one line of verify's table.
type VerifyRow struct{ Result, Name, Detail string }

// Run implements workflow.Action.
func (v Verify) Run(ctx context.Context, call workflow.Call) (workflow.Outcome, error) {
	a := call.Args.(*VerifyArgs)
	c := v.Config.withDefaults()
	if c.ClusterAddress == "" {
		return workflow.Outcome{}, fmt.Errorf("cluster_verify: the inventory has no cluster_address")
	}
	if a.Sample < 1 {
		a.Sample = 1
	}
	self := c.host(a.Node)
	o := workflow.Outcome{Command: "hamnflow's cluster checks from " + a.Node, Ran: true}
	out, err := runScript(ctx, v.Env, a.Node, "verify", servingScript(c, self, a))
	if err != nil {
		return o, fmt.Errorf("verify the cluster from %s: %w", a.Node, err)
	}
	sf := ParseServing(out)
	sample := sampleNodes(sf.Nodes, a.Sample)

	// xcatprobe runs after the serving MN's own checks, beside the peer's
	// and the service nodes' (which ask xcatd nothing): its check that
	// every xcatd daemon runs once counts `ps` lines
	// (subcmds/xcatmn:295-334), and a request being forked meanwhile
	// shows as a second "SSL listener". A failure is asked again once, 2 s
	// later, for the same reason (other clients' requests).
	var wg sync.WaitGroup
	var probe *ProbeResult
	var probeErr error
	if a.XCATProbe {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for try := 1; try <= 2; try++ {
				out, err := runScript(ctx, v.Env, a.Node, "xcatprobe", probeScript(self))
				if err != nil {
					probeErr = err
					return
				}
				s := SplitSections(out)["probe"]
				if s.Exit == 127 {
					return
				}
				probe = ParseXCATProbe(s)
				probe.Tries = try
				if len(probe.failures()) == 0 || probe.Unsupported != "" {
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(2 * time.Second):
				}
			}
		}()
	}

	var pf *PeerFacts
	if a.Peer != "" && a.PeerDown {
		pf = &PeerFacts{Err: fmt.Errorf("it did not answer at the start of the run")}
	} else if a.Peer != "" {
		pf = &PeerFacts{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := runScript(ctx, v.Env, a.Peer, "verify", peerScript(c.host(a.Peer), a.roles()))
			if err != nil {
				pf.Err = err
				return
			}
			pf.Services = map[string]ServiceState{}
			secs := SplitSections(out)
			for _, r := range a.roles() {
				if s, ok := secs["service "+r]; ok {
					pf.Services[r] = parseService(s)
				}
			}
		}()
	}
	sns := make([]SNFacts, len(c.ServiceNodes))
	for i, sn := range c.ServiceNodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := runScript(ctx, v.Env, sn.Name, "verify", serviceNodeScript(c, a, sf, sample))
			if err != nil {
				sns[i] = SNFacts{Host: sn.Name, Err: err}
				return
			}
			sns[i] = parseSN(sn.Name, out)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return o, err
	}
	sf.Probe = probe
	if probeErr != nil {
		sf.Probe = &ProbeResult{Exit: -1, Unsupported: "xcatprobe did not run: " + shortErr(probeErr)}
	}
	rows := EvaluateVerify(c, a, sf, pf, sns, sample)
	act.Say(call, &o, fmt.Sprintf("%-5s %-44s %s", "RESULT", "CHECK", "DETAIL"))
	var failed []string
	passed, skipped := 0, 0
	for _, r := range rows {
		act.Say(call, &o, fmt.Sprintf("%-5s %-44s %s", r.Result, r.Name, r.Detail))
		switch r.Result {
		case "FAIL":
			failed = append(failed, r.Name)
		case "PASS":
			passed++
		default:
			skipped++
		}
	}
	o.Outputs = map[string]string{"failed": strconv.Itoa(len(failed)), "passed": strconv.Itoa(passed),
		"skipped": strconv.Itoa(skipped), "checks": strconv.Itoa(len(rows))}
	if len(failed) > 0 {
		return o, fmt.Errorf("the cluster is not whole: %s (see the table above; `hamnflow run verify --set node=%s` checks again)", strings.Join(failed, "; "), a.Node)
	}
	act.Say(call, &o, "the cluster is whole: served from "+a.Node+" through "+c.ClusterAddress)
	return o, nil
}

// sampleNodes picks up to n nodes with an address, in nodels' order.
func sampleNodes(nodes []NodeEntry, n int) []NodeEntry {
	var out []NodeEntry
	for _, e := range nodes {
		if e.IP != "" && len(out) < n {
			out = append(out, e)
		}
	}
	return out
}

// EvaluateVerify turns the facts into verify's rows.
func EvaluateVerify(c Config, a *VerifyArgs, sf ServingFacts, pf *PeerFacts, sns []SNFacts, sample []NodeEntry) []VerifyRow {
	var rows []VerifyRow
	add := func(ok bool, name, pass, fail string) {
		if ok {
			rows = append(rows, VerifyRow{"PASS", name, pass})
		} else {
			rows = append(rows, VerifyRow{"FAIL", name, fail})
		}
	}
	skip := func(name, why string) { rows = append(rows, VerifyRow{"SKIP", name, why}) }

	// xcatd through the cluster address.
	name := "xcatd answers through " + net.JoinHostPort(c.ClusterAddress, "3001")
	add(sf.SiteErr == "", name, "lsdef -t site: master="+sf.Master,
		"lsdef -t site through the cluster address: "+sf.SiteErr+"; check xcatd on "+a.Node+" (systemctl status xcatd) and that it holds "+c.ClusterAddress)
	if sf.SiteErr == "" && sf.Master != "" && sf.Master != c.ClusterAddress && (c.ClusterHostname == "" || sf.Master != c.ClusterHostname) {
		rows = append(rows, VerifyRow{"FAIL", "site.master names the cluster", fmt.Sprintf("site.master is %s, not %s: nodes and service nodes would go there (chdef -t site master=%s)", sf.Master, c.ClusterAddress, c.ClusterAddress)})
	}

	// The serving MN's services run and start at boot.
	roles := a.roles()
	dhcp := slices.Contains(roles, "dhcp")
	for _, r := range roles {
		st, ok := sf.Services[r]
		n := roleName(r) + " runs on " + a.Node
		switch {
		case !ok || st.Err != nil:
			rows = append(rows, VerifyRow{"FAIL", n, fmt.Sprintf("could not read its state: %v", st.Err)})
		case st.Unit == "":
			rows = append(rows, VerifyRow{"FAIL", n, "no such service on " + a.Node + " (set services: in the inventory if it has another name)"})
		default:
			add(st.Running && st.Enabled, n, st.Unit+" "+describeService(st.Status.Active, st.Status.Boot),
				st.Unit+" "+describeService(st.Status.Active, st.Status.Boot)+": want running and enabled at boot")
		}
	}
	// The peer's do neither.
	if a.Peer != "" {
		for _, r := range roles {
			n := roleName(r) + " stopped on " + a.Peer
			if pf.Err != nil {
				skip(n, a.Peer+" does not answer ("+shortErr(pf.Err)+"); the fence check proved it holds no cluster address")
				continue
			}
			st, ok := pf.Services[r]
			switch {
			case !ok || st.Err != nil:
				rows = append(rows, VerifyRow{"FAIL", n, fmt.Sprintf("could not read its state: %v", st.Err)})
			case st.Unit == "":
				rows = append(rows, VerifyRow{"PASS", n, "not installed"})
			default:
				add(!st.Running && !st.Enabled, n, st.Unit+" "+describeService(st.Status.Active, st.Status.Boot),
					st.Unit+" "+describeService(st.Status.Active, st.Status.Boot)+": two MNs would serve the cluster; stop and disable it there")
			}
		}
	}

	// DHCP knows the nodes.
	noNodes := strings.Contains(sf.NodesErr, "Invalid nodes and/or groups in noderange")
	switch {
	case noNodes:
		// nodels of a group nobody is in (DBobjUtils/noderange.pm).
		skip("the nodes", "no node in "+orAll(a.Nodes)+" (nodels: "+sf.NodesErr+"); give verify's nodes a noderange to check their DHCP, DNS and consoles")
	case sf.NodesErr != "":
		rows = append(rows, VerifyRow{"FAIL", "nodes listed", "nodels: " + sf.NodesErr})
	case !dhcp:
	case len(sf.Nodes) == 0:
		skip("DHCP has every node", "no nodes in "+orAll(a.Nodes))
	case sf.DHCPErr != "":
		rows = append(rows, VerifyRow{"FAIL", "DHCP has every node", "makedhcp -q: " + sf.DHCPErr})
	default:
		var missing, wrong []string
		withMAC := 0
		for _, n := range sf.Nodes {
			if n.MAC == "" || n.IP == "" {
				// makedhcp -a gives a node an entry only with a MAC and
				// an address (dhcp.pm addnode resolves the node's name).
				continue
			}
			withMAC++
			e, ok := sf.DHCP[n.Name]
			switch {
			case !ok:
				missing = append(missing, n.Name)
			case n.IP != "" && e.IP != "" && e.IP != n.IP:
				wrong = append(wrong, n.Name+" ("+e.IP+", want "+n.IP+")")
			}
		}
		detail := fmt.Sprintf("%d of %d nodes with a MAC and an address", withMAC-len(missing)-len(wrong), withMAC)
		add(len(missing) == 0 && len(wrong) == 0, "DHCP has every node", detail,
			detail+"; missing: "+listShort(missing)+"; wrong address: "+listShort(wrong)+
				" (makedhcp -a on "+a.Node+"; makedhcp finds a node by its name: makehosts, and keep it out of the network's dynamicrange)")
	}

	// Consoles.
	var withCons []string
	for _, n := range sf.Nodes {
		if n.Cons != "" {
			withCons = append(withCons, n.Name)
		}
	}
	switch {
	case sf.NodesErr != "":
	case sf.ConsoleErr != "":
		rows = append(rows, VerifyRow{"FAIL", "a console for every node", sf.ConsoleErr})
	case len(withCons) == 0:
		skip("a console for every node", "no node has nodehm.cons")
	case sf.Consoles == nil:
		rows = append(rows, VerifyRow{"FAIL", "a console for every node", "neither /etc/conserver.cf nor goconserver's congo on " + a.Node + " (makeconservercf or makegocons)"})
	default:
		var missing []string
		for _, n := range withCons {
			if !sf.Consoles[n] {
				missing = append(missing, n)
			}
		}
		detail := fmt.Sprintf("%d of %d nodes with nodehm.cons", len(withCons)-len(missing), len(withCons))
		add(len(missing) == 0, "a console for every node", detail, detail+"; missing: "+listShort(missing)+" (makeconservercf or makegocons on "+a.Node+")")
	}

	// From the service nodes: DNS, the peer silent, TFTP.
	if len(sns) == 0 {
		skip("DNS through "+c.ClusterAddress, "no service node in the inventory (groups: service_nodes) to ask from")
		skip("TFTP through "+c.ClusterAddress, "no service node in the inventory to fetch from")
	}
	for _, sn := range sns {
		dn := "DNS through " + c.ClusterAddress + " from " + sn.Host
		tn := "TFTP through " + c.ClusterAddress + " from " + sn.Host
		if sn.Err != nil {
			rows = append(rows, VerifyRow{"FAIL", dn, sn.Host + " does not answer: " + shortErr(sn.Err)})
			continue
		}
		switch {
		case len(sample) == 0 && sf.NodesErr != "":
		case len(sample) == 0:
			skip(dn, "no node with an address to resolve")
		default:
			var bad []string
			noTool := false
			for _, n := range sample {
				s := sn.DNS[n.Name]
				if s.Exit == 127 {
					noTool = true
					break
				}
				if s.Exit != 0 || !strings.Contains(s.Text(), "has address "+n.IP) {
					bad = append(bad, n.Name+": "+s.Tail())
				}
			}
			if noTool {
				skip(dn, "no host(1) on "+sn.Host+" (bind9-host or bind-utils)")
			} else {
				add(len(bad) == 0, dn, fmt.Sprintf("%d node names resolve to their hosts.ip", len(sample)),
					strings.Join(bad, "; ")+" (makedns -n on "+a.Node+"; is named running there?)")
			}
			if pa := c.peerAddress(a); pa != "" {
				var answered []string
				for _, n := range sample {
					if s, ok := sn.PeerDNS[n.Name]; ok && s.Exit == 0 {
						answered = append(answered, n.Name)
					}
				}
				if !noTool {
					add(len(answered) == 0, "DNS silent on "+a.Peer+" ("+pa+")", "no answer from the old MN's own address",
						a.Peer+" still answers DNS for "+listShort(answered)+": stop named there")
				}
			}
		}
		switch {
		case sf.TFTPFile == "":
			skip(tn, "none of "+strings.Join(tftpCandidates(a), ", ")+" under /tftpboot on "+a.Node)
		case !sn.HasTFTP || sn.TFTP.Exit == 127:
			skip(tn, "no tftp client on "+sn.Host)
		default:
			tries := ""
			if sn.TFTPTries > 1 {
				tries = fmt.Sprintf(", %d tries", sn.TFTPTries)
			}
			add(sn.TFTPSize == sf.TFTPSize && sf.TFTPSize > 0, tn, fmt.Sprintf("%s (%d bytes%s)", sf.TFTPFile, sn.TFTPSize, tries),
				fmt.Sprintf("%s: got %d bytes in %d tries, want %d; is the TFTP server running on %s, and does it answer from the cluster address?", sf.TFTPFile, sn.TFTPSize, sn.TFTPTries, sf.TFTPSize, a.Node))
		}
	}

	// xcatprobe.
	switch {
	case !a.XCATProbe:
	case sf.Probe == nil:
		skip("xcatprobe xcatmn", "xCAT-probe is not installed on "+a.Node)
	case sf.Probe.Unsupported != "":
		skip("xcatprobe xcatmn", sf.Probe.Unsupported)
	default:
		failed := sf.Probe.failures()
		note := ""
		if len(failed) < len(sf.Probe.Failed) {
			// Not this cluster's fault: xcatmn joins every address of
			// the interface and compares them with site.master.
			note = fmt.Sprintf("; %q does not apply: %s has %d addresses and xcatmn compares them all with site.master", probeProvisionCheck, nicOf(c.host(a.Node)), sf.Probe.NICAddrs)
		}
		if sf.Probe.Tries > 1 {
			note += fmt.Sprintf("; %d tries", sf.Probe.Tries)
		}
		add(len(failed) == 0, "xcatprobe xcatmn", "its checks passed"+note,
			"failed: "+listShort(failed)+note+" (xcatprobe xcatmn -i "+nicOf(c.host(a.Node))+" on "+a.Node+" says more)")
	}
	return rows
}

func nicOf(h Host) string {
	if h.Interface == "" {
		return "eth0"
	}
	return h.Interface
}

func tftpCandidates(a *VerifyArgs) []string {
	if a.TFTPFile != "" {
		return []string{a.TFTPFile}
	}
	return DefaultTFTPFiles
}

func roleName(r string) string {
	return map[string]string{"xcatd": "xcatd", "dhcp": "DHCP", "dns": "DNS", "console": "the console server"}[r]
}

func describeService(active, boot string) string {
	if boot == "" {
		boot = "?"
	}
	return active + "/" + boot
}

func orAll(n string) string {
	if n == "" {
		return "all"
	}
	return n
}

func shortErr(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// listShort names up to five items and counts the rest.
func listShort(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	l = append([]string(nil), l...)
	sort.Strings(l)
	if len(l) > 5 {
		return strings.Join(l[:5], ", ") + fmt.Sprintf(" and %d more", len(l)-5)
	}
	return strings.Join(l, ", ")
}
