package nn

import (
	"fmt"
	"math"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/tensor"
)

// PixelNormEps is the ε of PixelNorm in Karras et al. (2017), used when the
// caller passes 0.
const PixelNormEps = 1e-8

// PixelNorm returns x divided by the root mean square of its channels at each
// position (Karras et al. 2017, "Progressive growing of GANs", Sec. 4.2; the
// divisive normalisation of the paper's CIFAR model):
//
//	y[b, c, …] = x[b, c, …] / √(mean_c' x[b, c', …]² + ε)
//
// x is [B, C] or [B, C, H, W] (any rank ≥ 2: axis 1 is the channel axis).
// eps = 0 means PixelNormEps. It has no parameters. Panics if x has rank < 2
// or eps < 0.
func PixelNorm(x *ad.Var, eps float64) *ad.Var {
	if len(x.Shape()) < 2 || eps < 0 {
		panic(fmt.Sprintf("nn: PixelNorm of shape %v with eps %g", x.Shape(), eps))
	}
	if eps == 0 {
		eps = PixelNormEps
	}
	return ad.Normalize(x, tensor.NormPerPosition, eps) // x / √(mean_c x² + ε) as one op
}

// Buffer is a named tensor of a layer's state that is not trained by
// gradients but belongs in a checkpoint (BatchNorm's running statistics).
type Buffer struct {
	Name string
	T    *tensor.Tensor
}

// PrefixedBuffers returns bs with prefix+"." before each name.
func PrefixedBuffers(prefix string, bs []*Buffer) []*Buffer {
	out := make([]*Buffer, len(bs))
	for i, b := range bs {
		out[i] = &Buffer{Name: prefix + "." + b.Name, T: b.T}
	}
	return out
}

// BatchNorm is batch normalisation (Ioffe & Szegedy 2015) with PyTorch's
// nn.BatchNorm1d/2d semantics, per channel c (axis 1):
//
//	training: y = (x − μ_B) / √(σ²_B + ε) · γ + β   (μ_B, σ²_B: batch mean, biased variance)
//	          running_mean ← (1 − m)·running_mean + m·μ_B
//	          running_var  ← (1 − m)·running_var  + m·σ²_B·n/(n − 1)
//	eval:     y = (x − running_mean) / √(running_var + ε) · γ + β
//
// where n is the number of values per channel (B, or B·H·W). x is [B, C] or
// [B, C, H, W]. γ = W and β = B, both [C], start at 1 and 0.
//
// Training mode gives gradients through the batch statistics, to any order.
// The running statistics are updated outside the graph, on every training
// forward (as in PyTorch: a WGAN-GP critic run on real, fake and interpolated
// batches updates them three times). See also PixelNorm.
type BatchNorm struct {
	W, B                    *ad.Var        // γ, β [C]
	RunningMean, RunningVar *tensor.Tensor // [C], start at 0 and 1
	Momentum                float64        // m; PyTorch's default 0.1
	Eps                     float64        // ε; PyTorch's default 1e-5
	NumBatchesTracked       int            // training forwards so far, as PyTorch's num_batches_tracked
}

// NewBatchNorm returns a BatchNorm over the given number of channels with
// PyTorch's defaults. Panics if channels ≤ 0.
func NewBatchNorm(channels int, dt tensor.DType) *BatchNorm {
	if channels <= 0 {
		panic(fmt.Sprintf("nn: BatchNorm(%d)", channels))
	}
	return &BatchNorm{
		W:           ad.Param(tensor.Full(dt, 1, channels)),
		B:           ad.Param(tensor.New(dt, channels)),
		RunningMean: tensor.New(dt, channels),
		RunningVar:  tensor.Full(dt, 1, channels),
		Momentum:    0.1,
		Eps:         1e-5,
	}
}

// Forward normalises x [B, C] or [B, C, H, W], with batch statistics when
// training (and then updates the running statistics) or with the running
// statistics otherwise. Panics on another shape, or when training with one
// value per channel (PyTorch refuses that too).
func (bn *BatchNorm) Forward(x *ad.Var, training bool) *ad.Var {
	return ad.ChannelAffine(bn.normalize(x, training), bn.W, bn.B)
}

// ForwardLeakyReLU returns LeakyReLU(Forward(x, training), slope) with γ, β
// and the activation as one op (slope 0: ReLU). See
// autodiff.ChannelAffineLeakyReLU.
func (bn *BatchNorm) ForwardLeakyReLU(x *ad.Var, training bool, slope float64) *ad.Var {
	return ad.ChannelAffineLeakyReLU(bn.normalize(x, training), bn.W, bn.B, slope)
}

// normalize returns x̂ = (x − μ)/√(σ² + ε) with the batch's statistics
// (updating the running ones) or the running statistics.
func (bn *BatchNorm) normalize(x *ad.Var, training bool) *ad.Var {
	shape := x.Shape()
	c := bn.W.Dim(0)
	if (len(shape) != 2 && len(shape) != 4) || shape[1] != c {
		panic(fmt.Sprintf("nn: BatchNorm(%d) of shape %v", c, shape))
	}
	stat := []int{1, c} // shape of the per-channel statistics, broadcastable to x
	if len(shape) == 4 {
		stat = []int{1, c, 1, 1}
	}
	var xhat *ad.Var
	if training {
		n := x.Value.Len() / c
		if n < 2 {
			panic(fmt.Sprintf("nn: BatchNorm in training needs more than one value per channel, got shape %v", shape))
		}
		// (x − μ_B)/√(σ²_B + ε) as one op; mean and variance [1, C, …]
		var mean, variance *tensor.Tensor
		xhat, mean, variance = ad.NormalizeMoments(x, tensor.NormPerChannel, bn.Eps)
		bn.updateRunning(mean, variance, n)
	} else {
		invStd := tensor.New(x.DType(), stat...)
		for i := 0; i < c; i++ {
			invStd.SetAt(i, 1/math.Sqrt(bn.RunningVar.At(i)+bn.Eps))
		}
		xc := ad.Sub(x, ad.Const(bn.RunningMean.Reshape(stat...)))
		xhat = ad.Mul(xc, ad.Const(invStd))
	}
	return xhat
}

func (bn *BatchNorm) updateRunning(mean, variance *tensor.Tensor, n int) {
	m := bn.Momentum
	unbias := float64(n) / float64(n-1)
	for i := 0; i < bn.RunningMean.Len(); i++ {
		bn.RunningMean.SetAt(i, (1-m)*bn.RunningMean.At(i)+m*mean.At(i))
		bn.RunningVar.SetAt(i, (1-m)*bn.RunningVar.At(i)+m*variance.At(i)*unbias)
	}
	bn.NumBatchesTracked++
}

// Parameters implements Module: "weight" (γ) and "bias" (β).
func (bn *BatchNorm) Parameters() []*Parameter {
	return []*Parameter{{Name: "weight", V: bn.W}, {Name: "bias", V: bn.B}}
}

// Buffers returns the running statistics, "running_mean" and "running_var"
// (PyTorch's state-dict names), sharing storage with the layer: a checkpoint
// loader may copy into them.
func (bn *BatchNorm) Buffers() []*Buffer {
	return []*Buffer{{Name: "running_mean", T: bn.RunningMean}, {Name: "running_var", T: bn.RunningVar}}
}
