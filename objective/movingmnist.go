package objective

import (
	"fmt"
	"math/rand/v2"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/tensor"
)

// This file holds the objective of the Moving MNIST experiment (Sec. 5.3,
// Appendix A.1.5): Eq. 8 over time, with separate critics D_x for frames and
// D_z for latents, aligning the joint of (x_t, z_{t−1}).
//
// Phases of one training sequence (0-based frames x_0 … x_{T−1}, context C,
// horizon P, sleep steps K):
//
//	wake (bottom-up):    z_t ~ q_φ(z_t | x_t, state), t = 0 … C−1, from the true frames
//	top-down:            x̂_t ~ p_θ(x_t | z_{t−1}, state), t = C … C+P−1: the predictions,
//	                     the encoder reading its own predictions after the context
//	                     (or the true frames, with TeacherForcing)
//	sleep:               z^s_0 ~ N(0, I); x^s_k = decode(z^s_{k−1}), z^s_k = encode(x^s_k), k = 1 … K
//
// and the per-layer terms of Eq. 8 with γ = 0.5:
//
//	x:  L_WS,x = E[D_x(x_t)] − E[D_x(x^s_k)]          (true future frames vs dreamt frames)
//	    L_O,x  = E[D_x(x_t)] − E[D_x(x̂_t)]           (true future frames vs predictions)
//	    L_RECON = mean ‖Φ_x(x_t) − Φ_x(x̂_t)‖²          (Φ_x: D_x's penultimate features)
//	z:  L_WS,z = E[D_z(z_t)] − E[D_z(z^s_{k−1})]      (the last K inferred latents vs the sleep chain's)
//
//	networks minimise  γ·(L_WS,x + L_WS,z) + (1−γ)·(L_O,x + L_RECON)
//	critics maximise   γ·(L_WS,x + L_WS,z) + (1−γ)·L_O,x, each term with its WGAN-GP penalty
//
// The paper places no oscillatory term on z ("this places no constraints over
// z"): z is constrained only by the sleep phase, so D_z has the wake/sleep
// term alone, weighted γ like the rest of the wake/sleep objective ("This
// wake/sleep objective is discounted by γ = 0.5 in the same manner as Eq. 8").
//
// Scale of the critics' values. With λ = 1 (A.1.2) the penalty does not hold
// D_x near 1-Lipschitz on 64×64 frames: along a segment of length d from a
// prediction to a true frame, a critic of slope g gains g·d − λ(g − 1)², best
// at g = 1 + d/(2λ). For d = ‖x − x̂‖ ≈ √(4096 · 0.04) ≈ 13 (digits against a
// dark prediction) that is g ≈ 7, a gap of ≈ 90 and a penalty of ≈ 40: what a
// CPU run shows within 50 steps. That is the equilibrium the paper's λ sets
// at this dimension, not a divergence; --lambda 10 gives g ≈ 1.6.
//
// Choices the paper leaves open, made here: the closed-loop prediction (the
// encoder reads x̂_t after the context, as at test time); the wake latents are
// the last K of the context, inferred from true frames only; every time step's
// samples are stacked into one batch; each critic sees the samples of all its
// phases in one batch ([true; sleep; prediction] for D_x, [wake; sleep] for
// D_z, plus the gradient penalty's interpolates when the critic trains), so
// that batch norm normalises every phase with the same statistics (a critic
// that saw each phase in a batch of its own could not see a per-channel shift
// of its first layer's mean between phases, since batch norm removes it), and
// the penalty constrains the same function the objective evaluates.

// VideoSettings are the knobs of the Moving MNIST objective.
type VideoSettings struct {
	Gamma          float64 `json:"gamma"`           // weight of the wake/sleep terms in Eq. 8 (0.5)
	Lambda         float64 `json:"lambda"`          // WGAN-GP penalty weight (1)
	ReconWeight    float64 `json:"recon_weight"`    // weight of L_RECON (1: Eq. 8 as written)
	Context        int     `json:"context"`         // warm-up frames C (10)
	Horizon        int     `json:"horizon"`         // predicted frames P (10)
	SleepSteps     int     `json:"sleep_steps"`     // steps K of the sleep phase (10)
	TeacherForcing bool    `json:"teacher_forcing"` // encoder reads true frames after the context (false)
	// ReconLayers: which hidden layers of D_x L_RECON compares, as
	// Settings.ReconLayers: "last" (or empty: the paper's "features before
	// the linear layer") or "all" (both convolutions' activity, averaged).
	ReconLayers string `json:"recon_layers,omitempty"`
	// PixelWeight weights a pixel loss between each prediction and its true
	// frame, added to the networks' loss (0, the paper, for none): a
	// deviation, for runs too short for the critics alone to leave the
	// black-frame minimum. PixelLoss is that loss: PixelBCE ("" reads as
	// it), the binary cross-entropy of the true pixel under the predicted
	// one, or PixelMSE, the squared difference, each averaged over pixels.
	// Cross-entropy keeps pulling a dark pixel towards 0 (its gradient in
	// the readout's logit is p − y, where the squared error's is
	// 2(p − y)·p(1 − p)), so the background of a prediction becomes black,
	// not a haze: what SSIM, unlike MSE, rewards.
	PixelWeight float64 `json:"pixel_weight,omitempty"`
	PixelLoss   string  `json:"pixel_loss,omitempty"`
}

