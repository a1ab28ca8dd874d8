// Package gradcheck compares autodiff gradients with central finite
// differences in float64, to first and second order. Tests in every layer of
// wakesleep use it: a loss that goes down is not evidence that a gradient is
// right.
package gradcheck

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/tensor"
)

// Func maps inputs to a scalar (any output is reduced by a fixed random
// projection first, see Check).
type Func func(xs []*autodiff.Var) *autodiff.Var

// Options sets step and tolerances. The nil value means the defaults.
type Options struct {
	Eps    float64 // finite-difference step (default 1e-6)
	AbsTol float64 // default 1e-6
	RelTol float64 // default 1e-5
	Seed   uint64  // seed of the output projection and the direction v
}

func (o *Options) withDefaults() Options {
	r := Options{Eps: 1e-6, AbsTol: 1e-6, RelTol: 1e-5}
	if o != nil {
		if o.Eps > 0 {
			r.Eps = o.Eps
		}
		if o.AbsTol > 0 {
			r.AbsTol = o.AbsTol
		}
		if o.RelTol > 0 {
			r.RelTol = o.RelTol
		}
		r.Seed = o.Seed
	}
	return r
}

// scalarize reduces f's output to a scalar by a fixed random weighting, so
// that every output element's derivative is checked.
func scalarize(f Func, seed uint64) Func {
	var w *tensor.Tensor
	return func(xs []*autodiff.Var) *autodiff.Var {
		y := f(xs)
		if y.Value.Len() == 1 {
			return autodiff.Reshape(y)
		}
		if w == nil || !tensor.SameShape(w.Shape(), y.Shape()) {
			rng := rand.New(rand.NewPCG(seed, 99))
			w = tensor.New(tensor.Float64, y.Shape()...)
			for i := 0; i < w.Len(); i++ {
				w.SetAt(i, rng.Float64()*2-1)
			}
		}
		return autodiff.Sum(autodiff.Mul(y, autodiff.Const(w)))
	}
}

func params(xs []*tensor.Tensor) []*autodiff.Var {
	vs := make([]*autodiff.Var, len(xs))
	for i, x := range xs {
		if x.DType() != tensor.Float64 {
			panic("gradcheck: inputs must be float64")
		}
		vs[i] = autodiff.Param(x)
	}
	return vs
}

// numeric returns the central-difference gradient of the scalar f.
func numeric(f func() float64, xs []*tensor.Tensor, eps float64) [][]float64 {
	out := make([][]float64, len(xs))
	for i, x := range xs {
		d := x.Float64s()
		out[i] = make([]float64, len(d))
		for j := range d {
			old := d[j]
			d[j] = old + eps
			fp := f()
			d[j] = old - eps
			fm := f()
			d[j] = old
			out[i][j] = (fp - fm) / (2 * eps)
		}
	}
	return out
}

func compare(what string, analytic []*autodiff.Var, num [][]float64, o Options) error {
	for i := range num {
		a := analytic[i].Value.Float64s()
		for j, n := range num[i] {
			if diff := math.Abs(a[j] - n); diff > o.AbsTol+o.RelTol*math.Abs(n) || math.IsNaN(a[j]) {
				return fmt.Errorf("%s: input %d element %d: autodiff %.10g, finite difference %.10g (diff %.3g)", what, i, j, a[j], n, diff)
			}
		}
	}
	return nil
}

// Check compares Grad of f at xs with central differences. The inputs are
// float64 tensors, perturbed in place (and restored).
func Check(f Func, xs []*tensor.Tensor, opts *Options) error {
	o := opts.withDefaults()
	g := scalarize(f, o.Seed)
	vs := params(xs)
	analytic := autodiff.Grad(g(vs), vs, nil)
	num := numeric(func() float64 { return g(params(xs)).Item() }, xs, o.Eps)
	return compare("first order", analytic, num, o)
}

// CheckSecondOrder checks double backprop: for a fixed random direction v it
// forms h(x) = ⟨∇f(x), v⟩ with Grad(CreateGraph), differentiates h again with
// Grad, and compares that (the Hessian-vector product Hv) with central
// differences of h.
func CheckSecondOrder(f Func, xs []*tensor.Tensor, opts *Options) error {
	o := opts.withDefaults()
	if opts == nil || opts.Eps == 0 {
		o.Eps = 1e-5
	}
	if opts == nil || opts.AbsTol == 0 {
		o.AbsTol = 1e-5
	}
	if opts == nil || opts.RelTol == 0 {
		o.RelTol = 1e-4
	}
	g := scalarize(f, o.Seed)
	rng := rand.New(rand.NewPCG(o.Seed, 7))
	dirs := make([]*tensor.Tensor, len(xs))
	for i, x := range xs {
		dirs[i] = tensor.New(tensor.Float64, x.Shape()...)
		for j := 0; j < x.Len(); j++ {
			dirs[i].SetAt(j, rng.Float64()*2-1)
		}
	}
	h := func(vs []*autodiff.Var, create bool) *autodiff.Var {
		grads := autodiff.Grad(g(vs), vs, &autodiff.GradOptions{CreateGraph: create})
		var s *autodiff.Var
		for i, gr := range grads {
			t := autodiff.Sum(autodiff.Mul(gr, autodiff.Const(dirs[i])))
			if s == nil {
				s = t
			} else {
				s = autodiff.Add(s, t)
			}
		}
		return s
	}
	vs := params(xs)
	hv := h(vs, true)
	if !hv.RequiresGrad() {
		// The gradient does not depend on x (f is linear): Hv must be zero.
		num := numeric(func() float64 { return h(params(xs), false).Item() }, xs, o.Eps)
		zeros := make([]*autodiff.Var, len(xs))
		for i, x := range xs {
			zeros[i] = autodiff.Const(tensor.New(tensor.Float64, x.Shape()...))
		}
		return compare("second order", zeros, num, o)
	}
	analytic := autodiff.Grad(hv, vs, nil)
	num := numeric(func() float64 { return h(params(xs), false).Item() }, xs, o.Eps)
	return compare("second order", analytic, num, o)
}

// Rand returns a float64 tensor of uniform values in [lo, hi).
func Rand(rng *rand.Rand, lo, hi float64, shape ...int) *tensor.Tensor {
	t := tensor.New(tensor.Float64, shape...)
	for i := 0; i < t.Len(); i++ {
		t.SetAt(i, lo+(hi-lo)*rng.Float64())
	}
	return t
}

// RandAwayFromZero returns uniform values in ±[lo, hi): for ops with a kink
// at zero (ReLU, LeakyReLU, max) so that no finite difference straddles it.
func RandAwayFromZero(rng *rand.Rand, lo, hi float64, shape ...int) *tensor.Tensor {
	t := Rand(rng, lo, hi, shape...)
	for i := 0; i < t.Len(); i++ {
		if rng.IntN(2) == 0 {
			t.SetAt(i, -t.At(i))
		}
	}
	return t
}
