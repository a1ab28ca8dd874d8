package autodiff_test

import (
	"math/rand/v2"
	"testing"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/autodiff/gradcheck"
	"github.com/wakesleep/wakesleep/tensor"
)

type opCase struct {
	name   string
	f      gradcheck.Func
	inputs func(rng *rand.Rand) []*tensor.Tensor
}

func rnd(lo, hi float64, shape ...int) func(*rand.Rand) *tensor.Tensor {
	return func(r *rand.Rand) *tensor.Tensor { return gradcheck.Rand(r, lo, hi, shape...) }
}

func away(lo, hi float64, shape ...int) func(*rand.Rand) *tensor.Tensor {
	return func(r *rand.Rand) *tensor.Tensor { return gradcheck.RandAwayFromZero(r, lo, hi, shape...) }
}

func ins(gens ...func(*rand.Rand) *tensor.Tensor) func(*rand.Rand) []*tensor.Tensor {
	return func(r *rand.Rand) []*tensor.Tensor {
		out := make([]*tensor.Tensor, len(gens))
		for i, g := range gens {
			out[i] = g(r)
		}
		return out
	}
}

// opCases lists every differentiable op. Each is checked to first and second
// order. Ops that are linear in their inputs get wrapped in a square so that
// their second derivative is not trivially zero.
var opCases = []opCase{
	{"add", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Add(x[0], x[1])) }, ins(rnd(-1, 1, 3, 4), rnd(-1, 1, 3, 4))},
	{"add_broadcast_row", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Add(x[0], x[1])) }, ins(rnd(-1, 1, 3, 4), rnd(-1, 1, 4))},
	{"add_broadcast_col", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Add(x[0], x[1])) }, ins(rnd(-1, 1, 2, 3, 4), rnd(-1, 1, 3, 1))},
	{"add_broadcast_both", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Add(x[0], x[1])) }, ins(rnd(-1, 1, 3, 1), rnd(-1, 1, 1, 4))},
	{"sub", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Sub(x[0], x[1])) }, ins(rnd(-1, 1, 2, 3, 2), rnd(-1, 1, 1, 3, 1))},
	{"mul", func(x []*ad.Var) *ad.Var { return ad.Mul(x[0], x[1]) }, ins(rnd(-1, 1, 3, 4), rnd(-1, 1, 3, 4))},
	{"mul_broadcast", func(x []*ad.Var) *ad.Var { return ad.Mul(ad.Mul(x[0], x[1]), x[0]) }, ins(rnd(-1, 1, 2, 3, 4), rnd(-1, 1, 1, 3, 1))},
	{"mul_scalar", func(x []*ad.Var) *ad.Var { return ad.Mul(ad.Mul(x[0], x[1]), x[1]) }, ins(rnd(-1, 1, 3, 4), rnd(-1, 1))},
	{"div", func(x []*ad.Var) *ad.Var { return ad.Div(x[0], x[1]) }, ins(rnd(-1, 1, 3, 4), rnd(0.5, 2, 3, 4))},
	{"div_broadcast", func(x []*ad.Var) *ad.Var { return ad.Div(x[0], x[1]) }, ins(rnd(-1, 1, 3, 4), rnd(0.5, 2, 3, 1))},
	{"neg", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Neg(x[0])) }, ins(rnd(-1, 1, 5))},
	{"exp", func(x []*ad.Var) *ad.Var { return ad.Exp(x[0]) }, ins(rnd(-2, 2, 3, 4))},
	{"log", func(x []*ad.Var) *ad.Var { return ad.Log(x[0]) }, ins(rnd(0.3, 3, 3, 4))},
	{"sqrt", func(x []*ad.Var) *ad.Var { return ad.Sqrt(x[0]) }, ins(rnd(0.3, 3, 3, 4))},
	{"square", func(x []*ad.Var) *ad.Var { return ad.Square(x[0]) }, ins(rnd(-2, 2, 3, 4))},
	{"pow_3", func(x []*ad.Var) *ad.Var { return ad.Pow(x[0], 3) }, ins(rnd(-2, 2, 3, 4))},
	{"pow_neg_half", func(x []*ad.Var) *ad.Var { return ad.Pow(x[0], -0.5) }, ins(rnd(0.5, 2, 3, 4))},
	{"pow_2", func(x []*ad.Var) *ad.Var { return ad.Pow(x[0], 2) }, ins(rnd(-2, 2, 3, 4))},
	{"softplus", func(x []*ad.Var) *ad.Var { return ad.Softplus(x[0]) }, ins(rnd(-4, 4, 3, 4))},
	{"sigmoid", func(x []*ad.Var) *ad.Var { return ad.Sigmoid(x[0]) }, ins(rnd(-4, 4, 3, 4))},
	{"tanh", func(x []*ad.Var) *ad.Var { return ad.Tanh(x[0]) }, ins(rnd(-2, 2, 3, 4))},
	{"relu", func(x []*ad.Var) *ad.Var { return ad.Square(ad.ReLU(x[0])) }, ins(away(0.1, 2, 3, 4))},
	{"leaky_relu", func(x []*ad.Var) *ad.Var { return ad.Square(ad.LeakyReLU(x[0], 0.2)) }, ins(away(0.1, 2, 3, 4))},
	{"affine", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Affine(x[0], -1.5, 0.3)) }, ins(rnd(-2, 2, 3, 4))},
	{"sum_all", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Sum(x[0])) }, ins(rnd(-1, 1, 3, 4))},
	{"sum_axis0", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Sum(x[0], 0)) }, ins(rnd(-1, 1, 3, 4))},
	{"sum_axis_mid", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Sum(x[0], 1)) }, ins(rnd(-1, 1, 2, 3, 4))},
	{"sum_keep", func(x []*ad.Var) *ad.Var { return ad.Square(ad.SumKeep(x[0], 0, 2)) }, ins(rnd(-1, 1, 2, 3, 4))},
	{"mean", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Mean(x[0], -1)) }, ins(rnd(-1, 1, 3, 4))},
	{"mean_keep", func(x []*ad.Var) *ad.Var { return ad.Square(ad.MeanKeep(x[0], 1)) }, ins(rnd(-1, 1, 3, 4, 2))},
	{"max", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Max(x[0], 1)) }, ins(distinct(3, 5))},
	{"max_axis0", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Max(x[0], 0)) }, ins(distinct(4, 2, 3))},
	{"broadcast_to", func(x []*ad.Var) *ad.Var { return ad.Square(ad.BroadcastTo(x[0], []int{2, 3, 4})) }, ins(rnd(-1, 1, 3, 1))},
	{"sum_to", func(x []*ad.Var) *ad.Var { return ad.Square(ad.SumTo(x[0], []int{3, 1})) }, ins(rnd(-1, 1, 2, 3, 4))},
	{"reshape", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Reshape(x[0], 4, -1)) }, ins(rnd(-1, 1, 2, 3, 2))},
	{"transpose", func(x []*ad.Var) *ad.Var {
		return ad.Mul(ad.Transpose(x[0], 2, 0, 1), ad.Transpose(x[0], 2, 0, 1))
	}, ins(rnd(-1, 1, 2, 3, 4))},
	{"concat", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Concat(1, x[0], x[1], x[0])) }, ins(rnd(-1, 1, 2, 3), rnd(-1, 1, 2, 2))},
	{"concat_axis0", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Concat(0, x[0], x[1])) }, ins(rnd(-1, 1, 2, 3), rnd(-1, 1, 1, 3))},
	{"slice", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Slice(x[0], 1, 1, 3)) }, ins(rnd(-1, 1, 2, 4, 3))},
	{"unslice", func(x []*ad.Var) *ad.Var { return ad.Square(ad.Unslice(x[0], 0, 1, 4)) }, ins(rnd(-1, 1, 2, 3))},
	{"matmul", func(x []*ad.Var) *ad.Var { return ad.MatMul(x[0], x[1]) }, ins(rnd(-1, 1, 3, 4), rnd(-1, 1, 4, 2))},
	{"matmul_ta", func(x []*ad.Var) *ad.Var { return ad.MatMulT(x[0], x[1], true, false) }, ins(rnd(-1, 1, 4, 3), rnd(-1, 1, 4, 2))},
	{"matmul_tb", func(x []*ad.Var) *ad.Var { return ad.MatMulT(x[0], x[1], false, true) }, ins(rnd(-1, 1, 3, 4), rnd(-1, 1, 2, 4))},
	{"matmul_ta_tb", func(x []*ad.Var) *ad.Var { return ad.MatMulT(x[0], x[1], true, true) }, ins(rnd(-1, 1, 4, 3), rnd(-1, 1, 2, 4))},
	{"matmul_batched", func(x []*ad.Var) *ad.Var { return ad.MatMul(x[0], x[1]) }, ins(rnd(-1, 1, 2, 3, 4), rnd(-1, 1, 2, 4, 2))},
	{"matmul_shared_b", func(x []*ad.Var) *ad.Var { return ad.MatMul(x[0], x[1]) }, ins(rnd(-1, 1, 2, 3, 4), rnd(-1, 1, 4, 2))},
	{"matmul_shared_a", func(x []*ad.Var) *ad.Var { return ad.MatMul(x[0], x[1]) }, ins(rnd(-1, 1, 3, 4), rnd(-1, 1, 2, 4, 2))},
	{"matmul_batched_ta_shared_b", func(x []*ad.Var) *ad.Var { return ad.MatMulT(x[0], x[1], true, true) }, ins(rnd(-1, 1, 2, 4, 3), rnd(-1, 1, 2, 4))},
	{"lerp", func(x []*ad.Var) *ad.Var {
		t := tensor.FromFloat64([]float64{0.2, 0.7, 0.5}, 3, 1)
		return ad.Square(ad.Lerp(x[0], x[1], t))
	}, ins(rnd(-1, 1, 3, 4), rnd(-1, 1, 3, 4))},
	{"mlp_tanh", func(x []*ad.Var) *ad.Var {
		h := ad.Tanh(ad.Add(ad.MatMul(x[0], x[1]), x[2]))
		return ad.Sum(ad.Square(h))
	}, ins(rnd(-1, 1, 3, 4), rnd(-1, 1, 4, 5), rnd(-1, 1, 5))},
}

