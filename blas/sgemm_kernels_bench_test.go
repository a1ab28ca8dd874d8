//go:build amd64 && !openblas

package blas

// BenchmarkSgemmKernels compares the assembly sgemm's two micro-kernels,
// AVX2+FMA (sgemmKernel6x16 alone) and AVX-512F (sgemmKernel12x16Z for pairs
// of tiles), call by call on the same operands, so both see the same load
// from other processes. Run it on one core:
//
//	GOMAXPROCS=1 go test ./blas -run '^$' -bench SgemmKernels -benchtime 40x -count 3
//
// It reports the median over back-to-back pairs of t(AVX2)/t(AVX-512), the
// AVX-512 kernel's speed-up (median-speedup), and each kernel's fastest call
// (avx2-best-GFLOP/s, avx512-best-GFLOP/s).

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func BenchmarkSgemmKernels(b *testing.B) {
	if !useAVX512 {
		b.Skip("no AVX-512F on this CPU")
	}
	for _, s := range []struct {
		tA, tB  bool
		m, n, k int
	}{
		{false, false, 512, 512, 784}, // MNIST first layer, batch 512: x·W
		{false, true, 512, 784, 512},  // its input gradient: g·Wᵀ
		{true, false, 784, 512, 512},  // its weight gradient: xᵀ·g
		{false, false, 2048, 2048, 2048},
	} {
		name := fmt.Sprintf("%s%s_%dx%dx%d", map[bool]string{false: "N", true: "T"}[s.tA],
			map[bool]string{false: "N", true: "T"}[s.tB], s.m, s.n, s.k)
		b.Run(name, func(b *testing.B) {
			lda, ldb := s.k, s.n
			if s.tA {
				lda = s.m
			}
			if s.tB {
				ldb = s.k
			}
			x, y, z := sgemmOperands(s.m, s.n, s.k)
			call := func(avx512 bool) time.Duration {
				useAVX512 = avx512
				t0 := time.Now()
				Gemm32(s.tA, s.tB, s.m, s.n, s.k, 1, x, lda, y, ldb, 0, z, s.n)
				return time.Since(t0)
			}
			defer func() { useAVX512 = true }()
			call(false)
			call(true)
			best2, best512 := time.Duration(1<<63-1), time.Duration(1<<63-1)
			speedups := make([]float64, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				// Alternate which goes first, so neither always follows the other.
				var d2, d512 time.Duration
				if i%2 == 0 {
					d2, d512 = call(false), call(true)
				} else {
					d512, d2 = call(true), call(false)
				}
				best2, best512 = min(best2, d2), min(best512, d512)
				speedups = append(speedups, float64(d2)/float64(d512))
			}
			b.StopTimer()
			slices.Sort(speedups)
			flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
			b.ReportMetric(speedups[len(speedups)/2], "median-speedup")
			b.ReportMetric(flops/best2.Seconds()/1e9, "avx2-best-GFLOP/s")
			b.ReportMetric(flops/best512.Seconds()/1e9, "avx512-best-GFLOP/s")
		})
	}
}

// BenchmarkSgemmKernelsInCache runs each micro-kernel alone on packed
// panels that stay in cache (24 A micro-panels of kc = 256, 16 B
// micro-panels, C 144×256), what the kernels do without packing and edges:
//
//	GOMAXPROCS=1 go test ./blas -run '^$' -bench SgemmKernelsInCache -benchtime 200x
func BenchmarkSgemmKernelsInCache(b *testing.B) {
	const kb, tiles, panels, ldc = 256, 24, 16, 256
	a := alignedFloat32s(tiles * mr * kb)
	bp := alignedFloat32s(panels * nr * kb)
	c := alignedFloat32s(tiles * mr * ldc)
	for i := range a {
		a[i] = 1e-3
	}
	for i := range bp {
		bp[i] = 1e-3
	}
	for _, avx512 := range []bool{false, true} {
		name := "avx2"
		if avx512 {
			if !useAVX512 {
				continue
			}
			name = "avx512"
		}
		b.Run(name, func(b *testing.B) {
			sweep := func() {
				for jr := range panels {
					if avx512 {
						sgemmKernel12x16Z(kb, tiles/2, &a[0], &bp[jr*nr*kb], &c[jr*nr], ldc, true, 1)
					} else {
						sgemmKernel6x16(kb, tiles, &a[0], &bp[jr*nr*kb], &c[jr*nr], ldc, true, 1)
					}
				}
			}
			timeGemm(b, tiles*mr, panels*nr, kb, sweep)
		})
	}
}
