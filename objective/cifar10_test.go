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

// tinyCIFAR returns a float64 CIFAR-10 model with the paper's geometry and
// few channels, and a batch of 3 random images.
func tinyCIFAR(t *testing.T) (*model.CIFAR10, *ad.Var) {
	t.Helper()
	cfg := model.DefaultCIFAR10Config()
	cfg.Channels = []int{3, 4, 4, 5, 3}
	cfg.CriticChannels = []int{2, 2, 2, 2, 2, 2}
	rng := rand.New(rand.NewPCG(31, 32))
	m, err := model.NewCIFAR10(cfg, tensor.Float64, rng)
	if err != nil {
		t.Fatal(err)
	}
	return m, ad.Const(gradcheck.Rand(rng, -1, 1, 3, 3, 32, 32))
}

func TestCIFAR10Phases(t *testing.T) {
	t.Parallel()
	m, x := tinyCIFAR(t)
	p := RunHierPhases(m, x, Settings{}, rand.New(rand.NewPCG(1, 2)))
	L := m.Layers()
	if len(p.Wake) != L+1 || len(p.Sleep) != L+1 || len(p.TopDown) != L+1 {
		t.Fatalf("%d/%d/%d layers", len(p.Wake), len(p.Sleep), len(p.TopDown))
	}
	for i := 0; i <= L; i++ {
		want := m.Config.LayerShape(3, i)
		for name, z := range map[string]*ad.Var{"wake": p.Wake[i], "sleep": p.Sleep[i], "top-down": p.TopDown[i]} {
			if !tensor.SameShape(z.Shape(), want) {
				t.Errorf("%s layer %d: %v, want %v", name, i, z.Shape(), want)
			}
		}
	}
	if p.Wake[0] != x || p.TopDown[L] != p.Sleep[L] {
		t.Error("wake must start at the data and the top layer's top-down phase is the prior")
	}
}

func meanOf(v *ad.Var) float64 { return ad.Mean(v).Item() }

// The losses, computed with one critic call on each layer's concatenated
// phases, equal Eq. 8 written out with separate calls.
func TestCIFAR10LossesAreEq8(t *testing.T) {
	t.Parallel()
	m, x := tinyCIFAR(t)
	p := RunHierPhases(m, x, Settings{}, rand.New(rand.NewPCG(3, 4)))
	s := Settings{Gamma: 0.3, Lambda: 2, ReconWeight: 0.7}
	L := m.Layers()

	net, terms := CIFAR10NetworkLoss(m, p, s)
	var want float64
	for i := 0; i <= L; i++ {
		c := m.Critics[i]
		dw, fw := c.ForwardFeatures(p.Wake[i])
		ds := c.Forward(p.Sleep[i])
		dt, ft := c.ForwardFeatures(p.TopDown[i])
		ws := meanOf(dw) - meanOf(ds)
		osc := meanOf(dw) - meanOf(dt)
		if i == L {
			want += osc // the top layer's two terms coincide
			continue
		}
		recon := s.ReconWeight * ad.Mean(ad.Square(ad.Sub(fw, ft))).Item()
		want += s.Gamma*ws + (1-s.Gamma)*(osc+recon) // Eq. 8
		if name := LayerName(i); math.Abs(terms["net/ws_"+name]-ws) > 1e-12 || math.Abs(terms["net/recon_"+name]-recon) > 1e-12 {
			t.Errorf("layer %s: terms %v", name, terms)
		}
	}
	if math.Abs(net.Item()-want) > 1e-10 {
		t.Errorf("network loss %.15g, Eq. 8 gives %.15g", net.Item(), want)
	}

	// The critic loss with the same interpolation weights, drawn in the
	// same order: per layer the WS penalty, then the oscillatory one.
	crit, cterms := CIFAR10CriticLoss(m, p, s, rand.New(rand.NewPCG(5, 6)))
	rng := rand.New(rand.NewPCG(5, 6))
	d := p.Detached()
	want = 0
	for i := 0; i <= L; i++ {
		c := m.Critics[i]
		f := func(in []*ad.Var) *ad.Var { return c.Forward(in[0]) }
		dw := meanOf(c.Forward(d.Wake[i]))
		ws := dw - meanOf(c.Forward(d.Sleep[i]))
		gpWS := GradientPenalty(f, d.Wake[i:i+1], d.Sleep[i:i+1], InterpolationWeights(rng, tensor.Float64, 3)).Item()
		if i == L {
			want += -ws + s.Lambda*gpWS
			continue
		}
		osc := dw - meanOf(c.Forward(d.TopDown[i]))
		gpO := GradientPenalty(f, d.Wake[i:i+1], d.TopDown[i:i+1], InterpolationWeights(rng, tensor.Float64, 3)).Item()
		want += -(s.Gamma*ws + (1-s.Gamma)*osc) + s.Lambda*(s.Gamma*gpWS+(1-s.Gamma)*gpO)
		if name := "critic_" + LayerName(i); math.Abs(cterms[name+"/osc"]-osc) > 1e-12 {
			t.Errorf("%s/osc %g, want %g", name, cterms[name+"/osc"], osc)
		}
	}
	if math.Abs(crit.Item()-want) > 1e-10 {
		t.Errorf("critic loss %.15g, Eq. 8 with WGAN-GP gives %.15g", crit.Item(), want)
	}
	for _, k := range []string{"critic_x/ws", "critic_z4/gp", "critic_z5/osc", "net/osc_z5", "net/recon_z4"} {
		if _, ok := terms[k]; !ok {
			if _, ok := cterms[k]; !ok {
				t.Errorf("no term %s", k)
			}
		}
	}
}

