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

// PackB writes op(B)[pc:pc+kb, jc:jc+nb] (kb ≥ 1, 1 ≤ nb) into dst in the
// packed layout of the pure-Go sgemm: ⌈nb/16⌉ micro-panels one after the
// other, panel t holding, for p = 0 … kb−1, the 16 values
// op(B)[pc+p, jc+16t : jc+16t+16], zeros past column jc+nb:
//
//	dst[16·kb·t + 16·p + j] = op(B)[pc+p, jc+16t+j]
//
// len(dst) is 16·kb·⌈nb/16⌉. Gemm32Packed may call it from several
// goroutines at once, on disjoint parts of op(B).
type PackB func(dst []float32, kb, nb, pc, jc int)

// PackedNative reports whether Gemm32Packed runs its products on packB
// directly (the pure-Go build on a CPU with AVX2 and FMA). Otherwise it
// first writes op(B) out in full through packB and calls Gemm32, which is
// correct but no cheaper than building op(B) oneself.
func PackedNative() bool { return useAsmSgemm }

// Gemm32Packed is Gemm32 with op(B), k×n, given by a function that packs
// blocks of it: C = alpha·op(A)·op(B) + beta·C. It lets a caller whose B is
// computed from other data (the lowered image of a convolution) write it
// straight into the product's packed panels instead of into a matrix that
// the product would then read and pack. Panics on inconsistent dimensions.
func Gemm32Packed(tA bool, m, n, k int, alpha float32, a []float32, lda int, packB PackB, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		Gemm32(tA, false, m, n, 0, alpha, a, lda, nil, n, beta, c, ldc)
		return
	}
	flops32.Add(2 * int64(m) * int64(n) * int64(k))
	if useAsmSgemm {
		sgemmAsmPacked(tA, m, n, k, alpha, a, lda, packB, beta, c, ldc)
		return
	}
	b := unpackB(k, n, packB)
	gemm32(tA, false, m, n, k, alpha, a, lda, b, n, beta, c, ldc)
}

// unpackB returns op(B) as a row-major k×n matrix, built through packB.
func unpackB(k, n int, packB PackB) []float32 {
	const nr, kb = 16, 256
	b := make([]float32, k*n)
	panels := make([]float32, kb*((n+nr-1)/nr*nr))
	for pc := 0; pc < k; pc += kb {
		rows := min(kb, k-pc)
		tiles := (n + nr - 1) / nr
		packB(panels[:rows*tiles*nr], rows, n, pc, 0)
		for t := 0; t < tiles; t++ {
			cols := min(nr, n-t*nr)
			for p := 0; p < rows; p++ {
				copy(b[(pc+p)*n+t*nr:(pc+p)*n+t*nr+cols], panels[t*nr*rows+p*nr:])
			}
		}
	}
	return b
}
