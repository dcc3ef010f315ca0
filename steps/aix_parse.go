package steps

import (
	"fmt"
	"strconv"
	"strings"
)

// Subsystem is one line of AIX's lssrc.
type Subsystem struct {
	Name, Group string
	PID         int // 0 when not running
	Status      string
}

// Active tells whether the subsystem runs.
func (s Subsystem) Active() bool { return s.Status == "active" }

// ParseLssrc parses "lssrc -s NAME" / "lssrc -a": a header, then lines of
// subsystem, optional group, optional PID and status.
func ParseLssrc(out string) ([]Subsystem, error) {
	var subs []Subsystem
	for n, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == "Subsystem" {
			continue
		}
		s := Subsystem{Name: f[0], Status: f[len(f)-1]}
		if s.Status != "active" && s.Status != "inoperative" && s.Status != "stopping" {
			return nil, fmt.Errorf("lssrc output line %d: unknown status %q", n+1, s.Status)
		}
		mid := f[1 : len(f)-1]
		if len(mid) > 0 {
			if pid, err := strconv.Atoi(mid[len(mid)-1]); err == nil {
				s.PID, mid = pid, mid[:len(mid)-1]
			}
		}
		if len(mid) > 0 {
			s.Group = mid[0]
		}
		subs = append(subs, s)
	}
	return subs, nil
}
