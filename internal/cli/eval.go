package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/wakesleep/wakesleep/data/movingmnist"
	"github.com/wakesleep/wakesleep/eval"
	cifarexp "github.com/wakesleep/wakesleep/experiment/cifar10"
	fashionexp "github.com/wakesleep/wakesleep/experiment/fashionmnist"
	mnistexp "github.com/wakesleep/wakesleep/experiment/mnist"
	mmexp "github.com/wakesleep/wakesleep/experiment/movingmnist"
	"github.com/wakesleep/wakesleep/internal/sweep"
	"github.com/wakesleep/wakesleep/train"
)

const evalUsage = `
Usage:
  wakesleep eval --checkpoint <file or run folder> [--out <folder>] [flags]
  wakesleep eval --compare <run or eval.json> <run or eval.json> ...
  wakesleep eval --compare <sweep folder or summary.json> ...

Measures a trained model and writes a report (report.md, eval.json,
alignment.png, sleep-class-histogram.png) into <run folder>/eval, or --out:

  - wake/sleep alignment (Fig. 3D, after Berkes et al. 2011): x and z rounded
    to integers, patterns over 8 pixels and 8 latents (the paper's setting)
    counted in wake (test digits, z ~ q(z|x)) and sleep (z ~ N(0,I),
    x ~ p(x|z)); KL(wake||sleep) and KL(sleep||wake) in bits, mean and spread
    over --draws seeded draws of units, beside the wake-vs-wake control (the
    estimator's noise floor) and the missing mass (how well the samples cover
    the patterns). 16 units are too many for 10,000 samples to resolve when z
    is near N(0,I), so a coarser alignment (4 pixels, 2 latents) is reported
    too;
  - an MNIST classifier's view: reconstruction class agreement, class
    histogram and confidence of sleep samples, Frechet distances of classifier
    features (sleep vs test digits, reconstructions vs test digits, and train
    vs test digits as the floor).

Fashion-MNIST runs are measured the same way by the embedded Fashion-MNIST
classifier (eval/files/README.md), or --classifier.
A CIFAR-10 run (cifar10.md, cifar10.json; --n defaults to 1,000 test
images, evenly spaced) gets, through each depth d of its hierarchy
(x -> z1 -> ... -> zd -> ... -> x): the reconstruction error, the class
agreement of the embedded CIFAR-10 classifier (eval/files/README.md, or
--classifier) beside its accuracy on the inputs, and the Frechet distance of
its features to the test images; the Frechet distance of samples with the
train-vs-test floor; a linear probe of the labels on each layer's inferred z
(trained on --n training images); and each layer's wake/sleep alignment
(bottom-up activity of test images against top-down activity of samples) with
its noise floor. A Moving MNIST run (prediction.md, prediction.json; --n
defaults to 1,000 test sequences) gets the per-frame MSE and SSIM of its
predictions with 95% intervals, for one sample, the mean of --samples and the
best of them, against repeating the last frame, black frames and a
deterministic ConvLSTM run given as --baseline; the digit identity of its
predictions (the MNIST classifier on crops at each digit's true position);
and the sleep-phase alignment of z (see 'predict -h').

--compare prints the eval.json numbers of several runs side by side, or the
summaries of sweeps (wakesleep sweep): per setting, the mean over seeds and
its 95% interval of each number.

Examples:
  $ wakesleep eval --checkpoint runs/mnist-local-20250101-120000
  $ wakesleep eval --checkpoint runs/a/ckpt-00011720.safetensors --n 2000 --draws 20 --alignments 8x8z,4x2z,2x2z
  $ wakesleep eval --checkpoint runs/mm --baseline runs/mm-det --samples 5
  $ wakesleep eval --compare runs/global runs/local
`

// maxEvalN bounds --n of eval and --eval-n of predict: the test sets of
// MNIST and CIFAR-10 are smaller; Moving MNIST's is unbounded.
const maxEvalN = 1000000

type evalOptions struct {
	checkpoint string
	out        string
	classifier string
	dataDir    string
	n          int
	seed       uint64
	draws      int
	alignments string
	alpha      float64
	unitChoice string
	minActive  float64
	unitSeed   uint64
	compare    bool
	samples    int    // Moving MNIST: samples per sequence
	baseline   string // Moving MNIST: deterministic baseline run
}

