package db2

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// okCode is a failure a step allows: a message identifier, optionally
// with its reason code ("SQL1769N:1").
type okCode struct {
	code   string
	reason int // -1: any
}

var okCodeRE = regexp.MustCompile(`^(SQL\d{4,5}[NWC]|DB2\d{4}[IWNEC])(?::(\d+))?$`)

// parseOKCodes reads ok_codes: one code per element, several in one
// element separated by commas ("SQL1769N:1,SQL1024N"). It returns the
// codes it could read and an error naming the first it could not.
func parseOKCodes(list []string) ([]okCode, error) {
	var out []okCode
	var bad error
	for _, f := range strings.Split(strings.Join(list, ","), ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		m := okCodeRE.FindStringSubmatch(strings.ToUpper(f))
		if m == nil {
			if bad == nil {
				bad = fmt.Errorf("ok_codes %q: want message identifiers like SQL1777N or SQL1769N:1 (with a reason code)", f)
			}
			continue
		}
		c := okCode{code: m[1], reason: -1}
		if m[2] != "" {
			c.reason, _ = strconv.Atoi(m[2])
		}
		out = append(out, c)
	}
	return out, bad
}

// grep is an extended regular expression matching the code in the
// CLP's output, for the generated shell script.
func (c okCode) grep() string {
	if c.reason < 0 {
		return c.code
	}
	return fmt.Sprintf(`%s.{0,400}Reason code *= *"?%d"?([^0-9]|$)`, c.code, c.reason)
}

// clpLine is one line of a CLP session: a db2 command, or a shell command
// (written "!cmd", like the CLP's own shell escape).
type clpLine struct {
	text  string
	shell bool
	ok    []okCode
}

// parseCLPScript reads a script argument: one command per line; empty
// lines and "--" comments are skipped; a leading "db2 " is dropped.
func parseCLPScript(s string, ok []okCode) []clpLine {
	var out []clpLine
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "--") {
			continue
		}
		if strings.HasPrefix(l, "!") {
			out = append(out, clpLine{text: strings.TrimSpace(l[1:]), shell: true})
			continue
		}
		if len(l) > 4 && strings.EqualFold(l[:4], "db2 ") {
			l = strings.TrimSpace(l[4:])
		}
		out = append(out, clpLine{text: l, ok: ok})
	}
	return out
}

// splice quotes cmd as one shell word in which every secret value is
// replaced by the shell variable that holds it: the value itself never
// appears in the script.
func splice(cmd string, secrets []string) string {
	var b strings.Builder
	rest := cmd
	for {
		at, which := -1, 0
		for i, v := range secrets {
			if v == "" {
				continue
			}
			if j := strings.Index(rest, v); j >= 0 && (at < 0 || j < at) {
				at, which = j, i
			}
		}
		if at < 0 {
			break
		}
		if at > 0 {
			b.WriteString(remote.ShellQuote(rest[:at]))
		}
		fmt.Fprintf(&b, `"$HF_S%d"`, which+1)
		rest = rest[at+len(secrets[which]):]
	}
	if rest != "" || b.Len() == 0 {
		b.WriteString(remote.ShellQuote(rest))
	}
	return b.String()
}

