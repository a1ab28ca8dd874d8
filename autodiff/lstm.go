package autodiff

import "github.com/wakesleep/wakesleep/tensor"

// LSTMCell is the elementwise part of an LSTM (or ConvLSTM) step as two
// fused ops: for gate pre-activations a [B, 4N, …] (axis 1 holds the blocks
// i, f, g, o of N channels each) and the previous cell state p [B, N, …]
// (nil: zero), it returns the new cell state and the output
//
//	c = σ(a_f)·p + σ(a_i)·tanh(a_g),  m = σ(a_o)·tanh(c)
//
// bit for bit what Slice, Sigmoid, Tanh, Mul and Add compute
// (lstmCellComposite), and so are the first-order adjoints of a and p:
// each rule is one pass (tensor.LSTMStateGrad, tensor.LSTMOutputGrad) that
// reads the activated gates and tanh(c) the forward pass kept, where the
// composite records about thirty ops. Panics on mismatched shapes.
func LSTMCell(a, p *Var) (c, m *Var) {
	z := tensor.LSTMGates(a.Value) // [S, F, G, O], kept for the rules
	if p == nil {
		c = record("lstm_state", tensor.LSTMState(z, nil), lstmStateVJP(z), a)
	} else {
		c = record("lstm_state", tensor.LSTMState(z, p.Value), lstmStateVJP(z), a, p)
	}
	mv, t := tensor.LSTMOutput(z, c.Value)
	return c, record("lstm_output", mv, lstmOutputVJP(z, t), a, c)
}

// lstmCellComposite is LSTMCell from the elementary ops: the reference the
// fused ops are tested against (export_test.go).
func lstmCellComposite(a, p *Var) (c, m *Var) {
	n := a.Dim(1) / 4
	i := Sigmoid(Slice(a, 1, 0, n))
	g := Tanh(Slice(a, 1, 2*n, 3*n))
	c = Mul(i, g)
	if p != nil {
		f := Sigmoid(Slice(a, 1, n, 2*n))
		c = Add(Mul(f, p), c)
	}
	return c, Mul(Sigmoid(Slice(a, 1, 3*n, 4*n)), Tanh(c))
}

// c = F·p + S·G (S = σ(a_i), F = σ(a_f), G = tanh(a_g); z holds them), u
// its adjoint:
//
//	ā = [u·G·S(1−S), u·p·F(1−F), u·S·(1−G²), 0],  p̄ = u·F
//
// each an op of (u, a[, p]) and (u, a) (lstm_state_grad,
// lstm_state_grad_prev; z is a function of a) whose own rule
// differentiates its definition from the elementary ops.
func lstmStateVJP(z *tensor.Tensor) vjpFunc {
	return func(u *Var, in []*Var, _ *Var, need []bool) []*Var {
		var pv *tensor.Tensor
		if len(in) == 2 {
			pv = in[1].Value
		}
		wantP := pv != nil && need[1]
		ga, gp := tensor.LSTMStateGrad(u.Value, z, pv, wantP)
		out := make([]*Var, len(in))
		if need[0] {
			out[0] = record("lstm_state_grad", ga, compositeVJP(lstmStateGradDef), append([]*Var{u}, in...)...)
		} else {
			tensor.Recycle(ga)
		}
		if wantP {
			out[1] = record("lstm_state_grad_prev", gp, compositeVJP(lstmStateGradPrevDef), u, in[0])
		}
		return out
	}
}

// m = O·T (O = σ(a_o) from z, T = tanh(c) = t), v its adjoint:
//
//	ā = [0, 0, 0, v·T·O(1−O)],  c̄ = v·O·(1−T²)
//
// each an op of (v, a, c) (lstm_output_grad, lstm_output_grad_c) whose own
// rule differentiates its definition from the elementary ops.
func lstmOutputVJP(z, t *tensor.Tensor) vjpFunc {
	return func(v *Var, in []*Var, _ *Var, need []bool) []*Var {
		ga, gc := tensor.LSTMOutputGrad(v.Value, z, t)
		out := make([]*Var, 2)
		if need[0] {
			out[0] = record("lstm_output_grad", ga, compositeVJP(lstmOutputGradDef), v, in[0], in[1])
		} else {
			tensor.Recycle(ga)
		}
		if need[1] {
			out[1] = record("lstm_output_grad_c", gc, compositeVJP(lstmOutputGradCDef), v, in[0], in[1])
		} else {
			tensor.Recycle(gc)
		}
		return out
	}
}

