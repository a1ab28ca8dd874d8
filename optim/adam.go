// Package optim holds Adam and the learning-rate schedule of the paper.
package optim

import (
	"fmt"
	"math"

	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

// AdamConfig holds Adam's hyperparameters. The paper's (A.1.2): β1 = 0.5,
// β2 = 0.99, weight decay 2e-5.
type AdamConfig struct {
	LearningRate float64 `json:"learning_rate"`
	Beta1        float64 `json:"beta1"`
	Beta2        float64 `json:"beta2"`
	Eps          float64 `json:"eps"`          // default 1e-8, as PyTorch
	WeightDecay  float64 `json:"weight_decay"` // L2 added to the gradient, as torch.optim.Adam (not AdamW)
}

// Validate reports a hyperparameter outside its range.
func (c AdamConfig) Validate() error {
	switch {
	case !(c.LearningRate > 0):
		return fmt.Errorf("adam: learning rate %g must be positive", c.LearningRate)
	case c.Beta1 < 0 || c.Beta1 >= 1:
		return fmt.Errorf("adam: beta1 %g must be in [0, 1)", c.Beta1)
	case c.Beta2 < 0 || c.Beta2 >= 1:
		return fmt.Errorf("adam: beta2 %g must be in [0, 1)", c.Beta2)
	case c.Eps < 0:
		return fmt.Errorf("adam: eps %g must be non-negative", c.Eps)
	case c.WeightDecay < 0:
		return fmt.Errorf("adam: weight decay %g must be non-negative", c.WeightDecay)
	}
	return nil
}

// Adam is torch.optim.Adam (Kingma & Ba 2015) with L2 weight decay:
//
//	g ← g + λθ;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//	θ ← θ − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)
type Adam struct {
	Config AdamConfig
	Params []*nn.Parameter
	Step   int              // number of updates taken (t)
	M, V   []*tensor.Tensor // first and second moments, one per parameter
	lr     float64          // current learning rate (the schedule may lower it)
}

// NewAdam returns an optimizer over params. Panics on an invalid config (a
// caller bug: validate user input first with Validate).
func NewAdam(cfg AdamConfig, params []*nn.Parameter) *Adam {
	if cfg.Eps == 0 {
		cfg.Eps = 1e-8
	}
	if err := cfg.Validate(); err != nil {
		panic("optim: " + err.Error())
	}
	a := &Adam{Config: cfg, Params: params, lr: cfg.LearningRate}
	for _, p := range params {
		a.M = append(a.M, tensor.New(p.V.DType(), p.V.Shape()...))
		a.V = append(a.V, tensor.New(p.V.DType(), p.V.Shape()...))
	}
	return a
}

// LearningRate returns the rate the next Update uses.
func (a *Adam) LearningRate() float64 { return a.lr }

// SetLearningRate changes the rate (for schedules).
func (a *Adam) SetLearningRate(lr float64) { a.lr = lr }

// Update applies one step with grads[i] the gradient of Params[i].
// Panics if the shapes do not match.
func (a *Adam) Update(grads []*tensor.Tensor) {
	if len(grads) != len(a.Params) {
		panic(fmt.Sprintf("optim: %d gradients for %d parameters", len(grads), len(a.Params)))
	}
	a.Step++
	c := a.Config
	bc1 := 1 - math.Pow(c.Beta1, float64(a.Step))
	bc2 := 1 - math.Pow(c.Beta2, float64(a.Step))
	for i, p := range a.Params {
		g := grads[i]
		if !tensor.SameShape(g.Shape(), p.V.Shape()) {
			panic(fmt.Sprintf("optim: gradient %v for parameter %s %v", g.Shape(), p.Name, p.V.Shape()))
		}
		if g.DType() == tensor.Float32 {
			adamKernel(p.V.Value.Float32s(), g.Float32s(), a.M[i].Float32s(), a.V[i].Float32s(), c, a.lr, bc1, bc2)
		} else {
			adamKernel(p.V.Value.Float64s(), g.Float64s(), a.M[i].Float64s(), a.V[i].Float64s(), c, a.lr, bc1, bc2)
		}
	}
}

func adamKernel[T tensor.Float](p, g, m, v []T, c AdamConfig, lr, bc1, bc2 float64) {
	b1, b2, wd := T(c.Beta1), T(c.Beta2), T(c.WeightDecay)
	stepSize := lr / bc1
	sqrtBC2 := math.Sqrt(bc2)
	for j := range p {
		gj := g[j]
		if wd != 0 {
			gj += wd * p[j]
		}
		m[j] = b1*m[j] + (1-b1)*gj
		v[j] = b2*v[j] + (1-b2)*gj*gj
		denom := math.Sqrt(float64(v[j]))/sqrtBC2 + c.Eps
		p[j] -= T(stepSize * float64(m[j]) / denom)
	}
}

// Schedule is the paper's learning-rate decay (A.1.2): the rate is multiplied
// by Factor once per epoch for the epochs in [Start, End), so that
//
//	lr(e) = lr₀ · Factor^(clamp(e, Start, End) − Start)
//
// With Factor 0.96, Start 200, End 250, as in the paper. Factor 1 (or Start ≥
// End) disables it.
type Schedule struct {
	Factor float64 `json:"factor"`
	Start  int     `json:"start"`
	End    int     `json:"end"`
}

// Rate returns the learning rate for (0-based) epoch e given base rate lr0.
func (s Schedule) Rate(lr0 float64, e int) float64 {
	if s.Factor == 0 || s.End <= s.Start {
		return lr0
	}
	k := e
	if k < s.Start {
		k = s.Start
	}
	if k > s.End {
		k = s.End
	}
	return lr0 * math.Pow(s.Factor, float64(k-s.Start))
}
