package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestParallelForCovers(t *testing.T) {
	for _, c := range []struct{ n, align int }{
		{0, 1}, {10, 1}, {minParallelElems, 1}, {3*minParallelElems + 7, 1},
		{5 * minParallelElems, 784}, {1000 * 784, 784}, {minParallelElems + 1, minParallelElems * 4},
	} {
		hits := make([]int32, c.n)
		parallelFor(c.n, c.align, func(lo, hi int) {
			if lo%c.align != 0 {
				t.Errorf("n %d align %d: range starts at %d", c.n, c.align, lo)
			}
			for i := lo; i < hi; i++ {
				hits[i]++
			}
		})
		for i, h := range hits {
			if h != 1 {
				t.Fatalf("n %d align %d: element %d visited %d times", c.n, c.align, i, h)
			}
		}
	}
}

func TestHasNaNOrInf(t *testing.T) {
	for _, dt := range []DType{Float32, Float64} {
		for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			x := New(dt, 5)
			x.SetAt(3, v)
			if !x.HasNaNOrInf() {
				t.Errorf("%s: missed %g", dt, v)
			}
		}
		x := FromFloat64([]float64{0, math.Copysign(0, -1), math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32}, 5).AsType(dt)
		if x.HasNaNOrInf() {
			t.Errorf("%s: finite values reported", dt)
		}
	}
}

// The float32 masks must agree with the branchy float64 reference on the
// special values: ±0, NaN, ±Inf, denormals.
func TestLeakyMasksSpecialValues(t *testing.T) {
	special := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), 1e-45, -1e-45, 2.5, -2.5}
	n := len(special) * len(special)
	y, g := New(Float32, n), New(Float32, n)
	for i, a := range special {
		for j, b := range special {
			y.SetAt(i*len(special)+j, a)
			g.SetAt(i*len(special)+j, b)
		}
	}
	for _, s := range []float64{0.2, 0} {
		got := LeakyReLUGrad(g, y, s)
		lr := LeakyReLU(y, s)
		one := FromFloat32([]float32{1}, 1, 1)
		act := LinearLeakyReLU(y.Reshape(n, 1), one, nil, s)
		z := MatMul(y.Reshape(n, 1), one, false, true) // what the activation sees (−0 becomes +0)
		for i := 0; i < n; i++ {
			yi, gi := y.At(i), g.At(i)
			want := float32(s) * float32(gi)
			if yi > 0 {
				want = float32(gi)
			}
			if !sameFloat32(float32(got.At(i)), want) {
				t.Errorf("slope %g: LeakyReLUGrad(g=%g, y=%g) = %g, want %g", s, gi, yi, got.At(i), want)
			}
			leaky := func(v float64) float32 {
				switch {
				case v > 0:
					return float32(v)
				case s == 0:
					return 0
				}
				return float32(s) * float32(v)
			}
			if zi := z.At(i); !sameFloat32(float32(act.At(i)), leaky(zi)) {
				t.Errorf("slope %g: LinearLeakyReLU(%g) = %g, want %g", s, zi, act.At(i), leaky(zi))
			}
			if wantAct := leaky(yi); s != 0 && !sameFloat32(float32(lr.At(i)), wantAct) {
				t.Errorf("slope %g: LeakyReLU(%g) = %g, want %g", s, yi, lr.At(i), wantAct)
			}
		}
	}
}

// sameFloat32 compares bits, treating any two NaNs as equal.
func sameFloat32(a, b float32) bool {
	if a != a && b != b {
		return true
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

// GaussianSample and its adjoint against the unfused kernels, in both types.
func TestGaussianSampleKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	for _, dt := range []DType{Float32, Float64} {
		o := RandNormal(rng, dt, 70, 2*600)
		eps := RandNormal(rng, dt, 70, 600)
		g := RandNormal(rng, dt, 70, 600)
		out, sig := GaussianSample(o, eps)
		mean, s := Slice(o, 1, 0, 600), Slice(o, 1, 600, 1200)
		want := Binary(OpAdd, mean, Binary(OpMul, Unary(OpSoftplus, s), eps))
		wantSig := Unary(OpSigmoid, s)
		wantGrad := Concat(1, g, Binary(OpMul, Binary(OpMul, g, eps), wantSig))
		for _, c := range []struct {
			what      string
			got, want *Tensor
		}{{"sample", out, want}, {"sigmoid", sig, wantSig}, {"adjoint", GaussianSampleGrad(g, eps, sig), wantGrad}} {
			for i := 0; i < c.got.Len(); i++ {
				if c.got.At(i) != c.want.At(i) {
					t.Fatalf("%s %s: element %d is %g, want %g", dt, c.what, i, c.got.At(i), c.want.At(i))
				}
			}
		}
	}
}

// MatMul's row blocks must tile the product exactly, for every transpose
// combination, whichever blas runs them.
func TestMatMulRowSplit(t *testing.T) {
	defer func(s bool) { splitGemm = s }(splitGemm)
	rng := rand.New(rand.NewPCG(4, 5))
	const m, n, k = 600, 130, 70 // m·n·k above minSplitWork, m not a multiple of splitRows
	for _, c := range []struct{ ta, tb bool }{{false, false}, {false, true}, {true, false}, {true, true}} {
		as, bs := []int{m, k}, []int{k, n}
		if c.ta {
			as = []int{k, m}
		}
		if c.tb {
			bs = []int{n, k}
		}
		a, b := RandNormal(rng, Float32, as...), RandNormal(rng, Float32, bs...)
		splitGemm = false
		want := MatMul(a, b, c.ta, c.tb)
		splitGemm = true
		got := MatMul(a, b, c.ta, c.tb)
		for i := 0; i < got.Len(); i++ {
			if d := math.Abs(got.At(i) - want.At(i)); d > 1e-4*(1+math.Abs(want.At(i))) {
				t.Fatalf("ta=%v tb=%v: element %d is %g, want %g", c.ta, c.tb, i, got.At(i), want.At(i))
			}
		}
	}
}
