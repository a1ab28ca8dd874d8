package blas

import "testing"

// TestFlops32 checks that Gemm32 counts 2·m·n·k per product and nothing for
// an empty one (k = 0 or m = 0).
func TestFlops32(t *testing.T) {
	a, b, c := make([]float32, 3*5), make([]float32, 5*7), make([]float32, 3*7)
	before := Flops32()
	Gemm32(false, false, 3, 7, 5, 1, a, 5, b, 7, 0, c, 7)
	Gemm32(true, false, 5, 7, 3, 1, a, 5, b, 7, 0, make([]float32, 5*7), 7) // op(A) = Aᵀ, 5×3
	Gemm32(false, false, 3, 7, 0, 1, a, 5, b, 7, 0, c, 7)
	Gemm32(false, false, 0, 7, 5, 1, a, 5, b, 7, 0, c, 7)
	if got, want := Flops32()-before, int64(2*3*7*5+2*5*7*3); got != want {
		t.Errorf("Flops32 counted %d, want %d", got, want)
	}
}
