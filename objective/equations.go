package objective

import (
	ad "github.com/wakesleep/wakesleep/autodiff"
)

// WakeSleepValue returns the adversarial wake/sleep objective, Eq. (4) of
// Benjamin & Kording:
//
//	L_WS = E_{q_φ(x,z)}[D(x, z)] − E_{p_θ(x,z)}[D(x, z)]
//
// Symbols: dWake = D on wake pairs [B, 1], dSleep = D on sleep pairs [B, 1].
// Sign: the critic maximises it; inference and generation minimise it
// (inference lowers D on wake pairs, generation raises D on sleep pairs).
// Estimator: batch means. Deviations: none.
func WakeSleepValue(dWake, dSleep *ad.Var) *ad.Var {
	return ad.Sub(ad.Mean(dWake), ad.Mean(dSleep)) // Eq. 4, term 1 − term 2
}

// OscillatoryValue returns the per-layer oscillatory objective, Eq. (7):
//
//	L_O,i = E_{q_φ(x,z)}[D_i(z_i)] − E_{q_φ(z_{i+1}|x) p_θ(z_i|z_{i+1})}[D_i(z_i)]
//
// Symbols: dBottomUp = D_i on z_i inferred from data [B, 1]; dTopDown = D_i
// on z_i generated one step down from the inferred layer above [B, 1] (for
// the top layer, from the prior). Sign: D_i maximises it, the networks
// minimise it. Estimator: batch means. Deviations: none.
func OscillatoryValue(dBottomUp, dTopDown *ad.Var) *ad.Var {
	return ad.Sub(ad.Mean(dBottomUp), ad.Mean(dTopDown)) // Eq. 7, term 1 − term 2
}

// FeatureReconstruction returns L_RECON of Sec. 3.2 (the VAE-GAN loss of
// Larsen et al. 2016): the distance between a critic's hidden features of the
// true activity and of its top-down reconstruction,
//
//	L_RECON,i = 1/(B·F) Σ_b Σ_f (Φ_i(z_i)_bf − Φ_i(ẑ_i)_bf)²
//
// Symbols: truth = Φ_i(z_i) [B, F], recon = Φ_i(ẑ_i) [B, F], Φ_i the last
// hidden layer of critic D_i. Sign: loss the networks minimise; the critic does
// not train on it. Deviations: the paper leaves the layer and distance open;
// we take the penultimate layer and mean squared error, the VAE-GAN choice.
func FeatureReconstruction(truth, recon *ad.Var) *ad.Var {
	return ad.Mean(ad.Square(ad.Sub(truth, recon)))
}

// SleepInference returns the sleep phase of the Helmholtz machine (Hinton
// et al. 1995; Settings.SleepInferWeight, a deviation): inference's
// noise-free guess at a dream's cause against the cause it was dreamt from,
//
//	L_SLEEP = 1/(B·D) Σ_b Σ_d (μ_q(dream)_bd − sg(cause)_bd)²
//
// Symbols: pred = μ_q of the dream [B, …] (for the hierarchical model, after
// the layer's activation), cause = the sleep sample one layer up, the same
// shape, a fixed target (sg: stop-gradient). Sign: loss the networks
// minimise; its gradient reaches the generation through the dream.
func SleepInference(pred, cause *ad.Var) *ad.Var {
	return ad.Mean(ad.Square(ad.Sub(pred, ad.Detach(cause))))
}

// splitBatches cuts v along its first axis back into pieces as long as each
// of xs: the batches a concatenation along that axis joined.
func splitBatches(v *ad.Var, xs []*ad.Var) []*ad.Var {
	out := make([]*ad.Var, len(xs))
	off := 0
	for k, x := range xs {
		n := x.Dim(0)
		out[k] = ad.Slice(v, 0, off, off+n)
		off += n
	}
	return out
}

// splitLayers is splitBatches for each of a critic's hidden layers:
// hs[k][l] is batch k's activity in layer l.
func splitLayers(hidden, xs []*ad.Var) [][]*ad.Var {
	hs := make([][]*ad.Var, len(xs))
	for _, h := range hidden {
		for k, part := range splitBatches(h, xs) {
			hs[k] = append(hs[k], part)
		}
	}
	return hs
}

// LayersReconstruction is L_RECON over a critic's hidden layers (first to
// last) on the true activity and on its reconstruction: the last layer's
// FeatureReconstruction (ReconLast or ""), or the mean of every layer's
// (ReconAll). Whether the truth is a fixed target is the caller's choice
// (detach it first).
func LayersReconstruction(truth, recon []*ad.Var, layers string) *ad.Var {
	last := len(truth) - 1
	if layers != ReconAll {
		return FeatureReconstruction(truth[last], recon[last])
	}
	sum := FeatureReconstruction(truth[0], recon[0])
	for l := 1; l <= last; l++ {
		sum = ad.Add(sum, FeatureReconstruction(truth[l], recon[l]))
	}
	return ad.Scale(sum, 1/float64(len(truth)))
}

// Combined returns the per-layer objective of Eq. (8):
//
//	L_i = γ·L_WS + (1 − γ)·(L_O,i + L_RECON)
//
// recon may be nil (a layer with no reconstruction, such as the top layer
// whose top-down distribution is the prior).
func Combined(gamma float64, ws, osc, recon *ad.Var) *ad.Var {
	local := osc
	if recon != nil {
		local = ad.Add(osc, recon) // Eq. 8, L_O,i + L_RECON
	}
	return ad.Add(ad.Scale(ws, gamma), ad.Scale(local, 1-gamma)) // Eq. 8
}
