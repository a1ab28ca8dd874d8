package mnist

import "github.com/wakesleep/wakesleep/train"

// MemoryEstimate implements train.MemoryEstimator: the two recurrent
// stochastic networks (a Gaussian layer of in → hidden → 2·out for the first
// step and each recurrent one), the critics (MLPs of the critic width and
// depth) and one step's activations for a batch, both phases.
func (k *Kind) MemoryEstimate(cfg train.Config) float64 {
	c := cfg.(*Config)
	x, z, h := float64(c.Model.XDim), float64(c.Model.ZDim), float64(c.Model.Hidden)
	w, d, r := float64(c.Model.CriticWidth), float64(max(c.Model.CriticDepth, 1)), float64(c.Model.RecurrentSteps)
	gauss := func(in, out float64) float64 { return in*h + h + 2*h*out + 2*out }
	params := gauss(x, z) + gauss(z, z) + gauss(z, x) + gauss(x, x)
	critic := func(in float64) float64 { return in*w + (d-1)*w*w + d*w + w + 1 }
	if c.Model.Critic == "global" {
		params += critic(x + z)
	} else {
		params += critic(x) + critic(z)
	}
	// Per sample: each step of each network (hidden, mean, σ, sample), in
	// both phases; each critic layer on data, samples and the penalty's
	// interpolates, with the penalty's second backward pass.
	perSample := 2*(r+1)*(2*h+3*x+3*z) + 6*d*w*2 + 4*(x+z)
	acts := float64(c.BatchSize) * perSample * 2 // the last critic step's phases are kept for the network update
	return train.TrainingBytes(params, acts)
}
