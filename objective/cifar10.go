package objective

import (
	"math/rand/v2"
	"strconv"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/model"
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
	Wake    []*ad.Var // z^w_i, bottom-up from the data
	Sleep   []*ad.Var // z^s_i, top-down from the prior
	TopDown []*ad.Var // ẑ_i ~ p_θ(z_i | z^w_{i+1}); TopDown[L] = Sleep[L]
}

// RunHierPhases runs the wake, sleep and top-down phases on images x
// [B, 3, 32, 32].
func RunHierPhases(m *model.CIFAR10, x *ad.Var, rng *rand.Rand) *HierPhases {
	L := m.Layers()
	p := &HierPhases{Wake: m.Infer(x, rng)}
	p.Sleep = m.Generate(m.Prior(x.Dim(0), rng), rng)
	p.TopDown = make([]*ad.Var, L+1)
	for i := 0; i < L; i++ {
		p.TopDown[i] = m.GenerateStep(i, p.Wake[i+1], rng)
	}
	p.TopDown[L] = p.Sleep[L]
	return p
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
// Terms: "net/{ws,osc,recon}_<layer>".
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
	return total, t
}
