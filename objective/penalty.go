package objective

import (
	"fmt"
	"math/rand/v2"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/tensor"
)

// penaltyEps is added under the square root of the squared gradient norm, so
// that the penalty's own gradient is finite (zero) where ∇D vanishes; PyTorch's
// norm defines its subgradient as zero there. Elsewhere it changes ‖∇‖ by at
// most ε/(2‖∇‖), far below float32 resolution for ‖∇‖ near 1.
const penaltyEps = 1e-12

// GradientPenalty returns the WGAN-GP gradient penalty, the third term of
// Eq. (3) of Gulrajani et al. (2017), without its weight λ:
//
//	x̂ₖ = α·wakeₖ + (1−α)·sleepₖ          for every input k (e.g. x and z)
//	‖∇‖_b = √( Σₖ Σ_f (∂D(x̂)_b / ∂x̂ₖ,bf)² )
//	P = 1/B · Σ_b (‖∇‖_b − 1)²
//
// Symbols: wake[k], sleep[k] = the k-th critic input on wake and sleep samples
// [B, ...] (same shapes); alpha = α [B, 1], one weight per sample shared by all
// inputs and broadcast over their trailing axes; critic = D, mapping the inputs
// to [B, 1] (or [B]). The norm is taken jointly over all inputs, as the
// gradient of D(x, z) with respect to the pair. Sign: loss the critic
// minimises (add λ·P to its loss).
//
// Estimator: one interpolate per sample pair; wake and sleep are detached, so
// the penalty's gradient flows only into the critic's weights; ∇D is taken with
// CreateGraph (double backprop). Deviations: ε = 1e-12 under the root (see
// penaltyEps).
//
// Panics if wake and sleep differ in count, shape or data type, if there are no
// inputs, or if alpha is not [B, 1] of their data type.
//
// See also InterpolationWeights.
func GradientPenalty(critic func(inputs []*ad.Var) *ad.Var, wake, sleep []*ad.Var, alpha *tensor.Tensor) *ad.Var {
	if len(wake) == 0 || len(wake) != len(sleep) {
		panic(fmt.Sprintf("objective: GradientPenalty with %d wake and %d sleep inputs", len(wake), len(sleep)))
	}
	b := wake[0].Dim(0)
	if alpha.Rank() != 2 || alpha.Dim(0) != b || alpha.Dim(1) != 1 {
		panic(fmt.Sprintf("objective: GradientPenalty alpha shape %v for batch %d, want [%d 1]", alpha.Shape(), b, b))
	}
	hats := make([]*ad.Var, len(wake))
	for k := range wake {
		w, s := wake[k], sleep[k]
		if !tensor.SameShape(w.Shape(), s.Shape()) || w.Rank() < 1 || w.Dim(0) != b {
			panic(fmt.Sprintf("objective: GradientPenalty input %d: wake %v, sleep %v, batch %d", k, w.Shape(), s.Shape(), b))
		}
		if w.DType() != s.DType() || w.DType() != alpha.DType() {
			panic(fmt.Sprintf("objective: GradientPenalty input %d: wake %s, sleep %s, alpha %s", k, w.DType(), s.DType(), alpha.DType()))
		}
		// α [B, 1] → [B, 1, …, 1] to broadcast over this input's trailing axes.
		shape := make([]int, w.Rank())
		for i := range shape {
			shape[i] = 1
		}
		shape[0] = b
		a := alpha.Reshape(shape...)
		hat := ad.Lerp(ad.Detach(w), ad.Detach(s), a) // x̂ₖ = α·wakeₖ + (1−α)·sleepₖ
		hats[k] = ad.Param(hat.Value)                 // a leaf: ∇D is taken with respect to it
	}
	d := critic(hats) // D(x̂) [B, 1]
	if d.Value.Len() != b {
		panic(fmt.Sprintf("objective: GradientPenalty critic output shape %v for batch %d", d.Shape(), b))
	}
	grads := ad.Grad(ad.Sum(d), hats, &ad.GradOptions{CreateGraph: true}) // ∂D_b/∂x̂ₖ,b (samples are independent)
	var sq *ad.Var                                                        // Σₖ Σ_f g² [B]
	for _, g := range grads {
		s := ad.Sum(ad.Reshape(ad.Square(g), b, -1), 1)
		if sq == nil {
			sq = s
		} else {
			sq = ad.Add(sq, s)
		}
	}
	norm := ad.Sqrt(ad.AddScalar(sq, penaltyEps))     // ‖∇‖_b
	return ad.Mean(ad.Square(ad.AddScalar(norm, -1))) // Eq. 3 (Gulrajani et al.), term 3 without λ
}

// InterpolationWeights returns the per-sample WGAN-GP weights α ~ U[0, 1) as
// a [batch, 1] tensor of type dt, drawn from rng.
func InterpolationWeights(rng *rand.Rand, dt tensor.DType, batch int) *tensor.Tensor {
	t := tensor.New(dt, batch, 1)
	if dt == tensor.Float32 {
		// Drawn in float32, so that rounding cannot produce 1.
		f := t.Float32s()
		for i := range f {
			f[i] = rng.Float32()
		}
		return t
	}
	f := t.Float64s()
	for i := range f {
		f[i] = rng.Float64()
	}
	return t
}
