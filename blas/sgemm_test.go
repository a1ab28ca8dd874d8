package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// gemmCase is one Gemm32 call: op(A) is m×k, op(B) k×n, and each leading
// dimension is the stored row length plus the pad.
type gemmCase struct {
	tA, tB              bool
	m, n, k             int
	padA, padB, padC    int
	alpha, beta         float32
	nanC, nanA, nanPadC bool
}

func (tc gemmCase) String() string {
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%s%s_%dx%dx%d_pad%d,%d,%d_a%g_b%g", t(tc.tA), t(tc.tB), tc.m, tc.n, tc.k,
		tc.padA, tc.padB, tc.padC, tc.alpha, tc.beta)
}

// gemmPaths runs f once per float32 GEMM implementation this build has: the
// assembly sgemm on its AVX2 kernel and on its AVX-512 one (each where the
// CPU supports it) and the fallback.
func gemmPaths(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved, savedZ := useAsmSgemm, useAVX512
	defer func() { useAsmSgemm, useAVX512 = saved, savedZ }()
	if saved {
		t.Run("asm-avx2", func(t *testing.T) { useAsmSgemm, useAVX512 = true, false; f(t) })
		t.Run("asm-avx512", func(t *testing.T) {
			if !savedZ {
				t.Skip("no AVX-512F on this CPU")
			}
			useAsmSgemm, useAVX512 = true, true
			f(t)
		})
	}
	t.Run("fallback", func(t *testing.T) { useAsmSgemm, useAVX512 = false, false; f(t) })
}

// checkGemm32 runs Gemm32 on random operands for tc and compares with a naive
// triple loop accumulating in float64. It also checks that the padding
// between rows of C is left alone.
func checkGemm32(t *testing.T, rng *rand.Rand, tc gemmCase) {
	t.Helper()
	ar, ac := tc.m, tc.k
	if tc.tA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.tB {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc := ac+tc.padA, bc+tc.padB, tc.n+tc.padC
	rnd := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = 2*rng.Float32() - 1
		}
		return s
	}
	// Full rows even for the last one, so a kernel overrunning a row shows.
	a, b, c := rnd(ar*lda), rnd(br*ldb), rnd(tc.m*ldc)
	sentinel := float32(12345)
	for i := 0; i < tc.m; i++ {
		for j := tc.n; j < ldc; j++ {
			c[i*ldc+j] = sentinel
			if tc.nanPadC {
				c[i*ldc+j] = float32(math.NaN())
			}
		}
		if tc.nanC {
			for j := 0; j < tc.n; j++ {
				c[i*ldc+j] = float32(math.NaN())
			}
		}
	}
	if tc.nanA {
		for i := range a {
			a[i] = float32(math.NaN())
		}
	}
	// op(A) as rows [m][k] and op(B) as columns [n][k], in float64.
	opA, opB := make([]float64, tc.m*tc.k), make([]float64, tc.n*tc.k)
	for i := 0; i < tc.m; i++ {
		for p := 0; p < tc.k; p++ {
			if tc.tA {
				opA[i*tc.k+p] = float64(a[p*lda+i])
			} else {
				opA[i*tc.k+p] = float64(a[i*lda+p])
			}
		}
	}
	for j := 0; j < tc.n; j++ {
		for p := 0; p < tc.k; p++ {
			if tc.tB {
				opB[j*tc.k+p] = float64(b[j*ldb+p])
			} else {
				opB[j*tc.k+p] = float64(b[p*ldb+j])
			}
		}
	}
	want := make([]float64, tc.m*tc.n)
	bound := make([]float64, tc.m*tc.n) // Σ|terms|, for the error bound
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			var s, abs float64
			if tc.alpha != 0 {
				x, y := opA[i*tc.k:(i+1)*tc.k], opB[j*tc.k:(j+1)*tc.k]
				for p, v := range x {
					s += v * y[p]
					abs += math.Abs(v * y[p])
				}
			}
			s *= float64(tc.alpha)
			abs *= math.Abs(float64(tc.alpha))
			if tc.beta != 0 {
				s += float64(tc.beta) * float64(c[i*ldc+j])
				abs += math.Abs(float64(tc.beta) * float64(c[i*ldc+j]))
			}
			want[i*tc.n+j], bound[i*tc.n+j] = s, abs
		}
	}

	Gemm32(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)

	// Worst-case float32 rounding of a k-term dot product plus the alpha and
	// beta steps: (k+3)·u·Σ|terms|, u = 2⁻²⁴.
	tol := float64(tc.k+3) * 0x1p-24
	bad := 0
	for i := 0; i < tc.m; i++ {
		for j := 0; j < ldc; j++ {
			got := float64(c[i*ldc+j])
			if j >= tc.n {
				if tc.nanPadC && !math.IsNaN(got) || !tc.nanPadC && got != float64(sentinel) {
					t.Fatalf("%v: C[%d, %d] in the padding changed to %v", tc, i, j, got)
				}
				continue
			}
			w := want[i*tc.n+j]
			if math.IsNaN(got) || math.Abs(got-w) > tol*bound[i*tc.n+j]+1e-30 {
				if bad++; bad <= 5 {
					t.Errorf("%v: C[%d, %d] = %v, want %v (tolerance %.3g)", tc, i, j, got, w, tol*bound[i*tc.n+j])
				}
			}
		}
	}
	if bad > 5 {
		t.Errorf("%v: %d elements wrong in all", tc, bad)
	}
}

