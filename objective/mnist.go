package objective

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/tensor"
)

// Settings are the knobs of the adversarial objectives.
type Settings struct {
	// Gamma balances the wake/sleep term against the oscillatory terms in
	// Eq. 8 (0.1 for MNIST Fig. 3C). Ignored by the global critic (γ = 1).
	Gamma float64 `json:"gamma"`
	// Lambda is the WGAN-GP penalty weight (1 in the paper, A.1.2).
	Lambda float64 `json:"lambda"`
	// ReconWeight multiplies L_RECON (1: Eq. 8 as written).
	ReconWeight float64 `json:"recon_weight"`
	// ReconLayers says which hidden layers of the critic L_RECON compares
	// (open point): "last" (or empty), the penultimate layer as in VAE-GAN
	// (Larsen et al. 2016), or "all", the mean of the per-layer distances
	// over every hidden layer (a perceptual-loss style metric: the first
	// layers still carry what the last one, trained only to tell real from
	// generated, discards, such as the digit's identity).
	ReconLayers string `json:"recon_layers,omitempty"`
	// SilenceSleepZ lists latent units held at zero in the sleep phase (and
	// so in the top layer's top-down phase, which is the prior): the
	// phase-silencing perturbation of Sec. 4.4. Empty for normal training.
	SilenceSleepZ []int `json:"silence_sleep_z,omitempty"`
	// ShamSleepZ lists latent units of the sleep phase's prior sample that
	// are replaced by a fresh, independent N(0, 1) draw: the sham control of
	// the silencing perturbation. The prior's distribution is unchanged, but
	// the same units go through a manipulation and the run's noise stream
	// differs from its unperturbed control's. A unit may not be both
	// silenced and shammed. Empty for normal training.
	ShamSleepZ []int `json:"sham_sleep_z,omitempty"`

	// SilenceLayer is the hidden layer k (1 ≤ k < L, in the indexing of
	// HierPhases: 0 the image, L the top) of the hierarchical CIFAR-10
	// model whose generative (top-down) activity SilenceChannels and
	// ShamChannels perturb; 0 for none. MNIST has no such layers (its
	// latent is the top layer: SilenceSleepZ).
	SilenceLayer int `json:"silence_layer,omitempty"`
	// SilenceChannels lists channels of layer SilenceLayer held at zero in
	// both of its generative phases, the top-down sample ẑ_k and the sleep
	// sample z^s_k (RunHierPhases): the hierarchical phase-silencing
	// perturbation of Sec. 4.4.
	SilenceChannels []int `json:"silence_channels,omitempty"`
	// ShamChannels lists channels of layer SilenceLayer whose
	// reparameterisation noise ε is redrawn in the same two phases: the
	// sham control of SilenceChannels, which leaves the layer's
	// distribution exactly as it was. A channel may not be in both lists.
	ShamChannels []int `json:"sham_channels,omitempty"`

	// ChainReconWeight weights a reconstruction of the image through the
	// whole hierarchy (CIFAR-10 only; 0, the paper, for none): the top-down
	// chain from the top wake layer, x̂ ~ p_θ(x | z_1) … p_θ(z_{L−1} | z^w_L),
	// compared with x as L_RECON compares a layer (D_x's features,
	// ReconLayers), weighted (1 − γ)·ChainReconWeight in the networks' loss.
	// A deviation: the paper's L_RECON reconstructs each layer one step down
	// only, and nothing then asks the upper layers to carry the image.
	ChainReconWeight float64 `json:"chain_recon_weight,omitempty"`
	// ChainReconSpace is where the chain's reconstruction is compared with
	// x: ChainFeatures ("" reads as it) on D_x's features as L_RECON, or
	// ChainPixels, the mean squared pixel difference, a target that does not
	// move as the critic trains.
	ChainReconSpace string `json:"chain_recon_space,omitempty"`
	// SleepInferWeight weights the classical sleep phase of the Helmholtz
	// machine (Hinton et al. 1995; 0, the paper, for none): inference is
	// asked to recover the dream's cause, the noise-free inferred mean
	// against the sleep sample it was dreamt from, a fixed target. MNIST:
	// mean ‖μ_q(x^s) − z^s‖² (μ_q: Inference.Mean); the hierarchical
	// CIFAR-10 model, one layer up from each: Σ_{i<L} mean ‖act(μ_q(z^s_i))
	// − z^s_{i+1}‖². Its gradient reaches the
	// generation too, through z^s_i: the dream of a layer is asked to carry
	// the layer above it (InfoGAN's mutual-information bound, with the
	// inference arrow as the posterior network). A deviation: the paper's
	// sleep phase is adversarial only, and a constant dream then matches a
	// constant inference at no cost, which is how the upper layers collapse.
	SleepInferWeight float64 `json:"sleep_infer_weight,omitempty"`
}

