package objective

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/autodiff/gradcheck"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

// tinyModel is the MNIST architecture at toy size, in float64.
func tinyModel(t *testing.T, critic string) *model.MNIST {
	cfg := model.MNISTConfig{XDim: 6, ZDim: 3, Hidden: 8, RecurrentSteps: 1, Critic: critic, CriticWidth: 8, CriticDepth: 2}
	m, err := model.NewMNIST(cfg, tensor.Float64, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func data(b, d int) *ad.Var {
	return ad.Const(gradcheck.Rand(rand.New(rand.NewPCG(9, 9)), 0, 1, b, d))
}

// step moves params by −lr·∂loss/∂params (plain gradient descent).
func step(loss *ad.Var, params []*nn.Parameter, lr float64) {
	gs := ad.Grad(loss, nn.Vars(params), nil)
	for i, p := range params {
		v := p.V.Value.Float64s()
		for j, g := range gs[i].Value.Float64s() {
			v[j] -= lr * g
		}
	}
}

func mean(v *ad.Var) float64 { return ad.Mean(v).Item() }

// The players' gradients have the right signs (Eq. 4): a critic step raises D
// on wake pairs and lowers it on sleep pairs; an inference step lowers D on
// wake pairs; a generation step raises D on sleep pairs.
func TestGlobalPlayersSigns(t *testing.T) {
	m := tinyModel(t, model.CriticGlobal)
	s := Settings{Gamma: 1, Lambda: 0}
	x := data(16, 6)
	ph := RunPhases(m, x, s, rand.New(rand.NewPCG(1, 1)))
	p := ph.Detached()
	D := func(x, z *ad.Var) float64 { return mean(m.Joint.Forward(ad.Concat(1, x, z))) }

	wake0, sleep0 := D(p.WakeX, p.WakeZ), D(p.SleepX, p.SleepZ)
	loss, _ := CriticLoss(m, ph, s, rand.New(rand.NewPCG(2, 2)))
	step(loss, m.CriticParameters(), 1e-3)
	if w := D(p.WakeX, p.WakeZ); !(w > wake0) {
		t.Errorf("critic step: D on wake pairs %g → %g, want a rise", wake0, w)
	}
	if s := D(p.SleepX, p.SleepZ); !(s < sleep0) {
		t.Errorf("critic step: D on sleep pairs %g → %g, want a fall", sleep0, s)
	}

	// Network steps on NetworkLoss, with the phases rerun on the same noise.
	run := func() *Phases { return RunPhases(m, x, s, rand.New(rand.NewPCG(5, 5))) }
	wakeD := func() float64 { q := run().Detached(); return D(q.WakeX, q.WakeZ) }
	sleepD := func() float64 { q := run().Detached(); return D(q.SleepX, q.SleepZ) }

	before := wakeD()
	l, _ := NetworkLoss(m, run(), s)
	step(l, nn.Prefixed("inference", m.Inference.Parameters()), 1e-3)
	if after := wakeD(); !(after < before) {
		t.Errorf("inference step: D on wake pairs %g → %g, want a fall", before, after)
	}

	before = sleepD()
	l, _ = NetworkLoss(m, run(), s)
	step(l, nn.Prefixed("generator", m.Generator.Parameters()), 1e-3)
	if after := sleepD(); !(after > before) {
		t.Errorf("generation step: D on sleep pairs %g → %g, want a rise", before, after)
	}
}

// Local critics (Eq. 7–8): D_x separates data from its top-down
// reconstruction, D_z inferred z from prior z; a network
// step raises D_x on reconstructions and lowers D_z on inferred z.
func TestLocalPlayersSigns(t *testing.T) {
	m := tinyModel(t, model.CriticLocal)
	s := Settings{Gamma: 0.1, Lambda: 0, ReconWeight: 0}
	x := data(16, 6)
	ph := RunPhases(m, x, s, rand.New(rand.NewPCG(1, 1)))
	p := ph.Detached()
	dx := func(v *ad.Var) float64 { return mean(m.CriticX.Forward(v)) }
	dz := func(v *ad.Var) float64 { return mean(m.CriticZ.Forward(v)) }
	// Each local critic shares its weights between the two phases, so one
	// step need not move both means; what must rise is the gap it maximises.
	gx0, gz0 := dx(p.WakeX)-dx(p.TopDownX), dz(p.WakeZ)-dz(p.SleepZ)
	loss, _ := CriticLoss(m, ph, s, rand.New(rand.NewPCG(2, 2)))
	step(loss, m.CriticParameters(), 1e-3)
	if g := dx(p.WakeX) - dx(p.TopDownX); !(g > gx0) {
		t.Errorf("D_x(data) − D_x(reconstruction) %g → %g, want a rise", gx0, g)
	}
	if g := dz(p.WakeZ) - dz(p.SleepZ); !(g > gz0) {
		t.Errorf("D_z(inferred) − D_z(prior) %g → %g, want a rise", gz0, g)
	}

	// Network step with the same noise: D_x(reconstruction) up, D_z(inferred) down.
	run := func() *Phases { return RunPhases(m, x, s, rand.New(rand.NewPCG(7, 7))) }
	before := run()
	rb, zb := dx(ad.Detach(before.TopDownX)), dz(ad.Detach(before.WakeZ))
	nl, _ := NetworkLoss(m, before, s)
	step(nl, m.NetworkParameters(), 1e-3)
	after := run()
	if v := dx(ad.Detach(after.TopDownX)); !(v > rb) {
		t.Errorf("network step: D_x on reconstructions %g → %g, want a rise", rb, v)
	}
	if v := dz(ad.Detach(after.WakeZ)); !(v < zb) {
		t.Errorf("network step: D_z on inferred z %g → %g, want a fall", zb, v)
	}
}

// The networks' loss differentiates correctly through sampling, recurrence,
// the mean-merge and the critics (float64 finite differences; the noise is
// fixed by reseeding).
func TestNetworkLossGradient(t *testing.T) {
	for _, critic := range []string{model.CriticGlobal, model.CriticLocal, model.CriticLocal + "/all"} {
		t.Run(critic, func(t *testing.T) {
			s := Settings{Gamma: 0.3, Lambda: 1, ReconWeight: 1}
			if critic == model.CriticLocal+"/all" {
				critic, s.ReconLayers, s.ReconWeight = model.CriticLocal, ReconAll, 3
			}
			m := tinyModel(t, critic)
			if critic == model.CriticGlobal {
				s.Gamma = 1
			}
			x := data(4, 6)
			ps := m.NetworkParameters()[:4] // the first stochastic layer of inference
			f := func(vs []*ad.Var) *ad.Var {
				for i, p := range ps {
					p.V = vs[i]
				}
				m.Inference.First.Hidden.W, m.Inference.First.Hidden.B = vs[0], vs[1]
				m.Inference.First.Out.W, m.Inference.First.Out.B = vs[2], vs[3]
				l, _ := NetworkLoss(m, RunPhases(m, x, s, rand.New(rand.NewPCG(8, 8))), s)
				return l
			}
			ins := make([]*tensor.Tensor, len(ps))
			for i, p := range ps {
				ins[i] = p.V.Value
			}
			if err := gradcheck.Check(f, ins, &gradcheck.Options{AbsTol: 1e-5, RelTol: 1e-4}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The critics' loss, gradient penalty included, differentiates correctly
// with respect to critic weights (a second-order quantity).
func TestCriticLossGradient(t *testing.T) {
	for _, critic := range []string{model.CriticGlobal, model.CriticLocal} {
		t.Run(critic, func(t *testing.T) {
			m := tinyModel(t, critic)
			s := Settings{Gamma: 0.3, Lambda: 1}
			if critic == model.CriticGlobal {
				s.Gamma = 1
			}
			ph := RunPhases(m, data(4, 6), s, rand.New(rand.NewPCG(8, 8))).Detached()
			c := m.Joint
			if c == nil {
				c = m.CriticX
			}
			f := func(vs []*ad.Var) *ad.Var {
				c.Layers[0].W, c.Layers[0].B = vs[0], vs[1]
				l, _ := CriticLoss(m, ph, s, rand.New(rand.NewPCG(3, 3)))
				return l
			}
			ins := []*tensor.Tensor{c.Layers[0].W.Value, c.Layers[0].B.Value}
			if err := gradcheck.Check(f, ins, &gradcheck.Options{AbsTol: 1e-5, RelTol: 1e-4}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The phase-silencing perturbation holds the chosen latent units at zero in
// the sleep phase and leaves the others and the wake phase alone.
func TestSilenceSleepZ(t *testing.T) {
	m := tinyModel(t, model.CriticLocal)
	s := Settings{Gamma: 0.1, Lambda: 1, SilenceSleepZ: []int{0, 2}}
	p := RunPhases(m, data(5, 6), s, rand.New(rand.NewPCG(1, 1)))
	for b := 0; b < 5; b++ {
		for u := 0; u < 3; u++ {
			v := p.SleepZ.Value.At(b*3 + u)
			if (u == 0 || u == 2) != (v == 0) {
				t.Fatalf("sleep z[%d][%d] = %g", b, u, v)
			}
			if p.WakeZ.Value.At(b*3+u) == 0 {
				t.Fatalf("wake z[%d][%d] silenced", b, u)
			}
		}
	}
	if err := (Settings{SilenceSleepZ: []int{-1}}).Validate(); err == nil {
		t.Error("negative unit accepted")
	}
}

// The sham control redraws the chosen latent units of the sleep phase's
// prior sample from N(0, 1): with the same rng, those columns differ from
// the unshammed run's in every row, the others and the wake phase are
// unchanged, and the redrawn columns are standard normal and independent of
// the draws they replace.
func TestShamSleepZ(t *testing.T) {
	m := tinyModel(t, model.CriticGlobal)
	const b, zdim = 20000, 3
	x := data(b, 6)
	plain := RunPhases(m, x, Settings{Gamma: 1, Lambda: 1}, rand.New(rand.NewPCG(1, 1)))
	sham := RunPhases(m, x, Settings{Gamma: 1, Lambda: 1, ShamSleepZ: []int{1}}, rand.New(rand.NewPCG(1, 1)))
	var sum, sq, cross float64
	for i := 0; i < b; i++ {
		for u := 0; u < zdim; u++ {
			k := i*zdim + u
			if plain.WakeZ.Value.At(k) != sham.WakeZ.Value.At(k) {
				t.Fatalf("wake z[%d][%d] changed by the sham", i, u)
			}
			v, w := sham.SleepZ.Value.At(k), plain.SleepZ.Value.At(k)
			if (u == 1) == (v == w) {
				t.Fatalf("sleep z[%d][%d] = %g, unshammed %g", i, u, v, w)
			}
			if u == 1 {
				sum, sq, cross = sum+v, sq+v*v, cross+v*w
			}
		}
	}
	// 20,000 draws: the mean's sd is 0.007, the variance's and the
	// correlation's 0.01; the bounds are 4–5 of those.
	mean := sum / b
	variance := sq/b - mean*mean
	if math.Abs(mean) > 0.03 || math.Abs(variance-1) > 0.05 {
		t.Errorf("sham unit: mean %g, variance %g, want 0, 1", mean, variance)
	}
	if r := cross / b; math.Abs(r) > 0.05 {
		t.Errorf("sham unit correlates %g with the draw it replaced", r)
	}
	if err := (Settings{ShamSleepZ: []int{-2}}).Validate(); err == nil {
		t.Error("negative sham unit accepted")
	}
	err := (Settings{SilenceSleepZ: []int{0, 2}, ShamSleepZ: []int{1, 2}}).Validate()
	if err == nil || !strings.Contains(err.Error(), "unit 2 is both silenced and shammed") {
		t.Errorf("a unit both silenced and shammed: %v", err)
	}
	if err := (Settings{SilenceSleepZ: []int{0}, ShamSleepZ: []int{1}}).Validate(); err != nil {
		t.Errorf("disjoint silenced and sham units: %v", err)
	}
}

// NetworkTerms are the weighted summands of NetworkLoss: they add up to it,
// and L_RECON over every critic layer is the mean of the per-layer MSEs.
func TestNetworkTermsSumToLoss(t *testing.T) {
	for _, layers := range []string{"", ReconLast, ReconAll} {
		m := tinyModel(t, model.CriticLocal)
		s := Settings{Gamma: 0.3, Lambda: 1, ReconWeight: 2, ReconLayers: layers}
		ph := RunPhases(m, data(4, 6), s, rand.New(rand.NewPCG(8, 8)))
		loss, _ := NetworkLoss(m, ph, s)
		terms, logged := NetworkTerms(m, ph, s)
		sum := 0.0
		for _, q := range terms {
			sum += q.Value.Item()
		}
		if d := sum - loss.Item(); d > 1e-12 || d < -1e-12 {
			t.Fatalf("%q: terms sum to %g, loss %g", layers, sum, loss.Item())
		}
		_, fx := m.CriticX.ForwardLayers(ph.WakeX)
		_, fr := m.CriticX.ForwardLayers(ph.TopDownX)
		want := FeatureReconstruction(fx[len(fx)-1], fr[len(fr)-1]).Item()
		if layers == ReconAll {
			want = 0
			for l := range fx {
				want += FeatureReconstruction(fx[l], fr[l]).Item() / float64(len(fx))
			}
		}
		if got := logged["net/recon_x"]; d(got, 2*want) > 1e-12 {
			t.Fatalf("%q: recon %g, want %g", layers, got, 2*want)
		}
	}
	if err := (Settings{ReconLayers: "first"}).Validate(); err == nil {
		t.Fatal("recon layers \"first\" accepted")
	}
}

func d(a, b float64) float64 {
	if a > b {
		return a - b
	}
	return b - a
}

// The sleep-inference term: with SleepInferWeight w, both algorithms' terms
// gain "sleep_infer" = w·mean((μ_q(x^s) − z^s)²), written out here from the
// inference network's noise-free pass, and its gradient reaches both
// networks; without it the terms are the paper's.
func TestSleepInferTerm(t *testing.T) {
	for _, critic := range []string{model.CriticGlobal, model.CriticLocal} {
		m := tinyModel(t, critic)
		s := Settings{Gamma: 0.3, Lambda: 1, ReconWeight: 2}
		ph := RunPhases(m, data(4, 6), s, rand.New(rand.NewPCG(8, 9)))
		base, _ := NetworkTerms(m, ph, s)
		s.SleepInferWeight = 1.5
		terms, logged := NetworkTerms(m, ph, s)
		if len(terms) != len(base)+1 || terms[len(terms)-1].Name != "sleep_infer" {
			t.Fatalf("%s: terms %d (base %d), last %q", critic, len(terms), len(base), terms[len(terms)-1].Name)
		}
		mu := m.Inference.Mean(ad.Const(ph.SleepX.Value)).Value.Float64s()
		z := ph.SleepZ.Value.Float64s()
		want := 0.0
		for i := range mu {
			want += (mu[i] - z[i]) * (mu[i] - z[i])
		}
		want *= s.SleepInferWeight / float64(len(mu))
		if got := logged["net/sleep_infer"]; d(got, want) > 1e-12 || want == 0 {
			t.Errorf("%s: sleep_infer %g, want %g", critic, got, want)
		}
		term := terms[len(terms)-1].Value
		for _, net := range []nn.Module{m.Inference, m.Generator} {
			ps := nn.Vars(net.Parameters())
			g := ad.Grad(term, ps, nil)
			n := 0.0
			for _, gi := range g {
				if gi != nil {
					n += tensor.Dot(gi.Value, gi.Value)
				}
			}
			if n == 0 {
				t.Errorf("%s: the term does not reach %T", critic, net)
			}
		}
	}
}
