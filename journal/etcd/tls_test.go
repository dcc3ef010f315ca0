package etcd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/hamnflow/hamnflow/workflow"
)

// pki writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, all signed by the CA, into dir.
type pki struct{ ca, serverCert, serverKey, clientCert, clientKey string }

func newPKI(t *testing.T, dir string) pki {
	t.Helper()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(name+".pem", "CERTIFICATE", der), write(name+"-key.pem", "EC PRIVATE KEY", kder)
	}
	p := pki{ca: write("ca.pem", "CERTIFICATE", caDER)}
	p.serverCert, p.serverKey = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return p
}

// A journal on an etcd that requires TLS client certificates: the
// inventory's TLS files open it; without them it is not reached; a bad
// key file is reported by name, never by its contents.
func TestTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second etcd")
	}
	dir := t.TempDir()
	p := newPKI(t, dir)
	cfg := embed.NewConfig()
	cfg.Name = "tls"
	cfg.Dir = filepath.Join(dir, "data")
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{filepath.Join(dir, "etcd.log")}
	client, err := freeURL()
	if err != nil {
		t.Fatal(err)
	}
	peer, err := freeURL()
	if err != nil {
		t.Fatal(err)
	}
	client.Scheme = "https"
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ClientTLSInfo = transport.TLSInfo{CertFile: p.serverCert, KeyFile: p.serverKey, TrustedCAFile: p.ca, ClientCertAuth: true}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close) // after the stores' cleanups: they close first
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		t.Fatal("etcd not ready")
	}

	good := Config{Endpoints: []string{client.Host}, TLS: TLSFiles{CA: p.ca, Cert: p.clientCert, Key: p.clientKey}}
	s := openStore(t, good)
	l, err := s.Lock("c1", workflow.Holder{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if _, err := s.CreateRun(workflow.Run{Playbook: "failover", Cluster: "c1"}, workflow.Source{}); err != nil {
		t.Fatal(err)
	}
	// The same by URL.
	byURL, err := ParseURL("etcds://" + client.Host + "/?ca=" + p.ca + "&cert=" + p.clientCert + "&key=" + p.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	if runs, err := openStore(t, byURL).Runs(workflow.Filter{}); err != nil || len(runs) != 1 {
		t.Fatalf("by URL: %d runs, %v", len(runs), err)
	}

	// No client certificate: refused by the server, within the timeout.
	noCert := Config{Endpoints: []string{client.Host}, TLS: TLSFiles{CA: p.ca}, DialTimeout: time.Second}
	if _, err := Open(context.Background(), noCert); err == nil {
		t.Fatal("opened without a client certificate")
	}

	// A key file that is not a key: named, its contents not shown.
	bad := filepath.Join(dir, "bad-key.pem")
	const secret = "not-a-key-but-a-secret-3f9a"
	if err := os.WriteFile(bad, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	badKey := good
	badKey.TLS.Key = bad
	_, err = Open(context.Background(), badKey)
	if err == nil || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), secret) {
		t.Fatalf("bad key: %v", err)
	}
}