// Pixel losses of VideoSettings.PixelLoss.
const (
	PixelBCE = "bce"
	PixelMSE = "mse"
)

// pixelEps keeps the logarithms of the cross-entropy finite where a
// sigmoid output rounds to 0 or 1 in float32.
const pixelEps = 1e-6

// PixelLossValue returns the mean pixel loss of predictions p against true
// frames y (both in [0, 1], the same shape): PixelBCE's
// −[y·log(p + ε) + (1 − y)·log(1 − p + ε)] or PixelMSE's (p − y)².
func PixelLossValue(kind string, p, y *ad.Var) *ad.Var {
	if kind == PixelMSE {
		return ad.Mean(ad.Square(ad.Sub(p, y)))
	}
	pos := ad.Mul(y, ad.Log(ad.AddScalar(p, pixelEps)))
	neg := ad.Mul(ad.AddScalar(ad.Neg(y), 1), ad.Log(ad.AddScalar(ad.Neg(p), 1+pixelEps)))
	return ad.Neg(ad.Mean(ad.Add(pos, neg)))
}

// DefaultVideoSettings returns the paper's settings: γ = 0.5, λ = 1, 10
// warm-up and 10 predicted frames, 10 sleep steps, closed-loop prediction.
func DefaultVideoSettings() VideoSettings {
	return VideoSettings{Gamma: 0.5, Lambda: 1, ReconWeight: 1, Context: 10, Horizon: 10, SleepSteps: 10}
}

// Validate reports a setting out of range for sequences of the given length.
// The gradient penalty interpolates between equal-sized batches, so the sleep
// phase must take as many steps as there are predicted frames and no more
// than there are context frames.
func (s VideoSettings) Validate(frames int) error {
	switch {
	case !(s.Gamma >= 0 && s.Gamma <= 1):
		return fmt.Errorf("objective: gamma %g must be in [0, 1]", s.Gamma)
	case s.ReconLayers != "" && s.ReconLayers != ReconLast && s.ReconLayers != ReconAll:
		return fmt.Errorf("objective: recon layers %q must be %q or %q", s.ReconLayers, ReconLast, ReconAll)
	case !(s.Lambda >= 0) || !(s.ReconWeight >= 0):
		return fmt.Errorf("objective: lambda %g and recon weight %g must be ≥ 0", s.Lambda, s.ReconWeight)
	case s.Context < 1 || s.Horizon < 1:
		return fmt.Errorf("objective: context %d and horizon %d must be positive", s.Context, s.Horizon)
	case s.Context+s.Horizon > frames:
		return fmt.Errorf("objective: context %d + horizon %d exceeds the %d frames of a sequence", s.Context, s.Horizon, frames)
	case s.SleepSteps != s.Horizon || s.SleepSteps > s.Context:
		return fmt.Errorf("objective: sleep steps %d must equal the horizon %d and not exceed the context %d", s.SleepSteps, s.Horizon, s.Context)
	}
	if err := finiteWeight("pixel weight", s.PixelWeight); err != nil {
		return err
	}
	if s.PixelLoss != "" && s.PixelLoss != PixelBCE && s.PixelLoss != PixelMSE {
		return fmt.Errorf("objective: pixel loss %q must be %q or %q", s.PixelLoss, PixelBCE, PixelMSE)
	}
	return nil
}

// VideoPhases holds one step's phases, each stacked time-major into one batch
// (sample k·B + b is time step k of sequence b).
type VideoPhases struct {
	TrueX  *ad.Var // x_t, t = C … C+P−1 [P·B, 1, S, S] (data: constants)
	PredX  *ad.Var // x̂_t for the same t: the predictions [P·B, 1, S, S]
	WakeZ  *ad.Var // z_t, t = C−K … C−1, inferred from true frames [K·B, Hidden, g, g]
	SleepX *ad.Var // x^s_1 … x^s_K [K·B, 1, S, S]
	SleepZ *ad.Var // z^s_0 … z^s_{K−1} [K·B, Hidden, g, g]
}

