package train

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/data/movingmnist"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/objective"
	"github.com/wakesleep/wakesleep/optim"
	"github.com/wakesleep/wakesleep/tensor"
)

// ExperimentMovingMNIST names the video prediction experiment of Sec. 5.3.
const ExperimentMovingMNIST = "movingmnist"

// MovingMNISTConfig is everything that defines a Moving MNIST run (Sec. 5.3,
// Appendix A.1.5). It is saved as config.json in the run folder; resuming
// reads it back from there.
type MovingMNISTConfig struct {
	Experiment string                  `json:"experiment"` // "movingmnist"
	Model      model.MovingMNISTConfig `json:"model"`
	Objective  objective.VideoSettings `json:"objective"`
	Data       movingmnist.Config      `json:"data"`

	Epochs int `json:"epochs"`
	// SequencesPerEpoch defines an epoch: sequences are generated afresh, so
	// the data set is infinite (open point: 10,000, the size of Srivastava et
	// al.'s test file and the usual epoch).
	SequencesPerEpoch int `json:"sequences_per_epoch"`
	// TrainPool, if positive, cycles through only that many distinct training
	// sequences (a small fixed training set); 0 draws a new sequence every time.
	TrainPool   int    `json:"train_pool"`
	BatchSize   int    `json:"batch_size"`
	CriticSteps int    `json:"critic_steps"` // critic updates per network update (open point; 1)
	Seed        uint64 `json:"seed"`

	NetworkAdam optim.AdamConfig `json:"network_adam"`
	CriticAdam  optim.AdamConfig `json:"critic_adam"`
	Schedule    optim.Schedule   `json:"schedule"`

	LogEvery        int `json:"log_every"`        // steps between metric rows
	CheckpointEvery int `json:"checkpoint_every"` // steps between checkpoints (0: each epoch only)
	PictureEvery    int `json:"picture_every"`    // steps between prediction strips (0: each epoch only)
	PictureCount    int `json:"picture_count"`    // test sequences in each strip
	KeepCheckpoints int `json:"keep_checkpoints"` // checkpoints kept in the run folder
}

// PaperMovingMNISTConfig returns the paper's setting (Sec. 5.3, A.1.2, A.1.5):
// the default model and objective (γ = 0.5, 10 warm-up and 10 predicted
// frames, 10 sleep steps), batch 32, Adam as for every experiment, 400 epochs
// with the learning-rate decay between epochs 200 and 250.
func PaperMovingMNISTConfig() MovingMNISTConfig {
	return MovingMNISTConfig{
		Experiment:        ExperimentMovingMNIST,
		Model:             model.DefaultMovingMNISTConfig(),
		Objective:         objective.DefaultVideoSettings(),
		Data:              movingmnist.DefaultConfig(),
		Epochs:            400,
		SequencesPerEpoch: 10000,
		BatchSize:         32,
		CriticSteps:       1,
		Seed:              1,
		NetworkAdam:       optim.AdamConfig{LearningRate: 1e-4, Beta1: 0.5, Beta2: 0.99, Eps: 1e-8, WeightDecay: 2e-5},
		CriticAdam:        optim.AdamConfig{LearningRate: 4e-4, Beta1: 0.5, Beta2: 0.99, Eps: 1e-8, WeightDecay: 2e-5},
		Schedule:          optim.Schedule{Factor: 0.96, Start: 200, End: 250},
		LogEvery:          10,
		PictureCount:      4,
		KeepCheckpoints:   3,
	}
}

