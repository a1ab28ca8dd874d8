package tensor

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Float is the constraint of the element types the kernels are written for.
type Float interface{ ~float32 | ~float64 }

// UnaryOp names an elementwise function of one argument.
type UnaryOp int

const (
	OpNeg UnaryOp = iota
	OpExp
	OpLog
	OpSqrt
	OpSquare
	OpSoftplus // log(1 + e^x), computed stably
	OpSigmoid  // 1 / (1 + e^-x)
	OpTanh     //
	OpReLU     // max(x, 0)
	OpStep     // 1 where x > 0, else 0: the derivative of ReLU
	OpAbs      //
	OpSign     // -1, 0 or 1
	OpReciprocal
)

// minParallelElems is the number of elements from which the elementwise
// kernels split their work across goroutines. 2^15 float32s (128 KiB) take
// 10 µs (an add) to 300 µs (softplus) on one core, against the microsecond or
// two that handing half of them to a second goroutine costs.
const minParallelElems = 1 << 15

// parallelFor calls f on contiguous ranges [lo, hi) covering [0, n), on up to
// GOMAXPROCS goroutines (the caller's included) when n is large enough to pay
// for them. Range boundaries are multiples of align (a row length, say), so
// that f may work row by row. Each element is computed by exactly one call
// with the same arithmetic, so results do not depend on the split.
func parallelFor(n, align int, f func(lo, hi int)) {
	if align < 1 {
		align = 1
	}
	workers := min(runtime.GOMAXPROCS(0), n/minParallelElems)
	if workers < 2 || n <= align {
		f(0, n)
		return
	}
	units := (n + align - 1) / align
	chunk := (units + workers - 1) / workers * align
	var wg sync.WaitGroup
	for lo := chunk; lo < n; lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			f(lo, hi)
		}(lo, min(lo+chunk, n))
	}
	f(0, min(chunk, n))
	wg.Wait()
}

// parallelBlocks calls f on ranges [o0, o1) covering [0, outer), blocks of w
// elements each, split across goroutines as parallelFor splits elements.
func parallelBlocks(outer, w int, f func(o0, o1 int)) {
	if w == 0 {
		return
	}
	parallelFor(outer*w, w, func(lo, hi int) { f(lo/w, hi/w) })
}

// Unary applies op elementwise and returns a new tensor.
func Unary(op UnaryOp, x *Tensor) *Tensor {
	out := newUninit(x.dtype, x.shape...)
	parallelFor(x.Len(), 1, func(lo, hi int) {
		if x.dtype == Float32 {
			unaryKernel(op, out.f32[lo:hi], x.f32[lo:hi])
		} else {
			unaryKernel(op, out.f64[lo:hi], x.f64[lo:hi])
		}
	})
	return out
}

func unaryKernel[T Float](op UnaryOp, d, a []T) {
	if d, ok := any(d).([]float32); ok {
		a := any(a).([]float32)
		if unary32(op, d, a) || simpleUnaryAsm(op, d, a) {
			return
		}
	}
	unaryGeneric(op, d, a)
}

