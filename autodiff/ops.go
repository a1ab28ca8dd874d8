package autodiff

import (
	"fmt"

	"github.com/wakesleep/wakesleep/tensor"
)

// This file holds the differentiable ops. Each forward computes with a tensor
// kernel; each VJP rule (named xxxVJP, in vjp.go) is made of these same ops.

// Add returns a + b with broadcasting.
func Add(a, b *Var) *Var {
	return record("add", tensor.Binary(tensor.OpAdd, a.Value, b.Value), addVJP, a, b)
}

// Sub returns a - b with broadcasting.
func Sub(a, b *Var) *Var {
	return record("sub", tensor.Binary(tensor.OpSub, a.Value, b.Value), subVJP, a, b)
}

// Mul returns a * b elementwise with broadcasting.
func Mul(a, b *Var) *Var {
	return record("mul", tensor.Binary(tensor.OpMul, a.Value, b.Value), mulVJP, a, b)
}

// Div returns a / b elementwise with broadcasting.
func Div(a, b *Var) *Var {
	return record("div", tensor.Binary(tensor.OpDiv, a.Value, b.Value), divVJP, a, b)
}

// Neg returns -x.
func Neg(x *Var) *Var { return record("neg", tensor.Unary(tensor.OpNeg, x.Value), negVJP, x) }

// Exp returns eˣ.
func Exp(x *Var) *Var { return record("exp", tensor.Unary(tensor.OpExp, x.Value), expVJP, x) }

// Log returns the natural logarithm.
func Log(x *Var) *Var { return record("log", tensor.Unary(tensor.OpLog, x.Value), logVJP, x) }

// Sqrt returns √x.
func Sqrt(x *Var) *Var { return record("sqrt", tensor.Unary(tensor.OpSqrt, x.Value), sqrtVJP, x) }

// Square returns x².
func Square(x *Var) *Var {
	return record("square", tensor.Unary(tensor.OpSquare, x.Value), squareVJP, x)
}

// Pow returns x^p for a constant exponent p.
func Pow(x *Var, p float64) *Var {
	return record("pow", tensor.Pow(x.Value, p), powVJP(p), x)
}

// Softplus returns log(1 + eˣ), computed without overflow.
func Softplus(x *Var) *Var {
	return record("softplus", tensor.Unary(tensor.OpSoftplus, x.Value), softplusVJP, x)
}

// Sigmoid returns 1 / (1 + e⁻ˣ).
func Sigmoid(x *Var) *Var {
	return record("sigmoid", tensor.Unary(tensor.OpSigmoid, x.Value), sigmoidVJP, x)
}

// Tanh returns tanh x.
func Tanh(x *Var) *Var { return record("tanh", tensor.Unary(tensor.OpTanh, x.Value), tanhVJP, x) }

// ReLU returns max(x, 0). Its derivative at 0 is taken as 0.
func ReLU(x *Var) *Var { return record("relu", tensor.Unary(tensor.OpReLU, x.Value), reluVJP, x) }

// LeakyReLU returns x for x > 0 and slope·x otherwise.
func LeakyReLU(x *Var, slope float64) *Var {
	return record("leaky_relu", tensor.LeakyReLU(x.Value, slope), leakyReLUVJP(slope), x)
}

// Affine returns s·x + c for constants s and c.
func Affine(x *Var, s, c float64) *Var {
	return record("affine", tensor.Affine(x.Value, s, c), affineVJP(s), x)
}

// Scale returns s·x for a constant s.
func Scale(x *Var, s float64) *Var { return Affine(x, s, 0) }

// AddScalar returns x + c for a constant c.
func AddScalar(x *Var, c float64) *Var { return Affine(x, 1, c) }

// BroadcastTo expands x to shape by NumPy rules.
func BroadcastTo(x *Var, shape []int) *Var {
	if tensor.SameShape(x.Shape(), shape) {
		return x
	}
	return record("broadcast_to", tensor.BroadcastTo(x.Value, shape), broadcastToVJP, x)
}

// SumTo sums x down to shape, which must broadcast to x's shape.
func SumTo(x *Var, shape []int) *Var {
	if tensor.SameShape(x.Shape(), shape) {
		return x
	}
	return record("sum_to", tensor.SumTo(x.Value, shape), sumToVJP, x)
}

// Sum sums x over the given axes (all axes if none), dropping them.
func Sum(x *Var, axes ...int) *Var {
	kept, dropped := reducedShapes(x.Shape(), axes)
	return Reshape(SumTo(x, kept), dropped...)
}

