package autodiff

import (
	"fmt"

	"github.com/wakesleep/wakesleep/tensor"
)

// GradOptions controls Grad. The zero value (or nil) is a plain first-order
// backward pass.
type GradOptions struct {
	// CreateGraph records the backward pass, so that the returned gradients
	// can be differentiated again (double backprop).
	CreateGraph bool
	// Seed is the adjoint of y; nil means ones (y must then be a scalar).
	Seed *tensor.Tensor
}

// Grad returns dy/dw for each w in wrt. y must hold one element unless
// opts.Seed is given. A w that y does not depend on gets a zero gradient.
//
// Only the part of the graph between wrt and y is walked: inputs that lead to
// no w are skipped, and their VJPs are not computed.
func Grad(y *Var, wrt []*Var, opts *GradOptions) []*Var {
	if opts == nil {
		opts = &GradOptions{}
	}
	seed := opts.Seed
	if seed == nil {
		if y.Value.Len() != 1 {
			panic(fmt.Sprintf("autodiff: Grad of non-scalar shape %v without a seed", y.Shape()))
		}
		seed = tensor.Full(y.DType(), 1, y.Shape()...)
	} else if !tensor.SameShape(seed.Shape(), y.Shape()) {
		panic(fmt.Sprintf("autodiff: seed shape %v for output %v", seed.Shape(), y.Shape()))
	}

	target := make(map[*Var]bool, len(wrt))
	for _, w := range wrt {
		target[w] = true
	}
	// leads[v]: some w is reachable from v through recorded inputs.
	leads := map[*Var]bool{}
	var order []*Var // post-order: inputs before consumers
	visited := map[*Var]bool{}
	var visit func(v *Var) bool
	visit = func(v *Var) bool {
		if visited[v] {
			return leads[v]
		}
		visited[v] = true
		l := target[v]
		if v.node != nil {
			for _, in := range v.node.inputs {
				if in.requiresGrad && visit(in) {
					l = true
				}
			}
		}
		leads[v] = l
		if l && v.node != nil {
			order = append(order, v)
		}
		return l
	}
	visit(y)

	adj := map[*Var]*Var{y: Const(seed)}
	for i := len(order) - 1; i >= 0; i-- {
		v := order[i]
		g := adj[v]
		if g == nil {
			continue
		}
		if !opts.CreateGraph && !target[v] {
			delete(adj, v) // free intermediate adjoints as we go
		}
		n := v.node
		need := make([]bool, len(n.inputs))
		any := false
		for j, in := range n.inputs {
			need[j] = in.requiresGrad && leads[in]
			any = any || need[j]
		}
		if !any {
			continue
		}
		ins, out := n.inputs, v
		if !opts.CreateGraph {
			ins = make([]*Var, len(n.inputs))
			for j, in := range n.inputs {
				ins[j] = Detach(in)
			}
			out = Detach(v)
			g = Detach(g)
		}
		grads := n.vjp(g, ins, out, need)
		for j, in := range n.inputs {
			if !need[j] || grads[j] == nil {
				continue
			}
			gj := grads[j]
			if !tensor.SameShape(gj.Shape(), in.Shape()) {
				panic(fmt.Sprintf("autodiff: %s VJP gave shape %v for input %d of shape %v", n.op, gj.Shape(), j, in.Shape()))
			}
			if prev := adj[in]; prev != nil {
				adj[in] = Add(prev, gj)
			} else {
				adj[in] = gj
			}
		}
	}
	out := make([]*Var, len(wrt))
	for i, w := range wrt {
		if g := adj[w]; g != nil {
			out[i] = g
		} else {
			out[i] = Const(tensor.New(w.DType(), w.Shape()...))
		}
	}
	return out
}
