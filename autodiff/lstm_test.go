package autodiff_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/autodiff/gradcheck"
	"github.com/wakesleep/wakesleep/tensor"
)

// lstmTwoSteps runs two cell steps, the first from a zero state (or from
// p0 if given), and returns a scalar of both steps' c and m weighted by
// ws, so that every adjoint path (c̄ from m and from the next step) is
// taken.
func lstmTwoSteps(cell func(a, p *ad.Var) (c, m *ad.Var), a1, a2, p0 *ad.Var, ws []*ad.Var) (*ad.Var, []*ad.Var) {
	c1, m1 := cell(a1, p0)
	c2, m2 := cell(a2, c1)
	outs := []*ad.Var{c1, m1, c2, m2}
	var s *ad.Var
	for i, o := range []*ad.Var{m1, c2, m2} {
		t := ad.Sum(ad.Mul(o, ws[i]))
		if s == nil {
			s = t
		} else {
			s = ad.Add(s, t)
		}
	}
	return s, outs
}

// LSTMCell computes what the composite of Slice, Sigmoid, Tanh, Mul and
// Add computes, bit for bit in float32: the values, the first-order
// adjoints (with and without CreateGraph, the second recycling adjoints),
// and a second-order term through the recorded adjoints. Blocks of 7·81
// elements per sample cross the kernels' 256-element chunks.
func TestLSTMCellMatchesComposite(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 1))
	for _, withP := range []bool{false, true} {
		shape, state := []int{3, 28, 9, 9}, []int{3, 7, 9, 9}
		a1, a2 := ad.Param(float32s(rng, shape...)), ad.Param(float32s(rng, shape...))
		var p0 *ad.Var
		wrt := []*ad.Var{a1, a2}
		if withP {
			p0 = ad.Param(float32s(rng, state...))
			wrt = append(wrt, p0)
		}
		ws := []*ad.Var{ad.Const(float32s(rng, state...)), ad.Const(float32s(rng, state...)), ad.Const(float32s(rng, state...))}
		yf, of := lstmTwoSteps(ad.LSTMCell, a1, a2, p0, ws)
		yc, oc := lstmTwoSteps(ad.LSTMCellComposite, a1, a2, p0, ws)
		what := fmt.Sprintf("with p %v", withP)
		for i, name := range []string{"c1", "m1", "c2", "m2"} {
			sameBits(t, what+" "+name, of[i].Value, oc[i].Value)
		}
		for _, create := range []bool{false, true} {
			gf := ad.Grad(yf, wrt, &ad.GradOptions{CreateGraph: create})
			gc := ad.Grad(yc, wrt, &ad.GradOptions{CreateGraph: create})
			for i := range wrt {
				sameBits(t, fmt.Sprintf("%s create %v adjoint %d", what, create, i), gf[i].Value, gc[i].Value)
			}
			if !create {
				continue
			}
			// second order: ∂/∂a of ‖ā₂‖², through the adjoint ops' own rules
			pf := ad.Grad(ad.Sum(ad.Square(gf[1])), wrt, nil)
			pc := ad.Grad(ad.Sum(ad.Square(gc[1])), wrt, nil)
			for i := range wrt {
				close32(t, fmt.Sprintf("%s second order %d", what, i), pf[i].Value, pc[i].Value, 1e-5)
			}
		}
	}
}

// close32 fails unless got and want agree within tol relative to want's
// largest magnitude.
func close32(t *testing.T, what string, got, want *tensor.Tensor, tol float64) {
	t.Helper()
	scale := 0.0
	for i := 0; i < want.Len(); i++ {
		scale = max(scale, abs(want.At(i)))
	}
	for i := 0; i < want.Len(); i++ {
		if d := abs(got.At(i) - want.At(i)); d > tol*scale {
			t.Fatalf("%s: element %d is %g, want %g", what, i, got.At(i), want.At(i))
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// lstmF is a non-linear scalar of LSTMCell's outputs (through both c and m,
// and p again), so that the second derivative passes through the rules of
// every adjoint op.
func lstmF(withP bool) gradcheck.Func {
	return func(x []*ad.Var) *ad.Var {
		if !withP {
			c, m := ad.LSTMCell(x[0], nil)
			return ad.Add(ad.Mul(c, m), ad.Square(m))
		}
		c, m := ad.LSTMCell(x[0], x[1])
		return ad.Add(ad.Mul(c, m), ad.Mul(ad.Square(m), x[1]))
	}
}

func lstmInputs(rng *rand.Rand, withP bool) []*tensor.Tensor {
	in := []*tensor.Tensor{gradcheck.Rand(rng, -2, 2, 2, 8, 3, 2)}
	if withP {
		in = append(in, gradcheck.Rand(rng, -1.5, 1.5, 2, 2, 3, 2))
	}
	return in
}

func TestLSTMCellFirstAndSecondOrder(t *testing.T) {
	for i, withP := range []bool{false, true} {
		t.Run(fmt.Sprintf("p_%v", withP), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 31))
			opts := &gradcheck.Options{Seed: uint64(i)}
			if err := gradcheck.Check(lstmF(withP), lstmInputs(rng, withP), opts); err != nil {
				t.Fatal(err)
			}
			if err := gradcheck.CheckSecondOrder(lstmF(withP), lstmInputs(rng, withP), opts); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The adjoint ops as functions of their inputs: a penalty on the recorded
// adjoints ā and p̄ of a cell, checked to first order (the adjoint ops'
// rules run without recording) and second order (they run recorded: third
// order of the cell).
func TestLSTMCellAdjointOps(t *testing.T) {
	for i, withP := range []bool{false, true} {
		t.Run(fmt.Sprintf("p_%v", withP), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 32))
			f := func(x []*ad.Var) *ad.Var {
				var p *ad.Var
				wrt := x[:1]
				if withP {
					p, wrt = x[1], x[:2]
				}
				c, m := ad.LSTMCell(x[0], p)
				y := ad.Add(ad.Sum(ad.Mul(c, c)), ad.Sum(ad.Mul(m, x[len(x)-1])))
				gs := ad.Grad(y, wrt, &ad.GradOptions{CreateGraph: true})
				s := ad.Sum(ad.Square(gs[0]))
				if withP {
					s = ad.Add(s, ad.Sum(ad.Square(gs[1])))
				}
				return s
			}
			in := lstmInputs(rng, withP)
			in = append(in, gradcheck.Rand(rng, -1, 1, 2, 2, 3, 2))
			opts := &gradcheck.Options{Seed: uint64(i)}
			if err := gradcheck.Check(f, in, opts); err != nil {
				t.Fatal(err)
			}
			if err := gradcheck.CheckSecondOrder(f, in, opts); err != nil {
				t.Fatal(err)
			}
		})
	}
}
