package autodiff_test

import (
	"math"
	"math/rand/v2"
	"testing"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/autodiff/gradcheck"
	"github.com/wakesleep/wakesleep/tensor"
)

// normComposite is what Normalize replaces: nn.BatchNorm's training-mode
// normalisation (per channel) and nn.PixelNorm (per position), from the
// elementary ops.
func normComposite(x *ad.Var, kind tensor.NormKind, eps float64) *ad.Var {
	if kind == tensor.NormPerPosition {
		return ad.Div(x, ad.Sqrt(ad.AddScalar(ad.MeanKeep(ad.Square(x), 1), eps)))
	}
	axes := []int{0}
	for i := 2; i < x.Rank(); i++ {
		axes = append(axes, i)
	}
	xc := ad.Sub(x, ad.MeanKeep(x, axes...))
	return ad.Div(xc, ad.Sqrt(ad.AddScalar(ad.MeanKeep(ad.Square(xc), axes...), eps)))
}

// normCases check Normalize to first and second order. Each weights the
// output by a function of x so that the second derivative also passes
// through the rules of NormalizeGrad's inputs, and the eps are large enough
// (against the groups' variances) to matter.
var normCases = []struct {
	name  string
	kind  tensor.NormKind
	eps   float64
	shape []int
}{
	{"per_channel_4d", tensor.NormPerChannel, 1e-5, []int{3, 2, 2, 3}},
	{"per_channel_2d", tensor.NormPerChannel, 0.1, []int{4, 3}},
	{"per_position_4d", tensor.NormPerPosition, 1e-8, []int{2, 3, 2, 2}},
	{"per_position_2d", tensor.NormPerPosition, 0.5, []int{3, 4}},
}

func normF(kind tensor.NormKind, eps float64) gradcheck.Func {
	return func(x []*ad.Var) *ad.Var {
		y := ad.Normalize(x[0], kind, eps)
		return ad.Mul(ad.Tanh(y), ad.Add(x[0], x[1]))
	}
}

func normInputs(rng *rand.Rand, shape []int) []*tensor.Tensor {
	return []*tensor.Tensor{gradcheck.Rand(rng, -1, 1, shape...), gradcheck.Rand(rng, -1, 1, shape...)}
}

func TestNormalizeFirstAndSecondOrder(t *testing.T) {
	for i, c := range normCases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 21))
			opts := &gradcheck.Options{Seed: uint64(i)}
			if err := gradcheck.Check(normF(c.kind, c.eps), normInputs(rng, c.shape), opts); err != nil {
				t.Fatal(err)
			}
			if err := gradcheck.CheckSecondOrder(normF(c.kind, c.eps), normInputs(rng, c.shape), opts); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// NormalizeGrad as an op of three free inputs, checked to first and
// second order: its own rule and the rules of the ops that rule records
// (third order of Normalize).
func TestNormalizeGradFirstAndSecondOrder(t *testing.T) {
	for i, c := range normCases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 22))
			f := func(x []*ad.Var) *ad.Var {
				return ad.Square(ad.NormalizeGrad(x[0], x[1], x[2], c.kind))
			}
			in := func() []*tensor.Tensor {
				return []*tensor.Tensor{gradcheck.Rand(rng, -1, 1, c.shape...), gradcheck.Rand(rng, -1, 1, c.shape...),
					gradcheck.Rand(rng, 0.5, 2, tensor.NormStatShape(c.shape, c.kind)...)}
			}
			opts := &gradcheck.Options{Seed: uint64(i)}
			if err := gradcheck.Check(f, in(), opts); err != nil {
				t.Fatal(err)
			}
			if err := gradcheck.CheckSecondOrder(f, in(), opts); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The WGAN-GP pattern through Normalize: the gradient of a penalty on
