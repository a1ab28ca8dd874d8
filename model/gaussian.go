// Package model holds the networks of the paper's experiments: the inference
// (recognition, bottom-up) and generation (top-down) networks and the critics
// that compare their activity.
//
// See Benjamin & Kording, "Learning to infer in recurrent biological
// networks", Appendix A.1.3 (MNIST).
package model

import (
	"math"
	"math/rand/v2"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

// GaussianLayer is a stochastic unit: a one-hidden-layer network whose output
// gives the mean and standard deviation of a diagonal Gaussian, sampled with
// the reparameterisation trick (Kingma & Welling 2013):
//
//	h = ReLU(W₁·in + b₁);  [μ, s] = W₂·h + b₂;  σ = softplus(s);  out = μ + σ·ε, ε ~ N(0, I)
//
//	in [B, In] → out [B, Out];  hidden [B, Hidden]
//
// The first half of the second layer's outputs is the mean, the second half
// the pre-softplus standard deviation (the paper does not say which half is
// which; it does not matter for learning).
type GaussianLayer struct {
	Hidden *nn.Linear // In → Hidden
	Out    *nn.Linear // Hidden → 2·Out
	// MaxStd, when > 0, bounds σ: σ = MaxStd·sigmoid(s) instead of
	// softplus(s) (an open point of the paper: how σ is kept positive).
	MaxStd float64
}

// NewGaussianLayer returns a GaussianLayer with PyTorch's default init.
func NewGaussianLayer(in, hidden, out int, dt tensor.DType, rng *rand.Rand) *GaussianLayer {
	return &GaussianLayer{
		Hidden: nn.NewLinear(in, hidden, dt, rng),
		Out:    nn.NewLinear(hidden, 2*out, dt, rng),
	}
}

// SetInitStd sets the bias of every standard-deviation output to
// softplus⁻¹(std), so that σ starts near std (the weights add a small
// input-dependent part). std ≤ 0 leaves PyTorch's init (σ ≈ 0.69).
func (g *GaussianLayer) SetInitStd(std float64) {
	if std <= 0 {
		return
	}
	b := stdBias(std, g.MaxStd)
	n := g.Out.B.Value.Len() / 2
	for j := n; j < 2*n; j++ {
		g.Out.B.Value.SetAt(j, b)
	}
}

// stdBias returns the pre-activation s whose σ is std: softplus⁻¹(std), or
// the logit of std/maxStd when σ = maxStd·sigmoid(s) (maxStd > 0).
func stdBias(std, maxStd float64) float64 {
	if maxStd > 0 {
		r := std / maxStd
		return math.Log(r / (1 - r)) // maxStd·sigmoid(b) = std
	}
	return math.Log(math.Expm1(std)) // softplus(b) = std
}

// stdOf maps the pre-activation s to σ: softplus(s), or maxStd·sigmoid(s)
// when maxStd > 0 (the open point of how σ is kept positive, and bounded).
func stdOf(s *ad.Var, maxStd float64) *ad.Var {
	if maxStd > 0 {
		return ad.Scale(ad.Sigmoid(s), maxStd)
	}
	return ad.Softplus(s)
}

// Moments returns the mean and standard deviation for input x [B, In].
func (g *GaussianLayer) Moments(x *ad.Var) (mean, std *ad.Var) {
	o := g.params(x) // [B, 2·Out]
	n := o.Dim(1) / 2
	return ad.Slice(o, 1, 0, n), g.std(ad.Slice(o, 1, n, 2*n))
}

// std maps the pre-activation s to σ: softplus(s), or MaxStd·sigmoid(s).
func (g *GaussianLayer) std(s *ad.Var) *ad.Var { return stdOf(s, g.MaxStd) }

// params returns [μ, s] [B, 2·Out], the mean and pre-softplus std.
func (g *GaussianLayer) params(x *ad.Var) *ad.Var {
	h := g.Hidden.ForwardLeakyReLU(x, 0) // ReLU
	return g.Out.Forward(h)
}

// Sample draws a reparameterised sample given x [B, In], with noise from rng.
// It computes Reparameterize(Moments(x)) (same values, same draws from rng)
// as one fused op.
func (g *GaussianLayer) Sample(x *ad.Var, rng *rand.Rand) *ad.Var {
	o := g.params(x)
	eps := tensor.RandNormal(rng, o.DType(), o.Dim(0), o.Dim(1)/2)
	if g.MaxStd > 0 {
		n := o.Dim(1) / 2
		return ad.Add(ad.Slice(o, 1, 0, n), ad.Mul(g.std(ad.Slice(o, 1, n, 2*n)), ad.Const(eps)))
	}
	return ad.GaussianSample(o, eps)
}

// Reparameterize returns μ + σ·ε with ε ~ N(0, I) drawn from rng: a sample
// whose gradient flows into μ and σ. A nil rng gives μ itself (no noise: the
// deterministic baseline of the Moving MNIST experiment).
func Reparameterize(mean, std *ad.Var, rng *rand.Rand) *ad.Var {
	if rng == nil {
		return mean
	}
	eps := tensor.RandNormal(rng, mean.DType(), mean.Shape()...)
	return ad.Add(mean, ad.Mul(std, ad.Const(eps)))
}

// Parameters implements nn.Module.
func (g *GaussianLayer) Parameters() []*nn.Parameter {
	return append(nn.Prefixed("hidden", g.Hidden.Parameters()), nn.Prefixed("out", g.Out.Parameters())...)
}

// RecurrentStochastic is one direction (inference or generation) of the
// MNIST model of Sec. 5.1: a stochastic map followed by nonlinear stochastic
// recurrence whose sample is merged with the running state by arithmetic mean:
//
//	s₀ = sample(First(in));  s_{k+1} = (s_k + sample(Recur(s_k))) / 2,  k = 0 … Steps−1
//
// Because of the nonlinearity and the merge, the distribution of the output
// given the input is not Gaussian, so no likelihood is tractable.
type RecurrentStochastic struct {
	First *GaussianLayer // In → Out
	Recur *GaussianLayer // Out → Out
	Steps int            // recurrent steps (the paper's text reads as 1)
}

// Forward returns the final state for input x [B, In] → [B, Out].
func (r *RecurrentStochastic) Forward(x *ad.Var, rng *rand.Rand) *ad.Var {
	s := r.First.Sample(x, rng)
	for k := 0; k < r.Steps; k++ {
		s = ad.Scale(ad.Add(s, r.Recur.Sample(s, rng)), 0.5)
	}
	return s
}

// Mean returns the final state with every Gaussian unit replaced by its mean
// (no sampling noise): s₀ = μ(First(in)), s_{k+1} = (s_k + μ(Recur(s_k))) / 2.
func (r *RecurrentStochastic) Mean(x *ad.Var) *ad.Var {
	s, _ := r.First.Moments(x)
	for k := 0; k < r.Steps; k++ {
		m, _ := r.Recur.Moments(s)
		s = ad.Scale(ad.Add(s, m), 0.5)
	}
	return s
}

// Trajectory returns every state s₀ … s_Steps, for studies of the dynamics.
func (r *RecurrentStochastic) Trajectory(x *ad.Var, rng *rand.Rand) []*ad.Var {
	s := r.First.Sample(x, rng)
	out := []*ad.Var{s}
	for k := 0; k < r.Steps; k++ {
		s = ad.Scale(ad.Add(s, r.Recur.Sample(s, rng)), 0.5)
		out = append(out, s)
	}
	return out
}

// Parameters implements nn.Module.
func (r *RecurrentStochastic) Parameters() []*nn.Parameter {
	return append(nn.Prefixed("first", r.First.Parameters()), nn.Prefixed("recur", r.Recur.Parameters())...)
}
