package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/eval"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/train"
)

const trainUsage = `
Usage: wakesleep train [mnist] [flags]
       wakesleep train cifar10 [flags]       (run 'wakesleep train cifar10 -h')
       wakesleep train movingmnist [flags]   (run 'wakesleep train movingmnist -h')

Trains the MNIST recurrent stochastic autoencoder (Sec. 5.1 of the paper) with
the global critic (adversarial wake/sleep, Eq. 4) or local critics (the
oscillatory algorithm, Eq. 7-8). Writes a run folder: config.json, metrics.csv,
PNG grids of samples and reconstructions each epoch, and checkpoints.
Ctrl-C saves a checkpoint; --resume continues bit-identically.

Presets: "quick" (default; a short run that finishes in minutes) and "paper"
(400 epochs of batch 512, learning-rate decay, as Appendix A.1.2). Flags
override the preset.

Examples:
  $ wakesleep train
  $ wakesleep train mnist --algorithm global --epochs 20 --run runs/global
  $ wakesleep train --preset paper --algorithm local --gamma 0.1
  $ wakesleep train --run runs/global --resume
`

type trainOptions struct {
	experiment      string
	preset          string
	algorithm       string
	gamma           float64
	lambda          float64
	reconWeight     float64
	reconLayers     string
	initStd         float64
	beta1, beta2    float64
	epochs          int
	batchSize       int
	criticSteps     int
	lrNetwork       float64
	lrCritic        float64
	seed            uint64
	recurrentSteps  int
	hidden          int
	criticWidth     int
	zDim            int
	pixelScale      string
	trainLimit      int
	silenceZ        string
	evalEveryEpoch  bool
	maxSteps        int
	logEvery        int
	checkpointEvery int
	keep            int
	run             string
	resume          bool
	dataDir         string
	pictures        string
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// The other experiments have flags of their own.
	if len(args) > 0 {
		switch args[0] {
		case train.ExperimentMovingMNIST:
			return runTrainMovingMNIST(ctx, args[1:], stdout, stderr)
		case "cifar10":
			return runTrainCIFAR10(ctx, args[1:], stdout, stderr)
		}
	}
	var o trainOptions
	fs := newFlagSet("train", trainUsage, stderr)
	fs.StringVar(&o.preset, "preset", "quick", "hyperparameter preset: quick or paper")
	fs.StringVar(&o.algorithm, "algorithm", model.CriticLocal, "global (one critic on (x,z), Eq. 4) or local (per-layer critics, Eq. 8)")
	fs.Float64Var(&o.gamma, "gamma", 0, "γ of Eq. 8 (default: 1 for global, 0.1 for local)")
	fs.Float64Var(&o.lambda, "lambda", 0, "WGAN-GP penalty weight λ (default: from the preset; the paper's 1)")
	fs.Float64Var(&o.reconWeight, "recon-weight", 0, "weight of the critic-feature reconstruction loss L_RECON (default: from the preset; Eq. 8's 1)")
	fs.StringVar(&o.reconLayers, "recon-layers", "", "critic hidden layers L_RECON compares: last (VAE-GAN) or all (default: from the preset)")
	fs.Float64Var(&o.initStd, "init-std", 0, "initial standard deviation of every Gaussian unit (default: from the preset; 0: PyTorch's init, about 0.69)")
	fs.Float64Var(&o.beta1, "beta1", 0, "Adam β1 of both optimizers (default: from the preset; the paper's 0.5)")
	fs.Float64Var(&o.beta2, "beta2", 0, "Adam β2 of both optimizers (default: from the preset; the paper's 0.99)")
	fs.IntVar(&o.epochs, "epochs", 0, "epochs (default: from the preset)")
	fs.IntVar(&o.batchSize, "batch-size", 0, "batch size (default: from the preset)")
	fs.IntVar(&o.criticSteps, "critic-steps", 0, "critic updates per network update (default: from the preset; 1)")
	fs.Float64Var(&o.lrNetwork, "lr-network", 0, "learning rate of inference and generation (default: from the preset; the paper's 1e-4)")
	fs.Float64Var(&o.lrCritic, "lr-critic", 0, "learning rate of the critics (default: from the preset; the paper's 4e-4)")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed (weights, data order, noise)")
	fs.IntVar(&o.recurrentSteps, "recurrent-steps", 0, "steps of stochastic recurrence in each network (default: from the preset; 1)")
	fs.IntVar(&o.hidden, "hidden", 0, "hidden units in every stochastic layer (default: 512, as the paper)")
	fs.IntVar(&o.criticWidth, "critic-width", 0, "units in each critic hidden layer (default: 512, as the paper)")
	fs.IntVar(&o.zDim, "z-dim", 0, "latent units z (default: 64, as the paper)")
	fs.StringVar(&o.pixelScale, "pixel-scale", "", "pixel range: unit ([0,1]) or sym ([-1,1]) (default: from the preset; unit)")
	fs.IntVar(&o.trainLimit, "train-limit", 0, "use only the first N training images (0: all)")
	fs.StringVar(&o.silenceZ, "silence-z", "", "latent units held at zero in the sleep phase, comma-separated, e.g. 0,1,2 (the phase-silencing perturbation of Sec. 4.4; default none)")
	fs.BoolVar(&o.evalEveryEpoch, "eval-every-epoch", false, "evaluate after each epoch (alignment KL, classifier metrics on 2000 samples) into <run>/eval/")
	fs.IntVar(&o.maxSteps, "max-steps", 0, "stop after N steps in total (0: all epochs)")
	fs.IntVar(&o.logEvery, "log-every", 10, "steps between metric rows")
	fs.IntVar(&o.checkpointEvery, "checkpoint-every", 0, "steps between checkpoints (0: once per epoch)")
	fs.IntVar(&o.keep, "keep", 3, "checkpoints kept in the run folder")
	fs.StringVar(&o.run, "run", "", "run folder (default: runs/mnist-<algorithm>-<time>)")
	fs.BoolVar(&o.resume, "resume", false, "continue the run in --run from its newest good checkpoint")
	fs.StringVar(&o.dataDir, "data", "", "folder with MNIST IDX files (default: the copy embedded in the binary)")
	fs.StringVar(&o.pictures, "pictures", train.PicturesBoth, "epoch grids: samples (as the paper), means (noise-free: every Gaussian unit at its mean) or both")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	o.experiment = "mnist"
	if len(pos) > 1 {
		return usagef("too many arguments: %v", pos)
	}
	if len(pos) == 1 {
		o.experiment = pos[0]
	}
	if o.experiment != "mnist" {
		return usagef("unknown experiment %q (available: mnist, cifar10, movingmnist)", o.experiment)
	}
	set := setFlags(fs)
	if err := train.ValidatePictures(o.pictures); err != nil {
		return usagef("--%v", err)
	}
	if o.maxSteps < 0 {
		return usagef("--max-steps %d must be ≥ 0", o.maxSteps)
	}
	var cfg train.Config
	if o.resume {
		// The run's own config.json rules; only its length may change.
		if o.run == "" {
			return usagef("--resume needs --run")
		}
		// `train --resume --run X` continues whatever experiment X holds.
		if len(pos) == 0 {
			if exp := runExperiment(o.run); exp == train.ExperimentMovingMNIST || exp == "cifar10" {
				return runTrain(ctx, append([]string{exp}, args...), stdout, stderr)
			}
		}
		for name := range set {
			if name != "resume" && name != "run" && name != "epochs" && name != "max-steps" && name != "data" && name != "eval-every-epoch" && name != "pictures" {
				return usagef("--%s cannot change a run being resumed (its config.json rules; only --epochs and --max-steps may be given)", name)
			}
		}
		cfg = train.Config{Experiment: o.experiment}
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
		o.run = filepath.Join("runs", fmt.Sprintf("mnist-%s-%s", cfg.Model.Critic, time.Now().Format("20060102-150405")))
	}
	tr, te, err := loadMNIST(o.dataDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "run folder: %s\n", o.run)
	opts := train.RunOptions{Dir: o.run, Resume: o.resume, Out: stderr, Train: tr, Test: te, MaxSteps: o.maxSteps, Pictures: o.pictures}
	if o.evalEveryEpoch {
		opts.OnEpoch = eval.EpochHook(o.run, nil)
	}
	return train.Run(ctx, cfg, opts)
}

