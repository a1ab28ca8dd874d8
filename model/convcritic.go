package model

import (
	"fmt"
	"math/rand/v2"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

// Critic normalisations.
const (
	NormBatch = "batch" // batch normalisation after each convolution (Appendix A.1.5)
	NormNone  = "none"  // no normalisation (the WGAN-GP-safe ablation)
)

// ConvCritic is the convolutional Wasserstein critic of the Moving MNIST
// experiment (Appendix A.1.5): two convolutions, each followed by batch
// normalisation and LeakyReLU(0.2), then a linear scalar output.
//
//	x [B, C, S, S] → [B, K, S/2, S/2] → [B, 2K, S/4, S/4] → flatten: features [B, 2K·(S/4)²] → D [B, 1]
//
// Both convolutions have kernel 4, stride 2, padding 1 (the DCGAN layer) and
// no bias when followed by batch norm (its β takes that role). The features
// before the linear layer are the learned metric of the prediction loss
// (L_RECON; "the features before the linear layer are used as a metric").
//
// Batch normalisation and the gradient penalty. WGAN-GP penalises the norm of
// each sample's own gradient ∂D(x̂_b)/∂x̂_b, which presumes that D maps one
// input to one output. In training mode batch norm makes every output depend
// on the whole batch through its statistics, so the gradient of Σ_b D(x̂_b)
// that the penalty takes also carries the cross terms ∂D(x̂_b')/∂x̂_b;
// Gulrajani et al. (2017, Sec. 4) therefore recommend no batch norm in the
// critic (layer norm instead). The paper specifies batch norm, so NormBatch is
// the default and is differentiated exactly (double backprop through the
// batch statistics); NormNone is the ablation the WGAN-GP argument favours.
//
// See also MLPCritic.
type ConvCritic struct {
	Conv1, Conv2 *nn.Conv2d
	Norm1, Norm2 *nn.BatchNorm // nil with NormNone
	Out          *nn.Linear
	Slope        float64 // LeakyReLU negative slope, 0.2
}

// NewConvCritic returns a critic for inputs [B, in, size, size] whose first
// convolution has channels outputs (the second has twice as many). Panics on
// non-positive sizes, a size not divisible by 4, or an unknown norm.
func NewConvCritic(in, channels, size int, norm string, dt tensor.DType, rng *rand.Rand) *ConvCritic {
	if in <= 0 || channels <= 0 || size < 4 || size%4 != 0 || (norm != NormBatch && norm != NormNone) {
		panic(fmt.Sprintf("model: ConvCritic(in %d, channels %d, size %d, norm %q)", in, channels, size, norm))
	}
	p := tensor.ConvParams{Stride: 2, Pad: 1}
	c := &ConvCritic{
		Conv1: nn.NewConv2d(in, channels, 4, p, dt, rng),
		Conv2: nn.NewConv2d(channels, 2*channels, 4, p, dt, rng),
		Out:   nn.NewLinear(2*channels*(size/4)*(size/4), 1, dt, rng),
		Slope: 0.2,
	}
	if norm == NormBatch {
		c.Conv1.B, c.Conv2.B = nil, nil
		c.Norm1, c.Norm2 = nn.NewBatchNorm(channels, dt), nn.NewBatchNorm(2*channels, dt)
	}
	return c
}

// Features returns the activity before the linear layer, flattened, for x
// [B, C, S, S]: [B, 2K·(S/4)²]. training selects batch statistics (and
// updates the running ones) or the running statistics.
func (c *ConvCritic) Features(x *ad.Var, training bool) *ad.Var {
	h1 := c.layer(c.Conv1, c.Norm1, x, training)
	return ad.Flatten(c.layer(c.Conv2, c.Norm2, h1, training))
}

// layer is one hidden layer: the convolution, batch norm (unless nil),
// LeakyReLU.
func (c *ConvCritic) layer(conv *nn.Conv2d, norm *nn.BatchNorm, x *ad.Var, training bool) *ad.Var {
	if norm == nil {
		return conv.ForwardLeakyReLU(x, c.Slope)
	}
	return norm.ForwardLeakyReLU(conv.Forward(x), training, c.Slope)
}

// ForwardLayers returns D(x) and both hidden layers' activity, flattened,
// first to last (the last is Features): what L_RECON compares when it
// compares every layer.
func (c *ConvCritic) ForwardLayers(x *ad.Var, training bool) (d *ad.Var, hidden []*ad.Var) {
	h1 := c.layer(c.Conv1, c.Norm1, x, training)
	h2 := ad.Flatten(c.layer(c.Conv2, c.Norm2, h1, training))
	return c.Out.Forward(h2), []*ad.Var{ad.Flatten(h1), h2}
}

// Forward returns D(x) [B, 1].
func (c *ConvCritic) Forward(x *ad.Var, training bool) *ad.Var {
	return c.Out.Forward(c.Features(x, training))
}

// ForwardFeatures returns D(x) and the features it was computed from.
func (c *ConvCritic) ForwardFeatures(x *ad.Var, training bool) (d, features *ad.Var) {
	f := c.Features(x, training)
	return c.Out.Forward(f), f
}

// Parameters implements nn.Module: "conv1.weight", ["conv1.bias"],
// ["bn1.weight", "bn1.bias"], the same for layer 2, "out.weight", "out.bias".
func (c *ConvCritic) Parameters() []*nn.Parameter {
	ps := nn.Prefixed("conv1", c.Conv1.Parameters())
	if c.Norm1 != nil {
		ps = append(ps, nn.Prefixed("bn1", c.Norm1.Parameters())...)
	}
	ps = append(ps, nn.Prefixed("conv2", c.Conv2.Parameters())...)
	if c.Norm2 != nil {
		ps = append(ps, nn.Prefixed("bn2", c.Norm2.Parameters())...)
	}
	return append(ps, nn.Prefixed("out", c.Out.Parameters())...)
}

// Buffers returns the batch norms' running statistics ("bn1.running_mean",
// …), none with NormNone.
func (c *ConvCritic) Buffers() []*nn.Buffer {
	var bs []*nn.Buffer
	if c.Norm1 != nil {
		bs = append(bs, nn.PrefixedBuffers("bn1", c.Norm1.Buffers())...)
		bs = append(bs, nn.PrefixedBuffers("bn2", c.Norm2.Buffers())...)
	}
	return bs
}
