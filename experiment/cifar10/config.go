package cifar10

import (
	"fmt"
	"math"

	cifardata "github.com/wakesleep/wakesleep/data/cifar10"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/objective"
	"github.com/wakesleep/wakesleep/optim"
	"github.com/wakesleep/wakesleep/train"
)

// Config is everything that defines a CIFAR-10 run; saved as config.json in
// the run folder and inside each checkpoint.
type Config struct {
	Experiment string              `json:"experiment"` // "cifar10"
	Model      model.CIFAR10Config `json:"model"`
	Objective  objective.Settings  `json:"objective"`

	train.Settings

	PixelScale   string `json:"pixel_scale"`   // "sym" ([−1,1], DCGAN's) or "unit" ([0,1])
	TrainLimit   int    `json:"train_limit"`   // use only N training images, evenly spaced over the set (0: all)
	PictureEvery int    `json:"picture_every"` // steps between picture grids (0: each epoch only)
}

// ExperimentName implements train.Config.
func (c *Config) ExperimentName() string { return c.Experiment }

// PaperConfig returns the paper's run (Sec. 5.2, A.1.2, A.1.4): the model of
// Fig. 4, Eq. 8 with γ = 0.5 and λ = 1, the paper's Adam, 400 epochs of
// batch 512, the rates × 0.96 per epoch from epoch 200 to 250.
func PaperConfig() Config {
	net, crit := train.PaperAdam()
	return Config{
		Experiment: Name,
		Model:      model.DefaultCIFAR10Config(),
		Objective:  objective.Settings{Gamma: 0.5, Lambda: 1, ReconWeight: 1},
		Settings: train.Settings{
			Epochs: 400, BatchSize: 512, CriticSteps: 1, Seed: 1,
			NetworkAdam: net, CriticAdam: crit,
			Schedule: optim.Schedule{Factor: 0.96, Start: 200, End: 250},
			LogEvery: 10, KeepCheckpoints: 3,
		},
		PixelScale: cifardata.ScaleSym,
	}
}

// QuickConfig is a run a CPU finishes in about an hour: the paper's model
// and objective on the first 5,000 training images, batch 64, 5 epochs, no
// decay.
func QuickConfig() Config {
	c := PaperConfig()
	c.Epochs = 5
	c.BatchSize = 64
	c.TrainLimit = 5000
	c.Schedule = optim.Schedule{Factor: 1}
	return c
}

// Validate checks every field before anything runs.
func (c *Config) Validate() error {
	if err := c.Model.Validate(); err != nil {
		return err
	}
	if c.Model.ImageChannels != cifardata.Channels || c.Model.ImageSize != cifardata.Size {
		return fmt.Errorf("model: images of %d channels, %d×%d, but CIFAR-10 images are %d×%d×%d",
			c.Model.ImageChannels, c.Model.ImageSize, c.Model.ImageSize, cifardata.Channels, cifardata.Size, cifardata.Size)
	}
	if err := c.Objective.Validate(); err != nil {
		return err
	}
	if err := c.Objective.ValidateHier(c.Model.Layers(), c.Model.LayerChannels); err != nil {
		return err
	}
	for _, w := range []float64{c.Objective.Gamma, c.Objective.Lambda, c.Objective.ReconWeight} {
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return fmt.Errorf("objective: gamma %g, lambda %g and recon weight %g must be finite", c.Objective.Gamma, c.Objective.Lambda, c.Objective.ReconWeight)
		}
	}
	if err := c.Settings.Validate(); err != nil {
		return err
	}
	if err := cifardata.ValidateScale(c.PixelScale); err != nil {
		return err
	}
	switch {
	case c.TrainLimit < 0:
		return fmt.Errorf("train limit %d must be ≥ 0", c.TrainLimit)
	case c.PictureEvery < 0:
		return fmt.Errorf("picture every %d must be ≥ 0", c.PictureEvery)
	}
	return nil
}