// With ReconLayers "all", each layer's L_RECON is the mean over both hidden
// layers of its critic of the wake/top-down feature MSE (computed here on
// separate batches: pixel norm acts per sample, so that is the same).
func TestCIFAR10ReconAllLayers(t *testing.T) {
	t.Parallel()
	m, x := tinyCIFAR(t)
	p := RunHierPhases(m, x, Settings{}, rand.New(rand.NewPCG(3, 4)))
	s := Settings{Gamma: 0.3, Lambda: 2, ReconWeight: 0.7, ReconLayers: ReconAll}
	_, terms := CIFAR10NetworkLoss(m, p, s)
	for i := 0; i < m.Layers(); i++ {
		_, hw := m.Critics[i].ForwardLayers(p.Wake[i])
		_, ht := m.Critics[i].ForwardLayers(p.TopDown[i])
		f := m.Critics[i].Features(p.Wake[i])
		if d := tensor.Binary(tensor.OpSub, f.Value, hw[1].Value); tensor.Dot(d, d) != 0 {
			t.Fatalf("layer %d: the last hidden layer is not Features", i)
		}
		var want float64
		for l := range hw {
			want += ad.Mean(ad.Square(ad.Sub(hw[l], ht[l]))).Item() / float64(len(hw))
		}
		if got := terms["net/recon_"+LayerName(i)]; math.Abs(got-s.ReconWeight*want) > 1e-10 {
			t.Errorf("layer %d: recon %g, want %g", i, got, s.ReconWeight*want)
		}
	}
}

// The critic loss trains only the critics (the phases are detached); the
// network loss reaches every inference and generation parameter.
func TestCIFAR10LossGradientsReach(t *testing.T) {
	t.Parallel()
	m, x := tinyCIFAR(t)
	p := RunHierPhases(m, x, Settings{}, rand.New(rand.NewPCG(7, 8)))
	s := Settings{Gamma: 0.5, Lambda: 1, ReconWeight: 1}
	crit, _ := CIFAR10CriticLoss(m, p, s, rand.New(rand.NewPCG(9, 9)))
	if crit.RequiresGrad() {
		for i, g := range ad.Grad(crit, nn.Vars(m.NetworkParameters()), nil) {
			if g.Value.HasNaNOrInf() || tensor.Dot(g.Value, g.Value) != 0 {
				t.Fatalf("critic loss reaches network parameter %s", m.NetworkParameters()[i].Name)
			}
		}
	}
	for name, loss := range map[string]*ad.Var{"critic": crit, "network": func() *ad.Var { l, _ := CIFAR10NetworkLoss(m, p, s); return l }()} {
		ps := m.CriticParameters()
		if name == "network" {
			ps = m.NetworkParameters()
		}
		for i, g := range ad.Grad(loss, nn.Vars(ps), nil) {
			if n := tensor.Dot(g.Value, g.Value); n == 0 || math.IsNaN(n) {
				t.Errorf("%s loss: gradient of %s has norm² %g", name, ps[i].Name, n)
			}
		}
	}
}

