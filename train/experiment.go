// Package train runs the paper's training for every experiment: one Step of
// the critic and network updates (Trainer.TrainStep), one Run loop around it
// with its run folder (config, metrics, pictures, checkpoints and their
// rotation, resume, Ctrl-C), one strict config codec and one checkpoint
// layout. An experiment (a model bound to its objective, its data, its
// pictures and its flags) plugs in through the Experiment interface; the
// experiments themselves live under experiment/.
package train

import (
	"fmt"
	"image"
	"io"
	"math/rand/v2"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/objective"
	"github.com/wakesleep/wakesleep/optim"
	"github.com/wakesleep/wakesleep/tensor"
)

// Experiment is one experiment: how to build its configuration, its model
// and its data. Optional capabilities (Sampler, Reconstructor, Faker, …) are
// further interfaces an experiment may implement.
type Experiment interface {
	// Name is the "experiment" field of its config.json.
	Name() string
	// Info describes the experiment for the command line.
	Info() Info
	// Presets are the experiment's preset configs; the first is the default.
	Presets() []Preset
	// NewConfig returns an empty config to decode a saved one into.
	NewConfig() Config
	// Flags are the experiment's own command-line flags; the common ones
	// (Settings) are defined once, by the command line.
	Flags() []Flag
	// NewModel builds the model of cfg, initialised from rng.
	NewModel(cfg Config, rng *rand.Rand) (Model, error)
	// Data reads the data a run trains on and its pictures show, from path
	// ("" for the experiment's default); messages go to out.
	Data(path string, out io.Writer) (Data, error)
}

// About names and describes an experiment: embedded, it gives an
// Experiment its Name and Info methods.
type About struct {
	ExperimentName string
	About          Info
}

func (a *About) Name() string { return a.ExperimentName }
func (a *About) Info() Info   { return a.About }

// Base gives an experiment its Name, Info, Presets and NewConfig (a new
// config of type C, which must implement Config through *C).
type Base[C any, PC interface {
	*C
	Config
}] struct {
	About
	PresetList []Preset
}

func (b *Base[C, PC]) Presets() []Preset { return b.PresetList }
func (b *Base[C, PC]) NewConfig() Config { return PC(new(C)) }

// Info describes an experiment for the command line.
type Info struct {
	Summary  string // one line
	Usage    string // the help text of `wakesleep train <name>`
	DataHelp string // what --data takes
	Items    string // what a test item is called in messages ("digits", "images", "sequences")
}

// Config is an experiment's configuration: a struct that embeds Settings,
// saved as config.json in the run folder and inside each checkpoint.
type Config interface {
	// RunSettings returns the settings every experiment shares.
	RunSettings() *Settings
	// ExperimentName is the config's "experiment" field.
	ExperimentName() string
	// Validate checks every field before anything runs.
	Validate() error
}

// Settings are the fields of a run every experiment has. A config embeds it,
// so that its fields stand at the top level of config.json.
type Settings struct {
	Epochs      int    `json:"epochs"`
	BatchSize   int    `json:"batch_size"`
	CriticSteps int    `json:"critic_steps"` // critic updates per network update (open point; 1)
	Seed        uint64 `json:"seed"`

	NetworkAdam optim.AdamConfig `json:"network_adam"`
	CriticAdam  optim.AdamConfig `json:"critic_adam"`
	Schedule    optim.Schedule   `json:"schedule"`

	LogEvery        int `json:"log_every"`        // steps between metric rows
	CheckpointEvery int `json:"checkpoint_every"` // steps between checkpoints (0: each epoch only)
	KeepCheckpoints int `json:"keep_checkpoints"` // checkpoints kept in the run folder
}

// RunSettings returns s: a config that embeds Settings implements
// Config.RunSettings through it.
func (s *Settings) RunSettings() *Settings { return s }

// Upper bounds of the shared settings, so that no product of them (a step's
// images: batch size × critic steps; a run's steps: epochs × steps an
// epoch) can overflow an int, and no corrupt config can ask for an absurd
// allocation.
const (
	MaxEpochs      = 1 << 24
	MaxBatchSize   = 1 << 20
	MaxCriticSteps = 1 << 10
	MaxEvery       = 1 << 40 // log_every, checkpoint_every
	MaxKeep        = 1 << 20
)

// Validate checks the shared settings.
func (s *Settings) Validate() error {
	if err := s.NetworkAdam.Validate(); err != nil {
		return fmt.Errorf("network optimizer: %w", err)
	}
	if err := s.CriticAdam.Validate(); err != nil {
		return fmt.Errorf("critic optimizer: %w", err)
	}
	switch {
	case s.Epochs <= 0:
		return fmt.Errorf("epochs %d must be positive", s.Epochs)
	case s.BatchSize <= 0:
		return fmt.Errorf("batch size %d must be positive", s.BatchSize)
	case s.CriticSteps <= 0:
		return fmt.Errorf("critic steps %d must be positive", s.CriticSteps)
	case s.LogEvery <= 0:
		return fmt.Errorf("log every %d must be positive", s.LogEvery)
	case s.CheckpointEvery < 0:
		return fmt.Errorf("checkpoint every %d must be ≥ 0", s.CheckpointEvery)
	case s.KeepCheckpoints < 1:
		return fmt.Errorf("keep checkpoints %d must be ≥ 1", s.KeepCheckpoints)
	case s.Epochs > MaxEpochs:
		return fmt.Errorf("epochs %d exceeds %d", s.Epochs, MaxEpochs)
	case s.BatchSize > MaxBatchSize:
		return fmt.Errorf("batch size %d exceeds %d", s.BatchSize, MaxBatchSize)
	case s.CriticSteps > MaxCriticSteps:
		return fmt.Errorf("critic steps %d exceeds %d", s.CriticSteps, MaxCriticSteps)
	case s.LogEvery > MaxEvery || s.CheckpointEvery > MaxEvery:
		return fmt.Errorf("log every %d and checkpoint every %d must be ≤ %d", s.LogEvery, s.CheckpointEvery, int64(MaxEvery))
	case s.KeepCheckpoints > MaxKeep:
		return fmt.Errorf("keep checkpoints %d exceeds %d", s.KeepCheckpoints, MaxKeep)
	}
	return nil
}

