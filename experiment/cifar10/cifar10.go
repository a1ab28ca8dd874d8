// Package cifar10 is the CIFAR-10 experiment (Sec. 5.2, Fig. 4): the
// hierarchical model of model.CIFAR10 trained towards Eq. 8 on all six
// layers with γ = 0.5 (objective.CIFAR10CriticLoss, CIFAR10NetworkLoss).
package cifar10

import (
	"errors"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"

	ad "github.com/wakesleep/wakesleep/autodiff"
	cifardata "github.com/wakesleep/wakesleep/data/cifar10"
	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/objective"
	"github.com/wakesleep/wakesleep/tensor"
	"github.com/wakesleep/wakesleep/train"
)

// Name is the experiment's name, the "experiment" field of its config.
const Name = "cifar10"

// Experiment is the CIFAR-10 experiment.
var Experiment = &experiment{train.Base[Config, *Config]{
	PresetList: []train.Preset{train.Fixed("quick", QuickConfig), train.Fixed("paper", PaperConfig)},
	About: train.About{ExperimentName: Name, About: train.Info{
		Summary: "CIFAR-10 hierarchical stochastic DCGAN with six critics (Sec. 5.2)",
		Usage: `Trains the hierarchical CIFAR-10 model (Sec. 5.2, Fig. 4 and Appendix A.1.4
of the paper): a stochastic DCGAN with five stochastic layers (32, 64, 128,
256 and 100 channels), every layer a reparameterised Gaussian followed by ReLU
and pixel-wise normalisation, one critic per layer (six), towards Eq. 8 with
gamma 0.5. Writes a run folder: config.json, metrics.csv, checkpoints, and
PNG grids of samples and of test images beside their reconstructions:
through the whole hierarchy, x -> z5 -> x (recon-*.png; recon-mean-*.png
shows the last step's mean instead of a sample), and one step down from the
inferred z1 (recon1-*.png, the mean).

--data takes the official binary batches (a folder with data_batch_1.bin ...
test_batch.bin, or cifar-10-binary.tar.gz), an image tree
(<split>/<class>/*.png|jpg) or a tarball of one, read directly. Without
--data the data are looked for in the folder $` + cifardata.DataEnv + ` names, then in the
current folder: cifar-10-batches-bin/, cifar-10-binary.tar.gz (the official
binary batches, https://www.cs.toronto.edu/~kriz/cifar.html) or
cifar10-jpeg.tar.gz.

Presets: "quick" (default: the first 5,000 training images, batch 64, 5
epochs) and "paper" (all 50,000, batch 512, 400 epochs, learning-rate decay
from epoch 200 to 250, as Appendix A.1.2).

Examples:
  $ wakesleep train cifar10
  $ wakesleep train cifar10 --data ~/cifar-10-batches-bin --run runs/cifar
  $ wakesleep train cifar10 --preset paper --data cifar-10-binary.tar.gz
  $ wakesleep train cifar10 --channels 16,32,64,128,100 --critic-channels 16,32,64,64,64,64
  $ wakesleep train --run runs/cifar --resume

Phase silencing (Sec. 4.4, the hierarchical version; 'wakesleep probe --study
silencing' compares the runs): --silence-layer K --silence-channels S holds
the channels S of layer zK at zero in its top-down and sleep samples, and
--sham-channels S (same K, same seed, a separate run) redraws their noise
instead, a control that leaves the model's distribution unchanged:
  $ wakesleep train cifar10 --silence-layer 2 --silence-channels 0,1,2,3 --run runs/cifar-silenced
  $ wakesleep train cifar10 --silence-layer 2 --sham-channels 0,1,2,3 --run runs/cifar-sham`,
		DataHelp: "CIFAR-10 binary batches, image tree or tarball (default: found in $" + cifardata.DataEnv + " or the current folder)",
		Items:    "images",
	}}}}

type experiment struct {
	train.Base[Config, *Config]
}