// ‖∂D/∂x‖ with respect to the critic's weight.
func TestNormalizePenalty(t *testing.T) {
	for i, kind := range []tensor.NormKind{tensor.NormPerChannel, tensor.NormPerPosition} {
		t.Run(kind.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 23))
			f := func(v []*ad.Var) *ad.Var {
				x, w := v[0], v[1]
				h := ad.LeakyReLU(ad.Normalize(ad.Mul(x, w), kind, 1e-3), 0.2)
				d := ad.Sum(ad.Mul(h, v[2]))
				gx := ad.Grad(d, []*ad.Var{x}, &ad.GradOptions{CreateGraph: true})[0]
				return ad.Square(ad.AddScalar(ad.Sqrt(ad.AddScalar(ad.Sum(ad.Square(gx)), 1e-12)), -1))
			}
			in := []*tensor.Tensor{gradcheck.Rand(rng, 0.2, 1, 3, 4, 2), gradcheck.Rand(rng, 0.5, 1.5, 1, 4, 1),
				gradcheck.Rand(rng, -1, 1, 3, 4, 2)}
			if err := gradcheck.Check(f, in, &gradcheck.Options{Seed: uint64(i)}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Normalize agrees with the composite it replaces, forward and to second
// order (a penalty's gradient), within the rounding of float32 and float64.
func TestNormalizeMatchesComposite(t *testing.T) {
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		for k, c := range []struct {
			kind  tensor.NormKind
			shape []int
		}{
			// large enough for the parallel paths and the row kernels;
			// then rows shorter than the row kernels take
			{tensor.NormPerChannel, []int{16, 24, 9, 10}}, {tensor.NormPerPosition, []int{16, 24, 9, 10}},
			{tensor.NormPerChannel, []int{600, 20, 3}}, {tensor.NormPerPosition, []int{600, 20, 3}},
		} {
			kind, shape := c.kind, c.shape
			rng := rand.New(rand.NewPCG(5, uint64(k)))
			x := tensor.RandNormal(rng, dt, shape...)
			tensor.AddInPlace(x, tensor.Full(dt, 0.7, shape...)) // a mean to take out
			wt := tensor.RandNormal(rng, dt, shape...)
			run := func(norm func(*ad.Var) *ad.Var) []*tensor.Tensor {
				xv, wv := ad.Param(x), ad.Param(wt)
				y := norm(xv)
				d := ad.Sum(ad.Mul(ad.Square(y), wv))
				gx := ad.Grad(d, []*ad.Var{xv}, &ad.GradOptions{CreateGraph: true})[0]
				pen := ad.Sum(ad.Square(gx))
				gs := ad.Grad(pen, []*ad.Var{xv, wv}, nil)
				return []*tensor.Tensor{y.Value, gx.Value, gs[0].Value, gs[1].Value}
			}
			got := run(func(x *ad.Var) *ad.Var { return ad.Normalize(x, kind, 1e-5) })
			want := run(func(x *ad.Var) *ad.Var { return normComposite(x, kind, 1e-5) })
			tol := 1e-13
			if dt == tensor.Float32 {
				tol = 1e-5
			}
			for i, name := range []string{"y", "∂D/∂x", "∂pen/∂x", "∂pen/∂w"} {
				if e := relErr(got[i], want[i]); e > tol || math.IsNaN(e) {
					t.Errorf("%v %v %v %s: relative error %.3g > %g", dt, kind, shape, name, e, tol)
				}
			}
		}
	}
}

// relErr is ‖a − b‖ / ‖b‖.
func relErr(a, b *tensor.Tensor) float64 {
	var num, den float64
	for i := 0; i < a.Len(); i++ {
		d := a.At(i) - b.At(i)
		num += d * d
		den += b.At(i) * b.At(i)
	}
	return math.Sqrt(num / den)
}

func TestNormalizeRejectsBadInput(t *testing.T) {
	for name, f := range map[string]func(){
		"rank 1":   func() { ad.Normalize(ad.Param(tensor.New(tensor.Float64, 4)), tensor.NormPerChannel, 1e-5) },
		"empty":    func() { ad.Normalize(ad.Param(tensor.New(tensor.Float64, 0, 3)), tensor.NormPerChannel, 1e-5) },
		"eps < 0":  func() { ad.Normalize(ad.Param(tensor.New(tensor.Float64, 2, 3)), tensor.NormPerPosition, -1) },
		"bad kind": func() { ad.Normalize(ad.Param(tensor.New(tensor.Float64, 2, 3)), tensor.NormKind(7), 1e-5) },
		"bad scale": func() {
			ad.NormalizeGrad(ad.Param(tensor.New(tensor.Float64, 2, 3)), ad.Param(tensor.New(tensor.Float64, 2, 3)), ad.Param(tensor.New(tensor.Float64, 2, 1)), tensor.NormPerChannel)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
