// Package autodiff records tensor operations and differentiates them in reverse
// mode, to any order.
//
// Glossary. A Var is a node of the recorded graph: a value plus, if it was made
// by an op from inputs that need gradients, the op's inputs and its VJP
// (vector-Jacobian product) rule. A VJP rule maps the adjoint of an op's output
// (the gradient of the final scalar with respect to that output) to the
// adjoints of its inputs.
//
// Every VJP rule (vjp.go, conv.go, norm.go, lstm.go) is written with the
// differentiable ops of this package, not with raw kernels: a fused op's
// backward is either such ops or a fused op with a rule of its own
// (Normalize's NormalizeGrad; LSTMCell's adjoint ops, whose rules
// differentiate their definitions from the elementary ops). So when Grad is asked to CreateGraph, the
// backward pass is itself recorded and can be differentiated again: this is
// how WGAN-GP's gradient penalty (a loss on ‖∇ₓD‖) gets gradients with respect
// to the critic's weights. When CreateGraph is off, the rules run on detached
// copies of their inputs, nothing is recorded, and the backward pass costs only
// its arithmetic.
//
// There is no global grad mode: an op records itself exactly when one of its
// inputs requires a gradient. Constants and detached values never do, so a
// forward pass on constants is the cheap no-grad mode.
//
// References: Griewank & Walther, "Evaluating Derivatives" (2008), ch. 3;
// PyTorch autograd's create_graph; Gulrajani et al. 2017 (WGAN-GP).
package autodiff

import (
	"fmt"

	"github.com/wakesleep/wakesleep/tensor"
)

// Var is a value in a recorded computation.
type Var struct {
	Value        *tensor.Tensor
	requiresGrad bool
	node         *node // nil for leaves
}

// vjpFunc returns the adjoints of an op's inputs given the adjoint g of its
// output. in and out are the op's inputs and output, detached unless the
// backward pass is being recorded. need[i] says whether input i's adjoint is
// wanted; the rule may return nil for the others (and for inputs that are
// constant with respect to everything, e.g. masks).
type vjpFunc func(g *Var, in []*Var, out *Var, need []bool) []*Var

type node struct {
	op     string
	inputs []*Var
	vjp    vjpFunc
}

// Param returns a leaf that requires gradients: a trainable parameter or an
// input one differentiates with respect to.
func Param(t *tensor.Tensor) *Var { return &Var{Value: t, requiresGrad: true} }

// Const returns a leaf that never requires gradients.
func Const(t *tensor.Tensor) *Var { return &Var{Value: t} }

// Detach returns a constant sharing v's value: gradients stop there.
func Detach(v *Var) *Var { return &Var{Value: v.Value} }

// RequiresGrad reports whether gradients flow into v.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// Op names the operation that made v ("" for leaves).
func (v *Var) Op() string {
	if v.node == nil {
		return ""
	}
	return v.node.op
}

// Shape returns the shape of v's value.
func (v *Var) Shape() []int { return v.Value.Shape() }

// Dim returns the size of axis i of v's value; negative i counts from the end.
func (v *Var) Dim(i int) int { return v.Value.Dim(i) }

// Rank returns the number of axes of v's value.
func (v *Var) Rank() int { return v.Value.Rank() }

// DType returns v's element type.
func (v *Var) DType() tensor.DType { return v.Value.DType() }

// Item returns the value of a one-element Var.
func (v *Var) Item() float64 { return v.Value.Item() }

func (v *Var) String() string {
	return fmt.Sprintf("Var(%s, op=%q, grad=%v)", v.Value, v.Op(), v.requiresGrad)
}

// record wraps the result of an op. It records the op only if some input
// requires a gradient.
func record(op string, value *tensor.Tensor, vjp vjpFunc, inputs ...*Var) *Var {
	out := &Var{Value: value}
	for _, in := range inputs {
		if in.requiresGrad {
			out.requiresGrad = true
			out.node = &node{op: op, inputs: inputs, vjp: vjp}
			break
		}
	}
	return out
}
