package lab

import (
	"bufio"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The base root: one Debian 12 tree, made with debootstrap and apt, that
// every systemd host of every lab boots from through an overlay of its own.
// It lives in BaseCacheDir as base-<hash of its recipe>, a plain directory:
// a changed recipe (package list, base.sh, this machine's Debian sources)
// gives a new name, so a base is never updated in place. It is built in a
// temporary directory next to it and renamed only when complete, under an
// exclusive flock, so concurrent builders wait for each other and an
// interrupted build is never reused.

// BaseCacheDir holds the base roots.
const BaseCacheDir = "/var/cache/hamnflow-lab"

// BaseSuite is the Debian release of the base.
const BaseSuite = "bookworm"

//go:embed base.sh
var baseScript string

// basePackages are installed into the base on top of debootstrap's minbase.
var basePackages = []string{
	// the host
	"systemd", "systemd-sysv", "dbus", "libpam-systemd", "openssh-server", "openssh-client", "rsync", "iproute2",
	"iputils-ping", "arping", "cron", "procps", "sudo", "psmisc", "less", "ca-certificates", "openssl",
	"hostname", "kmod", "netbase", "net-tools", "lsof", "file",
	// databases
	"postgresql", "postgresql-client", "mariadb-server", "mariadb-client", "sqlite3",
	// the network services of an MN
	"bind9", "bind9-utils", "bind9-dnsutils", "isc-dhcp-server", "isc-dhcp-client",
	"conserver-server", "conserver-client", "tftpd-hpa", "tftp-hpa",
	// nodeset of a pxe node copies pxelinux.0 into the tftpdir
	// (xCAT-server/lib/xcat/plugins/pxe.pm:482-493)
	"pxelinux", "syslinux-common",
	// xCAT's Perl dependencies (../shared/testbed.md, */debian/control)
	"perl", "libio-socket-ssl-perl", "libxml-simple-perl", "libdbd-sqlite3-perl", "libdbd-pg-perl",
	"libexpect-perl", "libnet-dns-perl", "libsoap-lite-perl", "libxml-libxml-perl", "libsnmp-perl",
	"libcrypt-rijndael-perl", "libcrypt-cbc-perl", "libjson-perl", "libnet-https-nb-perl",
	"libhttp-async-perl", "libxml-parser-perl", "libnet-telnet-perl", "libio-stty-perl",
	"libio-pty-perl", "libsort-versions-perl", "liblwp-protocol-https-perl", "libnet-ssleay-perl",
	"libsys-virt-perl", "libdigest-sha-perl", "libsys-syslog-perl", "make", "ucf",
}

// baseRecipe is what a base is built from; its hash names the base.
type baseRecipe struct {
	suite    string
	mirror   string
	sources  string // deb822 text of this machine's Debian entries
	packages []string
	script   string
}

// hash is a short digest of everything in the recipe.
func (r baseRecipe) hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "suite %s\nmirror %s\nsources %q\npackages %s\nscript %q\n",
		r.suite, r.mirror, r.sources, strings.Join(r.packages, " "), r.script)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// newBaseRecipe reads this machine's Debian sources for the mirror.
func newBaseRecipe() (baseRecipe, error) {
	mirror, sources, err := debianSources("/etc/apt")
	if err != nil {
		return baseRecipe{}, err
	}
	return baseRecipe{suite: BaseSuite, mirror: mirror, sources: sources, packages: basePackages, script: baseScript}, nil
}

// debianSources finds, in apt's configuration under dir, the Debian
// entries (deb822 stanzas in sources.list.d/*.sources and one-line entries
// in sources.list and sources.list.d/*.list whose suite is BaseSuite or
// one of its -updates/-security suites) and returns the mirror of the main
// suite and the entries as one deb822 file for apt inside the base.
func debianSources(dir string) (mirror, sources string, err error) {
	var stanzas []map[string]string
	files, _ := filepath.Glob(filepath.Join(dir, "sources.list.d", "*.sources"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", "", fmt.Errorf("apt sources: %w", err)
		}
		for _, block := range strings.Split(string(b), "\n\n") {
			st := map[string]string{}
			for _, line := range strings.Split(block, "\n") {
				if strings.HasPrefix(line, "#") {
					continue
				}
				if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, " ") {
					st[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
				}
			}
			if st["enabled"] != "no" && len(st) > 0 {
				stanzas = append(stanzas, st)
			}
		}
	}
	lists, _ := filepath.Glob(filepath.Join(dir, "sources.list.d", "*.list"))
	lists = append([]string{filepath.Join(dir, "sources.list")}, lists...)
	for _, f := range lists {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", "", fmt.Errorf("apt sources: %w", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			fs := strings.Fields(line)
			if len(fs) < 4 || fs[0] != "deb" {
				continue
			}
			if strings.HasPrefix(fs[1], "[") { // options: skip to the URI
				for len(fs) > 1 && !strings.HasSuffix(fs[1], "]") {
					fs = append(fs[:1], fs[2:]...)
				}
				fs = append(fs[:1], fs[2:]...)
			}
			if len(fs) >= 4 {
				stanzas = append(stanzas, map[string]string{"types": "deb", "uris": fs[1], "suites": fs[2], "components": strings.Join(fs[3:], " ")})
			}
		}
	}
	var out strings.Builder
	for _, st := range stanzas {
		var suites []string
		for _, s := range strings.Fields(st["suites"]) {
			if s == BaseSuite || strings.HasPrefix(s, BaseSuite+"-") {
				suites = append(suites, s)
			}
		}
		if len(suites) == 0 || !strings.Contains(st["types"], "deb") || st["uris"] == "" {
			continue
		}
		uri := strings.Fields(st["uris"])[0]
		for _, s := range suites {
			if s == BaseSuite && mirror == "" {
				mirror = uri
			}
		}
		fmt.Fprintf(&out, "Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n",
			uri, strings.Join(suites, " "), st["components"])
	}
	if mirror == "" {
		return "", "", fmt.Errorf("apt sources: no entry for Debian %s in %s/sources.list*: the base is built from Debian's mirror", BaseSuite, dir)
	}
	return mirror, out.String(), nil
}

