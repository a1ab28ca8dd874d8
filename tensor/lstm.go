package tensor

import "fmt"

// The elementwise part of an LSTM step (Hochreiter & Schmidhuber 1997; as a
// ConvLSTM, Shi et al. 2015) on the gate pre-activations a [B, 4N, …]: axis
// 1 holds the blocks i, f, g, o of N channels each, and the cell states p
// (the previous one) and c are [B, N, …]. With S = σ(a_i), F = σ(a_f),
// G = tanh(a_g), O = σ(a_o) and T = tanh(c):
//
//	c = F·p + S·G,  m = O·T
//
// LSTMGates computes the activated gates z = [S, F, G, O] once (with
// Unary's kernels); the other kernels read them from z, each in one pass,
// rounding every product and sum as the unfused ops (Slice, Sigmoid, Tanh,
// Mul, Add and their derivative rules) do, so the results are theirs bit
// for bit.

// lstmBlock checks that a is [B, 4N, …] and each t (nil skipped) [B, N, …],
// and returns N·(the product of the trailing axes): one block of one sample.
func lstmBlock(what string, a *Tensor, ts ...*Tensor) int {
	ok := a.Rank() >= 2 && a.shape[1]%4 == 0
	for _, t := range ts {
		if t == nil || !ok {
			continue
		}
		mustSameType(a, t)
		ok = t.Rank() == a.Rank() && t.shape[0] == a.shape[0] && 4*t.shape[1] == a.shape[1]
		for i := 2; ok && i < a.Rank(); i++ {
			ok = t.shape[i] == a.shape[i]
		}
	}
	if !ok {
		shapes := []any{a.shape}
		for _, t := range ts {
			if t != nil {
				shapes = append(shapes, t.shape)
			}
		}
		panic(fmt.Sprintf("tensor: %s of gates %v and states %v: want [B, 4N, …] and [B, N, …]", what, shapes[0], shapes[1:]))
	}
	if a.shape[0] == 0 {
		return 0
	}
	return a.Len() / a.shape[0] / 4
}

// lstmRuns calls f(e, j, k) for the runs of [lo, hi), indices into a
// [B, N, …] tensor with blk elements per sample, that stay within one
// sample: e is the run's first index, j the index of its first element in
// the gates' i block, k its length.
func lstmRuns(lo, hi, blk int, f func(e, j, k int)) {
	for e := lo; e < hi; {
		off := e % blk
		k := min(hi-e, blk-off)
		f(e, e/blk*4*blk+off, k)
		e += k
	}
}

// newLSTMState returns a [B, N, …] tensor for gates a.
func newLSTMState(a *Tensor) *Tensor {
	shape := append([]int(nil), a.shape...)
	shape[1] /= 4
	return newUninit(a.dtype, shape...)
}

// LSTMGates returns the activated gates z = [σ(a_i), σ(a_f), tanh(a_g),
// σ(a_o)] [B, 4N, …] of the pre-activations a [B, 4N, …], what Unary's
// sigmoid and tanh give for each block. Panics if a is not [B, 4N, …].
func LSTMGates(a *Tensor) *Tensor {
	blk := lstmBlock("LSTMGates", a)
	z := newUninit(a.dtype, a.shape...)
	if blk == 0 {
		return z
	}
	parallelFor(a.Len(), blk, func(lo, hi int) {
		for e := lo; e < hi; e += blk {
			op := OpSigmoid
			if e/blk%4 == 2 {
				op = OpTanh
			}
			if a.dtype == Float32 {
				unaryKernel(op, z.f32[e:e+blk], a.f32[e:e+blk])
			} else {
				unaryKernel(op, z.f64[e:e+blk], a.f64[e:e+blk])
			}
		}
	})
	return z
}

// LSTMState returns the new cell state c = F·p + S·G [B, N, …] for the
// activated gates z [B, 4N, …] (LSTMGates) and the previous state p
// [B, N, …]; a nil p is zero (c = S·G). Panics on mismatched shapes or
// types.
func LSTMState(z, p *Tensor) *Tensor {
	blk := lstmBlock("LSTMState", z, p)
	c := newLSTMState(z)
	parallelFor(c.Len(), 1, func(lo, hi int) {
		if z.dtype == Float32 {
			lstmStateKernel(c.f32, z.f32, f32s(p), blk, lo, hi)
		} else {
			lstmStateKernel(c.f64, z.f64, f64s(p), blk, lo, hi)
		}
	})
	return c
}

func lstmStateKernel[T Float](c, z, p []T, blk, lo, hi int) {
	lstmRuns(lo, hi, blk, func(e, j, k int) {
		s, f, g := z[j:j+k], z[j+blk:j+blk+k], z[j+2*blk:j+2*blk+k]
		d := c[e : e+k]
		if p == nil {
			for x := range d {
				d[x] = s[x] * g[x]
			}
			return
		}
		q := p[e : e+k]
		for x := range d {
			d[x] = T(f[x]*q[x]) + T(s[x]*g[x]) // T(·) rounds each product: no fused multiply-add
		}
	})
}