func TestGemm32Shapes(t *testing.T) {
	shapes := [][3]int{ // m, n, k
		{1, 1, 1}, {1, 1, 7}, {2, 3, 1}, {7, 7, 7}, {13, 13, 13}, {31, 31, 31}, {97, 97, 97},
		{7, 13, 31}, {31, 7, 13}, {13, 97, 7}, {97, 31, 1},
		{6, 16, 4}, {12, 32, 8}, {6, 16, 257}, {5, 15, 3}, {7, 17, 5},
		{1, 200, 50}, {200, 1, 50}, {1000, 3, 5}, {3, 1000, 5}, {2, 2, 1000}, {1, 1, 600},
		{150, 40, 30},   // m crosses one mc block
		{7, 2100, 5},    // n crosses one nc block
		{20, 30, 600},   // k crosses two kc blocks
		{200, 300, 100}, // parallel, split over n
		{500, 20, 100},  // parallel, split over m
		{300, 33, 70},   // parallel over m, ragged n
	}
	rng := rand.New(rand.NewPCG(1, 1))
	gemmPaths(t, func(t *testing.T) {
		for _, s := range shapes {
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					checkGemm32(t, rng, gemmCase{tA: tA, tB: tB, m: s[0], n: s[1], k: s[2], alpha: 1, beta: 0})
					checkGemm32(t, rng, gemmCase{tA: tA, tB: tB, m: s[0], n: s[1], k: s[2],
						padA: 3, padB: 5, padC: 2, alpha: -0.75, beta: 1.5})
				}
			}
		}
	})
}

func TestGemm32AlphaBeta(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	gemmPaths(t, func(t *testing.T) {
		for _, s := range [][3]int{{1, 1, 1}, {13, 31, 7}, {97, 64, 40}, {130, 130, 130}} {
			for _, alpha := range []float32{0, 1, -1, 0.5, 3} {
				for _, beta := range []float32{0, 1, -1, 0.25} {
					checkGemm32(t, rng, gemmCase{m: s[0], n: s[1], k: s[2], padC: 1, alpha: alpha, beta: beta})
					checkGemm32(t, rng, gemmCase{tA: true, tB: true, m: s[0], n: s[1], k: s[2], padA: 2, alpha: alpha, beta: beta})
				}
			}
		}
	})
}

// TestGemm32Workers runs the assembly path's parallel splits, on each
// kernel, with one worker, with two, and with more than this machine may
// have cores.
func TestGemm32Workers(t *testing.T) {
	if !useAsmSgemm {
		t.Skip("no assembly sgemm here")
	}
	rng := rand.New(rand.NewPCG(5, 5))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	gemmPaths(t, func(t *testing.T) {
		if !useAsmSgemm {
			t.Skip("the fallback has no parallel splits of its own")
		}
		for _, procs := range []int{1, 2, 3} {
			runtime.GOMAXPROCS(procs)
			for _, s := range [][3]int{{200, 300, 100}, {97, 190, 301}, {10, 3000, 200}, {40, 1000, 300}, {600, 17, 500}} {
				checkGemm32(t, rng, gemmCase{m: s[0], n: s[1], k: s[2], padC: 1, alpha: 1, beta: 0, nanC: true})
				checkGemm32(t, rng, gemmCase{tA: true, tB: true, m: s[0], n: s[1], k: s[2], padA: 1, padB: 2, alpha: 0.5, beta: -1})
			}
		}
	})
}

// TestGemm32Edges sweeps m over 1..30 and n over 1..40, every way a product
// can end inside a 6-row tile, a 12-row pair of them (the AVX-512 kernel's
// step) and a 16-column panel, with k from one step to three kc blocks and
// the transposes, alpha and beta drawn for each shape.
func TestGemm32Edges(t *testing.T) {
	ks := []int{1, 7, 257, 513}
	gemmPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(6, 6))
		for m := 1; m <= 30; m++ {
			for n := 1; n <= 40; n++ {
				tc := gemmCase{tA: rng.IntN(2) == 1, tB: rng.IntN(2) == 1, m: m, n: n, k: ks[rng.IntN(len(ks))]}
				switch rng.IntN(3) {
				case 0: // the first kc block stores, NaN in C must not leak
					tc.alpha, tc.nanC = 1, true
				case 1:
					tc.alpha, tc.beta, tc.padA, tc.padB, tc.padC = -0.75, 1.5, 3, 5, 2
				default:
					tc.alpha, tc.padC = 2, 1
				}
				checkGemm32(t, rng, tc)
			}
		}
	})
}

