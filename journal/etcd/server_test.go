package etcd

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// The tests share one real etcd server, run in this process on free
// loopback ports with a temporary data directory; each store gets a prefix
// of its own.
var (
	endpoint string
	prefixes atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "hamnflow-etcd-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		e, err := startEtcd(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "start etcd:", err)
			return 1
		}
		defer e.Close()
		endpoint = e.Clients[0].Addr().String()
		return m.Run()
	}())
}

// startEtcd runs a one-member etcd cluster with its data in dir.
func startEtcd(dir string) (*embed.Etcd, error) {
	es, err := startCluster(dir, 1)
	if err != nil {
		return nil, err
	}
	return es[0], nil
}

// startCluster runs an etcd cluster of n members in this process, each
// with its data under dir, on loopback ports.
func startCluster(dir string, n int) ([]*embed.Etcd, error) {
	cfgs := make([]*embed.Config, n)
	var initial []string
	for i := range cfgs {
		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.Dir = fmt.Sprintf("%s/%s", dir, cfg.Name)
		cfg.LogLevel = "error"
		cfg.LogOutputs = []string{cfg.Dir + ".log"}
		client, err := freeURL()
		if err != nil {
			return nil, err
		}
		peer, err := freeURL()
		if err != nil {
			return nil, err
		}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
		initial = append(initial, cfg.Name+"="+peer.String())
		cfgs[i] = cfg
	}
	var es []*embed.Etcd
	stop := func() {
		for _, e := range es {
			e.Close()
		}
	}
	for _, cfg := range cfgs {
		cfg.InitialCluster = strings.Join(initial, ",")
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			stop()
			return nil, err
		}
		es = append(es, e)
	}
	for _, e := range es {
		select {
		case <-e.Server.ReadyNotify():
		case err := <-e.Err():
			stop()
			return nil, err
		case <-time.After(60 * time.Second):
			stop()
			return nil, fmt.Errorf("etcd in %s not ready after 60s", dir)
		}
	}
	return es, nil
}

// freeURL is an http URL on a loopback port that was free a moment ago.
func freeURL() (url.URL, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return url.URL{}, err
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}, nil
}

// testConfig is a Config for a fresh prefix on the test server.
func testConfig(t testing.TB) Config {
	t.Helper()
	return Config{Endpoints: []string{endpoint}, Prefix: fmt.Sprintf("/test/%d/", prefixes.Add(1))}
}

// openStore opens a store on cfg, closed when the test ends.
func openStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
