package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// target is a host resolved the way OpenSSH would: the inventory's fields,
// then ~/.ssh/config, then defaults.
type target struct {
	name       string   // inventory name, for messages
	host       string   // address to dial
	port       int      // port to dial
	user       string   // login user
	identities []string // private key files to try, in order
}

// addr returns host:port.
func (t *target) addr() string { return net.JoinHostPort(t.host, strconv.Itoa(t.port)) }

// key identifies t's connection in the pool.
func (t *target) key() string { return t.user + "@" + t.addr() }

// String names t for messages: "mn1 (198.51.100.11:22)".
func (t *target) String() string { return t.name + " (" + t.addr() + ")" }

// resolve fills in what h leaves empty from ssh_config and defaults.
func (p *Pool) resolve(h Host) (*target, error) {
	alias := h.Name
	if alias == "" {
		alias = h.Address
	}
	t := &target{name: alias, host: h.Address, port: h.Port, user: h.User}
	if alias == "" {
		return nil, errors.New("ssh: host has neither a name nor an address: check the inventory")
	}
	if p.confErr != nil {
		return nil, fmt.Errorf("%s: %w: fix it or pass an existing file", alias, p.confErr)
	}
	local, home := localUser()

	var confIdentities []string
	if p.sshConf != nil {
		get := func(key string) (string, error) {
			v, err := p.sshConf.GetStrict(alias, key)
			if err != nil {
				return "", fmt.Errorf("%s: read ssh config: %w: fix the file, or disable it", alias, err)
			}
			return v, nil
		}
		if t.host == "" {
			v, err := get("HostName")
			if err != nil {
				return nil, err
			}
			t.host = expandTokens(v, alias, "", local, home)
		}
		if t.user == "" {
			v, err := get("User")
			if err != nil {
				return nil, err
			}
			t.user = v
		}
		if t.port == 0 {
			v, err := get("Port")
			if err != nil {
				return nil, err
			}
			if v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n <= 0 || n > 65535 {
					return nil, fmt.Errorf("%s: ssh config: bad Port %q", alias, v)
				}
				t.port = n
			}
		}
		ids, err := p.sshConf.GetAllStrict(alias, "IdentityFile")
		if err != nil {
			return nil, fmt.Errorf("%s: read ssh config: %w: fix the file, or disable it", alias, err)
		}
		confIdentities = ids
	}
	if t.host == "" {
		t.host = alias
	}
	if t.port == 0 {
		t.port = 22
	}
	if t.user == "" {
		t.user = local
	}

	seen := make(map[string]bool)
	add := func(f string) {
		f = expandTokens(f, t.host, t.user, local, home)
		if !seen[f] {
			seen[f] = true
			t.identities = append(t.identities, f)
		}
	}
	for _, f := range h.IdentityFiles {
		add(f)
	}
	for _, f := range confIdentities {
		add(f)
	}
	for _, f := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		add(filepath.Join(home, ".ssh", f))
	}
	return t, nil
}

// localUser returns the name and home directory of the current user.
func localUser() (name, home string) {
	if u, err := user.Current(); err == nil {
		return u.Username, u.HomeDir
	}
	home, _ = os.UserHomeDir()
	return os.Getenv("USER"), home
}

// expandTokens expands ~ and the ssh_config tokens %h, %r, %u, %d and %%.
func expandTokens(s, host, remoteUser, localUser, home string) string {
	if s == "~" || strings.HasPrefix(s, "~/") {
		s = home + s[1:]
	}
	if !strings.Contains(s, "%") {
		return s
	}
	return strings.NewReplacer("%%", "%", "%h", host, "%r", remoteUser, "%u", localUser, "%d", home).Replace(s)
}

// signers returns the keys to authenticate with: the ssh-agent's, then those
// of t's identity files that exist and need no passphrase. Call done once the
// handshake is over.
func (p *Pool) signers(ctx context.Context, t *target) (signers []ssh.Signer, done func()) {
	done = func() {}
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		var d net.Dialer
		if c, err := d.DialContext(ctx, "unix", sock); err != nil {
			p.log.Debug().Err(err).Str("socket", sock).Msg("ssh-agent not reachable, using key files only")
		} else if s, err := agent.NewClient(c).Signers(); err != nil {
			p.log.Debug().Err(err).Msg("ssh-agent did not list its keys")
			c.Close()
		} else {
			signers, done = s, func() { c.Close() }
		}
	}
	for _, f := range t.identities {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			p.log.Warn().Err(err).Str("file", f).Msg("cannot read ssh identity file, skipping it")
			continue
		}
		s, err := ssh.ParsePrivateKey(b)
		var pass *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &pass):
			p.log.Debug().Str("file", f).Msg("ssh identity file needs a passphrase, skipping it (load it into ssh-agent to use it)")
			continue
		case err != nil:
			p.log.Warn().Err(err).Str("file", f).Msg("cannot parse ssh identity file, skipping it")
			continue
		}
		signers = append(signers, s)
	}
	return signers, done
}
