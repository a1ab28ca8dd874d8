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

func runDiagnose(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("diagnose", diagnoseUsage, stderr)
	ckpt := fs.String("checkpoint", "", "checkpoint file, or run folder (newest good checkpoint)")
	out := fs.String("out", "", "write the diagnosis as JSON here")
	probeTrain := fs.Int("probe-train", 5000, "training digits for the linear probe")
	probeTest := fs.Int("probe-test", 2000, "test digits for the linear probe")
	batches := fs.Int("batches", 4, "batches for the gradient norms")
	seed := fs.Uint64("seed", 1, "noise seed")
	dataDir := fs.String("data", "", "folder with MNIST IDX files (default: embedded)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected arguments %v", pos)
	}
	if *ckpt == "" {
		return usagef("--checkpoint is required")
	}
	if *probeTrain < 10 || *probeTrain > 60000 || *probeTest < 10 || *probeTest > 10000 {
		return usagef("--probe-train must be in 10..60000 and --probe-test in 10..10000")
	}
	if *batches < 1 || *batches > 64 {
		return usagef("--batches %d must be in 1..64", *batches)
	}
	if *seed == 0 {
		return usagef("--seed must be positive")
	}
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
