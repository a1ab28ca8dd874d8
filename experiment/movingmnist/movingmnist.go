// Package movingmnist is the Moving MNIST video prediction experiment
// (Sec. 5.3, Appendix A.1.5): stochastic ConvLSTM encoder and decoder,
// critics for frames and latents, 10 warm-up frames then 10 predicted
// frames (backpropagation through time) and a 10-step sleep phase.
package movingmnist

import (
	"errors"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"path/filepath"

	ad "github.com/wakesleep/wakesleep/autodiff"
	mnistdata "github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/data/movingmnist"
	mnistexp "github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/objective"
	"github.com/wakesleep/wakesleep/tensor"
	"github.com/wakesleep/wakesleep/train"
)

// Name is the experiment's name, the "experiment" field of its config.
const Name = "movingmnist"

// Experiment is the Moving MNIST experiment.
var Experiment = &experiment{}

type experiment struct{}

func (*experiment) Name() string { return Name }

func (*experiment) Info() train.Info {
	return train.Info{
		Summary: "Moving MNIST video prediction with stochastic ConvLSTMs (Sec. 5.3)",
		Usage: `Trains the Moving MNIST video predictor (Sec. 5.3 and Appendix A.1.5 of the
paper): stochastic ConvLSTM encoder and decoder, critics for frames and
latents, 10 warm-up frames then 10 predicted frames (backpropagation through
time), the critic-feature distance, and a 10-step sleep phase weighted by
gamma (Eq. 8). Sequences of two bouncing MNIST training digits are generated
on the fly. Writes a run folder: config.json, metrics.csv, prediction strips
(predict-step<N>.png: context, truth, prediction of fixed test sequences) and
checkpoints.

Presets: "quick" (default: 3x3 kernels, 16-channel critics, batch 8, 20
epochs of 400 sequences; sized for a CPU) and "paper" (5x5 kernels, 32-channel
critics, batch 32, 400 epochs of 10,000 sequences, learning-rate decay).

Examples:
  $ wakesleep train movingmnist
  $ wakesleep train movingmnist --batch-size 4 --lr-network 1e-3 --run runs/mm
  $ wakesleep train movingmnist --preset paper
  $ wakesleep train --run runs/mm --resume`,
		DataHelp: "folder with MNIST IDX files (default: the copy embedded in the binary)",
		Items:    "sequences",
	}
}

func (*experiment) Presets() []string { return []string{"quick", "paper"} }

func (*experiment) Preset(name string, _ map[string]string) (train.Config, error) {
	var c Config
	switch name {
	case "quick":
		c = QuickConfig()
	case "paper":
		c = PaperConfig()
	default:
		return nil, fmt.Errorf("--preset %q: want quick or paper", name)
	}
	return &c, nil
}

func (*experiment) NewConfig() train.Config { return &Config{} }

func (*experiment) Flags() []train.Flag {
	type C = *Config
	return []train.Flag{
		train.FloatFlag("gamma", "γ of Eq. 8: weight of the sleep-phase (wake/sleep) terms (default: from the preset, 0.5)", func(c C) *float64 { return &c.Objective.Gamma }),
		train.FloatFlag("lambda", "WGAN-GP penalty weight λ (default: from the preset, 1)", func(c C) *float64 { return &c.Objective.Lambda }),
		train.FloatFlag("recon-weight", "weight of the critic-feature distance between predicted and true frames (default: from the preset, 1)", func(c C) *float64 { return &c.Objective.ReconWeight }),
		train.IntFlag("sequences-per-epoch", "training sequences per epoch (default: from the preset)", func(c C) *int { return &c.SequencesPerEpoch }),
		train.IntFlag("train-pool", "cycle through only N distinct training sequences (0: a new sequence every time)", func(c C) *int { return &c.TrainPool }),
		train.IntFlag("patch", "pixels per side folded into channels before the ConvLSTMs (4: 16x16 grid; default: from the preset)", func(c C) *int { return &c.Model.Patch }),
		train.IntFlag("hidden", "channels of each ConvLSTM (default: 32)", func(c C) *int { return &c.Model.Hidden }),
		train.IntFlag("kernel", "ConvLSTM kernel size, odd (default: from the preset)", func(c C) *int { return &c.Model.Kernel }),
		train.IntFlag("critic-channels", "channels of a critic's first convolution (default: from the preset)", func(c C) *int { return &c.Model.CriticChannels }),
		train.StringFlag("critic-norm", "critic normalisation: batch (the paper) or none", func(c C) *string { return &c.Model.CriticNorm }),
		train.BoolFlag("teacher-forcing", "encoder reads the true frames after the context (default: its own predictions)", func(c C) *bool { return &c.Objective.TeacherForcing }),
		train.IntFlag("picture-every", "steps between prediction strips (0: once per epoch)", func(c C) *int { return &c.PictureEvery }),
		train.IntFlag("pictures", "test sequences in each prediction strip (0: none; default: from the preset, 4)", func(c C) *int { return &c.PictureCount }),
	}
}

