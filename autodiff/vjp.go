package autodiff

import "github.com/wakesleep/wakesleep/tensor"

// The derivative-rule table. Each rule is built from the differentiable ops,
// so that it can be recorded and differentiated again. Notation: g is the
// adjoint of the output y; the comment gives the adjoint of each input.

// y = a + b:  ḡa = sum_to(g), ḡb = sum_to(g)
func addVJP(g *Var, in []*Var, _ *Var, need []bool) []*Var {
	out := make([]*Var, 2)
	if need[0] {
		out[0] = SumTo(g, in[0].Shape())
	}
	if need[1] {
		out[1] = SumTo(g, in[1].Shape())
	}
	return out
}

// y = a − b:  ḡa = sum_to(g), ḡb = −sum_to(g)
func subVJP(g *Var, in []*Var, _ *Var, need []bool) []*Var {
	out := make([]*Var, 2)
	if need[0] {
		out[0] = SumTo(g, in[0].Shape())
	}
	if need[1] {
		out[1] = Neg(SumTo(g, in[1].Shape()))
	}
	return out
}

// y = a·b:  ḡa = sum_to(g·b), ḡb = sum_to(g·a)
func mulVJP(g *Var, in []*Var, _ *Var, need []bool) []*Var {
	out := make([]*Var, 2)
	if need[0] {
		out[0] = SumTo(Mul(g, in[1]), in[0].Shape())
	}
	if need[1] {
		out[1] = SumTo(Mul(g, in[0]), in[1].Shape())
	}
	return out
}

// y = a/b:  ḡa = sum_to(g/b), ḡb = −sum_to(g·a/b²)
func divVJP(g *Var, in []*Var, _ *Var, need []bool) []*Var {
	out := make([]*Var, 2)
	gb := Div(g, in[1])
	if need[0] {
		out[0] = SumTo(gb, in[0].Shape())
	}
	if need[1] {
		out[1] = Neg(SumTo(Div(Mul(gb, in[0]), in[1]), in[1].Shape()))
	}
	return out
}

// y = −x:  x̄ = −g
func negVJP(g *Var, _ []*Var, _ *Var, _ []bool) []*Var { return []*Var{Neg(g)} }

// y = eˣ:  x̄ = g·y
func expVJP(g *Var, _ []*Var, y *Var, _ []bool) []*Var { return []*Var{Mul(g, y)} }

// y = log x:  x̄ = g/x
func logVJP(g *Var, in []*Var, _ *Var, _ []bool) []*Var { return []*Var{Div(g, in[0])} }

// y = √x:  x̄ = g/(2y)
func sqrtVJP(g *Var, _ []*Var, y *Var, _ []bool) []*Var {
	return []*Var{Div(Scale(g, 0.5), y)}
}

// y = x²:  x̄ = 2·g·x
func squareVJP(g *Var, in []*Var, _ *Var, _ []bool) []*Var {
	return []*Var{Mul(Scale(g, 2), in[0])}
}

// y = xᵖ:  x̄ = p·g·xᵖ⁻¹
func powVJP(p float64) vjpFunc {
	return func(g *Var, in []*Var, _ *Var, _ []bool) []*Var {
		if p == 2 {
			return []*Var{Mul(Scale(g, 2), in[0])}
		}
		return []*Var{Mul(Scale(g, p), Pow(in[0], p-1))}
	}
}

// y = softplus x:  x̄ = g·σ(x)
func softplusVJP(g *Var, in []*Var, _ *Var, _ []bool) []*Var {
	return []*Var{Mul(g, Sigmoid(in[0]))}
}

// y = σ(x):  x̄ = g·y·(1−y)
func sigmoidVJP(g *Var, _ []*Var, y *Var, _ []bool) []*Var {
	return []*Var{Mul(g, Mul(y, Affine(y, -1, 1)))}
}

// y = tanh x:  x̄ = g·(1−y²)
func tanhVJP(g *Var, _ []*Var, y *Var, _ []bool) []*Var {
	return []*Var{Mul(g, Affine(Square(y), -1, 1))}
}

// y = max(x, 0):  x̄ = g·[x > 0]; the step is piecewise constant, so its own
// derivative is zero and it enters as a constant.
func reluVJP(g *Var, in []*Var, _ *Var, _ []bool) []*Var {
	return []*Var{leakyReLUGrad(g, in[0].Value, 0)}
}

// y = leaky(x):  x̄ = g·(1 if x > 0 else slope), a constant mask.
func leakyReLUVJP(slope float64) vjpFunc {
	return func(g *Var, in []*Var, _ *Var, _ []bool) []*Var {
		return []*Var{leakyReLUGrad(g, in[0].Value, slope)}
	}
}

// y = g·m with the constant mask m = [y₀ > 0 ? 1 : slope]:  ḡ = ȳ·m
func leakyReLUGradVJP(y0 *tensor.Tensor, slope float64) vjpFunc {
	return func(g *Var, _ []*Var, _ *Var, _ []bool) []*Var {
		return []*Var{leakyReLUGrad(g, y0, slope)}
	}
}

