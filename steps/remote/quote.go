package remote

import (
	"io"
	"strconv"
	"strings"
)

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

// scriptReader is the command line that runs a script sent on its stdin:
// it reads the script's number of lines, then the lines, with the shell's
// own read (which takes a pipe one byte at a time, so it reads nothing of
// what follows), and evaluates them in the same shell. The process table
// (ps, /proc/PID/cmdline, readable by every user of the host) shows only
// this line: never the script, nor a secret a template put in it. What
// follows the script on stdin is the command's own stdin. No process is
// started for it.
const scriptReader = `IFS= read -r n || exit 125; s=; while [ "$n" -gt 0 ]; do IFS= read -r l; s="$s$l
"; n=$((n-1)); done; unset l n; eval "$s"`

// scriptInput is what goes on the stdin of scriptReader ahead of the
// command's own stdin: the number of lines and the script, newline ended.
func scriptInput(script string) string {
	if !strings.HasSuffix(script, "\n") {
		script += "\n"
	}
	return strconv.Itoa(strings.Count(script, "\n")) + "\n" + script
}

// hidden returns the command line and the stdin that run script (as
// user, if not "") with stdin after it, the script going by stdin.
func hidden(script, user string, asRoot bool, stdin io.Reader) (string, io.Reader) {
	line := scriptReader
	if user != "" {
		// Through /bin/sh whatever the user's login shell.
		line = AsUser(shCommand(scriptReader), user, asRoot)
	}
	in := io.Reader(strings.NewReader(scriptInput(script)))
	if stdin != nil {
		in = io.MultiReader(in, stdin)
	}
	return line, in
}
