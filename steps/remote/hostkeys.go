package remote

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// UnknownHostKeyError is returned when a host presents a key that the known
// hosts file has no entry for, and Config.AcceptNew is off.
type UnknownHostKeyError struct {
	Host string        // inventory name
	Addr string        // host:port dialed
	Key  ssh.PublicKey // key presented
	File string        // known hosts file
}

func (e *UnknownHostKeyError) Error() string {
	host, port, _ := net.SplitHostPort(e.Addr)
	short := shortKeyType(e.Key.Type())
	return fmt.Sprintf("host key of %s (%s) is unknown: it presented %s %s, which is not in %s; "+
		"verify this fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub), "+
		"then re-run with --accept-new-host-keys, or add it with: ssh-keyscan -t %s -p %s %s >> %s",
		e.Host, e.Addr, e.Key.Type(), ssh.FingerprintSHA256(e.Key), e.File,
		short, short, port, host, e.File)
}

// ChangedHostKeyError is returned when a host presents a key other than the
// one(s) known for it. It is never accepted.
type ChangedHostKeyError struct {
	Host  string        // inventory name
	Addr  string        // host:port dialed
	Key   ssh.PublicKey // key presented
	Known []knownhosts.KnownKey
}

func (e *ChangedHostKeyError) Error() string {
	var known []string
	file := ""
	for _, k := range e.Known {
		known = append(known, fmt.Sprintf("%s %s (%s:%d)", k.Key.Type(), ssh.FingerprintSHA256(k.Key), k.Filename, k.Line))
		file = k.Filename
	}
	return fmt.Sprintf("host key of %s (%s) has CHANGED: it presented %s %s, but known is %s: "+
		"possible man-in-the-middle, or the host was reinstalled; refusing to connect. "+
		"If it was reinstalled, verify the new fingerprint on the host's console, "+
		"then remove the old entry with: ssh-keygen -R '%s' -f %s",
		e.Host, e.Addr, e.Key.Type(), ssh.FingerprintSHA256(e.Key), strings.Join(known, ", "),
		knownhosts.Normalize(e.Addr), file)
}

// shortKeyType maps a key type to ssh-keyscan's name for it.
func shortKeyType(typ string) string {
	switch {
	case typ == ssh.KeyAlgoED25519:
		return "ed25519"
	case strings.HasPrefix(typ, "ecdsa-"):
		return "ecdsa"
	case typ == ssh.KeyAlgoRSA:
		return "rsa"
	}
	return typ
}

// hostKeyCheck returns the host key callback for t and the host key
// algorithms to offer: those of the keys known for t, so that a host with
// several keys presents one we know, else nil for the defaults.
func (p *Pool) hostKeyCheck(t *target) (ssh.HostKeyCallback, []string, error) {
	db, err := p.knownHosts()
	if err != nil {
		return nil, nil, err
	}
	var algos []string
	for _, k := range knownKeys(db, t.addr()) {
		typ := k.Key.Type()
		if typ == ssh.KeyAlgoRSA {
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
		}
		algos = append(algos, typ)
	}
	cb := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		return p.checkHostKey(t, key, db(hostname, remote, key), func() error {
			return p.recordHostKey(t, hostname, remote, key)
		})
	}
	return cb, dedupe(algos), nil
}

// checkHostKey turns the known hosts verdict err on key into the error to
// fail the handshake with, or calls accept for an unknown key when
// Config.AcceptNew is set.
func (p *Pool) checkHostKey(t *target, key ssh.PublicKey, err error, accept func() error) error {
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &revoked):
		return fmt.Errorf("host key of %s is revoked (%s): refusing to connect", t, revoked.Revoked.String())
	case !errors.As(err, &keyErr):
		return fmt.Errorf("check host key of %s: %w", t, err)
	case len(keyErr.Want) > 0:
		return &ChangedHostKeyError{Host: t.name, Addr: t.addr(), Key: key, Known: keyErr.Want}
	case !p.cfg.AcceptNew:
		return &UnknownHostKeyError{Host: t.name, Addr: t.addr(), Key: key, File: p.cfg.KnownHostsFile}
	}
	return accept()
}

// recordHostKey appends key for t to the known hosts file, unless another
// connection recorded a key for t meanwhile.
func (p *Pool) recordHostKey(t *target, hostname string, remote net.Addr, key ssh.PublicKey) error {
	p.knownMu.Lock()
	defer p.knownMu.Unlock()
	db, err := p.knownHosts()
	if err != nil {
		return err
	}
	err = db(hostname, remote, key)
	if keyErr := (*knownhosts.KeyError)(nil); !errors.As(err, &keyErr) || len(keyErr.Want) > 0 {
		return p.checkHostKey(t, key, err, nil) // recorded meanwhile
	}

	file := p.cfg.KnownHostsFile
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("record host key of %s: %w", t, err)
	}
	old, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("record host key of %s: %w", t, err)
	}
	line := knownhosts.Line([]string{t.addr()}, key) + "\n"
	if len(old) > 0 && !bytes.HasSuffix(old, []byte("\n")) {
		line = "\n" + line
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("record host key of %s: %w", t, err)
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("record host key of %s: %w", t, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("record host key of %s: %w", t, err)
	}
	p.log.Info().Str("host", t.name).Str("addr", t.addr()).Str("key", key.Type()+" "+ssh.FingerprintSHA256(key)).
		Str("file", file).Msg("recorded new ssh host key")
	return nil
}

// knownHosts reads Config.KnownHostsFile; a missing file knows no hosts.
func (p *Pool) knownHosts() (ssh.HostKeyCallback, error) {
	db, err := knownhosts.New(p.cfg.KnownHostsFile)
	if errors.Is(err, os.ErrNotExist) {
		return func(string, net.Addr, ssh.PublicKey) error { return &knownhosts.KeyError{} }, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read known hosts: %w: fix or remove the bad lines", err)
	}
	return db, nil
}

// knownKeys returns the keys db knows for addr (host:port).
func knownKeys(db ssh.HostKeyCallback, addr string) []knownhosts.KnownKey {
	// knownhosts has no lookup: ask about a key no host has, and read the
	// known keys from the mismatch.
	probe, _ := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	var keyErr *knownhosts.KeyError
	if errors.As(db(addr, &net.TCPAddr{IP: net.IPv4zero}, probe), &keyErr) {
		return keyErr.Want
	}
	return nil
}

func dedupe(s []string) []string {
	var out []string
	seen := make(map[string]bool)
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
