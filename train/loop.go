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
	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/internal/progress"
	"github.com/wakesleep/wakesleep/metrics"
	"github.com/wakesleep/wakesleep/tensor"
)

// Files of a run folder.
const (
	ConfigFile       = "config.json"
	MetricsFile      = "metrics.csv"
	CheckpointPrefix = "ckpt"
)

// RunOptions say where a run lives and what it reads.
type RunOptions struct {
	Dir    string    // run folder
	Resume bool      // continue the run in Dir from its newest good checkpoint
	Out    io.Writer // progress bar and messages (nil: discard)
	Train  *mnist.Set
	Test   *mnist.Set
	// MaxSteps stops after this many steps in total (0: run every epoch).
	MaxSteps int
	// Pictures chooses the epoch grids: PicturesSamples (samples-epochNNN.png,
	// recon-epochNNN.png), PicturesMeans (samples-mean-…, recon-mean-…) or
	// PicturesBoth ("" means both).
	Pictures string
	// OnStep, if set, is called after every step.
	OnStep func(t *Trainer)
	// OnEpoch, if set, is called after each epoch's checkpoint and pictures
	// (e.g. to evaluate); an error stops the run.
	OnEpoch func(t *Trainer, epoch int) error
}

// ErrRunExists is returned when a run folder already holds a run and Resume
// was not asked for.
var ErrRunExists = errors.New("run folder already holds a run")

// Run trains cfg in opts.Dir: a fresh run, or (Resume) the continuation of
// the run there, whose saved config.json is used (cfg then only gives the
// experiment and, if positive, a new number of epochs). It writes config.json, metrics.csv, PNG grids each epoch and
// checkpoints, and on cancellation of ctx (Ctrl-C) saves a checkpoint before
// returning ctx's error. A NaN or Inf stops training with a *NumericError,
// leaving the last good checkpoint in place.
func Run(ctx context.Context, cfg Config, opts RunOptions) (err error) {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	cfgPath := filepath.Join(opts.Dir, ConfigFile)
	_, statErr := os.Stat(cfgPath)
	exists := statErr == nil
	var tr *Trainer
	switch {
	case exists && !opts.Resume:
		return fmt.Errorf("%w: %s (pass --resume to continue it, or choose another folder)", ErrRunExists, opts.Dir)
	case exists:
		saved, err := LoadConfig(cfgPath)
		if err != nil {
			return err
		}
		if saved.Experiment != cfg.Experiment {
			return fmt.Errorf("run folder %s holds a %q run, not %q", opts.Dir, saved.Experiment, cfg.Experiment)
		}
		// Only the length of the run may change on resume.
		if cfg.Epochs > 0 {
			saved.Epochs = cfg.Epochs
		}
		cfg = saved
		if tr, err = NewTrainer(cfg); err != nil {
			return err
		}
		if err := checkData(tr, opts); err != nil {
			return err
		}
		removeStaleTemps(opts.Dir, out)
		path, err := latestCheckpoint(opts.Dir, out)
		switch {
		case errors.Is(err, checkpoint.ErrNoCheckpoint):
			// Stopped before its first checkpoint: the run's state at
			// step 0 is its config, so it starts over from there.
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
		if tr, err = NewTrainer(cfg); err != nil {
			return err
		}
		// Refuse before anything is written, so that the same folder can be
		// used again once the mistake is fixed.
		if err := checkData(tr, opts); err != nil {
			return err
		}
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return fmt.Errorf("create run folder: %w", err)
		}
		// Checkpoints without a config.json: another run's leftovers, which
		// rotation would mix with (and prefer over) this run's.
		if ents, err := os.ReadDir(opts.Dir); err == nil {
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), CheckpointPrefix+"-") && strings.HasSuffix(e.Name(), ".safetensors") {
					return fmt.Errorf("%w: %s holds checkpoints such as %s but no %s (choose another folder)", ErrRunExists, opts.Dir, e.Name(), ConfigFile)
				}
			}
		}
		if err := SaveConfig(cfgPath, cfg); err != nil {
			return err
		}
	}
	l := &loop{tr: tr, opts: opts, out: out}
	return l.run(ctx)
}

// removeStaleTemps deletes the temporary files (".<name>.tmp-*") that a
// process killed while writing a checkpoint, picture or config leaves behind.
// Run calls it when resuming: the folder's own writer is gone.
func removeStaleTemps(dir string, out io.Writer) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, ".") && strings.Contains(n, ".tmp-") && e.Type().IsRegular() {
			if os.Remove(filepath.Join(dir, n)) == nil {
				fmt.Fprintf(out, "removed %s, left by an interrupted write\n", n)
			}
		}
	}
}

