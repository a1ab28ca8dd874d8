package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/wakesleep/wakesleep/internal/regular"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/internal/progress"
	"github.com/wakesleep/wakesleep/metrics"
	"github.com/wakesleep/wakesleep/report"
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
	Data   Data      // what the run trains on and its pictures show
	// MaxSteps stops after this many steps in total (0: run every epoch).
	MaxSteps int
	// MemoryLimit refuses a run whose estimated memory (MemoryEstimator)
	// exceeds it, in bytes (0: the memory the machine has available).
	MemoryLimit float64
	// Amend, if set, changes the saved config of a run being resumed
	// (the values of the Resumable flags given); the result is validated.
	Amend func(saved Config) error
	// OnStart, if set, is called when the run's first step begins: from
	// then on, a cancelled context ends the run at the end of the step in
	// progress, with a checkpoint of it.
	OnStart func()
	// OnStep, if set, is called after every step.
	OnStep func(t *Trainer)
	// OnEpoch, if set, is called after each epoch's checkpoint and pictures
	// (e.g. to evaluate); an error stops the run.
	OnEpoch func(t *Trainer, epoch int) error
	// Provenance is recorded in config.json: of a fresh run as its
	// "version" and "command", of a resume appended to its "resumed".
	Provenance Provenance
	// NoReport leaves out the run's curves.png and report.html (package
	// report), otherwise redrawn at the end of every epoch.
	NoReport bool
}

// ErrRunExists is returned when a run folder already holds a run and Resume
// was not asked for.
var ErrRunExists = errors.New("run folder already holds a run")

