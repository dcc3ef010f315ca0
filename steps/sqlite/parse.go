package sqlite

import (
	"fmt"
	"strings"
)

// IntegrityReport is PRAGMA integrity_check per database file.
type IntegrityReport struct {
	Files    []string
	Problems map[string][]string // file -> what integrity_check said, for files not "ok"
}

// OK tells whether every file checked "ok".
func (r IntegrityReport) OK() bool { return len(r.Files) > 0 && len(r.Problems) == 0 }

// ParseIntegrityReport reads "== FILE" headers, each followed by what
// PRAGMA integrity_check printed for it ("ok" when the file is sound).
func ParseIntegrityReport(out string) (IntegrityReport, error) {
	r := IntegrityReport{Problems: map[string][]string{}}
	said := map[string][]string{}
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "":
		case strings.HasPrefix(l, "== "):
			r.Files = append(r.Files, strings.TrimPrefix(l, "== "))
		case len(r.Files) == 0:
			return r, fmt.Errorf("integrity check output %q before any file", l)
		default:
			f := r.Files[len(r.Files)-1]
			said[f] = append(said[f], l)
		}
	}
	for _, f := range r.Files {
		if len(said[f]) != 1 || said[f][0] != "ok" {
			r.Problems[f] = said[f]
			if len(said[f]) == 0 {
				r.Problems[f] = []string{"no answer"}
			}
		}
	}
	return r, nil
}
