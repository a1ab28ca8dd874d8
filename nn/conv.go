package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/tensor"
)

// Conv2d is a 2-D convolution layer with bias, PyTorch's nn.Conv2d with a
// square kernel (no groups or dilation):
//
//	x [B, C, H, W] → y [B, O, Ho, Wo],  Ho = ⌊(H + 2·pad − K) / stride⌋ + 1
//	W [O, C, K, K], b [O]
//
// B may be set to nil for a layer without bias (as before a BatchNorm); it
// then has no "bias" parameter. See also ConvTranspose2d, Linear.
type Conv2d struct {
	W, B   *ad.Var
	Params tensor.ConvParams
}

// NewConv2d returns a Conv2d layer with PyTorch's default initialisation,
// W, b ~ U(−1/√(C·K·K), 1/√(C·K·K)) (kaiming_uniform_ with a = √5 gives this
// bound for W). Panics on non-positive sizes or negative stride or padding.
func NewConv2d(in, out, k int, p tensor.ConvParams, dt tensor.DType, rng *rand.Rand) *Conv2d {
	if in <= 0 || out <= 0 || k <= 0 || p.Stride < 0 || p.Pad < 0 {
		panic(fmt.Sprintf("nn: Conv2d(%d, %d, kernel %d, stride %d, pad %d)", in, out, k, p.Stride, p.Pad))
	}
	bound := 1 / math.Sqrt(float64(in*k*k))
	return &Conv2d{
		W:      ad.Param(tensor.RandUniform(rng, dt, -bound, bound, out, in, k, k)),
		B:      ad.Param(tensor.RandUniform(rng, dt, -bound, bound, out)),
		Params: p,
	}
}

// Forward applies the layer to x [B, C, H, W].
func (l *Conv2d) Forward(x *ad.Var) *ad.Var {
	y := ad.Conv2d(x, l.W, l.Params)
	return addChannelBias(y, l.B)
}

// ForwardLeakyReLU returns LeakyReLU(Forward(x), slope) with the bias and
// the activation as one op (slope 0: ReLU). See autodiff.ChannelAffineLeakyReLU.
func (l *Conv2d) ForwardLeakyReLU(x *ad.Var, slope float64) *ad.Var {
	return ad.ChannelAffineLeakyReLU(ad.Conv2d(x, l.W, l.Params), nil, l.B, slope)
}

// Parameters implements Module: "weight" and, unless B is nil, "bias".
func (l *Conv2d) Parameters() []*Parameter {
	return weightAndBias(l.W, l.B)
}

// ConvTranspose2d is a transposed 2-D convolution layer with bias, PyTorch's
// nn.ConvTranspose2d with a square kernel (no groups or dilation):
//
//	x [B, In, H, W] → y [B, Out, Ho, Wo],  Ho = (H − 1)·stride − 2·pad + K + OutputPadding
//	W [In, Out, K, K] (PyTorch's layout), b [Out]
//
// It is the adjoint of a Conv2d from Out to In channels with the same kernel,
// stride and padding. B may be nil. See also Conv2d.
type ConvTranspose2d struct {
	W, B          *ad.Var
	Params        tensor.ConvParams
	OutputPadding int // extra rows and columns at the bottom and right, < stride
}

// NewConvTranspose2d returns a ConvTranspose2d layer with PyTorch's default
// initialisation: W, b ~ U(−1/√(Out·K·K), 1/√(Out·K·K)), because PyTorch
// computes the fan-in of the [In, Out, K, K] weight from its second axis.
// Panics on non-positive sizes, negative stride or padding, or an output
// padding not below the stride (PyTorch's rule).
func NewConvTranspose2d(in, out, k int, p tensor.ConvParams, outputPadding int, dt tensor.DType, rng *rand.Rand) *ConvTranspose2d {
	if in <= 0 || out <= 0 || k <= 0 || p.Stride < 0 || p.Pad < 0 || outputPadding < 0 || outputPadding >= p.StrideOrOne() {
		panic(fmt.Sprintf("nn: ConvTranspose2d(%d, %d, kernel %d, stride %d, pad %d, output padding %d)",
			in, out, k, p.Stride, p.Pad, outputPadding))
	}
	bound := 1 / math.Sqrt(float64(out*k*k))
	return &ConvTranspose2d{
		W:             ad.Param(tensor.RandUniform(rng, dt, -bound, bound, in, out, k, k)),
		B:             ad.Param(tensor.RandUniform(rng, dt, -bound, bound, out)),
		Params:        p,
		OutputPadding: outputPadding,
	}
}

// OutSize returns the output height (or width) for an input height h:
// (h − 1)·stride − 2·pad + K + OutputPadding. Panics if it is not positive.
func (l *ConvTranspose2d) OutSize(h int) int {
	n := (h-1)*l.Params.StrideOrOne() - 2*l.Params.Pad + l.W.Dim(2) + l.OutputPadding
	if n <= 0 {
		panic(fmt.Sprintf("nn: ConvTranspose2d of height %d gives height %d", h, n))
	}
	return n
}

// Forward applies the layer to x [B, In, H, W].
func (l *ConvTranspose2d) Forward(x *ad.Var) *ad.Var {
	y := ad.ConvTranspose2d(x, l.W, l.Params, l.OutSize(x.Dim(2)), l.OutSize(x.Dim(3)))
	return addChannelBias(y, l.B)
}

// Parameters implements Module: "weight" and, unless B is nil, "bias".
func (l *ConvTranspose2d) Parameters() []*Parameter {
	return weightAndBias(l.W, l.B)
}

// addChannelBias adds b [C] to every position of y [B, C, H, W]; nil b adds
// nothing. The same op as ForwardLeakyReLU's, without the activation.
func addChannelBias(y, b *ad.Var) *ad.Var {
	if b == nil {
		return y
	}
	return ad.ChannelAffine(y, nil, b)
}

func weightAndBias(w, b *ad.Var) []*Parameter {
	ps := []*Parameter{{Name: "weight", V: w}}
	if b != nil {
		ps = append(ps, &Parameter{Name: "bias", V: b})
	}
	return ps
}
