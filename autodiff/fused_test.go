package autodiff_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/autodiff/gradcheck"
	"github.com/wakesleep/wakesleep/tensor"
)

// linearInputs draws x [..., In], W [Out, In] and b [Out] whose
// pre-activations x·Wᵀ + b all lie at least 0.05 from zero, so that no
// finite difference straddles the kink of a fused activation.
func linearInputs(rng *rand.Rand, xShape []int, out int) []*tensor.Tensor {
	in := xShape[len(xShape)-1]
	for {
		x := gradcheck.Rand(rng, -1, 1, xShape...)
		w := gradcheck.Rand(rng, -1, 1, out, in)
		b := gradcheck.Rand(rng, -1, 1, out)
		z := tensor.Linear(x, w, b)
		ok := true
		for i := 0; i < z.Len(); i++ {
			ok = ok && math.Abs(z.At(i)) > 0.05
		}
		if ok {
			return []*tensor.Tensor{x, w, b}
		}
	}
}

// channelInputs draws x of the given shape, w and b [C] whose values
// x·w_c + b_c all lie at least 0.05 from zero (no finite difference
// straddles the activation's kink).
func channelInputs(rng *rand.Rand, shape ...int) []*tensor.Tensor {
	for {
		x := gradcheck.Rand(rng, -1, 1, shape...)
		w := gradcheck.Rand(rng, 0.5, 1.5, shape[1])
		b := gradcheck.Rand(rng, -0.5, 0.5, shape[1])
		z := tensor.ChannelAffine(x, w, b, false, 0)
		ok := true
		for i := 0; i < z.Len(); i++ {
			ok = ok && math.Abs(z.At(i)) > 0.05
		}
		if ok {
			return []*tensor.Tensor{x, w, b}
		}
	}
}

