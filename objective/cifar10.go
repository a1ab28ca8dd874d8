package objective

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/tensor"
)

// This file holds the objective of the CIFAR-10 experiment (Sec. 5.2,
// Fig. 4): Eq. 8 on every layer of the hierarchical model, each layer i
// (z₀ = x, …, z_L) with its own critic D_i, γ = 0.5.
//
// Phases of one training step, on a batch of images x:
//
//	wake (bottom-up):  z^w_0 = x,  z^w_{i+1} ~ q_φ(z_{i+1} | z^w_i)
//	sleep:             z^s_L ~ N(0, I),  z^s_i ~ p_θ(z_i | z^s_{i+1})
//	top-down:          ẑ_i ~ p_θ(z_i | z^w_{i+1})  (one step down from the
//	                   inferred layer above), i < L;  ẑ_L = z^s_L (the prior)
//
// Per layer i (Sec. 3.2; Eq. 4 restricted to layer i, Eq. 7, L_RECON):
//
//	L_WS,i   = E[D_i(z^w_i)] − E[D_i(z^s_i)]
//	L_O,i    = E[D_i(z^w_i)] − E[D_i(ẑ_i)]
//	L_RECON,i = mean ‖Φ_i(z^w_i) − Φ_i(ẑ_i)‖²   (Φ_i: D_i's penultimate features;
//	            with Settings.ReconLayers "all", the mean of this distance over both hidden layers)
//
//	networks minimise  Σ_i γ·L_WS,i + (1−γ)·(L_O,i + L_RECON,i)
//	critics maximise   Σ_i γ·L_WS,i + (1−γ)·L_O,i, each term with its WGAN-GP penalty
//
// For the top layer the top-down distribution is the prior, which is also
// the sleep distribution, so L_WS,L = L_O,L and Eq. 8 reduces to that one
// term (no L_RECON: there is nothing to reconstruct z_L from).
//
// Choices the paper leaves open, made here (as for MNIST): in L_RECON the
// true layer's features are a fixed target (stop-gradient), so the networks
// move the reconstruction towards the inferred activity and not the
// activity towards what is easy to reconstruct; each critic sees its
// layer's wake, sleep and top-down samples in one batch (the same function
// as three calls, since pixel norm acts per sample, with larger products).

// HierPhases holds the activity of one training step on the CIFAR-10
// model, every layer of every phase, recorded so that the networks'
// gradients flow through them. Index i is layer i (0: the image).
type HierPhases struct {
	Wake  []*ad.Var // z^w_i, bottom-up from the data
	Sleep []*ad.Var // z^s_i, top-down from the prior
	// Chain is x̂ from the top wake layer down the whole generative chain
	// (Settings.ChainReconWeight); nil when that weight is 0.
	Chain   *ad.Var
	TopDown []*ad.Var // ẑ_i ~ p_θ(z_i | z^w_{i+1}); TopDown[L] = Sleep[L]
}