// parseEval parses an eval command line: with --compare the runs to
// compare (opts nil), else the options of one evaluation.
func parseEval(args []string, stderr io.Writer) (o *evalOptions, compare []string, opts *eval.Options, given map[string]bool, err error) {
	o = &evalOptions{}
	fs := newFlagSet("eval", evalUsage, stderr)
	fs.StringVar(&o.checkpoint, "checkpoint", "", "checkpoint file, or run folder (newest good checkpoint)")
	fs.StringVar(&o.out, "out", "", "report folder (default: <run folder>/eval)")
	fs.StringVar(&o.classifier, "classifier", "", "classifier safetensors file (default: the one embedded in the binary)")
	fs.StringVar(&o.dataDir, "data", "", "folder with MNIST IDX files (default: embedded)")
	fs.IntVar(&o.n, "n", 10000, "wake samples (first n test digits) and sleep samples")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the model's noise during evaluation")
	fs.IntVar(&o.draws, "draws", 10, "draws of units for the alignment (also of each CIFAR-10 layer and of Moving MNIST's z)")
	fs.StringVar(&o.alignments, "alignments", "8x8z,4x2z", "alignments to compute, as <x units>x<z units>z, comma-separated; the first is the headline (alignment.png)")
	fs.Float64Var(&o.alpha, "alpha", 0.5, "additive smoothing of the pattern histograms (0: none)")
	fs.StringVar(&o.unitChoice, "unit-choice", eval.UnitsActive, "x units drawn from: active (pixels that vary in the data) or uniform (all pixels)")
	fs.Float64Var(&o.minActive, "min-active", 0.1, "active pixels: rounded value differs from its mode in at least this fraction of digits")
	fs.Uint64Var(&o.unitSeed, "unit-seed", 1, "seed of the unit draws and of the split into halves")
	fs.IntVar(&o.samples, "samples", 0, "Moving MNIST: samples per sequence for the mean and best of K (0: 5, or 1 for a deterministic run)")
	fs.StringVar(&o.baseline, "baseline", "", "Moving MNIST: a deterministic run (train movingmnist --deterministic) to score beside the model")
	fs.BoolVar(&o.compare, "compare", false, "print the eval.json of the runs given as arguments side by side")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	given = setFlags(fs)
	if o.compare {
		for name := range given {
			if name != "compare" {
				return nil, nil, nil, nil, usagef("--compare takes only run folders or eval.json files, not --%s", name)
			}
		}
		if len(pos) == 0 {
			return nil, nil, nil, nil, usagef("--compare needs at least one run folder or eval.json")
		}
		return o, pos, nil, given, nil
	}
	if len(pos) > 0 {
		return nil, nil, nil, nil, usagef("unexpected arguments %v (did you mean --compare?)", pos)
	}
	if o.checkpoint == "" {
		return nil, nil, nil, nil, usagef("--checkpoint is required (or --compare)")
	}
	if opts, err = o.options(); err != nil {
		return nil, nil, nil, nil, err
	}
	if err := outDir("out", o.out); err != nil {
		return nil, nil, nil, nil, err
	}
	return o, nil, opts, given, nil
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, compare, opts, given, err := parseEval(args, stderr)
	if err != nil {
		return err
	}
	if opts == nil {
		return compareRuns(compare, stdout)
	}
	gtr, path, err := openRun(o.checkpoint, stderr)
	if err != nil {
		return err
	}
	out := o.out
	if out == "" {
		out = filepath.Join(filepath.Dir(path), eval.ReportDir)
	}
	if (given["samples"] || given["baseline"]) && gtr.Experiment.Name() != mmexp.Name {
		return usagef("--samples and --baseline are for %s runs, not %s", mmexp.Name, gtr.Experiment.Name())
	}
	switch gtr.Experiment.Name() {
	case cifarexp.Name:
		return o.evalCIFAR10(ctx, gtr, path, out, given["n"], stdout, stderr)
	case mmexp.Name:
		return o.evalMovingMNIST(ctx, gtr, path, out, given["n"], stdout, stderr)
	}
	if o.classifier != "" {
		if opts.Classifier, opts.ClassifierInfo, err = eval.LoadClassifier(o.classifier); err != nil {
			return err
		}
	}
	tr, err := mnistexp.View(gtr)
	if err != nil {
		return unsupported("eval", gtr.Experiment, evaluated())
	}
	if o.classifier == "" && gtr.Experiment.Name() == fashionexp.Name {
		if opts.Classifier, opts.ClassifierInfo, err = eval.FashionClassifier(); err != nil {
			return err
		}
	} else if o.classifier == "" && gtr.Experiment.Name() != mnistexp.Name {
		return usagef("eval of a %s run needs --classifier, one trained on its images (wakesleep classifier train --data <its IDX folder>): the embedded one knows MNIST digits", gtr.Experiment.Name())
	}
	data, err := gtr.Experiment.Data(o.dataDir, stderr)
	if err != nil {
		return err
	}
	trainSet, testSet := data.(*mnistexp.Data).Train, data.(*mnistexp.Data).Test
	if o.n > testSet.N {
		return usagef("--n %d exceeds the %d test digits", o.n, testSet.N)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	opts.Log = stderr
	res, err := eval.EvaluateTrainer(tr, path, eval.Data{Test: testSet, Train: trainSet}, opts)
	if err != nil {
		return err
	}
	res.Provenance = reportProvenance(ctx)
	if err := eval.Write(out, res); err != nil {
		return err
	}
	if err := eval.Compare(stdout, []string{filepath.Base(filepath.Dir(path))}, []*eval.Result{res}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(out, eval.ReportFile))
	return nil
}

// evaluated lists the experiments eval measures.
func evaluated() []string {
	return supporting(func(ex train.Experiment) bool {
		switch ex.Name() {
		case cifarexp.Name, mmexp.Name:
			return true
		}
		_, ok := ex.NewConfig().(*mnistexp.Config)
		return ok
	})
}

// evalCIFAR10 measures a CIFAR-10 run: reconstruction error through each
// depth and the colours of samples (default 1,000 test images).
func (o *evalOptions) evalCIFAR10(ctx context.Context, gtr *train.Trainer, path, out string, nGiven bool, stdout, stderr io.Writer) error {
	tr, err := cifarexp.View(gtr)
	if err != nil {
		return err
	}
	n := o.n
	if !nGiven {
		n = 1000
	}
	data, err := gtr.Experiment.Data(o.dataDir, stderr)
	if err != nil {
		return err
	}
	test := data.(*cifarexp.Data).Test
	if n > test.N {
		return usagef("--n %d exceeds the %d test images", n, test.N)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	eo := eval.CIFAR10Options{N: n, Batch: 100, Seed: o.seed, Train: data.(*cifarexp.Data).Train, Log: stderr, Alignment: o.layerAlignment()}
	if o.classifier != "" {
		eo.Classifier, eo.ClassifierInfo, err = eval.LoadCIFARClassifier(o.classifier)
	} else {
		eo.Classifier, eo.ClassifierInfo, err = eval.CIFAR10Classifier()
		if errors.Is(err, eval.ErrNoCIFARClassifier) {
			fmt.Fprintf(stderr, "warning: %v; no classifier measures\n", err)
			err = nil
		}
	}
	if err != nil {
		return err
	}
	r, err := eval.EvaluateCIFAR10(tr, test, eo)
	if err != nil {
		return err
	}
	r.Checkpoint = path
	r.Provenance = reportProvenance(ctx)
	if err := eval.WriteCIFAR10(out, r); err != nil {
		return err
	}
	if eo.Classifier != nil {
		fmt.Fprintf(stdout, "classifier accuracy on the %d test images %.3f (a perfect reconstructor's agreement)\n", n, r.Accuracy)
	}
	for _, d := range r.Depths {
		fmt.Fprintf(stdout, "depth %d: reconstruction MSE %.5f (PSNR %.2f dB)", d.Depth, d.MSE, d.PSNR)
		if d.Agreement != nil {
			fmt.Fprintf(stdout, ", class agreement %.3f, FD %.2f", d.Agreement.Agreement, d.Frechet)
		}
		fmt.Fprintln(stdout)
	}
	if eo.Classifier != nil {
		fmt.Fprintf(stdout, "samples: FD %.2f (train vs test floor %.2f)\n", r.FrechetSamples, r.FrechetFloor)
	}
	for _, p := range r.Probes {
		fmt.Fprintf(stdout, "linear probe of layer %d: %.3f\n", p.Layer, p.Accuracy)
	}
	for _, a := range r.Alignments {
		fmt.Fprintf(stdout, "alignment of layer %d: KL(wake||sleep) %.3f bits, control %.3f\n", a.Layer, a.Align.WakeSleep.Mean, a.Align.Control.Mean)
	}
	fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(out, eval.CIFAR10ReportFile))
	return nil
}

// evalMovingMNIST scores a Moving MNIST run's predictions, as predict --eval
// does (default 1,000 test sequences).
func (o *evalOptions) evalMovingMNIST(ctx context.Context, gtr *train.Trainer, path, out string, nGiven bool, stdout, stderr io.Writer) error {
	tr, err := mmexp.View(gtr)
	if err != nil {
		return err
	}
	n := o.n
	if !nGiven {
		n = 1000
	}
	_, digits, err := loadMNIST(o.dataDir)
	if err != nil {
		return err
	}
	test, err := movingmnist.NewGenerator(digits, tr.Config.Data, movingmnist.TestSeed)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return evalPrediction(ctx, tr, path, test, n, 32, o.samples, o.seed, o.baseline, o.layerAlignment(), out, stdout, stderr)
}

// layerAlignment is the alignment of one layer's units (CIFAR-10 layers,
// Moving MNIST's z): 4 units drawn uniformly, with --draws, --alpha and
// --unit-seed.
func (o *evalOptions) layerAlignment() eval.AlignmentOptions {
	return eval.AlignmentOptions{Draws: o.draws, XUnits: 4, Alpha: o.alpha, Choice: eval.UnitsUniform, Seed: o.unitSeed}
}

// options validates the flags and turns them into eval.Options.
func (o *evalOptions) options() (*eval.Options, error) {
	if o.n < 2 {
		return nil, usagef("--n %d must be at least 2", o.n)
	}
	if o.seed == 0 || o.unitSeed == 0 {
		return nil, usagef("--seed and --unit-seed must be positive")
	}
	if o.alpha < 0 {
		return nil, usagef("--alpha %g must be ≥ 0", o.alpha)
	}
	if o.draws < 1 || o.draws > 10000 {
		return nil, usagef("--draws %d must be in 1..10000", o.draws)
	}
	if o.n > maxEvalN {
		return nil, usagef("--n %d exceeds %d", o.n, maxEvalN)
	}
	if o.samples < 0 || o.samples > 100 {
		return nil, usagef("--samples %d must be in 0..100", o.samples)
	}
	var als []eval.AlignmentOptions
	for _, f := range strings.Split(o.alignments, ",") {
		x, z, ok := parseAlignment(f)
		if !ok {
			return nil, usagef("--alignments: %q is not <x units>x<z units>z, e.g. 8x8z", f)
		}
		a := eval.AlignmentOptions{Draws: o.draws, XUnits: x, ZUnits: z, Alpha: o.alpha,
			Choice: o.unitChoice, MinActive: o.minActive, Seed: o.unitSeed}
		if err := a.Validate(); err != nil {
			return nil, usagef("--alignments %s: %v", f, err)
		}
		als = append(als, a)
	}
	return &eval.Options{N: o.n, Seed: o.seed, Alignments: als}, nil
}

// compareRuns prints the eval.json of each run side by side, or the
// summaries of sweeps (folders holding a summary.json, or such files).
func compareRuns(paths []string, stdout io.Writer) error {
	var sums []*sweep.Summary
	for _, p := range paths {
		s, ok, err := sweep.ReadSummary(p)
		if err != nil {
			return err
		}
		if ok {
			sums = append(sums, s)
		}
	}
	switch {
	case len(sums) == len(paths):
		return compareSweeps(paths, sums, stdout)
	case len(sums) > 0:
		return usagef("--compare takes runs or sweeps, not both")
	}
	var names []string
	var results []*eval.Result
	var errs []error
	for _, p := range paths {
		r, _, err := eval.ReadResult(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		names = append(names, runName(p))
		results = append(results, r)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return eval.Compare(stdout, names, results)
}

// runName is the column heading of a run: its folder's name.
func runName(p string) string {
	p = filepath.Clean(p)
	if st, err := os.Stat(p); err == nil && !st.IsDir() {
		p = filepath.Dir(p) // .../eval.json
	}
	if filepath.Base(p) == eval.ReportDir {
		p = filepath.Dir(p)
	}
	return filepath.Base(p)
}

// parseAlignment parses "<x units>x<z units>z", e.g. 8x8z, and nothing more
// (fmt.Sscanf alone would take "8x8zjunk").
func parseAlignment(f string) (x, z int, ok bool) {
	f = strings.TrimSpace(f)
	if n, err := fmt.Sscanf(f, "%dx%dz", &x, &z); err != nil || n != 2 {
		return 0, 0, false
	}
	return x, z, fmt.Sprintf("%dx%dz", x, z) == f
}
