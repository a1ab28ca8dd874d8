package probe

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/eval"
	cifarexp "github.com/wakesleep/wakesleep/experiment/cifar10"
	mnistexp "github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/train"
)

// Subject is one trained model under study.
type Subject struct {
	Name    string // label: the run folder's name
	Path    string // checkpoint file ("" for the initial weights)
	Trainer *mnistexp.Trainer
}

// Info describes a subject for reports.
type Info struct {
	Name       string  `json:"name"`
	Path       string  `json:"checkpoint"`
	Experiment string  `json:"experiment,omitempty"` // "mnist" or "fashionmnist": the set the model learned
	Step       int     `json:"step"`
	Algorithm  string  `json:"algorithm"`
	Gamma      float64 `json:"gamma"`
	Seed       uint64  `json:"seed"`
	BatchSize  int     `json:"batch_size"`
	PixelScale string  `json:"pixel_scale"`
	TrainLimit int     `json:"train_limit,omitempty"` // training images used (0: all 60,000)
	Silenced   []int   `json:"silenced,omitempty"`
	Sham       []int   `json:"sham,omitempty"` // latent units redrawn in the sleep phase (a sham perturbation)
	// SilenceLayer is the layer whose channels Silenced and Sham are, for
	// the hierarchical CIFAR-10 model (0: MNIST's latent units).
	SilenceLayer int `json:"silence_layer,omitempty"`
}

// Info returns the subject's description.
func (s *Subject) Info() Info {
	c := s.Trainer.Config
	return Info{Name: s.Name, Path: s.Path, Experiment: c.Experiment, Step: s.Trainer.Step, Algorithm: c.Model.Critic,
		Gamma: c.Objective.Gamma, Seed: c.Seed, BatchSize: c.BatchSize, PixelScale: c.PixelScale,
		TrainLimit: c.TrainLimit, Silenced: c.Objective.SilenceSleepZ, Sham: c.Objective.ShamSleepZ}
}

// FashionExperiment is the experiment name of a model trained on
// Fashion-MNIST (experiment/fashionmnist), the other arm of the crossed
// novelty design.
const FashionExperiment = "fashionmnist"

// Familiar returns the name of the stimulus condition the model was trained
// on ("mnist", or "fashion" for a Fashion-MNIST run); Novel the other.
func (i Info) Familiar() string {
	if i.Experiment == FashionExperiment {
		return "fashion"
	}
	return "mnist"
}

// Novel returns the name of the condition the model has never seen.
func (i Info) Novel() string {
	if i.Experiment == FashionExperiment {
		return "mnist"
	}
	return "fashion"
}

// mnistTrain and cifarTrain are the numbers of MNIST training digits and
// CIFAR-10 training images.
const (
	mnistTrain = 60000
	cifarTrain = 50000
)

// Epochs returns the training length in passes over the training images
// (all of the model's set, or the run's train limit), counting every image
// seen.
func (i Info) Epochs() float64 {
	n := mnistTrain
	if i.Experiment == cifarexp.Name {
		n = cifarTrain
	}
	if i.TrainLimit > 0 && i.TrainLimit < n {
		n = i.TrainLimit
	}
	return float64(i.Step*i.BatchSize) / float64(n)
}

// Load reads a checkpoint file, or the newest good checkpoint of a run
// folder (a warning about newer corrupt ones goes to warn; nil: discarded).
// The subject is named after the folder holding the checkpoint.
func Load(path string, warn io.Writer) (*Subject, error) {
	if warn == nil {
		warn = io.Discard
	}
	tr, file, err := mnistexp.LoadTrainerWarn(path, warn)
	if err != nil {
		return nil, err
	}
	return &Subject{Name: filepath.Base(filepath.Dir(file)), Path: file, Trainer: tr}, nil
}

// Initial returns the untrained model that a run with config cfg starts
// from (step 0: the weights are a pure function of the seed).
func Initial(name string, cfg mnistexp.Config) (*Subject, error) {
	tr, err := mnistexp.NewTrainer(cfg)
	if err != nil {
		return nil, err
	}
	return &Subject{Name: name, Trainer: tr}, nil
}

// EarlySteps is the training length of the few-step control (Early,
// ControlEarly): an effect that a model shows as strongly after this many
// steps is no product of learning the data's distribution.
const EarlySteps = 3

// Early returns the model that a run with config cfg is after k training
// steps on trainSet (the run's own data order: a pure function of the seed).
func Early(name string, cfg mnistexp.Config, trainSet *mnist.Set, k int) (*Subject, error) {
	tr, err := mnistexp.NewTrainer(cfg)
	if err != nil {
		return nil, err
	}
	for s := 0; s < k; s++ {
		if _, err := tr.TrainStep(tr.Batches(trainSet, s)); err != nil {
			return nil, fmt.Errorf("probe: few-step control %s, step %d: %w", name, s+1, err)
		}
	}
	return &Subject{Name: name, Trainer: tr}, nil
}

// ErrSkip, returned by a loader of a development or plasticity run, leaves
// that model out (e.g. a few-step control of a run that is no longer).
var ErrSkip = errors.New("probe: model left out")

