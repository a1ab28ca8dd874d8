// Package mnist is the MNIST experiment (Sec. 5.1 of the paper): the
// recurrent stochastic autoencoder of model.MNIST trained with the global
// critic (adversarial wake/sleep, Eq. 4) or local critics (the oscillatory
// algorithm, Eq. 7–8). New binds the same model to another set of 28×28
// images (Fashion-MNIST).
package mnist

import (
	"errors"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	ad "github.com/wakesleep/wakesleep/autodiff"
	mnistdata "github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/objective"
	"github.com/wakesleep/wakesleep/tensor"
	"github.com/wakesleep/wakesleep/train"
)

// Name is the experiment's name, the "experiment" field of its config.
const Name = "mnist"

// Experiment is the MNIST experiment.
var Experiment = New(Name, train.Info{
	Summary: "MNIST recurrent stochastic autoencoder, global or local critics (Sec. 5.1)",
	Usage: `Trains the MNIST recurrent stochastic autoencoder (Sec. 5.1 of the paper) with
the global critic (adversarial wake/sleep, Eq. 4) or local critics (the
oscillatory algorithm, Eq. 7-8). Writes a run folder: config.json, metrics.csv,
PNG grids of samples and reconstructions each epoch, and checkpoints.

Presets: "quick" (default; a short run that finishes in minutes) and "paper"
(400 epochs of batch 512, learning-rate decay, as Appendix A.1.2).

Examples:
  $ wakesleep train
  $ wakesleep train mnist --algorithm global --epochs 20 --run runs/global
  $ wakesleep train --preset paper --algorithm local --gamma 0.1
  $ wakesleep train --run runs/global --resume`,
	DataHelp: "folder with MNIST IDX files (default: the copy embedded in the binary)",
	Items:    "digits",
}, LoadData)

// Kind is an experiment of the MNIST model on a set of 28×28 gray images.
type Kind struct {
	train.About
	load func(dir string) (trainSet, testSet *mnistdata.Set, err error)
}

// New returns the experiment of the MNIST model on the images load reads
// from a folder ("" for the default).
func New(name string, info train.Info, load func(dir string) (trainSet, testSet *mnistdata.Set, err error)) *Kind {
	k := &Kind{About: train.About{ExperimentName: name, About: info}, load: load}
	kinds = append(kinds, k)
	return k
}

// kinds are the experiments of the MNIST model, which LoadTrainer opens.
var kinds train.Registry

// Presets are "quick" (QuickConfig) and "paper" (PaperConfig), for the
// critic named by --algorithm (default local).
func (k *Kind) Presets() []train.Preset {
	preset := func(name string, config func(critic string) Config) train.Preset {
		return train.Preset{Name: name, New: func(args map[string]string) (train.Config, error) {
			critic := model.CriticLocal
			if a, ok := args["algorithm"]; ok {
				critic = a
			}
			if critic != model.CriticGlobal && critic != model.CriticLocal {
				return nil, fmt.Errorf("--algorithm %q: want global or local", critic)
			}
			c := config(critic)
			c.Experiment = k.ExperimentName
			return &c, nil
		}}
	}
	return []train.Preset{preset("quick", QuickConfig), preset("paper", PaperConfig)}
}

func (k *Kind) NewConfig() train.Config { return &Config{} }

