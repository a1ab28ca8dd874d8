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
	"github.com/wakesleep/wakesleep/objective"
	"github.com/wakesleep/wakesleep/tensor"
	"github.com/wakesleep/wakesleep/train"
)

// Name is the experiment's name, the "experiment" field of its config.
const Name = "movingmnist"

// Experiment is the Moving MNIST experiment.
var Experiment = &experiment{train.Base[Config, *Config]{
	PresetList: []train.Preset{train.Fixed("quick", QuickConfig), train.Fixed("paper", PaperConfig)},
	About: train.About{ExperimentName: Name, About: train.Info{
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
	}}}}

type experiment struct {
	train.Base[Config, *Config]
}

func (*experiment) Flags() []train.Flag {
	type C = *Config
	flags := train.WeightFlags("γ of Eq. 8: weight of the sleep-phase (wake/sleep) terms (default: from the preset, 0.5)", "weight of the critic-feature distance between predicted and true frames (default: from the preset, 1)",
		func(c C) (*float64, *float64, *float64) {
			return &c.Objective.Gamma, &c.Objective.Lambda, &c.Objective.ReconWeight
		})
	// --teacher-forcing may change on resume: a curriculum trains one-step
	// predictions from the true frames first, then continues closed loop
	// (--resume --teacher-forcing=false).
	teacherForcing := train.BoolFlag("teacher-forcing", "encoder reads the true frames after the context (default: its own predictions); may be switched on resume, e.g. --resume --teacher-forcing=false after a teacher-forced start", func(c C) *bool { return &c.Objective.TeacherForcing })
	teacherForcing.Resumable = true
	return append(flags,
		train.StringFlag("recon-layers", objective.ReconLayersHelp, func(c C) *string { return &c.Objective.ReconLayers }),
		train.IntFlag("sequences-per-epoch", "training sequences per epoch (default: from the preset)", func(c C) *int { return &c.SequencesPerEpoch }),
		train.IntFlag("train-pool", "cycle through only N distinct training sequences (0: a new sequence every time)", func(c C) *int { return &c.TrainPool }),
		train.IntFlag("patch", "pixels per side folded into channels before the ConvLSTMs (4: 16x16 grid; default: from the preset)", func(c C) *int { return &c.Model.Patch }),
		train.IntFlag("hidden", "channels of each ConvLSTM (default: 32)", func(c C) *int { return &c.Model.Hidden }),
		train.IntFlag("kernel", "ConvLSTM kernel size, odd (default: from the preset)", func(c C) *int { return &c.Model.Kernel }),
		train.IntFlag("critic-channels", "channels of a critic's first convolution (default: from the preset)", func(c C) *int { return &c.Model.CriticChannels }),
		train.StringFlag("critic-norm", "critic normalisation: batch (the paper) or none", func(c C) *string { return &c.Model.CriticNorm }),
		train.FloatFlag("pixel-weight", "weight of a pixel loss between predicted and true frames, added to Eq. 8 (a deviation, to leave the black-frame minimum in short runs; default 0: none)", func(c C) *float64 { return &c.Objective.PixelWeight }),
		train.StringFlag("pixel-loss", "the loss of --pixel-weight: bce (cross-entropy, the default: it keeps pulling dark pixels to black) or mse", func(c C) *string { return &c.Objective.PixelLoss }),
		teacherForcing,
		train.IntFlag("picture-every", "steps between prediction strips (0: once per epoch)", func(c C) *int { return &c.PictureEvery }),
		train.IntFlag("pictures", "test sequences in each prediction strip (0: none; default: from the preset, 4)", func(c C) *int { return &c.PictureCount }),
		train.BoolFlag("deterministic", "train the evaluation's baseline instead: the same networks without noise, on the pixel MSE of the predictions alone", func(c C) *bool { return &c.Deterministic }),
	)
}