// Spaces of the chain's reconstruction (Settings.ChainReconSpace).
const (
	ChainFeatures = "features"
	ChainPixels   = "pixels"
)

// Layers of the critic that L_RECON compares (Settings.ReconLayers).
const (
	ReconLast = "last" // the penultimate layer (VAE-GAN)
	ReconAll  = "all"  // every hidden layer, distances averaged

	// ReconLayersHelp is the help of every experiment's --recon-layers.
	ReconLayersHelp = "critic hidden layers L_RECON compares: last (VAE-GAN, the paper's features before the linear layer) or all (default: from the preset)"
)

// Validate reports a setting out of range.
func (s Settings) Validate() error {
	if s.Gamma < 0 || s.Gamma > 1 {
		return fmt.Errorf("objective: gamma %g must be in [0, 1]", s.Gamma)
	}
	if s.ReconLayers != "" && s.ReconLayers != ReconLast && s.ReconLayers != ReconAll {
		return fmt.Errorf("objective: recon layers %q must be %q or %q", s.ReconLayers, ReconLast, ReconAll)
	}
	if s.Lambda < 0 || s.ReconWeight < 0 {
		return fmt.Errorf("objective: lambda %g and recon weight %g must be ≥ 0", s.Lambda, s.ReconWeight)
	}
	silenced := map[int]bool{}
	for _, u := range s.SilenceSleepZ {
		if u < 0 {
			return fmt.Errorf("objective: silenced unit %d must be ≥ 0", u)
		}
		silenced[u] = true
	}
	for _, u := range s.ShamSleepZ {
		if u < 0 {
			return fmt.Errorf("objective: sham unit %d must be ≥ 0", u)
		}
		if silenced[u] {
			return fmt.Errorf("objective: unit %d is both silenced and shammed in the sleep phase (silence %v, sham %v); a unit may be in one list only", u, s.SilenceSleepZ, s.ShamSleepZ)
		}
	}
	return s.validateLayerSilencing()
}

// validateLayerSilencing checks the layer silencing of the hierarchical
// model, apart from the model's sizes (ValidateHier).
func (s Settings) validateLayerSilencing() error {
	if s.SilenceLayer < 0 {
		return fmt.Errorf("objective: silence layer %d must be ≥ 1 (0: none)", s.SilenceLayer)
	}
	if s.SilenceLayer == 0 {
		if len(s.SilenceChannels) > 0 || len(s.ShamChannels) > 0 {
			return fmt.Errorf("objective: silenced channels %v and sham channels %v need a layer (--silence-layer)", s.SilenceChannels, s.ShamChannels)
		}
		return nil
	}
	if len(s.SilenceChannels) == 0 && len(s.ShamChannels) == 0 {
		return fmt.Errorf("objective: silence layer %d with no silenced or sham channels (--silence-channels, --sham-channels)", s.SilenceLayer)
	}
	seen := map[int]string{}
	for _, l := range []struct {
		name string
		v    []int
	}{{"silenced", s.SilenceChannels}, {"sham", s.ShamChannels}} {
		for _, c := range l.v {
			if c < 0 {
				return fmt.Errorf("objective: %s channel %d must be ≥ 0", l.name, c)
			}
			switch seen[c] {
			case l.name:
				return fmt.Errorf("objective: %s channel %d is listed twice", l.name, c)
			case "":
			default:
				return fmt.Errorf("objective: channel %d of layer %d is both silenced and shammed (silence %v, sham %v); a channel may be in one list only", c, s.SilenceLayer, s.SilenceChannels, s.ShamChannels)
			}
			seen[c] = l.name
		}
	}
	return nil
}