func unaryGeneric[T Float](op UnaryOp, d, a []T) {
	a = a[:len(d)]
	switch op {
	case OpNeg:
		for i, v := range a {
			d[i] = -v
		}
	case OpExp:
		for i, v := range a {
			d[i] = T(math.Exp(float64(v)))
		}
	case OpLog:
		for i, v := range a {
			d[i] = T(math.Log(float64(v)))
		}
	case OpSqrt:
		for i, v := range a {
			d[i] = T(math.Sqrt(float64(v)))
		}
	case OpSquare:
		for i, v := range a {
			d[i] = v * v
		}
	case OpSoftplus:
		for i, v := range a {
			f := float64(v)
			d[i] = T(math.Max(f, 0) + math.Log1p(math.Exp(-math.Abs(f))))
		}
	case OpSigmoid:
		for i, v := range a {
			f := float64(v)
			if f >= 0 {
				d[i] = T(1 / (1 + math.Exp(-f)))
			} else {
				e := math.Exp(f)
				d[i] = T(e / (1 + e))
			}
		}
	case OpTanh:
		for i, v := range a {
			d[i] = T(math.Tanh(float64(v)))
		}
	case OpReLU:
		for i, v := range a {
			if v > 0 {
				d[i] = v
			} else {
				d[i] = 0
			}
		}
	case OpStep:
		for i, v := range a {
			if v > 0 {
				d[i] = 1
			} else {
				d[i] = 0
			}
		}
	case OpAbs:
		for i, v := range a {
			if v < 0 {
				d[i] = -v
			} else {
				d[i] = v
			}
		}
	case OpSign:
		for i, v := range a {
			switch {
			case v > 0:
				d[i] = 1
			case v < 0:
				d[i] = -1
			default:
				d[i] = 0
			}
		}
	case OpReciprocal:
		for i, v := range a {
			d[i] = 1 / v
		}
	default:
		panic(fmt.Sprintf("tensor: unknown unary op %d", op))
	}
}

// Pow returns x^p elementwise for a constant exponent p.
func Pow(x *Tensor, p float64) *Tensor {
	out := newUninit(x.dtype, x.shape...)
	if x.dtype == Float32 {
		powKernel(out.f32, x.f32, p)
	} else {
		powKernel(out.f64, x.f64, p)
	}
	return out
}

func powKernel[T Float](d, a []T, p float64) {
	switch p {
	case 1:
		copy(d, a)
	case 2:
		for i, v := range a {
			d[i] = v * v
		}
	case 0.5:
		for i, v := range a {
			d[i] = T(math.Sqrt(float64(v)))
		}
	default:
		for i, v := range a {
			d[i] = T(math.Pow(float64(v), p))
		}
	}
}

// Affine returns s*x + c elementwise.
func Affine(x *Tensor, s, c float64) *Tensor {
	out := newUninit(x.dtype, x.shape...)
	parallelFor(x.Len(), 1, func(lo, hi int) {
		if x.dtype == Float32 {
			affineKernel(out.f32[lo:hi], x.f32[lo:hi], float32(s), float32(c))
		} else {
			affineKernel(out.f64[lo:hi], x.f64[lo:hi], s, c)
		}
	})
	return out
}

func affineKernel[T Float](d, a []T, s, c T) {
	if d, ok := any(d).([]float32); ok && affineAsm(d, any(a).([]float32), float32(s), float32(c)) {
		return
	}
	for i, v := range a {
		d[i] = s*v + c
	}
}

// LeakySlope returns 1 where x > 0 and slope elsewhere: the derivative of
// LeakyReLU with that slope. LeakyReLU(x) itself is x * LeakySlope(x).
func LeakySlope(x *Tensor, slope float64) *Tensor {
	out := newUninit(x.dtype, x.shape...)
	parallelFor(x.Len(), 1, func(lo, hi int) {
		if x.dtype == Float32 {
			leakyKernel(out.f32[lo:hi], x.f32[lo:hi], float32(slope))
		} else {
			leakyKernel(out.f64[lo:hi], x.f64[lo:hi], slope)
		}
	})
	return out
}

func leakyKernel[T Float](d, a []T, s T) {
	for i, v := range a {
		if v > 0 {
			d[i] = 1
		} else {
			d[i] = s
		}
	}
}

// LeakyReLU returns x where x > 0 and slope*x elsewhere.
func LeakyReLU(x *Tensor, slope float64) *Tensor {
	out := newUninit(x.dtype, x.shape...)
	parallelFor(x.Len(), 1, func(lo, hi int) {
		if x.dtype == Float32 {
			leakyReLUKernel(out.f32[lo:hi], x.f32[lo:hi], float32(slope))
		} else {
			leakyReLUKernel(out.f64[lo:hi], x.f64[lo:hi], slope)
		}
	})
	return out
}

