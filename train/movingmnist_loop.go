package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/data/movingmnist"
	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/internal/progress"
	"github.com/wakesleep/wakesleep/metrics"
)

// MovingMNISTRunOptions say where a Moving MNIST run lives and what it reads.
type MovingMNISTRunOptions struct {
	Dir    string    // run folder
	Resume bool      // continue the run in Dir from its newest good checkpoint
	Out    io.Writer // progress bar and messages (nil: discard)
	Train  *mnist.Set
	Test   *mnist.Set // digits of the fixed test set for the prediction strips (nil: no strips)
	// MaxSteps stops after this many steps in total (0: run every epoch).
	MaxSteps int
	// OnStep, if set, is called after every step.
	OnStep func(t *MovingMNISTTrainer)
}

// pictureStream is the fixed noise of the prediction strips, so that strips
// of successive epochs are comparable.
const pictureStream = 0xF3

// RunMovingMNIST trains cfg in opts.Dir, as Run does for MNIST: a fresh run
// or (Resume) the continuation of the run there, whose saved config.json is
// used (cfg then only gives, if positive, a new number of epochs). It writes
// config.json, metrics.csv, prediction strips (predict-step<N>.png: context,
// truth and prediction of the first PictureCount test sequences, with fixed
// noise) and checkpoints; on cancellation of ctx it saves a checkpoint before
// returning ctx's error. A NaN or Inf stops training with a *NumericError.
func RunMovingMNIST(ctx context.Context, cfg MovingMNISTConfig, opts MovingMNISTRunOptions) error {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return fmt.Errorf("create run folder: %w", err)
	}
	cfgPath := filepath.Join(opts.Dir, ConfigFile)
	_, statErr := os.Stat(cfgPath)
	exists := statErr == nil
	var tr *MovingMNISTTrainer
	var err error
	switch {
	case exists && !opts.Resume:
		return fmt.Errorf("%w: %s (pass --resume to continue it, or choose another folder)", ErrRunExists, opts.Dir)
	case exists:
		saved, err := LoadMovingMNISTConfig(cfgPath)
		if err != nil {
			return err
		}
		if cfg.Epochs > 0 {
			saved.Epochs = cfg.Epochs
		}
		if tr, err = NewMovingMNISTTrainer(saved); err != nil {
			return err
		}
		path, err := latestCheckpoint(opts.Dir, out)
		if err != nil {
			return fmt.Errorf("resume %s: %w", opts.Dir, err)
		}
		ts, meta, err := checkpoint.Load(path)
		if err != nil {
			return err
		}
		if err := tr.Restore(ts, meta); err != nil {
			return fmt.Errorf("resume from %s: %w", path, err)
		}
		fmt.Fprintf(out, "resumed %s at step %d\n", path, tr.Step)
	case opts.Resume:
		return fmt.Errorf("nothing to resume: %s has no %s", opts.Dir, ConfigFile)
	default:
		if tr, err = NewMovingMNISTTrainer(cfg); err != nil {
			return err
		}
		if err := SaveMovingMNISTConfig(cfgPath, cfg); err != nil {
			return err
		}
	}
	return (&videoLoop{tr: tr, opts: opts, out: out}).run(ctx)
}

type videoLoop struct {
	tr   *MovingMNISTTrainer
	opts MovingMNISTRunOptions
	out  io.Writer
	log  *metrics.CSV
	test *movingmnist.Generator
}

func (l *videoLoop) run(ctx context.Context) error {
	tr, cfg := l.tr, l.tr.Config
	if l.opts.Train == nil {
		return errors.New("no training digits")
	}
	gen, err := tr.TrainGenerator(l.opts.Train)
	if err != nil {
		return err
	}
	if l.opts.Test != nil && cfg.PictureCount > 0 {
		if l.test, err = movingmnist.NewGenerator(l.opts.Test, cfg.Data, movingmnist.TestSeed); err != nil {
			return err
		}
	}
	per := cfg.StepsPerEpoch()
	total := cfg.Epochs * per
	if l.opts.MaxSteps > 0 && l.opts.MaxSteps < total {
		total = l.opts.MaxSteps
	}
	if tr.Step >= total {
		fmt.Fprintf(l.out, "run already at step %d of %d\n", tr.Step, total)
		return nil
	}
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
		terms, err := tr.TrainStep(tr.Batches(gen, tr.Step))
		if err != nil {
			bar.Finish()
			return fmt.Errorf("%w (last good checkpoint kept in %s)", err, l.opts.Dir)
		}
		elapsed := time.Since(start)
		bar.Add(1)
		bar.SetInfo(fmt.Sprintf("ep %d critic %.3g net %.3g mse %.4f", epoch+1, terms["critic/loss"], terms["net/loss"], terms["pred/mse"]))
		last := tr.Step == total
		if tr.Step%cfg.LogEvery == 0 || last {
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
		if endOfEpoch || last || (cfg.CheckpointEvery > 0 && tr.Step%cfg.CheckpointEvery == 0) {
			if err := l.save(); err != nil {
				return err
			}
			lastSaved = tr.Step
		}
		if endOfEpoch || last || (cfg.PictureEvery > 0 && tr.Step%cfg.PictureEvery == 0) {
			if err := l.picture(); err != nil {
				return err
			}
		}
		if l.opts.OnStep != nil {
			l.opts.OnStep(tr)
		}
	}
	bar.Finish()
	fmt.Fprintf(l.out, "done: %d steps; prediction strips, metrics and checkpoints in %s\n", tr.Step, l.opts.Dir)
	return nil
}

func (l *videoLoop) save() error {
	ts, meta, err := l.tr.State()
	if err != nil {
		return err
	}
	path := filepath.Join(l.opts.Dir, fmt.Sprintf("%s-%08d.safetensors", CheckpointPrefix, l.tr.Step))
	if err := checkpoint.Save(path, ts, meta); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return checkpoint.Rotate(l.opts.Dir, CheckpointPrefix, l.tr.Config.KeepCheckpoints)
}

// picture writes the prediction strip of the first PictureCount test
// sequences, with fixed noise.
func (l *videoLoop) picture() error {
	if l.test == nil {
		return nil
	}
	idx := make([]uint64, l.tr.Config.PictureCount)
	for i := range idx {
		idx[i] = uint64(i)
	}
	o := l.tr.Config.Objective
	frames := l.test.Batch(idx, l.tr.Model.DType())
	preds := Predict(l.tr.Model, frames, o.Context, o.Horizon, rand.New(rand.NewPCG(l.tr.Config.Seed, pictureStream)))
	path := filepath.Join(l.opts.Dir, fmt.Sprintf("predict-step%08d.png", l.tr.Step))
	return imaging.SavePNG(path, PredictionStrip(frames, preds, o.Context))
}