// ValidateFlat reports settings a model without hidden layers (MNIST's)
// cannot use: the layer silencing of the hierarchical model.
func (s Settings) ValidateFlat() error {
	if s.SilenceLayer != 0 || len(s.SilenceChannels) > 0 || len(s.ShamChannels) > 0 {
		return fmt.Errorf("objective: silence_layer, silence_channels and sham_channels are for the hierarchical CIFAR-10 model; this model's latent is its top layer: silence_sleep_z, sham_sleep_z (--silence-z, --sham-z)")
	}
	if s.ChainReconWeight != 0 || s.ChainReconSpace != "" {
		return fmt.Errorf("objective: chain_recon_weight and chain_recon_space are for the hierarchical CIFAR-10 model; this model has one latent layer, which L_RECON already reconstructs the image from")
	}
	return finiteWeight("sleep infer weight", s.SleepInferWeight)
}

// ValidateHier reports settings the hierarchical model of layers hidden
// layers above the image, layer i of channels(i) channels, cannot use: a
// silence layer outside 1 … layers−1 or a channel it lacks, or the flat
// model's unit silencing.
func (s Settings) ValidateHier(layers int, channels func(i int) int) error {
	if len(s.SilenceSleepZ) > 0 || len(s.ShamSleepZ) > 0 {
		return fmt.Errorf("objective: silence_sleep_z and sham_sleep_z are for the MNIST model; the hierarchical model silences channels of a layer: silence_layer, silence_channels, sham_channels (--silence-layer, --silence-channels, --sham-channels)")
	}
	if err := finiteWeight("chain recon weight", s.ChainReconWeight); err != nil {
		return err
	}
	if err := finiteWeight("sleep infer weight", s.SleepInferWeight); err != nil {
		return err
	}
	switch s.ChainReconSpace {
	case "", ChainFeatures, ChainPixels:
	default:
		return fmt.Errorf("objective: chain recon space %q: want %s or %s", s.ChainReconSpace, ChainFeatures, ChainPixels)
	}
	k := s.SilenceLayer
	if k == 0 {
		return nil
	}
	if k >= layers {
		return fmt.Errorf("objective: silence layer %d must be a hidden layer, 1 to %d (layer %d is the top, whose top-down phase is the prior)", k, layers-1, layers)
	}
	n := channels(k)
	for _, c := range append(slices.Clone(s.SilenceChannels), s.ShamChannels...) {
		if c >= n {
			return fmt.Errorf("objective: channel %d is outside layer %d's channels 0..%d", c, k, n-1)
		}
	}
	return nil
}

// finiteWeight reports a loss weight that is negative, NaN or infinite,
// naming it.
func finiteWeight(name string, w float64) error {
	if !(w >= 0) || math.IsInf(w, 0) {
		return fmt.Errorf("objective: %s %g must be finite and ≥ 0", name, w)
	}
	return nil
}

// silence returns z with the given units (columns) set to zero.
func silence(z *ad.Var, units []int) *ad.Var {
	if len(units) == 0 {
		return z
	}
	mask := tensor.Full(z.DType(), 1, 1, z.Dim(1))
	for _, u := range units {
		if u >= z.Dim(1) {
			panic(fmt.Sprintf("objective: silenced unit %d of %d", u, z.Dim(1)))
		}
		mask.SetAt(u, 0)
	}
	return ad.Mul(z, ad.Const(mask))
}

