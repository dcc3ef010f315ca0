package etcd

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// Defaults of a Config's durations and prefix.
const (
	DefaultPrefix      = "/hamnflow/"
	DefaultLeaseTTL    = 15 * time.Second
	DefaultDialTimeout = 5 * time.Second
	DefaultOpTimeout   = 15 * time.Second
	// DefaultMaxTxnOps is etcd's own default of --max-txn-ops: an Append
	// of more events than fit in one transaction is refused.
	DefaultMaxTxnOps = 128
)

// Config says where the journal lives in etcd and how to reach it.
type Config struct {
	// Endpoints are the etcd members' client addresses, host:port each
	// (or https://host:port).
	Endpoints []string `yaml:"endpoints"`
	// Prefix is put before every key of the journal: one per cluster
	// (/hamnflow/CLUSTER/) or one for all (/hamnflow/, the default).
	Prefix string `yaml:"prefix,omitempty"`
	// TLS names the files of the client's TLS; none set: plain TCP.
	TLS TLSFiles `yaml:"tls,omitempty"`
	// LeaseTTL is how long the cluster lock outlives its holder's last
	// renewal (default 15s; etcd raises a shorter one to its minimum).
	LeaseTTL time.Duration `yaml:"lease_ttl,omitempty"`
	// DialTimeout bounds the first request, which tells whether etcd is
	// reachable at all (default 5s).
	DialTimeout time.Duration `yaml:"dial_timeout,omitempty"`
	// OpTimeout bounds every later request (default 15s).
	OpTimeout time.Duration `yaml:"op_timeout,omitempty"`
	// MaxTxnOps is the members' --max-txn-ops (default 128).
	MaxTxnOps int `yaml:"max_txn_ops,omitempty"`
}

// TLSFiles are the PEM files of the client's TLS. Their contents never
// appear in messages.
type TLSFiles struct {
	CA   string `yaml:"ca,omitempty"`   // the CA that signed the members' certificates
	Cert string `yaml:"cert,omitempty"` // this client's certificate (for client authentication)
	Key  string `yaml:"key,omitempty"`  // its private key
	// ServerName, if set, is the name checked in the members' certificates
	// instead of the endpoint's host.
	ServerName string `yaml:"server_name,omitempty"`
}

// Set says whether any TLS file is given.
func (t TLSFiles) Set() bool { return t.CA != "" || t.Cert != "" || t.Key != "" }

