package autodiff

import (
	"fmt"
	"unsafe"

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
// no w are skipped, and their VJPs are not computed. Without CreateGraph, the
// intermediate adjoints the pass has finished with go back to
// tensor.Recycle and sums of adjoints are accumulated in place where nothing
// else reads them; forward values, the seed and the returned gradients are
// never touched.
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
	var st *storage
	if !opts.CreateGraph {
		st = newStorage(visited, seed)
		st.hold(adj[y])
	}
	for i := len(order) - 1; i >= 0; i-- {
		v := order[i]
		g := adj[v]
		if g == nil {
			continue
		}
		if !opts.CreateGraph && !target[v] {
			delete(adj, v) // free intermediate adjoints as we go
			st.drop(g)
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
		var done []*Var // adjoints consumed here, recycled below if nothing holds them
		if st != nil {
			done = append(done, g)
		}
		for j, in := range n.inputs {
			if !need[j] || grads[j] == nil {
				continue
			}
			gj := grads[j]
			if !tensor.SameShape(gj.Shape(), in.Shape()) {
				panic(fmt.Sprintf("autodiff: %s VJP gave shape %v for input %d of shape %v", n.op, gj.Shape(), j, in.Shape()))
			}
			prev := adj[in]
			switch {
			case prev == nil:
				adj[in] = gj
				st.hold(gj)
			case st.owns(prev, g, grads):
				// prev is this pass's own, and nothing else reads it: add
				// in place (the rounding of Add(prev, gj)).
				tensor.AddInPlace(prev.Value, gj.Value)
				done = append(done, gj)
			default:
				sum := Add(prev, gj)
				adj[in] = sum
				st.hold(sum)
				st.drop(prev)
				if st != nil {
					done = append(done, prev, gj)
				}
			}
		}
		for _, d := range done {
			st.release(d)
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

// storage tracks, during a backward pass that records nothing, which
// adjoint tensors the pass made and how many adjoint map entries hold each,
// so that those it has finished with go back to tensor.Recycle for the next
// adjoints of their size, and a sum can be accumulated in place. Tensors are
// keyed by their storage, since a Reshape (or an adjoint passed through
// unchanged, as Add's is) shares it. Forward values and the seed are never
// touched; the adjoints of the wrt Vars stay held to the end. A nil
// *storage (with CreateGraph) tracks nothing.
type storage struct {
	fixed    map[unsafe.Pointer]bool // forward values and the seed
	held     map[unsafe.Pointer]int  // adjoint map entries per storage
	recycled map[unsafe.Pointer]bool // recycled and not held since
}

func newStorage(visited map[*Var]bool, seed *tensor.Tensor) *storage {
	st := &storage{fixed: make(map[unsafe.Pointer]bool, len(visited)+1),
		held: map[unsafe.Pointer]int{}, recycled: map[unsafe.Pointer]bool{}}
	for v := range visited {
		st.fixed[key(v.Value)] = true
		if v.node != nil {
			for _, in := range v.node.inputs {
				st.fixed[key(in.Value)] = true // constants too
			}
		}
	}
	st.fixed[key(seed)] = true
	return st
}

// key identifies t's storage (nil for an empty tensor).
func key(t *tensor.Tensor) unsafe.Pointer {
	if t.DType() == tensor.Float32 {
		return unsafe.Pointer(unsafe.SliceData(t.Float32s()))
	}
	return unsafe.Pointer(unsafe.SliceData(t.Float64s()))
}

// hold records one more adjoint map entry with g's storage. The storage may
// be one that was recycled and handed out again: it is live once more.
func (st *storage) hold(g *Var) {
	if st != nil {
		k := key(g.Value)
		st.held[k]++
		delete(st.recycled, k)
	}
}

// drop records that an entry with g's storage left the adjoint map.
func (st *storage) drop(g *Var) {
	if st != nil {
		st.held[key(g.Value)]--
	}
}

// owns reports whether prev's storage was made by this pass, is held by one
// adjoint map entry only (prev's own) and is not read by the node's adjoint
// g or its input adjoints grads: then it may be overwritten.
func (st *storage) owns(prev, g *Var, grads []*Var) bool {
	if st == nil {
		return false
	}
	k := key(prev.Value)
	if k == nil || st.fixed[k] || st.held[k] != 1 || key(g.Value) == k {
		return false
	}
	for _, gj := range grads {
		if gj != nil && key(gj.Value) == k {
			return false
		}
	}
	return true
}

// release recycles g's storage if this pass made it, no adjoint map entry
// holds it and it has not been recycled already (through an alias).
func (st *storage) release(g *Var) {
	if st == nil {
		return
	}
	k := key(g.Value)
	if k == nil || st.fixed[k] || st.held[k] > 0 || st.recycled[k] {
		return
	}
	delete(st.held, k)
	st.recycled[k] = true
	tensor.Recycle(g.Value)
}