// Flags are the MNIST model's and objective's flags.
func (k *Kind) Flags() []train.Flag {
	type C = *Config
	// units is a flag listing latent units, parsed against --z-dim (defined
	// earlier, so it is applied first).
	units := func(name, usage string, field func(C) *[]int) train.Flag {
		return train.Flag{Name: name, Type: "string", Usage: usage,
			Set: func(cfg train.Config, s string) error {
				c := cfg.(C)
				if s == "" {
					*field(c) = nil
					return nil
				}
				u, err := parseUnits(s, c.Model.ZDim)
				if err != nil {
					return fmt.Errorf("--%s: %v", name, err)
				}
				*field(c) = u
				return nil
			}}
	}
	silence := units("silence-z", "latent units held at zero in the sleep phase, comma-separated, e.g. 0,1,2 (the phase-silencing perturbation of Sec. 4.4; default none)",
		func(c C) *[]int { return &c.Objective.SilenceSleepZ })
	sham := units("sham-z", "latent units redrawn from N(0, 1) in the sleep phase, comma-separated: the sham control of --silence-z (the same units manipulated, the prior unchanged; a unit may not be in both; default none)",
		func(c C) *[]int { return &c.Objective.ShamSleepZ })
	pictures := train.StringFlag("pictures", "epoch grids: samples (as the paper), means (noise-free: every Gaussian unit at its mean) or both (default)", func(c C) *string { return &c.Pictures })
	pictures.Resumable = true
	flags := []train.Flag{{Name: "algorithm", Type: "string", Usage: "global (one critic on (x,z), Eq. 4) or local (per-layer critics, Eq. 8)", Preset: true}}
	flags = append(flags, train.WeightFlags("γ of Eq. 8 (default: 1 for global, 0.1 for local)", "weight of the critic-feature reconstruction loss L_RECON (default: from the preset; Eq. 8's 1)",
		func(c C) (*float64, *float64, *float64) {
			return &c.Objective.Gamma, &c.Objective.Lambda, &c.Objective.ReconWeight
		})...)
	return append(flags,
		train.StringFlag("recon-layers", objective.ReconLayersHelp, func(c C) *string { return &c.Objective.ReconLayers }),
		train.FloatFlag("init-std", "initial standard deviation of every Gaussian unit (default: from the preset; 0: PyTorch's init, about 0.69)", func(c C) *float64 { return &c.Model.InitStd }),
		train.FloatFlag("max-std", "bound on every Gaussian unit's σ: σ = max·sigmoid(s) instead of softplus(s) (default: from the preset; 0: no bound)", func(c C) *float64 { return &c.Model.MaxStd }),
		train.IntFlag("recurrent-steps", "steps of stochastic recurrence in each network (default: from the preset; 1)", func(c C) *int { return &c.Model.RecurrentSteps }),
		train.PositiveIntFlag("hidden", "hidden units in every stochastic layer (default: 512, as the paper)", func(c C) *int { return &c.Model.Hidden }),
		train.PositiveIntFlag("critic-width", "units in each critic hidden layer (default: 512, as the paper)", func(c C) *int { return &c.Model.CriticWidth }),
		train.PositiveIntFlag("z-dim", "latent units z (default: 64, as the paper)", func(c C) *int { return &c.Model.ZDim }),
		train.StringFlag("pixel-scale", "pixel range: unit ([0,1]) or sym ([-1,1]) (default: from the preset; unit)", func(c C) *string { return &c.PixelScale }),
		train.IntFlag("train-limit", "use only the first N training images (0: all)", func(c C) *int { return &c.TrainLimit }),
		train.FloatFlag("sleep-infer-weight", "weight of the Helmholtz machine's sleep phase: inference recovers the dream's cause, mean (mu_q(x sleep) - z sleep)^2, the cause a fixed target (a deviation: the paper's sleep phase is adversarial only; default 0: none)", func(c C) *float64 { return &c.Objective.SleepInferWeight }),
		pictures,
		silence,
		sham,
	)
}

// parseUnits parses a comma-separated list of distinct unit indices in
// [0, n).
func parseUnits(s string, n int) ([]int, error) {
	var units []int
	seen := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		u, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q is not a unit index", f)
		}
		if u < 0 || u >= n {
			return nil, fmt.Errorf("unit %d is outside 0..%d", u, n-1)
		}
		if seen[u] {
			return nil, fmt.Errorf("unit %d is listed twice", u)
		}
		seen[u] = true
		units = append(units, u)
	}
	return units, nil
}