// bound is the video model bound to its objective's settings.
type bound struct {
	*model.MovingMNIST
	s objective.VideoSettings
}

func (b *bound) Phases(frames []*tensor.Tensor, rng *rand.Rand) train.Phases {
	return &phases{b: b, p: objective.RunVideoPhases(b.MovingMNIST, frames, b.s, rng)}
}

// Buffers are the critics' batch-norm statistics.
func (b *bound) Buffers() []*nn.Buffer { return b.MovingMNIST.Buffers() }

type phases struct {
	b *bound
	p *objective.VideoPhases
}

func (p *phases) CriticLoss(rng *rand.Rand) (*ad.Var, objective.Terms) {
	return objective.VideoCriticLoss(p.b.MovingMNIST, p.p, p.b.s, rng)
}

func (p *phases) NetworkLoss() (*ad.Var, objective.Terms) {
	return objective.VideoNetworkLoss(p.b.MovingMNIST, p.p, p.b.s)
}

func (*experiment) NewModel(cfg train.Config, rng *rand.Rand) (train.Model, error) {
	c := cfg.(*Config)
	m, err := model.NewMovingMNIST(c.Model, tensor.Float32, rng)
	if err != nil {
		return nil, err
	}
	return &bound{MovingMNIST: m, s: c.Objective}, nil
}

// Data are the MNIST digits that training sequences (Train) and the fixed
// test sequences of the pictures (Test) are made of.
type Data struct {
	Train, Test *mnistdata.Set
}

func (*experiment) Data(path string, out io.Writer) (train.Data, error) {
	tr, te, err := mnistexp.LoadData(path)
	if err != nil {
		return nil, err
	}
	return &Data{Train: tr, Test: te}, nil
}

// dataSeedMix decorrelates the data generator's PCG streams (seed, index)
// from the weight initialisation and noise streams that share the run's seed.
const dataSeedMix = 0x9E3779B97F4A7C15

func (d *Data) Feed(tr *train.Trainer) (train.Feed, error) {
	t, err := View(tr)
	if err != nil {
		return nil, err
	}
	if d.Train == nil {
		return nil, errors.New("no training digits")
	}
	f := &feed{t: t}
	if f.gen, err = movingmnist.NewGenerator(d.Train, t.Config.Data, t.Config.Seed^dataSeedMix); err != nil {
		return nil, err
	}
	if d.Test != nil && t.Config.PictureCount > 0 {
		if f.test, err = movingmnist.NewGenerator(d.Test, t.Config.Data, movingmnist.TestSeed); err != nil {
			return nil, err
		}
	}
	return f, nil
}

type feed struct {
	t         *Trainer
	gen, test *movingmnist.Generator
}

func (f *feed) StepsPerEpoch() int { return f.t.Config.StepsPerEpoch() }

// Batches returns the critic-step batches of global step s, each the frames
// of BatchSize sequences. Sequence j of the run is sequence j (modulo
// TrainPool, if set) of the training generator.
func (f *feed) Batches(s int) [][]*tensor.Tensor {
	c := f.t.Config
	b, k := c.BatchSize, c.CriticSteps
	out := make([][]*tensor.Tensor, k)
	for j := range out {
		idx := make([]uint64, b)
		for i := range idx {
			n := uint64((s*k+j)*b + i)
			if p := c.TrainPool; p > 0 {
				n %= uint64(p)
			}
			idx[i] = n
		}
		out[j] = f.gen.Batch(idx, f.t.Model.DType())
	}
	return out
}

// Pictures are the prediction strip predict-step<N>.png at the end of each
// epoch and of the run, and every PictureEvery steps.
func (f *feed) Pictures(m train.Moment) []string {
	pe := f.t.Config.PictureEvery
	if f.test == nil || !(m.EpochEnd || m.Last || (pe > 0 && m.Step%pe == 0)) {
		return nil
	}
	return []string{fmt.Sprintf("predict-step%08d.png", m.Step)}
}

