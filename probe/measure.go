package probe

import (
	"fmt"
	"math/rand/v2"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

// Model is what the oscillation measurements need of a network: the
// bottom-up pass z ~ q(z|x) and the top-down pass x ~ p(x|z).
// *model.MNIST implements it.
type Model interface {
	Infer(x *ad.Var, rng *rand.Rand) *ad.Var    // [B, X] → [B, Z]
	Generate(z *ad.Var, rng *rand.Rand) *ad.Var // [B, Z] → [B, X]
}

// Cycle is one oscillation cycle driven by stimuli x [N, X]: the bottom-up
// phase, the top-down prediction of the layer below, and the next cycle's
// bottom-up phase driven by that prediction.
type Cycle struct {
	Z     *tensor.Tensor // z ~ q(z|x)   [N, Z]
	XHat  *tensor.Tensor // x̂ ~ p(x|z)   [N, X]
	ZNext *tensor.Tensor // z' ~ q(z|x̂) [N, Z]
	// ZRetest is a second, independent bottom-up pass on the same stimuli,
	// z'' ~ q(z|x) [N, Z]: mean (z − z'')² is the floor that the
	// stochasticity of inference alone gives the z amplitude.
	ZRetest *tensor.Tensor
	// XRetest is a second, independent top-down pass from the same z,
	// x̂'' ~ p(x|z) [N, X]: ½ mean (x̂ − x̂'')² is the floor that the
	// stochasticity of generation alone gives the x amplitude (for a
	// stimulus x, E(x − x̂)² = (x − E x̂)² + Var x̂ and E(x̂ − x̂'')² = 2 Var x̂).
	XRetest *tensor.Tensor
}

// RunCycle runs a Cycle on x in batches of batch rows, drawing the model's
// noise from rng. Panics if batch < 1.
func RunCycle(m Model, x *tensor.Tensor, batch int, rng *rand.Rand) *Cycle {
	if batch < 1 {
		panic(fmt.Sprintf("probe: batch %d", batch))
	}
	var zs, xs, zn, zr, xr []*tensor.Tensor
	for b := 0; b < x.Dim(0); b += batch {
		e := min(b+batch, x.Dim(0))
		xb := ad.Const(tensor.Slice(x, 0, b, e))
		z := m.Infer(xb, rng)
		xh := m.Generate(ad.Const(z.Value), rng)
		z2 := m.Infer(ad.Const(xh.Value), rng)
		z3 := m.Infer(xb, rng)
		x3 := m.Generate(ad.Const(z.Value), rng)
		zs, xs, zn, zr, xr = append(zs, z.Value), append(xs, xh.Value), append(zn, z2.Value), append(zr, z3.Value), append(xr, x3.Value)
	}
	return &Cycle{Z: tensor.Concat(0, zs...), XHat: tensor.Concat(0, xs...), ZNext: tensor.Concat(0, zn...), ZRetest: tensor.Concat(0, zr...),
		XRetest: tensor.Concat(0, xr...)}
}

// RowMeanSquares returns, for each row i of a and b [N, D], the mean over
// columns of (a − b)², times factor.
func RowMeanSquares(a, b *tensor.Tensor, factor float64) []float64 {
	if !tensor.SameShape(a.Shape(), b.Shape()) || a.Rank() != 2 {
		panic(fmt.Sprintf("probe: row mean squares of %v and %v", a.Shape(), b.Shape()))
	}
	n, d := a.Dim(0), a.Dim(1)
	av, bv := a.Values(), b.Values()
	out := make([]float64, n)
	for i := range out {
		s := 0.0
		for j := i * d; j < (i+1)*d; j++ {
			e := av[j] - bv[j]
			s += e * e
		}
		out[i] = factor * s / float64(d)
	}
	return out
}

// Amplitudes returns the oscillation amplitude of each layer for each
// stimulus of a cycle driven by x (see the package documentation):
//
//	A_x = mean_pixels (x − x̂)²     x̂ ~ p(x|z), z ~ q(z|x)
//	A_z = mean_units  (z − z')²    z' ~ q(z|x̂)
//
// A_x is in units of [0, 1] pixels whatever the model's pixel scale (for
// mnist.ScaleSym, squared differences are divided by 4).
func Amplitudes(x *tensor.Tensor, c *Cycle, pixelScale string) (ampX, ampZ []float64) {
	f := 1.0
	if pixelScale == mnist.ScaleSym {
		f = 0.25
	}
	return RowMeanSquares(x, c.XHat, f), RowMeanSquares(c.Z, c.ZNext, 1)
}

// Critic is one critic of a model seen as a function of a phase's activity.
type Critic struct {
	Name   string                     // "D(x,z)", "D_x" or "D_z"
	Params []*nn.Parameter            // its parameters θ
	Score  func(x, z *ad.Var) *ad.Var // D [B, 1] of activity x [B, X], z [B, Z]
	// TopDown reports whether the critic also sees the oscillation's
	// top-down phase in training (D_x of the local algorithm, Eq. 7).
	TopDown bool
}

// Critics returns the critics of m: the global critic D(x, z) on
// concat(x, z), or the local critics D_x(x) and D_z(z).
func Critics(m *model.MNIST) []Critic {
	if m.Joint != nil {
		j := m.Joint
		return []Critic{{Name: "D(x,z)", Params: j.Parameters(),
			Score: func(x, z *ad.Var) *ad.Var { return j.Forward(ad.Concat(1, x, z)) }}}
	}
	cx, cz := m.CriticX, m.CriticZ
	return []Critic{
		{Name: "D_x", Params: cx.Parameters(), TopDown: true,
			Score: func(x, z *ad.Var) *ad.Var { return cx.Forward(x) }},
		{Name: "D_z", Params: cz.Parameters(),
			Score: func(x, z *ad.Var) *ad.Var { return cz.Forward(z) }},
	}
}

// Scores returns the critic's output for each row of x [N, X] and z [N, Z],
// in batches.
func (c Critic) Scores(x, z *tensor.Tensor, batch int) []float64 {
	out := make([]float64, 0, x.Dim(0))
	for b := 0; b < x.Dim(0); b += batch {
		e := min(b+batch, x.Dim(0))
		d := c.Score(ad.Const(tensor.Slice(x, 0, b, e)), ad.Const(tensor.Slice(z, 0, b, e)))
		out = append(out, d.Value.Values()...)
	}
	return out
}

// FlatGrad returns the gradient of the scalar y with respect to params,
// concatenated in order into one vector.
func FlatGrad(y *ad.Var, params []*nn.Parameter) []float64 {
	gs := ad.Grad(y, nn.Vars(params), nil)
	var out []float64
	for _, g := range gs {
		out = append(out, g.Value.Values()...)
	}
	return out
}

// PhaseGradient returns the ascent direction of the critic's parameters for
// one phase's half of the adversarial objective (Eq. 4 and 7:
// L = E_wake[D] − E_sleep[D], which the critic maximises), on the activity
// x [B, X], z [B, Z] of that phase:
//
//	sign = +1 (wake, bottom-up):        g = +∇θ mean_b D(x_b, z_b)
//	sign = −1 (sleep or top-down):      g = −∇θ mean_b D(x_b, z_b)
func PhaseGradient(c Critic, x, z *tensor.Tensor, sign float64) []float64 {
	d := ad.Mean(c.Score(ad.Const(x), ad.Const(z)))
	g := FlatGrad(d, c.Params)
	if sign < 0 {
		for i := range g {
			g[i] = -g[i]
		}
	}
	return g
}

// UnitMoments are per-unit statistics of activity z [N, Z] over its rows;
// for activity of a convolutional layer [N, C, H, W] a unit is a channel,
// pooled over its positions and the rows.
type UnitMoments struct {
	MeanAbs  []float64 // E|z_u|
	Mean     []float64 // E z_u
	Variance []float64 // Var z_u (population, 1/N)
}

// Moments returns the UnitMoments of the rows idx of z (all rows if idx is
// nil), z [N, Z] or [N, C, …] (a unit per channel, its positions pooled).
func Moments(z *tensor.Tensor, idx []int) UnitMoments { return sumsOf(z).moments(idx) }

// unitSums are per-row, per-unit sums of activity over the unit's
// positions (1 for [N, Z]): what the moments of any set of rows, such as a
// bootstrap resample, are computed from without a pass over the activity.
type unitSums struct {
	rows, units, per int
	sum, sq, abs     []float64 // [rows·units]
}

// sumsOf returns the unitSums of z [N, C, …] (a unit per index of axis 1).
func sumsOf(z *tensor.Tensor) unitSums {
	n, d := z.Dim(0), z.Dim(1)
	s := unitSums{rows: n, units: d, per: z.Len() / max(n*d, 1)}
	s.sum, s.sq, s.abs = make([]float64, n*d), make([]float64, n*d), make([]float64, n*d)
	v := z.Values()
	for j := range s.sum {
		for _, x := range v[j*s.per : (j+1)*s.per] {
			s.sum[j] += x
			s.sq[j] += x * x
			if x < 0 {
				x = -x
			}
			s.abs[j] += x
		}
	}
	return s
}

// moments returns the UnitMoments of the rows idx (all if nil).
func (s unitSums) moments(idx []int) UnitMoments {
	d := s.units
	if idx == nil {
		idx = make([]int, s.rows)
		for i := range idx {
			idx[i] = i
		}
	}
	m := UnitMoments{MeanAbs: make([]float64, d), Mean: make([]float64, d), Variance: make([]float64, d)}
	sq := make([]float64, d)
	for _, i := range idx {
		for u := 0; u < d; u++ {
			m.Mean[u] += s.sum[i*d+u]
			sq[u] += s.sq[i*d+u]
			m.MeanAbs[u] += s.abs[i*d+u]
		}
	}
	k := float64(len(idx) * s.per)
	for u := range m.Mean {
		m.Mean[u] /= k
		m.MeanAbs[u] /= k
		m.Variance[u] = sq[u]/k - m.Mean[u]*m.Mean[u]
		if m.Variance[u] < 0 {
			m.Variance[u] = 0
		}
	}
	return m
}

// GroupRatio returns mean_{u∈S} v_u / mean_{u∉S} v_u: how a statistic of the
// units in S compares with that of the other units (1 when they are alike).
// NaN if either group is empty.
func GroupRatio(v []float64, silenced []int) float64 {
	in := map[int]bool{}
	for _, u := range silenced {
		in[u] = true
	}
	var a, b []float64
	for u, x := range v {
		if in[u] {
			a = append(a, x)
		} else {
			b = append(b, x)
		}
	}
	return Mean(a) / Mean(b)
}
