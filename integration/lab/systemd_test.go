//go:build lab

package lab

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRecipe is a base recipe whose script only writes a file, so the
// cache's rules can be tested without debootstrap.
func fakeRecipe(script string) baseRecipe {
	return baseRecipe{suite: BaseSuite, mirror: "http://mirror.invalid/debian", packages: []string{"a", "b"}, script: script}
}

func TestEnsureBaseCache(t *testing.T) {
	cache := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// An interrupted build leaves no base and no temporary directory.
	slow := fakeRecipe(`mkdir -p "$1/etc"; echo half >"$1/etc/half"; sleep 60`)
	sctx, scancel := context.WithTimeout(ctx, 500*time.Millisecond)
	if _, err := ensureBase(sctx, cache, slow, io.Discard); err == nil {
		t.Fatal("interrupted build succeeded")
	}
	scancel()
	if ents, _ := filepath.Glob(filepath.Join(cache, "base-*")); len(ents) != 1 || !strings.HasSuffix(ents[0], ".log") {
		t.Errorf("after an interrupted build: %v, want only its log", ents)
	}

	// Concurrent builders of one recipe: one builds, the others wait and reuse.
	var builds int
	var mu sync.Mutex
	counting := fakeRecipe(`mkdir -p "$1/etc"; echo built >"$1/etc/os-release"; sleep 0.3`)
	var wg sync.WaitGroup
	paths := make([]string, 3)
	errs := make([]error, 3)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var log strings.Builder
			paths[i], errs[i] = ensureBase(ctx, cache, counting, &syncWriter{w: &log})
			if strings.Contains(log.String(), "base: building") {
				mu.Lock()
				builds++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Fatalf("builder %d: %q, %v (builder 0: %q)", i, paths[i], errs[i], paths[0])
		}
	}
	if builds != 1 {
		t.Errorf("%d builds of one recipe, want 1", builds)
	}
	if b, err := os.ReadFile(filepath.Join(paths[0], "etc/os-release")); err != nil || string(b) != "built\n" {
		t.Errorf("base content: %q, %v", b, err)
	}

	// A changed recipe is another base; the old one, unused, is pruned.
	changed := counting
	changed.packages = append(changed.packages, "c")
	p2, err := ensureBase(ctx, cache, changed, io.Discard)
	if err != nil || p2 == paths[0] {
		t.Fatalf("changed recipe: %q, %v (old %q)", p2, err, paths[0])
	}
	if _, err := os.Stat(paths[0]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old base %s not pruned: %v", paths[0], err)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestDebianSources(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sources.list.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"sources.list.d/debian.sources": "Types: deb\n# a comment\nURIs: http://deb.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n" +
			"Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://deb.example/debian-security\nSuites: bookworm-security\nComponents: main\n",
		"sources.list.d/other.sources": "Types: deb\nURIs: https://vendor.example/apt\nSuites: nodistro\nComponents: main\n",
		"sources.list.d/old.list":      "deb [arch=amd64] http://other.example/debian trixie main\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mirror, sources, err := debianSources(dir)
	if err != nil {
		t.Fatal(err)
	}
	if mirror != "http://deb.example/debian" {
		t.Errorf("mirror = %q", mirror)
	}
	for _, want := range []string{"Suites: bookworm bookworm-updates\n", "URIs: http://deb.example/debian-security\nSuites: bookworm-security\n"} {
		if !strings.Contains(sources, want) {
			t.Errorf("sources lack %q:\n%s", want, sources)
		}
	}
	if strings.Contains(sources, "vendor.example") || strings.Contains(sources, "trixie") {
		t.Errorf("sources keep non-bookworm entries:\n%s", sources)
	}
	if _, _, err := debianSources(t.TempDir()); err == nil {
		t.Error("no sources: no error")
	}
}

// A failed or interrupted bring-up of systemd hosts leaves nothing: no
// namespace, process, mount or cgroup.
func TestSystemdUpFailureLeavesNothing(t *testing.T) {
	requireLab(t)
	if err := (Config{Systemd: true}).checkSystemd(); err != nil {
		t.Fatal(err)
	}
	before := rootNet(t)
	for _, tc := range []struct {
		name string
		fail func(cancel context.CancelFunc) error
	}{
		{"provision error", func(context.CancelFunc) error { return errors.New("provision failed on purpose") }},
		{"interrupted", func(cancel context.CancelFunc) error { cancel(); return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
			defer cancel()
			var seen *Lab
			var pids []int
			var mounts, cgroups []string
			l, err := Up(ctx, Config{Prefix: testPrefix(), Systemd: true, ServiceNodes: 1, Log: testLog{t}, Provision: func(ctx context.Context, l *Lab, h *Host) error {
				seen = l
				if h.Name != "sn01" {
					return nil
				}
				pids = labPids(t, l)
				for _, h := range l.Hosts {
					if h.NspawnPid > 0 {
						pids = append(pids, h.NspawnPid)
					}
				}
				mounts, cgroups = append(mounts, l.Mounts...), append(cgroups, l.Cgroups...)
				return tc.fail(cancel)
			}})
			if err == nil || l != nil {
				t.Fatalf("Up = %v, %v; want an error", l, err)
			}
			if seen == nil || len(pids) == 0 || len(mounts) != 3 || len(cgroups) != 3 {
				t.Fatalf("during Provision: lab %v, %d pids, mounts %v, cgroups %v", seen != nil, len(pids), mounts, cgroups)
			}
			if nss := labNamespaces(t, seen.Prefix); len(nss) > 0 {
				t.Errorf("namespaces left: %v", nss)
			}
			for _, pid := range pids {
				if alive(pid) {
					t.Errorf("lab process %d still alive", pid)
				}
			}
			for _, m := range mounts {
				if ok, _ := isMountpoint(m); ok {
					t.Errorf("overlay %s still mounted", m)
				}
			}
			for _, cg := range cgroups {
				for _, hier := range cgroupHierarchies {
					if _, err := os.Stat(filepath.Join(hier, cg)); err == nil {
						t.Errorf("cgroup %s/%s left", hier, cg)
					}
				}
			}
			if _, err := os.Stat(seen.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s left behind (%v)", seen.Dir, err)
			}
		})
	}
	if after := rootNet(t); after != before {
		t.Errorf("root namespace network changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestRealXCATNeedsASource(t *testing.T) {
	for _, cfg := range []Config{
		{Systemd: true, Postgres: true, RealXCAT: true, XCATSrc: t.TempDir()},
		{Systemd: true, Postgres: true, RealXCAT: true, XCATSrc: "/nonexistent/xcat-core"},
	} {
		if _, err := cfg.xcatSource(); err == nil || !strings.Contains(err.Error(), "set XCAT_SRC") {
			t.Errorf("xcatSource(%q) = %v, want an error that says to set XCAT_SRC", cfg.XCATSrc, err)
		}
		if _, err := Up(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "set XCAT_SRC") {
			t.Errorf("Up with XCATSrc %q = %v, want an error that says to set XCAT_SRC", cfg.XCATSrc, err)
		}
	}
	if err := (Config{RealXCAT: true, Postgres: true}).checkSystemd(); err == nil {
		t.Error("RealXCAT without Systemd accepted")
	}
}