// WritePictures writes the prediction strip of the first PictureCount test
// sequences, with fixed noise.
func (f *feed) WritePictures(dir string, m train.Moment) error {
	c := f.t.Config
	idx := make([]uint64, c.PictureCount)
	for i := range idx {
		idx[i] = uint64(i)
	}
	o := c.Objective
	frames := f.test.Batch(idx, f.t.Model.DType())
	preds := Predict(f.t.Model, frames, o.Context, o.Horizon, rand.New(rand.NewPCG(c.Seed, train.PredictionStream)))
	return imaging.SavePNG(filepath.Join(dir, f.Pictures(m)[0]), PredictionStrip(frames, preds, o.Context))
}

// Trainer is a trainer of this experiment with its model and config at hand.
type Trainer struct {
	*train.Trainer
	Model  *model.MovingMNIST
	Config *Config
}

// View returns tr as a Moving MNIST trainer, or an error if it trains
// another experiment.
func View(tr *train.Trainer) (*Trainer, error) {
	b, ok := tr.Model.(*bound)
	c, cok := tr.Config.(*Config)
	if !ok || !cok {
		return nil, fmt.Errorf("a %s run, not %s", tr.Experiment.Name(), Name)
	}
	return &Trainer{Trainer: tr, Model: b.MovingMNIST, Config: c}, nil
}

// NewTrainer builds a Moving MNIST trainer of cfg.
func NewTrainer(cfg Config) (*Trainer, error) {
	tr, err := train.NewTrainer(Experiment, &cfg)
	if err != nil {
		return nil, err
	}
	return View(tr)
}

// TinyConfig is the experiment on 16×16 frames of 6, with 3 context frames,
// 3 predicted and 3 sleep steps, and narrow layers: 4 steps an epoch, 2
// epochs (train.Tester).
func (*experiment) TinyConfig() train.Config {
	c := QuickConfig()
	c.Model = model.MovingMNISTConfig{FrameSize: 16, Patch: 2, Hidden: 4, Kernel: 3, ReadoutHidden: 4, CriticChannels: 4, CriticNorm: model.NormBatch}
	c.Data = movingmnist.Config{FrameSize: 16, Frames: 6, Digits: 2, StepLength: 0.2, Combine: movingmnist.CombineMax}
	c.Objective.Context, c.Objective.Horizon, c.Objective.SleepSteps = 3, 3, 3
	c.BatchSize = 4
	c.SequencesPerEpoch = 16
	c.Epochs = 2
	c.LogEvery = 1
	c.PictureCount = 2
	c.NetworkAdam.LearningRate = 1e-3
	return &c
}

// FakeData are random 8×8 "digits" (train.Tester).
func (*experiment) FakeData() train.Data {
	return &Data{Train: FakeDigits(50, 1), Test: FakeDigits(20, 2)}
}

// FakeDigits returns n random 8×8 "digits".
func FakeDigits(n int, seed uint64) *mnistdata.Set {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &mnistdata.Set{N: n, Rows: 8, Cols: 8, Images: make([]uint8, n*64), Labels: make([]uint8, n)}
	for i := range s.Images {
		if rng.IntN(3) == 0 {
			s.Images[i] = uint8(128 + rng.IntN(128))
		}
	}
	return s
}

// Sample implements train.Sampler: n dreams (the sleep phase: z₀ ~ N(0, I),
// then SleepSteps frames bouncing between x and z), a row of frames each.
func (*experiment) Sample(tr *train.Trainer, n int) (image.Image, error) {
	t, err := View(tr)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(t.Config.Seed, train.SampleStream))
	xs, _ := t.Model.Frozen().Dream(n, t.Config.Objective.SleepSteps, rng)
	s := t.Config.Model.FrameSize
	var cells [][]float64
	for b := 0; b < n; b++ {
		for _, x := range xs {
			cells = append(cells, FrameOf(x.Value, b))
		}
	}
	return imaging.GridFloats(cells, s, s, len(xs), 2), nil
}

// Reconstruct implements train.Reconstructor: the prediction strip of the
// first n sequences of the fixed test set (the last context frames, the true
// next frames, the predicted frames).
func (*experiment) Reconstruct(tr *train.Trainer, data train.Data, n, depth int) (image.Image, error) {
	t, err := View(tr)
	if err != nil {
		return nil, err
	}
	if depth > 1 {
		return nil, fmt.Errorf("--depth %d: the video model has one latent layer", depth)
	}
	test, err := movingmnist.NewGenerator(data.(*Data).Test, t.Config.Data, movingmnist.TestSeed)
	if err != nil {
		return nil, err
	}
	idx := make([]uint64, n)
	for i := range idx {
		idx[i] = uint64(i)
	}
	o := t.Config.Objective
	frames := test.Batch(idx, t.Model.DType())
	preds := Predict(t.Model, frames, o.Context, o.Horizon, rand.New(rand.NewPCG(t.Config.Seed, train.ReconStream)))
	return PredictionStrip(frames, preds, o.Context), nil
}