func (*experiment) Flags() []train.Flag {
	type C = *Config
	flags := train.WeightFlags("γ of Eq. 8: weight of the wake/sleep terms against the oscillatory ones (default: from the preset, 0.5)", "weight of the critic-feature reconstruction loss L_RECON (default: from the preset, 1)",
		func(c C) (*float64, *float64, *float64) {
			return &c.Objective.Gamma, &c.Objective.Lambda, &c.Objective.ReconWeight
		})
	return append(flags,
		train.StringFlag("recon-layers", objective.ReconLayersHelp, func(c C) *string { return &c.Objective.ReconLayers }),
		train.FloatFlag("chain-recon-weight", "weight of the image's reconstruction through the whole hierarchy (x -> z_L -> x-hat, compared on D_x's features as L_RECON; a deviation: the paper reconstructs each layer one step down only; default 0: none)", func(c C) *float64 { return &c.Objective.ChainReconWeight }),
		train.StringFlag("chain-recon-space", "where --chain-recon-weight compares x-hat with x: features (D_x's, as L_RECON; the default) or pixels (mean squared difference: a target that does not move with the critic)", func(c C) *string { return &c.Objective.ChainReconSpace }),
		train.FloatFlag("sleep-infer-weight", "weight of the Helmholtz machine's sleep phase: each inference arrow's mean recovers the dream's layer above, sum over layers of mean (act(mu_q(z_i sleep)) - z_{i+1} sleep)^2, the cause a fixed target (a deviation: the paper's sleep phase is adversarial only; default 0: none)", func(c C) *float64 { return &c.Objective.SleepInferWeight }),
		train.IntListFlag("channels", "channels of the stochastic layers z1,...,zL, comma-separated (default: 32,64,128,256,100)", func(c C) *[]int { return &c.Model.Channels }),
		train.IntListFlag("critic-channels", "first-conv channels of the critics of x,z1,...,zL (default: 32,64,128,128,128,128)", func(c C) *[]int { return &c.Model.CriticChannels }),
		train.IntFlag("out-kernel", "kernel of the hidden -> (mean, std) convolution of every layer: 1 or 3 (default: from the preset, 1)", func(c C) *int { return &c.Model.OutKernel }),
		train.FloatFlag("init-std", "initial standard deviation of every stochastic layer (default 0.1; 0: PyTorch's init, about 0.69)", func(c C) *float64 { return &c.Model.InitStd }),
		train.FloatFlag("max-std", "bound every arrow's sigma: sigma = M*sigmoid(s) instead of softplus(s) (0: no bound, the default)", func(c C) *float64 { return &c.Model.MaxStd }),
		train.BoolFlag("mean-norm", "divide every arrow's mean by its RMS over channels before the noise (not the image's): a deviation that keeps the upper layers' means from collapsing to zero under ReLU+PixelNorm (default: off, the paper)", func(c C) *bool { return &c.Model.MeanNorm }),
		train.StringFlag("top-activation", "top layer: linear (Gaussian, matches the N(0,I) prior) or relu-norm (prior samples rectified and normalised too)", func(c C) *string { return &c.Model.TopActivation }),
		train.StringFlag("pixel-scale", "pixel range: sym ([-1,1]) or unit ([0,1]) (default: from the preset, sym)", func(c C) *string { return &c.PixelScale }),
		train.IntFlag("train-limit", "use only N training images, evenly spaced over the set so that every class is in it (0: all; default: the preset's)", func(c C) *int { return &c.TrainLimit }),
		train.IntFlag("picture-every", "steps between picture grids (0: once per epoch)", func(c C) *int { return &c.PictureEvery }),
		train.IntFlag("silence-layer", "hidden layer K (1 to L-1: z1 ... z4 of the paper's model) whose top-down phase --silence-channels and --sham-channels perturb (the hierarchical phase-silencing perturbation of Sec. 4.4; default 0: none)", func(c C) *int { return &c.Objective.SilenceLayer }),
		channelsFlag("silence-channels", "channels of layer --silence-layer held at zero in its sleep and top-down samples (the sleep chain below is dreamt from the silenced layer), comma-separated, e.g. 0,1,2,3 (default none)",
			func(c C) *[]int { return &c.Objective.SilenceChannels }),
		channelsFlag("sham-channels", "channels of layer --silence-layer whose noise is redrawn in its sleep and top-down samples: the sham control of --silence-channels (the same channels manipulated, the layer's distribution unchanged; a channel may not be in both; default none)",
			func(c C) *[]int { return &c.Objective.ShamChannels }),
	)
}