// fusedCases are the fused ops, checked to first and second order like
// opCases. Each returns a non-linear function of its inputs, so that the
// second derivative is not trivially zero.
var fusedCases = []struct {
	name   string
	f      gradcheck.Func
	inputs func(rng *rand.Rand) []*tensor.Tensor
}{
	{"linear", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Linear(x[0], x[1], x[2])) },
		func(r *rand.Rand) []*tensor.Tensor { return linearInputs(r, []int{3, 4}, 5) }},
	{"linear_no_bias", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Linear(x[0], x[1], nil)) },
		func(r *rand.Rand) []*tensor.Tensor { return linearInputs(r, []int{3, 4}, 5)[:2] }},
	{"linear_batched", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Linear(x[0], x[1], x[2])) },
		func(r *rand.Rand) []*tensor.Tensor { return linearInputs(r, []int{2, 3, 4}, 5) }},
	{"linear_leaky_relu", func(x []*ad.Var) *ad.Var { return ad.Square(ad.LinearLeakyReLU(x[0], x[1], x[2], 0.2)) },
		func(r *rand.Rand) []*tensor.Tensor { return linearInputs(r, []int{6, 4}, 5) }},
	{"linear_relu", func(x []*ad.Var) *ad.Var { return ad.Square(ad.LinearLeakyReLU(x[0], x[1], x[2], 0)) },
		func(r *rand.Rand) []*tensor.Tensor { return linearInputs(r, []int{6, 4}, 5) }},
	{"linear_leaky_negative_slope", func(x []*ad.Var) *ad.Var { return ad.Square(ad.LinearLeakyReLU(x[0], x[1], x[2], -0.3)) },
		func(r *rand.Rand) []*tensor.Tensor { return linearInputs(r, []int{6, 4}, 5) }},
	{"gaussian_sample", func(x []*ad.Var) *ad.Var {
		eps := tensor.FromFloat64([]float64{0.3, -1.2, 0.8, 2.1, -0.4, 1.5}, 2, 3)
		return ad.Square(ad.GaussianSample(x[0], eps))
	}, ins(rnd(-3, 3, 2, 6))},
	{"lerp_per_row", func(x []*ad.Var) *ad.Var {
		t := tensor.FromFloat64([]float64{0.2, 0.7, 0.5}, 3, 1)
		return ad.Mul(ad.Lerp(x[0], x[1], t), x[0])
	}, ins(rnd(-1, 1, 3, 4), rnd(-1, 1, 3, 4))},
	{"channel_affine_4d", func(x []*ad.Var) *ad.Var { return ad.Square(ad.ChannelAffine(x[0], x[1], x[2])) },
		func(r *rand.Rand) []*tensor.Tensor { return channelInputs(r, 2, 3, 2, 2) }},
	{"channel_affine_2d", func(x []*ad.Var) *ad.Var { return ad.Square(ad.ChannelAffine(x[0], x[1], x[2])) },
		func(r *rand.Rand) []*tensor.Tensor { return channelInputs(r, 4, 3) }},
	{"channel_affine_leaky_relu", func(x []*ad.Var) *ad.Var {
		return ad.Square(ad.ChannelAffineLeakyReLU(x[0], x[1], x[2], 0.2))
	}, func(r *rand.Rand) []*tensor.Tensor { return channelInputs(r, 3, 2, 3) }},
	{"channel_affine_relu_no_scale", func(x []*ad.Var) *ad.Var {
		return ad.Square(ad.ChannelAffineLeakyReLU(x[0], nil, x[2], 0))
	}, func(r *rand.Rand) []*tensor.Tensor {
		in := channelInputs(r, 2, 3, 4)
		in[1] = tensor.Full(tensor.Float64, 1, 3) // unused: the scale is 1
		return in
	}},
	{"channel_affine_leaky_no_shift", func(x []*ad.Var) *ad.Var {
		return ad.Mul(ad.ChannelAffineLeakyReLU(x[0], x[1], nil, 0.3), x[0])
	}, func(r *rand.Rand) []*tensor.Tensor {
		x := gradcheck.Rand(r, 0.1, 1, 2, 3, 2)
		return []*tensor.Tensor{x, gradcheck.Rand(r, -1.5, -0.5, 3)} // all negative: the leak
	}},
	{"channel_affine_leaky_negative_slope", func(x []*ad.Var) *ad.Var {
		return ad.Square(ad.ChannelAffineLeakyReLU(x[0], x[1], x[2], -0.3))
	}, func(r *rand.Rand) []*tensor.Tensor { return channelInputs(r, 2, 2, 3) }},
	// A two-layer critic and its input-gradient penalty, the WGAN-GP
	// pattern, on the fused layers: second order through leakyReLUGrad.
	{"penalty_through_fused_layers", func(x []*ad.Var) *ad.Var {
		h := ad.LinearLeakyReLU(x[0], x[1], x[2], 0.2)
		d := ad.Linear(h, x[3], nil) // [B, 1]
		gx := ad.Grad(ad.Sum(d), []*ad.Var{x[0]}, &ad.GradOptions{CreateGraph: true})[0]
		norm := ad.Sqrt(ad.AddScalar(ad.Sum(ad.Square(gx), 1), 1e-12))
		return ad.Mean(ad.Square(ad.AddScalar(norm, -1)))
	}, func(r *rand.Rand) []*tensor.Tensor {
		return append(linearInputs(r, []int{4, 3}, 5), gradcheck.Rand(r, -1, 1, 1, 5))
	}},
}

