package blas_test

// Matrix-multiply benchmarks at the shape of the MNIST models' first layer on
// a batch of 512: [512, 784] · [784, 512]. Each reports GFLOP/s (2·M·N·K
// floating-point operations per call) twice: over the whole run (GFLOP/s) and
// for the fastest single call (best-GFLOP/s), which is what the hardware can
// do when the machine is shared and the average mostly measures the other
// tenants. BENCHMARKS.md has the numbers and the commands; compare runs with
// benchstat.

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/wakesleep/wakesleep/blas"
	"github.com/wakesleep/wakesleep/tensor"
)

const benchM, benchK, benchN = 512, 784, 512

// benchOperands returns A [M, K], B [K, N] with values in [−1, 1) and C [M, N].
func benchOperands() (a, b, c []float32) {
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = 2*rng.Float32() - 1
		}
		return s
	}
	return fill(benchM * benchK), fill(benchK * benchN), make([]float32, benchM*benchN)
}

// runGemm times b.N calls of f, one warm-up call first (OpenBLAS starts its
// threads, pages are touched), and reports both rates.
func runGemm(b *testing.B, f func()) {
	f()
	best := time.Duration(math.MaxInt64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		f()
		if d := time.Since(t0); d < best {
			best = d
		}
	}
	b.StopTimer()
	const flops = 2 * benchM * benchN * benchK
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(flops/best.Seconds()/1e9, "best-GFLOP/s")
}

// BenchmarkSgemm512x784x512 measures wakesleep's matmul: blas.Gemm32 (gonum or
// wakesleep's assembly kernel by default, OpenBLAS with -tags openblas) and
// tensor.MatMul on top of it, which adds the output's allocation and the shape
// checks.
func BenchmarkSgemm512x784x512(b *testing.B) {
	b.Logf("blas: %s", blas.Implementation)
	b.Run("blas.Gemm32", func(b *testing.B) {
		x, y, z := benchOperands()
		runGemm(b, func() {
			blas.Gemm32(false, false, benchM, benchN, benchK, 1, x, benchK, y, benchN, 0, z, benchN)
		})
	})
	b.Run("tensor.MatMul", func(b *testing.B) {
		x, y, _ := benchOperands()
		tx := tensor.FromFloat32(x, benchM, benchK)
		ty := tensor.FromFloat32(y, benchK, benchN)
		runGemm(b, func() { tensor.MatMul(tx, ty, false, false) })
	})
}

// BenchmarkGonumSgemm512x784x512 calls gonum's pure-Go Sgemm directly: the
// reference for the default build.
func BenchmarkGonumSgemm512x784x512(b *testing.B) {
	x, y, z := benchOperands()
	var impl gonum.Implementation
	runGemm(b, func() {
		impl.Sgemm(gblas.NoTrans, gblas.NoTrans, benchM, benchN, benchK, 1, x, benchK, y, benchN, 0, z, benchN)
	})
}
