// Package nn holds the layers wakesleep's models are built from: dense and
// convolutional layers, normalisations and reparameterised Gaussian units.
//
// Weights use PyTorch's layouts and default initialisations, so that a
// checkpoint's tensors mean the same thing in both worlds.
package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/tensor"
)

// Parameter is a named trainable tensor.
type Parameter struct {
	Name string
	V    *ad.Var
}

// Module is anything with parameters. Names are dotted paths, unique within
// a model ("critic.fc1.weight").
type Module interface {
	Parameters() []*Parameter
}

// Prefixed returns ps with prefix+"." before each name.
func Prefixed(prefix string, ps []*Parameter) []*Parameter {
	out := make([]*Parameter, len(ps))
	for i, p := range ps {
		out[i] = &Parameter{Name: prefix + "." + p.Name, V: p.V}
	}
	return out
}

// Vars returns the Vars of ps, for autodiff.Grad.
func Vars(ps []*Parameter) []*ad.Var {
	vs := make([]*ad.Var, len(ps))
	for i, p := range ps {
		vs[i] = p.V
	}
	return vs
}

// Linear is a dense layer y = x·Wᵀ + b.
//
//	x [B, In] → y [B, Out];  W [Out, In], b [Out] (PyTorch's layout)
//
// See also Conv2d.
type Linear struct {
	W, B *ad.Var
}

// NewLinear returns a Linear layer with PyTorch's default initialisation,
// W, b ~ U(−1/√In, 1/√In).
func NewLinear(in, out int, dt tensor.DType, rng *rand.Rand) *Linear {
	if in <= 0 || out <= 0 {
		panic(fmt.Sprintf("nn: Linear(%d, %d)", in, out))
	}
	bound := 1 / math.Sqrt(float64(in))
	return &Linear{
		W: ad.Param(tensor.RandUniform(rng, dt, -bound, bound, out, in)),
		B: ad.Param(tensor.RandUniform(rng, dt, -bound, bound, out)),
	}
}

// Forward applies the layer to x [B, In].
func (l *Linear) Forward(x *ad.Var) *ad.Var {
	return ad.Linear(x, l.W, l.B)
}

// ForwardLeakyReLU returns LeakyReLU(Forward(x), slope) as one fused op
// (slope 0: ReLU). See autodiff.LinearLeakyReLU.
func (l *Linear) ForwardLeakyReLU(x *ad.Var, slope float64) *ad.Var {
	return ad.LinearLeakyReLU(x, l.W, l.B, slope)
}

// Parameters implements Module.
func (l *Linear) Parameters() []*Parameter {
	return []*Parameter{{Name: "weight", V: l.W}, {Name: "bias", V: l.B}}
}

// In returns the input width.
func (l *Linear) In() int { return l.W.Dim(1) }

// Out returns the output width.
func (l *Linear) Out() int { return l.W.Dim(0) }