func leakyReLUKernel[T Float](d, a []T, s T) {
	if d, ok := any(d).([]float32); ok {
		leakyReLU32(d, any(a).([]float32), float32(s))
		return
	}
	for i, v := range a {
		if v > 0 {
			d[i] = v
		} else {
			d[i] = s * v
		}
	}
}

// Round returns x rounded to the nearest integer, halves away from zero.
func Round(x *Tensor) *Tensor {
	out := New(x.dtype, x.shape...)
	for i := 0; i < x.Len(); i++ {
		out.SetAt(i, math.Round(x.At(i)))
	}
	return out
}

// LeakyReLUGrad returns g where y > 0 and slope·g elsewhere: the adjoint of
// LeakyReLU (slope ≥ 0; ReLU for slope 0) for an output adjoint g, given the
// layer's input or output y (both are positive at the same places when
// slope ≥ 0). It equals g·LeakySlope(y, slope) without the mask tensor.
// Panics if g and y differ in shape or type.
func LeakyReLUGrad(g, y *Tensor, slope float64) *Tensor {
	mustSameType(g, y)
	if !SameShape(g.shape, y.shape) {
		panic(fmt.Sprintf("tensor: LeakyReLUGrad of %v and %v", g.shape, y.shape))
	}
	out := newUninit(g.dtype, g.shape...)
	parallelFor(g.Len(), 1, func(lo, hi int) {
		if g.dtype == Float32 {
			leakyGradKernel(out.f32[lo:hi], g.f32[lo:hi], y.f32[lo:hi], float32(slope))
		} else {
			leakyGradKernel(out.f64[lo:hi], g.f64[lo:hi], y.f64[lo:hi], slope)
		}
	})
	return out
}

func leakyGradKernel[T Float](d, g, y []T, s T) {
	if d, ok := any(d).([]float32); ok {
		leakyGrad32(d, any(g).([]float32), any(y).([]float32), float32(s))
		return
	}
	g, y = g[:len(d)], y[:len(d)]
	for i, v := range g {
		if y[i] > 0 {
			d[i] = v
		} else {
			d[i] = s * v // as g·mask: 0·Inf is NaN here too
		}
	}
}

// gaussianSample32 is gaussianSampleKernel for float32, whose softplus and
// sigmoid are unaryKernel's (unary32); each row of out holds softplus(s)
// until the sample overwrites it.
func gaussianSample32(out, sig, o, eps []float32, n int) {
	for r := 0; r < len(out); r += n {
		mean, s := o[2*r:2*r+n], o[2*r+n:2*r+2*n]
		d, sg, e := out[r:r+n], sig[r:r+n], eps[r:r+n]
		unary32(OpSigmoid, sg, s)
		unary32(OpSoftplus, d, s)
		for j, std := range d {
			d[j] = mean[j] + float32(std*e[j]) // rounded product: no fused multiply-add
		}
	}
}

// GaussianSample is the reparameterised sample of a diagonal Gaussian whose
// mean and pre-softplus standard deviation are the two halves of o's last
// axis, with the noise eps given:
//
//	o = [μ, s] [..., 2N], eps [..., N] → out = μ + softplus(s)·eps [..., N],  sig = σ(s) [..., N]
//
// sig, the derivative of softplus, is what GaussianSampleGrad needs. Both
// have the rounding of the unfused ops (Unary softplus and sigmoid, then
// Binary multiply and add); in float64 they come from one exponential per
// element, in float32 from the vector kernels of Unary.
// Panics on mismatched shapes or types.
func GaussianSample(o, eps *Tensor) (out, sig *Tensor) {
	mustSameType(o, eps)
	n := gaussianHalf(o, eps)
	out = New(o.dtype, eps.shape...)
	sig = New(o.dtype, eps.shape...)
	parallelFor(eps.Len(), n, func(lo, hi int) {
		if o.dtype == Float32 {
			gaussianSampleKernel(out.f32[lo:hi], sig.f32[lo:hi], o.f32[2*lo:2*hi], eps.f32[lo:hi], n)
		} else {
			gaussianSampleKernel(out.f64[lo:hi], sig.f64[lo:hi], o.f64[2*lo:2*hi], eps.f64[lo:hi], n)
		}
	})
	return out, sig
}