// EnsureBase returns the base root for the current recipe, building it
// first if the cache lacks it (minutes: debootstrap and some 200 packages).
// Progress goes to log (nil: discarded); the build's full output goes to
// <BaseCacheDir>/base-<hash>.log.
func EnsureBase(ctx context.Context, log io.Writer) (string, error) {
	if log == nil {
		log = io.Discard
	}
	r, err := newBaseRecipe()
	if err != nil {
		return "", err
	}
	return ensureBase(ctx, BaseCacheDir, r, log)
}

func ensureBase(ctx context.Context, cache string, r baseRecipe, log io.Writer) (string, error) {
	final := filepath.Join(cache, "base-"+r.hash())
	if ok, err := baseComplete(final); err != nil || ok {
		return final, err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("base cache: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cache, "base.lock"), log)
	if err != nil {
		return "", fmt.Errorf("base cache: %w", err)
	}
	defer unlock()
	if ok, err := baseComplete(final); err != nil || ok { // built while we waited
		return final, err
	}
	// Leftovers of interrupted builds: we hold the lock, nobody builds them.
	stale, _ := filepath.Glob(filepath.Join(cache, "base-*.tmp-*"))
	for _, d := range stale {
		fmt.Fprintf(log, "base: removing %s (an interrupted build)\n", d)
		if err := os.RemoveAll(d); err != nil {
			return "", fmt.Errorf("base cache: remove %s: %w", d, err)
		}
	}
	tmp, err := os.MkdirTemp(cache, filepath.Base(final)+".tmp-")
	if err != nil {
		return "", fmt.Errorf("base cache: %w", err)
	}
	start := time.Now()
	fmt.Fprintf(log, "base: building %s (first time only; a few minutes; log %s.log)\n", final, final)
	if err := buildBase(ctx, tmp, final+".log", r, log); err != nil {
		if rerr := os.RemoveAll(tmp); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return "", fmt.Errorf("build base root %s: %w", final, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, baseMarker), []byte(r.describe()), 0o644); err != nil {
		return "", fmt.Errorf("build base root: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("build base root: %w", err)
	}
	fmt.Fprintf(log, "base: built %s in %v\n", final, time.Since(start).Round(time.Second))
	pruneBases(cache, final, log)
	return final, nil
}

// pruneBases removes the bases of older recipes that no mounted overlay
// uses (a lab still running on one keeps it). The caller holds the lock.
func pruneBases(cache, keep string, log io.Writer) {
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	old, _ := filepath.Glob(filepath.Join(cache, "base-*"))
	for _, d := range old {
		if d == keep || strings.Contains(d, ".tmp-") || strings.HasSuffix(d, ".log") ||
			strings.Contains(string(mounts), "lowerdir="+d) {
			continue
		}
		if ok, _ := baseComplete(d); !ok {
			continue
		}
		fmt.Fprintf(log, "base: removing %s (an older recipe)\n", d)
		if err := os.RemoveAll(d); err == nil {
			_ = os.Remove(d + ".log")
		}
	}
}

// baseMarker is written into a base when it is complete.
const baseMarker = ".hamnflow-base"

func (r baseRecipe) describe() string {
	return fmt.Sprintf("suite: %s\nmirror: %s\npackages: %s\n", r.suite, r.mirror, strings.Join(r.packages, " "))
}

// baseComplete says whether dir is a finished base.
func baseComplete(dir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dir, baseMarker))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("base %s: %w", dir, err)
	}
	return true, nil
}

// buildTimeout bounds one build of the base.
const buildTimeout = 30 * time.Minute

// buildBase runs base.sh into dir, its output to logPath and its progress
// lines (and a heartbeat) to log.
func buildBase(ctx context.Context, dir, logPath string, r baseRecipe, log io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	for _, t := range []string{"debootstrap", "unshare", "chroot"} {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("%s missing: %s", t, installHint)
		}
	}
	src, err := os.CreateTemp("", "hamnflow-base-sources-")
	if err != nil {
		return err
	}
	defer os.Remove(src.Name())
	if _, err := src.WriteString(r.sources); err != nil {
		return err
	}
	src.Close()
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	args := append([]string{"-c", r.script, "base.sh", dir, r.suite, r.mirror, src.Name()}, r.packages...)
	cmd := exec.CommandContext(ctx, "/bin/bash", args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{pw} // fd 3: progress
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		pw.Close()
		pr.Close()
		return err
	}
	pw.Close()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	start := time.Now()
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for open := true; open; {
		select {
		case l, ok := <-lines:
			if !ok {
				open = false
				break
			}
			fmt.Fprintln(log, l)
		case <-tick.C:
			fmt.Fprintf(log, "base: still building (%v)\n", time.Since(start).Round(time.Second))
		}
	}
	pr.Close()
	if err := cmd.Wait(); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		return fmt.Errorf("base.sh: %w: %s", err, tail(logPath))
	}
	return nil
}

// lockFile takes an exclusive flock on path, polling so that ctx can
// cancel the wait, and says on log that it waits for another builder.
func lockFile(ctx context.Context, path string, log io.Writer) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	said := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !said {
			fmt.Fprintf(log, "base: waiting for another build of the base (%s)\n", path)
			said = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
