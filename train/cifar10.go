package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/data/cifar10"
	"github.com/wakesleep/wakesleep/internal/atomicfile"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/objective"
	"github.com/wakesleep/wakesleep/optim"
	"github.com/wakesleep/wakesleep/tensor"
)

// This file trains the CIFAR-10 experiment (Sec. 5.2, Fig. 4): the
// hierarchical model of model.CIFAR10 towards Eq. 8 on all six layers with
// γ = 0.5 (objective.CIFAR10CriticLoss, CIFAR10NetworkLoss). Its trainer,
// checkpoints and run folder mirror the MNIST ones (Trainer, Run); a
// CIFAR-10 run folder holds config.json with "experiment": "cifar10".

// ExperimentCIFAR10 is the Experiment of a CIFAR-10 run.
const ExperimentCIFAR10 = "cifar10"

// CIFAR10Config is everything that defines a CIFAR-10 run; saved as
// config.json in the run folder and inside each checkpoint.
type CIFAR10Config struct {
	Experiment string              `json:"experiment"` // "cifar10"
	Model      model.CIFAR10Config `json:"model"`
	Objective  objective.Settings  `json:"objective"`

	Epochs      int    `json:"epochs"`
	BatchSize   int    `json:"batch_size"`
	CriticSteps int    `json:"critic_steps"` // critic updates per network update (open point; 1)
	Seed        uint64 `json:"seed"`
	PixelScale  string `json:"pixel_scale"` // "sym" ([−1,1], DCGAN's) or "unit" ([0,1])
	TrainLimit  int    `json:"train_limit"` // use only the first N training images (0: all)

	NetworkAdam optim.AdamConfig `json:"network_adam"`
	CriticAdam  optim.AdamConfig `json:"critic_adam"`
	Schedule    optim.Schedule   `json:"schedule"`

	LogEvery        int `json:"log_every"`        // steps between metric rows
	CheckpointEvery int `json:"checkpoint_every"` // steps between checkpoints (0: each epoch only)
	PictureEvery    int `json:"picture_every"`    // steps between picture grids (0: each epoch only)
	KeepCheckpoints int `json:"keep_checkpoints"` // checkpoints kept in the run folder
}

// PaperCIFAR10Config returns the paper's run (Sec. 5.2, A.1.2, A.1.4): the
// model of Fig. 4, Eq. 8 with γ = 0.5 and λ = 1, Adam (β = 0.5, 0.99, weight
// decay 2e-5; 1e-4 for the networks, 4e-4 for the critics), 400 epochs of
// batch 512, the rates × 0.96 per epoch from epoch 200 to 250.
func PaperCIFAR10Config() CIFAR10Config {
	return CIFAR10Config{
		Experiment:  ExperimentCIFAR10,
		Model:       model.DefaultCIFAR10Config(),
		Objective:   objective.Settings{Gamma: 0.5, Lambda: 1, ReconWeight: 1},
		Epochs:      400,
		BatchSize:   512,
		CriticSteps: 1,
		Seed:        1,
		PixelScale:  cifar10.ScaleSym,
		NetworkAdam: optim.AdamConfig{LearningRate: 1e-4, Beta1: 0.5, Beta2: 0.99, Eps: 1e-8, WeightDecay: 2e-5},
		CriticAdam:  optim.AdamConfig{LearningRate: 4e-4, Beta1: 0.5, Beta2: 0.99, Eps: 1e-8, WeightDecay: 2e-5},
		Schedule:    optim.Schedule{Factor: 0.96, Start: 200, End: 250},
		LogEvery:    10, KeepCheckpoints: 3,
	}
}

// QuickCIFAR10Config is a run a CPU finishes in about an hour: the paper's
// model and objective on the first 5,000 training images, batch 64, 5
// epochs, no decay.
func QuickCIFAR10Config() CIFAR10Config {
	c := PaperCIFAR10Config()
	c.Epochs = 5
	c.BatchSize = 64
	c.TrainLimit = 5000
	c.Schedule = optim.Schedule{Factor: 1}
	return c
}

