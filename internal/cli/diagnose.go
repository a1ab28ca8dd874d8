package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/wakesleep/wakesleep/eval"
	mnistexp "github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/internal/atomicfile"
)

const diagnoseUsage = `
Usage: wakesleep diagnose --checkpoint <file or run folder> [--out diagnose.json] [flags]

Looks inside an MNIST checkpoint for why reconstructions keep or lose the
input's identity:

  - linear-probe accuracy of z on the digit labels: a softmax regression
    trained on z ~ q(z|x) of --probe-train training digits, tested on
    --probe-test test digits; the same on the noise-free latent (every
    Gaussian unit at its mean). Chance is about 0.1;
  - the classifier's agreement of noise-free reconstructions;
  - the mean σ of the first inference layer against the spread of its mean
    across digits (signal against noise in z);
  - for each weighted term of the networks' loss, the L2 norm of its gradient
    at the encoder (inference) and at the decoder (generation) parameters,
    averaged over --batches batches of the run's batch size.

Prints a table and writes the numbers as JSON to --out (if given).

Example:
  $ wakesleep diagnose --checkpoint runs/mnist-local-20250101-120000
`

// diagnoseOptions are the flags of diagnose.
type diagnoseOptions struct {
	ckpt, out, dataDir             string
	probeTrain, probeTest, batches int
	seed                           uint64
}

func parseDiagnose(args []string, stderr io.Writer) (*diagnoseOptions, error) {
	o := &diagnoseOptions{}
	fs := newFlagSet("diagnose", diagnoseUsage, stderr)
	fs.StringVar(&o.ckpt, "checkpoint", "", "checkpoint file, or run folder (newest good checkpoint)")
	fs.StringVar(&o.out, "out", "", "write the diagnosis as JSON here")
	fs.IntVar(&o.probeTrain, "probe-train", 5000, "training digits for the linear probe")
	fs.IntVar(&o.probeTest, "probe-test", 2000, "test digits for the linear probe")
	fs.IntVar(&o.batches, "batches", 4, "batches for the gradient norms")
	fs.Uint64Var(&o.seed, "seed", 1, "noise seed")
	fs.StringVar(&o.dataDir, "data", "", "folder with MNIST IDX files (default: embedded)")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usagef("unexpected arguments %v", pos)
	}
	if o.ckpt == "" {
		return nil, usagef("--checkpoint is required")
	}
	if o.probeTrain < 10 || o.probeTrain > 60000 || o.probeTest < 10 || o.probeTest > 10000 {
		return nil, usagef("--probe-train must be in 10..60000 and --probe-test in 10..10000")
	}
	if o.batches < 1 || o.batches > 64 {
		return nil, usagef("--batches %d must be in 1..64", o.batches)
	}
	if o.seed == 0 {
		return nil, usagef("--seed must be positive")
	}
	if err := outFile("out", o.out); err != nil {
		return nil, err
	}
	return o, nil
}

func runDiagnose(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseDiagnose(args, stderr)
	if err != nil {
		return err
	}
	ckpt, out, probeTrain, probeTest, batches, seed, dataDir := &o.ckpt, &o.out, &o.probeTrain, &o.probeTest, &o.batches, &o.seed, &o.dataDir
	run, path, err := openRun(*ckpt, stderr)
	if err != nil {
		return err
	}
	tr, err := mnistexp.View(run)
	if err != nil {
		return unsupported("diagnose", run.Experiment, probed())
	}
	data, err := run.Experiment.Data(*dataDir, stderr)
	if err != nil {
		return err
	}
	trainSet, testSet := data.(*mnistexp.Data).Train, data.(*mnistexp.Data).Test
	d, err := eval.Diagnose(tr, trainSet, testSet, eval.DiagnoseOptions{ProbeTrain: *probeTrain, ProbeTest: *probeTest, Batches: *batches, Seed: *seed})
	if err != nil {
		return err
	}
	d.Checkpoint = path
	d.Provenance = reportProvenance(ctx)
	fmt.Fprintf(stdout, "%s (step %d)\n", path, d.Step)
	fmt.Fprintf(stdout, "linear probe of z on labels: %.3f sampled, %.3f noise-free (chance 0.1)\n", d.ProbeZ, d.ProbeZMean)
	fmt.Fprintf(stdout, "noise-free reconstruction agreement: %.3f\n", d.ReconMean)
	fmt.Fprintf(stdout, "first inference layer: mean σ %.3f, spread of the mean across digits %.3f\n", d.LatentStd, d.LatentMeanStd)
	fmt.Fprintf(stdout, "generation: mean pixel σ %.3f (first layer), %.3f (recurrent layer)\n", d.PixelStd, d.RecurPixelStd)
	names := make([]string, 0, len(d.Encoder))
	for n := range d.Encoder {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(stdout, "%-10s %14s %14s\n", "loss term", "‖∇ encoder‖", "‖∇ decoder‖")
	for _, n := range names {
		fmt.Fprintf(stdout, "%-10s %14.4g %14.4g\n", n, d.Encoder[n], d.Decoder[n])
	}
	if *out != "" {
		b, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return err
		}
		return atomicfile.WriteFile(*out, append(b, '\n'), 0o644)
	}
	return nil
}