// shamResample returns z with the given units (columns) replaced by fresh
// standard normal draws from rng, [B, Z] in and out: a manipulation that
// leaves the distribution of a prior sample unchanged. The draws come after
// z's, so the other columns are those z had.
func shamResample(z *ad.Var, units []int, rng *rand.Rand) *ad.Var {
	if len(units) == 0 {
		return z
	}
	b, zdim := z.Dim(0), z.Dim(1)
	fresh := tensor.RandNormal(rng, z.DType(), b, len(units)) // [B, len(units)]
	out := z.Value.Clone()
	for j, u := range units {
		if u >= zdim {
			panic(fmt.Sprintf("objective: sham unit %d of %d", u, zdim))
		}
		for i := 0; i < b; i++ {
			out.SetAt(i*zdim+u, fresh.At(i*len(units)+j))
		}
	}
	return ad.Const(out)
}

// Phases holds the activity of one training step's phases, recorded so that
// the networks' gradients flow through them.
type Phases struct {
	// Wake phase: x from the data, z ~ q_φ(z|x) (bottom-up).
	WakeX, WakeZ *ad.Var
	// Sleep phase: z ~ p(z) = N(0, I), x ~ p_θ(x|z) (dreaming).
	SleepX, SleepZ *ad.Var
	// Top-down phase of the oscillation: x̂ ~ p_θ(x|z) with z the wake
	// phase's inferred latent, i.e. the reconstruction of the input. Only the
	// local (oscillatory) algorithm needs it; nil otherwise.
	TopDownX *ad.Var
}

// WakePhase runs inference bottom-up from data x [B, XDim]: z ~ q_φ(z|x).
func WakePhase(m *model.MNIST, x *ad.Var, rng *rand.Rand) (wakeX, wakeZ *ad.Var) {
	return x, m.Infer(x, rng)
}

// SleepPhase dreams a batch: z ~ N(0, I), then x ~ p_θ(x|z) top-down. The
// units in silenced are held at zero (a perturbation experiment) and those
// in sham are drawn afresh from N(0, 1) (its sham control); both nil for
// normal training.
func SleepPhase(m *model.MNIST, batch int, silenced, sham []int, rng *rand.Rand) (sleepX, sleepZ *ad.Var) {
	z := shamResample(silence(m.Prior(batch, rng), silenced), sham, rng)
	return m.Generate(z, rng), z
}

// TopDownPhase generates each layer one step down from the inferred layer
// above (Sec. 3.2): for MNIST, x̂ ~ p_θ(x|z) with z ~ q_φ(z|x), the
// reconstruction.
func TopDownPhase(m *model.MNIST, wakeZ *ad.Var, rng *rand.Rand) *ad.Var {
	return m.Generate(wakeZ, rng)
}

// RunPhases runs every phase the model's algorithm needs on data x.
func RunPhases(m *model.MNIST, x *ad.Var, s Settings, rng *rand.Rand) *Phases {
	p := &Phases{}
	p.WakeX, p.WakeZ = WakePhase(m, x, rng)
	p.SleepX, p.SleepZ = SleepPhase(m, x.Dim(0), s.SilenceSleepZ, s.ShamSleepZ, rng)
	if m.Config.Critic == model.CriticLocal {
		p.TopDownX = TopDownPhase(m, p.WakeZ, rng)
	}
	return p
}

// Detached returns the phases with gradients stopped: what the critics train on.
func (p *Phases) Detached() *Phases {
	d := &Phases{WakeX: ad.Detach(p.WakeX), WakeZ: ad.Detach(p.WakeZ),
		SleepX: ad.Detach(p.SleepX), SleepZ: ad.Detach(p.SleepZ)}
	if p.TopDownX != nil {
		d.TopDownX = ad.Detach(p.TopDownX)
	}
	return d
}

// Terms are the scalar values of a step's objectives, for logging.
type Terms map[string]float64

// joint returns the global critic as a function of (x, z).
func joint(m *model.MNIST) func([]*ad.Var) *ad.Var {
	return func(in []*ad.Var) *ad.Var { return m.Joint.Forward(ad.Concat(1, in[0], in[1])) }
}