func (k *Kind) NewModel(cfg train.Config, rng *rand.Rand) (train.Model, error) {
	c := cfg.(*Config)
	m, err := model.NewMNIST(c.Model, tensor.Float32, rng)
	if err != nil {
		return nil, err
	}
	s := c.Objective
	return train.Bind(m, train.Objective[*objective.Phases]{
		Run: func(b []*tensor.Tensor, rng *rand.Rand) *objective.Phases {
			return objective.RunPhases(m, ad.Const(b[0]), s, rng)
		},
		Critic: func(p *objective.Phases, rng *rand.Rand) (*ad.Var, objective.Terms) {
			return objective.CriticLoss(m, p, s, rng)
		},
		Network: func(p *objective.Phases) (*ad.Var, objective.Terms) { return objective.NetworkLoss(m, p, s) },
	}), nil
}

// Data are the training and test images of a run.
type Data struct {
	Train, Test *mnistdata.Set
}

// Feed checks that the images fit the model and give at least one step an
// epoch. The pictures are, at the end of each epoch and of the run, the
// epoch's sample grid (from fixed noise) and, with a test set, the grid of
// fixed test digits beside their reconstructions.
func (d *Data) Feed(tr *train.Trainer) (train.Feed, error) {
	t, err := View(tr)
	if err != nil {
		return nil, err
	}
	if d.Train == nil {
		return nil, errors.New("no training data")
	}
	for _, s := range []struct {
		name string
		set  *mnistdata.Set
	}{{"training", d.Train}, {"test", d.Test}} {
		if s.set != nil && s.set.Rows*s.set.Cols != t.Config.Model.XDim {
			return nil, fmt.Errorf("%s images are %d×%d, the model takes %d pixels", s.name, s.set.Rows, s.set.Cols, t.Config.Model.XDim)
		}
	}
	var grids []epochGrid // those that can be drawn: reconstructions need a test set
	for _, g := range epochGrids(t.Config.Pictures) {
		if !g.recon || (d.Test != nil && d.Test.N > 0) {
			grids = append(grids, g)
		}
	}
	pictures := func(m train.Moment) []string {
		if !m.EpochEnd && !m.Last {
			return nil
		}
		names := make([]string, len(grids))
		for i, g := range grids {
			names[i] = fmt.Sprintf(g.pattern, m.Epoch)
		}
		return names
	}
	write := func(dir string, names []string) error {
		for i, g := range grids {
			img, err := g.draw(t, d.Test)
			if err != nil {
				return err
			}
			if err := imaging.SavePNG(filepath.Join(dir, names[i]), img); err != nil {
				return err
			}
		}
		return nil
	}
	batch := func(idx []int) *tensor.Tensor { return d.Train.Batch(idx, t.Model.DType(), t.Config.PixelScale) }
	return train.SetFeed(&t.Config.Settings, train.UsedImages(d.Train.N, t.Config.TrainLimit), batch, pictures, write)
}

// Trainer is a trainer of the MNIST model with its model and config at hand.
type Trainer struct {
	*train.Typed[*model.MNIST, *Config]
}

// View returns tr as an MNIST-model trainer, or an error if it trains
// another experiment.
func View(tr *train.Trainer) (*Trainer, error) {
	t, err := train.View[*model.MNIST, *Config](tr, "one of the MNIST model")
	if err != nil {
		return nil, err
	}
	return &Trainer{t}, nil
}

// NewTrainer builds an MNIST trainer of cfg.
func NewTrainer(cfg Config) (*Trainer, error) {
	t, err := train.NewTyped[*model.MNIST](Experiment, &cfg)
	if err != nil {
		return nil, err
	}
	return &Trainer{t}, nil
}

// StepsPerEpoch returns the number of full batches in an epoch over n
// training images.
func (t *Trainer) StepsPerEpoch(n int) int {
	return train.UsedImages(n, t.Config.TrainLimit) / (t.Config.BatchSize * t.Config.CriticSteps)
}

// Batches returns the critic-step batches of global step s (0-based) over
// set (its first TrainLimit images, if set).
func (t *Trainer) Batches(set *mnistdata.Set, s int) [][]*tensor.Tensor {
	c := t.Config
	batch := func(idx []int) *tensor.Tensor { return set.Batch(idx, t.Model.DType(), c.PixelScale) }
	return train.SetBatches(&c.Settings, batch, train.UsedImages(set.N, c.TrainLimit), s)
}