// TestGemm32BetaZeroNaN checks the BLAS rule that beta = 0 overwrites C
// without reading it, and that alpha = 0 does not read A.
func TestGemm32BetaZeroNaN(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	gemmPaths(t, func(t *testing.T) {
		// gonum's Sgemm (v0.17) multiplies A by alpha = 0 instead of
		// skipping it as reference BLAS and OpenBLAS do, so 0·NaN = NaN
		// reaches C; only our kernel and OpenBLAS promise the rule.
		skipAlphaZero := !useAsmSgemm && !strings.HasPrefix(Implementation, "OpenBLAS")
		for _, s := range [][3]int{{1, 1, 1}, {7, 13, 31}, {97, 97, 97}, {200, 300, 100}} {
			for _, tA := range []bool{false, true} {
				checkGemm32(t, rng, gemmCase{tA: tA, m: s[0], n: s[1], k: s[2], padC: 3, alpha: 1, beta: 0, nanC: true, nanPadC: true})
				checkGemm32(t, rng, gemmCase{tA: tA, tB: true, m: s[0], n: s[1], k: s[2], alpha: 2, beta: 0, nanC: true})
				if skipAlphaZero {
					continue
				}
				checkGemm32(t, rng, gemmCase{tA: tA, m: s[0], n: s[1], k: s[2], alpha: 0, beta: 0.5, nanA: true})
				checkGemm32(t, rng, gemmCase{tA: tA, m: s[0], n: s[1], k: s[2], alpha: 0, beta: 0, nanA: true, nanC: true})
			}
		}
	})
}

// TestGemm32Random is a property test: random shapes, transposes, leading
// dimensions, alpha and beta from a seeded generator.
func TestGemm32Random(t *testing.T) {
	gemmPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(4, 4))
		scalars := []float32{0, 1, -1, 0.5, 2}
		dim := func() int {
			if rng.IntN(4) == 0 {
				return 1 + rng.IntN(8)
			}
			return 1 + rng.IntN(120)
		}
		for range 300 {
			tc := gemmCase{
				tA: rng.IntN(2) == 1, tB: rng.IntN(2) == 1,
				m: dim(), n: dim(), k: dim(),
				padA: rng.IntN(3) * rng.IntN(9), padB: rng.IntN(3) * rng.IntN(9), padC: rng.IntN(3) * rng.IntN(9),
				alpha: 2*rng.Float32() - 1, beta: 2*rng.Float32() - 1,
			}
			if rng.IntN(3) == 0 {
				tc.alpha = scalars[rng.IntN(len(scalars))]
			}
			if rng.IntN(3) == 0 {
				tc.beta = scalars[rng.IntN(len(scalars))]
			}
			tc.nanC = tc.beta == 0 && rng.IntN(2) == 0
			checkGemm32(t, rng, tc)
		}
	})
}

// TestGemm32ZeroSizes covers the cases Gemm32 answers before calling a kernel.
func TestGemm32ZeroSizes(t *testing.T) {
	gemmPaths(t, func(t *testing.T) {
		c := []float32{1, 2, 3, 4, 5, 6}
		Gemm32(false, false, 2, 3, 0, 1, nil, 1, nil, 3, 0.5, c, 3)
		for i, v := range []float32{0.5, 1, 1.5, 2, 2.5, 3} {
			if c[i] != v {
				t.Fatalf("k = 0: C = %v, want beta·C", c)
			}
		}
		Gemm32(false, false, 0, 3, 2, 1, nil, 2, []float32{1, 2, 3, 4, 5, 6}, 3, 0, nil, 3)
	})
}

func TestGemm32Panics(t *testing.T) {
	six, three := make([]float32, 6), make([]float32, 3)
	for name, call := range map[string]func(){
		"short C":  func() { Gemm32(false, false, 2, 2, 3, 1, six, 3, six, 2, 0, three, 2) },
		"short A":  func() { Gemm32(false, false, 2, 2, 3, 1, three, 3, six, 2, 0, six, 2) },
		"short Bᵀ": func() { Gemm32(false, true, 2, 2, 3, 1, six, 3, three, 3, 0, six, 2) },
		"lda < k":  func() { Gemm32(false, false, 2, 2, 3, 1, six, 2, six, 2, 0, six, 2) },
		"ldc < n":  func() { Gemm32(false, false, 2, 2, 3, 1, six, 3, six, 2, 0, six, 1) },
		"ldb < k":  func() { Gemm32(false, true, 2, 2, 3, 1, six, 3, six, 2, 0, six, 2) },
		"ldaᵀ < m": func() { Gemm32(true, false, 3, 2, 2, 1, six, 2, six, 2, 0, six, 2) },
	} {
		gemmPaths(t, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Gemm32 did not panic", name)
				}
			}()
			call()
		})
	}
}