func single(c *model.MLPCritic) func([]*ad.Var) *ad.Var {
	return func(in []*ad.Var) *ad.Var { return c.Forward(in[0]) }
}

// CriticLoss returns the loss the critics minimise (the negated objectives of
// Eq. 4, 7 and 8 plus the WGAN-GP penalty of each adversarial term), on
// detached phases so that only critic weights get gradients.
//
// Global:  −L_WS + λ·GP(D; wake, sleep)
// Local, per layer i:  −[γ·L_WS,i + (1−γ)·L_O,i] + λ·[γ·GP_i(wake, sleep) + (1−γ)·GP_i(bottom-up, top-down)]
//
// Each adversarial term is a WGAN-GP objective of its own, weighted as in
// Eq. 8. For z (the top layer) the top-down distribution is the prior, the
// same as the sleep distribution, so the two terms coincide.
func CriticLoss(m *model.MNIST, ph *Phases, s Settings, rng *rand.Rand) (*ad.Var, Terms) {
	p := ph.Detached()
	t := Terms{}
	batch := p.WakeX.Dim(0)
	if m.Config.Critic == model.CriticGlobal {
		ws := WakeSleepValue(m.Joint.Forward(ad.Concat(1, p.WakeX, p.WakeZ)), m.Joint.Forward(ad.Concat(1, p.SleepX, p.SleepZ)))
		gp := GradientPenalty(joint(m), []*ad.Var{p.WakeX, p.WakeZ}, []*ad.Var{p.SleepX, p.SleepZ},
			InterpolationWeights(rng, m.DType(), batch))
		t["critic_xz/ws"] = ws.Item()
		t["critic_xz/gp"] = gp.Item()
		return ad.Add(ad.Neg(ws), ad.Scale(gp, s.Lambda)), t
	}
	g := s.Gamma
	// D_x: wake x against sleep x (Eq. 4 on the x layer) and against the top-down reconstruction (Eq. 7).
	dx := m.CriticX.Forward(p.WakeX)
	wsX := WakeSleepValue(dx, m.CriticX.Forward(p.SleepX))
	oX := OscillatoryValue(dx, m.CriticX.Forward(p.TopDownX))
	gpWSX := GradientPenalty(single(m.CriticX), []*ad.Var{p.WakeX}, []*ad.Var{p.SleepX}, InterpolationWeights(rng, m.DType(), batch))
	gpOX := GradientPenalty(single(m.CriticX), []*ad.Var{p.WakeX}, []*ad.Var{p.TopDownX}, InterpolationWeights(rng, m.DType(), batch))
	lossX := ad.Add(ad.Neg(Combined(g, wsX, oX, nil)), ad.Scale(Combined(g, gpWSX, gpOX, nil), s.Lambda))
	// D_z: inferred z against the prior (both Eq. 4 and Eq. 7 for the top layer).
	oZ := OscillatoryValue(m.CriticZ.Forward(p.WakeZ), m.CriticZ.Forward(p.SleepZ))
	gpZ := GradientPenalty(single(m.CriticZ), []*ad.Var{p.WakeZ}, []*ad.Var{p.SleepZ}, InterpolationWeights(rng, m.DType(), batch))
	lossZ := ad.Add(ad.Neg(oZ), ad.Scale(gpZ, s.Lambda))
	t["critic_x/ws"], t["critic_x/osc"] = wsX.Item(), oX.Item()
	t["critic_x/gp"] = g*gpWSX.Item() + (1-g)*gpOX.Item()
	t["critic_z/osc"], t["critic_z/gp"] = oZ.Item(), gpZ.Item()
	return ad.Add(lossX, lossZ), t
}

