//go:build openblas

package blas

import "testing"

func TestSetThreadsOpenBLAS(t *testing.T) {
	defer SetThreads(Threads())
	for _, n := range []int{1, 2} {
		SetThreads(n)
		if got := Threads(); got != n {
			t.Errorf("after SetThreads(%d), OpenBLAS uses %d threads", n, got)
		}
	}
	SetThreads(0)
	if got := Threads(); got != 1 {
		t.Errorf("SetThreads(0) should mean 1 thread, OpenBLAS uses %d", got)
	}
}