// Run trains ex with cfg in opts.Dir: a fresh run, or (Resume) the
// continuation of the run there, whose saved config.json is used (cfg, if
// not nil, then only gives a new number of epochs, if positive). It writes
// config.json, metrics.csv, the experiment's pictures and checkpoints, and on
// cancellation of ctx (Ctrl-C, SIGTERM) saves a checkpoint before returning
// ctx's error. A NaN or Inf stops training with a *NumericError, leaving the
// last good checkpoint in place; no checkpoint holding one is written.
func Run(ctx context.Context, ex Experiment, cfg Config, opts RunOptions) error {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	if opts.Data == nil {
		return errors.New("no training data")
	}
	cfgPath := filepath.Join(opts.Dir, ConfigFile)
	var tr *Trainer
	var feed Feed
	var err error
	runExists := func() error {
		held := ""
		if _, name, err := ReadConfigFile(cfgPath); err == nil {
			held = fmt.Sprintf(" (a %s run)", name)
		}
		return fmt.Errorf("%w: %s%s (pass --resume to continue it, or choose another folder)", ErrRunExists, opts.Dir, held)
	}
	// Checked again once the folder is locked; here so that a mistake
	// costs no model building.
	if err := CheckFolder(ex, opts.Dir, opts.Resume); err != nil {
		return err
	}
	if !opts.Resume {
		if cfg == nil {
			return errors.New("no config for a fresh run")
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
		if err := CheckMemory(ex, cfg, opts.MemoryLimit); err != nil {
			return err
		}
		if tr, err = NewTrainer(ex, cfg); err != nil {
			return err
		}
		// Refuse before anything is written, so that the same folder can be
		// used again once the mistake is fixed.
		if feed, err = opts.Data.Feed(tr); err != nil {
			return err
		}
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return fmt.Errorf("create run folder: %w", err)
		}
	}
	// From here on this process is the folder's only writer.
	unlock, err := lockDir(opts.Dir, out)
	if err != nil {
		return err
	}
	defer unlock()
	_, statErr := os.Stat(cfgPath)
	exists := statErr == nil
	if exists && !opts.Resume && unreadableLeftover(opts.Dir) {
		fmt.Fprintf(out, "warning: %s holds an unreadable %s and no checkpoint, left by a failed start: replacing it\n", opts.Dir, ConfigFile)
		exists = false
	}
	switch {
	case exists && !opts.Resume:
		return runExists()
	case exists:
		b, name, err := ReadConfigFile(cfgPath)
		if err != nil {
			if unreadableLeftover(opts.Dir) {
				return fmt.Errorf("%w; %s holds no checkpoint either: start a fresh run there (without --resume)", err, opts.Dir)
			}
			return err
		}
		if name != ex.Name() {
			return anotherExperiment(opts.Dir, name, ex)
		}
		saved, err := DecodeConfig(ex, b, cfgPath)
		if err != nil {
			return err
		}
		_, made, resumed, err := SplitProvenance(b)
		if err != nil {
			return fmt.Errorf("read config %q: %w", cfgPath, err)
		}
		removeStaleTemps(opts.Dir, out)
		path, err := latestCheckpoint(opts.Dir, out)
		var ts map[string]*tensor.Tensor
		var meta map[string]string
		switch {
		case errors.Is(err, checkpoint.ErrNoCheckpoint):
			// Stopped before its first checkpoint: the run's state at
			// step 0 is its config, so it starts over from there.
			fmt.Fprintf(out, "warning: %s has no checkpoint yet: starting its run from step 0\n", opts.Dir)
		case err != nil:
			return fmt.Errorf("resume %s: %w", opts.Dir, err)
		default:
			if ts, meta, err = checkpoint.Load(path); err != nil {
				return err
			}
			// A hand-edited config.json (a seed, a learning rate) would
			// silently train on as another run than the checkpoint's.
			if err := agree(ex, saved, cfgPath, meta, path); err != nil {
				return err
			}
		}
		// Only what Resumable flags set may change on resume: the length
		// of the run, what pictures it writes. config.json follows, so that
		// it stays the config of the run's checkpoints.
		before, err := EncodeConfig(saved)
		if err != nil {
			return err
		}
		if cfg != nil && cfg.RunSettings().Epochs > 0 {
			saved.RunSettings().Epochs = cfg.RunSettings().Epochs
		}
		if opts.Amend != nil {
			if err := opts.Amend(saved); err != nil {
				return err
			}
		}
		if err := CheckMemory(ex, saved, opts.MemoryLimit); err != nil {
			return err
		}
		if tr, err = NewTrainer(ex, saved); err != nil {
			return err
		}
		if feed, err = opts.Data.Feed(tr); err != nil {
			return err
		}
		if ts != nil {
			if err := tr.Restore(ts, meta); err != nil {
				return fmt.Errorf("resume from %s: %w", path, err)
			}
			fmt.Fprintf(out, "resumed %s at step %d\n", path, tr.Step)
		}
		after, err := EncodeConfig(saved)
		if err != nil {
			return err
		}
		if !opts.Provenance.empty() {
			resumed = append(resumed, opts.Provenance)
		}
		if !bytes.Equal(before, after) || !opts.Provenance.empty() {
			if err := SaveConfigProvenance(cfgPath, saved, made, resumed); err != nil {
				return err
			}
		}
	case opts.Resume:
		return fmt.Errorf("nothing to resume: %s has no %s", opts.Dir, ConfigFile)
	default:
		// Checkpoints without a config.json: another run's leftovers, which
		// rotation would mix with (and prefer over) this run's.
		if ents, err := os.ReadDir(opts.Dir); err == nil {
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), CheckpointPrefix+"-") && strings.HasSuffix(e.Name(), ".safetensors") {
					return fmt.Errorf("%w: %s holds checkpoints such as %s but no %s (choose another folder)", ErrRunExists, opts.Dir, e.Name(), ConfigFile)
				}
			}
		}
		if err := SaveConfigProvenance(cfgPath, cfg, opts.Provenance, nil); err != nil {
			return err
		}
	}
	l := &loop{tr: tr, feed: feed, opts: opts, out: out}
	return l.run(ctx)
}

// CheckFolder makes the checks of a run folder that need nothing but the
// folder (Run makes them again, under the folder's lock): a fresh run wants
// none there, a resumed one a config.json of ex. A command line calls it
// before reading the data, so that such a mistake is reported at once.
func CheckFolder(ex Experiment, dir string, resume bool) error {
	if err := lockHeld(dir); err != nil {
		return err
	}
	path := filepath.Join(dir, ConfigFile)
	_, err := os.Stat(path)
	switch {
	case err == nil && !resume && unreadableLeftover(dir):
		// A config.json that does not even decode, and no checkpoint: what
		// a failure before the first checkpoint on a filesystem without
		// atomic rename leaves. No trained state is lost by starting over.
	case err == nil && !resume:
		held := ""
		if _, name, err := ReadConfigFile(path); err == nil {
			held = fmt.Sprintf(" (a %s run)", name)
		}
		return fmt.Errorf("%w: %s%s (pass --resume to continue it, or choose another folder)", ErrRunExists, dir, held)
	case err != nil && resume:
		return fmt.Errorf("nothing to resume: %s has no %s", dir, ConfigFile)
	case resume:
		if _, name, err := ReadConfigFile(path); err == nil && name != ex.Name() {
			return anotherExperiment(dir, name, ex)
		}
	}
	return nil
}

