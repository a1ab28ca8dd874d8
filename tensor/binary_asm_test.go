package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// specials32 are values the assembly must treat as the Go loops do.
var specials32 = []float32{0, float32(math.Copysign(0, -1)), 1, -1, 1e-45, -1e-45, 1e-38, math.MaxFloat32,
	-math.MaxFloat32, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}

func randRow32(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		if r.IntN(8) == 0 {
			v[i] = specials32[r.IntN(len(specials32))]
		} else {
			v[i] = float32(r.NormFloat64() * math.Exp2(float64(r.IntN(40)-20)))
		}
	}
	return v
}

// sameBits32 reports whether x and y are the same float32, any NaN matching
// any NaN (the payload of a NaN result depends on operand order).
func sameBits32(x, y float32) bool {
	if x != x || y != y {
		return x != x && y != y
	}
	return math.Float32bits(x) == math.Float32bits(y)
}

// TestBinRowAsmMatchesGo checks the assembly rows against the Go loops bit
// for bit, for every op and stride pattern and lengths around the unrolled
// blocks (8 and 32 floats), at offsets that leave the rows unaligned.
func TestBinRowAsmMatchesGo(t *testing.T) {
	if !binRowAsm(OpAdd, make([]float32, 1), make([]float32, 1), make([]float32, 1), 1, 1) {
		t.Skip("no assembly kernels on this machine")
	}
	r := rand.New(rand.NewPCG(1, 2))
	strides := [][2]int{{1, 1}, {1, 0}, {0, 1}}
	for _, op := range []BinaryOp{OpAdd, OpSub, OpMul, OpDiv} {
		for _, st := range strides {
			for _, n := range []int{1, 3, 7, 8, 9, 31, 32, 33, 40, 71, 100, 257} {
				off := r.IntN(3)
				a, b := randRow32(r, n+off)[off:], randRow32(r, n+off)[off:]
				want, got := make([]float32, n), make([]float32, n+1)
				got[n] = 42 // the kernels write no further than n
				binRow(op, want, a, b, st[0], st[1])
				if !binRowAsm(op, got[:n], a, b, st[0], st[1]) {
					t.Fatalf("op %d strides %v: no assembly", op, st)
				}
				for i := range want {
					if !sameBits32(got[i], want[i]) {
						t.Fatalf("op %d strides %v n %d: [%d] = %g, want %g", op, st, n, i, got[i], want[i])
					}
				}
				if got[n] != 42 {
					t.Fatalf("op %d strides %v n %d: wrote past the row", op, st, n)
				}
			}
		}
	}
	for _, n := range []int{1, 5, 8, 33, 100} {
		a := randRow32(r, n)
		want, got := make([]float32, n), make([]float32, n)
		for i, v := range a {
			want[i] = 0.3*v + 1.5
		}
		affineAsm(got, a, 0.3, 1.5)
		for i := range want {
			if !sameBits32(got[i], want[i]) {
				t.Fatalf("affine n %d: [%d] = %g, want %g", n, i, got[i], want[i])
			}
		}
	}
}

// sumAsm must sum to float64 accuracy (its partial sums round differently
// from a running sum, by a few float64 ulps of the magnitudes summed).
func TestSumAsm(t *testing.T) {
	if _, ok := sumAsm(make([]float32, 1)); !ok {
		t.Skip("no assembly kernels on this machine")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 3, 15, 16, 17, 31, 33, 64, 100, 256, 1000} {
		x := make([]float32, n)
		var want, mag float64
		for i := range x {
			x[i] = float32(r.NormFloat64())
			want += float64(x[i]) // the running sum of sumRow
			mag += math.Abs(float64(x[i]))
		}
		got, _ := sumAsm(x)
		if math.Abs(got-want) > 1e-15*mag {
			t.Errorf("n %d: sum %.17g, want %.17g", n, got, want)
		}
	}
	inf := []float32{1, float32(math.Inf(1)), 2}
	if got, _ := sumAsm(inf); !math.IsInf(got, 1) {
		t.Errorf("sum with +Inf = %g", got)
	}
	nan := make([]float32, 20)
	nan[17] = float32(math.NaN())
	if got, _ := sumAsm(nan); !math.IsNaN(got) {
		t.Errorf("sum with NaN = %g", got)
	}
}

func TestFillAsm(t *testing.T) {
	for _, n := range []int{1, 7, 8, 9, 31, 32, 33, 77} {
		d := make([]float32, n+1)
		if !fillAsm(d[:n], -2.5) {
			t.Skip("no assembly kernels on this machine")
		}
		for i, v := range d {
			if want := map[bool]float32{true: -2.5, false: 0}[i < n]; v != want {
				t.Fatalf("n %d: [%d] = %g, want %g", n, i, v, want)
			}
		}
	}
}