// config builds the run configuration from the preset and the flags given.
func (o *trainOptions) config(set map[string]bool) (train.Config, error) {
	if o.algorithm != model.CriticGlobal && o.algorithm != model.CriticLocal {
		return train.Config{}, usagef("--algorithm %q: want global or local", o.algorithm)
	}
	var cfg train.Config
	switch o.preset {
	case "quick":
		cfg = train.QuickConfig(o.algorithm)
	case "paper":
		cfg = train.PaperConfig(o.algorithm)
	default:
		return cfg, usagef("--preset %q: want quick or paper", o.preset)
	}
	if set["gamma"] {
		cfg.Objective.Gamma = o.gamma
	}
	if set["lambda"] {
		cfg.Objective.Lambda = o.lambda
	}
	if set["recon-weight"] {
		cfg.Objective.ReconWeight = o.reconWeight
	}
	if set["recon-layers"] {
		cfg.Objective.ReconLayers = o.reconLayers
	}
	if set["init-std"] {
		cfg.Model.InitStd = o.initStd
	}
	if set["beta1"] {
		cfg.NetworkAdam.Beta1, cfg.CriticAdam.Beta1 = o.beta1, o.beta1
	}
	if set["beta2"] {
		cfg.NetworkAdam.Beta2, cfg.CriticAdam.Beta2 = o.beta2, o.beta2
	}
	if set["epochs"] {
		cfg.Epochs = o.epochs
	}
	if set["batch-size"] {
		cfg.BatchSize = o.batchSize
	}
	if set["critic-steps"] {
		cfg.CriticSteps = o.criticSteps
	}
	if set["lr-network"] {
		cfg.NetworkAdam.LearningRate = o.lrNetwork
	}
	if set["lr-critic"] {
		cfg.CriticAdam.LearningRate = o.lrCritic
	}
	cfg.Seed = o.seed
	if set["recurrent-steps"] {
		cfg.Model.RecurrentSteps = o.recurrentSteps
	}
	for _, d := range []struct {
		flag string
		v    int
		dst  *int
	}{{"hidden", o.hidden, &cfg.Model.Hidden}, {"critic-width", o.criticWidth, &cfg.Model.CriticWidth}, {"z-dim", o.zDim, &cfg.Model.ZDim}} {
		if set[d.flag] {
			if d.v <= 0 {
				return cfg, usagef("--%s %d must be positive", d.flag, d.v)
			}
			*d.dst = d.v
		}
	}
	if set["pixel-scale"] {
		cfg.PixelScale = o.pixelScale
	}
	cfg.TrainLimit = o.trainLimit
	if o.silenceZ != "" {
		units, err := parseUnits(o.silenceZ, cfg.Model.ZDim)
		if err != nil {
			return cfg, usagef("--silence-z: %v", err)
		}
		cfg.Objective.SilenceSleepZ = units
	}
	cfg.LogEvery = o.logEvery
	cfg.CheckpointEvery = o.checkpointEvery
	cfg.KeepCheckpoints = o.keep
	if err := cfg.Validate(); err != nil {
		return cfg, &usageError{err.Error()}
	}
	return cfg, nil
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

// loadMNIST reads both splits, embedded or from dir, and checks that they
// hold 28×28 images, the size the MNIST model takes.
func loadMNIST(dir string) (trainSet, testSet *mnist.Set, err error) {
	load := func(split string) (*mnist.Set, error) {
		var s *mnist.Set
		var err error
		if dir == "" {
			s, err = mnist.Load(split)
		} else {
			s, err = mnist.LoadDir(dir, split)
		}
		if err == nil && (s.Rows != 28 || s.Cols != 28) {
			return nil, fmt.Errorf("%s: images are %d×%d, the MNIST model needs 28×28", imagesFile(dir, split), s.Rows, s.Cols)
		}
		return s, err
	}
	if trainSet, err = load("train"); err != nil {
		return nil, nil, err
	}
	if testSet, err = load("test"); err != nil {
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

// runExperiment returns the experiment named in a run folder's config.json,
// or "" if it cannot be read (the caller then reports the problem).
func runExperiment(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, train.ConfigFile))
	if err != nil {
		return ""
	}
	var c struct {
		Experiment string `json:"experiment"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.Experiment
}
