package train

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/data/cifar10"
	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/internal/progress"
	"github.com/wakesleep/wakesleep/metrics"
	"github.com/wakesleep/wakesleep/tensor"
)

// CIFAR10RunOptions say where a CIFAR-10 run lives and what it reads.
type CIFAR10RunOptions struct {
	Dir    string    // run folder
	Resume bool      // continue the run in Dir from its newest good checkpoint
	Out    io.Writer // progress bar and messages (nil: discard)
	Train  *cifar10.Set
	Test   *cifar10.Set // reconstruction grids (nil: none)
	// MaxSteps stops after this many steps in total (0: run every epoch).
	MaxSteps int
	// OnStep, if set, is called after every step.
	OnStep func(t *CIFAR10Trainer)
}

// RunCIFAR10 trains cfg in opts.Dir, as Run does for MNIST: a fresh run, or
// (Resume) the continuation of the run there, whose saved config.json rules
// (cfg.Epochs, if positive, may lengthen it). It writes config.json,
// metrics.csv, checkpoints, and PNG grids at the end of each epoch (and
// every PictureEvery steps), named by the epoch or step:
//
//   - samples-*.png: 64 images generated top-down from fixed prior noise;
//   - recon-*.png: 32 fixed test images, each beside its reconstruction
//     through the whole hierarchy, x → z₁ → … → z₅ → … → z₁ → x̂ (Fig. 4B),
//     every step sampled;
//   - recon-mean-*.png: the same, with the last step's mean E[x̂ | z₁] in
//     place of a sample (the image layer's noise hides the rest early on);
//   - recon1-*.png: the one-step reconstruction E[x̂ | z₁], z₁ ~ q_φ(z₁|x),
//     the top-down phase the image layer's terms train.
//
// Cancelling ctx saves a checkpoint and returns ctx's error.
func RunCIFAR10(ctx context.Context, cfg CIFAR10Config, opts CIFAR10RunOptions) error {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	if opts.Train == nil || opts.Train.N == 0 {
		return errors.New("no training data")
	}
	cfgPath := filepath.Join(opts.Dir, ConfigFile)
	_, statErr := os.Stat(cfgPath)
	exists := statErr == nil
	var tr *CIFAR10Trainer
	var err error
	switch {
	case exists && !opts.Resume:
		return fmt.Errorf("%w: %s (pass --resume to continue it, or choose another folder)", ErrRunExists, opts.Dir)
	case exists:
		exp, err := experimentOf(cfgPath)
		if err != nil {
			return err
		}
		if exp != ExperimentCIFAR10 {
			return fmt.Errorf("run folder %s holds a %q run, not %q", opts.Dir, exp, ExperimentCIFAR10)
		}
		saved, err := LoadCIFAR10Config(cfgPath)
		if err != nil {
			return err
		}
		if cfg.Epochs > 0 {
			saved.Epochs = cfg.Epochs // only the length of a run may change on resume
		}
		if tr, err = NewCIFAR10Trainer(saved); err != nil {
			return err
		}
		path, err := latestCheckpoint(opts.Dir, out)
		switch {
		case errors.Is(err, checkpoint.ErrNoCheckpoint):
			fmt.Fprintf(out, "warning: %s has no checkpoint yet: starting its run from step 0\n", opts.Dir)
		case err != nil:
			return fmt.Errorf("resume %s: %w", opts.Dir, err)
		default:
			ts, meta, err := checkpoint.Load(path)
			if err != nil {
				return err
			}
			if err := tr.Restore(ts, meta); err != nil {
				return fmt.Errorf("resume from %s: %w", path, err)
			}
			fmt.Fprintf(out, "resumed %s at step %d\n", path, tr.Step)
		}
	case opts.Resume:
		return fmt.Errorf("nothing to resume: %s has no %s", opts.Dir, ConfigFile)
	default:
		if tr, err = NewCIFAR10Trainer(cfg); err != nil {
			return err
		}
		if tr.StepsPerEpoch(opts.Train.N) == 0 {
			return tr.tooFewImages(opts.Train.N)
		}
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return fmt.Errorf("create run folder: %w", err)
		}
		if ents, err := os.ReadDir(opts.Dir); err == nil {
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), CheckpointPrefix+"-") && strings.HasSuffix(e.Name(), ".safetensors") {
					return fmt.Errorf("%w: %s holds checkpoints such as %s but no %s (choose another folder)", ErrRunExists, opts.Dir, e.Name(), ConfigFile)
				}
			}
		}
		if err := SaveCIFAR10Config(cfgPath, cfg); err != nil {
			return err
		}
	}
	return (&cifarLoop{tr: tr, opts: opts, out: out}).run(ctx)
}

