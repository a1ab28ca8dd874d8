// Command wakesleep trains recurrent stochastic networks with adversarial
// wake/sleep and oscillatory learning (Benjamin & Kording). Run
// `wakesleep help` for the subcommands.
package main

import (
	"os"

	"github.com/wakesleep/wakesleep/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
