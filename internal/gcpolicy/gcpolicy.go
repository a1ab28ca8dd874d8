// Package gcpolicy sets the garbage collector's pace for the programs that
// train and evaluate models (cmd/wakesleep, bench/gostep).
//
// A training step makes and drops hundreds of megabytes of tensors, almost
// all of them large pointer-free slices of floats. Go's default (GOGC=100)
// lets the heap grow to twice what is live before it collects, so the
// process's peak memory is about twice the step's working set. Marking a
// pointer-free heap costs next to nothing, so collecting more often (GOGC=25:
// at 1.25 times the live heap) takes the peak down at little CPU cost;
// BENCHMARKS.md has the measurements.
package gcpolicy

import (
	"os"
	"runtime/debug"
)

// Percent is the GOGC value Apply sets.
const Percent = 25

// Apply sets the collector's target percentage to Percent unless the user
// set GOGC (whose value Go has applied already), and reports whether it did.
func Apply() bool {
	if _, set := os.LookupEnv("GOGC"); set {
		return false
	}
	debug.SetGCPercent(Percent)
	return true
}