// TestItems implements train.Reconstructor: the test set is unbounded.
func (*experiment) TestItems(train.Data) int { return 1 << 20 }

// Predict returns the model's closed-loop prediction of frames context …
// context+horizon−1 given the first context frames (each [B, 1, S, S]): the
// encoder reads the context, then its own predictions. One sample of the
// stochastic model, with noise from rng; nothing is recorded.
func Predict(m *model.MovingMNIST, frames []*tensor.Tensor, context, horizon int, rng *rand.Rand) []*tensor.Tensor {
	xs := make([]*ad.Var, context)
	for i := range xs {
		xs[i] = ad.Const(frames[i])
	}
	r := m.Frozen().Rollout(xs, context, horizon, false, rng)
	out := make([]*tensor.Tensor, horizon)
	for i := range out {
		out[i] = r.Pred[context+i].Value
	}
	return out
}

// FrameOf returns frame b of a batch [B, 1, S, S] as [1, S, S] values.
func FrameOf(x *tensor.Tensor, b int) []float64 {
	hw := x.Dim(2) * x.Dim(3)
	out := make([]float64, hw)
	for i := range out {
		out[i] = x.At(b*hw + i)
	}
	return out
}

// PredictionStrip lays out, for each sequence b of the batch, three rows of
// horizon frames: the last horizon context frames (or all, if fewer), the true
// future frames, and the predictions (frames is the whole sequence, preds the
// horizon predicted frames). Sequences are separated by a blank row.
func PredictionStrip(frames, preds []*tensor.Tensor, context int) image.Image {
	horizon := len(preds)
	s := frames[0].Dim(2)
	batch := frames[0].Dim(0)
	blank := make([]float64, s*s)
	for i := range blank {
		blank[i] = float64(imaging.PadGray) / 255
	}
	var cells [][]float64
	for b := 0; b < batch; b++ {
		if b > 0 {
			for i := 0; i < horizon; i++ {
				cells = append(cells, blank)
			}
		}
		for i := 0; i < horizon; i++ { // context row, right-aligned
			if t := context - horizon + i; t >= 0 {
				cells = append(cells, FrameOf(frames[t], b))
			} else {
				cells = append(cells, blank)
			}
		}
		for i := 0; i < horizon; i++ {
			cells = append(cells, FrameOf(frames[context+i], b))
		}
		for i := 0; i < horizon; i++ {
			cells = append(cells, FrameOf(preds[i], b))
		}
	}
	return imaging.GridFloats(cells, s, s, horizon, 2)
}

// PredictionFrames returns the frames of an animation of the sequences: at
// time t the true frame (left) beside what the model shows (right): the
// context frame itself while t < context, then the prediction. A bar under the
// right panel is dark during the context and white while predicting.
func PredictionFrames(frames, preds []*tensor.Tensor, context int) []image.Image {
	s := frames[0].Dim(2)
	batch := frames[0].Dim(0)
	var out []image.Image
	for t := 0; t < context+len(preds); t++ {
		var truth, shown [][]float64
		for b := 0; b < batch; b++ {
			truth = append(truth, FrameOf(frames[t], b))
			if t < context {
				shown = append(shown, FrameOf(frames[t], b))
			} else {
				shown = append(shown, FrameOf(preds[t-context], b))
			}
		}
		left := imaging.GridFloats(truth, s, s, batch, 2)
		right := imaging.GridFloats(shown, s, s, batch, 2)
		panels := imaging.HStack(8, left, right).(*image.Gray)
		const bar = 6
		r := panels.Bounds()
		img := image.NewGray(image.Rect(0, 0, r.Dx(), r.Dy()+bar))
		for i := range img.Pix {
			img.Pix[i] = imaging.PadGray
		}
		for y := 0; y < r.Dy(); y++ {
			copy(img.Pix[img.PixOffset(0, y):img.PixOffset(r.Dx(), y)], panels.Pix[panels.PixOffset(0, y):panels.PixOffset(r.Dx(), y)])
		}
		level := uint8(40)
		if t >= context {
			level = 255
		}
		x0 := left.Bounds().Dx() + 8
		for y := r.Dy(); y < r.Dy()+bar-1; y++ {
			for x := x0 + 2; x < r.Dx()-2; x++ {
				img.Pix[img.PixOffset(x, y)] = level
			}
		}
		out = append(out, img)
	}
	return out
}
