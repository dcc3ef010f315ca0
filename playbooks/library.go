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

	"github.com/hamnflow/hamnflow/workflow"
)

//go:embed library/*.yaml
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
		var names []string
		for _, i := range l.List() {
			names = append(names, i.Name)
		}
		return "", nil, fmt.Errorf("no playbook %q: give a file path or one of: %s (see `hamnflow playbooks`)", name, strings.Join(names, ", "))
	}
	return "builtin:" + name + ".yaml", text, nil
}

// List returns the built-in playbooks and the overrides in Dir.
func (l Library) List() []Info {
	byName := map[string]Info{}
	entries, _ := library.ReadDir("library")
	for _, e := range entries {
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

// Prepare parses a playbook and its inventory and resolves parameters.
// inventoryPath may be "" for playbooks of local steps only.
func Prepare(pbFile string, pbText []byte, inventoryPath string, invText []byte, given map[string]string) (*Prepared, error) {
	pb, err := workflow.Parse(pbFile, pbText)
	if err != nil {
		return nil, err
	}
	p := &Prepared{Playbook: pb, Data: map[string]any{"inv": map[string]any{}}}
	if inventoryPath != "" {
		inv, err := ParseInventory(inventoryPath, invText)
		if err != nil {
			return nil, err
		}
		p.Inventory = inv
		p.Data["inv"] = inv.Data()
	}
	params, diags := workflow.ResolveParams(pb, given)
	if len(diags) > 0 {
		return nil, diags
	}
	p.Data["params"] = params
	p.Source = workflow.Source{
		PlaybookPath: pbFile, PlaybookText: string(pbText),
		InventoryPath: inventoryPath, InventoryText: string(invText),
		Params: given,
	}
	return p, nil
}

// FromSource rebuilds what a run started from, out of its journal record.
func FromSource(src workflow.Source) (*Prepared, error) {
	return Prepare(src.PlaybookPath, []byte(src.PlaybookText), src.InventoryPath, []byte(src.InventoryText), src.Params)
}