// channelsFlag is a flag listing distinct channel indices ≥ 0; Validate
// checks them against the layer, which other flags may set later.
func channelsFlag(name, usage string, field func(*Config) *[]int) train.Flag {
	return train.Flag{Name: name, Type: "string", Usage: usage, Set: func(cfg train.Config, s string) error {
		c := cfg.(*Config)
		if strings.TrimSpace(s) == "" {
			*field(c) = nil
			return nil
		}
		var out []int
		seen := map[int]bool{}
		for _, f := range strings.Split(s, ",") {
			v, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || v < 0 {
				return fmt.Errorf("--%s: %q is not a channel index (want comma-separated integers ≥ 0)", name, f)
			}
			if seen[v] {
				return fmt.Errorf("--%s: channel %d is listed twice", name, v)
			}
			seen[v] = true
			out = append(out, v)
		}
		*field(c) = out
		return nil
	}}
}

func (*experiment) NewModel(cfg train.Config, rng *rand.Rand) (train.Model, error) {
	c := cfg.(*Config)
	m, err := model.NewCIFAR10(c.Model, tensor.Float32, rng)
	if err != nil {
		return nil, err
	}
	s := c.Objective
	return train.Bind(m, train.Objective[*objective.HierPhases]{
		Run: func(b []*tensor.Tensor, rng *rand.Rand) *objective.HierPhases {
			return objective.RunHierPhases(m, ad.Const(b[0]), s, rng)
		},
		Critic: func(p *objective.HierPhases, rng *rand.Rand) (*ad.Var, objective.Terms) {
			return objective.CIFAR10CriticLoss(m, p, s, rng)
		},
		Network: func(p *objective.HierPhases) (*ad.Var, objective.Terms) { return objective.CIFAR10NetworkLoss(m, p, s) },
	}), nil
}

// Data are the training and test images of a run.
type Data struct {
	Train, Test *cifardata.Set
}

// Data reads the training and test images (LoadData).
func (*experiment) Data(path string, out io.Writer) (train.Data, error) {
	tr, te, err := LoadData(path, out)
	if err != nil {
		return nil, err
	}
	return &Data{Train: tr, Test: te}, nil
}

// LoadData reads CIFAR-10 from path (binary batches, image tree or a
// tarball), by default found by cifardata.Find.
func LoadData(path string, out io.Writer) (trainSet, testSet *cifardata.Set, err error) {
	if path == "" {
		if path, err = cifardata.Find(); err != nil {
			return nil, nil, err
		}
	}
	if out != nil {
		fmt.Fprintf(out, "reading %s\n", path)
	}
	return cifardata.Load(path)
}

// Feed checks that the images give at least one step an epoch. The
// pictures are, at the end of each epoch and of the run (tag epochNNN) and
// every PictureEvery steps (tag stepNNNNNNN): samples-<tag>.png and, with a
// test set, recon-, recon-mean- and recon1-<tag>.png.
func (d *Data) Feed(tr *train.Trainer) (train.Feed, error) {
	t, err := View(tr)
	if err != nil {
		return nil, err
	}
	if d.Train == nil || d.Train.N == 0 {
		return nil, errors.New("no training data")
	}
	pictures := func(m train.Moment) []string {
		var tag string
		switch {
		case m.EpochEnd || m.Last:
			tag = fmt.Sprintf("epoch%03d", m.Epoch)
		case t.Config.PictureEvery > 0 && m.Step%t.Config.PictureEvery == 0:
			tag = fmt.Sprintf("step%07d", m.Step)
		default:
			return nil
		}
		names := []string{"samples-" + tag + ".png"}
		if d.Test != nil && d.Test.N > 0 {
			names = append(names, "recon-"+tag+".png", "recon-mean-"+tag+".png", "recon1-"+tag+".png")
		}
		return names
	}
	write := func(dir string, names []string) error {
		imgs := []image.Image{Samples(t, 64)}
		if len(names) > 1 {
			r, err := Reconstructions(t, d.Test, min(32, d.Test.N))
			if err != nil {
				return err
			}
			imgs = append(imgs, r.Full, r.FullMean, r.OneStep)
		}
		for i, img := range imgs {
			if err := imaging.SavePNG(filepath.Join(dir, names[i]), img); err != nil {
				return err
			}
		}
		return nil
	}
	used := train.UsedImages(d.Train.N, t.Config.TrainLimit)
	// The used images are spread over the set, so that every class is in
	// them whatever its order (an image tree is read sorted by class: its
	// first 5,000 images are all airplanes).
	pick := cifardata.Spread(d.Train.N, used)
	batch := func(idx []int) *tensor.Tensor {
		set := make([]int, len(idx))
		for i, j := range idx {
			set[i] = pick[j]
		}
		return d.Train.Batch(set, t.Model.DType(), t.Config.PixelScale)
	}
	return train.SetFeed(&t.Config.Settings, used, batch, pictures, write)
}