// Validate checks every field before anything runs.
func (c CIFAR10Config) Validate() error {
	if c.Experiment != ExperimentCIFAR10 {
		return fmt.Errorf("experiment %q is not %q", c.Experiment, ExperimentCIFAR10)
	}
	if err := c.Model.Validate(); err != nil {
		return err
	}
	if c.Model.ImageChannels != cifar10.Channels || c.Model.ImageSize != cifar10.Size {
		return fmt.Errorf("model: images of %d channels, %d×%d, but CIFAR-10 images are %d×%d×%d",
			c.Model.ImageChannels, c.Model.ImageSize, c.Model.ImageSize, cifar10.Channels, cifar10.Size, cifar10.Size)
	}
	if err := c.Objective.Validate(); err != nil {
		return err
	}
	for _, w := range []float64{c.Objective.Gamma, c.Objective.Lambda, c.Objective.ReconWeight} {
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return fmt.Errorf("objective: gamma %g, lambda %g and recon weight %g must be finite", c.Objective.Gamma, c.Objective.Lambda, c.Objective.ReconWeight)
		}
	}
	if err := c.NetworkAdam.Validate(); err != nil {
		return fmt.Errorf("network optimizer: %w", err)
	}
	if err := c.CriticAdam.Validate(); err != nil {
		return fmt.Errorf("critic optimizer: %w", err)
	}
	if err := cifar10.ValidateScale(c.PixelScale); err != nil {
		return err
	}
	switch {
	case c.Epochs <= 0:
		return fmt.Errorf("epochs %d must be positive", c.Epochs)
	case c.BatchSize <= 0:
		return fmt.Errorf("batch size %d must be positive", c.BatchSize)
	case c.CriticSteps <= 0:
		return fmt.Errorf("critic steps %d must be positive", c.CriticSteps)
	case c.TrainLimit < 0:
		return fmt.Errorf("train limit %d must be ≥ 0", c.TrainLimit)
	case c.LogEvery <= 0:
		return fmt.Errorf("log every %d must be positive", c.LogEvery)
	case c.CheckpointEvery < 0 || c.PictureEvery < 0:
		return fmt.Errorf("checkpoint every %d and picture every %d must be ≥ 0", c.CheckpointEvery, c.PictureEvery)
	case c.KeepCheckpoints < 1:
		return fmt.Errorf("keep checkpoints %d must be ≥ 1", c.KeepCheckpoints)
	}
	return nil
}

// SaveCIFAR10Config writes c as indented JSON, atomically.
func SaveCIFAR10Config(path string, c CIFAR10Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}

// LoadCIFAR10Config reads a CIFAR-10 config.json, rejecting unknown fields.
func LoadCIFAR10Config(path string) (CIFAR10Config, error) {
	var c CIFAR10Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := decodeStrict(b, &c); err != nil {
		return c, fmt.Errorf("read config %q: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("config %q: %w", path, err)
	}
	return c, nil
}

// decodeStrict decodes one JSON object into v, rejecting unknown fields and
// trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON object")
	}
	return nil
}