// checkData checks that the data fit the model and give at least one step
// an epoch.
func checkData(tr *Trainer, opts RunOptions) error {
	cfg := tr.Config
	if opts.Train == nil {
		return errors.New("no training data")
	}
	for _, s := range []struct {
		name string
		set  *mnist.Set
	}{{"training", opts.Train}, {"test", opts.Test}} {
		if s.set != nil && s.set.Rows*s.set.Cols != cfg.Model.XDim {
			return fmt.Errorf("%s images are %d×%d, the model takes %d pixels", s.name, s.set.Rows, s.set.Cols, cfg.Model.XDim)
		}
	}
	if tr.StepsPerEpoch(opts.Train.N) == 0 {
		n := opts.Train.N
		if cfg.TrainLimit > 0 && cfg.TrainLimit < n {
			n = cfg.TrainLimit
		}
		return fmt.Errorf("batch size %d × critic steps %d exceeds the %d training images", cfg.BatchSize, cfg.CriticSteps, n)
	}
	return nil
}

type loop struct {
	tr      *Trainer
	opts    RunOptions
	out     io.Writer
	log     *metrics.CSV
	columns []string
}

// StepsPerEpoch returns the number of full batches in an epoch.
func (t *Trainer) StepsPerEpoch(n int) int {
	if t.Config.TrainLimit > 0 && t.Config.TrainLimit < n {
		n = t.Config.TrainLimit
	}
	return n / (t.Config.BatchSize * t.Config.CriticSteps)
}

// epochOrder is the data order of an epoch: a pure function of the seed and
// the epoch, so that a resumed run sees the same batches.
func (t *Trainer) epochOrder(epoch, n int) []int {
	if t.Config.TrainLimit > 0 && t.Config.TrainLimit < n {
		n = t.Config.TrainLimit
	}
	return mnist.Permutation(rand.New(rand.NewPCG(t.Config.Seed, uint64(epoch)+1<<32)), n)
}

// Batches returns the critic-step batches of global step s (0-based).
func (t *Trainer) Batches(set *mnist.Set, s int) []*tensor.Tensor {
	per := t.StepsPerEpoch(set.N)
	epoch, i := s/per, s%per
	order := t.epochOrder(epoch, set.N)
	b, k := t.Config.BatchSize, t.Config.CriticSteps
	xs := make([]*tensor.Tensor, k)
	for j := range xs {
		start := (i*k + j) * b
		xs[j] = set.Batch(order[start:start+b], t.Model.DType(), t.Config.PixelScale)
	}
	return xs
}