// LSTMOutput returns the cell's output m = O·tanh(c) [B, N, …] and
// t = tanh(c) for the activated gates z [B, 4N, …] and the cell state c
// [B, N, …]. Panics on mismatched shapes or types.
func LSTMOutput(z, c *Tensor) (m, t *Tensor) {
	blk := lstmBlock("LSTMOutput", z, c)
	t = Unary(OpTanh, c)
	m = newLSTMState(z)
	parallelFor(m.Len(), 1, func(lo, hi int) {
		if z.dtype == Float32 {
			lstmOutputKernel(m.f32, z.f32, t.f32, blk, lo, hi)
		} else {
			lstmOutputKernel(m.f64, z.f64, t.f64, blk, lo, hi)
		}
	})
	return m, t
}

func lstmOutputKernel[T Float](m, z, t []T, blk, lo, hi int) {
	lstmRuns(lo, hi, blk, func(e, j, k int) {
		o, tt, d := z[j+3*blk:j+3*blk+k], t[e:e+k], m[e:e+k]
		for x := range d {
			d[x] = o[x] * tt[x]
		}
	})
}

// LSTMStateGrad returns the adjoints of the cell state's inputs for the
// adjoint u [B, N, …] of c = F·p + S·G, given the activated gates z
// [B, 4N, …]:
//
//	ā = [u·G·S(1−S), u·p·F(1−F), u·S·(1−G²), 0]   (blocks i, f, g, o; the f block 0 for a nil p)
//	p̄ = u·F                                         (nil unless wantP)
//
// ā being the adjoint of the pre-activations a, rounded as the rules of
// Mul, Sigmoid and Tanh round it. Panics on mismatched shapes or types.
func LSTMStateGrad(u, z, p *Tensor, wantP bool) (ga, gp *Tensor) {
	blk := lstmBlock("LSTMStateGrad", z, u, p)
	ga = newUninit(z.dtype, z.shape...)
	if wantP {
		gp = newLSTMState(z)
	}
	parallelFor(u.Len(), 1, func(lo, hi int) {
		if z.dtype == Float32 {
			lstmStateGradKernel(ga.f32, f32s(gp), u.f32, z.f32, f32s(p), blk, lo, hi)
		} else {
			lstmStateGradKernel(ga.f64, f64s(gp), u.f64, z.f64, f64s(p), blk, lo, hi)
		}
	})
	return ga, gp
}

func lstmStateGradKernel[T Float](ga, gp, u, z, p []T, blk, lo, hi int) {
	lstmRuns(lo, hi, blk, func(e, j, k int) {
		s, f, g := z[j:j+k], z[j+blk:j+blk+k], z[j+2*blk:j+2*blk+k]
		uu := u[e : e+k]
		di, df, dg := ga[j:j+k], ga[j+blk:j+blk+k], ga[j+2*blk:j+2*blk+k]
		for x, v := range uu {
			sv, gv := s[x], g[x]
			di[x] = T(v*gv) * T(sv*T(1-sv))
			dg[x] = T(v*sv) * T(1-T(gv*gv))
		}
		clear(ga[j+3*blk : j+3*blk+k])
		if p == nil {
			clear(df)
			return
		}
		q := p[e : e+k]
		for x, v := range uu {
			fv := f[x]
			df[x] = T(v*q[x]) * T(fv*T(1-fv))
		}
		if gp != nil {
			d := gp[e : e+k]
			for x, v := range uu {
				d[x] = v * f[x]
			}
		}
	})
}

// LSTMOutputGrad returns the adjoints of the output's inputs for the
// adjoint v [B, N, …] of m = O·T, given the activated gates z [B, 4N, …]
// and t = tanh(c) [B, N, …] (LSTMOutput):
//
//	ā = [0, 0, 0, v·T·O(1−O)]   (blocks i, f, g, o)
//	c̄ = v·O·(1−T²)
//
// ā being the adjoint of the pre-activations a, rounded as the rules of
// Mul, Sigmoid and Tanh round them. Panics on mismatched shapes or types.
func LSTMOutputGrad(v, z, t *Tensor) (ga, gc *Tensor) {
	blk := lstmBlock("LSTMOutputGrad", z, v, t)
	ga = newUninit(z.dtype, z.shape...)
	gc = newLSTMState(z)
	parallelFor(v.Len(), 1, func(lo, hi int) {
		if z.dtype == Float32 {
			lstmOutputGradKernel(ga.f32, gc.f32, v.f32, z.f32, t.f32, blk, lo, hi)
		} else {
			lstmOutputGradKernel(ga.f64, gc.f64, v.f64, z.f64, t.f64, blk, lo, hi)
		}
	})
	return ga, gc
}

func lstmOutputGradKernel[T Float](ga, gc, v, z, t []T, blk, lo, hi int) {
	lstmRuns(lo, hi, blk, func(e, j, k int) {
		for b := 0; b < 3; b++ {
			clear(ga[j+b*blk : j+b*blk+k])
		}
		o, tt := z[j+3*blk:j+3*blk+k], t[e:e+k]
		do, dc := ga[j+3*blk:j+3*blk+k], gc[e:e+k]
		for x, w := range v[e : e+k] {
			ov, tv := o[x], tt[x]
			do[x] = T(w*tv) * T(ov*T(1-ov))
			dc[x] = T(w*ov) * T(1-T(tv*tv))
		}
	})
}
