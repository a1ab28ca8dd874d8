package model

import (
	"math/rand/v2"
	"strconv"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

// MLPCritic is the Wasserstein critic ("discriminator") of Sec. 5.1: fully
// connected layers with LeakyReLU(0.2) and a linear scalar output.
//
//	in [B, In] → hidden [B, Width] ×Depth → D [B, 1]
//
// The global critic of Fig. 3B sees concat(x, z); the local critics of Fig. 3C
// see one layer each. Features returns the last hidden layer, the learned
// metric of the reconstruction loss (Larsen et al. 2016).
type MLPCritic struct {
	Layers []*nn.Linear // Depth hidden layers then the output layer
	Slope  float64      // LeakyReLU negative slope
}

// NewMLPCritic returns a critic with depth hidden layers of width units.
func NewMLPCritic(in, width, depth int, dt tensor.DType, rng *rand.Rand) *MLPCritic {
	c := &MLPCritic{Slope: 0.2}
	n := in
	for i := 0; i < depth; i++ {
		c.Layers = append(c.Layers, nn.NewLinear(n, width, dt, rng))
		n = width
	}
	c.Layers = append(c.Layers, nn.NewLinear(n, 1, dt, rng))
	return c
}

// Features returns the last hidden layer's activity for x [B, In].
func (c *MLPCritic) Features(x *ad.Var) *ad.Var {
	h := x
	for _, l := range c.Layers[:len(c.Layers)-1] {
		h = l.ForwardLeakyReLU(h, c.Slope) // LeakyReLU(l.Forward(h)), fused
	}
	return h
}

// Forward returns D(x) [B, 1].
func (c *MLPCritic) Forward(x *ad.Var) *ad.Var {
	return c.Layers[len(c.Layers)-1].Forward(c.Features(x))
}

// ForwardFeatures returns D(x) and the features it was computed from.
func (c *MLPCritic) ForwardFeatures(x *ad.Var) (d, features *ad.Var) {
	f := c.Features(x)
	return c.Layers[len(c.Layers)-1].Forward(f), f
}

// ForwardLayers returns D(x) and every hidden layer's activity, first to last.
func (c *MLPCritic) ForwardLayers(x *ad.Var) (d *ad.Var, hidden []*ad.Var) {
	h := x
	for _, l := range c.Layers[:len(c.Layers)-1] {
		h = l.ForwardLeakyReLU(h, c.Slope)
		hidden = append(hidden, h)
	}
	return c.Layers[len(c.Layers)-1].Forward(h), hidden
}

// Parameters implements nn.Module.
func (c *MLPCritic) Parameters() []*nn.Parameter {
	var ps []*nn.Parameter
	for i, l := range c.Layers {
		ps = append(ps, nn.Prefixed(fmtLayer(i), l.Parameters())...)
	}
	return ps
}

func fmtLayer(i int) string { return "fc" + strconv.Itoa(i+1) }
