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
// with a short schedule that finishes in minutes on a laptop CPU.
func QuickConfig(critic string) Config {
	c := PaperConfig(critic)
	c.Epochs = 6
	c.BatchSize = 128
	c.Schedule = optim.Schedule{Factor: 1}
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
	return nil
}