// StepsPerEpoch returns the number of steps (CriticSteps batches each) in
// an epoch over n images (or TrainLimit of them).
func (t *CIFAR10Trainer) StepsPerEpoch(n int) int {
	if t.Config.TrainLimit > 0 && t.Config.TrainLimit < n {
		n = t.Config.TrainLimit
	}
	return n / (t.Config.BatchSize * t.Config.CriticSteps)
}

func (t *CIFAR10Trainer) tooFewImages(n int) error {
	if t.Config.TrainLimit > 0 && t.Config.TrainLimit < n {
		n = t.Config.TrainLimit
	}
	return fmt.Errorf("batch size %d × critic steps %d exceeds the %d training images", t.Config.BatchSize, t.Config.CriticSteps, n)
}

// Batches returns the critic-step batches of global step s (0-based): a
// pure function of the seed and s, so a resumed run sees the same batches.
func (t *CIFAR10Trainer) Batches(set *cifar10.Set, s int) []*tensor.Tensor {
	per := t.StepsPerEpoch(set.N)
	epoch, i := s/per, s%per
	n := set.N
	if t.Config.TrainLimit > 0 && t.Config.TrainLimit < n {
		n = t.Config.TrainLimit
	}
	order := mnist.Permutation(rand.New(rand.NewPCG(t.Config.Seed, uint64(epoch)+1<<32)), n)
	b, k := t.Config.BatchSize, t.Config.CriticSteps
	xs := make([]*tensor.Tensor, k)
	for j := range xs {
		start := (i*k + j) * b
		xs[j] = set.Batch(order[start:start+b], t.Model.DType(), t.Config.PixelScale)
	}
	return xs
}

type cifarLoop struct {
	tr   *CIFAR10Trainer
	opts CIFAR10RunOptions
	out  io.Writer
	log  *metrics.CSV
}

func (l *cifarLoop) run(ctx context.Context) error {
	tr, cfg := l.tr, l.tr.Config
	per := tr.StepsPerEpoch(l.opts.Train.N)
	if per == 0 {
		return tr.tooFewImages(l.opts.Train.N)
	}
	total := cfg.Epochs * per
	if l.opts.MaxSteps > 0 && l.opts.MaxSteps < total {
		total = l.opts.MaxSteps
	}
	if tr.Step >= total {
		fmt.Fprintf(l.out, "run already at step %d of %d\n", tr.Step, total)
		return nil
	}
	var err error
	if l.log, err = metrics.OpenCSV(filepath.Join(l.opts.Dir, MetricsFile), tr.Step); err != nil {
		return err
	}
	defer l.log.Close()
	bar := progress.New(l.out, total, "train")
	bar.Resume(tr.Step)
	lastSaved := tr.Step
	for tr.Step < total {
		if err := ctx.Err(); err != nil {
			bar.Finish()
			if tr.Step > lastSaved {
				if err := l.save(); err != nil {
					return err
				}
				fmt.Fprintf(l.out, "interrupted: saved step %d in %s\n", tr.Step, l.opts.Dir)
			}
			return err
		}
		epoch := tr.Step / per
		tr.SetEpochRates(epoch)
		start := time.Now()
		terms, err := tr.TrainStep(tr.Batches(l.opts.Train, tr.Step))
		if err != nil {
			bar.Finish()
			return fmt.Errorf("%w (%s)", err, l.lastGood())
		}
		elapsed := time.Since(start)
		bar.Add(1)
		bar.SetInfo(fmt.Sprintf("ep %d critic %.3g net %.3g", epoch+1, terms["critic/loss"], terms["net/loss"]))
		if tr.Step%cfg.LogEvery == 0 || tr.Step == total {
			row := map[string]float64{
				"step": float64(tr.Step), "epoch": float64(epoch + 1), "step_time_s": elapsed.Seconds(),
				"lr_network": tr.Network.LearningRate(), "lr_critic": tr.Critic.LearningRate(),
			}
			for k, v := range terms {
				row[k] = v
			}
			if err := l.log.Log(row); err != nil {
				return err
			}
		}
		endOfEpoch := tr.Step%per == 0
		if endOfEpoch || tr.Step == total || (cfg.CheckpointEvery > 0 && tr.Step%cfg.CheckpointEvery == 0) {
			if err := l.save(); err != nil {
				return err
			}
			lastSaved = tr.Step
		}
		switch {
		case endOfEpoch || tr.Step == total:
			if err := l.pictures(fmt.Sprintf("epoch%03d", (tr.Step+per-1)/per)); err != nil {
				return err
			}
		case cfg.PictureEvery > 0 && tr.Step%cfg.PictureEvery == 0:
			if err := l.pictures(fmt.Sprintf("step%07d", tr.Step)); err != nil {
				return err
			}
		}
		if l.opts.OnStep != nil {
			l.opts.OnStep(tr)
		}
	}
	bar.Finish()
	fmt.Fprintf(l.out, "done: %d steps; pictures, metrics and checkpoints in %s\n", tr.Step, l.opts.Dir)
	return nil
}