// Trainer is a trainer of this experiment with its model and config at hand.
type Trainer = train.Typed[*model.CIFAR10, *Config]

// View returns tr as a CIFAR-10 trainer, or an error if it trains another
// experiment.
func View(tr *train.Trainer) (*Trainer, error) { return train.View[*model.CIFAR10, *Config](tr, Name) }

// NewTrainer builds a CIFAR-10 trainer of cfg.
func NewTrainer(cfg Config) (*Trainer, error) {
	return train.NewTyped[*model.CIFAR10](Experiment, &cfg)
}

// images maps model pixels [N, 3, 32, 32] to [0, 1] for pictures (clamped
// by imaging).
func images(x *tensor.Tensor, scale string) *tensor.Tensor {
	if scale == cifardata.ScaleSym {
		return tensor.Affine(x, 0.5, 0.5)
	}
	return x
}

// Samples returns a grid of n sleep samples, generated top-down from fixed
// prior noise, 8 to a row.
func Samples(t *Trainer, n int) image.Image {
	rng := rand.New(rand.NewPCG(t.Config.Seed, train.SampleStream))
	x := t.Model.Generate(t.Model.Prior(n, rng), rng)[0]
	return imaging.Annotate(imaging.Grid(images(x.Value, t.Config.PixelScale), 8, 2), imaging.Caption{
		Title: fmt.Sprintf("Sleep samples, top-down from the prior, step %d", t.Step), Scale: 2})
}

// Recons are grids of test images, each beside a reconstruction.
type Recons struct {
	Full     image.Image // through the whole hierarchy and back, every step sampled
	FullMean image.Image // the same up to z₁, then E[x | z₁]
	OneStep  image.Image // E[x | z₁] with z₁ ~ q_φ(z₁ | x)
}

// Reconstructions returns grids of n test images, evenly spaced over the
// set (so that every class shows: the sets are sorted by class), each beside
// its reconstructions, 4 pairs to a row.
func Reconstructions(t *Trainer, test *cifardata.Set, n int) (*Recons, error) {
	if n <= 0 || n > test.N {
		return nil, fmt.Errorf("reconstructions: %d images asked of a test set of %d", n, test.N)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i * test.N / n
	}
	x := test.Batch(idx, t.Model.DType(), t.Config.PixelScale)
	rng := rand.New(rand.NewPCG(t.Config.Seed, train.ReconStream))
	m := t.Model
	up := m.Infer(ad.Const(x), rng)
	down := m.Generate(up[len(up)-1], rng) // down[0] is the full sampled reconstruction
	s := t.Config.PixelScale
	pair := func(r *ad.Var, what string) image.Image {
		return imaging.Annotate(imaging.SideBySide(images(x, s), images(r.Value, s), 4, 2), imaging.Caption{
			Title: fmt.Sprintf("Test images (left of each pair) and %s (right), step %d", what, t.Step), Scale: 2})
	}
	return &Recons{
		Full:     pair(down[0], "reconstructions through the whole hierarchy"),
		FullMean: pair(m.GenerateMean(0, down[1]), "the same, E[x|z1] at the last step"),
		OneStep:  pair(m.GenerateMean(0, up[1]), "E[x|z1], z1 from q(z1|x)"),
	}, nil
}

// TinyConfig is the paper's geometry (5 stochastic layers, 32×32 images)
// with few channels, batch 4, 2 epochs (train.Tester).
func (*experiment) TinyConfig() train.Config {
	c := QuickConfig()
	c.Model.Channels = []int{4, 4, 4, 4, 4}
	c.Model.CriticChannels = []int{2, 2, 2, 2, 2, 2}
	c.BatchSize = 4
	c.TrainLimit = 0
	c.Epochs = 2
	c.LogEvery = 1
	return &c
}