// usedSecrets are the secrets that occur in lines, once each, in the
// order given: the ones a session's script reads from stdin.
func usedSecrets(lines []clpLine, secrets []string) []string {
	var out []string
	for _, s := range secrets {
		if s == "" || containsStr(out, s) {
			continue
		}
		for _, l := range lines {
			if strings.Contains(l.text, s) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// clpScript builds the shell script of a CLP session from lines and the
// secret values in them (see usedSecrets). Every command is framed by
// MarkIn/MarkOut lines; the first failing command (exit 4 or more, unless
// one of its ok codes) ends the session with TERMINATE. stdin carries the
// secrets, one per line.
//
// Plan builds the same script from arguments whose secrets are already
// masked, with Mask as the one secret: the script it shows is the one Run
// sends when a session holds one secret (as every Db2 step does: the
// instance owner's password). With several different secrets in one
// session, the plan reads one variable where Run reads one per secret.
func clpScript(lines []clpLine, secrets []string) (script, stdin string, err error) {
	var b strings.Builder
	b.WriteString("hf_t=$(mktemp) || exit 8\ntrap 'rm -f \"$hf_t\"' EXIT\nhf_rc=0\n")
	var in strings.Builder
	for i, s := range secrets {
		if strings.ContainsAny(s, "\n\r") {
			return "", "", errors.New("a secret value contains a line break; it cannot be passed to db2")
		}
		fmt.Fprintf(&b, "IFS= read -r HF_S%d || true\n", i+1)
		in.WriteString(s + "\n")
	}
	for _, l := range lines {
		if l.shell {
			fmt.Fprintf(&b, "( %s ) || { hf_r=$?; echo \"hamnflow: shell command failed with exit $hf_r: \"%s >&2; exit 8; }\n",
				l.text, remote.ShellQuote(mask(l.text, secrets)))
			continue
		}
		fmt.Fprintf(&b, "printf '%%s\\n' %s\n", remote.ShellQuote(MarkIn+mask(l.text, secrets)))
		fmt.Fprintf(&b, "db2 %s >\"$hf_t\" 2>&1; hf_r=$?\ncat \"$hf_t\"\n", splice(l.text, secrets))
		b.WriteString("if [ \"$hf_r\" -ge 4 ]; then\n  hf_ok=\n")
		for _, c := range l.ok {
			fmt.Fprintf(&b, "  if tr '\\n' ' ' <\"$hf_t\" | grep -Eq %s; then hf_ok=1; fi\n", remote.ShellQuote(c.grep()))
		}
		fmt.Fprintf(&b, "  if [ -n \"$hf_ok\" ]; then printf '%%s\\n' \"%s$hf_r tolerated\"\n", MarkOut)
		fmt.Fprintf(&b, "  else printf '%%s\\n' \"%s$hf_r\"; db2 terminate >/dev/null 2>&1; exit \"$hf_r\"; fi\n", MarkOut)
		fmt.Fprintf(&b, "else\n  printf '%%s\\n' \"%s$hf_r\"\n", MarkOut)
		b.WriteString("  if [ \"$hf_r\" -gt \"$hf_rc\" ]; then hf_rc=$hf_r; fi\nfi\n")
	}
	b.WriteString("db2 terminate >/dev/null 2>&1\nexit \"$hf_rc\"\n")
	return b.String(), in.String(), nil
}

// planSession is a session's script as Plan shows it: lines come from
// masked arguments, so Mask stands for the secret.
func planSession(owner string, lines []clpLine) string {
	script, _, err := clpScript(lines, usedSecrets(lines, []string{workflow.Mask}))
	if err != nil {
		return shown(owner, "# "+err.Error())
	}
	return shown(owner, script)
}

// session is the result of one CLP session.
type session struct {
	out  workflow.Outcome
	cmds []CLPCommand
}

// runCLP runs lines as owner on the call's host. It returns the first
// failed command as a *CLPError wrapped with the host.
func runCLP(e *act.Env, ctx context.Context, c workflow.Call, owner string, lines []clpLine) (session, error) {
	script, stdin, err := clpScript(lines, usedSecrets(lines, c.Secrets))
	if err != nil {
		return session{}, err
	}
	o := workflow.Outcome{Command: shown(owner, script)}
	h, err := e.Host(c.Host)
	if err != nil {
		return session{out: o}, err
	}
	cmd := remote.Command{Script: script, AsUser: owner, Stream: c.Output}
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	res, err := e.Transport.Exec(ctx, h, cmd)
	o.Stdout, o.Stderr, o.Exit = mask(string(res.Stdout), c.Secrets), mask(string(res.Stderr), c.Secrets), res.Exit
	if err != nil {
		return session{out: o}, fmt.Errorf("db2 on %s as %s: %s", h.Label(), owner, mask(err.Error(), c.Secrets))
	}
	o.Ran = true
	s := session{out: o, cmds: ParseSession([]byte(o.Stdout))}
	for _, cmd := range s.cmds {
		if err := cmd.Err(); err != nil {
			return s, fmt.Errorf("on %s: %w", h.Label(), err)
		}
	}
	if res.Exit >= ExitError {
		// A shell line failed, or the session died between commands.
		return s, fmt.Errorf("db2 session on %s as %s: exit status %d%s", h.Label(), owner, res.Exit,
			mask(act.Tail(res.Stderr, nil), c.Secrets))
	}
	return s, nil
}

func lastQuery(cmds []CLPCommand) *CLPCommand {
	for i := len(cmds) - 1; i >= 0; i-- {
		if cmds[i].Records >= 0 {
			return &cmds[i]
		}
	}
	return nil
}

func sessionOutputs(s session) map[string]string {
	var codes, warns []string
	for _, cmd := range s.cmds {
		codes = append(codes, cmd.Codes...)
		if cmd.Exit == ExitWarning || cmd.Tolerated {
			for _, c := range cmd.Codes {
				if strings.HasSuffix(c, "W") || cmd.Tolerated {
					warns = append(warns, c)
				}
			}
		}
	}
	out := map[string]string{"codes": strings.Join(codes, ","), "warnings": strings.Join(warns, ","),
		"exit": strconv.Itoa(s.out.Exit)}
	if q := lastQuery(s.cmds); q != nil {
		out["records"] = strconv.Itoa(q.Records)
	}
	return out
}