// The critic loss differentiates through the gradient penalty (double
// backprop through convolutions, LeakyReLU and PixelNorm): its gradient with
// respect to critic weights matches finite differences.
func TestCIFAR10CriticLossGradient(t *testing.T) {
	t.Parallel()
	m, x := tinyCIFAR(t)
	p := RunHierPhases(m, x, Settings{}, rand.New(rand.NewPCG(11, 12))).Detached()
	s := Settings{Gamma: 0.5, Lambda: 1, ReconWeight: 1}
	for _, i := range []int{0, 3, 5} {
		c := m.Critics[i]
		w0 := c.Conv1.W.Value.Clone()
		f := func(xs []*ad.Var) *ad.Var {
			c.Conv1.W = xs[0] // the weight under test, as a fresh leaf
			l, _ := CIFAR10CriticLoss(m, p, s, rand.New(rand.NewPCG(13, 14)))
			return l
		}
		if err := gradcheck.Check(f, []*tensor.Tensor{w0}, &gradcheck.Options{AbsTol: 1e-6, RelTol: 1e-4}); err != nil {
			t.Errorf("critic %d conv1 weight: %v", i, err)
		}
	}
}

// same reports whether a and b hold the same values.
func same(a, b *ad.Var) bool {
	d := tensor.Binary(tensor.OpSub, a.Value, b.Value)
	return tensor.Dot(d, d) == 0
}

// channelEnergy returns the sum of squares of channel c of z [B, C, S, S].
func channelEnergy(z *ad.Var, c int) float64 {
	b, n := z.Dim(0), z.Dim(1)
	per := z.Value.Len() / (b * n)
	var e float64
	for i := 0; i < b; i++ {
		for q := 0; q < per; q++ {
			v := z.Value.At((i*n+c)*per + q)
			e += v * v
		}
	}
	return e
}

// Without a perturbation the phases are the model's own passes drawn in
// order; silencing channels of layer k zeroes them in its sleep and
// top-down samples only, changes the sleep layers below k (dreamt from the
// silenced layer) and nothing else; a sham of the same channels leaves the
// wake phase and the layers above k as they were, redraws layer k and
// leaves the silenced channels live.
func TestCIFAR10LayerSilencing(t *testing.T) {
	t.Parallel()
	m, x := tinyCIFAR(t)
	L := m.Layers()
	seed := func() *rand.Rand { return rand.New(rand.NewPCG(21, 22)) }
	rng := seed()
	wake := m.Infer(x, rng)
	sleep := m.Generate(m.Prior(3, rng), rng)
	base := RunHierPhases(m, x, Settings{}, seed())
	for i := 0; i <= L; i++ {
		if !same(base.Wake[i], wake[i]) || !same(base.Sleep[i], sleep[i]) {
			t.Fatalf("layer %d: unperturbed phases are not Infer and Generate in order", i)
		}
	}
	const k = 2
	sil := []int{0, 2}
	p := RunHierPhases(m, x, Settings{SilenceLayer: k, SilenceChannels: sil}, seed())
	for i := 0; i <= L; i++ {
		if !same(p.Wake[i], base.Wake[i]) {
			t.Errorf("silencing changed the wake phase of layer %d", i)
		}
		if i > k && !same(p.Sleep[i], base.Sleep[i]) {
			t.Errorf("silencing changed the sleep phase of layer %d above %d", i, k)
		}
		if i < k && same(p.Sleep[i], base.Sleep[i]) {
			t.Errorf("layer %d's sleep sample is not dreamt from the silenced layer %d", i, k)
		}
		if i != k && !same(p.TopDown[i], base.TopDown[i]) {
			t.Errorf("silencing changed the top-down phase of layer %d", i)
		}
	}
	for c := 0; c < m.Config.LayerChannels(k); c++ {
		silenced := c == 0 || c == 2
		for name, pair := range map[string][2]*ad.Var{"sleep": {p.Sleep[k], base.Sleep[k]}, "top-down": {p.TopDown[k], base.TopDown[k]}} {
			got, was := channelEnergy(pair[0], c), channelEnergy(pair[1], c)
			if silenced && got != 0 || !silenced && got != was || was == 0 {
				t.Errorf("%s channel %d (silenced %v): energy %g, unperturbed %g", name, c, silenced, got, was)
			}
		}
	}
	sh := RunHierPhases(m, x, Settings{SilenceLayer: k, ShamChannels: sil}, seed())
	for i := k + 1; i <= L; i++ {
		if !same(sh.Sleep[i], base.Sleep[i]) {
			t.Errorf("the sham changed the sleep phase of layer %d above %d", i, k)
		}
	}
	for i := 0; i <= L; i++ {
		if !same(sh.Wake[i], base.Wake[i]) {
			t.Errorf("the sham changed the wake phase of layer %d", i)
		}
	}
	if same(sh.Sleep[k], base.Sleep[k]) || same(sh.TopDown[k], base.TopDown[k]) {
		t.Error("the sham did not redraw layer k")
	}
	for _, c := range sil {
		if channelEnergy(sh.Sleep[k], c) == 0 || channelEnergy(sh.TopDown[k], c) == 0 {
			t.Errorf("the sham silenced channel %d", c)
		}
	}
	// Silencing and sham together train: the network loss reaches every
	// network parameter.
	both := Settings{Gamma: 0.5, Lambda: 1, ReconWeight: 1, SilenceLayer: 1, SilenceChannels: []int{1}, ShamChannels: []int{0}}
	loss, _ := CIFAR10NetworkLoss(m, RunHierPhases(m, x, both, seed()), both)
	for i, g := range ad.Grad(loss, nn.Vars(m.NetworkParameters()), nil) {
		if n := tensor.Dot(g.Value, g.Value); n == 0 || math.IsNaN(n) {
			t.Errorf("gradient of %s has norm² %g", m.NetworkParameters()[i].Name, n)
		}
	}
}