func TestFusedFirstOrder(t *testing.T) {
	for i, c := range fusedCases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 11))
			if err := gradcheck.Check(c.f, c.inputs(rng), &gradcheck.Options{Seed: uint64(i)}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFusedSecondOrder(t *testing.T) {
	for i, c := range fusedCases {
		if c.name == "penalty_through_fused_layers" {
			continue // already a second-order quantity; checked to first order
		}
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 12))
			if err := gradcheck.CheckSecondOrder(c.f, c.inputs(rng), &gradcheck.Options{Seed: uint64(i)}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// float32 draws a float32 tensor of normals, sizes large enough to take the
// kernels' parallel paths.
func float32s(rng *rand.Rand, shape ...int) *tensor.Tensor {
	return tensor.RandNormal(rng, tensor.Float32, shape...)
}

func sameBits(t *testing.T, what string, got, want *tensor.Tensor) {
	t.Helper()
	if !tensor.SameShape(got.Shape(), want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	g, w := got.Float32s(), want.Float32s()
	for i := range g {
		if math.Float32bits(g[i]) != math.Float32bits(w[i]) && !(g[i] == 0 && w[i] == 0) {
			t.Fatalf("%s: element %d is %g, want %g", what, i, g[i], w[i])
		}
	}
}

// The fused ops must compute, bit for bit, what the ops they replace
// compute, forward and backward, in float32: training runs stay
// reproducible across the change.
func TestFusedMatchUnfused(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	x := float32s(rng, 300, 200)
	w := float32s(rng, 150, 200)
	b := float32s(rng, 150)
	g := float32s(rng, 300, 150)
	for _, slope := range []float64{0.2, 0} {
		xv, wv, bv := ad.Param(x), ad.Param(w), ad.Param(b)
		fused := ad.LinearLeakyReLU(xv, wv, bv, slope)
		var ref *ad.Var
		if slope == 0 {
			ref = ad.ReLU(ad.Add(ad.MatMulT(xv, wv, false, true), bv))
		} else {
			ref = ad.LeakyReLU(ad.Add(ad.MatMulT(xv, wv, false, true), bv), slope)
		}
		sameBits(t, "forward", fused.Value, ref.Value)
		gf := ad.Grad(fused, []*ad.Var{xv, wv, bv}, &ad.GradOptions{Seed: g})
		gr := ad.Grad(ref, []*ad.Var{xv, wv, bv}, &ad.GradOptions{Seed: g})
		for i, name := range []string{"x̄", "W̄", "b̄"} {
			sameBits(t, name, gf[i].Value, gr[i].Value)
		}
	}

	o := float32s(rng, 256, 2*300)
	eps := float32s(rng, 256, 300)
	gs := float32s(rng, 256, 300)
	ov := ad.Param(o)
	fused := ad.GaussianSample(ov, eps)
	n := eps.Dim(1)
	ref := ad.Add(ad.Slice(ov, 1, 0, n), ad.Mul(ad.Softplus(ad.Slice(ov, 1, n, 2*n)), ad.Const(eps)))
	sameBits(t, "gaussian sample", fused.Value, ref.Value)
	sameBits(t, "gaussian sample adjoint",
		ad.Grad(fused, []*ad.Var{ov}, &ad.GradOptions{Seed: gs})[0].Value,
		ad.Grad(ref, []*ad.Var{ov}, &ad.GradOptions{Seed: gs})[0].Value)

	a, c := float32s(rng, 512, 100), float32s(rng, 512, 100)
	tt := tensor.RandUniform(rng, tensor.Float32, 0, 1, 512, 1)
	sameBits(t, "lerp", ad.Lerp(ad.Const(a), ad.Const(c), tt).Value,
		ad.Add(ad.Mul(ad.Const(tt), ad.Const(a)), ad.Mul(ad.Const(tensor.Affine(tt, -1, 1)), ad.Const(c))).Value)
}

// ChannelAffine and ChannelAffineLeakyReLU compute, bit for bit, what
// Mul, Add and LeakyReLU (ReLU) compute, forward, backward and through a
// recorded backward (the penalty's second order).
func TestChannelAffineMatchesUnfused(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for _, shape := range [][]int{{16, 24, 9, 10}, {300, 40}} {
		c := shape[1]
		stat := []int{1, c}
		if len(shape) == 4 {
			stat = []int{1, c, 1, 1}
		}
		x, w, b, g := float32s(rng, shape...), float32s(rng, c), float32s(rng, c), float32s(rng, shape...)
		for _, v := range []struct {
			name  string
			act   bool
			slope float64
			w, b  bool
		}{{"affine", false, 0, true, true}, {"leaky", true, 0.2, true, true}, {"relu", true, 0, true, true},
			{"bias leaky", true, 0.2, false, true}, {"bias", false, 0, false, true}, {"scale", false, 0, true, false}} {
			xv, wv, bv := ad.Param(x), ad.Param(w), ad.Param(b)
			var fw, fb *ad.Var
			ref := xv
			if v.w {
				fw, ref = wv, ad.Mul(ref, ad.Reshape(wv, stat...))
			}
			if v.b {
				fb, ref = bv, ad.Add(ref, ad.Reshape(bv, stat...))
			}
			fused := ad.ChannelAffine(xv, fw, fb)
			if v.act {
				fused = ad.ChannelAffineLeakyReLU(xv, fw, fb, v.slope)
				if v.slope == 0 {
					ref = ad.ReLU(ref)
				} else {
					ref = ad.LeakyReLU(ref, v.slope)
				}
			}
			what := fmt.Sprintf("%v %s", shape, v.name)
			sameBits(t, what+" forward", fused.Value, ref.Value)
			wrt := []*ad.Var{xv, wv, bv}
			gf := ad.Grad(fused, wrt, &ad.GradOptions{Seed: g, CreateGraph: true})
			gr := ad.Grad(ref, wrt, &ad.GradOptions{Seed: g, CreateGraph: true})
			for i, name := range []string{"x̄", "w̄", "b̄"} {
				sameBits(t, what+" "+name, gf[i].Value, gr[i].Value)
			}
			// second order: a penalty on x̄, differentiated for w and b
			pf := ad.Grad(ad.Sum(ad.Square(gf[0])), wrt[1:], nil)
			pr := ad.Grad(ad.Sum(ad.Square(gr[0])), wrt[1:], nil)
			for i, name := range []string{"∂pen/∂w", "∂pen/∂b"} {
				sameBits(t, what+" "+name, pf[i].Value, pr[i].Value)
			}
		}
	}
}

// Grad recycles the adjoints it is done with and accumulates sums in place
// when it records nothing. Aliased adjoints (Add passes its adjoint to both
// inputs unchanged, Reshape shares storage), inputs used several times and
// wrt Vars that are intermediate nodes must all come out as with
// CreateGraph, which recycles nothing; and the returned gradients must not
// be overwritten by later passes. Tensors are large enough to be pooled.
func TestGradRecyclingMatchesRecorded(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	a := ad.Param(float32s(rng, 64, 128))
	b := ad.Param(float32s(rng, 64, 128))
	w := ad.Param(float32s(rng, 128, 128))
	build := func() (*ad.Var, []*ad.Var) {
		s := ad.Add(a, a)                                 // one adjoint, passed to a twice
		u := ad.Add(s, b)                                 // passed through to s and b
		h := ad.LinearLeakyReLU(u, w, nil, 0.2)           // [64, 128]
		r := ad.Reshape(ad.Mul(h, u), 128, 64)            // aliasing adjoint
		v := ad.Add(ad.Reshape(r, 64, 128), ad.Mul(u, u)) // u used four times
		// z's adjoint reaches p and b as one tensor; p's VJP then hands that
		// same tensor on to b and a: it must not be accumulated into in place.
		p := ad.Add(b, a)
		z := ad.Add(p, b)
		y := ad.Add(ad.Sum(ad.Mul(v, ad.Add(v, s))), ad.Sum(ad.Mul(z, z)))
		return y, []*ad.Var{a, b, w, u, s} // u and s: intermediate wrt
	}
	y, wrt := build()
	want := ad.Grad(y, wrt, &ad.GradOptions{CreateGraph: true})
	wantVals := make([]*tensor.Tensor, len(want))
	for i, g := range want {
		wantVals[i] = g.Value.Clone()
	}
	var first []*tensor.Tensor
	for pass := 0; pass < 3; pass++ {
		y, wrt := build()
		got := ad.Grad(y, wrt, nil)
		if pass == 0 {
			for _, g := range got {
				first = append(first, g.Value)
			}
		}
		for i := range got {
			sameBits(t, "gradient", got[i].Value, wantVals[i])
		}
	}
	for i := range first { // still intact after two more passes
		sameBits(t, "first pass's gradient", first[i], wantVals[i])
	}
}