func (l *cifarLoop) lastGood() string {
	path, step, err := checkpoint.Latest(l.opts.Dir, CheckpointPrefix)
	var fb *checkpoint.FallbackError
	if err != nil && !errors.As(err, &fb) {
		return "no good checkpoint in " + l.opts.Dir
	}
	return fmt.Sprintf("last good checkpoint kept: %s, step %d", path, step)
}

func (l *cifarLoop) save() error {
	ts, meta, err := l.tr.State()
	if err != nil {
		return err
	}
	if name := nonFinite(ts); name != "" {
		return fmt.Errorf("%w (%s)", &NumericError{Step: l.tr.Step, Term: "checkpoint tensor " + name}, l.lastGood())
	}
	path := filepath.Join(l.opts.Dir, checkpoint.FileName(CheckpointPrefix, l.tr.Step))
	if err := checkpoint.Save(path, ts, meta); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return checkpoint.Rotate(l.opts.Dir, CheckpointPrefix, l.tr.Config.KeepCheckpoints)
}

// pictures writes samples-<tag>.png and, with a test set, the three
// reconstruction grids recon-, recon-mean- and recon1-<tag>.png.
func (l *cifarLoop) pictures(tag string) error {
	dir := l.opts.Dir
	if err := imaging.SavePNG(filepath.Join(dir, "samples-"+tag+".png"), CIFAR10Samples(l.tr, 64)); err != nil {
		return err
	}
	if l.opts.Test == nil || l.opts.Test.N == 0 {
		return nil
	}
	r, err := CIFAR10Reconstructions(l.tr, l.opts.Test, min(32, l.opts.Test.N))
	if err != nil {
		return err
	}
	for name, img := range map[string]image.Image{"recon-": r.Full, "recon-mean-": r.FullMean, "recon1-": r.OneStep} {
		if err := imaging.SavePNG(filepath.Join(dir, name+tag+".png"), img); err != nil {
			return err
		}
	}
	return nil
}

// cifarImages maps model pixels [N, 3, 32, 32] to [0, 1] for pictures
// (clamped by imaging).
func cifarImages(x *tensor.Tensor, scale string) *tensor.Tensor {
	if scale == cifar10.ScaleSym {
		return tensor.Affine(x, 0.5, 0.5)
	}
	return x
}

// CIFAR10Samples returns a grid of n sleep samples, generated top-down from
// fixed prior noise, 8 to a row.
func CIFAR10Samples(t *CIFAR10Trainer, n int) image.Image {
	rng := rand.New(rand.NewPCG(t.Config.Seed, sampleStream))
	x := t.Model.Generate(t.Model.Prior(n, rng), rng)[0]
	return imaging.Grid(cifarImages(x.Value, t.Config.PixelScale), 8, 2)
}

// CIFAR10Recons are grids of test images, each beside a reconstruction.
type CIFAR10Recons struct {
	Full     image.Image // through the whole hierarchy and back, every step sampled
	FullMean image.Image // the same up to z₁, then E[x | z₁]
	OneStep  image.Image // E[x | z₁] with z₁ ~ q_φ(z₁ | x)
}

// CIFAR10Reconstructions returns grids of n test images, evenly spaced over
// the set (so that every class shows: the sets are sorted by class), each
// beside its reconstructions, 4 pairs to a row.
func CIFAR10Reconstructions(t *CIFAR10Trainer, test *cifar10.Set, n int) (*CIFAR10Recons, error) {
	if n <= 0 || n > test.N {
		return nil, fmt.Errorf("reconstructions: %d images asked of a test set of %d", n, test.N)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i * test.N / n
	}
	x := test.Batch(idx, t.Model.DType(), t.Config.PixelScale)
	rng := rand.New(rand.NewPCG(t.Config.Seed, reconStream))
	m := t.Model
	up := m.Infer(ad.Const(x), rng)
	down := m.Generate(up[len(up)-1], rng) // down[0] is the full sampled reconstruction
	s := t.Config.PixelScale
	pair := func(r *ad.Var) image.Image {
		return imaging.SideBySide(cifarImages(x, s), cifarImages(r.Value, s), 4, 2)
	}
	return &CIFAR10Recons{
		Full:     pair(down[0]),
		FullMean: pair(m.GenerateMean(0, down[1])),
		OneStep:  pair(m.GenerateMean(0, up[1])),
	}, nil
}
