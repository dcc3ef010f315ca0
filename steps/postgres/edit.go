// pg_conf reads postgresql.conf and pg_hba.conf with cat, edits them here
// and writes them back: these are the edits, pure functions on the text.

package postgres

import (
	"fmt"
	"strings"
)

// quoteConf quotes a postgresql.conf value unless it already is.
func quoteConf(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// EditConf applies settings to a postgresql.conf text: an existing
// active setting of the key is commented out and the new one appended,
// marked as hamnflow's. A setting already in effect changes nothing. It
// returns the new text and the keys it changed.
func EditConf(conf string, settings []Setting) (string, []string) {
	var changed []string
	for _, s := range settings {
		cur, found := ConfValue(conf, s.Key)
		want := unquoteConf(s.Value)
		if s.Add {
			def := map[string]string{"listen_addresses": "localhost"}[strings.ToLower(s.Key)]
			switch {
			case s.Base != "":
				cur = s.Base
			case !found:
				cur = def
			}
			items := splitList(cur)
			have := false
			for _, it := range items {
				have = have || it == want || it == "*"
			}
			if have {
				continue
			}
			want = strings.Join(append(items, want), ",")
		} else if found && cur == want {
			continue
		}
		var b strings.Builder
		for _, line := range strings.Split(strings.TrimRight(conf, "\n"), "\n") {
			if k, _, ok := confLine(line); ok && strings.EqualFold(k, s.Key) {
				line = "#" + line + " # replaced by hamnflow"
			}
			b.WriteString(line + "\n")
		}
		fmt.Fprintf(&b, "%s = %s # set by hamnflow\n", s.Key, quoteConf(want))
		conf = b.String()
		changed = append(changed, s.Key)
	}
	return conf, changed
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// EditHBA makes sure every line of ensure is an active record of a
// pg_hba.conf text (compared field by field), appending the missing ones.
// It returns the new text and the lines it added.
func EditHBA(hba string, ensure []string) (string, []string) {
	have := map[string]bool{}
	for _, line := range strings.Split(hba, "\n") {
		t := strings.TrimSpace(line)
		if i := strings.Index(t, "#"); i >= 0 {
			t = t[:i]
		}
		if f := strings.Fields(t); len(f) > 0 {
			have[strings.Join(f, " ")] = true
		}
	}
	var added []string
	out := hba
	for _, e := range ensure {
		f := strings.Fields(e)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if key := strings.Join(f, " "); !have[key] {
			if out != "" && !strings.HasSuffix(out, "\n") {
				out += "\n"
			}
			out += strings.Join(f, "\t") + "\t# added by hamnflow\n"
			have[key] = true
			added = append(added, strings.Join(f, " "))
		}
	}
	return out, added
}
