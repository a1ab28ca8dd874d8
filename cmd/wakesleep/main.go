// Command wakesleep trains recurrent stochastic networks with adversarial
// wake/sleep and oscillatory learning (Benjamin & Kording). Run
// `wakesleep help` for the subcommands.
package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/wakesleep/wakesleep/blas"
	"github.com/wakesleep/wakesleep/internal/cli"
	"github.com/wakesleep/wakesleep/internal/gcpolicy"
)

func main() {
	fastBLAS()
	gcpolicy.Apply()
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}

// fastBLAS starts the program again with OPENBLAS_CORETYPE set when the
// OpenBLAS build's library fell back to its generic kernels on a CPU with
// AVX2 or AVX-512 (blas.BetterCoreType): the variable is read when the
// library loads, so it cannot be set from here for this process. A user's
// own OPENBLAS_CORETYPE is kept. If the new start fails, the program goes
// on as it is, slower, and says so.
func fastBLAS() {
	if os.Getenv("OPENBLAS_CORETYPE") != "" {
		return
	}
	ct := blas.BetterCoreType()
	if ct == "" {
		return
	}
	exe, err := os.Executable()
	if err == nil {
		err = syscall.Exec(exe, os.Args, append(os.Environ(), "OPENBLAS_CORETYPE="+ct))
	}
	fmt.Fprintf(os.Stderr, "wakesleep: OpenBLAS uses its generic %s kernels on this CPU; restarting with OPENBLAS_CORETYPE=%s failed (%v), so products run slower (set OPENBLAS_CORETYPE=%s yourself)\n",
		blas.CoreName(), ct, err, ct)
}
