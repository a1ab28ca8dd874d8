package objective

import (
	"math"
	"math/rand/v2"
	"testing"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/autodiff/gradcheck"
	"github.com/wakesleep/wakesleep/tensor"
)

// twoLayerCritic is D(x, z) = act(concat(flat x, flat z)·W1 + b1)·w2 + b2 with
// the weights taken from ws = [W1, b1, w2, b2].
func twoLayerCritic(act func(*ad.Var) *ad.Var, ws []*ad.Var) func([]*ad.Var) *ad.Var {
	return func(in []*ad.Var) *ad.Var {
		flat := make([]*ad.Var, len(in))
		for i, v := range in {
			flat[i] = ad.Flatten(v)
		}
		h := act(ad.Add(ad.MatMul(ad.Concat(1, flat...), ws[0]), ws[1]))
		return ad.Add(ad.MatMul(h, ws[2]), ws[3])
	}
}

// The penalty's gradient with respect to the critic's weights is a
// second-order quantity (a derivative of ‖∇ₓD‖): Gulrajani et al. (2017),
// Eq. 3, term 3, checked against central differences in float64.
func TestGradientPenaltyGradcheck(t *testing.T) {
	const batch, hidden = 4, 5
	cases := []struct {
		name   string
		shapes [][]int // critic inputs, batch first
		act    func(*ad.Var) *ad.Var
	}{
		{"leaky_xz", [][]int{{batch, 3}, {batch, 2}}, func(v *ad.Var) *ad.Var { return ad.LeakyReLU(v, 0.2) }},
		{"tanh_xz", [][]int{{batch, 3}, {batch, 2}}, ad.Tanh},
		{"softplus_image", [][]int{{batch, 2, 2, 2}}, ad.Softplus},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 11))
			var wake, sleep []*ad.Var
			features := 0
			for _, s := range c.shapes {
				wake = append(wake, ad.Const(gradcheck.Rand(rng, -1, 1, s...)))
				sleep = append(sleep, ad.Const(gradcheck.Rand(rng, -1, 1, s...)))
				features += tensor.Size(s[1:])
			}
			alpha := InterpolationWeights(rng, tensor.Float64, batch)
			weights := []*tensor.Tensor{
				gradcheck.Rand(rng, -1, 1, features, hidden),
				gradcheck.Rand(rng, -0.5, 0.5, hidden),
				gradcheck.Rand(rng, -1, 1, hidden, 1),
				gradcheck.Rand(rng, -0.5, 0.5, 1),
			}
			f := func(ws []*ad.Var) *ad.Var {
				return GradientPenalty(twoLayerCritic(c.act, ws), wake, sleep, alpha)
			}
			if err := gradcheck.Check(f, weights, &gradcheck.Options{Seed: uint64(i)}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A linear critic D(x, z) = x·wx + z·wz + c has ∇D = (wx, wz) everywhere, so
// ‖∇‖ = ‖w‖ = √(‖wx‖² + ‖wz‖²) for every sample and the penalty (Gulrajani et
// al. 2017, Eq. 3, term 3) is (‖w‖ − 1)², whatever α, with gradient
// 2(‖w‖ − 1)·w/‖w‖.
func TestGradientPenaltyLinearCritic(t *testing.T) {
	for _, dt := range []tensor.DType{tensor.Float64, tensor.Float32} {
		t.Run(dt.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 3))
			const batch = 6
			wx := ad.Param(tensor.FromFloat64([]float64{0.3, -0.4, 0.5, 0.1}, 4, 1).AsType(dt))
			wz := ad.Param(tensor.FromFloat64([]float64{0.2, 0.6}, 2, 1).AsType(dt))
			c := ad.Param(tensor.Scalar(dt, 0.7))
			critic := func(in []*ad.Var) *ad.Var {
				return ad.Add(ad.Add(ad.MatMul(in[0], wx), ad.MatMul(in[1], wz)), c)
			}
			wake := []*ad.Var{ad.Const(tensor.RandNormal(rng, dt, batch, 4)), ad.Const(tensor.RandNormal(rng, dt, batch, 2))}
			sleep := []*ad.Var{ad.Const(tensor.RandNormal(rng, dt, batch, 4)), ad.Const(tensor.RandNormal(rng, dt, batch, 2))}
			p := GradientPenalty(critic, wake, sleep, InterpolationWeights(rng, dt, batch))

			w := []float64{0.3, -0.4, 0.5, 0.1, 0.2, 0.6}
			var n2 float64
			for _, v := range w {
				n2 += v * v
			}
			norm := math.Sqrt(n2)
			want := (norm - 1) * (norm - 1)
			tol := 1e-12
			if dt == tensor.Float32 {
				tol = 1e-6
			}
			if got := p.Item(); math.Abs(got-want) > tol {
				t.Fatalf("penalty %.10g, want (‖w‖−1)² = %.10g", got, want)
			}
			g := ad.Grad(p, []*ad.Var{wx, wz, c}, nil)
			gw := append(g[0].Value.Values(), g[1].Value.Values()...)
			for i, v := range w {
				if d := 2 * (norm - 1) * v / norm; math.Abs(gw[i]-d) > tol {
					t.Errorf("dP/dw[%d] = %.10g, want %.10g", i, gw[i], d)
				}
			}
			if g[2].Value.Item() != 0 {
				t.Errorf("dP/dc = %g, want 0", g[2].Value.Item())
			}
		})
	}
}

