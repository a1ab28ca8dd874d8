// Package train runs the paper's training: one Step of the critic and network
// updates, the Loop around it with its run folder (metrics, image grids,
// checkpoints, resume), and the learning-rate schedule.
package train

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/wakesleep/wakesleep/internal/atomicfile"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/objective"
	"github.com/wakesleep/wakesleep/optim"
)

// Config is everything that defines a run. It is saved as config.json in the
// run folder; resuming reads it back from there.
type Config struct {
	Experiment string             `json:"experiment"` // "mnist"
	Model      model.MNISTConfig  `json:"model"`
	Objective  objective.Settings `json:"objective"`

	Epochs      int    `json:"epochs"`
	BatchSize   int    `json:"batch_size"`
	CriticSteps int    `json:"critic_steps"` // critic updates per network update (open point; 1)
	Seed        uint64 `json:"seed"`
	PixelScale  string `json:"pixel_scale"` // "unit" ([0,1]) or "sym" ([−1,1]); open point
	TrainLimit  int    `json:"train_limit"` // use only the first N training images (0: all)

	NetworkAdam optim.AdamConfig `json:"network_adam"`
	CriticAdam  optim.AdamConfig `json:"critic_adam"`
	Schedule    optim.Schedule   `json:"schedule"`

	LogEvery        int `json:"log_every"`        // steps between metric rows
	CheckpointEvery int `json:"checkpoint_every"` // steps between checkpoints (0: each epoch only)
	KeepCheckpoints int `json:"keep_checkpoints"` // checkpoints kept in the run folder
}

// PaperConfig returns the hyperparameters of the paper (Sec. 5.1, A.1.2–3)
// for the MNIST experiment with the given critic kind: global with γ = 1
// (Fig. 3B) or local with γ = 0.1 (Fig. 3C); 400 epochs of batch 512.
func PaperConfig(critic string) Config {
	gamma := 1.0
	if critic == model.CriticLocal {
		gamma = 0.1
	}
	return Config{
		Experiment:  "mnist",
		Model:       model.DefaultMNISTConfig(critic),
		Objective:   objective.Settings{Gamma: gamma, Lambda: 1, ReconWeight: 1},
		Epochs:      400,
		BatchSize:   512,
		CriticSteps: 1,
		Seed:        1,
		PixelScale:  "unit",
		NetworkAdam: optim.AdamConfig{LearningRate: 1e-4, Beta1: 0.5, Beta2: 0.99, Eps: 1e-8, WeightDecay: 2e-5},
		CriticAdam:  optim.AdamConfig{LearningRate: 4e-4, Beta1: 0.5, Beta2: 0.99, Eps: 1e-8, WeightDecay: 2e-5},
		Schedule:    optim.Schedule{Factor: 0.96, Start: 200, End: 250},
		LogEvery:    10, CheckpointEvery: 0, KeepCheckpoints: 3,
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
//     encoder satisfies by raising its σ until z is mostly noise, wins.
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
func (c Config) Validate() error {
	if c.Experiment != "mnist" {
		return fmt.Errorf("unknown experiment %q (available: mnist)", c.Experiment)
	}
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
	if err := c.NetworkAdam.Validate(); err != nil {
		return fmt.Errorf("network optimizer: %w", err)
	}
	if err := c.CriticAdam.Validate(); err != nil {
		return fmt.Errorf("critic optimizer: %w", err)
	}
	switch {
	case c.Epochs <= 0:
		return fmt.Errorf("epochs %d must be positive", c.Epochs)
	case c.BatchSize <= 0:
		return fmt.Errorf("batch size %d must be positive", c.BatchSize)
	case c.CriticSteps <= 0:
		return fmt.Errorf("critic steps %d must be positive", c.CriticSteps)
	case c.PixelScale != "unit" && c.PixelScale != "sym":
		return fmt.Errorf("pixel scale %q must be \"unit\" or \"sym\"", c.PixelScale)
	case c.TrainLimit < 0:
		return fmt.Errorf("train limit %d must be ≥ 0", c.TrainLimit)
	case c.LogEvery <= 0:
		return fmt.Errorf("log every %d must be positive", c.LogEvery)
	case c.CheckpointEvery < 0:
		return fmt.Errorf("checkpoint every %d must be ≥ 0", c.CheckpointEvery)
	case c.KeepCheckpoints < 1:
		return fmt.Errorf("keep checkpoints %d must be ≥ 1", c.KeepCheckpoints)
	}
	return nil
}

// SaveConfig writes c as indented JSON, atomically (temporary file, fsync,
// rename), so that a crash leaves the old file or the new one.
func SaveConfig(path string, c Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}

// LoadConfig reads a config.json, rejecting unknown fields.
func LoadConfig(path string) (Config, error) {
	var c Config
	f, err := os.Open(path)
	if err != nil {
		return c, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("read config %q: %w", path, err)
	}
	if dec.More() {
		return c, fmt.Errorf("read config %q: trailing data after the JSON object", path)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("config %q: %w", path, err)
	}
	return c, nil
}