func (*experiment) NewModel(cfg train.Config, rng *rand.Rand) (train.Model, error) {
	c := cfg.(*Config)
	m, err := model.NewMovingMNIST(c.Model, tensor.Float32, rng)
	if err != nil {
		return nil, err
	}
	s := c.Objective
	if c.Deterministic {
		return train.Bind(m, deterministicObjective(m, s)), nil
	}
	return train.Bind(m, train.Objective[*objective.VideoPhases]{
		Run: func(frames []*tensor.Tensor, rng *rand.Rand) *objective.VideoPhases {
			return objective.RunVideoPhases(m, frames, s, rng)
		},
		Critic: func(p *objective.VideoPhases, rng *rand.Rand) (*ad.Var, objective.Terms) {
			return objective.VideoCriticLoss(m, p, s, rng)
		},
		Network: func(p *objective.VideoPhases) (*ad.Var, objective.Terms) { return objective.VideoNetworkLoss(m, p, s) },
	}), nil
}

// deterministicObjective is the baseline's: closed-loop (or teacher-forced)
// predictions with every unit at its mean, the network loss their pixel MSE
// against the true frames; the critics are left alone (a zero loss).
func deterministicObjective(m *model.MovingMNIST, s objective.VideoSettings) train.Objective[*objective.VideoPhases] {
	return train.Objective[*objective.VideoPhases]{
		Run: func(frames []*tensor.Tensor, _ *rand.Rand) *objective.VideoPhases {
			xs := make([]*ad.Var, len(frames))
			for i, f := range frames {
				xs[i] = ad.Const(f)
			}
			r := m.Rollout(xs, s.Context, s.Horizon, s.TeacherForcing, nil)
			return &objective.VideoPhases{
				TrueX: ad.Concat(0, xs[s.Context:s.Context+s.Horizon]...),
				PredX: ad.Concat(0, r.Pred[s.Context:s.Context+s.Horizon]...),
			}
		},
		Critic: func(*objective.VideoPhases, *rand.Rand) (*ad.Var, objective.Terms) {
			return ad.Const(tensor.Scalar(m.DType(), 0)), objective.Terms{}
		},
		Network: func(p *objective.VideoPhases) (*ad.Var, objective.Terms) {
			mse := ad.Mean(ad.Square(ad.Sub(p.PredX, p.TrueX)))
			return mse, objective.Terms{"pred/mse": mse.Item()}
		},
	}
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

// Feed builds the generators of the training sequences and of the fixed
// test sequences the pictures show. Sequence j of the run is sequence j
// (modulo TrainPool, if set) of the training generator, so that the batches
// are a pure function of the seed and the step. The pictures are the
// prediction strip predict-step<N>.png of the first PictureCount test
// sequences, with fixed noise, at the end of each epoch and of the run and
// every PictureEvery steps.
func (d *Data) Feed(tr *train.Trainer) (train.Feed, error) {
	t, err := View(tr)
	if err != nil {
		return nil, err
	}
	if d.Train == nil {
		return nil, errors.New("no training digits")
	}
	c := t.Config
	gen, err := movingmnist.NewGenerator(d.Train, c.Data, c.Seed^dataSeedMix)
	if err != nil {
		return nil, err
	}
	var test *movingmnist.Generator
	if d.Test != nil && c.PictureCount > 0 {
		if test, err = movingmnist.NewGenerator(d.Test, c.Data, movingmnist.TestSeed); err != nil {
			return nil, err
		}
	}
	batches := func(s int) [][]*tensor.Tensor {
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
			out[j] = gen.Batch(idx, t.Model.DType())
		}
		return out
	}
	pictures := func(m train.Moment) []string {
		pe := c.PictureEvery
		if test == nil || !(m.EpochEnd || m.Last || (pe > 0 && m.Step%pe == 0)) {
			return nil
		}
		return []string{fmt.Sprintf("predict-step%08d.png", m.Step)}
	}
	write := func(dir string, names []string) error {
		idx := make([]uint64, c.PictureCount)
		for i := range idx {
			idx[i] = uint64(i)
		}
		o := c.Objective
		frames := test.Batch(idx, t.Model.DType())
		preds := Predict(t.Model, frames, o.Context, o.Horizon, c.Noise(rand.New(rand.NewPCG(c.Seed, train.PredictionStream))))
		return imaging.SavePNG(filepath.Join(dir, names[0]), PredictionStrip(frames, preds, o.Context))
	}
	return &train.FeedFuncs{Steps: c.StepsPerEpoch(), BatchesOf: batches, PicturesAt: pictures, Write: write}, nil
}

