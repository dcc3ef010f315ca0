package remote

import "strings"

// ShellQuote quotes s for a POSIX shell: the result is one word whose value
// is exactly s.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// AsUser wraps script so that it runs as user with that user's login
// environment, the way the guide runs Db2 commands as the instance owner.
// asRoot says whether the login user is root: root uses su, anyone else
// uses non-interactive sudo.
func AsUser(script, user string, asRoot bool) string {
	if user == "" {
		return script
	}
	if asRoot {
		return "su - " + ShellQuote(user) + " -c " + ShellQuote(script)
	}
	return "sudo -n -H -u " + ShellQuote(user) + " -- sh -c " + ShellQuote(script)
}
