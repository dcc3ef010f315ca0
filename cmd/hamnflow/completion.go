package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// completionCommand prints the shell's glue to urfave/cli's completion:
// the shell asks `hamnflow ... --generate-bash-completion` for the words,
// which the library makes from the commands and flags; fish gets the
// library's own script.
func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: source <(hamnflow completion bash)",
		ArgsUsage: "bash|zsh|fish",
		Action: func(c *cli.Context) error {
			switch sh := c.Args().First(); sh {
			case "bash", "":
				fmt.Fprint(c.App.Writer, bashGlue)
			case "zsh":
				fmt.Fprint(c.App.Writer, "autoload -U bashcompinit && bashcompinit\n"+bashGlue)
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return err
				}
				fmt.Fprint(c.App.Writer, s)
			default:
				return usage("hamnflow completion bash", "completion: %q: use bash, zsh or fish", sh)
			}
			return nil
		},
	}
}

// bashGlue is urfave/cli's bash_autocomplete, for hamnflow.
const bashGlue = `_hamnflow() {
  local cur opts
  cur="${COMP_WORDS[COMP_CWORD]}"
  if [[ "$cur" == -* ]]; then
    opts=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:$COMP_CWORD-1}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:$COMP_CWORD-1}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
}
complete -o default -F _hamnflow hamnflow
`