// gaussianHalf checks that o is [..., 2N] and eps [..., N] and returns N.
func gaussianHalf(o, eps *Tensor) int {
	ok := o.Rank() >= 1 && o.Rank() == eps.Rank() && 2*eps.Dim(-1) == o.Dim(-1)
	for i := 0; ok && i < o.Rank()-1; i++ {
		ok = o.shape[i] == eps.shape[i]
	}
	if !ok {
		panic(fmt.Sprintf("tensor: Gaussian sample of %v with noise %v", o.shape, eps.shape))
	}
	return eps.Dim(-1)
}

func gaussianSampleKernel[T Float](out, sig, o, eps []T, n int) {
	if out, ok := any(out).([]float32); ok {
		gaussianSample32(out, any(sig).([]float32), any(o).([]float32), any(eps).([]float32), n)
		return
	}
	for r := 0; r < len(out); r += n {
		mean, s := o[2*r:2*r+n], o[2*r+n:2*r+2*n]
		d, sg, e := out[r:r+n], sig[r:r+n], eps[r:r+n]
		for j, v := range s {
			f := float64(v)
			x := math.Exp(-math.Abs(f))
			std := T(math.Max(f, 0) + math.Log1p(x)) // softplus, as unaryKernel
			// σ as unaryKernel: 1/(1+x) for f ≥ 0, x/(1+x) otherwise, with
			// the numerator picked by a conditional move (the sign of f is
			// a coin flip for a branch predictor).
			one, xb := math.Float64bits(1), math.Float64bits(x)
			num := xb
			if f >= 0 {
				num = one
			}
			sg[j] = T(math.Float64frombits(num) / (1 + x))
			d[j] = mean[j] + T(std*e[j]) // T(·) rounds the product: no fused multiply-add
		}
	}
}

// GaussianSampleGrad returns the adjoint of GaussianSample's o for the
// adjoint g of its output: [g, g·eps·sig] along the last axis.
func GaussianSampleGrad(g, eps, sig *Tensor) *Tensor {
	mustSameType(g, eps)
	mustSameType(g, sig)
	if !SameShape(g.shape, eps.shape) || !SameShape(g.shape, sig.shape) || g.Rank() < 1 {
		panic(fmt.Sprintf("tensor: GaussianSampleGrad of %v, %v, %v", g.shape, eps.shape, sig.shape))
	}
	n := g.Dim(-1)
	shape := append([]int(nil), g.shape...)
	shape[len(shape)-1] = 2 * n
	out := newUninit(g.dtype, shape...)
	parallelFor(g.Len(), n, func(lo, hi int) {
		if g.dtype == Float32 {
			gaussianGradKernel(out.f32[2*lo:2*hi], g.f32[lo:hi], eps.f32[lo:hi], sig.f32[lo:hi], n)
		} else {
			gaussianGradKernel(out.f64[2*lo:2*hi], g.f64[lo:hi], eps.f64[lo:hi], sig.f64[lo:hi], n)
		}
	})
	return out
}

func gaussianGradKernel[T Float](out, g, eps, sig []T, n int) {
	for r := 0; r < len(g); r += n {
		gm, gs := out[2*r:2*r+n], out[2*r+n:2*r+2*n]
		gr, e, sg := g[r:r+n], eps[r:r+n], sig[r:r+n]
		copy(gm, gr)
		for j, v := range gr {
			gs[j] = T(v*e[j]) * sg[j]
		}
	}
}