// unreadableLeftover reports whether dir's config.json does not decode as
// any config and dir holds no checkpoint: a fresh run may replace it.
func unreadableLeftover(dir string) bool {
	b, err := regular.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return false
	}
	if _, err := ExperimentOf(b); err == nil {
		return false
	}
	return !hasCheckpoints(dir)
}

// hasCheckpoints reports whether dir holds a file named as a checkpoint.
func hasCheckpoints(dir string) bool {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), CheckpointPrefix+"-") && strings.HasSuffix(e.Name(), ".safetensors") {
			return true
		}
	}
	return false
}

func anotherExperiment(dir, name string, ex Experiment) error {
	return fmt.Errorf("run folder %s holds another experiment: a %q run, not %q (resume it without naming an experiment, or choose another folder)", dir, name, ex.Name())
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

type loop struct {
	tr   *Trainer
	feed Feed
	opts RunOptions
	out  io.Writer
	log  *metrics.CSV
}

// picturesMissing reports whether a picture due at m is not in the run folder.
func (l *loop) picturesMissing(m Moment) bool {
	for _, n := range l.feed.Pictures(m) {
		if _, err := os.Stat(filepath.Join(l.opts.Dir, n)); err != nil {
			return true
		}
	}
	return false
}

func (l *loop) run(ctx context.Context) error {
	tr, cfg := l.tr, l.tr.Settings()
	per := l.feed.StepsPerEpoch()
	if per <= 0 {
		return errors.New("the data give no step an epoch")
	}
	if cfg.Epochs > math.MaxInt/per {
		return fmt.Errorf("%d epochs × %d steps an epoch overflow the step count", cfg.Epochs, per)
	}
	total := cfg.Epochs * per
	if l.opts.MaxSteps > 0 && l.opts.MaxSteps < total {
		total = l.opts.MaxSteps
	}
	// A run killed after an epoch's last checkpoint but before its pictures
	// were written resumes at the end of that epoch: finish that work first.
	if e := tr.Step / per; tr.Step > 0 && tr.Step%per == 0 {
		m := Moment{Step: tr.Step, Epoch: e, EpochEnd: true, Last: tr.Step == total}
		if l.picturesMissing(m) {
			fmt.Fprintf(l.out, "writing the pictures of epoch %d, cut short\n", e)
			if err := l.feed.WritePictures(l.opts.Dir, m); err != nil {
				return err
			}
			if l.opts.OnEpoch != nil {
				if err := l.opts.OnEpoch(tr, e); err != nil {
					return err
				}
			}
			l.refreshReport()
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

	if l.opts.OnStart != nil {
		l.opts.OnStart()
	}
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
		terms, err := tr.TrainStep(l.feed.Batches(tr.Step))
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
		m := Moment{Step: tr.Step, Epoch: (tr.Step + per - 1) / per, EpochEnd: endOfEpoch, Last: tr.Step == total}
		if len(l.feed.Pictures(m)) > 0 {
			if err := l.feed.WritePictures(l.opts.Dir, m); err != nil {
				return err
			}
		}
		if l.opts.OnEpoch != nil && endOfEpoch {
			if err := l.opts.OnEpoch(tr, m.Epoch); err != nil {
				return err
			}
		}
		if endOfEpoch || m.Last {
			l.refreshReport()
		}
		if l.opts.OnStep != nil {
			l.opts.OnStep(tr)
		}
	}
	bar.Finish()
	fmt.Fprintf(l.out, "done: %d steps; pictures, metrics and checkpoints in %s\n", tr.Step, l.opts.Dir)
	return nil
}

// refreshReport redraws the run's curves.png and report.html (package
// report) from metrics.csv and the pictures just written. They only show
// the run: a failure is a warning, never the end of training.
func (l *loop) refreshReport() {
	if l.opts.NoReport {
		return
	}
	if err := report.Refresh(l.opts.Dir); err != nil && !errors.Is(err, report.ErrNoRows) {
		fmt.Fprintf(l.out, "\nwarning: run report: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
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
	path, step, err := latestGood(l.opts.Dir)
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
	path := filepath.Join(l.opts.Dir, checkpoint.FileName(CheckpointPrefix, l.tr.Step))
	if err := checkpoint.Save(path, ts, meta); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return checkpoint.Rotate(l.opts.Dir, CheckpointPrefix, l.tr.Settings().KeepCheckpoints)
}