// LoadTrainer rebuilds a trainer of the MNIST model (of any experiment New
// made: MNIST, Fashion-MNIST) from a checkpoint file,
// or from the newest good checkpoint of a run folder. It returns the file it
// read. A warning about skipped corrupt checkpoints goes to os.Stderr.
func LoadTrainer(path string) (*Trainer, string, error) {
	return LoadTrainerWarn(path, os.Stderr)
}

// LoadTrainerWarn is LoadTrainer with the fallback warning written to warn.
func LoadTrainerWarn(path string, warn io.Writer) (*Trainer, string, error) {
	tr, p, err := kinds.Open(path, warn)
	if err != nil {
		return nil, "", err
	}
	t, err := View(tr)
	return t, p, err
}

// toImages turns model pixels [N, 784] into [N, 1, 28, 28] in [0, 1].
func toImages(x *tensor.Tensor, scale string) *tensor.Tensor {
	v := x.Clone()
	if scale == "sym" {
		v = tensor.Affine(v, 0.5, 0.5)
	}
	for i := 0; i < v.Len(); i++ {
		f := v.At(i)
		if f < 0 {
			f = 0
		} else if f > 1 {
			f = 1
		}
		v.SetAt(i, f)
	}
	return v.Reshape(x.Dim(0), 1, 28, 28)
}

// Samples returns a grid of n sleep samples from fixed noise.
func Samples(t *Trainer, n int) (image.Image, error) {
	rng := rand.New(rand.NewPCG(t.Config.Seed, train.SampleStream))
	x := t.Model.Generate(t.Model.Prior(n, rng), rng)
	return imaging.Annotate(imaging.Grid(toImages(x.Value, t.Config.PixelScale), 8, 2), imaging.Caption{
		Title: fmt.Sprintf("Sleep samples (z from N(0, I), x from p(x|z)), step %d", t.Step), Scale: 3}), nil
}

// reconCaption is the caption of a grid of test items beside their
// reconstructions (the model's own word for its items: digits, images).
func reconCaption(t *Trainer, what string) imaging.Caption {
	items := t.Experiment.Info().Items
	return imaging.Caption{Title: fmt.Sprintf("Test %s (left of each pair) and their %s (right), step %d", items, what, t.Step), Scale: 2}
}

// Reconstructions returns the first n test digits, each beside its
// reconstruction x̂ ~ p_θ(x|z), z ~ q_φ(z|x).
func Reconstructions(t *Trainer, test *mnistdata.Set, n int) (image.Image, error) {
	x, err := firstDigits(t, test, n)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(t.Config.Seed, train.ReconStream))
	r := t.Model.Generate(t.Model.Infer(ad.Const(x), rng), rng)
	return imaging.Annotate(imaging.SideBySide(toImages(x, t.Config.PixelScale), toImages(r.Value, t.Config.PixelScale), 8, 2),
		reconCaption(t, "reconstructions")), nil
}

