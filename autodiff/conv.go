package autodiff

import "github.com/wakesleep/wakesleep/tensor"

// Convolutions. Three ops close the set under differentiation: the adjoint
// of each is made of the other two (and itself), so gradients of any order
// stay inside it. With ⟨·,·⟩ the sum of elementwise products, all three are
// read off the one bilinear identity
//
//	⟨conv(x, w), g⟩ = ⟨x, convT(g, w)⟩ = ⟨w, convW(x, g)⟩
//
// where conv = Conv2d, convT = ConvTranspose2d and convW = Conv2dWeightGrad.

// Conv2d returns the cross-correlation of x with w, PyTorch's conv2d without
// bias:
//
//	x [B, C, H, W], w [O, C, KH, KW] → [B, O, Ho, Wo],  Ho = tensor.ConvOutSize(H, KH, p)
//
// Panics on mismatched shapes (see tensor.Conv2d). See also ConvTranspose2d.
func Conv2d(x, w *Var, p tensor.ConvParams) *Var {
	return record("conv2d", tensor.Conv2d(x.Value, w.Value, p), conv2dVJP(p), x, w)
}

// ConvTranspose2d returns PyTorch's conv_transpose2d of x (without bias),
// which is the adjoint of Conv2d with respect to its input:
//
//	x [B, Cin, Hi, Wi], w [Cin, Cout, KH, KW] → [B, Cout, outH, outW]
//
// outH must satisfy tensor.ConvOutSize(outH, KH, p) = Hi, and likewise outW;
// PyTorch's choice is outH = (Hi−1)·s − 2·pad + KH + output_padding. Panics
// otherwise. See also Conv2d.
func ConvTranspose2d(x, w *Var, p tensor.ConvParams, outH, outW int) *Var {
	return record("conv_transpose2d", tensor.Conv2dTranspose(x.Value, w.Value, p, outH, outW), convTranspose2dVJP(p), x, w)
}

// Conv2dWeightGrad returns the adjoint of Conv2d with respect to its weight,
// the weight gradient of conv(x, ·) for an output gradient g:
//
//	x [B, C, H, W], g [B, O, Ho, Wo] → [O, C, kh, kw]
//
// It is an op of its own so that the gradients of Conv2d can be
// differentiated again (double backprop, as in WGAN-GP's gradient penalty).
// Panics on mismatched shapes (see tensor.Conv2dWeightGrad).
func Conv2dWeightGrad(x, g *Var, p tensor.ConvParams, kh, kw int) *Var {
	return record("conv2d_weight_grad", tensor.Conv2dWeightGrad(x.Value, g.Value, p, kh, kw), conv2dWeightGradVJP(p), x, g)
}

// Derivative rules. ḡ (written g) is the adjoint of the output y; each rule
// follows from the identity above by reading y's adjoint pairing
// ⟨y, g⟩ as a function of one input at a time.

// y = conv(x, w):  x̄ = convT(g, w),  w̄ = convW(x, g)
func conv2dVJP(p tensor.ConvParams) vjpFunc {
	return func(g *Var, in []*Var, _ *Var, need []bool) []*Var {
		x, w := in[0], in[1]
		out := make([]*Var, 2)
		if need[0] {
			out[0] = ConvTranspose2d(g, w, p, x.Dim(2), x.Dim(3))
		}
		if need[1] {
			out[1] = Conv2dWeightGrad(x, g, p, w.Dim(2), w.Dim(3))
		}
		return out
	}
}

// y = convT(u, w):  ū = conv(g, w),  w̄ = convW(g, u)
//
// (⟨convT(u, w), g⟩ = ⟨conv(g, w), u⟩ = ⟨w, convW(g, u)⟩.)
func convTranspose2dVJP(p tensor.ConvParams) vjpFunc {
	return func(g *Var, in []*Var, _ *Var, need []bool) []*Var {
		u, w := in[0], in[1]
		out := make([]*Var, 2)
		if need[0] {
			out[0] = Conv2d(g, w, p)
		}
		if need[1] {
			out[1] = Conv2dWeightGrad(g, u, p, w.Dim(2), w.Dim(3))
		}
		return out
	}
}

// y = convW(x, u):  x̄ = convT(u, g),  ū = conv(x, g)
//
// (⟨convW(x, u), g⟩ = ⟨conv(x, g), u⟩ = ⟨x, convT(u, g)⟩.)
func conv2dWeightGradVJP(p tensor.ConvParams) vjpFunc {
	return func(g *Var, in []*Var, _ *Var, need []bool) []*Var {
		x, u := in[0], in[1]
		out := make([]*Var, 2)
		if need[0] {
			out[0] = ConvTranspose2d(u, g, p, x.Dim(2), x.Dim(3))
		}
		if need[1] {
			out[1] = Conv2d(x, g, p)
		}
		return out
	}
}
