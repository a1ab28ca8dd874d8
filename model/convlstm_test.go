package model

import (
	"math"
	"math/rand/v2"
	"testing"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/autodiff/gradcheck"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

// Sizes of the tiny cell the gradient checks unroll.
const (
	gcBatch, gcIn, gcHidden, gcSize, gcKernel, gcSteps = 2, 2, 2, 4, 3, 3
)

// unrolledCell returns f(xs) for xs = [x₁ … x_T, h₀, c₀, W_gates, b_gates,
// W_head, b_head]: the stochastic ConvLSTM unrolled over T steps with fixed
// noise, whose output is every sampled hidden state and the last cell state.
func unrolledCell(eps []*tensor.Tensor) gradcheck.Func {
	return func(v []*ad.Var) *ad.Var {
		xs, rest := v[:gcSteps], v[gcSteps:]
		cell := &ConvLSTM{
			Gates:  &nn.Conv2d{W: rest[2], B: rest[3], Params: tensor.ConvParams{Stride: 1, Pad: gcKernel / 2}},
			Head:   &nn.Conv2d{W: rest[4], B: rest[5], Params: tensor.ConvParams{Stride: 1}},
			In:     gcIn,
			Hidden: gcHidden,
		}
		s := ConvLSTMState{H: rest[0], C: rest[1]}
		var outs []*ad.Var
		for t, x := range xs {
			s = cell.StepNoise(x, s, eps[t])
			outs = append(outs, s.H)
		}
		return ad.Concat(1, append(outs, s.C)...)
	}
}

func unrolledInputs(rng *rand.Rand) (xs, eps []*tensor.Tensor) {
	for t := 0; t < gcSteps; t++ {
		xs = append(xs, gradcheck.Rand(rng, -1, 1, gcBatch, gcIn, gcSize, gcSize))
		eps = append(eps, tensor.RandNormal(rng, tensor.Float64, gcBatch, gcHidden, gcSize, gcSize))
	}
	xs = append(xs,
		gradcheck.Rand(rng, -1, 1, gcBatch, gcHidden, gcSize, gcSize), // h₀
		gradcheck.Rand(rng, -1, 1, gcBatch, gcHidden, gcSize, gcSize), // c₀
		gradcheck.Rand(rng, -0.4, 0.4, 4*gcHidden, gcIn+gcHidden, gcKernel, gcKernel),
		gradcheck.Rand(rng, -0.4, 0.4, 4*gcHidden),
		gradcheck.Rand(rng, -0.6, 0.6, 2*gcHidden, gcHidden, 1, 1),
		gradcheck.Rand(rng, -0.6, 0.6, 2*gcHidden),
	)
	return xs, eps
}

// TestConvLSTMGradients checks the gradients of a stochastic ConvLSTM
// unrolled over three steps (backpropagation through time through the
// sampled hidden states) against central differences, with respect to the
// inputs, the initial state and every weight: first order, and second order
// (Hessian-vector products through Grad with CreateGraph, as the gradient
// penalty needs for any network whose gradient it penalises).
func TestConvLSTMGradients(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	xs, eps := unrolledInputs(rng)
	f := unrolledCell(eps)
	t.Run("first order", func(t *testing.T) {
		if err := gradcheck.Check(f, xs, &gradcheck.Options{Seed: 1}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("second order", func(t *testing.T) {
		if err := gradcheck.CheckSecondOrder(f, xs, &gradcheck.Options{Seed: 2}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestConvLSTMStepEquations checks one step against the equations written
// out element by element.
func TestConvLSTMStepEquations(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	cell := NewConvLSTM(1, 1, 1, tensor.Float64, rng) // 1×1 kernel: every position is its own scalar LSTM
	x := gradcheck.Rand(rng, -1, 1, 2, 1, 2, 2)
	h := gradcheck.Rand(rng, -1, 1, 2, 1, 2, 2)
	c := gradcheck.Rand(rng, -1, 1, 2, 1, 2, 2)
	eps := tensor.RandNormal(rng, tensor.Float64, 2, 1, 2, 2)
	s := cell.StepNoise(ad.Const(x), ConvLSTMState{H: ad.Const(h), C: ad.Const(c)}, eps)
	wg, bg := cell.Gates.W.Value, cell.Gates.B.Value // [4, 2, 1, 1], [4]
	wh, bh := cell.Head.W.Value, cell.Head.B.Value   // [2, 1, 1, 1], [2]
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	for k := 0; k < x.Len(); k++ {
		gate := func(j int) float64 { return wg.At(2*j)*x.At(k) + wg.At(2*j+1)*h.At(k) + bg.At(j) }
		cNew := sig(gate(1))*c.At(k) + sig(gate(0))*math.Tanh(gate(2))
		m := sig(gate(3)) * math.Tanh(cNew)
		mean := wh.At(0)*m + bh.At(0)
		std := math.Log1p(math.Exp(wh.At(1)*m + bh.At(1)))
		if got := s.C.Value.At(k); math.Abs(got-cNew) > 1e-12 {
			t.Errorf("c[%d] = %g, want %g", k, got, cNew)
		}
		if got, want := s.H.Value.At(k), mean+std*eps.At(k); math.Abs(got-want) > 1e-12 {
			t.Errorf("h[%d] = %g, want %g", k, got, want)
		}
	}
	// Step with rng draws the noise StepNoise takes as an argument.
	r1, r2 := rand.New(rand.NewPCG(1, 2)), rand.New(rand.NewPCG(1, 2))
	a := cell.Step(ad.Const(x), ConvLSTMState{}, r1)
	b := cell.StepNoise(ad.Const(x), ConvLSTMState{}, tensor.RandNormal(r2, tensor.Float64, 2, 1, 2, 2))
	for i := 0; i < a.H.Value.Len(); i++ {
		if a.H.Value.At(i) != b.H.Value.At(i) {
			t.Fatal("Step and StepNoise with the same noise differ")
		}
	}
}

func TestSpaceToDepth(t *testing.T) {
	t.Parallel()
	x := tensor.New(tensor.Float64, 2, 3, 8, 4)
	for i := 0; i < x.Len(); i++ {
		x.SetAt(i, float64(i))
	}
	const p = 2
	y := SpaceToDepth(ad.Const(x), p)
	if !tensor.SameShape(y.Shape(), []int{2, 12, 4, 2}) {
		t.Fatalf("shape %v", y.Shape())
	}
	// out[b, c·p² + u·p + v, i, j] = x[b, c, i·p + u, j·p + v]
	for b := 0; b < 2; b++ {
		for c := 0; c < 3; c++ {
			for u := 0; u < p; u++ {
				for v := 0; v < p; v++ {
					for i := 0; i < 4; i++ {
						for j := 0; j < 2; j++ {
							got := y.Value.At(((b*12+c*p*p+u*p+v)*4+i)*2 + j)
							want := x.At(((b*3+c)*8+i*p+u)*4 + j*p + v)
							if got != want {
								t.Fatalf("out[%d,%d,%d,%d] = %g, want %g", b, c*p*p+u*p+v, i, j, got, want)
							}
						}
					}
				}
			}
		}
	}
	back := DepthToSpace(y, p)
	for i := 0; i < x.Len(); i++ {
		if back.Value.At(i) != x.At(i) {
			t.Fatal("DepthToSpace does not invert SpaceToDepth")
		}
	}
	if SpaceToDepth(ad.Const(x), 1).Value != x {
		t.Error("patch 1 is not the identity")
	}
}

// tinyVideoConfig is a Moving MNIST model small enough for unit tests.
func tinyVideoConfig() MovingMNISTConfig {
	return MovingMNISTConfig{FrameSize: 16, Patch: 2, Hidden: 3, Kernel: 3, ReadoutHidden: 2, CriticChannels: 2, CriticNorm: NormBatch}
}

func TestMovingMNISTShapes(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 1))
	m, err := NewMovingMNIST(tinyVideoConfig(), tensor.Float32, rng)
	if err != nil {
		t.Fatal(err)
	}
	var frames []*ad.Var
	for i := 0; i < 5; i++ {
		frames = append(frames, ad.Const(tensor.RandUniform(rng, tensor.Float32, 0, 1, 3, 1, 16, 16)))
	}
	for _, teacher := range []bool{false, true} {
		r := m.Rollout(frames, 3, 3, teacher, rng)
		if len(r.Z) != 5 || len(r.Pred) != 6 || r.Pred[0] != nil {
			t.Fatalf("rollout: %d latents, %d predictions", len(r.Z), len(r.Pred))
		}
		for i := 1; i < 6; i++ {
			if !tensor.SameShape(r.Pred[i].Shape(), []int{3, 1, 16, 16}) {
				t.Fatalf("prediction %d shape %v", i, r.Pred[i].Shape())
			}
			for j := 0; j < r.Pred[i].Value.Len(); j++ {
				if v := r.Pred[i].Value.At(j); !(v > 0 && v < 1) {
					t.Fatalf("prediction pixel %g outside (0, 1)", v)
				}
			}
		}
		if !tensor.SameShape(r.Z[4].Shape(), []int{3, 3, 8, 8}) {
			t.Fatalf("latent shape %v", r.Z[4].Shape())
		}
	}
	xs, zs := m.Dream(3, 4, rng)
	if len(xs) != 4 || len(zs) != 4 || !tensor.SameShape(xs[3].Shape(), []int{3, 1, 16, 16}) || !tensor.SameShape(zs[3].Shape(), []int{3, 3, 8, 8}) {
		t.Fatalf("dream: %d frames %v, %d latents %v", len(xs), xs[3].Shape(), len(zs), zs[3].Shape())
	}
	d, f := m.CriticX.ForwardFeatures(xs[0], true)
	if !tensor.SameShape(d.Shape(), []int{3, 1}) || !tensor.SameShape(f.Shape(), []int{3, 4 * 4 * 4}) {
		t.Fatalf("critic x: %v, features %v", d.Shape(), f.Shape())
	}
	if dz := m.CriticZ.Forward(zs[0], true); !tensor.SameShape(dz.Shape(), []int{3, 1}) {
		t.Fatalf("critic z: %v", dz.Shape())
	}
	// Names are unique, and every critic batch norm has buffers.
	seen := map[string]bool{}
	for _, p := range m.Parameters() {
		if seen[p.Name] {
			t.Errorf("duplicate parameter %s", p.Name)
		}
		seen[p.Name] = true
	}
	if len(m.Buffers()) != 8 {
		t.Errorf("%d buffers, want 8 (2 critics × 2 batch norms × mean, var)", len(m.Buffers()))
	}
}

// TestConvCriticBatchNormSecondOrder checks double backprop through the
// critic with batch norm in training mode, which the gradient penalty
// differentiates (see ConvCritic on why that is a questionable penalty).
func TestConvCriticBatchNormSecondOrder(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 9))
	c := NewConvCritic(1, 2, 4, NormBatch, tensor.Float64, rng)
	ps := c.Parameters()
	xs := []*tensor.Tensor{gradcheck.Rand(rng, -1, 1, 3, 1, 4, 4)}
	for _, p := range ps {
		xs = append(xs, p.V.Value.Clone())
	}
	f := func(v []*ad.Var) *ad.Var {
		cc := &ConvCritic{
			Conv1: &nn.Conv2d{W: v[1], Params: c.Conv1.Params},
			Norm1: &nn.BatchNorm{W: v[2], B: v[3], RunningMean: c.Norm1.RunningMean, RunningVar: c.Norm1.RunningVar, Momentum: 0.1, Eps: 1e-5},
			Conv2: &nn.Conv2d{W: v[4], Params: c.Conv2.Params},
			Norm2: &nn.BatchNorm{W: v[5], B: v[6], RunningMean: c.Norm2.RunningMean, RunningVar: c.Norm2.RunningVar, Momentum: 0.1, Eps: 1e-5},
			Out:   &nn.Linear{W: v[7], B: v[8]},
			Slope: 0.2,
		}
		return ad.Tanh(cc.Forward(v[0], true))
	}
	if len(xs) != 9 {
		t.Fatalf("%d parameters, the test expects 8", len(xs)-1)
	}
	if err := gradcheck.CheckSecondOrder(f, xs, &gradcheck.Options{Seed: 3, AbsTol: 1e-4, RelTol: 1e-3}); err != nil {
		t.Fatal(err)
	}
}