func (l *loop) run(ctx context.Context) error {
	tr, cfg := l.tr, l.tr.Config
	if err := checkData(tr, l.opts); err != nil {
		return err
	}
	per := tr.StepsPerEpoch(l.opts.Train.N)
	total := cfg.Epochs * per
	if l.opts.MaxSteps > 0 && l.opts.MaxSteps < total {
		total = l.opts.MaxSteps
	}
	// A run killed after an epoch's last checkpoint but before its pictures
	// were written resumes at the end of that epoch: finish that work first.
	if e := tr.Step / per; tr.Step > 0 && tr.Step%per == 0 && !l.picturesDone(e) {
		fmt.Fprintf(l.out, "writing the pictures of epoch %d, cut short\n", e)
		if err := l.pictures(e); err != nil {
			return err
		}
		if l.opts.OnEpoch != nil {
			if err := l.opts.OnEpoch(tr, e); err != nil {
				return err
			}
		}
	}
	if tr.Step >= total {
		fmt.Fprintf(l.out, "run already at step %d of %d\n", tr.Step, total)
		return nil
	}
	var err error
	l.log, err = metrics.OpenCSV(filepath.Join(l.opts.Dir, MetricsFile), tr.Step)
	if err != nil {
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
			if err := l.logRow(epoch, terms, elapsed); err != nil {
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
		if endOfEpoch || tr.Step == total {
			e := (tr.Step + per - 1) / per
			if err := l.pictures(e); err != nil {
				return err
			}
			if l.opts.OnEpoch != nil && endOfEpoch {
				if err := l.opts.OnEpoch(tr, e); err != nil {
					return err
				}
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

func (l *loop) logRow(epoch int, terms map[string]float64, elapsed time.Duration) error {
	row := map[string]float64{
		"step":        float64(l.tr.Step),
		"epoch":       float64(epoch + 1),
		"step_time_s": elapsed.Seconds(),
		"lr_network":  l.tr.Network.LearningRate(),
		"lr_critic":   l.tr.Critic.LearningRate(),
	}
	for k, v := range terms {
		row[k] = v
	}
	return l.log.Log(row)
}

// lastGood describes the newest checkpoint that loads, for error messages.
func (l *loop) lastGood() string {
	path, step, err := checkpoint.Latest(l.opts.Dir, CheckpointPrefix)
	var fb *checkpoint.FallbackError
	if err != nil && !errors.As(err, &fb) {
		return "no good checkpoint in " + l.opts.Dir
	}
	return fmt.Sprintf("last good checkpoint kept: %s, step %d", path, step)
}

func (l *loop) save() error {
	ts, meta, err := l.tr.State()
	if err != nil {
		return err
	}
	// Never write a checkpoint that could not be trained on from.
	if name := nonFinite(ts); name != "" {
		return fmt.Errorf("%w (%s)", &NumericError{Step: l.tr.Step, Term: "checkpoint tensor " + name}, l.lastGood())
	}
	path := filepath.Join(l.opts.Dir, fmt.Sprintf("%s-%08d.safetensors", CheckpointPrefix, l.tr.Step))
	if err := checkpoint.Save(path, ts, meta); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return checkpoint.Rotate(l.opts.Dir, CheckpointPrefix, l.tr.Config.KeepCheckpoints)
}

// picturesDone reports whether the pictures of epoch are in the run folder.
func (l *loop) picturesDone(epoch int) bool {
	for _, g := range l.grids() {
		if g.recon && (l.opts.Test == nil || l.opts.Test.N == 0) {
			continue
		}
		if _, err := os.Stat(filepath.Join(l.opts.Dir, fmt.Sprintf(g.name, epoch))); err != nil {
			return false
		}
	}
	return true
}

// grid is one of the epoch pictures: its file name pattern and how to draw it.
type grid struct {
	name  string // with %03d for the epoch
	recon bool   // needs the test set
	draw  func(l *loop) (image.Image, error)
}

// grids returns the epoch pictures that opts.Pictures asks for.
func (l *loop) grids() []grid {
	samples := []grid{
		{"samples-epoch%03d.png", false, func(l *loop) (image.Image, error) { return Samples(l.tr, 64) }},
		{"recon-epoch%03d.png", true, func(l *loop) (image.Image, error) {
			return Reconstructions(l.tr, l.opts.Test, min(32, l.opts.Test.N))
		}},
	}
	means := []grid{
		{"samples-mean-epoch%03d.png", false, func(l *loop) (image.Image, error) { return SampleMeans(l.tr, 64) }},
		{"recon-mean-epoch%03d.png", true, func(l *loop) (image.Image, error) {
			return ReconstructionMeans(l.tr, l.opts.Test, min(32, l.opts.Test.N))
		}},
	}
	switch l.opts.Pictures {
	case PicturesSamples:
		return samples
	case PicturesMeans:
		return means
	}
	return append(samples, means...)
}

// pictures writes the epoch's grids: sleep samples from fixed noise and
// fixed test digits beside their reconstructions, sampled and/or noise-free.
func (l *loop) pictures(epoch int) error {
	for _, g := range l.grids() {
		if g.recon && (l.opts.Test == nil || l.opts.Test.N == 0) {
			continue
		}
		img, err := g.draw(l)
		if err != nil {
			return err
		}
		if err := imaging.SavePNG(filepath.Join(l.opts.Dir, fmt.Sprintf(g.name, epoch)), img); err != nil {
			return err
		}
	}
	return nil
}

// Fixed noise streams for pictures, so that grids of successive epochs are
// comparable.
const (
	sampleStream = 0xF1
	reconStream  = 0xF2
)

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
	rng := rand.New(rand.NewPCG(t.Config.Seed, sampleStream))
	x := t.Model.Generate(t.Model.Prior(n, rng), rng)
	return imaging.Grid(toImages(x.Value, t.Config.PixelScale), 8, 2), nil
}

// Reconstructions returns the first n test digits, each beside its
// reconstruction x̂ ~ p_θ(x|z), z ~ q_φ(z|x).
func Reconstructions(t *Trainer, test *mnist.Set, n int) (image.Image, error) {
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
	x := test.Batch(idx, t.Model.DType(), t.Config.PixelScale)
	rng := rand.New(rand.NewPCG(t.Config.Seed, reconStream))
	r := t.Model.Generate(t.Model.Infer(ad.Const(x), rng), rng)
	return imaging.SideBySide(toImages(x, t.Config.PixelScale), toImages(r.Value, t.Config.PixelScale), 8, 2), nil
}
