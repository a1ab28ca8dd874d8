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
	return []*Var{Mul(g, Const(tensor.Unary(tensor.OpStep, in[0].Value)))}
}

// y = leaky(x):  x̄ = g·(1 if x > 0 else slope), a constant mask.
func leakyReLUVJP(slope float64) vjpFunc {
	return func(g *Var, in []*Var, _ *Var, _ []bool) []*Var {
		return []*Var{Mul(g, Const(tensor.LeakySlope(in[0].Value, slope)))}
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
		if need[0] {
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
			out[0] = SumTo(ga, a.Shape())
		}
		if need[1] {
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
			out[1] = SumTo(gb, b.Shape())
		}
		return out
	}
}