// Lerp returns t·a + (1−t)·b, rounded as Binary(OpAdd, Binary(OpMul, t, a),
// Binary(OpMul, Affine(t, −1, 1), b)) rounds it, where a and b have the same
// shape and t broadcasts against them. A t of shape [B, 1, …, 1] (one weight
// per sample, as WGAN-GP's) takes a fused single pass; other shapes go through
// those ops.
func Lerp(a, b, t *Tensor) *Tensor {
	mustSameType(a, b)
	mustSameType(a, t)
	if !SameShape(a.shape, b.shape) {
		panic(fmt.Sprintf("tensor: Lerp of %v and %v", a.shape, b.shape))
	}
	perRow := a.Rank() >= 1 && t.Rank() == a.Rank() && t.shape[0] == a.shape[0] && t.Len() == t.shape[0]
	if !perRow || !SameShape(BroadcastShape(a.shape, t.shape), a.shape) {
		return Binary(OpAdd, Binary(OpMul, t, a), Binary(OpMul, Affine(t, -1, 1), b))
	}
	out := newUninit(a.dtype, a.shape...)
	if out.Len() == 0 {
		return out
	}
	row := out.Len() / a.shape[0]
	parallelFor(out.Len(), row, func(lo, hi int) {
		if a.dtype == Float32 {
			lerpKernel(out.f32[lo:hi], a.f32[lo:hi], b.f32[lo:hi], t.f32[lo/row:], row)
		} else {
			lerpKernel(out.f64[lo:hi], a.f64[lo:hi], b.f64[lo:hi], t.f64[lo/row:], row)
		}
	})
	return out
}

func lerpKernel[T Float](d, a, b, t []T, row int) {
	for r := 0; r*row < len(d); r++ {
		w := t[r]
		u := T(-1*w + 1) // Affine(t, −1, 1)
		dr, ar, br := d[r*row:(r+1)*row], a[r*row:(r+1)*row], b[r*row:(r+1)*row]
		for j := range dr {
			dr[j] = T(w*ar[j]) + T(u*br[j])
		}
	}
}

// The float32 masks below select in the integer registers, where the
// compiler emits a conditional move: the sign of an activation is a coin
// flip that a branch predictor gets wrong half the time, which made the
// branchy loops several times slower.

// positive32 reports whether v > 0: its bits, less one, lie below +Inf's
// (false for ±0, negatives and NaN, true for +Inf).
func positive32(v float32) bool { return math.Float32bits(v)-1 < 0x7f800000 }

// leakyGrad32 is leakyGradKernel for float32: d = y > 0 ? g : s·g.
func leakyGrad32(d, g, y []float32, s float32) {
	if leakyAsm(d, g, y, s) {
		return
	}
	g, y = g[:len(d)], y[:len(d)]
	for i, v := range g {
		keep, scaled := math.Float32bits(v), math.Float32bits(s*v)
		r := scaled
		if positive32(y[i]) {
			r = keep
		}
		d[i] = math.Float32frombits(r)
	}
}

// leakyReLU32 is leakyReLUKernel for float32: d = a > 0 ? a : s·a.
func leakyReLU32(d, a []float32, s float32) {
	if leakyAsm(d, a, a, s) {
		return
	}
	a = a[:len(d)]
	for i, v := range a {
		keep, scaled := math.Float32bits(v), math.Float32bits(s*v)
		r := scaled
		if positive32(v) {
			r = keep
		}
		d[i] = math.Float32frombits(r)
	}
}

// biasAct32 adds bias (if any) to each row of length n of d, then applies
// LeakyReLU(s) if act, ReLU's zeros where s is 0.
func biasAct32(d, bias []float32, n int, act bool, s float32) {
	for r := 0; r < len(d); r += n {
		row := d[r : r+n]
		if bias != nil {
			bias := bias[:n]
			for j, v := range bias {
				row[j] += v
			}
		}
		switch {
		case !act:
		case s == 0:
			for j, v := range row {
				keep, r := math.Float32bits(v), uint32(0) // +0
				if positive32(v) {
					r = keep
				}
				row[j] = math.Float32frombits(r)
			}
		default:
			for j, v := range row {
				keep, scaled := math.Float32bits(v), math.Float32bits(s*v)
				r := scaled
				if positive32(v) {
					r = keep
				}
				row[j] = math.Float32frombits(r)
			}
		}
	}
}
