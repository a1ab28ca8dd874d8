package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/train"
)

const trainMovingMNISTUsage = `
Usage: wakesleep train movingmnist [flags]

Trains the Moving MNIST video predictor (Sec. 5.3 and Appendix A.1.5 of the
paper): stochastic ConvLSTM encoder and decoder, critics for frames and
latents, 10 warm-up frames then 10 predicted frames (backpropagation through
time), the critic-feature distance, and a 10-step sleep phase weighted by
gamma (Eq. 8). Sequences of two bouncing MNIST training digits are generated
on the fly. Writes a run folder: config.json, metrics.csv, prediction strips
(predict-step<N>.png: context, truth, prediction of fixed test sequences) and
checkpoints. Ctrl-C saves a checkpoint; --resume continues bit-identically.

Presets: "quick" (default: 3x3 kernels, 16-channel critics, batch 8, 20
epochs of 400 sequences; sized for a CPU) and "paper" (5x5 kernels, 32-channel
critics, batch 32, 400 epochs of 10,000 sequences, learning-rate decay).
Flags override the preset.

Examples:
  $ wakesleep train movingmnist
  $ wakesleep train movingmnist --batch-size 4 --lr-network 1e-3 --run runs/mm
  $ wakesleep train movingmnist --preset paper
  $ wakesleep train movingmnist --run runs/mm --resume
`

type trainMovingMNISTOptions struct {
	preset          string
	gamma           float64
	lambda          float64
	reconWeight     float64
	epochs          int
	sequences       int
	trainPool       int
	batchSize       int
	criticSteps     int
	lrNetwork       float64
	lrCritic        float64
	seed            uint64
	patch           int
	hidden          int
	kernel          int
	criticChannels  int
	criticNorm      string
	teacherForcing  bool
	maxSteps        int
	logEvery        int
	checkpointEvery int
	pictureEvery    int
	pictures        int
	keep            int
	run             string
	resume          bool
	dataDir         string
}

// runTrainMovingMNIST is `wakesleep train movingmnist`. args may start with
// the experiment name itself; it parses its own flags.
func runTrainMovingMNIST(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o trainMovingMNISTOptions
	fs := newFlagSet("train movingmnist", trainMovingMNISTUsage, stderr)
	fs.StringVar(&o.preset, "preset", "quick", "hyperparameter preset: quick or paper")
	fs.Float64Var(&o.gamma, "gamma", 0.5, "γ of Eq. 8: weight of the sleep-phase (wake/sleep) terms")
	fs.Float64Var(&o.lambda, "lambda", 1, "WGAN-GP penalty weight λ")
	fs.Float64Var(&o.reconWeight, "recon-weight", 1, "weight of the critic-feature distance between predicted and true frames")
	fs.IntVar(&o.epochs, "epochs", 0, "epochs (default: from the preset)")
	fs.IntVar(&o.sequences, "sequences-per-epoch", 0, "training sequences per epoch (default: from the preset)")
	fs.IntVar(&o.trainPool, "train-pool", 0, "cycle through only N distinct training sequences (0: a new sequence every time)")
	fs.IntVar(&o.batchSize, "batch-size", 0, "sequences per batch (default: from the preset)")
	fs.IntVar(&o.criticSteps, "critic-steps", 1, "critic updates per network update")
	fs.Float64Var(&o.lrNetwork, "lr-network", 1e-4, "learning rate of encoder, decoder and readout")
	fs.Float64Var(&o.lrCritic, "lr-critic", 4e-4, "learning rate of the critics")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed (weights, training sequences, noise)")
	fs.IntVar(&o.patch, "patch", 0, "pixels per side folded into channels before the ConvLSTMs (4: 16x16 grid; default: from the preset)")
	fs.IntVar(&o.hidden, "hidden", 0, "channels of each ConvLSTM (default: 32)")
	fs.IntVar(&o.kernel, "kernel", 0, "ConvLSTM kernel size, odd (default: from the preset)")
	fs.IntVar(&o.criticChannels, "critic-channels", 0, "channels of a critic's first convolution (default: from the preset)")
	fs.StringVar(&o.criticNorm, "critic-norm", model.NormBatch, "critic normalisation: batch (the paper) or none")
	fs.BoolVar(&o.teacherForcing, "teacher-forcing", false, "encoder reads the true frames after the context (default: its own predictions)")
	fs.IntVar(&o.maxSteps, "max-steps", 0, "stop after N steps in total (0: all epochs)")
	fs.IntVar(&o.logEvery, "log-every", 0, "steps between metric rows (default: from the preset)")
	fs.IntVar(&o.checkpointEvery, "checkpoint-every", 0, "steps between checkpoints (0: once per epoch)")
	fs.IntVar(&o.pictureEvery, "picture-every", 0, "steps between prediction strips (0: once per epoch)")
	fs.IntVar(&o.pictures, "pictures", 4, "test sequences in each prediction strip (0: none)")
	fs.IntVar(&o.keep, "keep", 3, "checkpoints kept in the run folder")
	fs.StringVar(&o.run, "run", "", "run folder (default: runs/movingmnist-<time>)")
	fs.BoolVar(&o.resume, "resume", false, "continue the run in --run from its newest good checkpoint")
	fs.StringVar(&o.dataDir, "data", "", "folder with MNIST IDX files (default: the copy embedded in the binary)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 && pos[0] == train.ExperimentMovingMNIST {
		pos = pos[1:]
	}
	if len(pos) > 0 {
		return usagef("unexpected arguments %v", pos)
	}
	set := setFlags(fs)
	var cfg train.MovingMNISTConfig
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
	if o.maxSteps < 0 {
		return usagef("--max-steps %d must be ≥ 0", o.maxSteps)
	}
	if o.run == "" {
		o.run = filepath.Join("runs", "movingmnist-"+time.Now().Format("20060102-150405"))
	}
	tr, te, err := loadMNIST(o.dataDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "run folder: %s\n", o.run)
	return train.RunMovingMNIST(ctx, cfg, train.MovingMNISTRunOptions{Dir: o.run, Resume: o.resume, Out: stderr,
		Train: tr, Test: te, MaxSteps: o.maxSteps})
}