// Trainer is a trainer of this experiment with its model and config at hand.
type Trainer = train.Typed[*model.MovingMNIST, *Config]

// View returns tr as a Moving MNIST trainer, or an error if it trains another
// experiment.
func View(tr *train.Trainer) (*Trainer, error) {
	return train.View[*model.MovingMNIST, *Config](tr, Name)
}

// NewTrainer builds a Moving MNIST trainer of cfg.
func NewTrainer(cfg Config) (*Trainer, error) {
	return train.NewTyped[*model.MovingMNIST](Experiment, &cfg)
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
	labels := make([]string, n)
	for b := range labels {
		labels[b] = fmt.Sprintf("dream %d", b+1)
	}
	return imaging.Annotate(imaging.GridFloats(cells, s, s, len(xs), 2), imaging.Caption{
		Title: fmt.Sprintf("Dreams: sleep-phase frames from z0 from N(0, I), step %d", t.Step), Rows: labels, Scale: magnify(s)}), nil
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
	preds := Predict(t.Model, frames, o.Context, o.Horizon, t.Config.Noise(rand.New(rand.NewPCG(t.Config.Seed, train.ReconStream))))
	return PredictionStrip(frames, preds, o.Context), nil
}

// TestItems implements train.Reconstructor: the test set is unbounded.
func (*experiment) TestItems(train.Data) int { return 1 << 20 }

// Predict returns the model's closed-loop prediction of frames context …
// context+horizon−1 given the first context frames (each [B, 1, S, S]): the
// encoder reads the context, then its own predictions. One sample of the
// stochastic model, with noise from rng (nil: every unit at its mean, as a
// deterministic run predicts); nothing is recorded.
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
// horizon predicted frames). Sequences are separated by a blank row. The
// rows are labelled "context", "truth" and "prediction", and small frames
// magnified (magnify).
func PredictionStrip(frames, preds []*tensor.Tensor, context int) image.Image {
	horizon := len(preds)
	s := frames[0].Dim(2)
	batch := frames[0].Dim(0)
	blank := make([]float64, s*s)
	for i := range blank {
		blank[i] = float64(imaging.PadGray) / 255
	}
	var cells [][]float64
	var labels []string
	for b := 0; b < batch; b++ {
		if b > 0 {
			for i := 0; i < horizon; i++ {
				cells = append(cells, blank)
			}
			labels = append(labels, "")
		}
		labels = append(labels, "context", "truth", "prediction")
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
	shown := min(context, horizon)
	return imaging.Annotate(imaging.GridFloats(cells, s, s, horizon, 2), imaging.Caption{
		Title: fmt.Sprintf("Each sequence: the last %d context frames, the %d true next frames, the %d predicted", shown, horizon, horizon),
		Rows:  labels, Scale: magnify(s)})
}

// magnify is how much pictures of frames of s pixels are magnified: twice
// below 48 pixels (a 28-pixel digit is too small to see), else not at all
// (the paper's 64-pixel frames).
func magnify(s int) int {
	if s < 48 {
		return 2
	}
	return 1
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

// Describe implements train.Describer: the model's description; frames
// are in [0, 1] (pixel scale "unit").
func (*experiment) Describe(tr *train.Trainer) (map[string]any, error) {
	t, err := View(tr)
	if err != nil {
		return nil, err
	}
	d := t.Model.Describe()
	d["pixel_scale"] = "unit"
	return d, nil
}
