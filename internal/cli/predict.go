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

--eval also scores the predictions of the first --eval-n test sequences
against the trivial baseline that repeats the last context frame (and black
frames): per-frame MSE and SSIM, written as prediction.md, prediction.json and
two plots into <run folder>/eval (or --eval-out).

Examples:
  $ wakesleep predict --checkpoint runs/mm
  $ wakesleep predict --checkpoint runs/mm/ckpt-00001000.safetensors --index 100 --n 8 --out mm.png --gif mm.gif
  $ wakesleep predict --checkpoint runs/mm --eval --eval-n 1000
`

// maxIndex bounds predict --index: the fixed test set is indexed by uint64,
// and --index + --n must not wrap around.
const maxIndex = 1 << 52

// predictOptions are the flags of predict.
type predictOptions struct {
	ckpt, out, gifOut, evalOut, dataDir string
	index, n, delay, evalN, batch       int
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
	preds := mmexp.Predict(tr.Model, frames, c, h, rand.New(rand.NewPCG(*seed, 0x9D)))
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
	return evalPrediction(ctx, tr, path, test, *evalN, *batch, *seed, dir, stdout, stderr)
}

// evalPrediction scores the closed-loop predictions of the first n test
// sequences and writes the report into dir (predict --eval, and eval of a
// Moving MNIST run).
func evalPrediction(ctx context.Context, tr *mmexp.Trainer, path string, test *movingmnist.Generator, n, batch int, seed uint64, dir string, stdout, stderr io.Writer) error {
	c, h := tr.Config.Objective.Context, tr.Config.Objective.Horizon
	r := eval.EvaluatePrediction(tr.Model, test, n, batch, c, h, seed, stderr)
	r.Checkpoint, r.Step = path, tr.Step
	r.Provenance = reportProvenance(ctx)
	if err := eval.WritePredictionEval(dir, r); err != nil {
		return err
	}
	mm, ms := r.Model.Mean()
	bm, bs := r.Baseline.Mean()
	km, ks := r.Blank.Mean()
	fmt.Fprintf(stdout, "%d test sequences, frames %d–%d, means over frames:\n", r.N, c+1, c+h)
	fmt.Fprintf(stdout, "  %-18s MSE %.5f  SSIM %.4f\n", "model", mm, ms)
	fmt.Fprintf(stdout, "  %-18s MSE %.5f  SSIM %.4f\n", "repeat last frame", bm, bs)
	fmt.Fprintf(stdout, "  %-18s MSE %.5f  SSIM %.4f\n", "black frame", km, ks)
	fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(dir, eval.PredictionReportFile))
	return nil
}
