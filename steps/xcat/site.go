package xcat

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// SiteArgs are xcat_site's arguments.
type SiteArgs struct {
	// Cluster are the names and addresses the nodes must be told: the
	// cluster address and hostname (floating mode), or the identity the
	// standby takes over (identity mode).
	Cluster []string `arg:"cluster,required"`
	// Physical are the management nodes' own names and addresses, each
	// as VALUE=HOST ("198.51.100.12=mn2"); one of Cluster is never one.
	Physical []string `arg:"physical"`
	// Nodes is the noderange whose noderes settings are read; "" for all.
	Nodes string `arg:"nodes"`
	// Unavailable, when true, makes an xCAT that does not answer (xcatd
	// down on a failing primary) a note instead of a failure: the same
	// check runs again on the new primary before makedns.
	Unavailable bool `arg:"unavailable_ok"`
	// FixFollows, when true, says that an xcat_site_fix step comes next
	// (the playbook's fix_site parameter): a finding it can fix (a
	// management node's own name or address) is reported, not refused;
	// one it cannot (a missing site.domain) still refuses.
	FixFollows bool `arg:"fix_follows"`
}

// siteAttrs, networkAttrs and nodeAttrs are the settings that send nodes
// and service nodes to a management node: site.master and
// site.nameservers (perl-xCAT/xCAT/Schema.pm, site table), the networks
// table's dhcpserver, tftpserver and nameservers (Schema.pm, networks),
// and noderes' xcatmaster, servicenode, tftpserver, nfsserver and
// nameservers (Schema.pm, noderes). site.domain is read because makedns
// refuses without it, as without site.nameservers
// (xCAT-server/lib/xcat/plugins/ddns.pm:369-373, :426).
var (
	siteAttrs    = []string{"master", "nameservers"}
	networkAttrs = []string{"dhcpserver", "tftpserver", "nameservers"}
	nodeAttrs    = []string{"xcatmaster", "servicenode", "tftpserver", "nfsserver", "nameservers"}
)

// siteScript prints the site, networks and noderes settings between
// marker lines. The site read must work (it fails when xcatd does not
// answer); networks and nodes may be empty, and lsdef exits 1 when a type
// has no objects (DBobjectdefs.pm), so theirs are not checked.
func siteScript(nodes string) string {
	if nodes == "" {
		nodes = "all"
	}
	return xcatPath + "echo '@site'\nlsdef -t site -o clustersite -i " + "master,domain,nameservers" + " || exit\n" +
		"echo '@network'\nlsdef -t network -i " + strings.Join(networkAttrs, ",") + " 2>/dev/null\n" +
		"echo '@node'\nlsdef -t node -o " + remote.ShellQuote(nodes) + " -i " + strings.Join(nodeAttrs, ",") + " 2>/dev/null\nexit 0"
}

// SiteSettings are what siteScript printed, read into objects.
type SiteSettings struct {
	Site     XObject
	Networks []XObject
	Nodes    []XObject
}

// ParseSiteSettings splits siteScript's output at its marker lines and
// reads each part as lsdef output.
func ParseSiteSettings(out string) SiteSettings {
	parts := map[string]*strings.Builder{}
	cur := ""
	for _, line := range strings.Split(out, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "@") && parts[t] == nil && (t == "@site" || t == "@network" || t == "@node") {
			cur = t
			parts[t] = &strings.Builder{}
			continue
		}
		if b := parts[cur]; b != nil {
			b.WriteString(line + "\n")
		}
	}
	text := func(k string) string {
		if b := parts[k]; b != nil {
			return b.String()
		}
		return ""
	}
	s := SiteSettings{Site: XObject{Name: "clustersite", Attrs: map[string]string{}}}
	if objs := ParseLsdef(text("@site")); len(objs) > 0 {
		s.Site = objs[0]
	}
	s.Networks = ParseLsdef(text("@network"))
	s.Nodes = ParseLsdef(text("@node"))
	return s
}

// SiteFinding is one setting that would break the cluster after a change
// of management node, with the command that fixes it. Changes, when set,
// are the attribute values xcat_site_fix would set to fix it; a finding
// without them (a missing site.domain, say) is the operator's to fix.
type SiteFinding struct {
	Where   string // "site.master", "network NET dhcpserver", "noderes.xcatmaster of 12 nodes (cn01, ...)"
	Problem string
	Fix     string
	Changes []SiteChange
}

func (f SiteFinding) String() string { return f.Where + " " + f.Problem + " (fix: " + f.Fix + ")" }

// SiteChange is one attribute of one object that xcat_site_fix sets from
// Old to New: of the site object (clustersite), of a network or of a node.
type SiteChange struct {
	Type   string `json:"type"` // site, network or node (lsdef -t)
	Object string `json:"object"`
	Attr   string `json:"attr"`
	Old    string `json:"old"`
	New    string `json:"new"`
}

func (c SiteChange) String() string {
	return c.Type + " " + c.Object + " " + c.Attr + ": " + c.Old + " -> " + c.New
}