// The four adjoint ops' definitions from the elementary ops, rounded as the
// kernels round them: in = (u, a[, p]) or (v, a, c).

func lstmStateGradDef(in []*Var) *Var {
	u, a := in[0], in[1]
	n := a.Dim(1) / 4
	s, g := Sigmoid(Slice(a, 1, 0, n)), Tanh(Slice(a, 1, 2*n, 3*n))
	zero := Const(tensor.New(a.DType(), u.Shape()...))
	gi := Mul(Mul(u, g), Mul(s, Affine(s, -1, 1)))
	gg := Mul(Mul(u, s), Affine(Square(g), -1, 1))
	gf := zero
	if len(in) == 3 {
		f := Sigmoid(Slice(a, 1, n, 2*n))
		gf = Mul(Mul(u, in[2]), Mul(f, Affine(f, -1, 1)))
	}
	return Concat(1, gi, gf, gg, zero)
}

func lstmStateGradPrevDef(in []*Var) *Var {
	n := in[1].Dim(1) / 4
	return Mul(in[0], Sigmoid(Slice(in[1], 1, n, 2*n)))
}

func lstmOutputGradDef(in []*Var) *Var {
	v, a, c := in[0], in[1], in[2]
	n := a.Dim(1) / 4
	o, t := Sigmoid(Slice(a, 1, 3*n, 4*n)), Tanh(c)
	zero := Const(tensor.New(a.DType(), v.Shape()...))
	return Concat(1, zero, zero, zero, Mul(Mul(v, t), Mul(o, Affine(o, -1, 1))))
}

func lstmOutputGradCDef(in []*Var) *Var {
	v, a, c := in[0], in[1], in[2]
	n := a.Dim(1) / 4
	o, t := Sigmoid(Slice(a, 1, 3*n, 4*n)), Tanh(c)
	return Mul(Mul(v, o), Affine(Square(t), -1, 1))
}

// compositeVJP is the rule of a fused op whose value is def(in): the
// adjoints of def's inputs for the output adjoint w, found by
// differentiating def itself with CreateGraph, so they are recorded ops
// and differentiable again. It suits ops whose rule is rarely run (the
// adjoints of fused adjoints: third order of the forward op) and costs
// def's ops. def runs on stand-ins for the inputs wanted, so that Grad
// returns partial derivatives (an input may depend on another, as an
// adjoint u on the gates a): when the backward pass is recorded, each
// stand-in is an op of its input that passes the adjoint through; when it
// records nothing, the inputs come detached, the stand-ins are leaves and
// the results are detached again.
func compositeVJP(def func(in []*Var) *Var) vjpFunc {
	return func(w *Var, in []*Var, _ *Var, need []bool) []*Var {
		xs := make([]*Var, len(in))
		var wrt []*Var
		var at []int
		detached := false
		for j, x := range in {
			xs[j] = x
			if !need[j] {
				continue
			}
			if x.requiresGrad {
				xs[j] = record("stand_in", x.Value, standInVJP, x)
			} else {
				xs[j], detached = Param(x.Value), true
			}
			wrt, at = append(wrt, xs[j]), append(at, j)
		}
		out := make([]*Var, len(in))
		if len(wrt) == 0 {
			return out
		}
		gs := Grad(Sum(Mul(def(xs), w)), wrt, &GradOptions{CreateGraph: true})
		for k, j := range at {
			out[j] = gs[k]
			if detached {
				out[j] = Detach(gs[k])
			}
		}
		return out
	}
}

// y = x (a stand-in sharing x's value):  x̄ = g
func standInVJP(g *Var, _ []*Var, _ *Var, _ []bool) []*Var { return []*Var{g} }