// QuickMovingMNISTConfig is a CPU-sized run of the paper's model and
// objective: 3×3 ConvLSTM kernels, 16-channel critics, batch 8, 20 epochs of
// 400 sequences, no decay.
func QuickMovingMNISTConfig() MovingMNISTConfig {
	c := PaperMovingMNISTConfig()
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
func (c MovingMNISTConfig) Validate() error {
	if c.Experiment != ExperimentMovingMNIST {
		return fmt.Errorf("experiment %q is not %q", c.Experiment, ExperimentMovingMNIST)
	}
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
	if err := c.NetworkAdam.Validate(); err != nil {
		return fmt.Errorf("network optimizer: %w", err)
	}
	if err := c.CriticAdam.Validate(); err != nil {
		return fmt.Errorf("critic optimizer: %w", err)
	}
	switch {
	case c.Epochs <= 0:
		return fmt.Errorf("epochs %d must be positive", c.Epochs)
	case c.BatchSize < 2:
		return fmt.Errorf("batch size %d must be at least 2 (batch norm)", c.BatchSize)
	case c.CriticSteps <= 0:
		return fmt.Errorf("critic steps %d must be positive", c.CriticSteps)
	case c.SequencesPerEpoch < c.BatchSize*c.CriticSteps:
		return fmt.Errorf("sequences per epoch %d must be at least batch size %d × critic steps %d", c.SequencesPerEpoch, c.BatchSize, c.CriticSteps)
	case c.TrainPool < 0:
		return fmt.Errorf("train pool %d must be ≥ 0", c.TrainPool)
	case c.LogEvery <= 0:
		return fmt.Errorf("log every %d must be positive", c.LogEvery)
	case c.CheckpointEvery < 0 || c.PictureEvery < 0 || c.KeepCheckpoints < 1:
		return fmt.Errorf("checkpoint every %d and picture every %d must be ≥ 0, keep %d ≥ 1", c.CheckpointEvery, c.PictureEvery, c.KeepCheckpoints)
	case c.PictureCount < 0:
		return fmt.Errorf("picture count %d must be ≥ 0", c.PictureCount)
	}
	return nil
}

// StepsPerEpoch returns the training steps of one epoch.
func (c MovingMNISTConfig) StepsPerEpoch() int {
	return c.SequencesPerEpoch / (c.BatchSize * c.CriticSteps)
}

// SaveMovingMNISTConfig writes c as indented JSON, atomically.
func SaveMovingMNISTConfig(path string, c MovingMNISTConfig) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LoadMovingMNISTConfig reads a config.json, rejecting unknown fields.
func LoadMovingMNISTConfig(path string) (MovingMNISTConfig, error) {
	var c MovingMNISTConfig
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
	return c, c.Validate()
}

// MovingMNISTTrainer holds the video model, its two optimizers and the random
// state, and takes training steps. Everything needed to continue
// bit-identically is in it.
type MovingMNISTTrainer struct {
	Config  MovingMNISTConfig
	Model   *model.MovingMNIST
	Network *optim.Adam // encoder, decoder, readout: minimise
	Critic  *optim.Adam // D_x, D_z: maximise
	Step    int         // completed steps
	src     *rand.PCG   // the training noise stream (hidden-state samples, prior, GP interpolation)
	rng     *rand.Rand
}

// dataSeedMix decorrelates the data generator's PCG streams (seed, index)
// from the weight initialisation and noise streams that share the run's seed.
const dataSeedMix = 0x9E3779B97F4A7C15

// NewMovingMNISTTrainer builds the model from cfg.Seed and fresh optimizers.
func NewMovingMNISTTrainer(cfg MovingMNISTConfig) (*MovingMNISTTrainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := model.NewMovingMNIST(cfg.Model, tensor.Float32, rand.New(rand.NewPCG(cfg.Seed, 0x1417)))
	if err != nil {
		return nil, err
	}
	src := rand.NewPCG(cfg.Seed, 0x5eed)
	return &MovingMNISTTrainer{
		Config:  cfg,
		Model:   m,
		Network: optim.NewAdam(cfg.NetworkAdam, m.NetworkParameters()),
		Critic:  optim.NewAdam(cfg.CriticAdam, m.CriticParameters()),
		src:     src,
		rng:     rand.New(src),
	}, nil
}

// RNG returns the training noise generator.
func (t *MovingMNISTTrainer) RNG() *rand.Rand { return t.rng }

// SetEpochRates applies the learning-rate schedule for (0-based) epoch e.
func (t *MovingMNISTTrainer) SetEpochRates(e int) {
	t.Network.SetLearningRate(t.Config.Schedule.Rate(t.Config.NetworkAdam.LearningRate, e))
	t.Critic.SetLearningRate(t.Config.Schedule.Rate(t.Config.CriticAdam.LearningRate, e))
}

// TrainGenerator returns the generator of training sequences over the
// given (MNIST train) digits, seeded from the run's seed.
func (t *MovingMNISTTrainer) TrainGenerator(digits *mnist.Set) (*movingmnist.Generator, error) {
	return movingmnist.NewGenerator(digits, t.Config.Data, t.Config.Seed^dataSeedMix)
}

// Batches returns the critic-step batches of global step s (0-based), each
// the frames of BatchSize sequences. Sequence j of the run is sequence j
// (modulo TrainPool, if set) of the training generator, so the batches are a
// pure function of the seed and the step.
func (t *MovingMNISTTrainer) Batches(gen *movingmnist.Generator, s int) [][]*tensor.Tensor {
	b, k := t.Config.BatchSize, t.Config.CriticSteps
	out := make([][]*tensor.Tensor, k)
	for j := range out {
		idx := make([]uint64, b)
		for i := range idx {
			n := uint64((s*k+j)*b + i)
			if p := t.Config.TrainPool; p > 0 {
				n %= uint64(p)
			}
			idx[i] = n
		}
		out[j] = gen.Batch(idx, t.Model.DType())
	}
	return out
}

// TrainStep takes one training step: CriticSteps critic updates (one per
// batch, the last batch shared with the network update), each on freshly
// run phases, then one update of encoder, decoder and readout against the
// updated critics through the recorded phases (backpropagation through time).
// Parameters are left untouched if any loss or gradient is not finite.
func (t *MovingMNISTTrainer) TrainStep(batches [][]*tensor.Tensor) (objective.Terms, error) {
	if len(batches) != t.Config.CriticSteps {
		panic(fmt.Sprintf("train: %d batches for %d critic steps", len(batches), t.Config.CriticSteps))
	}
	s := t.Config.Objective
	terms := objective.Terms{}
	var phases *objective.VideoPhases
	for k, frames := range batches {
		phases = objective.RunVideoPhases(t.Model, frames, s, t.rng)
		criticLoss, ct := objective.VideoCriticLoss(t.Model, phases, s, t.rng)
		grads, err := finiteGrads(criticLoss, t.Critic.Params, t.Step+1, "critic loss")
		if err != nil {
			return nil, err
		}
		t.Critic.Update(grads)
		if k == len(batches)-1 {
			for name, v := range ct {
				terms[name] = v
			}
			terms["critic/loss"] = criticLoss.Item()
		}
	}
	netLoss, nt := objective.VideoNetworkLoss(t.Model, phases, s)
	grads, err := finiteGrads(netLoss, t.Network.Params, t.Step+1, "network loss")
	if err != nil {
		return nil, err
	}
	t.Network.Update(grads)
	for name, v := range nt {
		terms[name] = v
	}
	terms["net/loss"] = netLoss.Item()
	t.Step++
	return terms, nil
}

// finiteGrads returns the gradients of loss with respect to params, or a
// *NumericError naming the first non-finite value.
func finiteGrads(loss *ad.Var, params []*nn.Parameter, step int, what string) ([]*tensor.Tensor, error) {
	if v := loss.Item(); math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, &NumericError{Step: step, Term: what}
	}
	gs := ad.Grad(loss, nn.Vars(params), nil)
	out := make([]*tensor.Tensor, len(gs))
	for i, g := range gs {
		if g.Value.HasNaNOrInf() {
			return nil, &NumericError{Step: step, Term: "gradient of " + what + " w.r.t. " + params[i].Name}
		}
		out[i] = g.Value
	}
	return out, nil
}

