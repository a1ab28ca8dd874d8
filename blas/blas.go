// Package blas is the one place wakesleep calls general matrix multiply.
//
// Two implementations sit behind the same functions, chosen at build time:
//
//	go build ./...                  pure Go: our AVX2+FMA assembly sgemm on amd64,
//	                                AVX-512F where the CPU has it (gonum's blas
//	                                on other CPUs and for float64)
//	go build -tags openblas ./...   OpenBLAS through cgo (apt-get install libopenblas-dev)
//
// Matrices are row-major. Panics on inconsistent dimensions, like any BLAS.
package blas

import "sync/atomic"

// flops32 counts the floating-point operations Gemm32 has been asked for.
var flops32 atomic.Int64

// Flops32 returns the floating-point operations, 2·m·n·k per product, of
// every Gemm32 call so far (with k > 0): what bench/gostep reports as a
// training step's matrix-product work. One atomic add per call.
func Flops32() int64 { return flops32.Load() }

// Gemm32 computes C = alpha * op(A) * op(B) + beta * C for row-major float32
// matrices, where op(X) is X or Xᵀ as tA, tB say; op(A) is m×k, op(B) k×n.
func Gemm32(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
		return
	}
	flops32.Add(2 * int64(m) * int64(n) * int64(k))
	gemm32(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Gemm64 is Gemm32 for float64.
func Gemm64(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
		return
	}
	gemm64(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