// Square, ReLU and Step in assembly against the Go loops, bit for bit.
func TestSimpleUnaryAsm(t *testing.T) {
	if !simpleUnaryAsm(OpSquare, make([]float32, 1), make([]float32, 1)) {
		t.Skip("no assembly kernels on this machine")
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, op := range []UnaryOp{OpSquare, OpReLU, OpStep} {
		for _, n := range []int{1, 7, 8, 9, 33, 100} {
			a := randRow32(r, n)
			want, got := make([]float32, n), make([]float32, n)
			unaryGeneric(op, want, a)
			simpleUnaryAsm(op, got, a)
			for i := range want {
				if !sameBits32(got[i], want[i]) {
					t.Fatalf("op %d n %d: f(%g) = %g, want %g", op, n, a[i], got[i], want[i])
				}
			}
		}
	}
}

// The LeakyReLU kernels in assembly against the plain Go selection.
func TestLeakyAsm(t *testing.T) {
	if !leakyAsm(make([]float32, 1), make([]float32, 1), make([]float32, 1), 0.2) {
		t.Skip("no assembly kernels on this machine")
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, s := range []float32{0, 0.2} {
		for _, n := range []int{1, 7, 8, 9, 33, 100} {
			g, y := randRow32(r, n), randRow32(r, n)
			got, act := make([]float32, n), make([]float32, n)
			leakyGrad32(got, g, y, s)
			leakyReLU32(act, y, s)
			for i := range g {
				want, wantAct := s*g[i], s*y[i]
				if y[i] > 0 {
					want, wantAct = g[i], y[i]
				}
				if !sameBits32(got[i], want) || !sameBits32(act[i], wantAct) {
					t.Fatalf("s %g n %d: g %g y %g: grad %g, want %g; act %g, want %g",
						s, n, g[i], y[i], got[i], want, act[i], wantAct)
				}
			}
		}
	}
}

// normGradRowAsm is NormalizeGrad's four per-channel row passes in one, bit
// for bit, at lengths around its 16- and 8-float blocks and unaligned.
func TestNormGradRowAsmMatchesRows(t *testing.T) {
	if !normGradRowAsm(make([]float32, 1), make([]float32, 1), make([]float32, 1), 1, 1, 1) {
		t.Skip("no assembly kernels on this machine")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 24, 33, 64, 100, 257} {
		off := r.IntN(3)
		g, y := randRow32(r, n+off)[off:], randRow32(r, n+off)[off:]
		b, a, s := float32(r.NormFloat64()), float32(r.NormFloat64()), float32(r.Float64()+0.5)
		want, got := make([]float32, n), make([]float32, n+1)
		got[n] = 42
		binRow(OpMul, want, y, []float32{b}, 1, 0)
		binRow(OpSub, want, g, want, 1, 1)
		binRow(OpSub, want, want, []float32{a}, 1, 0)
		binRow(OpMul, want, want, []float32{s}, 1, 0)
		normGradRowAsm(got[:n], g, y, b, a, s)
		for i := range want {
			if !sameBits32(got[i], want[i]) {
				t.Fatalf("n %d: [%d] = %g, want %g", n, i, got[i], want[i])
			}
		}
		if got[n] != 42 {
			t.Fatalf("n %d: wrote past the row", n)
		}
	}
}

// sumDotAsm's Σ x is sumAsm's to the bit; its Σ x·y adds the (exact)
// products in the same order: sixteen partial sums folded pairwise, then
// the tail. Checked against that order written out in Go, and against a
// plain float64 sum within float64 rounding.
func TestSumDotAsmMatchesOrder(t *testing.T) {
	if _, _, ok := sumDotAsm(make([]float32, 1), make([]float32, 1)); !ok {
		t.Skip("no assembly kernels on this machine")
	}
	ordered := func(x, y []float32) float64 {
		var p [16]float64
		n16 := len(x) / 16 * 16
		for i := 0; i < n16; i++ {
			p[i%16] += float64(x[i]) * float64(y[i])
		}
		var l [4]float64
		for j := range l {
			l[j] = (p[j] + p[4+j]) + (p[8+j] + p[12+j])
		}
		s := (l[0] + l[2]) + (l[1] + l[3])
		for i := n16; i < len(x); i++ {
			s += float64(x[i]) * float64(y[i])
		}
		return s
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 3, 15, 16, 17, 31, 64, 100, 257, 1024} {
		off := r.IntN(3)
		x, y := normRow32(r, n+off)[off:], normRow32(r, n+off)[off:]
		sx, sxy, _ := sumDotAsm(x, y)
		want, _ := sumAsm(x)
		if math.Float64bits(sx) != math.Float64bits(want) {
			t.Fatalf("n %d: Σx %g, sumAsm %g", n, sx, want)
		}
		if o := ordered(x, y); math.Float64bits(sxy) != math.Float64bits(o) {
			t.Fatalf("n %d: Σxy %g, want %g", n, sxy, o)
		}
		plain := 0.0
		for i := range x {
			plain += float64(x[i]) * float64(y[i])
		}
		if math.Abs(sxy-plain) > 1e-12*float64(n) {
			t.Fatalf("n %d: Σxy %g, plain sum %g", n, sxy, plain)
		}
	}
}

func normRow32(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}