// clusterValues picks what replaces a management node's own value: an
// address becomes the cluster's address (cluster's first IP address), a
// hostname the cluster's hostname (its first name that is not an
// address; in identity mode the identity taken over), else the address.
func clusterValues(cluster []string) (addr, name string) {
	for _, c := range cluster {
		c = strings.TrimSpace(c)
		switch {
		case c == "":
		case net.ParseIP(c) != nil:
			if addr == "" {
				addr = c
			}
		case name == "":
			name = c
		}
	}
	if addr == "" {
		addr = name
	}
	if name == "" {
		name = addr
	}
	return addr, name
}

// CheckSite reports every setting of s that names a management node's own
// name or address (physical: value -> host) where one of cluster belongs,
// and the site settings makedns needs that are missing. A finding of a
// management node's own value carries the changes that fix it: each such
// entry of the value (a comma list) replaced by the cluster's address or
// hostname (clusterValues), duplicates dropped; site.master always by the
// address, as xCAT needs (xcat-core #4606).
func CheckSite(s SiteSettings, cluster []string, physical map[string]string) []SiteFinding {
	want, wantName := clusterValues(cluster)
	isCluster := map[string]bool{}
	for _, c := range cluster {
		isCluster[strings.ToLower(strings.TrimSpace(c))] = true
	}
	phys := map[string]string{}
	for v, h := range physical {
		if v = strings.ToLower(strings.TrimSpace(v)); v != "" && !isCluster[v] {
			phys[v] = h
		}
	}
	// host returns the management node whose own name or address tok is:
	// a name matches with or without the domain.
	host := func(tok string) string {
		t := strings.ToLower(strings.TrimSpace(tok))
		if t == "" || isCluster[t] {
			return ""
		}
		if h, ok := phys[t]; ok {
			return h
		}
		if short, _, ok := strings.Cut(t, "."); ok && !isCluster[short] && strings.Trim(t, "0123456789.") != "" {
			if h, ok := phys[short]; ok {
				return h
			}
		}
		return ""
	}
	// names returns the first management node value names, the entry
	// that names it, and value with every such entry replaced.
	names := func(value string, addrOnly bool) (h, tok, fixed string) {
		var out []string
		seen := map[string]bool{}
		for _, e := range strings.Split(value, ",") {
			e = strings.TrimSpace(e)
			if eh := host(e); eh != "" {
				if h == "" {
					h, tok = eh, e
				}
				if addrOnly || net.ParseIP(e) != nil {
					e = want
				} else {
					e = wantName
				}
			}
			if e != "" && !seen[strings.ToLower(e)] {
				seen[strings.ToLower(e)] = true
				out = append(out, e)
			}
		}
		return h, tok, strings.Join(out, ",")
	}
	var out []SiteFinding
	site := s.Site.Attrs
	siteName := s.Site.Name
	if siteName == "" {
		siteName = "clustersite"
	}
	if strings.TrimSpace(site["master"]) == "" {
		out = append(out, SiteFinding{Where: "site.master", Problem: "is not set: nodes and service nodes are not told where their management node is",
			Fix: "chdef -t site master=" + want})
	}
	for _, a := range siteAttrs {
		// site.master must be an address (xcat-core #4606).
		if h, v, fixed := names(site[a], a == "master"); h != "" {
			out = append(out, SiteFinding{Where: "site." + a, Problem: fmt.Sprintf("names %s's own %s, not the cluster's", h, v),
				Fix: "chdef -t site " + a + "=" + fixed, Changes: []SiteChange{{"site", siteName, a, site[a], fixed}}})
		}
	}
	if strings.TrimSpace(site["domain"]) == "" {
		out = append(out, SiteFinding{Where: "site.domain", Problem: "is not set: makedns refuses to run without it", Fix: "chdef -t site domain=DOMAIN"})
	}
	if strings.TrimSpace(site["nameservers"]) == "" {
		out = append(out, SiteFinding{Where: "site.nameservers", Problem: "is not set: makedns refuses to run without it", Fix: "chdef -t site nameservers=" + want})
	}
	for _, n := range s.Networks {
		for _, a := range networkAttrs {
			if h, v, fixed := names(n.Attrs[a], false); h != "" {
				out = append(out, SiteFinding{Where: "network " + n.Name + " " + a, Problem: fmt.Sprintf("names %s's own %s, not the cluster's", h, v),
					Fix: "chdef -t network -o " + n.Name + " " + a + "=" + fixed, Changes: []SiteChange{{"network", n.Name, a, n.Attrs[a], fixed}}})
			}
		}
	}
	// Nodes: one finding per attribute, host named and fixed value, with
	// the nodes.
	type key struct{ attr, host, value, fixed string }
	byKey := map[key][]SiteChange{}
	for _, n := range s.Nodes {
		for _, a := range nodeAttrs {
			if h, v, fixed := names(n.Attrs[a], false); h != "" {
				k := key{a, h, v, fixed}
				byKey[k] = append(byKey[k], SiteChange{"node", n.Name, a, n.Attrs[a], fixed})
			}
		}
	}
	keys := make([]key, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].attr != keys[j].attr {
			return keys[i].attr < keys[j].attr
		}
		if keys[i].value != keys[j].value {
			return keys[i].value < keys[j].value
		}
		return keys[i].fixed < keys[j].fixed
	})
	for _, k := range keys {
		changes := byKey[k]
		sort.Slice(changes, func(i, j int) bool { return changes[i].Object < changes[j].Object })
		nodes := make([]string, len(changes))
		for i, c := range changes {
			nodes[i] = c.Object
		}
		shown := nodes
		if len(shown) > 5 {
			shown = append(shown[:5:5], "...")
		}
		out = append(out, SiteFinding{Where: fmt.Sprintf("noderes.%s of %d node(s) (%s)", k.attr, len(nodes), strings.Join(shown, ", ")),
			Problem: fmt.Sprintf("names %s's own %s, not the cluster's", k.host, k.value),
			Fix:     "chdef -t node -o " + strings.Join(nodes, ",") + " " + k.attr + "=" + k.fixed, Changes: changes})
	}
	return out
}

