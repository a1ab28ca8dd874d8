package cli

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"

	"github.com/wakesleep/wakesleep/data/movingmnist"
	"github.com/wakesleep/wakesleep/eval"
	mmexp "github.com/wakesleep/wakesleep/experiment/movingmnist"
	"github.com/wakesleep/wakesleep/imaging"
)

const predictUsage = `
Usage: wakesleep predict --checkpoint <file or run folder> [--index 0] [--n 4] [--eval] [flags]

Moving MNIST (a run of 'wakesleep train movingmnist'): gives the model the
first 10 frames of sequences of the fixed test set (two bouncing MNIST test
digits, seeded) and lets it predict the next 10, feeding back its own
predictions. Writes, by default into the run folder:

  predict.png  for each sequence three rows: the last context frames, the
               true next frames, the predicted frames
  predict.gif  the sequences animated, truth (left) beside the model (right);
               the bar under the right panel turns white when the model
               predicts

--eval also scores the predictions of the first --eval-n test sequences:
per-frame MSE and SSIM with 95% intervals over sequences, for one sample, the
mean of --samples samples and the best of them (the SAVP protocol), against
repeating the last context frame, black frames and, with --baseline, a
deterministic ConvLSTM run ('train movingmnist --deterministic' with the same
steps and batch); whether the predicted digits keep their identity (the
embedded MNIST classifier on 28x28 crops at each digit's true position); and
the alignment of the encoder's latents in the wake and sleep phases, with
its noise floor. Written as prediction.md, prediction.json and two plots into
<run folder>/eval (or --eval-out).

Examples:
  $ wakesleep predict --checkpoint runs/mm
  $ wakesleep predict --checkpoint runs/mm/ckpt-00001000.safetensors --index 100 --n 8 --out mm.png --gif mm.gif
  $ wakesleep predict --checkpoint runs/mm --eval --eval-n 1000
  $ wakesleep predict --checkpoint runs/mm --eval --baseline runs/mm-det
`

// maxIndex bounds predict --index: the fixed test set is indexed by uint64,
// and --index + --n must not wrap around.
const maxIndex = 1 << 52

// predictOptions are the flags of predict.
type predictOptions struct {
	ckpt, out, gifOut, evalOut, dataDir string
	baseline                            string
	index, n, delay, evalN, batch       int
	samples                             int
	seed                                uint64
	doEval                              bool
}

func parsePredict(args []string, stderr io.Writer) (*predictOptions, error) {
	o := &predictOptions{}
	fs := newFlagSet("predict", predictUsage, stderr)
	fs.StringVar(&o.ckpt, "checkpoint", "", "checkpoint file, or run folder (newest good checkpoint)")
	fs.IntVar(&o.index, "index", 0, "first test sequence to show")
	fs.IntVar(&o.n, "n", 4, "test sequences to show")
	fs.StringVar(&o.out, "out", "", "output PNG strip (default: <run folder>/predict.png)")
	fs.StringVar(&o.gifOut, "gif", "", "output animated GIF (default: <run folder>/predict.gif; \"-\" for none)")
	fs.IntVar(&o.delay, "delay", 25, "GIF frame time in hundredths of a second")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the model's noise")
	fs.BoolVar(&o.doEval, "eval", false, "also score predictions of the fixed test set against the repeat-last-frame baseline")
	fs.IntVar(&o.evalN, "eval-n", 1000, "test sequences to score with --eval (the fixed test set is unbounded; 10000 is the usual size)")
	fs.StringVar(&o.evalOut, "eval-out", "", "report folder for --eval (default: <run folder>/eval)")
	fs.IntVar(&o.batch, "batch", 32, "sequences per forward pass with --eval")
	fs.IntVar(&o.samples, "samples", 0, "samples per sequence with --eval, for the mean and best of K (0: 5, or 1 for a deterministic run)")
	fs.StringVar(&o.baseline, "baseline", "", "with --eval, a deterministic run (train movingmnist --deterministic) to score beside the model")
	fs.StringVar(&o.dataDir, "data", "", "folder with MNIST IDX files (default: embedded)")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	switch {
	case len(pos) > 0:
		return nil, usagef("unexpected arguments %v", pos)
	case o.ckpt == "":
		return nil, usagef("--checkpoint is required")
	case o.n <= 0 || o.n > 64:
		return nil, usagef("--n %d must be in 1..64", o.n)
	case o.index < 0 || o.index > maxIndex:
		return nil, usagef("--index %d must be in 0..%d", o.index, maxIndex)
	case o.delay <= 0 || o.delay > 6000:
		return nil, usagef("--delay %d must be in 1..6000", o.delay)
	case o.evalN <= 0 || o.batch <= 0:
		return nil, usagef("--eval-n %d and --batch %d must be positive", o.evalN, o.batch)
	case o.seed == 0:
		return nil, usagef("--seed must be positive")
	case o.samples < 0 || o.samples > 100:
		return nil, usagef("--samples %d must be in 0..100", o.samples)
	case o.evalN > maxEvalN || o.batch > 4096:
		return nil, usagef("--eval-n %d must be ≤ %d and --batch %d ≤ 4096", o.evalN, maxEvalN, o.batch)
	}
	for _, err := range []error{outFile("out", o.out), outFile("gif", o.gifOut), outDir("eval-out", o.evalOut)} {
		if err != nil {
			return nil, err
		}
	}
	return o, nil
}

