//go:build openblas

package blas_test

import (
	"sort"
	"testing"
	"time"

	"github.com/wakesleep/wakesleep/blas"
	"github.com/wakesleep/wakesleep/blas/internal/rawblas"
)

// BenchmarkRawCblasSgemm512x784x512 calls cblas_sgemm through a bare cgo
// wrapper: the reference for the OpenBLAS build. blas.Gemm32 should reach at
// least 90% of it.
func BenchmarkRawCblasSgemm512x784x512(b *testing.B) {
	x, y, z := benchOperands()
	runGemm(b, func() { rawblas.Sgemm(benchM, benchN, benchK, x, y, z) })
}

// BenchmarkGemm32VsRawCblas512x784x512 alternates blas.Gemm32 and the raw
// cblas_sgemm call, so that both see the same load from other tenants of the
// machine, and reports Gemm32's speed as a fraction of the raw call's: over
// all calls (ratio) and the median over back-to-back pairs (median-ratio),
// which is robust to a busy neighbour slowing down a few calls.
func BenchmarkGemm32VsRawCblas512x784x512(b *testing.B) {
	x, y, z := benchOperands()
	ours := func() { blas.Gemm32(false, false, benchM, benchN, benchK, 1, x, benchK, y, benchN, 0, z, benchN) }
	raw := func() { rawblas.Sgemm(benchM, benchN, benchK, x, y, z) }
	ours()
	raw()
	var sumOurs, sumRaw time.Duration
	ratios := make([]float64, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Alternate which goes first, so neither always follows the other.
		first, second := ours, raw
		if i%2 == 1 {
			first, second = raw, ours
		}
		t0 := time.Now()
		first()
		t1 := time.Now()
		second()
		t2 := time.Now()
		dOurs, dRaw := t1.Sub(t0), t2.Sub(t1)
		if i%2 == 1 {
			dOurs, dRaw = dRaw, dOurs
		}
		sumOurs += dOurs
		sumRaw += dRaw
		ratios = append(ratios, float64(dRaw)/float64(dOurs))
	}
	b.StopTimer()
	sort.Float64s(ratios)
	b.ReportMetric(float64(sumRaw)/float64(sumOurs), "ratio")
	b.ReportMetric(ratios[len(ratios)/2], "median-ratio")
}