// SumKeep sums x over the given axes (all if none), keeping them as size 1.
func SumKeep(x *Var, axes ...int) *Var {
	kept, _ := reducedShapes(x.Shape(), axes)
	return SumTo(x, kept)
}

// Mean averages x over the given axes (all axes if none), dropping them.
func Mean(x *Var, axes ...int) *Var {
	return Scale(Sum(x, axes...), 1/float64(reducedCount(x.Shape(), axes)))
}

// MeanKeep averages x over the given axes (all if none), keeping them.
func MeanKeep(x *Var, axes ...int) *Var {
	return Scale(SumKeep(x, axes...), 1/float64(reducedCount(x.Shape(), axes)))
}

func reducedShapes(shape []int, axes []int) (kept, dropped []int) {
	red := make([]bool, len(shape))
	if len(axes) == 0 {
		for i := range red {
			red[i] = true
		}
	}
	for _, a := range axes {
		red[tensor.NormAxis(a, len(shape))] = true
	}
	kept = make([]int, len(shape))
	for i, d := range shape {
		if red[i] {
			kept[i] = 1
		} else {
			kept[i] = d
			dropped = append(dropped, d)
		}
	}
	return kept, dropped
}

func reducedCount(shape []int, axes []int) int {
	kept, _ := reducedShapes(shape, axes)
	return tensor.Size(shape) / tensor.Size(kept)
}

// Max returns the maximum of x along axis, keeping it as size 1. The gradient
// goes to the first maximal element.
func Max(x *Var, axis int) *Var {
	m, mask := tensor.MaxAxis(x.Value, axis)
	return record("max", m, maskedBroadcastVJP(mask), x)
}

// Reshape returns x with a new shape of the same size; one dimension may be -1.
func Reshape(x *Var, shape ...int) *Var {
	v := x.Value.Reshape(shape...)
	if tensor.SameShape(v.Shape(), x.Shape()) {
		return x
	}
	return record("reshape", v, reshapeVJP, x)
}

// Flatten reshapes x [B, ...] to [B, rest].
func Flatten(x *Var) *Var { return Reshape(x, x.Dim(0), -1) }

// Transpose permutes the axes of x: output axis i is input axis perm[i].
func Transpose(x *Var, perm ...int) *Var {
	return record("transpose", tensor.Transpose(x.Value, perm...), transposeVJP(perm), x)
}

// Concat joins xs along axis.
func Concat(axis int, xs ...*Var) *Var {
	vals := make([]*tensor.Tensor, len(xs))
	for i, x := range xs {
		vals[i] = x.Value
	}
	out := tensor.Concat(axis, vals...)
	return record("concat", out, concatVJP(tensor.NormAxis(axis, out.Rank())), xs...)
}

// Slice returns x[start:end] along axis.
func Slice(x *Var, axis, start, end int) *Var {
	axis = tensor.NormAxis(axis, len(x.Shape()))
	return record("slice", tensor.Slice(x.Value, axis, start, end), sliceVJP(axis, start), x)
}

// Unslice places x at offset start along axis of a zero tensor with that axis
// of length full: the adjoint of Slice.
func Unslice(x *Var, axis, start, full int) *Var {
	axis = tensor.NormAxis(axis, len(x.Shape()))
	return record("unslice", tensor.Unslice(x.Value, axis, start, full), unsliceVJP(axis, start), x)
}

// MatMul returns a @ b over the last two axes (see tensor.MatMul for batching).
func MatMul(a, b *Var) *Var { return MatMulT(a, b, false, false) }

// MatMulT returns op(a) @ op(b), transposing the last two axes of a (b) when
// ta (tb) is set.
func MatMulT(a, b *Var, ta, tb bool) *Var {
	return record("matmul", tensor.MatMul(a.Value, b.Value, ta, tb), matMulVJP(ta, tb), a, b)
}

// Lerp returns t·a + (1−t)·b, with t broadcast against a and b; t is a
// constant (e.g. WGAN-GP's random interpolation weights).
func Lerp(a, b *Var, t *tensor.Tensor) *Var {
	if tensor.SameShape(a.Shape(), b.Shape()) && tensor.SameShape(tensor.BroadcastShape(a.Shape(), t.Shape()), a.Shape()) {
		// One fused pass, rounded as the composite below.
		return record("lerp", tensor.Lerp(a.Value, b.Value, t), lerpVJP(t), a, b)
	}
	tv := Const(t)
	return Add(Mul(tv, a), Mul(Const(tensor.Affine(t, -1, 1)), b))
}

