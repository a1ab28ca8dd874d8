package blas

// Benchmarks for the float32 GEMM at the MNIST models' first-layer shape on a
// batch of 512, [512, 784]·[784, 512], next to gonum's Sgemm on the same
// operands. Each reports GFLOP/s (2·M·N·K operations per call) over the run
// and, as best-GFLOP/s, for the fastest call: on the shared 2-core machine
// the average mostly measures the other tenants. Run with -count 3 or more:
//
//	go test ./blas -run '^$' -bench 'Gemm32_512x784x512' -count 3
//	go test ./blas -run '^$' -bench 'Gemm32_512x784x512' -count 3 -tags openblas

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// sgemmOperands returns m·k, k·n and m·n floats in [−1, 1).
func sgemmOperands(m, n, k int) (a, b, c []float32) {
	rng := rand.New(rand.NewPCG(7, 7))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = 2*rng.Float32() - 1
		}
		return s
	}
	return fill(m * k), fill(k * n), fill(m * n)
}

// timeGemm times b.N calls of f after one warm-up call and reports both
// rates for an m×n×k product.
func timeGemm(b *testing.B, m, n, k int, f func()) {
	f()
	best := time.Duration(1<<63 - 1)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		f()
		best = min(best, time.Since(t0))
	}
	b.StopTimer()
	flops := 2 * float64(m) * float64(n) * float64(k)
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(flops/best.Seconds()/1e9, "best-GFLOP/s")
}

// benchGemm32 times Gemm32(tA, tB) on op(A) [m, k] · op(B) [k, n] with
// beta = 0, as tensor.MatMul calls it.
func benchGemm32(b *testing.B, tA, tB bool, m, n, k int) {
	x, y, z := sgemmOperands(m, n, k)
	lda, ldb := k, n
	if tA {
		lda = m
	}
	if tB {
		ldb = k
	}
	timeGemm(b, m, n, k, func() { Gemm32(tA, tB, m, n, k, 1, x, lda, y, ldb, 0, z, n) })
}

// BenchmarkGemm32_512x784x512: "ours" is blas.Gemm32 as built (the assembly
// kernel where the CPU has AVX2 and FMA, OpenBLAS with -tags openblas), in
// the three transpose cases training uses, and on one core; "gonum" is
// gonum's Sgemm, the pure-Go build's float32 GEMM before the kernel.
func BenchmarkGemm32_512x784x512(b *testing.B) {
	const m, k, n = 512, 784, 512
	b.Logf("blas: %s, GOMAXPROCS %d", Implementation, runtime.GOMAXPROCS(0))
	b.Run("ours/NN", func(b *testing.B) { benchGemm32(b, false, false, m, n, k) })
	b.Run("ours/NT", func(b *testing.B) { benchGemm32(b, false, true, m, n, k) })
	b.Run("ours/TN", func(b *testing.B) { benchGemm32(b, true, false, m, n, k) })
	b.Run("ours/NN-1core", func(b *testing.B) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		benchGemm32(b, false, false, m, n, k)
	})
	b.Run("gonum/NN", func(b *testing.B) {
		x, y, z := sgemmOperands(m, n, k)
		var impl gonum.Implementation
		timeGemm(b, m, n, k, func() {
			impl.Sgemm(gblas.NoTrans, gblas.NoTrans, m, n, k, 1, x, k, y, n, 0, z, n)
		})
	})
}

// BenchmarkGemm32Cube times small to medium square products, on every core
// and on one: where the two meet is parallelMinWork (on an idle machine).
func BenchmarkGemm32Cube(b *testing.B) {
	for _, s := range []int{8, 16, 32, 64, 96, 128, 192, 256} {
		b.Run(strconv.Itoa(s), func(b *testing.B) { benchGemm32(b, false, false, s, s, s) })
		b.Run(strconv.Itoa(s)+"-1core", func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			benchGemm32(b, false, false, s, s, s)
		})
	}
}