// With D(x) = ½‖x‖² the gradient is x̂ itself, so the penalty checks the
// interpolation: one α per sample, broadcast over every trailing axis.
func TestGradientPenaltyInterpolates(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	const batch = 3
	wake := ad.Const(gradcheck.Rand(rng, -1, 1, batch, 2, 3))
	sleep := ad.Const(gradcheck.Rand(rng, -1, 1, batch, 2, 3))
	alpha := tensor.FromFloat64([]float64{0, 0.25, 1}, batch, 1)
	critic := func(in []*ad.Var) *ad.Var {
		return ad.Scale(ad.SumKeep(ad.Reshape(ad.Square(in[0]), batch, -1), 1), 0.5)
	}
	got := GradientPenalty(critic, []*ad.Var{wake}, []*ad.Var{sleep}, alpha).Item()
	var want float64
	for b := 0; b < batch; b++ {
		a := alpha.At(b)
		var n2 float64
		for j := 0; j < 6; j++ {
			v := a*wake.Value.At(b*6+j) + (1-a)*sleep.Value.At(b*6+j)
			n2 += v * v
		}
		want += (math.Sqrt(n2) - 1) * (math.Sqrt(n2) - 1) / batch
	}
	if math.Abs(got-want) > 1e-12 {
		t.Fatalf("penalty %.12g, want %.12g", got, want)
	}
}

// Wake and sleep are detached: even when they require gradients (they come
// out of the encoder and decoder), the penalty sends none back to them.
func TestGradientPenaltyDetachesSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	w := ad.Param(gradcheck.Rand(rng, -1, 1, 3, 1))
	wake := ad.Param(gradcheck.Rand(rng, -1, 1, 2, 3))
	sleep := ad.Param(gradcheck.Rand(rng, -1, 1, 2, 3))
	critic := func(in []*ad.Var) *ad.Var { return ad.MatMul(ad.Tanh(in[0]), w) }
	p := GradientPenalty(critic, []*ad.Var{wake}, []*ad.Var{sleep}, InterpolationWeights(rng, tensor.Float64, 2))
	g := ad.Grad(p, []*ad.Var{wake, sleep, w}, nil)
	for i, name := range []string{"wake", "sleep"} {
		for _, v := range g[i].Value.Values() {
			if v != 0 {
				t.Fatalf("gradient reached %s: %v", name, g[i].Value)
			}
		}
	}
	if tensor.Dot(g[2].Value, g[2].Value) == 0 {
		t.Fatal("no gradient reached the critic's weights")
	}
}

// A critic whose gradient vanishes has penalty 1 (up to ε) and a finite
// gradient (PyTorch's norm gives the zero subgradient there; so does ε).
func TestGradientPenaltyZeroGradient(t *testing.T) {
	w := ad.Param(tensor.New(tensor.Float32, 2, 1))
	x := ad.Const(tensor.Full(tensor.Float32, 1, 4, 2))
	critic := func(in []*ad.Var) *ad.Var { return ad.MatMul(in[0], w) }
	p := GradientPenalty(critic, []*ad.Var{x}, []*ad.Var{x}, tensor.Full(tensor.Float32, 0.5, 4, 1))
	if math.Abs(p.Item()-1) > 1e-5 {
		t.Fatalf("penalty %g, want 1", p.Item())
	}
	g := ad.Grad(p, []*ad.Var{w}, nil)[0]
	if g.Value.HasNaNOrInf() {
		t.Fatalf("gradient %v", g.Value)
	}
}

func TestGradientPenaltyPanics(t *testing.T) {
	x := ad.Const(tensor.New(tensor.Float64, 4, 2))
	critic := func(in []*ad.Var) *ad.Var { return ad.Sum(in[0], 1) }
	cases := []struct {
		name        string
		wake, sleep []*ad.Var
		alpha       *tensor.Tensor
	}{
		{"no inputs", nil, nil, tensor.New(tensor.Float64, 4, 1)},
		{"count", []*ad.Var{x, x}, []*ad.Var{x}, tensor.New(tensor.Float64, 4, 1)},
		{"alpha rank", []*ad.Var{x}, []*ad.Var{x}, tensor.New(tensor.Float64, 4)},
		{"alpha batch", []*ad.Var{x}, []*ad.Var{x}, tensor.New(tensor.Float64, 3, 1)},
		{"alpha dtype", []*ad.Var{x}, []*ad.Var{x}, tensor.New(tensor.Float32, 4, 1)},
		{"shape", []*ad.Var{x}, []*ad.Var{ad.Const(tensor.New(tensor.Float64, 4, 3))}, tensor.New(tensor.Float64, 4, 1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			GradientPenalty(critic, c.wake, c.sleep, c.alpha)
		})
	}
}

func TestInterpolationWeights(t *testing.T) {
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		a := InterpolationWeights(rand.New(rand.NewPCG(1, 2)), dt, 1000)
		if a.DType() != dt || !tensor.SameShape(a.Shape(), []int{1000, 1}) {
			t.Fatalf("%s: got %s %v", dt, a.DType(), a.Shape())
		}
		var mean float64
		for _, v := range a.Values() {
			if v < 0 || v >= 1 {
				t.Fatalf("%s: weight %g outside [0, 1)", dt, v)
			}
			mean += v / 1000
		}
		// The mean of 1000 U[0,1) draws has standard deviation 0.009.
		if math.Abs(mean-0.5) > 0.05 {
			t.Errorf("%s: mean %g", dt, mean)
		}
		b := InterpolationWeights(rand.New(rand.NewPCG(1, 2)), dt, 1000)
		if tensor.Dot(a, a) != tensor.Dot(a, b) {
			t.Errorf("%s: same seed, different weights", dt)
		}
	}
}