// RunHierPhases runs the wake, sleep and top-down phases on images x
// [B, 3, 32, 32], with the perturbation of s's silence layer k (none when
// s.SilenceLayer is 0): in both of layer k's generative samples, the sleep
// sample z^s_k and the top-down sample ẑ_k, the channels s.SilenceChannels
// are held at zero and the channels s.ShamChannels are drawn with fresh
// noise (generativeStep). The wake phase is never perturbed.
//
// Silencing a layer's top-down phase is read as its silenced neurons being
// silent for every reader of that phase: its critic D_k (both adversarial
// terms and L_RECON) and, in the sleep chain, the generation of the layers
// below, z^s_{k−1} ~ p_θ(z_{k−1} | z^s_k), which is dreamt from the silenced
// layer as MNIST's image is dreamt from its silenced prior. No top-down
// sample is generated from ẑ_k (ẑ_{k−1} comes from the wake z^w_k), so its
// silence reaches D_k alone. The channels are zeroed after the layer's ReLU
// and pixel norm, and the others are not renormalised: the silenced units
// are off, the rest fire as they would.
//
// Without a perturbation the noise is drawn in the order the model's own
// passes draw it (Infer, then Generate from the prior, then each
// GenerateStep): a run is the same with or without this code path.
func RunHierPhases(m *model.CIFAR10, x *ad.Var, s Settings, rng *rand.Rand) *HierPhases {
	L := m.Layers()
	p := &HierPhases{Wake: m.Infer(x, rng)}
	p.Sleep = make([]*ad.Var, L+1)
	p.Sleep[L] = m.Prior(x.Dim(0), rng)
	for i := L - 1; i >= 0; i-- {
		p.Sleep[i] = generativeStep(m, i, p.Sleep[i+1], s, rng)
	}
	p.TopDown = make([]*ad.Var, L+1)
	for i := 0; i < L; i++ {
		p.TopDown[i] = generativeStep(m, i, p.Wake[i+1], s, rng)
	}
	p.TopDown[L] = p.Sleep[L]
	if s.ChainReconWeight > 0 { // drawn last: without it the noise stream is as before
		z := p.Wake[L]
		for i := L - 1; i >= 0; i-- {
			z = generativeStep(m, i, z, s, rng)
		}
		p.Chain = z
	}
	return p
}

// generativeStep samples layer i from layer i+1 (z ~ p_θ(z_i | z_{i+1})),
// perturbed as s says if i is its silence layer.
//
// Sham: the channels s.ShamChannels of the Gaussian sample μ + σ·ε get a
// fresh ε, drawn after the step's own noise, before the layer's ReLU and
// pixel norm. ε is N(0, I) either way, so the layer's distribution (every
// channel and their joint, pixel norm included) is exactly that of an
// unperturbed step; what differs is that the same channels go through a
// manipulation and the run's noise stream is not its control's. (A sham
// drawing those channels from another sample of the layer would keep each
// channel's distribution but not their joint, which pixel norm couples.)
func generativeStep(m *model.CIFAR10, i int, z *ad.Var, s Settings, rng *rand.Rand) *ad.Var {
	if i == 0 || i != s.SilenceLayer {
		return m.GenerateStep(i, z, rng)
	}
	var out *ad.Var
	if len(s.ShamChannels) == 0 {
		out = m.GenerateStep(i, z, rng)
	} else {
		mean, std := m.Generation[i].Moments(z)
		eps := tensor.RandNormal(rng, mean.DType(), mean.Shape()...)
		redrawChannels(eps, s.ShamChannels, rng)
		out = m.Activate(i, ad.Add(mean, ad.Mul(std, ad.Const(eps))))
	}
	return silenceChannels(out, s.SilenceChannels)
}

// silenceChannels returns z [B, C, …] with the given channels set to zero.
func silenceChannels(z *ad.Var, channels []int) *ad.Var {
	if len(channels) == 0 {
		return z
	}
	shape := make([]int, z.Value.Rank())
	for d := range shape {
		shape[d] = 1
	}
	shape[1] = z.Dim(1)
	mask := tensor.Full(z.DType(), 1, shape...)
	for _, c := range channels {
		if c >= z.Dim(1) {
			panic(fmt.Sprintf("objective: silenced channel %d of %d", c, z.Dim(1)))
		}
		mask.SetAt(c, 0)
	}
	return ad.Mul(z, ad.Const(mask))
}

// redrawChannels replaces the given channels of eps [B, C, …] in place by
// fresh standard normal draws from rng, in the order of eps's elements.
func redrawChannels(eps *tensor.Tensor, channels []int, rng *rand.Rand) {
	b, c := eps.Dim(0), eps.Dim(1)
	per := eps.Len() / (b * c)
	for _, ch := range channels {
		if ch >= c {
			panic(fmt.Sprintf("objective: sham channel %d of %d", ch, c))
		}
	}
	fresh := tensor.RandNormal(rng, eps.DType(), b, len(channels), per)
	for i := 0; i < b; i++ {
		for j, ch := range channels {
			for q := 0; q < per; q++ {
				eps.SetAt((i*c+ch)*per+q, fresh.At((i*len(channels)+j)*per+q))
			}
		}
	}
}