// RunVideoPhases runs the wake/top-down rollout over frames (each [B, 1, S, S])
// and the sleep phase, recorded so that the networks' gradients flow through
// them (backpropagation through time, warm-up included).
func RunVideoPhases(m *model.MovingMNIST, frames []*tensor.Tensor, s VideoSettings, rng *rand.Rand) *VideoPhases {
	xs := make([]*ad.Var, len(frames))
	for i, f := range frames {
		xs[i] = ad.Const(f)
	}
	c, p, k := s.Context, s.Horizon, s.SleepSteps
	r := m.Rollout(xs, c, p, s.TeacherForcing, rng)
	ph := &VideoPhases{
		TrueX: ad.Concat(0, xs[c:c+p]...),
		PredX: ad.Concat(0, r.Pred[c:c+p]...),
		WakeZ: ad.Concat(0, r.Z[c-k:c]...),
	}
	sx, sz := m.Dream(frames[0].Dim(0), k, rng)
	ph.SleepX, ph.SleepZ = ad.Concat(0, sx...), ad.Concat(0, sz...)
	return ph
}

// Detached returns the phases with gradients stopped: what the critics train on.
func (p *VideoPhases) Detached() *VideoPhases {
	return &VideoPhases{TrueX: ad.Detach(p.TrueX), PredX: ad.Detach(p.PredX), WakeZ: ad.Detach(p.WakeZ),
		SleepX: ad.Detach(p.SleepX), SleepZ: ad.Detach(p.SleepZ)}
}

// jointCritic runs D (training mode) on the concatenation of batches and
// splits its output back: one batch, shared batch statistics.
func jointCritic(c *model.ConvCritic, xs ...*ad.Var) []*ad.Var {
	return splitBatches(c.Forward(ad.Concat(0, xs...), true), xs)
}

// jointCriticLayers is jointCritic with every hidden layer of the critic:
// hs[k][l] is batch k's activity in layer l (first to last).
func jointCriticLayers(c *model.ConvCritic, xs ...*ad.Var) (ds []*ad.Var, hs [][]*ad.Var) {
	d, hidden := c.ForwardLayers(ad.Concat(0, xs...), true)
	return splitBatches(d, xs), splitLayers(hidden, xs)
}

// penalisedCritic evaluates D once, in training mode, on the concatenation of
// the samples and of one WGAN-GP interpolate set per pair (x̂ = α·a + (1−α)·b,
// one α per sample), and returns D on the samples and the penalty of each
// pair (Gulrajani et al. 2017, Eq. 3, term 3, without λ):
//
//	P_k = 1/N Σ_b (‖∂(Σ_j D(x̂_j)) / ∂x̂_{k,b}‖₂ − 1)²
//
// With batch norm, D of any sample depends on the whole batch. Evaluating the
// samples and the interpolates in one batch makes the penalty constrain the
// very function whose values enter the objective; a penalty on interpolates
// normalised by their own batch statistics would constrain another function. The gradient is of the sum of D over all
// interpolates (one double-backward pass); it includes the cross terms through
// the batch statistics, which are the price of batch norm in a WGAN-GP critic
// (see model.ConvCritic). Without batch norm this is exactly GradientPenalty.
// The pairs' members must be detached, of the samples' shape but any count.
func penalisedCritic(c *model.ConvCritic, samples []*ad.Var, pairs [][2]*ad.Var, rng *rand.Rand) (ds, gps []*ad.Var) {
	hats := make([]*ad.Var, len(pairs))
	for k, p := range pairs {
		n := p[0].Dim(0)
		shape := make([]int, p[0].Rank())
		for i := range shape {
			shape[i] = 1
		}
		shape[0] = n
		alpha := InterpolationWeights(rng, p[0].DType(), n).Reshape(shape...)
		hats[k] = ad.Param(ad.Lerp(ad.Detach(p[0]), ad.Detach(p[1]), alpha).Value) // a leaf: ∇D is taken with respect to it
	}
	all := jointCritic(c, append(append([]*ad.Var(nil), samples...), hats...)...)
	ds = all[:len(samples)]
	var dHat *ad.Var
	for _, d := range all[len(samples):] {
		if dHat == nil {
			dHat = ad.Sum(d)
		} else {
			dHat = ad.Add(dHat, ad.Sum(d))
		}
	}
	grads := ad.Grad(dHat, hats, &ad.GradOptions{CreateGraph: true})
	for k, g := range grads {
		n := hats[k].Dim(0)
		norm := ad.Sqrt(ad.AddScalar(ad.Sum(ad.Reshape(ad.Square(g), n, -1), 1), penaltyEps)) // ‖∇‖_b
		gps = append(gps, ad.Mean(ad.Square(ad.AddScalar(norm, -1))))                         // Eq. 3 (Gulrajani et al.), term 3 without λ
	}
	return ds, gps
}