// withDefaults fills in what c leaves zero and checks the rest.
func (c Config) withDefaults() (Config, error) {
	var eps []string
	for _, e := range c.Endpoints {
		if e = strings.TrimSpace(e); e != "" {
			eps = append(eps, e)
		}
	}
	if len(eps) == 0 {
		return c, errors.New("etcd journal: no endpoints given; name the etcd members' client addresses, e.g. --journal etcd://mn1:2379,mn2:2379,sn1:2379/hamnflow/")
	}
	c.Endpoints = eps
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if !strings.HasSuffix(c.Prefix, "/") {
		c.Prefix += "/"
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.LeaseTTL < time.Second {
		return c, fmt.Errorf("etcd journal at %s: lease TTL %s is shorter than etcd's 1s unit; give at least a few seconds", c.where(), c.LeaseTTL)
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = DefaultOpTimeout
	}
	if c.MaxTxnOps <= 0 {
		c.MaxTxnOps = DefaultMaxTxnOps
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return c, fmt.Errorf("etcd journal at %s: TLS needs both a client certificate and its key (tls: cert and key), or neither", c.where())
	}
	return c, nil
}

// where names the journal in messages: endpoints and prefix.
func (c Config) where() string {
	p := c.Prefix
	if p == "" {
		p = DefaultPrefix
	}
	return strings.Join(c.Endpoints, ",") + " (prefix " + p + ")"
}

// URL is the journal as --journal takes it: etcd://HOST:PORT,.../PREFIX
// (etcds:// with TLS), without its TLS files.
func (c Config) URL() string {
	scheme := "etcd"
	if c.TLS.Set() {
		scheme = "etcds"
	}
	var hosts []string
	for _, e := range c.Endpoints {
		hosts = append(hosts, strings.TrimPrefix(strings.TrimPrefix(e, "https://"), "http://"))
	}
	return scheme + "://" + strings.Join(hosts, ",") + c.Prefix
}

// tlsConfig reads the TLS files.
func (c Config) tlsConfig() (*tls.Config, error) {
	if !c.TLS.Set() && !hasScheme(c.Endpoints, "https://") {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLS.ServerName}
	if c.TLS.CA != "" {
		pem, err := os.ReadFile(c.TLS.CA)
		if err != nil {
			return nil, fmt.Errorf("etcd journal at %s: read the TLS CA: %w", c.where(), err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcd journal at %s: the TLS CA %s holds no PEM certificate", c.where(), c.TLS.CA)
		}
		cfg.RootCAs = pool
	}
	if c.TLS.Cert != "" {
		// LoadX509KeyPair's errors name neither the key's contents nor
		// its bytes.
		cert, err := tls.LoadX509KeyPair(c.TLS.Cert, c.TLS.Key)
		if err != nil {
			return nil, fmt.Errorf("etcd journal at %s: load the TLS client certificate %s and key %s: %w", c.where(), c.TLS.Cert, c.TLS.Key, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func hasScheme(eps []string, scheme string) bool {
	for _, e := range eps {
		if strings.HasPrefix(e, scheme) {
			return true
		}
	}
	return false
}

// IsURL says whether s names an etcd journal rather than a file.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "etcd://") || strings.HasPrefix(s, "etcds://")
}

// ParseURL reads a journal URL: etcd://HOST:PORT[,HOST:PORT...][/PREFIX]
// [?lease_ttl=15s&ca=FILE&cert=FILE&key=FILE&server_name=NAME]. etcds://
// (or any TLS file) speaks TLS. The prefix is the URL's path, "/hamnflow/"
// if it has none.
func ParseURL(s string) (Config, error) {
	bad := func(why string) (Config, error) {
		return Config{}, fmt.Errorf("journal %q: %s; give it as etcd://HOST:2379,HOST2:2379/PREFIX (etcds:// for TLS)", s, why)
	}
	if !IsURL(s) {
		return bad("not an etcd:// URL")
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad(err.Error())
	}
	var c Config
	for _, h := range strings.Split(u.Host, ",") {
		if h == "" {
			continue
		}
		if !strings.Contains(h, ":") {
			h += ":2379"
		}
		if u.Scheme == "etcds" {
			h = "https://" + h
		}
		c.Endpoints = append(c.Endpoints, h)
	}
	if len(c.Endpoints) == 0 {
		return bad("no endpoints")
	}
	if u.Path != "" && u.Path != "/" {
		c.Prefix = u.Path
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "lease_ttl", "dial_timeout", "op_timeout":
			d, err := time.ParseDuration(q.Get(k))
			if err != nil {
				return bad(fmt.Sprintf("%s: %v", k, err))
			}
			switch k {
			case "lease_ttl":
				c.LeaseTTL = d
			case "dial_timeout":
				c.DialTimeout = d
			default:
				c.OpTimeout = d
			}
		case "ca":
			c.TLS.CA = q.Get(k)
		case "cert":
			c.TLS.Cert = q.Get(k)
		case "key":
			c.TLS.Key = q.Get(k)
		case "server_name":
			c.TLS.ServerName = q.Get(k)
		default:
			return bad(fmt.Sprintf("unknown setting %q (known: lease_ttl, dial_timeout, op_timeout, ca, cert, key, server_name)", k))
		}
	}
	if c.TLS.Set() && u.Scheme == "etcd" {
		for i, e := range c.Endpoints {
			c.Endpoints[i] = "https://" + e
		}
	}
	return c, nil
}
