package autodiff_test

import (
	"math/rand/v2"
	"testing"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/autodiff/gradcheck"
	"github.com/wakesleep/wakesleep/tensor"
)

func cp(stride, pad int) tensor.ConvParams { return tensor.ConvParams{Stride: stride, Pad: pad} }

// convCases covers the three convolution ops under several strides and
// paddings. The ops are bilinear, so a square or tanh on top makes each
// input's second derivative non-trivial, not only the cross terms.
var convCases = []opCase{
	{"conv2d_k3_s1_p1", func(x []*ad.Var) *ad.Var {
		return ad.Square(ad.Conv2d(x[0], x[1], cp(1, 1)))
	}, ins(rnd(-1, 1, 2, 3, 5, 6), rnd(-0.5, 0.5, 4, 3, 3, 3))},
	{"conv2d_k4_s2_p1", func(x []*ad.Var) *ad.Var {
		return ad.Tanh(ad.Conv2d(x[0], x[1], cp(2, 1)))
	}, ins(rnd(-1, 1, 2, 2, 7, 6), rnd(-0.5, 0.5, 3, 2, 4, 4))},
	{"conv2d_k3_s2_p0", func(x []*ad.Var) *ad.Var {
		return ad.Square(ad.Conv2d(x[0], x[1], cp(2, 0)))
	}, ins(rnd(-1, 1, 2, 2, 7, 7), rnd(-0.5, 0.5, 2, 2, 3, 3))},
	{"conv2d_k2x3_s3_p2", func(x []*ad.Var) *ad.Var {
		return ad.Tanh(ad.Conv2d(x[0], x[1], cp(3, 2)))
	}, ins(rnd(-1, 1, 2, 2, 6, 5), rnd(-0.5, 0.5, 3, 2, 2, 3))},
	{"conv_transpose2d_k4_s2_p1", func(x []*ad.Var) *ad.Var {
		return ad.Square(ad.ConvTranspose2d(x[0], x[1], cp(2, 1), 6, 8)) // (3−1)·2 − 2 + 4 = 6
	}, ins(rnd(-1, 1, 2, 3, 3, 4), rnd(-0.5, 0.5, 3, 2, 4, 4))},
	{"conv_transpose2d_k3_s2_p1_outpad1", func(x []*ad.Var) *ad.Var {
		return ad.Tanh(ad.ConvTranspose2d(x[0], x[1], cp(2, 1), 6, 6)) // (3−1)·2 − 2 + 3 + 1 = 6
	}, ins(rnd(-1, 1, 2, 2, 3, 3), rnd(-0.5, 0.5, 2, 3, 3, 3))},
	{"conv_transpose2d_k3_s1_p0", func(x []*ad.Var) *ad.Var {
		return ad.Square(ad.ConvTranspose2d(x[0], x[1], cp(1, 0), 6, 5))
	}, ins(rnd(-1, 1, 1, 2, 4, 3), rnd(-0.5, 0.5, 2, 2, 3, 3))},
	{"conv2d_weight_grad_k3_s1_p1", func(x []*ad.Var) *ad.Var {
		return ad.Square(ad.Conv2dWeightGrad(x[0], x[1], cp(1, 1), 3, 3))
	}, ins(rnd(-1, 1, 2, 2, 5, 5), rnd(-0.5, 0.5, 2, 3, 5, 5))},
	{"conv2d_weight_grad_k4_s2_p1", func(x []*ad.Var) *ad.Var {
		return ad.Tanh(ad.Conv2dWeightGrad(x[0], x[1], cp(2, 1), 4, 4))
	}, ins(rnd(-1, 1, 2, 2, 7, 6), rnd(-0.5, 0.5, 2, 3, 3, 3))},
	{"conv2d_weight_grad_k3_s2_p0", func(x []*ad.Var) *ad.Var {
		return ad.Square(ad.Conv2dWeightGrad(x[0], x[1], cp(2, 0), 3, 3))
	}, ins(rnd(-1, 1, 2, 2, 7, 7), rnd(-0.5, 0.5, 2, 2, 3, 3))},
	// Down and back up, as an encoder/decoder pair: the two ops share w.
	{"conv_then_transpose", func(x []*ad.Var) *ad.Var {
		h := ad.Tanh(ad.Conv2d(x[0], x[1], cp(2, 1)))
		return ad.Sum(ad.Square(ad.ConvTranspose2d(h, x[1], cp(2, 1), 6, 6)))
	}, ins(rnd(-1, 1, 2, 2, 6, 6), rnd(-0.5, 0.5, 3, 2, 4, 4))},
}

func TestConvFirstOrder(t *testing.T) {
	t.Parallel()
	for i, c := range convCases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 11))
			if err := gradcheck.Check(c.f, c.inputs(rng), &gradcheck.Options{Seed: uint64(i)}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConvSecondOrder(t *testing.T) {
	t.Parallel()
	for i, c := range convCases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 12))
			if err := gradcheck.CheckSecondOrder(c.f, c.inputs(rng), &gradcheck.Options{Seed: uint64(i)}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The gradient of a conv layer is built from the closed set of conv ops, so
// a gradient of a gradient never leaves it.
func TestConvGradOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	x := ad.Param(gradcheck.Rand(rng, -1, 1, 2, 2, 6, 6))
	w := ad.Param(gradcheck.Rand(rng, -1, 1, 3, 2, 4, 4))
	y := ad.Sum(ad.Square(ad.Conv2d(x, w, cp(2, 1))))
	g := ad.Grad(y, []*ad.Var{x, w}, &ad.GradOptions{CreateGraph: true})
	if g[0].Op() != "conv_transpose2d" || g[1].Op() != "conv2d_weight_grad" {
		t.Fatalf("gradient ops %q, %q", g[0].Op(), g[1].Op())
	}
}

// WGAN-GP through a convolutional critic (conv → LeakyReLU → conv → flatten
// → linear): the penalty (‖∇ₓD(x)‖ − 1)² needs the critic's input gradient
// as a differentiable function of its weights.
func TestConvGradientPenalty(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	f := func(v []*ad.Var) *ad.Var {
		x, w1, b1, w2, w3 := v[0], v[1], v[2], v[3], v[4]
		h := ad.Conv2d(x, w1, cp(2, 1))                               // [B, 4, 3, 3]
		h = ad.LeakyReLU(ad.Add(h, ad.Reshape(b1, 1, -1, 1, 1)), 0.2) //
		h = ad.Conv2d(h, w2, cp(1, 0))                                // [B, 5, 1, 1]
		d := ad.MatMul(ad.Flatten(h), w3)                             // [B, 1]
		gx := ad.Grad(ad.Sum(d), []*ad.Var{x}, &ad.GradOptions{CreateGraph: true})[0]
		norm := ad.Sqrt(ad.AddScalar(ad.Sum(ad.Square(gx), 1, 2, 3), 1e-12)) // [B]
		return ad.Mean(ad.Square(ad.AddScalar(norm, -1)))
	}
	xs := []*tensor.Tensor{
		gradcheck.Rand(rng, -1, 1, 3, 2, 6, 6),
		gradcheck.Rand(rng, -0.5, 0.5, 4, 2, 4, 4),
		gradcheck.Rand(rng, -0.5, 0.5, 4),
		gradcheck.Rand(rng, -0.5, 0.5, 5, 4, 3, 3),
		gradcheck.Rand(rng, -1, 1, 5, 1),
	}
	if err := gradcheck.Check(f, xs, nil); err != nil {
		t.Fatal(err)
	}
}