// PaperAdam returns the optimizers of every experiment of the paper (A.1.2):
// Adam with β = (0.5, 0.99) and weight decay 2e-5; learning rate 1e-4 for
// the networks and 4e-4 for the critics.
func PaperAdam() (network, critic optim.AdamConfig) {
	network = optim.AdamConfig{LearningRate: 1e-4, Beta1: 0.5, Beta2: 0.99, Eps: 1e-8, WeightDecay: 2e-5}
	critic = network
	critic.LearningRate = 4e-4
	return network, critic
}

// Model is an experiment's model bound to its objective: what the trainer
// updates and checkpoints.
type Model interface {
	// Parameters are every trained tensor, saved as "model.<name>".
	Parameters() []*nn.Parameter
	// NetworkParameters are those of inference and generation (minimised).
	NetworkParameters() []*nn.Parameter
	// CriticParameters are those of the critics (maximised).
	CriticParameters() []*nn.Parameter
	// Buffers are state that is not trained by gradients (batch-norm
	// statistics), saved as "buffer.<name>"; nil for none.
	Buffers() []*nn.Buffer
	// Phases runs the wake, sleep and top-down phases on one batch (the
	// tensors of one batch: an image batch, or a sequence's frames).
	Phases(batch []*tensor.Tensor, rng *rand.Rand) Phases
}

// Phases are one batch's recorded phases; both losses read them.
type Phases interface {
	// CriticLoss is the critics' loss (to minimise: the negated objective)
	// with its terms, for logging.
	CriticLoss(rng *rand.Rand) (*ad.Var, objective.Terms)
	// NetworkLoss is the loss of inference and generation against the
	// (updated) critics.
	NetworkLoss() (*ad.Var, objective.Terms)
}

// Data is an experiment's data, read before a run's config is known.
type Data interface {
	// Feed binds the data to a trainer, or says why they do not fit its
	// model or its config (too few images for a batch, the wrong size).
	Feed(tr *Trainer) (Feed, error)
}

// Feed gives a trainer its batches and draws its pictures.
type Feed interface {
	// StepsPerEpoch is the number of training steps in an epoch (≥ 1).
	StepsPerEpoch() int
	// Batches returns the CriticSteps batches of global step s (0-based): a
	// pure function of the run's seed and s, so that a resumed run sees the
	// same batches.
	Batches(s int) [][]*tensor.Tensor
	// Pictures names the files the run writes at m (none: nothing is due).
	Pictures(m Moment) []string
	// WritePictures writes them into dir.
	WritePictures(dir string, m Moment) error
}

// Moment is when pictures may be due: after step Step, in (1-based) epoch
// Epoch, at the end of an epoch and/or the run's last step.
type Moment struct {
	Step, Epoch    int
	EpochEnd, Last bool
}

// Flag is an experiment's command-line flag: Set applies a value to a
// config. Type is how the command line parses it: "int", "uint", "float",
// "bool" or "string". A Preset flag is not applied but passed to
// Experiment.Preset; a Resumable one may be given when a run is resumed
// (the saved config rules otherwise).
type Flag struct {
	Name, Usage, Type string
	Preset            bool
	Resumable         bool
	Set               func(cfg Config, value string) error
}

// Tester is implemented by experiments the reliability suite covers: a
// config that trains in a fraction of a second a step, and synthetic data
// for it that give a few steps an epoch.
type Tester interface {
	TinyConfig() Config
	FakeData() Data
}

// Describer is an experiment whose checkpoints describe their model for
// readers in other frameworks (interop/wakesleep_torch.py): what a reader
// needs to rebuild the networks from the tensors, beyond their names and
// shapes (activations, how each Gaussian unit's output splits into mean and
// standard deviation, merge rules, the pixel scale), as JSON-encodable
// values. Checkpoints carry it as the metadata "wakesleep.architecture".
type Describer interface {
	Describe(tr *Trainer) (map[string]any, error)
}

// Sampler is an experiment whose runs `wakesleep sample` draws from: n sleep
// samples (top-down from the prior) as a picture, with noise seeded by the
// run's seed.
type Sampler interface {
	Sample(tr *Trainer, n int) (image.Image, error)
}

// MeanSampler is a Sampler that can also draw its samples without the
// networks' noise (every Gaussian unit at its mean; the top-level latent
// still drawn from the prior): `wakesleep sample --means`.
type MeanSampler interface {
	SampleMeans(tr *Trainer, n int) (image.Image, error)
}

// MeanReconstructor is a Reconstructor that can also reconstruct without the
// networks' noise: `wakesleep reconstruct --means`.
type MeanReconstructor interface {
	ReconstructMeans(tr *Trainer, data Data, n int) (image.Image, error)
}

// Reconstructor is an experiment whose runs `wakesleep reconstruct` shows:
// the first n test items of data (read by Experiment.Data) beside their
// reconstructions. depth selects a layer of a hierarchy to go up to (0:
// every depth the model has; experiments without a hierarchy take only 0
// and 1). TestItems is how many test items data hold.
type Reconstructor interface {
	Reconstruct(tr *Trainer, data Data, n, depth int) (image.Image, error)
	TestItems(data Data) int
}
