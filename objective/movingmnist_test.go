package objective

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/autodiff/gradcheck"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/tensor"
)

// tinyVideo returns a float64 Moving MNIST model on 8×8 frames (a 4×4
// latent grid), settings with 2 context, 2 predicted frames and 2 sleep
// steps, and a batch of 2 random sequences of 4 frames.
func tinyVideo(t *testing.T, norm string) (*model.MovingMNIST, VideoSettings, []*tensor.Tensor) {
	t.Helper()
	rng := rand.New(rand.NewPCG(21, 22))
	cfg := model.MovingMNISTConfig{FrameSize: 8, Patch: 2, Hidden: 2, Kernel: 3, ReadoutHidden: 2, CriticChannels: 1, CriticNorm: norm}
	m, err := model.NewMovingMNIST(cfg, tensor.Float64, rng)
	if err != nil {
		t.Fatal(err)
	}
	s := VideoSettings{Gamma: 0.5, Lambda: 1, ReconWeight: 1, Context: 2, Horizon: 2, SleepSteps: 2}
	var frames []*tensor.Tensor
	for i := 0; i < 4; i++ {
		frames = append(frames, gradcheck.Rand(rng, 0, 1, 2, 1, 8, 8))
	}
	return m, s, frames
}

func TestVideoSettingsValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultVideoSettings().Validate(20); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*VideoSettings){
		"gamma":      func(s *VideoSettings) { s.Gamma = 1.5 },
		"nan lambda": func(s *VideoSettings) { s.Lambda = math.NaN() },
		"recon":      func(s *VideoSettings) { s.ReconWeight = -1 },
		"context":    func(s *VideoSettings) { s.Context = 0 },
		"too long":   func(s *VideoSettings) { s.Context = 11 },
		"sleep":      func(s *VideoSettings) { s.SleepSteps = 9 },
	} {
		s := DefaultVideoSettings()
		mod(&s)
		if err := s.Validate(20); err == nil {
			t.Errorf("%s: no error for %+v", name, s)
		}
	}
}

func TestVideoPhasesShapes(t *testing.T) {
	t.Parallel()
	m, s, frames := tinyVideo(t, model.NormBatch)
	ph := RunVideoPhases(m, frames, s, rand.New(rand.NewPCG(1, 2)))
	for name, c := range map[string]struct {
		v     *ad.Var
		shape []int
	}{
		"true x":  {ph.TrueX, []int{4, 1, 8, 8}},
		"pred x":  {ph.PredX, []int{4, 1, 8, 8}},
		"wake z":  {ph.WakeZ, []int{4, 2, 4, 4}},
		"sleep x": {ph.SleepX, []int{4, 1, 8, 8}},
		"sleep z": {ph.SleepZ, []int{4, 2, 4, 4}},
	} {
		if !tensor.SameShape(c.v.Shape(), c.shape) {
			t.Errorf("%s: shape %v, want %v", name, c.v.Shape(), c.shape)
		}
	}
	// The true frames are frames 2 and 3, stacked time-major.
	for k := 0; k < 2; k++ {
		for i := 0; i < 2*64; i++ {
			if ph.TrueX.Value.At(k*2*64+i) != frames[2+k].At(i) {
				t.Fatalf("true x sample %d is not frame %d", k, 2+k)
			}
		}
	}
	if ph.TrueX.RequiresGrad() || !ph.PredX.RequiresGrad() || !ph.WakeZ.RequiresGrad() || !ph.SleepX.RequiresGrad() {
		t.Error("phases record gradients where they should not, or not where they should")
	}
	loss, terms := VideoNetworkLoss(m, ph, s)
	closs, cterms := VideoCriticLoss(m, ph, s, rand.New(rand.NewPCG(3, 4)))
	for name, v := range map[string]float64{"network loss": loss.Item(), "critic loss": closs.Item()} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("%s = %g", name, v)
		}
	}
	for _, k := range []string{"net/ws_x", "net/ws_z", "net/osc_x", "net/recon_x", "pred/mse"} {
		if _, ok := terms[k]; !ok {
			t.Errorf("network terms lack %s", k)
		}
	}
	for _, k := range []string{"critic_x/ws", "critic_x/osc", "critic_x/gp", "critic_z/ws", "critic_z/gp"} {
		if _, ok := cterms[k]; !ok {
			t.Errorf("critic terms lack %s", k)
		}
	}
	// The critic loss reaches no network weight.
	for _, p := range m.NetworkParameters() {
		g := ad.Grad(closs, []*ad.Var{p.V}, nil)[0]
		for i := 0; i < g.Value.Len(); i++ {
			if g.Value.At(i) != 0 {
				t.Fatalf("critic loss has a gradient for %s", p.Name)
			}
		}
	}
}