// config builds the run configuration from the preset and the flags given.
func (o *trainMovingMNISTOptions) config(set map[string]bool) (train.MovingMNISTConfig, error) {
	var cfg train.MovingMNISTConfig
	switch o.preset {
	case "quick":
		cfg = train.QuickMovingMNISTConfig()
	case "paper":
		cfg = train.PaperMovingMNISTConfig()
	default:
		return cfg, usagef("--preset %q: want quick or paper", o.preset)
	}
	cfg.Objective.Gamma = o.gamma
	cfg.Objective.Lambda = o.lambda
	cfg.Objective.ReconWeight = o.reconWeight
	cfg.Objective.TeacherForcing = o.teacherForcing
	ints := []struct {
		flag string
		dst  *int
		val  int
	}{
		{"epochs", &cfg.Epochs, o.epochs},
		{"sequences-per-epoch", &cfg.SequencesPerEpoch, o.sequences},
		{"batch-size", &cfg.BatchSize, o.batchSize},
		{"patch", &cfg.Model.Patch, o.patch},
		{"hidden", &cfg.Model.Hidden, o.hidden},
		{"kernel", &cfg.Model.Kernel, o.kernel},
		{"critic-channels", &cfg.Model.CriticChannels, o.criticChannels},
		{"log-every", &cfg.LogEvery, o.logEvery},
	}
	for _, f := range ints {
		if set[f.flag] {
			*f.dst = f.val
		}
	}
	cfg.TrainPool = o.trainPool
	cfg.CriticSteps = o.criticSteps
	if set["lr-network"] {
		cfg.NetworkAdam.LearningRate = o.lrNetwork
	}
	if set["lr-critic"] {
		cfg.CriticAdam.LearningRate = o.lrCritic
	}
	cfg.Seed = o.seed
	cfg.Model.CriticNorm = o.criticNorm
	cfg.CheckpointEvery = o.checkpointEvery
	cfg.PictureEvery = o.pictureEvery
	cfg.PictureCount = o.pictures
	cfg.KeepCheckpoints = o.keep
	if err := cfg.Validate(); err != nil {
		return cfg, &usageError{err.Error()}
	}
	return cfg, nil
}
