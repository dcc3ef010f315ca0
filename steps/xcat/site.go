package xcat

import (
	"context"
	"fmt"
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
// of management node, with the command that fixes it.
type SiteFinding struct {
	Where   string // "site.master", "network NET dhcpserver", "noderes.xcatmaster of 12 nodes (cn01, ...)"
	Problem string
	Fix     string
}

func (f SiteFinding) String() string { return f.Where + " " + f.Problem + " (fix: " + f.Fix + ")" }

// CheckSite reports every setting of s that names a management node's own
// name or address (physical: value -> host) where one of cluster belongs,
// and the site settings makedns needs that are missing.
func CheckSite(s SiteSettings, cluster []string, physical map[string]string) []SiteFinding {
	want := ""
	if len(cluster) > 0 {
		want = cluster[0]
	}
	isCluster := map[string]bool{}
	for _, c := range cluster {
		isCluster[strings.ToLower(c)] = true
	}
	phys := map[string]string{}
	for v, h := range physical {
		if v = strings.ToLower(strings.TrimSpace(v)); v != "" && !isCluster[v] {
			phys[v] = h
		}
	}
	// names returns the host whose own name or address value is: a name
	// matches with or without the domain.
	names := func(value string) (string, string) {
		for _, tok := range strings.Split(value, ",") {
			t := strings.ToLower(strings.TrimSpace(tok))
			if t == "" || isCluster[t] {
				continue
			}
			if h, ok := phys[t]; ok {
				return h, strings.TrimSpace(tok)
			}
			if short, _, ok := strings.Cut(t, "."); ok && !isCluster[short] && strings.Trim(t, "0123456789.") != "" {
				if h, ok := phys[short]; ok {
					return h, strings.TrimSpace(tok)
				}
			}
		}
		return "", ""
	}
	var out []SiteFinding
	site := s.Site.Attrs
	if strings.TrimSpace(site["master"]) == "" {
		out = append(out, SiteFinding{"site.master", "is not set: nodes and service nodes are not told where their management node is",
			"chdef -t site master=" + want})
	}
	for _, a := range siteAttrs {
		if h, v := names(site[a]); h != "" {
			out = append(out, SiteFinding{"site." + a, fmt.Sprintf("names %s's own %s, not the cluster's", h, v),
				"chdef -t site " + a + "=" + want})
		}
	}
	if strings.TrimSpace(site["domain"]) == "" {
		out = append(out, SiteFinding{"site.domain", "is not set: makedns refuses to run without it", "chdef -t site domain=DOMAIN"})
	}
	if strings.TrimSpace(site["nameservers"]) == "" {
		out = append(out, SiteFinding{"site.nameservers", "is not set: makedns refuses to run without it", "chdef -t site nameservers=" + want})
	}
	for _, n := range s.Networks {
		for _, a := range networkAttrs {
			if h, v := names(n.Attrs[a]); h != "" {
				out = append(out, SiteFinding{"network " + n.Name + " " + a, fmt.Sprintf("names %s's own %s, not the cluster's", h, v),
					"chdef -t network -o " + n.Name + " " + a + "=" + want})
			}
		}
	}
	// Nodes: one finding per attribute and host named, with the nodes.
	type key struct{ attr, host, value string }
	byKey := map[key][]string{}
	for _, n := range s.Nodes {
		for _, a := range nodeAttrs {
			if h, v := names(n.Attrs[a]); h != "" {
				k := key{a, h, v}
				byKey[k] = append(byKey[k], n.Name)
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
		return keys[i].value < keys[j].value
	})
	for _, k := range keys {
		nodes := byKey[k]
		sort.Strings(nodes)
		shown := nodes
		if len(shown) > 5 {
			shown = append(shown[:5:5], "...")
		}
		out = append(out, SiteFinding{fmt.Sprintf("noderes.%s of %d node(s) (%s)", k.attr, len(nodes), strings.Join(shown, ", ")),
			fmt.Sprintf("names %s's own %s, not the cluster's", k.host, k.value),
			"chdef -t node -o " + strings.Join(nodes, ",") + " " + k.attr + "=" + want})
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
// Outputs: checked (true|false), findings (count), master, domain.
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
	o.Outputs = map[string]string{"checked": "false", "findings": "0", "master": "", "domain": ""}
	if err != nil {
		if a.Unavailable && ctx.Err() == nil {
			act.Say(c, &o, fmt.Sprintf("xCAT on %s does not answer (%v): its site settings are checked on the new primary before makedns", act.HostLabel(c.Host), err))
			return o, nil
		}
		return o, fmt.Errorf("read xCAT's site settings on %s: %w", act.HostLabel(c.Host), err)
	}
	s := ParseSiteSettings(o.Stdout)
	found := CheckSite(s, a.Cluster, phys)
	o.Outputs = map[string]string{"checked": "true", "findings": strconv.Itoa(len(found)),
		"master": s.Site.Attrs["master"], "domain": s.Site.Attrs["domain"]}
	if len(found) > 0 {
		lines := make([]string, len(found))
		for i, f := range found {
			lines[i] = f.String()
		}
		return o, fmt.Errorf("%d xCAT setting(s) on %s would break the cluster after the change of management node: %s; fix them, then resume",
			len(found), act.HostLabel(c.Host), strings.Join(lines, "; "))
	}
	act.Say(c, &o, fmt.Sprintf("site, %d network(s) and %d node(s) name the cluster's %s; domain %s", len(s.Networks), len(s.Nodes),
		strings.Join(a.Cluster, "/"), s.Site.Attrs["domain"]))
	return o, nil
}