// physicalMap reads SiteArgs.Physical's VALUE=HOST entries.
func physicalMap(list []string) (map[string]string, error) {
	m := map[string]string{}
	for _, e := range list {
		v, h, ok := strings.Cut(e, "=")
		if !ok || strings.TrimSpace(v) == "" || strings.TrimSpace(h) == "" {
			return nil, fmt.Errorf("physical: %q is not VALUE=HOST (e.g. 198.51.100.12=mn2)", e)
		}
		m[strings.TrimSpace(v)] = strings.TrimSpace(h)
	}
	return m, nil
}

// Site (xcat_site) reads the settings that tell nodes and service nodes
// where their management node is (site, networks, noderes) through
// xCAT, and fails when one names a management node's own name or address
// instead of the cluster's, or when makedns's site.domain or
// site.nameservers is missing: after a change of management node such a
// setting sends the nodes to the old one (xcat-core issues #4257, #4606).
// Read-only.
//
// With fix_follows, the findings xcat_site_fix can fix are reported only.
//
// Outputs: checked (true|false), findings (count), fixable (the count
// left to xcat_site_fix), master, domain.
type Site struct{ Env *act.Env }

// NewArgs implements workflow.Action.
func (Site) NewArgs() any { return &SiteArgs{} }

// Plan implements workflow.Action.
func (Site) Plan(_ string, args any) []string { return []string{siteScript(args.(*SiteArgs).Nodes)} }

// Run implements workflow.Action.
func (x Site) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	a := c.Args.(*SiteArgs)
	phys, err := physicalMap(a.Physical)
	if err != nil {
		return workflow.Outcome{}, err
	}
	o, _, err := x.Env.Run(ctx, c, act.Script{Text: siteScript(a.Nodes)})
	o.Outputs = map[string]string{"checked": "false", "findings": "0", "fixable": "0", "master": "", "domain": ""}
	if err != nil {
		if a.Unavailable && ctx.Err() == nil {
			act.Say(c, &o, fmt.Sprintf("xCAT on %s does not answer (%v): its site settings are checked on the new primary before makedns", act.HostLabel(c.Host), err))
			return o, nil
		}
		return o, fmt.Errorf("read xCAT's site settings on %s: %w", act.HostLabel(c.Host), err)
	}
	s := ParseSiteSettings(o.Stdout)
	found := CheckSite(s, a.Cluster, phys)
	fixable := 0
	var refused []string
	for _, f := range found {
		if a.FixFollows && len(f.Changes) > 0 {
			fixable++
			act.Say(c, &o, "to be fixed by the next step: "+f.String())
			continue
		}
		refused = append(refused, f.String())
	}
	o.Outputs = map[string]string{"checked": "true", "findings": strconv.Itoa(len(found)), "fixable": strconv.Itoa(fixable),
		"master": s.Site.Attrs["master"], "domain": s.Site.Attrs["domain"]}
	if len(refused) > 0 {
		how := "fix them, then resume"
		if !a.FixFollows && fixable == 0 && hasChanges(found) {
			how = "fix them, then resume; or roll this run back and run it again with --set fix_site=yes, which fixes those naming a management node (journaled, undone by rollback)"
		}
		return o, fmt.Errorf("%d xCAT setting(s) on %s would break the cluster after the change of management node: %s; %s",
			len(refused), act.HostLabel(c.Host), strings.Join(refused, "; "), how)
	}
	if fixable > 0 {
		return o, nil
	}
	act.Say(c, &o, fmt.Sprintf("site, %d network(s) and %d node(s) name the cluster's %s; domain %s", len(s.Networks), len(s.Nodes),
		strings.Join(a.Cluster, "/"), s.Site.Attrs["domain"]))
	return o, nil
}

// hasChanges says whether a finding of found is one xcat_site_fix fixes.
func hasChanges(found []SiteFinding) bool {
	for _, f := range found {
		if len(f.Changes) > 0 {
			return true
		}
	}
	return false
}