// eachCheckpoint loads the checkpoints of one run of a study ("development",
// "plasticity") in order and calls measure with each one's index in load and
// its subject, passing over those whose loader returns ErrSkip; the first
// other error ends it. A run without checkpoints is an error.
func eachCheckpoint(study string, load []func() (*Subject, error), measure func(i int, s *Subject) error) error {
	if len(load) == 0 {
		return fmt.Errorf("probe: %s needs at least one checkpoint", study)
	}
	for i, f := range load {
		s, err := f()
		if errors.Is(err, ErrSkip) {
			continue
		}
		if err != nil {
			return err
		}
		if err := measure(i, s); err != nil {
			return err
		}
	}
	return nil
}

// CheckpointFile is one "ckpt-<step>.safetensors" file of a folder.
type CheckpointFile struct {
	Path string
	Step int
}

// ErrNoCheckpoints is returned by Checkpoints for a folder without any.
var ErrNoCheckpoints = errors.New("no checkpoints")

// Checkpoints lists the training checkpoints "ckpt-<step>.safetensors" of a
// folder (a run folder, or an archive of one run's checkpoints), by step.
func Checkpoints(dir string) ([]CheckpointFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []CheckpointFile
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), train.CheckpointPrefix+"-")
		if !ok || e.IsDir() {
			continue
		}
		digits, ok := strings.CutSuffix(rest, ".safetensors")
		if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
			continue
		}
		step, err := strconv.Atoi(digits)
		if err != nil {
			continue
		}
		out = append(out, CheckpointFile{filepath.Join(dir, e.Name()), step})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w named %s-<step>.safetensors", dir, ErrNoCheckpoints, train.CheckpointPrefix)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Step < out[j].Step })
	return out, nil
}

// Data are the stimulus sets.
type Data struct {
	Test  *mnist.Set // familiar stimuli: MNIST test digits
	Novel *mnist.Set // novel stimuli: Fashion-MNIST test images
}

// Options configure the studies. The zero value of a field means the
// default given in brackets.
type Options struct {
	N         int       // stimuli per condition, the first N of each test set [1000]
	Batch     int       // rows per forward pass [250]
	Seed      uint64    // model noise, stimulus noise and bootstrap resampling [1]
	Bootstrap int       // bootstrap resamples [1000]
	Level     float64   // confidence level of every interval [0.95]
	Noise     []float64 // graded surprise: pixel noise σ [0, 0.1, 0.2, 0.3, 0.5]
	Angles    []float64 // graded surprise: rotations in degrees [0, 15, 30, 45, 60, 90]

	// Development: wake and sleep samples per checkpoint [10000] and the
	// alignments to measure [4x+2z, then the paper's 8x+8z]; the first is
	// the headline.
	AlignN     int
	Alignments []eval.AlignmentOptions
	// Other is another stimulus set (Fashion-MNIST) for the alignment's
	// specificity control: wake activity on it against sleep [none].
	Other *mnist.Set
	// NoInit leaves out the untrained model (step 0, rebuilt from the
	// config's seed) from the development and plasticity studies.
	NoInit bool

	// Plasticity: batches per checkpoint [8] of GradBatch stimuli [256].
	GradBatches int
	GradBatch   int
	// GradPerms is the number of phase-label permutations per batch of the
	// plasticity null [4].
	GradPerms int

	Log io.Writer // progress lines [none]
}

func (o Options) withDefaults() Options {
	if o.N == 0 {
		o.N = 1000
	}
	if o.Batch == 0 {
		o.Batch = 250
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Bootstrap == 0 {
		o.Bootstrap = 1000
	}
	if o.Level == 0 {
		o.Level = 0.95
	}
	if o.Noise == nil {
		o.Noise = []float64{0, 0.1, 0.2, 0.3, 0.5}
	}
	if o.Angles == nil {
		o.Angles = []float64{0, 15, 30, 45, 60, 90}
	}
	if o.AlignN == 0 {
		o.AlignN = 10000
	}
	if o.Alignments == nil { // the resolved alignment first: the headline
		o.Alignments = []eval.AlignmentOptions{eval.ResolvedAlignmentOptions(), eval.DefaultAlignmentOptions()}
	}
	if o.GradBatches == 0 {
		o.GradBatches = 8
	}
	if o.GradBatch == 0 {
		o.GradBatch = 256
	}
	if o.GradPerms == 0 {
		o.GradPerms = 4
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

// Validate reports an option out of range.
func (o Options) Validate() error {
	o = o.withDefaults()
	switch {
	case o.N < 2 || o.Batch < 1 || o.Bootstrap < 1:
		return fmt.Errorf("probe: n %d must be ≥ 2, batch %d and bootstrap %d positive", o.N, o.Batch, o.Bootstrap)
	case !(o.Level > 0 && o.Level < 1):
		return fmt.Errorf("probe: confidence level %g must be in (0, 1)", o.Level)
	case o.AlignN < 2:
		return fmt.Errorf("probe: alignment samples %d must be ≥ 2", o.AlignN)
	case o.GradBatches < 2 || o.GradBatch < 1:
		return fmt.Errorf("probe: plasticity needs ≥ 2 batches (got %d) of ≥ 1 stimulus (got %d)", o.GradBatches, o.GradBatch)
	}
	for _, s := range o.Noise {
		if !(s >= 0) {
			return fmt.Errorf("probe: noise σ %g must be ≥ 0", s)
		}
	}
	for _, a := range o.Alignments {
		if err := a.Validate(); err != nil {
			return err
		}
	}
	return nil
}
