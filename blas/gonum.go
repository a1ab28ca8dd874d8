//go:build !openblas

package blas

import (
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Implementation names the BLAS this binary was built with: gonum, with
// float32 products on wakesleep's own assembly kernel where the CPU has
// AVX2 and FMA, its AVX-512F variant where it has that too (see
// sgemm_amd64.go).
var Implementation = implementationName()

func implementationName() string {
	if useAsmSgemm {
		return "pure Go (" + asmSgemmName() + "; gonum dgemm)"
	}
	return "gonum (pure Go)"
}

var impl gonum.Implementation

// SetThreads does nothing in the pure-Go build: its products split over
// GOMAXPROCS goroutines, which runtime.GOMAXPROCS sets. It exists so that a
// program sets the thread count the same way for either build.
func SetThreads(n int) {}

// CoreName is "" in the pure-Go build, which has no OpenBLAS core to choose.
func CoreName() string { return "" }

// Threads reports how many goroutines a product may use: GOMAXPROCS.
func Threads() int { return runtime.GOMAXPROCS(0) }

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

func gemm32(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if useAsmSgemm {
		sgemmAsm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	impl.Sgemm(trans(tA), trans(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func gemm64(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	impl.Dgemm(trans(tA), trans(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