// firstDigits returns the first n test digits in the model's pixel scale,
// checking that there are n and that they fit the model.
func firstDigits(t *Trainer, test *mnistdata.Set, n int) (*tensor.Tensor, error) {
	if n <= 0 || n > test.N {
		return nil, fmt.Errorf("reconstructions: %d digits asked of a test set of %d", n, test.N)
	}
	if d := test.Rows * test.Cols; d != t.Model.Config.XDim {
		return nil, fmt.Errorf("reconstructions: test images have %d pixels, the model takes %d", d, t.Model.Config.XDim)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return test.Batch(idx, t.Model.DType(), t.Config.PixelScale), nil
}

// Data reads the experiment's training and test images from path ("": the
// default).
func (k *Kind) Data(path string, out io.Writer) (train.Data, error) {
	tr, te, err := k.load(path)
	if err != nil {
		return nil, err
	}
	return &Data{Train: tr, Test: te}, nil
}

// LoadData reads both splits of MNIST, embedded or from dir, and checks that
// they hold 28×28 images, the size the model takes.
func LoadData(dir string) (trainSet, testSet *mnistdata.Set, err error) {
	return LoadSplits(dir, mnistdata.Load)
}

// LoadSplits reads the train and test splits of a set of 28×28 images from
// the IDX files in dir, or with def if dir is "", and checks their size;
// errors name the file read.
func LoadSplits(dir string, def func(split string) (*mnistdata.Set, error)) (trainSet, testSet *mnistdata.Set, err error) {
	check := func(split string) (*mnistdata.Set, error) {
		var s *mnistdata.Set
		var err error
		if dir == "" {
			s, err = def(split)
		} else {
			s, err = mnistdata.LoadDir(dir, split)
		}
		if err == nil && (s.Rows != 28 || s.Cols != 28) {
			return nil, fmt.Errorf("%s: images are %d×%d, the MNIST model needs 28×28", imagesFile(dir, split), s.Rows, s.Cols)
		}
		return s, err
	}
	if trainSet, err = check("train"); err != nil {
		return nil, nil, err
	}
	if testSet, err = check("test"); err != nil {
		return nil, nil, err
	}
	return trainSet, testSet, nil
}

// imagesFile names the image file of a split in dir for messages, with the
// ".gz" suffix if that is the one mnist.LoadDir reads.
func imagesFile(dir, split string) string {
	name := "train-images-idx3-ubyte"
	if split == "test" {
		name = "t10k-images-idx3-ubyte"
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p + ".gz"); err == nil {
		p += ".gz"
	}
	return strconv.Quote(p)
}

// TinyConfig is the experiment with narrow layers, batch 16 and 2 epochs,
// for tests (train.Tester).
func (k *Kind) TinyConfig() train.Config {
	c := QuickConfig(model.CriticLocal)
	c.Experiment = k.ExperimentName
	c.Model.Hidden, c.Model.CriticWidth, c.Model.ZDim = 32, 32, 8
	c.BatchSize = 16
	c.Epochs = 2
	c.LogEvery = 2
	return &c
}

// FakeData are 64 training and 40 test images of random pixels: 4 steps an
// epoch of TinyConfig (train.Tester).
func (k *Kind) FakeData() train.Data {
	return &Data{Train: FakeSet(64, 1), Test: FakeSet(40, 2)}
}

// FakeSet returns n random 28×28 "digits" with labels.
func FakeSet(n int, seed uint64) *mnistdata.Set {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &mnistdata.Set{N: n, Rows: 28, Cols: 28, Images: make([]uint8, n*784), Labels: make([]uint8, n)}
	for i := range s.Images {
		if rng.IntN(4) == 0 {
			s.Images[i] = uint8(rng.IntN(256))
		}
	}
	for i := range s.Labels {
		s.Labels[i] = uint8(rng.IntN(10))
	}
	return s
}

// Sample implements train.Sampler.
func (k *Kind) Sample(tr *train.Trainer, n int) (image.Image, error) {
	t, err := View(tr)
	if err != nil {
		return nil, err
	}
	return Samples(t, n)
}

// Reconstruct implements train.Reconstructor: the model has one latent
// layer, depth 1.
func (k *Kind) Reconstruct(tr *train.Trainer, data train.Data, n, depth int) (image.Image, error) {
	t, err := View(tr)
	if err != nil {
		return nil, err
	}
	if depth > 1 {
		return nil, fmt.Errorf("--depth %d: the %s model has one latent layer", depth, k.ExperimentName)
	}
	return Reconstructions(t, data.(*Data).Test, n)
}

// TestItems implements train.Reconstructor.
func (k *Kind) TestItems(data train.Data) int { return data.(*Data).Test.N }

// Describe implements train.Describer: the model's description and the
// pixel scale of its images ("unit": byte/255; "sym": byte/127.5 − 1).
func (k *Kind) Describe(tr *train.Trainer) (map[string]any, error) {
	t, err := View(tr)
	if err != nil {
		return nil, err
	}
	d := t.Model.Describe()
	d["pixel_scale"] = t.Config.PixelScale
	return d, nil
}
