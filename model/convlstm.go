package model

import (
	"fmt"
	"math/rand/v2"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

// ConvLSTM is a convolutional LSTM cell (Shi et al. 2015, "Convolutional
// LSTM Network: A Machine Learning Approach for Precipitation Nowcasting",
// Eq. 3, without the peephole terms) made stochastic as in Appendix A.1.5 of
// the paper: the cell's output parameterises a diagonal Gaussian over the
// hidden state, which is sampled (reparameterised) at every update.
//
//	[i, f, g, o] = W ∗ concat(x_t, h_{t−1}) + b          (one K×K convolution, size-preserving)
//	c_t = σ(f) ⊙ c_{t−1} + σ(i) ⊙ tanh(g)
//	m_t = σ(o) ⊙ tanh(c_t)                                 (the deterministic LSTM output)
//	[μ_t, s_t] = V ∗ m_t + v                               (1×1 convolution: the Gaussian head)
//	h_t = μ_t + softplus(s_t) ⊙ ε_t,  ε_t ~ N(0, I)
//
//	x_t [B, In, H, W], h, c, μ, σ [B, Hidden, H, W]
//
// The sampled h_t is both the cell's output and the hidden state fed back at
// the next step ("hidden states transfer stochastically", Fig. 5B); the cell
// state c_t stays deterministic. Because the sample passes through the next
// step's nonlinear gates, the distribution of h_t given the inputs is not
// Gaussian beyond one step.
//
// Deviations and open points: no peepholes (most ConvLSTM implementations
// drop them); the 1×1 head gives the mean and the pre-softplus standard
// deviation (the paper says only that "the output parameterizes a diagonal
// Gaussian"); weights use PyTorch's default initialisation.
//
// See also GaussianLayer, the dense stochastic unit of the MNIST model.
type ConvLSTM struct {
	Gates  *nn.Conv2d // In+Hidden → 4·Hidden, kernel K, stride 1, pad K/2; gates in the order i, f, g, o
	Head   *nn.Conv2d // Hidden → 2·Hidden, 1×1: mean, then pre-softplus standard deviation
	In     int
	Hidden int
}

// ConvLSTMState is the recurrent state of a ConvLSTM: the sampled hidden
// state H and the cell state C, both [B, Hidden, H, W]. A nil H or C means
// zeros.
type ConvLSTMState struct {
	H, C *ad.Var
}

// NewConvLSTM returns a cell with PyTorch's default initialisation. Panics if
// a size is not positive or the kernel is even (odd kernels keep the spatial
// size with pad K/2).
func NewConvLSTM(in, hidden, kernel int, dt tensor.DType, rng *rand.Rand) *ConvLSTM {
	if in <= 0 || hidden <= 0 || kernel <= 0 || kernel%2 == 0 {
		panic(fmt.Sprintf("model: ConvLSTM(in %d, hidden %d, kernel %d): sizes must be positive and the kernel odd", in, hidden, kernel))
	}
	return &ConvLSTM{
		Gates:  nn.NewConv2d(in+hidden, 4*hidden, kernel, tensor.ConvParams{Stride: 1, Pad: kernel / 2}, dt, rng),
		Head:   nn.NewConv2d(hidden, 2*hidden, 1, tensor.ConvParams{Stride: 1}, dt, rng),
		In:     in,
		Hidden: hidden,
	}
}

// Moments runs the deterministic part of a step: it returns the mean and
// standard deviation of the Gaussian over the next hidden state and the new
// cell state, given the input x [B, In, H, W] and the state s.
// Panics if x does not have In channels.
func (l *ConvLSTM) Moments(x *ad.Var, s ConvLSTMState) (mean, std, c *ad.Var) {
	ms, c := l.head(x, s)
	n := l.Hidden
	return ad.Slice(ms, 1, 0, n), ad.Softplus(ad.Slice(ms, 1, n, 2*n)), c
}

// head returns the Gaussian head's output [B, 2·Hidden, H, W] (the mean,
// then the pre-softplus standard deviation) and the new cell state.
func (l *ConvLSTM) head(x *ad.Var, s ConvLSTMState) (ms, c *ad.Var) {
	if x.Rank() != 4 || x.Dim(1) != l.In {
		panic(fmt.Sprintf("model: ConvLSTM with %d input channels given shape %v", l.In, x.Shape()))
	}
	b, hh, ww := x.Dim(0), x.Dim(2), x.Dim(3)
	h, cPrev := s.H, s.C
	if h == nil {
		h = ad.Const(tensor.New(x.DType(), b, l.Hidden, hh, ww))
	}
	a := l.Gates.Forward(ad.Concat(1, x, h)) // [B, 4·Hidden, H, W]
	c, m := ad.LSTMCell(a, cPrev)            // the gates, c and m in two fused ops
	return l.Head.Forward(m), c
}

// StepNoise takes one step with the given standard normal noise ε
// [B, Hidden, H, W] and returns the new state (H the sample μ + σ·ε).
func (l *ConvLSTM) StepNoise(x *ad.Var, s ConvLSTMState, eps *tensor.Tensor) ConvLSTMState {
	ms, c := l.head(x, s)
	return ConvLSTMState{H: sampleChannels(ms, eps), C: c}
}

// Step takes one step with noise drawn from rng (as Reparameterize draws
// it; a nil rng gives the mean).
func (l *ConvLSTM) Step(x *ad.Var, s ConvLSTMState, rng *rand.Rand) ConvLSTMState {
	ms, c := l.head(x, s)
	if rng == nil {
		return ConvLSTMState{H: ad.Slice(ms, 1, 0, l.Hidden), C: c}
	}
	eps := tensor.RandNormal(rng, ms.DType(), ms.Dim(0), l.Hidden, ms.Dim(2), ms.Dim(3))
	return ConvLSTMState{H: sampleChannels(ms, eps), C: c}
}

// sampleChannels returns μ + softplus(s)·ε for ms = [μ, s] along the
// channels [B, 2N, H, W] and ε [B, N, H, W]: per sample, μ and s are the
// two halves of the flattened row, so this is ad.GaussianSample of the
// rows, bit for bit Add(Slice, Mul(Softplus(Slice), ε)) in one op.
func sampleChannels(ms *ad.Var, eps *tensor.Tensor) *ad.Var {
	b := ms.Dim(0)
	return ad.Reshape(ad.GaussianSample(ad.Reshape(ms, b, -1), eps.Reshape(b, -1)), eps.Shape()...)
}

// Parameters implements nn.Module: "gates.weight", "gates.bias",
// "head.weight", "head.bias".
func (l *ConvLSTM) Parameters() []*nn.Parameter {
	return append(nn.Prefixed("gates", l.Gates.Parameters()), nn.Prefixed("head", l.Head.Parameters())...)
}

// SpaceToDepth folds p×p patches into channels, as Shi et al. (2015) feed
// 64×64 Moving MNIST frames to their ConvLSTM as 16×16×16 tensors:
//
//	x [B, C, H, W] → [B, C·p², H/p, W/p],  out[b, c·p² + u·p + v, i, j] = x[b, c, i·p + u, j·p + v]
//
// It is a permutation of the elements (differentiable, no parameters); p = 1
// returns x. Panics if H or W is not a multiple of p. See also DepthToSpace.
func SpaceToDepth(x *ad.Var, p int) *ad.Var {
	if p == 1 {
		return x
	}
	b, c, h, w := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	if p <= 0 || h%p != 0 || w%p != 0 {
		panic(fmt.Sprintf("model: SpaceToDepth(%d) of shape %v", p, x.Shape()))
	}
	r := ad.Reshape(x, b, c, h/p, p, w/p, p) // [B, C, i, u, j, v]
	t := ad.Transpose(r, 0, 1, 3, 5, 2, 4)   // [B, C, u, v, i, j]
	return ad.Reshape(t, b, c*p*p, h/p, w/p)
}

// DepthToSpace is the inverse of SpaceToDepth:
//
//	x [B, C·p², H, W] → [B, C, H·p, W·p]
//
// Panics if the channels are not a multiple of p².
func DepthToSpace(x *ad.Var, p int) *ad.Var {
	if p == 1 {
		return x
	}
	b, cp, h, w := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	if p <= 0 || cp%(p*p) != 0 {
		panic(fmt.Sprintf("model: DepthToSpace(%d) of shape %v", p, x.Shape()))
	}
	c := cp / (p * p)
	r := ad.Reshape(x, b, c, p, p, h, w)   // [B, C, u, v, i, j]
	t := ad.Transpose(r, 0, 1, 4, 2, 5, 3) // [B, C, i, u, j, v]
	return ad.Reshape(t, b, c, h*p, w*p)
}