// Linear returns x·Wᵀ + b, a dense layer in PyTorch's layout, as one op:
//
//	x [..., In], w [Out, In], b [Out] (or nil) → [..., Out]
//
// It computes what Add(MatMulT(x, w, false, true), b) does, bit for bit,
// without keeping the product as a second tensor in the graph. See also
// LinearLeakyReLU.
func Linear(x, w, b *Var) *Var {
	if b == nil {
		return record("linear", tensor.Linear(x.Value, w.Value, nil), linearVJP(false, 0), x, w)
	}
	return record("linear", tensor.Linear(x.Value, w.Value, b.Value), linearVJP(false, 0), x, w, b)
}

// LinearLeakyReLU returns LeakyReLU(x·Wᵀ + b, slope) as one op (slope 0 is
// ReLU): a dense layer with its activation, bit for bit what LeakyReLU (or
// ReLU) of Linear computes, keeping only the activation in the graph. Its
// adjoint reads the mask off the output (positive exactly where the
// pre-activation is, for slope ≥ 0). A negative slope falls back to the two
// ops.
func LinearLeakyReLU(x, w, b *Var, slope float64) *Var {
	if slope < 0 {
		return LeakyReLU(Linear(x, w, b), slope)
	}
	var bv *tensor.Tensor
	inputs := []*Var{x, w}
	if b != nil {
		bv = b.Value
		inputs = append(inputs, b)
	}
	return record("linear_leaky_relu", tensor.LinearLeakyReLU(x.Value, w.Value, bv, slope), linearVJP(true, slope), inputs...)
}

// ChannelAffine returns x·w_c + b_c for each channel c (axis 1) of x
// [A, C, …], with w and b [C] (either may be nil): batch norm's γ and β, or a
// convolution's bias, as one op, bit for bit what Add(Mul(x, Reshape(w,
// 1, C, 1, …)), Reshape(b, 1, C, 1, …)) computes.
func ChannelAffine(x, w, b *Var) *Var { return channelAffine(x, w, b, false, 0) }

// ChannelAffineLeakyReLU returns LeakyReLU(ChannelAffine(x, w, b), slope) as
// one op (slope 0 is ReLU), bit for bit what the two compute, keeping only
// the activation in the graph; its adjoint reads the mask off the output, as
// LinearLeakyReLU's does. A negative slope falls back to the two ops.
func ChannelAffineLeakyReLU(x, w, b *Var, slope float64) *Var {
	if slope < 0 {
		return LeakyReLU(ChannelAffine(x, w, b), slope)
	}
	return channelAffine(x, w, b, true, slope)
}

func channelAffine(x, w, b *Var, act bool, slope float64) *Var {
	inputs := []*Var{x}
	var wv, bv *tensor.Tensor
	if w != nil {
		wv = w.Value
		inputs = append(inputs, w)
	}
	if b != nil {
		bv = b.Value
		inputs = append(inputs, b)
	}
	return record("channel_affine", tensor.ChannelAffine(x.Value, wv, bv, act, slope),
		channelAffineVJP(w != nil, b != nil, act, slope), inputs...)
}

// leakyReLUGrad returns g·[y > 0 ? 1 : slope]: the adjoint of LeakyReLU for
// output adjoint g, with the mask read off y (the layer's input or, for
// slope ≥ 0, its output), a constant. Linear in g, so its own adjoint is
// itself.
func leakyReLUGrad(g *Var, y *tensor.Tensor, slope float64) *Var {
	return record("leaky_relu_grad", tensor.LeakyReLUGrad(g.Value, y, slope), leakyReLUGradVJP(y, slope), g)
}

// GaussianSample returns the reparameterised sample μ + softplus(s)·eps of a
// diagonal Gaussian whose mean μ and pre-softplus standard deviation s are the
// two halves of o's last axis; eps is the (constant) standard normal noise:
//
//	o [..., 2N], eps [..., N] → [..., N]
//
// One op and one pass for what Add(Slice(o, -1, 0, N), Mul(Softplus(Slice(o,
// -1, N, 2N)), Const(eps))) computes, with the same rounding; the graph keeps
// the output, eps and σ(s) instead of five intermediate tensors.
func GaussianSample(o *Var, eps *tensor.Tensor) *Var {
	out, sig := tensor.GaussianSample(o.Value, eps)
	return record("gaussian_sample", out, gaussianSampleVJP(eps, sig), o)
}

// ScalarLike returns a constant scalar of x's type.
func ScalarLike(x *Var, v float64) *Var { return Const(tensor.Scalar(x.DType(), v)) }

func mustScalar(v *Var, what string) {
	if v.Value.Len() != 1 {
		panic(fmt.Sprintf("autodiff: %s needs a scalar, got shape %v", what, v.Shape()))
	}
}