// Detached returns the phases with gradients stopped: what the critics train on.
func (p *HierPhases) Detached() *HierPhases {
	d := &HierPhases{}
	for i := range p.Wake {
		d.Wake = append(d.Wake, ad.Detach(p.Wake[i]))
		d.Sleep = append(d.Sleep, ad.Detach(p.Sleep[i]))
		d.TopDown = append(d.TopDown, ad.Detach(p.TopDown[i]))
	}
	return d
}

// LayerName returns the name of layer i in metrics: "x", "z1", "z2", ….
func LayerName(i int) string {
	if i == 0 {
		return "x"
	}
	return "z" + strconv.Itoa(i)
}

// criticOn returns critic c's outputs [B, 1] on each of the batches zs,
// computed in one call on their concatenation.
func criticOn(c *model.LayerCritic, zs ...*ad.Var) []*ad.Var {
	return splitBatches(c.Forward(ad.Concat(0, zs...)), zs)
}

// criticLayersOn is criticOn with the critic's hidden layers' activity too:
// hs[k][l] is batch k's activity in layer l (first to last).
func criticLayersOn(c *model.LayerCritic, zs ...*ad.Var) (ds []*ad.Var, hs [][]*ad.Var) {
	d, hidden := c.ForwardLayers(ad.Concat(0, zs...))
	return splitBatches(d, zs), splitLayers(hidden, zs)
}

func layerCritic(c *model.LayerCritic) func([]*ad.Var) *ad.Var {
	return func(in []*ad.Var) *ad.Var { return c.Forward(in[0]) }
}

// CIFAR10CriticLoss returns the loss the six critics minimise, on detached
// phases so that only critic weights get gradients:
//
//	layer i < L:  −[γ·L_WS,i + (1−γ)·L_O,i] + λ·[γ·GP_i(wake, sleep) + (1−γ)·GP_i(wake, top-down)]
//	layer L:      −L_O,L + λ·GP_L(wake, prior)
//
// Each adversarial term is a WGAN-GP objective of its own (GradientPenalty),
// weighted as in Eq. 8. Terms: "critic_<layer>/{ws,osc,gp}".
func CIFAR10CriticLoss(m *model.CIFAR10, ph *HierPhases, s Settings, rng *rand.Rand) (*ad.Var, Terms) {
	p := ph.Detached()
	t := Terms{}
	g, L := s.Gamma, m.Layers()
	batch := p.Wake[0].Dim(0)
	var total *ad.Var
	for i := 0; i <= L; i++ {
		c, name := m.Critics[i], "critic_"+LayerName(i)
		var loss *ad.Var
		if i == L {
			ds := criticOn(c, p.Wake[i], p.Sleep[i])
			osc := OscillatoryValue(ds[0], ds[1]) // Eq. 7 on the top layer (= Eq. 4 on it)
			gp := GradientPenalty(layerCritic(c), p.Wake[i:i+1], p.Sleep[i:i+1], InterpolationWeights(rng, m.DType(), batch))
			loss = ad.Add(ad.Neg(osc), ad.Scale(gp, s.Lambda))
			t[name+"/osc"], t[name+"/gp"] = osc.Item(), gp.Item()
		} else {
			ds := criticOn(c, p.Wake[i], p.Sleep[i], p.TopDown[i])
			ws := WakeSleepValue(ds[0], ds[1])    // Eq. 4 on layer i
			osc := OscillatoryValue(ds[0], ds[2]) // Eq. 7
			gpWS := GradientPenalty(layerCritic(c), p.Wake[i:i+1], p.Sleep[i:i+1], InterpolationWeights(rng, m.DType(), batch))
			gpO := GradientPenalty(layerCritic(c), p.Wake[i:i+1], p.TopDown[i:i+1], InterpolationWeights(rng, m.DType(), batch))
			loss = ad.Add(ad.Neg(Combined(g, ws, osc, nil)), ad.Scale(Combined(g, gpWS, gpO, nil), s.Lambda)) // Eq. 8
			t[name+"/ws"], t[name+"/osc"] = ws.Item(), osc.Item()
			t[name+"/gp"] = g*gpWS.Item() + (1-g)*gpO.Item()
		}
		if total == nil {
			total = loss
		} else {
			total = ad.Add(total, loss)
		}
	}
	return total, t
}