// TestVideoNetworkLossGradients checks the networks' gradient of Eq. 8 over
// time against central differences: the loss on the predictions reaches the
// encoder and decoder only through backpropagation through time (the
// warm-up, the stochastic hidden states, and, closed loop, the encoder
// reading earlier predictions), and the sleep terms through the x–z bouncing.
func TestVideoNetworkLossGradients(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		teacher bool
		layers  string
	}{{false, ""}, {true, ""}, {false, ReconAll}} {
		name := "closed loop"
		if c.teacher {
			name = "teacher forcing"
		}
		t.Run(name+"/recon "+c.layers, func(t *testing.T) {
			m, s, frames := tinyVideo(t, model.NormBatch)
			s.TeacherForcing, s.ReconLayers, s.ReconWeight = c.teacher, c.layers, 3
			xs := []*tensor.Tensor{
				m.Encoder.Gates.B.Value, m.Encoder.Head.W.Value, m.Decoder.Gates.B.Value,
				m.Decoder.Head.W.Value, m.Readout2.W.Value, m.Readout2.B.Value,
			}
			f := func(v []*ad.Var) *ad.Var {
				m.Encoder.Gates.B, m.Encoder.Head.W, m.Decoder.Gates.B = v[0], v[1], v[2]
				m.Decoder.Head.W, m.Readout2.W, m.Readout2.B = v[3], v[4], v[5]
				ph := RunVideoPhases(m, frames, s, rand.New(rand.NewPCG(5, 6))) // the same noise every call
				loss, _ := VideoNetworkLoss(m, ph, s)
				return loss
			}
			if err := gradcheck.Check(f, xs, &gradcheck.Options{Seed: 1, AbsTol: 1e-6, RelTol: 1e-4}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestVideoCriticLossGradients checks the critics' gradient, gradient
// penalties included: a first-order check of a loss that holds ∇D, so it
// tests double backprop through the convolutions and, with batch norm,
// through the batch statistics.
func TestVideoCriticLossGradients(t *testing.T) {
	t.Parallel()
	for _, norm := range []string{model.NormBatch, model.NormNone} {
		t.Run(norm, func(t *testing.T) {
			m, s, frames := tinyVideo(t, norm)
			ph := RunVideoPhases(m, frames, s, rand.New(rand.NewPCG(5, 6)))
			cx, cz := m.CriticX, m.CriticZ
			xs := []*tensor.Tensor{cx.Conv1.W.Value, cx.Conv2.W.Value, cx.Out.W.Value, cz.Conv1.W.Value, cz.Out.B.Value}
			if norm == model.NormBatch {
				xs = append(xs, cx.Norm2.W.Value, cz.Norm1.B.Value)
			}
			f := func(v []*ad.Var) *ad.Var {
				cx.Conv1.W, cx.Conv2.W, cx.Out.W, cz.Conv1.W, cz.Out.B = v[0], v[1], v[2], v[3], v[4]
				if norm == model.NormBatch {
					cx.Norm2.W, cz.Norm1.B = v[5], v[6]
				}
				loss, _ := VideoCriticLoss(m, ph, s, rand.New(rand.NewPCG(7, 8)))
				return loss
			}
			if err := gradcheck.Check(f, xs, &gradcheck.Options{Seed: 2, AbsTol: 1e-6, RelTol: 1e-4}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestVideoLossWeights checks the Eq. 8 weighting: with γ = 1 the network
// loss is the wake/sleep value alone, with γ = 0 the oscillatory value plus
// the reconstruction.
func TestVideoLossWeights(t *testing.T) {
	t.Parallel()
	m, s, frames := tinyVideo(t, model.NormNone)
	ph := RunVideoPhases(m, frames, s, rand.New(rand.NewPCG(1, 1)))
	for _, g := range []float64{0, 0.5, 1} {
		s.Gamma = g
		loss, terms := VideoNetworkLoss(m, ph, s)
		want := g*(terms["net/ws_x"]+terms["net/ws_z"]) + (1-g)*(terms["net/osc_x"]+terms["net/recon_x"])
		if math.Abs(loss.Item()-want) > 1e-12 {
			t.Errorf("γ = %g: loss %g, want %g", g, loss.Item(), want)
		}
	}
}

// TestVideoReconLayers: L_RECON over "all" layers is the mean of the two
// convolutions' feature MSEs, "last" (and "") the second one's alone, each
// computed here by hand from the critic's layers on one joint batch.
func TestVideoReconLayers(t *testing.T) {
	t.Parallel()
	m, s, frames := tinyVideo(t, model.NormNone)
	ph := RunVideoPhases(m, frames, s, rand.New(rand.NewPCG(1, 1)))
	n := ph.TrueX.Dim(0)
	_, hs := m.CriticX.ForwardLayers(ad.Concat(0, ph.TrueX, ph.SleepX, ph.PredX), true)
	if len(hs) != 2 {
		t.Fatalf("%d hidden layers, want 2", len(hs))
	}
	mse := func(h *ad.Var) float64 {
		a, b := tensor.Slice(h.Value, 0, 0, n), tensor.Slice(h.Value, 0, 2*n, 3*n)
		d := tensor.Binary(tensor.OpSub, a, b)
		return tensor.Dot(d, d) / float64(d.Len())
	}
	if f := m.CriticX.Features(ph.TrueX, true); f.Value.Len()*3 != hs[1].Value.Len() {
		t.Fatalf("last hidden layer has %d values for 3 batches, Features %d for one", hs[1].Value.Len(), f.Value.Len())
	}
	for layers, want := range map[string]float64{"": mse(hs[1]), ReconLast: mse(hs[1]), ReconAll: (mse(hs[0]) + mse(hs[1])) / 2} {
		s.ReconLayers, s.ReconWeight = layers, 2
		_, terms := VideoNetworkLoss(m, ph, s)
		if got := terms["net/recon_x"]; math.Abs(got-2*want) > 1e-12*math.Max(1, want) {
			t.Errorf("%q: recon %g, want 2 × %g", layers, got, want)
		}
	}
	s.ReconLayers = "every"
	if err := s.Validate(4); err == nil {
		t.Error("recon layers \"every\" accepted")
	}
}

// TestPenalisedCriticMatchesGradientPenalty: without batch norm, samples are
// independent, so the one-batch penalty equals GradientPenalty's per pair
// (with the same interpolation weights) and D on the samples is unchanged by
// the interpolates beside them.
func TestPenalisedCriticMatchesGradientPenalty(t *testing.T) {
	t.Parallel()
	m, _, frames := tinyVideo(t, model.NormNone)
	a, b, c := ad.Const(frames[0]), ad.Const(frames[1]), ad.Const(frames[2])
	ds, gps := penalisedCritic(m.CriticX, []*ad.Var{a, b}, [][2]*ad.Var{{a, b}, {a, c}}, rand.New(rand.NewPCG(3, 3)))
	rng := rand.New(rand.NewPCG(3, 3))
	critic := func(in []*ad.Var) *ad.Var { return m.CriticX.Forward(in[0], true) }
	want := []float64{
		GradientPenalty(critic, []*ad.Var{a}, []*ad.Var{b}, InterpolationWeights(rng, tensor.Float64, 2)).Item(),
		GradientPenalty(critic, []*ad.Var{a}, []*ad.Var{c}, InterpolationWeights(rng, tensor.Float64, 2)).Item(),
	}
	for k := range want {
		if got := gps[k].Item(); math.Abs(got-want[k]) > 1e-12*math.Max(1, math.Abs(want[k])) {
			t.Errorf("pair %d: penalty %.15g, GradientPenalty %.15g", k, got, want[k])
		}
	}
	d := m.CriticX.Forward(b, true)
	for i := 0; i < 2; i++ {
		if got, want := ds[1].Value.At(i), d.Value.At(i); math.Abs(got-want) > 1e-12 {
			t.Errorf("D(b)[%d] = %g in the joint batch, %g alone", i, got, want)
		}
	}
}

// The pixel losses on known values, and the network loss grows by exactly
// the weighted term.
func TestVideoPixelLoss(t *testing.T) {
	p := ad.Const(tensor.FromFloat64([]float64{0.25, 0.5, 0.9, 0}, 1, 4))
	y := ad.Const(tensor.FromFloat64([]float64{0, 1, 1, 0}, 1, 4))
	e := pixelEps
	wantBCE := -(math.Log(1-0.25+e) + math.Log(0.5+e) + math.Log(0.9+e) + math.Log(1+e)) / 4
	if got := PixelLossValue(PixelBCE, p, y).Item(); math.Abs(got-wantBCE) > 1e-12 {
		t.Errorf("bce %g, want %g", got, wantBCE)
	}
	if got := PixelLossValue("", p, y).Item(); math.Abs(got-wantBCE) > 1e-12 {
		t.Errorf("default (bce) %g, want %g", got, wantBCE)
	}
	wantMSE := (0.0625 + 0.25 + 0.01) / 4
	if got := PixelLossValue(PixelMSE, p, y).Item(); math.Abs(got-wantMSE) > 1e-12 {
		t.Errorf("mse %g, want %g", got, wantMSE)
	}
	for _, bad := range []VideoSettings{{PixelWeight: -1}, {PixelWeight: math.NaN()}, {PixelWeight: math.Inf(1)}, {PixelLoss: "l1"}} {
		s := DefaultVideoSettings()
		s.PixelWeight, s.PixelLoss = bad.PixelWeight, bad.PixelLoss
		if err := s.Validate(20); err == nil || !strings.Contains(err.Error(), "pixel") {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	m, s, frames := tinyVideo(t, "none")
	ph := RunVideoPhases(m, frames, s, rand.New(rand.NewPCG(5, 5)))
	l0, _ := VideoNetworkLoss(m, ph, s)
	for _, kind := range []string{PixelBCE, PixelMSE} {
		sp := s
		sp.PixelWeight, sp.PixelLoss = 2.5, kind
		l1, t1 := VideoNetworkLoss(m, ph, sp)
		want := sp.PixelWeight * PixelLossValue(kind, ph.PredX, ph.TrueX).Item()
		if got := t1["net/pixel_x"]; math.Abs(got-want) > 1e-12 || want == 0 {
			t.Errorf("%s: net/pixel_x %g, want %g", kind, got, want)
		}
		if d := l1.Item() - l0.Item(); math.Abs(d-want) > 1e-10 {
			t.Errorf("%s: the loss grew by %g, want %g", kind, d, want)
		}
		readout := m.Readout2.Parameters()[0].V
		g0 := ad.Grad(l0, []*ad.Var{readout}, nil)[0].Value
		g1 := ad.Grad(l1, []*ad.Var{readout}, nil)[0].Value
		if d := tensor.Binary(tensor.OpSub, g0, g1); tensor.Dot(d, d) == 0 {
			t.Errorf("%s: the pixel term does not reach the readout", kind)
		}
	}
}
