package movingmnist

import (
	"fmt"
	"math/rand/v2"

	"github.com/wakesleep/wakesleep/data/movingmnist"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/objective"
	"github.com/wakesleep/wakesleep/optim"
	"github.com/wakesleep/wakesleep/train"
)

// Config is everything that defines a Moving MNIST run (Sec. 5.3, Appendix
// A.1.5). It is saved as config.json in the run folder; resuming reads it
// back from there.
type Config struct {
	Experiment string                  `json:"experiment"` // "movingmnist"
	Model      model.MovingMNISTConfig `json:"model"`
	Objective  objective.VideoSettings `json:"objective"`
	Data       movingmnist.Config      `json:"data"`

	train.Settings

	// SequencesPerEpoch defines an epoch: sequences are generated afresh, so
	// the data set is infinite (open point: 10,000, the size of Srivastava et
	// al.'s test file and the usual epoch).
	SequencesPerEpoch int `json:"sequences_per_epoch"`
	// TrainPool, if positive, cycles through only that many distinct training
	// sequences (a small fixed training set); 0 draws a new sequence every time.
	TrainPool    int `json:"train_pool"`
	PictureEvery int `json:"picture_every"` // steps between prediction strips (0: each epoch only)
	PictureCount int `json:"picture_count"` // test sequences in each strip
	// Deterministic trains the baseline of the evaluation instead of the
	// paper's model: the same networks with every Gaussian unit at its mean
	// (no noise, z_0 = 0), trained on the pixel MSE of the predicted frames
	// alone (no critics, no sleep phase).
	Deterministic bool `json:"deterministic,omitempty"`
}

// Noise returns rng, or nil for a deterministic run (every unit at its mean).
func (c *Config) Noise(rng *rand.Rand) *rand.Rand {
	if c.Deterministic {
		return nil
	}
	return rng
}

// ExperimentName implements train.Config.
func (c *Config) ExperimentName() string { return c.Experiment }

// PaperConfig returns the paper's setting (Sec. 5.3, A.1.2, A.1.5): the
// default model and objective (γ = 0.5, 10 warm-up and 10 predicted frames,
// 10 sleep steps), batch 32, Adam as for every experiment, 400 epochs with
// the learning-rate decay between epochs 200 and 250.
func PaperConfig() Config {
	net, crit := train.PaperAdam()
	return Config{
		Experiment: Name,
		Model:      model.DefaultMovingMNISTConfig(),
		Objective:  objective.DefaultVideoSettings(),
		Data:       movingmnist.DefaultConfig(),
		Settings: train.Settings{
			Epochs: 400, BatchSize: 32, CriticSteps: 1, Seed: 1,
			NetworkAdam: net, CriticAdam: crit,
			Schedule: optim.Schedule{Factor: 0.96, Start: 200, End: 250},
			LogEvery: 10, KeepCheckpoints: 3,
		},
		SequencesPerEpoch: 10000,
		PictureCount:      4,
	}
}

// QuickConfig is a CPU-sized run of the paper's model and objective: 3×3
// ConvLSTM kernels, 16-channel critics, batch 8, 20 epochs of 400
// sequences, no decay.
func QuickConfig() Config {
	c := PaperConfig()
	c.Model.Kernel = 3
	c.Model.CriticChannels = 16
	c.BatchSize = 8
	c.Epochs = 20
	c.SequencesPerEpoch = 400
	c.Schedule = optim.Schedule{Factor: 1}
	c.LogEvery = 5
	return c
}

// Validate checks every field before anything runs.
func (c *Config) Validate() error {
	if err := c.Model.Validate(); err != nil {
		return err
	}
	if c.Data.FrameSize != c.Model.FrameSize {
		return fmt.Errorf("data frame size %d differs from the model's %d", c.Data.FrameSize, c.Model.FrameSize)
	}
	if err := c.Data.Validate(1); err != nil {
		return err
	}
	if err := c.Objective.Validate(c.Data.Frames); err != nil {
		return err
	}
	if err := c.Settings.Validate(); err != nil {
		return err
	}
	switch {
	case c.BatchSize < 2:
		return fmt.Errorf("batch size %d must be at least 2 (batch norm)", c.BatchSize)
	case c.SequencesPerEpoch < c.BatchSize*c.CriticSteps:
		return fmt.Errorf("sequences per epoch %d must be at least batch size %d × critic steps %d", c.SequencesPerEpoch, c.BatchSize, c.CriticSteps)
	case c.TrainPool < 0:
		return fmt.Errorf("train pool %d must be ≥ 0", c.TrainPool)
	case c.PictureEvery < 0:
		return fmt.Errorf("picture every %d must be ≥ 0", c.PictureEvery)
	case c.PictureCount < 0 || c.PictureCount > 64:
		return fmt.Errorf("picture count %d must be in 0..64 (as predict --n)", c.PictureCount)
	}
	return nil
}

// StepsPerEpoch returns the training steps of one epoch.
func (c *Config) StepsPerEpoch() int {
	return c.SequencesPerEpoch / (c.BatchSize * c.CriticSteps)
}
