package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wakesleep/wakesleep/data/cifar10"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/train"
)

const trainCIFAR10Usage = `
Usage: wakesleep train cifar10 [flags]

Trains the hierarchical CIFAR-10 model (Sec. 5.2, Fig. 4 and Appendix A.1.4
of the paper): a stochastic DCGAN with five stochastic layers (32, 64, 128,
256 and 100 channels), every layer a reparameterised Gaussian followed by ReLU
and pixel-wise normalisation, one critic per layer (six), towards Eq. 8 with
gamma 0.5. Writes a run folder: config.json, metrics.csv, checkpoints, and
PNG grids of samples and of test images beside their reconstructions:
through the whole hierarchy, x -> z5 -> x (recon-*.png; recon-mean-*.png
shows the last step's mean instead of a sample), and one step down from the
inferred z1 (recon1-*.png, the mean). Ctrl-C saves a checkpoint; --resume
continues bit-identically.

--data takes the official binary batches (a folder with data_batch_1.bin ...
test_batch.bin, or cifar-10-binary.tar.gz), an image tree
(<split>/<class>/*.png|jpg) or a tarball of one; by default the JPEG copy in
../shared/data/cifar10-jpeg.tar.gz, read directly.

Presets: "quick" (default: the first 5,000 training images, batch 64, 5
epochs) and "paper" (all 50,000, batch 512, 400 epochs, learning-rate decay
from epoch 200 to 250, as Appendix A.1.2). Flags override the preset.

Examples:
  $ wakesleep train cifar10
  $ wakesleep train cifar10 --data ~/cifar-10-batches-bin --run runs/cifar
  $ wakesleep train cifar10 --preset paper --data cifar-10-binary.tar.gz
  $ wakesleep train cifar10 --channels 16,32,64,128,100 --critic-channels 16,32,64,64,64,64
  $ wakesleep train cifar10 --run runs/cifar --resume
`

type trainCIFAR10Options struct {
	preset          string
	gamma           float64
	lambda          float64
	reconWeight     float64
	epochs          int
	batchSize       int
	criticSteps     int
	lrNetwork       float64
	lrCritic        float64
	seed            uint64
	channels        string
	criticChannels  string
	outKernel       int
	initStd         float64
	topActivation   string
	pixelScale      string
	trainLimit      int
	maxSteps        int
	logEvery        int
	checkpointEvery int
	pictureEvery    int
	keep            int
	run             string
	resume          bool
	data            string
}