// y = t·a + (1−t)·b (a, b of y's shape):  ā = g·t,  b̄ = g·(1−t)
func lerpVJP(t *tensor.Tensor) vjpFunc {
	return func(g *Var, _ []*Var, _ *Var, need []bool) []*Var {
		out := make([]*Var, 2)
		if need[0] {
			out[0] = Mul(g, Const(t))
		}
		if need[1] {
			out[1] = Mul(g, Const(tensor.Affine(t, -1, 1)))
		}
		return out
	}
}

// y = act(z), z = x·w_c + b_c per channel, act LeakyReLU(slope) or the
// identity (inputs x, then w and b where given): z̄ = g·act'(z) (mask read
// off y), x̄ = z̄·w_c, w̄ = Σ z̄·x, b̄ = Σ z̄ over all but the channel axis.
// The same ops as the rules of Mul, Add and LeakyReLU apply.
func channelAffineVJP(hasW, hasB, act bool, slope float64) vjpFunc {
	return func(g *Var, in []*Var, y *Var, need []bool) []*Var {
		if act {
			g = leakyReLUGrad(g, y.Value, slope)
		}
		x := in[0]
		c := x.Dim(1)
		stat := make([]int, x.Rank())
		for i := range stat {
			stat[i] = 1
		}
		stat[1] = c
		out := make([]*Var, len(in))
		j := 1
		var w *Var
		if hasW {
			w = in[j]
			if need[j] {
				out[j] = Reshape(SumTo(Mul(g, x), stat), c)
			}
			j++
		}
		if hasB && need[j] {
			out[j] = Reshape(SumTo(g, stat), c)
		}
		if need[0] {
			if w != nil {
				out[0] = Mul(g, Reshape(w, stat...))
			} else {
				out[0] = g
			}
		}
		return out
	}
}

// y = act(z), z = x·Wᵀ + b, act LeakyReLU(slope) or the identity:
// z̄ = g·act'(z) (mask read off y), x̄ = z̄·W, W̄ = z̄ᵀ·x (batch axes folded
// into the rows), b̄ = Σ_rows z̄. The two products are independent and run
// concurrently.
func linearVJP(act bool, slope float64) vjpFunc {
	return func(g *Var, in []*Var, y *Var, need []bool) []*Var {
		x, w := in[0], in[1]
		if act {
			g = leakyReLUGrad(g, y.Value, slope)
		}
		out := make([]*Var, len(in))
		nIn := w.Dim(1)
		concurrent := need[0] && g.Value.Len()*nIn >= minConcurrentWork
		both(need[1] && concurrent, func() {
			out[1] = MatMulT(Reshape(g, -1, w.Dim(0)), Reshape(x, -1, nIn), true, false)
		}, func() {
			if need[1] && !concurrent {
				out[1] = MatMulT(Reshape(g, -1, w.Dim(0)), Reshape(x, -1, nIn), true, false)
			}
			if need[0] {
				out[0] = MatMulT(g, w, false, false)
			}
			if len(in) == 3 && need[2] {
				out[2] = SumTo(g, in[2].Shape())
			}
		})
		return out
	}
}

// y = o[..., :N] + softplus(o[..., N:])·eps:  ō = [g, g·eps·σ(s)]
func gaussianSampleVJP(eps, sig *tensor.Tensor) vjpFunc {
	return func(g *Var, in []*Var, _ *Var, _ []bool) []*Var {
		o := in[0]
		if !g.requiresGrad && !o.requiresGrad {
			// Nothing is being recorded: one fused pass (sig is σ(s)).
			return []*Var{Const(tensor.GaussianSampleGrad(g.Value, eps, sig))}
		}
		n := eps.Dim(-1)
		gs := Mul(Mul(g, Const(eps)), Sigmoid(Slice(o, -1, n, 2*n)))
		return []*Var{Concat(-1, g, gs)}
	}
}

// y = s·x + c:  x̄ = s·g
func affineVJP(s float64) vjpFunc {
	return func(g *Var, _ []*Var, _ *Var, _ []bool) []*Var { return []*Var{Scale(g, s)} }
}

// y = broadcast_to(x):  x̄ = sum_to(g, shape(x))
func broadcastToVJP(g *Var, in []*Var, _ *Var, _ []bool) []*Var {
	return []*Var{SumTo(g, in[0].Shape())}
}

// y = sum_to(x):  x̄ = broadcast_to(g, shape(x))
func sumToVJP(g *Var, in []*Var, _ *Var, _ []bool) []*Var {
	return []*Var{BroadcastTo(g, in[0].Shape())}
}

