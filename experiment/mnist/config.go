package mnist

import (
	"fmt"
	"math"

	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/objective"
	"github.com/wakesleep/wakesleep/optim"
	"github.com/wakesleep/wakesleep/train"
)

// Config is everything that defines a run. It is saved as config.json in the
// run folder; resuming reads it back from there.
type Config struct {
	Experiment string             `json:"experiment"` // "mnist" (or "fashionmnist": the same model on Fashion-MNIST)
	Model      model.MNISTConfig  `json:"model"`
	Objective  objective.Settings `json:"objective"`

	// Epochs, batch size, critic steps, seed, optimizers, schedule, logging
	// and checkpointing: the settings every experiment shares.
	train.Settings

	PixelScale string `json:"pixel_scale"` // "unit" ([0,1]) or "sym" ([−1,1]); open point
	TrainLimit int    `json:"train_limit"` // use only the first N training images (0: all)
	// Pictures chooses the epoch grids: "samples", "means" (noise-free) or
	// "both" ("": both). It changes no training, so a resumed run may change it.
	Pictures string `json:"pictures,omitempty"`
}

// ExperimentName implements train.Config.
func (c *Config) ExperimentName() string { return c.Experiment }

// PaperConfig returns the hyperparameters of the paper (Sec. 5.1, A.1.2–3)
// for the MNIST experiment with the given critic kind: global with γ = 1
// (Fig. 3B) or local with γ = 0.1 (Fig. 3C); 400 epochs of batch 512.
func PaperConfig(critic string) Config {
	gamma := 1.0
	if critic == model.CriticLocal {
		gamma = 0.1
	}
	net, crit := train.PaperAdam()
	return Config{
		Experiment: Name,
		Model:      model.DefaultMNISTConfig(critic),
		Objective:  objective.Settings{Gamma: gamma, Lambda: 1, ReconWeight: 1},
		Settings: train.Settings{
			Epochs:      400,
			BatchSize:   512,
			CriticSteps: 1,
			Seed:        1,
			NetworkAdam: net,
			CriticAdam:  crit,
			Schedule:    optim.Schedule{Factor: 0.96, Start: 200, End: 250},
			LogEvery:    10, CheckpointEvery: 0, KeepCheckpoints: 3,
		},
		PixelScale: "unit",
	}
}

// QuickConfig is the README's default run: the paper's model and objective
// with the recipe of the MNIST recipe study (results/mnist/), which shows the
// paper's findings within minutes on a laptop CPU. Each deviation from
// PaperConfig is a flag and a line of the README's open-points table:
//
//   - 6 epochs of batch 128 (2,808 steps), no learning-rate decay;
//   - Adam learning rate 1e-3 for networks and critics, β2 = 0.9 (the paper:
//     1e-4 and 4e-4, β2 = 0.99): the paper's rates move a weight at most
//     about 1e-4 a step, too slow to find the digits in a few thousand steps;
//   - initial σ of every Gaussian unit 0.05 (the paper gives no init;
//     PyTorch's gives σ ≈ 0.69, pixel noise that drowns the digits);
//   - local critics: L_RECON over every hidden layer of the critic with
//     weight 100 (the paper: weight 1, layer open): the last layer of a
//     critic trained to tell real from generated keeps little of the
//     digit's identity, and at weight 1 the z critic's term, which the
//     encoder satisfies by raising its σ until z is mostly noise, wins;
//   - global critic: 3 critic steps per network step (the paper gives none)
//     and every σ bounded by 0.1 (σ = 0.1·sigmoid(s), the open point of how
//     σ is kept positive): under the Lipschitz-bounded critic, pixel noise
//     is nearly invisible and grows until it blurs every sample.
func QuickConfig(critic string) Config {
	c := PaperConfig(critic)
	c.Epochs = 6
	c.BatchSize = 128
	c.Schedule = optim.Schedule{Factor: 1}
	c.Model.InitStd = 0.05
	for _, a := range []*optim.AdamConfig{&c.NetworkAdam, &c.CriticAdam} {
		a.LearningRate, a.Beta2 = 1e-3, 0.9
	}
	if critic == model.CriticLocal {
		c.Objective.ReconLayers = objective.ReconAll
		c.Objective.ReconWeight = 100
	} else {
		c.CriticSteps = 3
		c.Model.MaxStd = 0.1
	}
	return c
}

// Limits checked by Validate.
const (
	mnistPixels = 28 * 28
	maxWidth    = 8192 // z_dim, hidden, critic_width
	maxDepth    = 64   // critic_depth, recurrent_steps
)

// Validate checks every field before anything runs.
func (c *Config) Validate() error {
	if err := c.Model.Validate(); err != nil {
		return err
	}
	if c.Model.XDim != mnistPixels {
		return fmt.Errorf("model: x_dim %d, but MNIST digits have %d pixels", c.Model.XDim, mnistPixels)
	}
	// Sanity bounds, so that a corrupt config cannot ask for an absurd
	// allocation (the paper's model is 512 wide, 3 critic layers, 1 step).
	for _, d := range []struct {
		name string
		v    int
	}{{"z_dim", c.Model.ZDim}, {"hidden", c.Model.Hidden}, {"critic_width", c.Model.CriticWidth}} {
		if d.v > maxWidth {
			return fmt.Errorf("model: %s %d exceeds %d", d.name, d.v, maxWidth)
		}
	}
	if c.Model.CriticDepth > maxDepth || c.Model.RecurrentSteps > maxDepth {
		return fmt.Errorf("model: critic depth %d and recurrent steps %d must be ≤ %d", c.Model.CriticDepth, c.Model.RecurrentSteps, maxDepth)
	}
	if err := c.Objective.Validate(); err != nil {
		return err
	}
	if err := c.Objective.ValidateFlat(); err != nil {
		return err
	}
	// objective.Settings.Validate lets NaN through (every comparison with
	// NaN is false); so would the checks above for ±Inf weights.
	for _, w := range []float64{c.Objective.Gamma, c.Objective.Lambda, c.Objective.ReconWeight} {
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return fmt.Errorf("objective: gamma %g, lambda %g and recon weight %g must be finite", c.Objective.Gamma, c.Objective.Lambda, c.Objective.ReconWeight)
		}
	}
	if c.Model.Critic == model.CriticGlobal && c.Objective.Gamma != 1 {
		return fmt.Errorf("the global critic trains with Eq. 4 alone: gamma must be 1, got %g", c.Objective.Gamma)
	}
	if err := c.Settings.Validate(); err != nil {
		return err
	}
	switch {
	case c.PixelScale != "unit" && c.PixelScale != "sym":
		return fmt.Errorf("pixel scale %q must be \"unit\" or \"sym\"", c.PixelScale)
	case c.TrainLimit < 0:
		return fmt.Errorf("train limit %d must be ≥ 0", c.TrainLimit)
	}
	if err := validatePictures(c.Pictures); err != nil {
		return err
	}
	return nil
}