// distinct returns values with no ties, so max has a unique argmax.
func distinct(shape ...int) func(*rand.Rand) *tensor.Tensor {
	return func(r *rand.Rand) *tensor.Tensor {
		t := tensor.New(tensor.Float64, shape...)
		perm := r.Perm(t.Len())
		for i, p := range perm {
			t.SetAt(i, float64(p)*0.1-1)
		}
		return t
	}
}

func TestOpsFirstOrder(t *testing.T) {
	for i, c := range opCases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			if err := gradcheck.Check(c.f, c.inputs(rng), &gradcheck.Options{Seed: uint64(i)}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOpsSecondOrder(t *testing.T) {
	for i, c := range opCases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 2))
			if err := gradcheck.CheckSecondOrder(c.f, c.inputs(rng), &gradcheck.Options{Seed: uint64(i)}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A wrong rule must be caught: the checker itself is tested against a
// deliberately broken derivative.
func TestCheckerCatchesWrongGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := gradcheck.Rand(rng, 0.5, 1, 3)
	// y = x·sqrt(x)·Detach(x)…: detaching a factor gives a wrong gradient of x³ᐟ²·x.
	f := func(v []*ad.Var) *ad.Var { return ad.Mul(ad.Sqrt(v[0]), ad.Detach(v[0])) }
	if err := gradcheck.Check(f, []*tensor.Tensor{x}, nil); err == nil {
		t.Fatal("checker accepted a wrong gradient")
	}
}

func TestGradUnusedInputIsZero(t *testing.T) {
	x := ad.Param(tensor.FromFloat64([]float64{1, 2}, 2))
	u := ad.Param(tensor.FromFloat64([]float64{3}, 1))
	g := ad.Grad(ad.Sum(ad.Square(x)), []*ad.Var{x, u}, nil)
	if g[0].Value.At(1) != 4 || g[1].Value.At(0) != 0 {
		t.Fatalf("got %v %v", g[0].Value, g[1].Value)
	}
}

func TestNoGradRecordsNothing(t *testing.T) {
	x := ad.Const(tensor.FromFloat64([]float64{1, 2}, 2))
	y := ad.Exp(ad.Square(x))
	if y.RequiresGrad() || y.Op() != "" {
		t.Fatal("an op on constants was recorded")
	}
}

// Double backprop through a gradient penalty, the WGAN-GP pattern: the
// gradient of (‖∇ₓD‖−1)² with respect to the critic weight w.
func TestGradientPenaltySecondOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	f := func(v []*ad.Var) *ad.Var {
		x, w1, w2 := v[0], v[1], v[2]
		d := ad.MatMul(ad.LeakyReLU(ad.MatMul(x, w1), 0.2), w2) // [B,1]
		gx := ad.Grad(ad.Sum(d), []*ad.Var{x}, &ad.GradOptions{CreateGraph: true})[0]
		norm := ad.Sqrt(ad.AddScalar(ad.Sum(ad.Square(gx), 1), 1e-12))
		return ad.Mean(ad.Square(ad.AddScalar(norm, -1)))
	}
	xs := []*tensor.Tensor{gradcheck.Rand(rng, -1, 1, 4, 3), gradcheck.Rand(rng, -1, 1, 3, 5), gradcheck.Rand(rng, -1, 1, 5, 1)}
	if err := gradcheck.Check(f, xs, nil); err != nil {
		t.Fatal(err)
	}
}