// redrawChannels replaces exactly the listed channels, with standard
// normal draws.
func TestRedrawChannels(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	eps := tensor.Full(tensor.Float64, 7, 200, 3, 2, 2)
	redrawChannels(eps, []int{2}, rng)
	var sum, sq float64
	for i := 0; i < 200; i++ {
		for c := 0; c < 3; c++ {
			for q := 0; q < 4; q++ {
				v := eps.At((i*3+c)*4 + q)
				switch {
				case c == 2:
					sum, sq = sum+v, sq+v*v
				case v != 7:
					t.Fatalf("channel %d changed", c)
				}
			}
		}
	}
	if mean, vr := sum/800, sq/800-(sum/800)*(sum/800); math.Abs(mean) > 0.15 || math.Abs(vr-1) > 0.15 {
		t.Errorf("redrawn channel: mean %g, variance %g, want N(0, 1)", mean, vr)
	}
}

func TestLayerSilencingValidate(t *testing.T) {
	t.Parallel()
	ch := func(i int) int { return []int{3, 4, 4, 5, 3, 2}[i] }
	for _, tc := range []struct {
		s    Settings
		want string // "" valid
	}{
		{Settings{}, ""},
		{Settings{SilenceLayer: 2, SilenceChannels: []int{0, 3}, ShamChannels: []int{1}}, ""},
		{Settings{SilenceLayer: -1, SilenceChannels: []int{0}}, "must be ≥ 1"},
		{Settings{SilenceChannels: []int{0}}, "need a layer"},
		{Settings{SilenceLayer: 2}, "no silenced or sham channels"},
		{Settings{SilenceLayer: 2, SilenceChannels: []int{-1}}, "must be ≥ 0"},
		{Settings{SilenceLayer: 2, SilenceChannels: []int{1, 1}}, "listed twice"},
		{Settings{SilenceLayer: 2, SilenceChannels: []int{1}, ShamChannels: []int{1}}, "both silenced and shammed"},
		{Settings{SilenceLayer: 5, SilenceChannels: []int{0}}, "1 to 4"},
		{Settings{SilenceLayer: 2, ShamChannels: []int{4}}, "outside layer 2's channels 0..3"},
		{Settings{SilenceSleepZ: []int{0}}, "for the MNIST model"},
		{Settings{ChainReconWeight: 3}, ""},
		{Settings{ChainReconWeight: -1}, "chain recon weight"},
		{Settings{ChainReconWeight: math.NaN()}, "chain recon weight"},
		{Settings{ChainReconWeight: math.Inf(1)}, "chain recon weight"},
		{Settings{ChainReconWeight: 1, ChainReconSpace: ChainPixels}, ""},
		{Settings{ChainReconWeight: 1, ChainReconSpace: "pixel"}, "chain recon space"},
	} {
		err := tc.s.Validate()
		if err == nil {
			err = tc.s.ValidateHier(5, ch)
		}
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.s, err, tc.want)
		}
	}
	if err := (Settings{SilenceLayer: 1, SilenceChannels: []int{0}}).ValidateFlat(); err == nil {
		t.Error("the flat model accepts layer silencing")
	}
	if err := (Settings{ChainReconWeight: 1}).ValidateFlat(); err == nil || !strings.Contains(err.Error(), "chain_recon_weight") {
		t.Errorf("the flat model's chain recon weight: %v", err)
	}
}