// FakeData are 16 training and 8 test images of random pixels: 4 steps an
// epoch of TinyConfig (train.Tester).
func (*experiment) FakeData() train.Data {
	return &Data{Train: FakeSet(16, 1), Test: FakeSet(8, 2)}
}

// FakeSet returns n random images in 10 classes.
func FakeSet(n int, seed uint64) *cifardata.Set {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &cifardata.Set{Images: make([]uint8, n*cifardata.ImageBytes), Labels: make([]uint8, n), Classes: cifardata.ClassNames[:], N: n}
	for i := range s.Images {
		s.Images[i] = uint8(rng.IntN(256))
	}
	for i := range s.Labels {
		s.Labels[i] = uint8(i % 10)
	}
	return s
}

// Sample implements train.Sampler.
func (*experiment) Sample(tr *train.Trainer, n int) (image.Image, error) {
	t, err := View(tr)
	if err != nil {
		return nil, err
	}
	return Samples(t, n), nil
}

// Reconstruct implements train.Reconstructor: n test images (the top row)
// beside their reconstructions through each depth d (a row each, d = 1 … L,
// or only the one asked for): x → z₁ → … → z_d sampled bottom-up, then
// z_{d−1} … z₁ sampled top-down and the mean image E[x | z₁].
func (*experiment) Reconstruct(tr *train.Trainer, data train.Data, n, depth int) (image.Image, error) {
	t, err := View(tr)
	if err != nil {
		return nil, err
	}
	test := data.(*Data).Test
	L := t.Model.Layers()
	if depth < 0 || depth > L {
		return nil, fmt.Errorf("--depth %d: the model has depths 1 to %d (0: all)", depth, L)
	}
	if n <= 0 || n > test.N {
		return nil, fmt.Errorf("reconstructions: %d images asked of a test set of %d", n, test.N)
	}
	depths := []int{depth}
	if depth == 0 {
		depths = nil
		for d := 1; d <= L; d++ {
			depths = append(depths, d)
		}
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i * test.N / n
	}
	x := test.Batch(idx, t.Model.DType(), t.Config.PixelScale)
	rows := []*tensor.Tensor{images(x, t.Config.PixelScale)}
	labels := []string{"test images"}
	for _, d := range depths {
		rng := rand.New(rand.NewPCG(t.Config.Seed, train.ReconStream))
		rows = append(rows, images(ReconstructDepth(t.Model, x, d, rng).Value, t.Config.PixelScale))
		labels = append(labels, fmt.Sprintf("depth %d", d))
	}
	return imaging.Annotate(imaging.Grid(tensor.Concat(0, rows...), n, 2), imaging.Caption{
		Title: fmt.Sprintf("Reconstructions E[x|z1] through each depth of the hierarchy, step %d", t.Step), Rows: labels, Scale: 2}), nil
}

// ReconstructDepth returns E[x | z₁] after going up to depth d and back
// down: z₁ … z_d ~ q_φ bottom-up from x, z_{d−1} … z₁ ~ p_θ top-down from
// z_d, with noise from rng.
func ReconstructDepth(m *model.CIFAR10, x *tensor.Tensor, d int, rng *rand.Rand) *ad.Var {
	z := ad.Const(x)
	for i := 0; i < d; i++ {
		z = m.InferStep(i, z, rng)
	}
	for i := d - 1; i >= 1; i-- {
		z = m.GenerateStep(i, z, rng)
	}
	return m.GenerateMean(0, z)
}

// TestItems implements train.Reconstructor.
func (*experiment) TestItems(data train.Data) int { return data.(*Data).Test.N }

// Describe implements train.Describer: the model's description and the
// pixel scale of its images ("sym": byte/127.5 − 1; "unit": byte/255).
func (*experiment) Describe(tr *train.Trainer) (map[string]any, error) {
	t, err := View(tr)
	if err != nil {
		return nil, err
	}
	d := t.Model.Describe()
	d["pixel_scale"] = t.Config.PixelScale
	return d, nil
}
