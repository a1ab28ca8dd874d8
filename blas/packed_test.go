package blas

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// packFrom returns a PackB reading op(B) from b as Gemm32 would, and
// checking that every call stays inside op(B) and fills dst exactly.
func packFrom(t *testing.T, tB bool, k, n int, b []float32, ldb int) PackB {
	return func(dst []float32, kb, nb, pc, jc int) {
		if kb < 1 || nb < 1 || pc < 0 || jc < 0 || pc+kb > k || jc+nb > n || len(dst) != 16*kb*((nb+15)/16) {
			t.Errorf("packB(len %d, kb %d, nb %d, pc %d, jc %d) outside op(B) %d×%d", len(dst), kb, nb, pc, jc, k, n)
			return
		}
		for i := range dst {
			tile, p, j := i/(16*kb), i%(16*kb)/16, i%16
			col := 16*tile + j
			switch {
			case col >= nb:
				dst[i] = 0
			case tB:
				dst[i] = b[(jc+col)*ldb+pc+p]
			default:
				dst[i] = b[(pc+p)*ldb+jc+col]
			}
		}
	}
}

// TestGemm32PackedMatchesGemm32 checks that Gemm32Packed, given a packer
// that reads a stored B, gives exactly Gemm32's result on the assembly
// path (the same panels reach the same kernel), for shapes that cross the
// tile, panel and block edges and take each parallel split. Where the
// order of the sums may differ (the fallback, which sees a stored B, not
// Bᵀ), it checks the float32 rounding bound instead.
func TestGemm32PackedMatchesGemm32(t *testing.T) {
	shapes := [][3]int{ // m, n, k
		{1, 1, 1}, {2, 3, 1}, {5, 15, 3}, {7, 17, 5}, {6, 16, 257}, {13, 97, 7}, {31, 7, 13},
		{1, 200, 50}, {200, 1, 50}, {20, 30, 600}, {7, 2100, 5},
		{200, 300, 100}, {500, 20, 100}, {10, 3000, 200}, {64, 512, 512},
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	gemmPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 7))
		for _, procs := range []int{1, 3} {
			runtime.GOMAXPROCS(procs)
			for i, s := range shapes {
				m, n, k := s[0], s[1], s[2]
				tA, tB := i%2 == 1, i%3 == 1
				alpha, beta := float32(1), float32(0)
				if i%4 == 3 {
					alpha, beta = -0.5, 1.25
				}
				lda, ldb, ldc := k+1, n+2, n+3
				ar, br := m, k
				if tA {
					lda, ar = m+1, k
				}
				if tB {
					ldb, br = k+2, n
				}
				a, b, c := make([]float32, ar*lda), make([]float32, br*ldb), make([]float32, m*ldc)
				for _, s := range [][]float32{a, b, c} {
					for j := range s {
						s[j] = 2*rng.Float32() - 1
					}
				}
				want := append([]float32(nil), c...)
				got := append([]float32(nil), c...)
				if beta == 0 {
					for j := range got {
						got[j] = float32(math.NaN()) // must not be read
					}
				}
				Gemm32(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc)
				Gemm32Packed(tA, m, n, k, alpha, a, lda, packFrom(t, tB, k, n, b, ldb), beta, got, ldc)
				for j := range want {
					if r, col := j/ldc, j%ldc; col >= n {
						if math.Float32bits(got[j]) != math.Float32bits(c[j]) && beta != 0 {
							t.Fatalf("%v procs %d: C padding [%d, %d] changed", s, procs, r, col)
						}
						continue
					}
					exact := useAsmSgemm || !tB
					// 2·(k+3)·u·(|alpha|·Σ|a·b| + |beta·c|), Σ|a·b| ≤ k (|a|, |b| < 1).
					tol := 2 * float64(k+3) * 0x1p-24 * (math.Abs(float64(alpha))*float64(k) + math.Abs(float64(beta)))
					if exact && got[j] != want[j] || math.Abs(float64(got[j]-want[j])) > tol {
						t.Fatalf("%v tA %v tB %v procs %d: C[%d] = %v, Gemm32 gives %v", s, tA, tB, procs, j, got[j], want[j])
					}
				}
			}
		}
	})
}

func TestGemm32PackedZeroK(t *testing.T) {
	c := []float32{1, 2, 3, 4}
	Gemm32Packed(false, 2, 2, 0, 1, nil, 1, func([]float32, int, int, int, int) { t.Error("packB called for k = 0") }, 0.5, c, 2)
	for i, v := range []float32{0.5, 1, 1.5, 2} {
		if c[i] != v {
			t.Fatalf("k = 0: C = %v, want beta·C", c)
		}
	}
}