// The chain term: without ChainReconWeight no chain is drawn and the phases
// are those of the paper's objective; with it, the phases before the chain
// are unchanged (it is drawn last), the network loss grows by exactly
// (1 − γ)·w·L_RECON(x, x̂_chain), with x̂_chain generated from the top wake
// layer through every generative step, and the term's gradient reaches the
// top inference layer.
func TestCIFAR10ChainRecon(t *testing.T) {
	t.Parallel()
	m, x := tinyCIFAR(t)
	L := m.Layers()
	base := Settings{Gamma: 0.3, Lambda: 1, ReconWeight: 0.7, ReconLayers: ReconAll}
	rng0 := rand.New(rand.NewPCG(5, 6))
	p0 := RunHierPhases(m, x, base, rng0)
	// What the chain must be: the generative steps from the top wake layer,
	// with the noise that follows the phases'.
	chain := p0.Wake[L]
	for i := L - 1; i >= 0; i-- {
		chain = m.GenerateStep(i, chain, rng0)
	}
	if p0.Chain != nil {
		t.Fatal("a chain without ChainReconWeight")
	}
	s := base
	s.ChainReconWeight = 2
	p := RunHierPhases(m, x, s, rand.New(rand.NewPCG(5, 6)))
	for i := 0; i <= L; i++ {
		for _, pair := range [][2]*ad.Var{{p0.Wake[i], p.Wake[i]}, {p0.Sleep[i], p.Sleep[i]}, {p0.TopDown[i], p.TopDown[i]}} {
			if d := tensor.Binary(tensor.OpSub, pair[0].Value, pair[1].Value); tensor.Dot(d, d) != 0 {
				t.Fatalf("layer %d: the chain changed the other phases", i)
			}
		}
	}
	if p.Chain == nil || !tensor.SameShape(p.Chain.Shape(), x.Shape()) {
		t.Fatalf("chain %v for images %v", p.Chain, x.Shape())
	}
	if d := tensor.Binary(tensor.OpSub, chain.Value, p.Chain.Value); tensor.Dot(d, d) != 0 {
		t.Fatal("the chain is not the generative pass from the top wake layer")
	}
	l0, t0 := CIFAR10NetworkLoss(m, p0, base)
	l1, t1 := CIFAR10NetworkLoss(m, p, s)
	_, hw := m.Critics[0].ForwardLayers(p.Wake[0])
	_, hc := m.Critics[0].ForwardLayers(p.Chain)
	var want float64
	for l := range hw {
		want += ad.Mean(ad.Square(ad.Sub(hw[l], hc[l]))).Item() / float64(len(hw))
	}
	if got := t1["net/recon_chain"]; math.Abs(got-s.ChainReconWeight*want) > 1e-10 || want == 0 {
		t.Errorf("net/recon_chain %g, want %g", got, s.ChainReconWeight*want)
	}
	if _, ok := t0["net/recon_chain"]; ok {
		t.Error("net/recon_chain reported without the term")
	}
	if d, w := l1.Item()-l0.Item(), (1-s.Gamma)*t1["net/recon_chain"]; math.Abs(d-w) > 1e-9 {
		t.Errorf("the loss grew by %g, want (1-γ)·term = %g", d, w)
	}
	// In pixels: the same chain, the term w·mean((x − x̂_chain)²).
	sp := s
	sp.ChainReconSpace = ChainPixels
	lp, tp := CIFAR10NetworkLoss(m, p, sp)
	d := tensor.Binary(tensor.OpSub, p.Wake[0].Value, p.Chain.Value)
	wantPix := sp.ChainReconWeight * tensor.Dot(d, d) / float64(d.Len())
	if got := tp["net/recon_chain"]; math.Abs(got-wantPix) > 1e-10 || wantPix == 0 {
		t.Errorf("net/recon_chain in pixels %g, want %g", got, wantPix)
	}
	if d, w := lp.Item()-l0.Item(), (1-s.Gamma)*wantPix; math.Abs(d-w) > 1e-9 {
		t.Errorf("in pixels the loss grew by %g, want (1-γ)·term = %g", d, w)
	}
	top := m.Inference[L-1].Parameters()[0]
	if g := ad.Grad(lp, []*ad.Var{top.V}, nil)[0].Value; tensor.Dot(g, g) == 0 {
		t.Error("the pixel chain term does not reach the top inference layer")
	}
	g0 := ad.Grad(l0, []*ad.Var{top.V}, nil)[0].Value
	g1 := ad.Grad(l1, []*ad.Var{top.V}, nil)[0].Value
	if d := tensor.Binary(tensor.OpSub, g0, g1); tensor.Dot(d, d) == 0 {
		t.Error("the chain term does not reach the top inference layer")
	}
}