func runPredict(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parsePredict(args, stderr)
	if err != nil {
		return err
	}
	ckpt, index, n, out, gifOut, delay, seed, doEval, evalN, evalOut, batch, dataDir := &o.ckpt, &o.index, &o.n, &o.out, &o.gifOut, &o.delay, &o.seed, &o.doEval, &o.evalN, &o.evalOut, &o.batch, &o.dataDir
	gtr, path, err := openRun(*ckpt, stderr)
	if err != nil {
		return err
	}
	tr, err := mmexp.View(gtr)
	if err != nil {
		return unsupported("predict", gtr.Experiment, []string{mmexp.Name})
	}
	runDir := filepath.Dir(path)
	if *out == "" {
		*out = filepath.Join(runDir, "predict.png")
	}
	if *gifOut == "" {
		*gifOut = filepath.Join(runDir, "predict.gif")
	}
	_, testDigits, err := loadMNIST(*dataDir)
	if err != nil {
		return err
	}
	cfg := tr.Config
	test, err := movingmnist.NewGenerator(testDigits, cfg.Data, movingmnist.TestSeed)
	if err != nil {
		return err
	}
	idx := make([]uint64, *n)
	for i := range idx {
		idx[i] = uint64(*index + i)
	}
	c, h := cfg.Objective.Context, cfg.Objective.Horizon
	frames := test.Batch(idx, tr.Model.DType())
	preds := mmexp.Predict(tr.Model, frames, c, h, cfg.Noise(rand.New(rand.NewPCG(*seed, 0x9D))))
	if err := imaging.SavePNG(*out, mmexp.PredictionStrip(frames, preds, c)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s from %s (step %d): test sequences %d–%d, frames 1–%d given, %d–%d predicted\n",
		*out, path, tr.Step, *index, *index+*n-1, c, c+1, c+h)
	if *gifOut != "-" {
		if err := imaging.SaveGIF(*gifOut, mmexp.PredictionFrames(frames, preds, c), *delay); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", *gifOut)
	}
	if !*doEval {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := *evalOut
	if dir == "" {
		dir = filepath.Join(runDir, eval.ReportDir)
	}
	return evalPrediction(ctx, tr, path, test, *evalN, *batch, o.samples, *seed, o.baseline, eval.AlignmentOptions{}, dir, stdout, stderr)
}

// evalPrediction scores the closed-loop predictions of the first n test
// sequences and writes the report into dir (predict --eval, and eval of a
// Moving MNIST run): K samples each (0: the default), against the
// deterministic baseline run baseline ("" for none), digit identity by the
// embedded MNIST classifier, the sleep alignment of z by align (zero: the
// default).
func evalPrediction(ctx context.Context, tr *mmexp.Trainer, path string, test *movingmnist.Generator, n, batch, k int, seed uint64, baseline string,
	align eval.AlignmentOptions, dir string, stdout, stderr io.Writer) error {
	c, h := tr.Config.Objective.Context, tr.Config.Objective.Horizon
	o := eval.PredictionOptions{N: n, Batch: batch, Context: c, Horizon: h, K: k, Seed: seed, Alignment: align, Progress: stderr}
	if baseline != "" {
		btr, bpath, err := openRun(baseline, stderr)
		if err != nil {
			return err
		}
		b, err := mmexp.View(btr)
		if err != nil {
			return usagef("--baseline %s: %v", baseline, err)
		}
		if !b.Config.Deterministic {
			return usagef("--baseline %s is not a deterministic run (train movingmnist --deterministic)", baseline)
		}
		if b.Config.Data != tr.Config.Data || b.Config.Objective.Context != c || b.Config.Objective.Horizon != h {
			return usagef("--baseline %s predicts other sequences (data or context/horizon differ from the run's)", baseline)
		}
		if b.Step != tr.Step || b.Config.BatchSize != tr.Config.BatchSize {
			fmt.Fprintf(stderr, "warning: the baseline trained %d steps of batch %d, the model %d of batch %d: not the same budget\n",
				b.Step, b.Config.BatchSize, tr.Step, tr.Config.BatchSize)
		}
		o.Deterministic = eval.PredictorOf(b)
		o.DeterministicRun = fmt.Sprintf("%s (step %d, batch %d; the model: step %d, batch %d)", bpath, b.Step, b.Config.BatchSize, tr.Step, tr.Config.BatchSize)
	}
	var err error
	if o.Classifier, o.ClassifierInfo, err = eval.DefaultClassifier(); err != nil {
		fmt.Fprintf(stderr, "warning: %v; no digit identity\n", err)
		o.Classifier = nil
	}
	r, err := eval.EvaluatePrediction(eval.PredictorOf(tr), test, o)
	if err != nil {
		return err
	}
	r.Checkpoint, r.Step = path, tr.Step
	r.Provenance = reportProvenance(ctx)
	if err := eval.WritePredictionEval(dir, r); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d test sequences, frames %d–%d, means over frames (± 95%% interval):\n", r.N, c+1, c+h)
	for _, m := range []struct {
		name string
		f    *eval.FrameScores
	}{{"model (1 sample)", &r.Model}, {fmt.Sprintf("mean of %d", r.K), &r.MeanOfK}, {fmt.Sprintf("best of %d", r.K), &r.BestOfK},
		{"deterministic", r.Deterministic}, {"repeat last frame", &r.Baseline}, {"black frame", &r.Blank}} {
		if m.f == nil || (r.K == 1 && (m.f == &r.MeanOfK || m.f == &r.BestOfK)) {
			continue
		}
		mse, ssim := m.f.Mean()
		fmt.Fprintf(stdout, "  %-18s MSE %.5f ± %.5f  SSIM %.4f ± %.4f\n", m.name, mse, m.f.MeanMSECI, ssim, m.f.MeanSSIMCI)
	}
	if id := r.Identity; id != nil {
		fmt.Fprintf(stdout, "digit identity (classifier on crops at the true positions): true frames %.3f, model %.3f, repeat last %.3f\n",
			mean(id.Truth), mean(id.Model), mean(id.RepeatLast))
	}
	if a := r.SleepAlignment; a != nil {
		fmt.Fprintf(stdout, "sleep alignment of z: KL(wake||sleep) %.3f bits, control %.3f\n", a.WakeSleep.Mean, a.Control.Mean)
	}
	fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(dir, eval.PredictionReportFile))
	return nil
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
