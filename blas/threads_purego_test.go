//go:build !openblas

package blas

import (
	"runtime"
	"testing"
)

func TestThreadsPureGo(t *testing.T) {
	SetThreads(1)
	if got, want := Threads(), runtime.GOMAXPROCS(0); got != want {
		t.Errorf("pure-Go Threads() = %d, want GOMAXPROCS %d", got, want)
	}
}