// VideoCriticLoss returns the loss the critics minimise, on detached phases
// so that only critic weights get gradients:
//
//	D_x:  −[γ·L_WS,x + (1−γ)·L_O,x] + λ·[γ·GP(true, sleep) + (1−γ)·GP(true, prediction)]
//	D_z:  γ·(−L_WS,z + λ·GP(wake z, sleep z))
//
// Each adversarial term is a WGAN-GP objective of its own (Gulrajani et al.
// 2017, Eq. 3), weighted as in Eq. 8. Each critic is evaluated once, on one
// batch holding every phase's samples and the interpolates (see
// penalisedCritic for why, and for the cross terms batch norm brings).
func VideoCriticLoss(m *model.MovingMNIST, ph *VideoPhases, s VideoSettings, rng *rand.Rand) (*ad.Var, Terms) {
	p := ph.Detached()
	g := s.Gamma
	ds, gpX := penalisedCritic(m.CriticX, []*ad.Var{p.TrueX, p.SleepX, p.PredX},
		[][2]*ad.Var{{p.TrueX, p.SleepX}, {p.TrueX, p.PredX}}, rng)
	wsX := WakeSleepValue(ds[0], ds[1])                                                                      // Eq. 4 on the x layer
	oX := OscillatoryValue(ds[0], ds[2])                                                                     // Eq. 7 on the x layer
	lossX := ad.Add(ad.Neg(Combined(g, wsX, oX, nil)), ad.Scale(Combined(g, gpX[0], gpX[1], nil), s.Lambda)) // Eq. 8 for D_x
	dz, gpZ := penalisedCritic(m.CriticZ, []*ad.Var{p.WakeZ, p.SleepZ}, [][2]*ad.Var{{p.WakeZ, p.SleepZ}}, rng)
	wsZ := WakeSleepValue(dz[0], dz[1])                                   // Eq. 4 on the z layer
	lossZ := ad.Scale(ad.Add(ad.Neg(wsZ), ad.Scale(gpZ[0], s.Lambda)), g) // Eq. 8, γ·L_WS for D_z
	t := Terms{
		"critic_x/ws": wsX.Item(), "critic_x/osc": oX.Item(),
		"critic_x/gp": g*gpX[0].Item() + (1-g)*gpX[1].Item(),
		"critic_z/ws": wsZ.Item(), "critic_z/gp": gpZ[0].Item(),
	}
	return ad.Add(lossX, lossZ), t
}

// VideoNetworkLoss returns the loss encoder, decoder and readout minimise,
// through the recorded phases, with the critics as they are now:
//
//	γ·(L_WS,x + L_WS,z) + (1−γ)·(L_O,x + w·L_RECON)     (Eq. 8; w = ReconWeight)
//
// plus w_p·PixelLossValue(predictions, true frames) when w_p = PixelWeight
// is positive (term "net/pixel_x", weighted).
//
// D_x sees [true; sleep; prediction] in one batch, as in VideoCriticLoss
// but without the interpolates (they only serve the penalty; their absence
// shifts the batch statistics a little). L_RECON compares D_x's features of
// the predictions with those of the true frames. The true frames' features are not detached: in the joint batch they
// depend on the predictions through the batch statistics, and the loss is
// differentiated as the function it is (without batch norm they are constants
// for the networks anyway). It also reports the pixel mean squared error of the
// predictions ("pred/mse") for monitoring; that is not part of the loss.
func VideoNetworkLoss(m *model.MovingMNIST, ph *VideoPhases, s VideoSettings) (*ad.Var, Terms) {
	g := s.Gamma
	ds, hs := jointCriticLayers(m.CriticX, ph.TrueX, ph.SleepX, ph.PredX)
	wsX := WakeSleepValue(ds[0], ds[1])
	oX := OscillatoryValue(ds[0], ds[2])
	recon := ad.Scale(LayersReconstruction(hs[0], hs[2], s.ReconLayers), s.ReconWeight) // L_RECON
	dz := jointCritic(m.CriticZ, ph.WakeZ, ph.SleepZ)
	wsZ := WakeSleepValue(dz[0], dz[1])
	loss := Combined(g, ad.Add(wsX, wsZ), oX, recon) // Eq. 8
	mse := tensor.Sum(tensor.Unary(tensor.OpSquare, tensor.Binary(tensor.OpSub, ph.PredX.Value, ph.TrueX.Value))).Item() / float64(ph.TrueX.Value.Len())
	t := Terms{"net/ws_x": wsX.Item(), "net/ws_z": wsZ.Item(), "net/osc_x": oX.Item(), "net/recon_x": recon.Item(), "pred/mse": mse}
	if s.PixelWeight > 0 {
		px := ad.Scale(PixelLossValue(s.PixelLoss, ph.PredX, ph.TrueX), s.PixelWeight)
		loss = ad.Add(loss, px)
		t["net/pixel_x"] = px.Item()
	}
	return loss, t
}