// experimentOf returns the "experiment" field of a config.json.
func experimentOf(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var e struct {
		Experiment string `json:"experiment"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return "", fmt.Errorf("read config %q: %w", path, err)
	}
	return e.Experiment, nil
}

// CIFAR10Trainer holds the CIFAR-10 model, its two optimizers and the random
// state, and takes training steps. Everything needed to continue
// bit-identically is in it. See also Trainer.
type CIFAR10Trainer struct {
	Config  CIFAR10Config
	Model   *model.CIFAR10
	Network *optim.Adam // inference and generation (φ, θ): minimise
	Critic  *optim.Adam // the six critics: maximise
	Step    int         // completed steps
	src     *rand.PCG   // the training noise stream (sampling, GP interpolation)
	rng     *rand.Rand
}

// NewCIFAR10Trainer builds the model from cfg.Seed and fresh optimizers.
func NewCIFAR10Trainer(cfg CIFAR10Config) (*CIFAR10Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := model.NewCIFAR10(cfg.Model, tensor.Float32, rand.New(rand.NewPCG(cfg.Seed, 0x1417)))
	if err != nil {
		return nil, err
	}
	src := rand.NewPCG(cfg.Seed, 0x5eed)
	return &CIFAR10Trainer{
		Config:  cfg,
		Model:   m,
		Network: optim.NewAdam(cfg.NetworkAdam, m.NetworkParameters()),
		Critic:  optim.NewAdam(cfg.CriticAdam, m.CriticParameters()),
		src:     src,
		rng:     rand.New(src),
	}, nil
}

// SetEpochRates applies the learning-rate schedule for (0-based) epoch e.
func (t *CIFAR10Trainer) SetEpochRates(e int) {
	t.Network.SetLearningRate(t.Config.Schedule.Rate(t.Config.NetworkAdam.LearningRate, e))
	t.Critic.SetLearningRate(t.Config.Schedule.Rate(t.Config.CriticAdam.LearningRate, e))
}

// TrainStep takes one training step on image batches [B, 3, 32, 32]:
// CriticSteps critic updates (one per batch in xs, the last batch shared
// with the network update), then one update of inference and generation
// against the updated critics. As Trainer.TrainStep, a non-finite loss or
// gradient leaves the parameters untouched and returns a *NumericError.
func (t *CIFAR10Trainer) TrainStep(xs []*tensor.Tensor) (objective.Terms, error) {
	if len(xs) != t.Config.CriticSteps {
		panic(fmt.Sprintf("train: %d batches for %d critic steps", len(xs), t.Config.CriticSteps))
	}
	terms := objective.Terms{}
	var phases *objective.HierPhases
	for k, x := range xs {
		phases = objective.RunHierPhases(t.Model, ad.Const(x), t.rng)
		loss, ct := objective.CIFAR10CriticLoss(t.Model, phases, t.Config.Objective, t.rng)
		grads, err := lossGrads(t.Step, loss, ct, t.Critic.Params, "critic loss")
		if err != nil {
			return nil, err
		}
		t.Critic.Update(grads)
		if err := paramsFinite(t.Step, t.Critic.Params, "critic"); err != nil {
			return nil, err
		}
		if k == len(xs)-1 {
			for name, v := range ct {
				terms[name] = v
			}
			terms["critic/loss"] = loss.Item()
		}
	}
	loss, nt := objective.CIFAR10NetworkLoss(t.Model, phases, t.Config.Objective)
	grads, err := lossGrads(t.Step, loss, nt, t.Network.Params, "network loss")
	if err != nil {
		return nil, err
	}
	t.Network.Update(grads)
	if err := paramsFinite(t.Step, t.Network.Params, "network"); err != nil {
		return nil, err
	}
	for name, v := range nt {
		terms[name] = v
	}
	terms["net/loss"] = loss.Item()
	t.Step++
	return terms, nil
}

// lossGrads is Trainer.grads for any trainer at the given completed step.
func lossGrads(step int, loss *ad.Var, terms objective.Terms, params []*nn.Parameter, what string) ([]*tensor.Tensor, error) {
	tr := &Trainer{Step: step}
	return tr.grads(loss, terms, params, what)
}

// paramsFinite is Trainer.checkParams for any trainer at the given step.
func paramsFinite(step int, params []*nn.Parameter, which string) error {
	tr := &Trainer{Step: step}
	return tr.checkParams(params, which)
}

// State returns everything needed to resume, in the layout of
// Trainer.State: "model.<parameter>", "network.adam.{m,v}.<parameter>",
// "critic.adam.{m,v}.<parameter>", and the same metadata keys.
func (t *CIFAR10Trainer) State() (map[string]*tensor.Tensor, map[string]string, error) {
	ts := map[string]*tensor.Tensor{}
	for _, p := range t.Model.Parameters() {
		ts["model."+p.Name] = p.V.Value
	}
	for k, v := range t.Network.State() {
		ts["network."+k] = v
	}
	for k, v := range t.Critic.State() {
		ts["critic."+k] = v
	}
	meta, err := runMetadata(t.Config, t.Step, t.src, t.Network, t.Critic)
	if err != nil {
		return nil, nil, err
	}
	return ts, meta, nil
}

// CIFAR10ConfigFromMeta returns the config stored in a CIFAR-10 checkpoint's
// metadata.
func CIFAR10ConfigFromMeta(meta map[string]string) (CIFAR10Config, error) {
	var c CIFAR10Config
	s, ok := meta[metaConfig]
	if !ok {
		return c, fmt.Errorf("checkpoint has no %s entry: not a wakesleep training checkpoint", metaConfig)
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("checkpoint config: %w", err)
	}
	return c, c.Validate()
}

// Restore loads a checkpoint's state into t, which must have been built
// from the same config. Nothing is changed if anything is missing or
// mismatched.
func (t *CIFAR10Trainer) Restore(ts map[string]*tensor.Tensor, meta map[string]string) error {
	rm, err := parseRunMeta(meta)
	if err != nil {
		return err
	}
	if name := nonFinite(ts); name != "" {
		return fmt.Errorf("checkpoint tensor %q holds NaN or infinite values", name)
	}
	params := t.Model.Parameters()
	for _, p := range params {
		v, ok := ts["model."+p.Name]
		switch {
		case !ok:
			return fmt.Errorf("checkpoint lacks parameter %q", p.Name)
		case !tensor.SameShape(v.Shape(), p.V.Shape()) || v.DType() != p.V.DType():
			return fmt.Errorf("checkpoint parameter %q is %s%v, model wants %s%v", p.Name, v.DType(), v.Shape(), p.V.DType(), p.V.Shape())
		}
	}
	src := *t.src
	if err := src.UnmarshalBinary(rm.RNG); err != nil {
		return fmt.Errorf("checkpoint random state: %w", err)
	}
	// Load fresh optimizers and swap them in only when both loaded, so that
	// a failure leaves t untouched.
	net := optim.NewAdam(t.Network.Config, t.Network.Params)
	crit := optim.NewAdam(t.Critic.Config, t.Critic.Params)
	if err := net.LoadState(subState(ts, "network."), rm.NetStep, rm.NetLR); err != nil {
		return err
	}
	if err := crit.LoadState(subState(ts, "critic."), rm.CriticStep, rm.CriticLR); err != nil {
		return err
	}
	t.Network, t.Critic = net, crit
	for _, p := range params {
		p.V.Value.CopyFrom(ts["model."+p.Name])
	}
	*t.src = src
	t.Step = rm.Step
	return nil
}

// LoadCIFAR10Trainer rebuilds a CIFAR-10 trainer from a checkpoint file, or
// from the newest good checkpoint of a run folder (a warning about skipped
// corrupt ones goes to warn, nil to discard). It returns the file it read.
func LoadCIFAR10Trainer(path string, warn io.Writer) (*CIFAR10Trainer, string, error) {
	if warn == nil {
		warn = io.Discard
	}
	if st, err := os.Stat(path); err != nil {
		return nil, "", fmt.Errorf("checkpoint %s: %w", path, err)
	} else if st.IsDir() {
		p, err := latestCheckpoint(path, warn)
		if err != nil {
			return nil, "", fmt.Errorf("run folder %s: %w", path, err)
		}
		path = p
	}
	ts, meta, err := checkpoint.Load(path)
	if err != nil {
		return nil, "", err
	}
	cfg, err := CIFAR10ConfigFromMeta(meta)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	tr, err := NewCIFAR10Trainer(cfg)
	if err != nil {
		return nil, "", err
	}
	if err := tr.Restore(ts, meta); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return tr, path, nil
}