// CIFAR10NetworkLoss returns the loss inference and generation minimise,
// through the recorded phases (so gradients reach φ and θ), with the
// critics as they are now:
//
//	Σ_{i<L} γ·L_WS,i + (1−γ)·(L_O,i + w·L_RECON,i)  +  L_O,L      (Eq. 8; w = ReconWeight)
//
// plus (1−γ)·w_c·L_RECON(x, x̂_chain) when the phases have the chain
// (w_c = ChainReconWeight; with ChainReconSpace = ChainPixels the mean
// squared pixel difference instead of L_RECON), plus w_s·Σ_{i<L} L_SLEEP,i
// (w_s = SleepInferWeight), the sleep phase of the Helmholtz machine:
//
//	L_SLEEP,i = mean ‖act_{i+1}(μ_q(z^s_i)) − sg(z^s_{i+1})‖²
//
// (act: the layer's ReLU and pixel norm, as InferMean; sg: stop-gradient).
// Terms: "net/{ws,osc,recon}_<layer>", "net/recon_chain",
// "net/sleep_infer_<layer i+1>".
func CIFAR10NetworkLoss(m *model.CIFAR10, p *HierPhases, s Settings) (*ad.Var, Terms) {
	t := Terms{}
	g, L := s.Gamma, m.Layers()
	var total *ad.Var
	for i := 0; i <= L; i++ {
		c, name := m.Critics[i], LayerName(i)
		var loss *ad.Var
		if i == L {
			ds := criticOn(c, p.Wake[i], p.Sleep[i])
			osc := OscillatoryValue(ds[0], ds[1])
			loss = Combined(g, osc, osc, nil) // = L_O,L: the two terms coincide
			t["net/osc_"+name] = osc.Item()
		} else {
			ds, hs := criticLayersOn(c, p.Wake[i], p.Sleep[i], p.TopDown[i])
			ws := WakeSleepValue(ds[0], ds[1])
			osc := OscillatoryValue(ds[0], ds[2])
			recon := ad.Scale(reconstruction(hs[0], hs[2], s.ReconLayers), s.ReconWeight)
			loss = Combined(g, ws, osc, recon) // Eq. 8
			t["net/ws_"+name], t["net/osc_"+name], t["net/recon_"+name] = ws.Item(), osc.Item(), recon.Item()
		}
		if total == nil {
			total = loss
		} else {
			total = ad.Add(total, loss)
		}
	}
	if p.Chain != nil {
		// The image reconstructed through the whole hierarchy, compared as
		// L_RECON compares layer 0 (the image's features a fixed target),
		// or pixel by pixel.
		var d *ad.Var
		if s.ChainReconSpace == ChainPixels {
			d = ad.Mean(ad.Square(ad.Sub(ad.Detach(p.Wake[0]), p.Chain)))
		} else {
			_, hs := criticLayersOn(m.Critics[0], p.Wake[0], p.Chain)
			d = reconstruction(hs[0], hs[1], s.ReconLayers)
		}
		chain := ad.Scale(d, s.ChainReconWeight)
		total = ad.Add(total, ad.Scale(chain, 1-g))
		t["net/recon_chain"] = chain.Item()
	}
	if w := s.SleepInferWeight; w > 0 {
		for i := 0; i < L; i++ {
			d := ad.Scale(SleepInference(m.InferMean(i, p.Sleep[i]), p.Sleep[i+1]), w)
			total = ad.Add(total, d)
			t["net/sleep_infer_"+LayerName(i+1)] = d.Item()
		}
	}
	return total, t
}