// runTrainCIFAR10 is `wakesleep train cifar10`. args may start with the
// experiment name itself; it parses its own flags.
func runTrainCIFAR10(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o trainCIFAR10Options
	fs := newFlagSet("train cifar10", trainCIFAR10Usage, stderr)
	fs.StringVar(&o.preset, "preset", "quick", "hyperparameter preset: quick or paper")
	fs.Float64Var(&o.gamma, "gamma", 0.5, "γ of Eq. 8: weight of the wake/sleep terms against the oscillatory ones")
	fs.Float64Var(&o.lambda, "lambda", 1, "WGAN-GP penalty weight λ")
	fs.Float64Var(&o.reconWeight, "recon-weight", 1, "weight of the critic-feature reconstruction loss L_RECON")
	fs.IntVar(&o.epochs, "epochs", 0, "epochs (default: from the preset)")
	fs.IntVar(&o.batchSize, "batch-size", 0, "batch size (default: from the preset)")
	fs.IntVar(&o.criticSteps, "critic-steps", 1, "critic updates per network update")
	fs.Float64Var(&o.lrNetwork, "lr-network", 1e-4, "learning rate of inference and generation")
	fs.Float64Var(&o.lrCritic, "lr-critic", 4e-4, "learning rate of the critics")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed (weights, data order, noise)")
	fs.StringVar(&o.channels, "channels", "", "channels of the stochastic layers z1,...,zL, comma-separated (default: 32,64,128,256,100)")
	fs.StringVar(&o.criticChannels, "critic-channels", "", "first-conv channels of the critics of x,z1,...,zL (default: 32,64,128,128,128,128)")
	fs.IntVar(&o.outKernel, "out-kernel", 1, "kernel of the hidden -> (mean, std) convolution of every layer: 1 or 3")
	fs.Float64Var(&o.initStd, "init-std", 0, "initial standard deviation of every stochastic layer (default 0.1; 0: PyTorch's init, about 0.69)")
	fs.StringVar(&o.topActivation, "top-activation", model.TopLinear, "top layer: linear (Gaussian, matches the N(0,I) prior) or relu-norm (prior samples rectified and normalised too)")
	fs.StringVar(&o.pixelScale, "pixel-scale", cifar10.ScaleSym, "pixel range: sym ([-1,1]) or unit ([0,1])")
	fs.IntVar(&o.trainLimit, "train-limit", 0, "use only the first N training images (0: the preset's)")
	fs.IntVar(&o.maxSteps, "max-steps", 0, "stop after N steps in total (0: all epochs)")
	fs.IntVar(&o.logEvery, "log-every", 10, "steps between metric rows")
	fs.IntVar(&o.checkpointEvery, "checkpoint-every", 0, "steps between checkpoints (0: once per epoch)")
	fs.IntVar(&o.pictureEvery, "picture-every", 0, "steps between picture grids (0: once per epoch)")
	fs.IntVar(&o.keep, "keep", 3, "checkpoints kept in the run folder")
	fs.StringVar(&o.run, "run", "", "run folder (default: runs/cifar10-<time>)")
	fs.BoolVar(&o.resume, "resume", false, "continue the run in --run from its newest good checkpoint")
	fs.StringVar(&o.data, "data", "", "CIFAR-10 binary batches, image tree or tarball (default: "+cifar10.SharedArchive+")")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 && pos[0] == train.ExperimentCIFAR10 {
		pos = pos[1:]
	}
	if len(pos) > 0 {
		return usagef("unexpected arguments %v", pos)
	}
	set := setFlags(fs)
	if o.maxSteps < 0 {
		return usagef("--max-steps %d must be ≥ 0", o.maxSteps)
	}
	var cfg train.CIFAR10Config
	if o.resume {
		if o.run == "" {
			return usagef("--resume needs --run")
		}
		for name := range set {
			if name != "resume" && name != "run" && name != "epochs" && name != "max-steps" && name != "data" {
				return usagef("--%s cannot change a run being resumed (its config.json rules; only --epochs and --max-steps may be given)", name)
			}
		}
		if set["epochs"] {
			if o.epochs <= 0 {
				return usagef("--epochs %d must be positive", o.epochs)
			}
			cfg.Epochs = o.epochs
		}
	} else if cfg, err = o.config(set); err != nil {
		return err
	}
	if o.run == "" {
		o.run = filepath.Join("runs", "cifar10-"+time.Now().Format("20060102-150405"))
	}
	if o.data == "" {
		if o.data, err = cifar10.FindShared(); err != nil {
			return fmt.Errorf("%w (pass --data)", err)
		}
	}
	fmt.Fprintf(stderr, "reading %s\n", o.data)
	tr, te, err := cifar10.Load(o.data)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "run folder: %s\n", o.run)
	return train.RunCIFAR10(ctx, cfg, train.CIFAR10RunOptions{Dir: o.run, Resume: o.resume, Out: stderr,
		Train: tr, Test: te, MaxSteps: o.maxSteps})
}

// parseChannelList reads a comma-separated list of positive integers for flag name.
func parseChannelList(name, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, usagef("--%s %q: want comma-separated positive integers", name, s)
		}
		out = append(out, v)
	}
	return out, nil
}

// config builds the run configuration from the preset and the flags given.
func (o *trainCIFAR10Options) config(set map[string]bool) (train.CIFAR10Config, error) {
	var cfg train.CIFAR10Config
	switch o.preset {
	case "quick":
		cfg = train.QuickCIFAR10Config()
	case "paper":
		cfg = train.PaperCIFAR10Config()
	default:
		return cfg, usagef("--preset %q: want quick or paper", o.preset)
	}
	cfg.Objective.Gamma = o.gamma
	cfg.Objective.Lambda = o.lambda
	cfg.Objective.ReconWeight = o.reconWeight
	if set["channels"] {
		v, err := parseChannelList("channels", o.channels)
		if err != nil {
			return cfg, err
		}
		cfg.Model.Channels = v
	}
	if set["critic-channels"] {
		v, err := parseChannelList("critic-channels", o.criticChannels)
		if err != nil {
			return cfg, err
		}
		cfg.Model.CriticChannels = v
	}
	cfg.Model.OutKernel = o.outKernel
	if set["init-std"] {
		cfg.Model.InitStd = o.initStd
	}
	cfg.Model.TopActivation = o.topActivation
	for _, f := range []struct {
		flag string
		dst  *int
		val  int
	}{{"epochs", &cfg.Epochs, o.epochs}, {"batch-size", &cfg.BatchSize, o.batchSize}, {"train-limit", &cfg.TrainLimit, o.trainLimit}} {
		if set[f.flag] {
			*f.dst = f.val
		}
	}
	cfg.CriticSteps = o.criticSteps
	if set["lr-network"] {
		cfg.NetworkAdam.LearningRate = o.lrNetwork
	}
	if set["lr-critic"] {
		cfg.CriticAdam.LearningRate = o.lrCritic
	}
	cfg.Seed = o.seed
	cfg.PixelScale = o.pixelScale
	cfg.LogEvery = o.logEvery
	cfg.CheckpointEvery = o.checkpointEvery
	cfg.PictureEvery = o.pictureEvery
	cfg.KeepCheckpoints = o.keep
	if err := cfg.Validate(); err != nil {
		return cfg, &usageError{err.Error()}
	}
	return cfg, nil
}
