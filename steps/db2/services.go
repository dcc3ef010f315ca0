package db2

import (
	"fmt"
	"strconv"
	"strings"
)

// Service is one /etc/services entry for an HADR port (guide 5.1.5):
// "DB2_HADR_1      55001/tcp".
type Service struct {
	Name string
	Port int
}

// ParseServices reads "NAME:PORT,NAME:PORT" (spaces allowed).
func ParseServices(s string) ([]Service, error) {
	var out []Service
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, port, ok := strings.Cut(f, ":")
		n, err := strconv.Atoi(strings.TrimSpace(port))
		name = strings.TrimSpace(name)
		if !ok || err != nil || n < 1 || n > 65535 || name == "" || strings.ContainsAny(name, " \t#/") {
			return nil, fmt.Errorf("service %q: want NAME:PORT, e.g. DB2_HADR_1:55001", f)
		}
		out = append(out, Service{Name: name, Port: n})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no services given: want NAME:PORT,NAME:PORT")
	}
	return out, nil
}

// EnsureServices returns the /etc/services text with one "NAME PORT/tcp"
// line per service, and whether it changed. A service already listed with
// its port is left alone; one listed with another port gets the new port;
// a port/tcp held by another name is an error, since Db2 would resolve the
// wrong service.
func EnsureServices(text string, want []Service) (string, bool, error) {
	lines := strings.Split(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	changed := false
	for _, s := range want {
		entry := fmt.Sprintf("%-15s %d/tcp", s.Name, s.Port)
		port := fmt.Sprintf("%d/tcp", s.Port)
		found := false
		for i, l := range lines {
			f := strings.Fields(strings.SplitN(l, "#", 2)[0])
			if len(f) < 2 {
				continue
			}
			names := append([]string{f[0]}, f[2:]...)
			mine := false
			for _, n := range names {
				mine = mine || n == s.Name
			}
			switch {
			case mine && f[1] == port:
				found = true
			case mine && strings.HasSuffix(f[1], "/tcp"):
				lines[i], found, changed = entry, true, true
			case f[1] == port:
				return "", false, fmt.Errorf("port %s is already the service %s in /etc/services; HADR needs it for %s: "+
					"choose other HADR ports in the inventory (database.hadr_primary_port/hadr_standby_port)", port, f[0], s.Name)
			}
		}
		if !found {
			lines = append(lines, entry)
			changed = true
		}
	}
	return strings.Join(lines, "\n") + "\n", changed, nil
}
