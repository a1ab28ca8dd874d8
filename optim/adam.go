// Package optim holds Adam and the learning-rate schedule of the paper.
package optim

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

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
	// Written as !(in range) so that NaN is rejected too.
	switch {
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 1):
		return fmt.Errorf("adam: learning rate %g must be positive and finite", c.LearningRate)
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return fmt.Errorf("adam: beta1 %g must be in [0, 1)", c.Beta1)
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("adam: beta2 %g must be in [0, 1)", c.Beta2)
	case !(c.Eps >= 0) || math.IsInf(c.Eps, 1):
		return fmt.Errorf("adam: eps %g must be non-negative and finite", c.Eps)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 1):
		return fmt.Errorf("adam: weight decay %g must be non-negative and finite", c.WeightDecay)
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
	// The update is elementwise: cut every parameter into chunks and let up
	// to GOMAXPROCS goroutines take them in turn. Each element sees the same
	// arithmetic whichever goroutine updates it.
	type chunk struct{ i, lo, hi int }
	var chunks []chunk
	for i, p := range a.Params {
		g := grads[i]
		if !tensor.SameShape(g.Shape(), p.V.Shape()) {
			panic(fmt.Sprintf("optim: gradient %v for parameter %s %v", g.Shape(), p.Name, p.V.Shape()))
		}
		for lo, n := 0, g.Len(); lo < n; lo += adamChunk {
			chunks = append(chunks, chunk{i, lo, min(lo+adamChunk, n)})
		}
	}
	var next atomic.Int64
	work := func() {
		for {
			k := int(next.Add(1)) - 1
			if k >= len(chunks) {
				return
			}
			ch := chunks[k]
			g, p := grads[ch.i], a.Params[ch.i].V.Value
			lo, hi := ch.lo, ch.hi
			if g.DType() == tensor.Float32 {
				adamKernel(p.Float32s()[lo:hi], g.Float32s()[lo:hi], a.M[ch.i].Float32s()[lo:hi], a.V[ch.i].Float32s()[lo:hi], c, a.lr, bc1, bc2)
			} else {
				adamKernel(p.Float64s()[lo:hi], g.Float64s()[lo:hi], a.M[ch.i].Float64s()[lo:hi], a.V[ch.i].Float64s()[lo:hi], c, a.lr, bc1, bc2)
			}
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < min(runtime.GOMAXPROCS(0), len(chunks)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}

// adamChunk is the number of elements a goroutine updates at a time: 2^15
// take some 100 µs, far more than handing them over costs.
const adamChunk = 1 << 15

func adamKernel[T tensor.Float](p, g, m, v []T, c AdamConfig, lr, bc1, bc2 float64) {
	// 1−β is formed in float64 and then rounded, as PyTorch does: in float32,
	// 1 − float32(0.99) is 1e-6 (relative) off float32(0.01).
	b1, b2, wd := T(c.Beta1), T(c.Beta2), T(c.WeightDecay)
	ob1, ob2 := T(1-c.Beta1), T(1-c.Beta2)
	stepSize := lr / bc1
	sqrtBC2 := math.Sqrt(bc2)
	for j := range p {
		gj := g[j]
		if wd != 0 {
			gj += wd * p[j]
		}
		m[j] = b1*m[j] + ob1*gj
		v[j] = b2*v[j] + ob2*gj*gj
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

// State returns copies of the moment estimates for a checkpoint, keyed
// "adam.m.<parameter name>" (first moment) and "adam.v.<parameter name>"
// (second moment). The rest of the state is the update count a.Step and the
// current rate a.LearningRate(); LoadState takes all three back.
//
// Panics if two parameters share a name (a caller bug: nn names are unique
// within a model).
func (a *Adam) State() map[string]*tensor.Tensor {
	st := make(map[string]*tensor.Tensor, 2*len(a.Params))
	for i, p := range a.Params {
		km, kv := stateKeys(p.Name)
		if _, dup := st[km]; dup {
			panic(fmt.Sprintf("optim: two parameters named %q", p.Name))
		}
		st[km] = a.M[i].Clone()
		st[kv] = a.V[i].Clone()
	}
	return st
}

// LoadState restores the state State returned: the moments of every
// parameter (copied, not aliased), the update count step and the learning
// rate lr. Entries of m that name no parameter of a are ignored, so a
// checkpoint may pass one map holding several optimizers' and models' tensors.
//
// It returns an error, and changes nothing, if an entry is missing or has
// another shape or data type than its parameter, if step is negative, or if lr
// is not positive and finite.
func (a *Adam) LoadState(m map[string]*tensor.Tensor, step int, lr float64) error {
	if step < 0 {
		return fmt.Errorf("adam: load state: negative step %d", step)
	}
	if !(lr > 0) || math.IsInf(lr, 0) {
		return fmt.Errorf("adam: load state: learning rate %g must be positive and finite", lr)
	}
	for _, p := range a.Params {
		km, kv := stateKeys(p.Name)
		for _, k := range []string{km, kv} {
			t, ok := m[k]
			switch {
			case !ok || t == nil:
				return fmt.Errorf("adam: load state: missing %q", k)
			case !tensor.SameShape(t.Shape(), p.V.Shape()):
				return fmt.Errorf("adam: load state: %q has shape %v, parameter %s has %v", k, t.Shape(), p.Name, p.V.Shape())
			case t.DType() != p.V.DType():
				return fmt.Errorf("adam: load state: %q is %s, parameter %s is %s", k, t.DType(), p.Name, p.V.DType())
			}
		}
	}
	for i, p := range a.Params {
		km, kv := stateKeys(p.Name)
		a.M[i].CopyFrom(m[km])
		a.V[i].CopyFrom(m[kv])
	}
	a.Step = step
	a.lr = lr
	return nil
}

func stateKeys(name string) (m, v string) { return "adam.m." + name, "adam.v." + name }
