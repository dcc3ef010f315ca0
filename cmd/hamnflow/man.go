package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func manCommand() *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the man page (roff) generated from the commands",
		Hidden: false,
		Action: func(c *cli.Context) error {
			m, err := c.App.ToMan()
			if err != nil {
				return err
			}
			fmt.Fprint(c.App.Writer, m)
			return nil
		},
	}
}