// State returns everything needed to resume, in the layout of Trainer.State
// plus the critics' batch-norm statistics as "buffer.<name>".
func (t *MovingMNISTTrainer) State() (map[string]*tensor.Tensor, map[string]string, error) {
	ts := map[string]*tensor.Tensor{}
	for _, p := range t.Model.Parameters() {
		ts["model."+p.Name] = p.V.Value
	}
	for _, b := range t.Model.Buffers() {
		ts["buffer."+b.Name] = b.T
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

// MovingMNISTConfigFromMeta returns the config stored in a checkpoint's
// metadata, or an error if the checkpoint is not of a Moving MNIST run.
func MovingMNISTConfigFromMeta(meta map[string]string) (MovingMNISTConfig, error) {
	var c MovingMNISTConfig
	s, ok := meta[metaConfig]
	if !ok {
		return c, fmt.Errorf("checkpoint has no %s entry: not a wakesleep training checkpoint", metaConfig)
	}
	var head struct {
		Experiment string `json:"experiment"`
	}
	if err := json.Unmarshal([]byte(s), &head); err != nil {
		return c, fmt.Errorf("checkpoint config: %w", err)
	}
	if head.Experiment != ExperimentMovingMNIST {
		return c, fmt.Errorf("checkpoint of a %q run, not %q", head.Experiment, ExperimentMovingMNIST)
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("checkpoint config: %w", err)
	}
	return c, c.Validate()
}

// Restore loads a checkpoint's state into t, which must have been built from
// the same config. Nothing is changed if anything is missing or mismatched.
func (t *MovingMNISTTrainer) Restore(ts map[string]*tensor.Tensor, meta map[string]string) error {
	rm, err := parseRunMeta(meta)
	if err != nil {
		return err
	}
	want := map[string]*tensor.Tensor{}
	for _, p := range t.Model.Parameters() {
		want["model."+p.Name] = p.V.Value
	}
	for _, b := range t.Model.Buffers() {
		want["buffer."+b.Name] = b.T
	}
	for k, dst := range want {
		v, ok := ts[k]
		switch {
		case !ok:
			return fmt.Errorf("checkpoint lacks %q", k)
		case !tensor.SameShape(v.Shape(), dst.Shape()) || v.DType() != dst.DType():
			return fmt.Errorf("checkpoint tensor %q is %s%v, model wants %s%v", k, v.DType(), v.Shape(), dst.DType(), dst.Shape())
		}
	}
	src := *t.src
	if err := src.UnmarshalBinary(rm.RNG); err != nil {
		return fmt.Errorf("checkpoint random state: %w", err)
	}
	// Adam.LoadState changes nothing on error; check both before loading either.
	net := optim.NewAdam(t.Config.NetworkAdam, t.Network.Params)
	if err := net.LoadState(subState(ts, "network."), rm.NetStep, rm.NetLR); err != nil {
		return err
	}
	if err := t.Critic.LoadState(subState(ts, "critic."), rm.CriticStep, rm.CriticLR); err != nil {
		return err
	}
	*t.Network = *net
	for k, dst := range want {
		dst.CopyFrom(ts[k])
	}
	*t.src = src
	t.Step = rm.Step
	return nil
}

// LoadMovingMNISTTrainer rebuilds a trainer from a checkpoint file, or from
// the newest good checkpoint of a run folder. It returns the file it read.
func LoadMovingMNISTTrainer(path string) (*MovingMNISTTrainer, string, error) {
	if st, err := os.Stat(path); err != nil {
		return nil, "", fmt.Errorf("checkpoint %s: %w", path, err)
	} else if st.IsDir() {
		p, err := latestCheckpoint(path, os.Stderr)
		if err != nil {
			return nil, "", fmt.Errorf("run folder %s: %w", path, err)
		}
		path = p
	}
	ts, meta, err := checkpoint.Load(path)
	if err != nil {
		return nil, "", err
	}
	cfg, err := MovingMNISTConfigFromMeta(meta)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	tr, err := NewMovingMNISTTrainer(cfg)
	if err != nil {
		return nil, "", err
	}
	if err := tr.Restore(ts, meta); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return tr, path, nil
}