// The sleep-inference term: the network loss grows by exactly
// w·Σ_{i<L} mean((act(μ_q(z^s_i)) − z^s_{i+1})²), written out here from the
// inference arrows' moments; its gradient reaches the inference arrows and,
// through the dreams, the generation, but not through the target (the
// top-layer prior sample is a constant either way, so the check is on a
// hidden layer).
func TestCIFAR10SleepInfer(t *testing.T) {
	t.Parallel()
	m, x := tinyCIFAR(t)
	L := m.Layers()
	base := Settings{Gamma: 0.3, Lambda: 1, ReconWeight: 0.7}
	p := RunHierPhases(m, x, base, rand.New(rand.NewPCG(7, 8)))
	s := base
	s.SleepInferWeight = 3
	l0, t0 := CIFAR10NetworkLoss(m, p, base)
	l1, t1 := CIFAR10NetworkLoss(m, p, s)
	var want float64
	for i := 0; i < L; i++ {
		mean, _ := m.Inference[i].Moments(p.Sleep[i])
		a := mean.Value
		if i+1 < L || m.Config.TopActivation != model.TopLinear {
			a = nn.PixelNorm(ad.ReLU(ad.Const(a)), 0).Value
		}
		d := tensor.Binary(tensor.OpSub, a, p.Sleep[i+1].Value)
		term := s.SleepInferWeight * tensor.Dot(d, d) / float64(d.Len())
		name := "net/sleep_infer_" + LayerName(i+1)
		if got := t1[name]; math.Abs(got-term) > 1e-10 || term == 0 {
			t.Errorf("%s %g, want %g", name, got, term)
		}
		if _, ok := t0[name]; ok {
			t.Errorf("%s reported without the term", name)
		}
		want += term
	}
	if d := l1.Item() - l0.Item(); math.Abs(d-want) > 1e-9 {
		t.Errorf("the loss grew by %g, want %g", d, want)
	}
	diff := func(params []*nn.Parameter) float64 {
		v := params[0].V
		g0 := ad.Grad(l0, []*ad.Var{v}, nil)[0].Value
		g1 := ad.Grad(l1, []*ad.Var{v}, nil)[0].Value
		d := tensor.Binary(tensor.OpSub, g0, g1)
		return tensor.Dot(d, d)
	}
	if diff(m.Inference[L-1].Parameters()) == 0 {
		t.Error("the term does not reach the top inference arrow")
	}
	if diff(m.Generation[L-1].Parameters()) == 0 {
		t.Error("the term does not reach the generation through the dreams")
	}
	// The target is a stop-gradient: at z^s_1 the term's gradient is that of
	// layer 1's term (z^s_1 its input) and of layer 0's through its input
	// z^s_0 = p_θ(z^s_1), without the path through layer 0's target z^s_1.
	at := []*ad.Var{p.Sleep[1]}
	g := tensor.Binary(tensor.OpSub, ad.Grad(l1, at, nil)[0].Value, ad.Grad(l0, at, nil)[0].Value)
	term := func(i int) *ad.Var {
		return ad.Scale(ad.Mean(ad.Square(ad.Sub(m.InferMean(i, p.Sleep[i]), ad.Detach(p.Sleep[i+1])))), s.SleepInferWeight)
	}
	own := ad.Add(term(0), term(1))
	gOwn := ad.Grad(own, at, nil)[0].Value
	d := tensor.Binary(tensor.OpSub, g, gOwn)
	if n := tensor.Dot(gOwn, gOwn); n == 0 || tensor.Dot(d, d) > 1e-18*n {
		t.Errorf("at z^s_1 the term's gradient differs from its own input's by %g (norm² %g): the target is not a fixed one", tensor.Dot(d, d), n)
	}
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1)} {
		if err := (Settings{SleepInferWeight: bad}).ValidateHier(L, m.Config.LayerChannels); err == nil || !strings.Contains(err.Error(), "sleep infer weight") {
			t.Errorf("weight %g: %v", bad, err)
		}
	}
	if err := (Settings{SleepInferWeight: math.NaN()}).ValidateFlat(); err == nil || !strings.Contains(err.Error(), "sleep infer weight") {
		t.Errorf("the flat model's sleep infer weight NaN: %v", err)
	}
}