// NetworkLoss returns the loss inference and generation minimise, through the
// recorded phases (so gradients reach φ and θ), with the critics as they are
// now:
//
// Global:  L_WS (Eq. 4)
// Local:   Σ_i γ·L_WS,i + (1−γ)·(L_O,i + L_RECON,i)  (Eq. 8), L_RECON only on x.
//
// It is the sum of NetworkTerms.
func NetworkLoss(m *model.MNIST, p *Phases, s Settings) (*ad.Var, Terms) {
	parts, t := NetworkTerms(m, p, s)
	loss := parts[0].Value
	for _, q := range parts[1:] {
		loss = ad.Add(loss, q.Value)
	}
	return loss, t
}

// Term is one weighted summand of the networks' loss.
type Term struct {
	Name  string
	Value *ad.Var
}

// NetworkTerms returns the summands of NetworkLoss, each with its weight in
// Eq. 4 or 8 applied (so their gradients add up to the loss's), and the
// unweighted values for logging. Local: "ws_x" (γ·L_WS on x), "osc_x"
// ((1−γ)·L_O on x), "recon_x" ((1−γ)·w·L_RECON), "osc_z" (L_O = L_WS on z,
// weight γ + (1−γ) = 1). Global: "ws". Either, with SleepInferWeight:
// "sleep_infer".
func NetworkTerms(m *model.MNIST, p *Phases, s Settings) ([]Term, Terms) {
	t := Terms{}
	if m.Config.Critic == model.CriticGlobal {
		ws := WakeSleepValue(m.Joint.Forward(ad.Concat(1, p.WakeX, p.WakeZ)), m.Joint.Forward(ad.Concat(1, p.SleepX, p.SleepZ)))
		t["net/ws"] = ws.Item()
		return sleepInfer(m, p, s, []Term{{"ws", ws}}, t)
	}
	g := s.Gamma
	dx, fx := m.CriticX.ForwardLayers(p.WakeX)
	dr, fr := m.CriticX.ForwardLayers(p.TopDownX)
	wsX := WakeSleepValue(dx, m.CriticX.Forward(p.SleepX))
	oX := OscillatoryValue(dx, dr)
	recon := ad.Scale(reconstruction(fx, fr, s.ReconLayers), s.ReconWeight)
	oZ := OscillatoryValue(m.CriticZ.Forward(p.WakeZ), m.CriticZ.Forward(p.SleepZ))
	// Eq. 8 per layer: x gets γ·L_WS + (1−γ)·(L_O + L_RECON); z, whose
	// top-down distribution is the prior, gets γ·L_O + (1−γ)·L_O.
	parts := []Term{
		{"ws_x", ad.Scale(wsX, g)},
		{"osc_x", ad.Scale(oX, 1-g)},
		{"recon_x", ad.Scale(recon, 1-g)},
		{"osc_z", Combined(g, oZ, oZ, nil)},
	}
	t["net/ws_x"], t["net/osc_x"], t["net/recon_x"], t["net/osc_z"] = wsX.Item(), oX.Item(), recon.Item(), oZ.Item()
	return sleepInfer(m, p, s, parts, t)
}

// sleepInfer appends the sleep phase of the Helmholtz machine,
// "sleep_infer" = w·mean ‖μ_q(x^s) − sg(z^s)‖² (w = SleepInferWeight),
// to the terms when w > 0.
func sleepInfer(m *model.MNIST, p *Phases, s Settings, parts []Term, t Terms) ([]Term, Terms) {
	if s.SleepInferWeight <= 0 {
		return parts, t
	}
	d := ad.Scale(SleepInference(m.InferMean(p.SleepX), p.SleepZ), s.SleepInferWeight)
	t["net/sleep_infer"] = d.Item()
	return append(parts, Term{"sleep_infer", d}), t
}

// reconstruction returns L_RECON between the critic's hidden layers on the
// true activity (truth, detached: the target) and on its reconstruction:
// the last layer's distance, or the mean of every layer's (Settings.ReconLayers).
func reconstruction(truth, recon []*ad.Var, layers string) *ad.Var {
	fixed := make([]*ad.Var, len(truth))
	for l, t := range truth {
		fixed[l] = ad.Detach(t)
	}
	return LayersReconstruction(fixed, recon, layers)
}
