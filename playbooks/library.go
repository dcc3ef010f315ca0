package playbooks

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hamnflow/hamnflow/steps"
	"github.com/hamnflow/hamnflow/workflow"
)

//go:embed library
var library embed.FS

// Info describes a playbook hamnflow knows.
type Info struct {
	Name        string
	Description string
	Origin      string // "built-in" or the overriding file
}

// Library finds playbooks: a path to a file, else NAME.yaml in Dir (which
// overrides a built-in of the same name), else the built-in NAME.
type Library struct {
	Dir string // override directory; "" for none
}

// Find returns the file name and text of a playbook.
func (l Library) Find(name string) (file string, text []byte, err error) {
	if strings.ContainsRune(name, '/') || strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		text, err := os.ReadFile(name)
		if err != nil {
			return "", nil, fmt.Errorf("read playbook: %w", err)
		}
		return name, text, nil
	}
	if l.Dir != "" {
		p := filepath.Join(l.Dir, name+".yaml")
		if text, err := os.ReadFile(p); err == nil {
			return p, text, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", nil, fmt.Errorf("read playbook override: %w", err)
		}
	}
	text, err = library.ReadFile("library/" + name + ".yaml")
	if err != nil {
		// The names come from the file names: no file is read or parsed
		// for a typo.
		names := l.names()
		return "", nil, fmt.Errorf("no playbook %q: give a file path or one of: %s (see `hamnflow playbooks`)", name, strings.Join(names, ", "))
	}
	return "builtin:" + name + ".yaml", text, nil
}

// names returns the names of the built-in playbooks and the overrides in
// Dir, sorted, from their file names alone.
func (l Library) names() []string {
	seen := map[string]bool{}
	entries, _ := library.ReadDir("library")
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") {
			seen[strings.TrimSuffix(e.Name(), ".yaml")] = true
		}
	}
	if l.Dir != "" {
		files, _ := filepath.Glob(filepath.Join(l.Dir, "*.yaml"))
		for _, f := range files {
			seen[strings.TrimSuffix(filepath.Base(f), ".yaml")] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// List returns the built-in playbooks and the overrides in Dir.
func (l Library) List() []Info {
	byName := map[string]Info{}
	entries, _ := library.ReadDir("library")
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue // parts/ holds the pieces procedures are made of
		}
		text, _ := library.ReadFile("library/" + e.Name())
		byName[strings.TrimSuffix(e.Name(), ".yaml")] = info(text, "built-in")
	}
	if l.Dir != "" {
		files, _ := filepath.Glob(filepath.Join(l.Dir, "*.yaml"))
		for _, f := range files {
			text, err := os.ReadFile(f)
			if err == nil {
				byName[strings.TrimSuffix(filepath.Base(f), ".yaml")] = info(text, f)
			}
		}
	}
	var out []Info
	for name, i := range byName {
		i.Name = name
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

func info(text []byte, origin string) Info {
	pb, err := workflow.Parse("", text)
	if err != nil {
		return Info{Description: "(does not parse: run hamnflow validate)", Origin: origin}
	}
	d, _, _ := strings.Cut(strings.TrimSpace(pb.Description), "\n")
	return Info{Description: d, Origin: origin}
}

// Prepared is everything a run needs from the files.
type Prepared struct {
	Playbook  *workflow.Playbook
	Inventory *Inventory // nil for playbooks run without one
	Data      map[string]any
	Source    workflow.Source
}

// Files gives the library's files by path ("parts/fence.yaml"): from Dir
// when it has the file, else built in. Procedures include parts through it.
func (l Library) Files() workflow.Files { return libraryFiles{dir: l.Dir} }

type libraryFiles struct{ dir string }

func (f libraryFiles) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, fmt.Errorf("%q is not a path inside the playbook library", name)
	}
	if f.dir != "" {
		text, err := os.ReadFile(filepath.Join(f.dir, filepath.FromSlash(name)))
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return text, err
		}
	}
	return library.ReadFile("library/" + name)
}

// Prepare composes a playbook for the cluster of its inventory and
// resolves its parameters. inventoryPath may be "" for playbooks of local
// steps only. With Diagnostics it still returns what it could compose,
// for validation to report the rest.
func (l Library) Prepare(pbFile string, pbText []byte, inventoryPath string, invText []byte, given map[string]string) (*Prepared, error) {
	var inv *Inventory
	if inventoryPath != "" {
		var err error
		if inv, err = ParseInventory(inventoryPath, invText); err != nil {
			return nil, err
		}
	}
	p, err := l.Compose(pbFile, pbText, inv, given)
	if p != nil {
		p.Source.InventoryPath, p.Source.InventoryText = inventoryPath, string(invText)
	}
	return p, err
}

// Compose is Prepare for an inventory already read (nil for none).
func (l Library) Compose(pbFile string, pbText []byte, inv *Inventory, given map[string]string) (*Prepared, error) {
	p := &Prepared{Inventory: inv, Data: map[string]any{"inv": map[string]any{}}}
	if inv != nil {
		p.Data["inv"] = inv.Data()
	}
	pb, params, err := workflow.Load(workflow.LoadInput{
		Name: pbFile, Text: pbText, Files: l.Files(), Inv: p.Data["inv"].(map[string]any),
		Given: given, Funcs: steps.Funcs(),
	})
	if pb == nil {
		return nil, err
	}
	p.Playbook = pb
	p.Data["params"] = params
	p.Source = workflow.Source{PlaybookPath: pbFile, PlaybookText: string(pbText), Params: given}
	return p, err
}

// FromSource rebuilds what a run started from, out of its journal record:
// the DAG exactly as it was composed then, with the inventory and
// parameters it started with.
func (l Library) FromSource(src workflow.Source) (*Prepared, error) {
	if src.Resolved == "" {
		// A run recorded before the DAG was: compose it again.
		return l.Prepare(src.PlaybookPath, []byte(src.PlaybookText), src.InventoryPath, []byte(src.InventoryText), src.Params)
	}
	pb, err := workflow.FromResolved(src.Resolved)
	if err != nil {
		return nil, err
	}
	pb.Text = []byte(src.PlaybookText)
	p := &Prepared{Playbook: pb, Data: map[string]any{"inv": map[string]any{}}, Source: src}
	if src.InventoryPath != "" {
		inv, err := ParseInventory(src.InventoryPath, []byte(src.InventoryText))
		if err != nil {
			return nil, err
		}
		p.Inventory = inv
		p.Data["inv"] = inv.Data()
	}
	params, diags := workflow.ResolveParams(pb, src.Params)
	if len(diags) > 0 {
		return nil, diags
	}
	p.Data["params"] = params
	return p, nil
}