// y = max_axis(x):  x̄ = broadcast(g)·mask, mask the one-hot of the argmax.
func maskedBroadcastVJP(mask *tensor.Tensor) vjpFunc {
	return func(g *Var, in []*Var, _ *Var, _ []bool) []*Var {
		return []*Var{Mul(BroadcastTo(g, in[0].Shape()), Const(mask))}
	}
}

// y = reshape(x):  x̄ = reshape(g, shape(x))
func reshapeVJP(g *Var, in []*Var, _ *Var, _ []bool) []*Var {
	return []*Var{Reshape(g, in[0].Shape()...)}
}

// y = transpose(x, perm):  x̄ = transpose(g, perm⁻¹)
func transposeVJP(perm []int) vjpFunc {
	perm = append([]int(nil), perm...)
	return func(g *Var, _ []*Var, _ *Var, _ []bool) []*Var {
		return []*Var{Transpose(g, tensor.InversePerm(perm)...)}
	}
}

// y = concat(x₁, …, xₙ):  x̄ᵢ = the slice of g where xᵢ sits.
func concatVJP(axis int) vjpFunc {
	return func(g *Var, in []*Var, _ *Var, need []bool) []*Var {
		out := make([]*Var, len(in))
		off := 0
		for i, x := range in {
			n := x.Dim(axis)
			if need[i] {
				out[i] = Slice(g, axis, off, off+n)
			}
			off += n
		}
		return out
	}
}

// y = x[start:end]:  x̄ = g placed back at start in zeros.
func sliceVJP(axis, start int) vjpFunc {
	return func(g *Var, in []*Var, _ *Var, _ []bool) []*Var {
		return []*Var{Unslice(g, axis, start, in[0].Dim(axis))}
	}
}

// y = unslice(x):  x̄ = g[start:start+len(x)]
func unsliceVJP(axis, start int) vjpFunc {
	return func(g *Var, in []*Var, _ *Var, _ []bool) []*Var {
		return []*Var{Slice(g, axis, start, start+in[0].Dim(axis))}
	}
}

// y = op(A)·op(B). With C = A·B the rules are Ā = g·Bᵀ and B̄ = Aᵀ·g; the
// transposed variants follow by transposing those. A shared (unbatched)
// operand's adjoint is summed over the batch.
func matMulVJP(ta, tb bool) vjpFunc {
	return func(g *Var, in []*Var, _ *Var, need []bool) []*Var {
		a, b := in[0], in[1]
		out := make([]*Var, 2)
		k := a.Dim(-1)
		if ta {
			k = a.Dim(-2)
		}
		concurrent := need[0] && need[1] && g.Value.Len()*k >= minConcurrentWork
		both(concurrent, func() { out[0] = matMulAdjointA(g, a, b, ta, tb) }, func() {
			if need[0] && !concurrent {
				out[0] = matMulAdjointA(g, a, b, ta, tb)
			}
			if need[1] {
				out[1] = matMulAdjointB(g, a, b, ta, tb)
			}
		})
		return out
	}
}

// matMulAdjointA returns Ā for y = op(A)·op(B) with adjoint g.
func matMulAdjointA(g, a, b *Var, ta, tb bool) *Var {
	var ga *Var
	switch {
	case !ta && !tb:
		ga = MatMulT(g, b, false, true)
	case !ta && tb:
		ga = MatMulT(g, b, false, false)
	case ta && !tb:
		ga = MatMulT(b, g, false, true)
	default:
		ga = MatMulT(b, g, true, true)
	}
	return SumTo(ga, a.Shape())
}

// matMulAdjointB returns B̄ for y = op(A)·op(B) with adjoint g. A shared
// (unbatched) B's adjoint is summed over the batch.
func matMulAdjointB(g, a, b *Var, ta, tb bool) *Var {
	aa, gg := a, g
	// [.., M, K] against a shared [K, N]: fold the batch into M.
	if len(b.Shape()) == 2 && len(a.Shape()) > 2 && !ta {
		aa = Reshape(a, -1, a.Dim(-1))
		gg = Reshape(g, -1, g.Dim(-1))
	}
	var gb *Var
	switch {
	case !ta && !tb:
		gb = MatMulT(aa, gg, true, false)
	case !ta && tb:
		gb = MatMulT(gg, aa, true, false)
	case ta && !tb:
		gb = MatMulT(aa, gg, false, false)
	default:
		gb = MatMulT(gg, aa, true, true)
	}
	return SumTo(gb, b.Shape())
}

// both runs second on the calling goroutine and, if first is set, first on
// another one, and returns when both are done: the two matrix products of a
// backward step are independent, so each can have a core. A panic in first is
// re-raised on the caller.
func both(first bool, f, second func()) {
	if !first {
		second()
		return
	}
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		f()
	}()
	second()
	if p := <-done; p != nil {
		panic(p)
	}
}

// minConcurrentWork is the m·n·k of a matrix product from which the backward
// rules run their two products concurrently: 64³ multiply-adds take about
// 10 µs on one core, the hand-off one or two.
const minConcurrentWork = 64 * 64 * 64
