package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wakesleep/wakesleep/checkpoint"
	cifardata "github.com/wakesleep/wakesleep/data/cifar10"
	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/eval"
	"github.com/wakesleep/wakesleep/experiment"
	cifarexp "github.com/wakesleep/wakesleep/experiment/cifar10"
	mnistexp "github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/probe"
	"github.com/wakesleep/wakesleep/train"
)

const probeUsage = `
Usage:
  wakesleep probe --study {oscillation | critic | development | silencing | plasticity | <list> | all}
                  [--checkpoints <run>,<run>,...] [--novel-checkpoints <Fashion-MNIST run>,...]
                  [--checkpoint <file or run folder>] [--seeds-from <run>,<run>,...]
                  [--perturbed <run>,... --control <run>,... [--sham <run>,...]]
                  [--out <folder>] [flags]

Tests the biological predictions of Sec. 4 of the paper on trained MNIST
models (silencing: CIFAR-10 models too). Each study writes report.md, PNG plots, CSV tables and result.json
into <out>/<study>; with more than one study, <out>/report.md lists every
finding, one line each. Definitions and statistics are written in each report.

The unit of replication is the independently trained model (seed): every
study measures its effects in each model given, and a verdict "holds" only
with at least 3 models, an interval over models on the predicted side, a
margin over every control (the same model untrained, rebuilt from its config
and seed at step 0, and after 3 training steps on its own data; trivial
detectors: pixel energy, the norm ‖x‖, the mean-image reconstructor;
permutation nulls) and a Holm-corrected p-value. One model gets
"needs ≥3 models". Models trained on Fashion-MNIST (wakesleep train
fashionmnist; --novel-checkpoints) form the second arm of the crossed
novelty design: familiar Fashion-MNIST, novel MNIST.

  oscillation  (Sec. 4.1) the difference between a layer's bottom-up activity
               and its top-down prediction on MNIST (familiar), Fashion-MNIST
               (novel) and MNIST with graded noise and rotation, and the
               model's own sleep samples (zero surprise). Models: every one
               of --checkpoints, --novel-checkpoints, --checkpoint and
               --seeds-from, each also untrained (step 0) and after 3 steps
               unless --no-init.
  critic       (Sec. 4.2) the critics' outputs on familiar vs novel stimuli,
               their ROC AUC as novelty detectors beside the reconstruction
               error. Models as for oscillation.
  development  (Sec. 4.4) the wake/sleep alignment of 'wakesleep eval' at each
               checkpoint of every run folder of --checkpoints (default: the
               --checkpoint folder), plus the untrained model (step 0) unless
               --no-init.
  plasticity   (Sec. 4.2) the critic-parameter updates of the wake phase alone
               and the sleep phase alone, per checkpoint of each run of
               --checkpoints: their cosine (a sanity check: negative by
               construction) and against a phase-label permutation null.
  silencing    (Sec. 4.4) runs trained with 'wakesleep train --silence-z'
               (--perturbed, default --checkpoint) against control runs with
               the same seeds (--control, paired in order): wake activity of
               the silenced units, against a null of random unit sets of the
               same size and, with --sham (runs trained with 'wakesleep train
               --sham-z' on the same units, paired in order), against the
               sham perturbation. If all are run folders, every step they
               all hold is compared.
               CIFAR-10 runs (told by their config) get the hierarchical
               version: runs trained with 'wakesleep train cifar10
               --silence-layer K --silence-channels S', controls, and with
               --sham runs trained with --sham-channels S on layer K; the wake
               activity of layer K (primary) and of the layer above, K+1,
               over its channels with the indices of S (secondary), on --n
               CIFAR-10 test images evenly spaced over the set (--data, as
               for 'wakesleep train cifar10': default $` + cifardata.DataEnv + ` or the
               current folder).

The results/probes/ table (5 seeds of each algorithm and of Fashion-MNIST):
  $ scripts/probes.sh    # runs the command below per algorithm

  $ wakesleep probe --study all --out results/probes/local \
      --checkpoints runs/seeds/local-s1,runs/seeds/local-s2,runs/seeds/local-s3,runs/seeds/local-s4,runs/seeds/local-s5 \
      --novel-checkpoints runs/seeds/fashion-local-s1,...,runs/seeds/fashion-local-s5 \
      --perturbed runs/seeds/silenced-local-s1,... --control runs/seeds/local-s1,... \
      --sham runs/seeds/sham-local-s1,... --max-checkpoints 6

Examples:
  $ wakesleep probe --study oscillation --checkpoints runs/local-s1,runs/local-s2,runs/local-s3
  $ wakesleep probe --study development --checkpoints runs/archive/local --out probe-local
  $ wakesleep train --silence-z 0,1,2,3 --epochs 1 --run runs/silenced
  $ wakesleep probe --study silencing --perturbed runs/silenced --control runs/control
  $ wakesleep train --sham-z 0,1,2,3 --epochs 1 --run runs/sham
  $ wakesleep probe --study silencing --perturbed runs/silenced --control runs/control --sham runs/sham
  $ wakesleep probe --study all --checkpoint runs/local --control runs/control --perturbed runs/silenced
  $ wakesleep train cifar10 --silence-layer 2 --silence-channels 0,1,2,3 --run runs/cifar-silenced
  $ wakesleep train cifar10 --silence-layer 2 --sham-channels 0,1,2,3 --run runs/cifar-sham
  $ wakesleep probe --study silencing --perturbed runs/cifar-silenced --control runs/cifar \
      --sham runs/cifar-sham --data ~/cifar-10-batches-bin
`

// Studies of the probe command, in the order --study all runs them.
var probeStudies = []string{"oscillation", "critic", "development", "plasticity", "silencing"}

type probeOptions struct {
	study          string
	checkpoint     string
	checkpoints    string
	novel          string
	seedsFrom      string
	perturbed      string
	control        string
	sham           string
	out            string
	dataDir        string
	fashionDir     string
	maxCheckpoints int
	noise          string
	angles         string
	alignments     string
	opts           probe.Options
}

// runProbe is `wakesleep probe`: the studies take runs of the MNIST model;
// a run of another experiment is refused on one line.
func runProbe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	err := runProbeStudies(ctx, args, stdout, stderr)
	var ue *train.UnknownExperimentError
	if errors.As(err, &ue) {
		if ue.Name == cifarexp.Name {
			return fmt.Errorf("%w; of its studies only silencing takes %s runs", unsupportedName("probe", ue.Name, probed()), cifarexp.Name)
		}
		return unsupportedName("probe", ue.Name, probed())
	}
	return err
}

// parseProbe parses a probe command line into its options and the studies
// to run (skipped: those --study all leaves out, with what they lack).
func parseProbe(args []string, stderr io.Writer) (o *probeOptions, studies, skipped []string, err error) {
	o = &probeOptions{}
	fs := newFlagSet("probe", probeUsage, stderr)
	fs.StringVar(&o.study, "study", "all", "oscillation, critic, development, plasticity, silencing, a comma-separated list of them, or all")
	fs.StringVar(&o.checkpoint, "checkpoint", "", "checkpoint file or run folder (newest good checkpoint): the model of oscillation and critic")
	fs.StringVar(&o.seedsFrom, "seeds-from", "", "more models (runs or files), comma-separated, e.g. other seeds: oscillation and critic summarise effects over all models")
	fs.StringVar(&o.checkpoints, "checkpoints", "", "models (seeds), comma-separated: run folders or checkpoint files; oscillation and critic use each one's newest checkpoint, development and plasticity each folder's checkpoints (default: --checkpoint if it is a folder)")
	fs.StringVar(&o.novel, "novel-checkpoints", "", "models trained on Fashion-MNIST (the crossed design's second arm), comma-separated, for oscillation and critic")
	fs.IntVar(&o.maxCheckpoints, "max-checkpoints", 0, "development and plasticity: use at most this many checkpoints, evenly spaced, first and last kept (0: all)")
	fs.StringVar(&o.perturbed, "perturbed", "", "silencing: the runs trained with --silence-z (CIFAR-10: --silence-layer, --silence-channels), comma-separated (default: --checkpoint)")
	fs.StringVar(&o.control, "control", "", "silencing: the control runs (same seeds, no silencing), comma-separated, paired with --perturbed in order")
	fs.StringVar(&o.sham, "sham", "", "silencing: the sham runs (same seeds, trained with --sham-z on the silenced units; CIFAR-10: --sham-channels), comma-separated, paired with --perturbed in order (default: none)")
	fs.StringVar(&o.out, "out", "", "output folder (default: <folder of the checkpoint>/probe)")
	fs.StringVar(&o.dataDir, "data", "", "folder with MNIST IDX files (default: embedded); for CIFAR-10 silencing runs, the CIFAR-10 data as 'wakesleep train cifar10 --data' takes them (default: found in $"+cifardata.DataEnv+" or the current folder)")
	fs.StringVar(&o.fashionDir, "fashion", mnist.FashionDir, "folder with the Fashion-MNIST IDX files (novel stimuli)")
	fs.IntVar(&o.opts.N, "n", 1000, "stimuli per condition (oscillation, critic) and digits or CIFAR-10 test images (silencing)")
	fs.IntVar(&o.opts.AlignN, "align-n", 10000, "development: wake and sleep samples per checkpoint")
	fs.StringVar(&o.alignments, "alignments", "4x2z,8x8z", "development: alignments as <x units>x<z units>z, comma-separated (as 'wakesleep eval'); the first is the headline, and only those whose missing mass stays below 0.5 are judged")
	fs.BoolVar(&o.opts.NoInit, "no-init", false, "leave out the untrained model (step 0): no verdict can then hold")
	fs.IntVar(&o.opts.GradBatches, "grad-batches", 8, "plasticity: batches per checkpoint")
	fs.IntVar(&o.opts.GradBatch, "grad-batch", 256, "plasticity: stimuli per batch")
	fs.StringVar(&o.noise, "noise", "0,0.1,0.2,0.3,0.5", "graded surprise: pixel noise levels σ, comma-separated")
	fs.StringVar(&o.angles, "angles", "0,15,30,45,60,90", "graded surprise: rotations in degrees, comma-separated")
	fs.IntVar(&o.opts.Bootstrap, "bootstrap", 1000, "bootstrap resamples")
	fs.Float64Var(&o.opts.Level, "level", 0.95, "confidence level of the intervals")
	fs.Uint64Var(&o.opts.Seed, "seed", 1, "seed of the model noise, stimulus noise and resampling")
	fs.IntVar(&o.opts.Batch, "batch", 250, "rows per forward pass")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(pos) > 0 {
		return nil, nil, nil, usagef("unexpected arguments %v", pos)
	}
	if err := outDir("out", o.out); err != nil {
		return nil, nil, nil, err
	}
	studies, skipped, err = o.validate()
	return o, studies, skipped, err
}

func runProbeStudies(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, studies, skipped, err := parseProbe(args, stderr)
	if err != nil {
		return err
	}
	for _, s := range skipped {
		fmt.Fprintf(stderr, "probe: skipping %s\n", s)
	}
	out := o.out
	if out == "" {
		base := firstNonEmpty(o.checkpoint, firstOf(o.checkpoints), firstOf(o.perturbed))
		if st, err := os.Stat(base); err == nil && !st.IsDir() {
			base = filepath.Dir(base)
		}
		out = filepath.Join(base, "probe")
	}
	o.opts.Log = stderr
	command := commandLine(ctx)

	var done []probe.Study
	var responses []*probe.Responses // shared by oscillation and critic
	for _, name := range studies {
		if err := ctx.Err(); err != nil {
			return err
		}
		var s probe.Study
		switch name {
		case "oscillation", "critic":
			if responses == nil {
				if responses, err = o.respond(stderr); err != nil {
					return err
				}
			}
			if name == "oscillation" {
				s = probe.Oscillation(responses, o.opts)
			} else {
				s = probe.CriticStudy(responses, o.opts)
			}
		case "development", "plasticity":
			test, err := o.test()
			if err != nil {
				return err
			}
			runs, err := o.runLoaders(stderr)
			if err != nil {
				return err
			}
			if name == "development" {
				opts := o.opts
				if other, err := mnist.LoadDir(o.fashionDir, "test"); err == nil {
					opts.Other = other
				} else {
					fmt.Fprintf(stderr, "probe: development without the specificity control (Fashion-MNIST: %v)\n", err)
				}
				s, err = probe.Development(runs, test, opts)
			} else {
				s, err = probe.Plasticity(runs, test, o.opts)
			}
			if err != nil {
				return err
			}
		case "silencing":
			if runExperiment(firstOf(o.perturbed)) == cifarexp.Name {
				if s, err = o.layerSilencing(stderr); err != nil {
					return err
				}
				break
			}
			test, err := o.test()
			if err != nil {
				return err
			}
			pairs, err := o.silencePairs(stderr)
			if err != nil {
				return err
			}
			if s, err = probe.Silencing(pairs, test, o.opts); err != nil {
				return err
			}
		}
		dir := filepath.Join(out, name)
		if err := s.Write(dir); err != nil {
			return err
		}
		for _, f := range s.Findings() {
			fmt.Fprintf(stdout, "%s: %s: %s — %s\n", name, f.Verdict, f.Prediction, f.Effect)
		}
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(dir, probe.ReportFile))
		done = append(done, s)
	}
	if len(done) > 1 {
		if err := probe.WriteIndex(out, done, command); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(out, probe.IndexFile))
	}
	return nil
}

// firstOf returns the first entry of a comma-separated list ("" if none).
func firstOf(list string) string {
	if l := splitList(list); len(l) > 0 {
		return l[0]
	}
	return ""
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return "."
}

// validate checks the flags and returns the studies to run: the one asked
// for, or for --study all those whose inputs were given (skipped lists the
// others with what they lack).
func (o *probeOptions) validate() (studies, skipped []string, err error) {
	if o.opts.Noise, err = parseFloatList(o.noise, "--noise"); err != nil {
		return nil, nil, err
	}
	if o.opts.Angles, err = parseFloatList(o.angles, "--angles"); err != nil {
		return nil, nil, err
	}
	for _, s := range o.opts.Noise {
		if s < 0 || s > 10 {
			return nil, nil, usagef("--noise: σ %g must be in [0, 10]", s)
		}
	}
	for _, f := range strings.Split(o.alignments, ",") {
		x, z, ok := parseAlignment(f)
		if !ok {
			return nil, nil, usagef("--alignments: %q is not <x units>x<z units>z, e.g. 8x8z", f)
		}
		a := eval.DefaultAlignmentOptions()
		a.XUnits, a.ZUnits = x, z
		if err := a.Validate(); err != nil {
			return nil, nil, usagef("--alignments %s: %v", f, err)
		}
		o.opts.Alignments = append(o.opts.Alignments, a)
	}
	if o.opts.Seed == 0 {
		return nil, nil, usagef("--seed must be positive")
	}
	if o.maxCheckpoints < 0 {
		return nil, nil, usagef("--max-checkpoints %d must be ≥ 0", o.maxCheckpoints)
	}
	// probe.Options takes 0 for its default; on the command line a 0 is a
	// mistake, as in every other command.
	for _, b := range []struct {
		name        string
		v, min, max int
	}{{"n", o.opts.N, 2, 100000}, {"align-n", o.opts.AlignN, 2, 10000}, {"grad-batches", o.opts.GradBatches, 2, 10000},
		{"grad-batch", o.opts.GradBatch, 1, 60000}, {"bootstrap", o.opts.Bootstrap, 1, 1000000}, {"batch", o.opts.Batch, 1, 60000}} {
		if b.v < b.min || b.v > b.max {
			return nil, nil, usagef("--%s %d must be in %d..%d", b.name, b.v, b.min, b.max)
		}
	}
	if err := o.opts.Validate(); err != nil {
		return nil, nil, &usageError{msg: strings.TrimPrefix(err.Error(), "probe: ")}
	}
	if o.checkpoints == "" && o.checkpoint != "" {
		if st, err := os.Stat(o.checkpoint); err == nil && st.IsDir() {
			o.checkpoints = o.checkpoint
		}
	}
	if o.perturbed == "" {
		o.perturbed = o.checkpoint
	}
	if o.sham != "" && len(splitList(o.sham)) != len(splitList(o.perturbed)) {
		return nil, nil, usagef("--sham: %d runs for %d --perturbed runs: give one sham run per perturbed run", len(splitList(o.sham)), len(splitList(o.perturbed)))
	}
	// What each study lacks ("" if nothing).
	lacks := func(study string) string {
		switch study {
		case "oscillation", "critic":
			if o.checkpoint == "" && o.seedsFrom == "" && o.checkpoints == "" && o.novel == "" {
				return "--checkpoints, --checkpoint or --seeds-from"
			}
		case "development", "plasticity":
			if o.checkpoints == "" {
				return "--checkpoints (or a run folder as --checkpoint)"
			}
		case "silencing":
			if o.control == "" || o.perturbed == "" {
				return "--control and --perturbed (or --checkpoint)"
			}
			if len(splitList(o.control)) != len(splitList(o.perturbed)) {
				return fmt.Sprintf("as many --control runs as --perturbed (%d, %d)", len(splitList(o.control)), len(splitList(o.perturbed)))
			}
		}
		return ""
	}
	if o.study != "all" {
		asked := map[string]bool{}
		for _, name := range strings.Split(o.study, ",") {
			name = strings.TrimSpace(name)
			known := false
			for _, s := range probeStudies {
				known = known || s == name
			}
			if !known {
				return nil, nil, usagef("--study %q: want one of %s, a comma-separated list, or all", name, strings.Join(probeStudies, ", "))
			}
			if l := lacks(name); l != "" {
				return nil, nil, usagef("--study %s needs %s", name, l)
			}
			asked[name] = true
		}
		for _, s := range probeStudies { // in the order of --study all
			if asked[s] {
				studies = append(studies, s)
			}
		}
		return studies, nil, nil
	}
	for _, s := range probeStudies {
		if l := lacks(s); l != "" {
			skipped = append(skipped, fmt.Sprintf("%s (needs %s)", s, l))
		} else {
			studies = append(studies, s)
		}
	}
	if len(studies) == 0 {
		return nil, nil, usagef("--study all: nothing to do: give --checkpoint, --checkpoints, or --control with --perturbed")
	}
	return studies, skipped, nil
}

// maxListLen bounds the values of a list flag.
const maxListLen = 1024

func parseFloatList(s, flag string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, usagef("%s: %q is not a number", flag, f)
		}
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, usagef("%s: %q is not a finite number", flag, f)
		}
		if len(out) == maxListLen {
			return nil, usagef("%s: more than %d values", flag, maxListLen)
		}
		out = append(out, v)
	}
	return out, nil
}

func (o *probeOptions) test() (*mnist.Set, error) {
	_, test, err := loadMNIST(o.dataDir)
	return test, err
}

// respond loads each model of oscillation and critic in turn and records
// its responses to the stimuli.
func (o *probeOptions) respond(stderr io.Writer) ([]*probe.Responses, error) {
	test, err := o.test()
	if err != nil {
		return nil, err
	}
	novel, err := mnist.LoadDir(o.fashionDir, "test")
	if err != nil {
		return nil, fmt.Errorf("novel stimuli (Fashion-MNIST): %w (install dataset-fashion-mnist or pass --fashion)", err)
	}
	st, err := probe.MakeStimuli(probe.Data{Test: test, Novel: novel}, o.opts)
	if err != nil {
		return nil, err
	}
	type model struct {
		path  string
		novel bool // must be a Fashion-MNIST run
	}
	var paths []model
	seen := map[string]bool{}
	add := func(list string, novel bool) {
		for _, p := range splitList(list) {
			if k := filepath.Clean(p); !seen[k] {
				seen[k] = true
				paths = append(paths, model{p, novel})
			}
		}
	}
	add(o.checkpoint, false)
	add(o.seedsFrom, false)
	add(o.checkpoints, false)
	add(o.novel, true)
	var rs []*probe.Responses
	names := map[string]int{}
	for _, p := range paths {
		s, err := probe.Load(p.path, stderr)
		if err != nil {
			return nil, err
		}
		if p.novel && s.Info().Experiment != probe.FashionExperiment {
			return nil, fmt.Errorf("--novel-checkpoints %s: a run of %q, not of %s", p.path, s.Info().Experiment, probe.FashionExperiment)
		}
		// Two checkpoints of folders with the same name stay apart.
		if names[s.Name]++; names[s.Name] > 1 {
			s.Name = fmt.Sprintf("%s#%d", s.Name, names[s.Name])
		}
		r := probe.Respond(s, st, o.opts)
		if !o.opts.NoInit {
			u, err := probe.Initial(s.Name+" (untrained)", *s.Trainer.Config)
			if err != nil {
				return nil, err
			}
			r.Untrained = probe.Respond(u, st, o.opts)
			e, err := o.early(s)
			if err != nil {
				return nil, err
			}
			r.Early = probe.Respond(e, st, o.opts)
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// splitList returns the non-empty comma-separated entries of s.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// runLoaders returns, for each run folder of --checkpoints, loaders for its
// checkpoints, the initial model first unless --no-init.
func (o *probeOptions) runLoaders(stderr io.Writer) ([][]func() (*probe.Subject, error), error) {
	var runs [][]func() (*probe.Subject, error)
	for _, dir := range splitList(o.checkpoints) {
		loads, err := o.folderLoaders(dir, stderr)
		if err != nil {
			return nil, err
		}
		runs = append(runs, loads)
	}
	return runs, nil
}

// early returns the few-step control of a model: the same config after
// probe.EarlySteps steps on its own training set.
func (o *probeOptions) early(s *probe.Subject) (*probe.Subject, error) {
	cfg := *s.Trainer.Config
	var trainSet *mnist.Set
	var err error
	if s.Info().Experiment == probe.FashionExperiment {
		trainSet, err = mnist.LoadDir(o.fashionDir, "train")
	} else {
		trainSet, _, err = loadMNIST(o.dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("few-step control of %s: %w", s.Name, err)
	}
	return probe.Early(fmt.Sprintf("%s (%d steps)", s.Name, probe.EarlySteps), cfg, trainSet, probe.EarlySteps)
}

// folderLoaders returns loaders for the checkpoints of one folder, the
// initial model and its few-step control first unless --no-init.
func (o *probeOptions) folderLoaders(dir string, stderr io.Writer) ([]func() (*probe.Subject, error), error) {
	files, err := probe.Checkpoints(dir)
	if err != nil {
		return nil, err
	}
	if n := o.maxCheckpoints; n > 0 && len(files) > n {
		files = evenly(files, n)
	}
	name := filepath.Base(filepath.Clean(dir))
	var loads []func() (*probe.Subject, error)
	if !o.opts.NoInit {
		first := files[0].Path
		loads = append(loads, func() (*probe.Subject, error) {
			_, meta, err := checkpoint.Load(first)
			if err != nil {
				return nil, err
			}
			_, cfg, err := experiment.All.ConfigFromMeta(meta)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", first, err)
			}
			c, ok := cfg.(*mnistexp.Config)
			if !ok {
				return nil, unsupportedName("probe", cfg.ExperimentName(), probed())
			}
			return probe.Initial(name, *c)
		})
		loads = append(loads, func() (*probe.Subject, error) {
			s, err := probe.Load(first, stderr)
			if err != nil {
				return nil, err
			}
			if s.Trainer.Step <= probe.EarlySteps { // the run itself is no longer
				return nil, errSkip
			}
			e, err := o.early(s)
			if err == nil {
				e.Name = name
			}
			return e, err
		})
	}
	for _, f := range files {
		loads = append(loads, func() (*probe.Subject, error) {
			s, err := probe.Load(f.Path, stderr)
			if err == nil {
				s.Name = name
			}
			return s, err
		})
	}
	return loads, nil
}

// errSkip tells a study to leave a loader's model out.
var errSkip = probe.ErrSkip

// evenly returns n of files, evenly spaced, the first and last included.
func evenly(files []probe.CheckpointFile, n int) []probe.CheckpointFile {
	if n == 1 {
		return files[len(files)-1:]
	}
	var out []probe.CheckpointFile
	last := -1
	for i := 0; i < n; i++ {
		k := i * (len(files) - 1) / (n - 1)
		if k != last {
			out = append(out, files[k])
			last = k
		}
	}
	return out
}

// silenceRuns are the checkpoints of one step of a pair of silencing runs:
// perturbed, control and sham ("": none).
type silenceRuns struct{ perturbed, control, sham string }

// silenceSteps matches the perturbed, control and sham checkpoints of each
// pair of runs (--perturbed, --control and --sham, in order): every step
// all the run folders hold, or the given checkpoints.
func (o *probeOptions) silenceSteps(stderr io.Writer) ([]silenceRuns, error) {
	cs, ss := splitList(o.control), splitList(o.sham)
	var all []silenceRuns
	for i, p := range splitList(o.perturbed) {
		sham := ""
		if len(ss) > 0 {
			sham = ss[i]
		}
		steps, err := silenceStepsOf(p, cs[i], sham, stderr)
		if err != nil {
			return nil, err
		}
		all = append(all, steps...)
	}
	return all, nil
}

// silencePairs loads the MNIST checkpoints of silenceSteps.
func (o *probeOptions) silencePairs(stderr io.Writer) ([]probe.SilencePair, error) {
	steps, err := o.silenceSteps(stderr)
	if err != nil {
		return nil, err
	}
	load := func(p string) func() (*probe.Subject, error) {
		if p == "" {
			return nil
		}
		return func() (*probe.Subject, error) { return probe.Load(p, stderr) }
	}
	var pairs []probe.SilencePair
	for _, r := range steps {
		pairs = append(pairs, probe.SilencePair{Perturbed: load(r.perturbed), Control: load(r.control), Sham: load(r.sham)})
	}
	return pairs, nil
}

// layerSilencing runs the silencing study on CIFAR-10 runs: the
// checkpoints of silenceSteps and the CIFAR-10 test images (--data, found
// as 'wakesleep train cifar10' finds them).
func (o *probeOptions) layerSilencing(stderr io.Writer) (probe.Study, error) {
	steps, err := o.silenceSteps(stderr)
	if err != nil {
		return nil, err
	}
	load := func(p string) func() (*probe.CIFARSubject, error) {
		if p == "" {
			return nil
		}
		return func() (*probe.CIFARSubject, error) {
			s, err := probe.LoadCIFAR(p, stderr)
			var ue *train.UnknownExperimentError
			if errors.As(err, &ue) {
				return nil, fmt.Errorf("%s: a %s run beside CIFAR-10 runs: every run of a silencing study must be of one experiment", p, ue.Name)
			}
			return s, err
		}
	}
	var pairs []probe.CIFARSilencePair
	for _, r := range steps {
		pairs = append(pairs, probe.CIFARSilencePair{Perturbed: load(r.perturbed), Control: load(r.control), Sham: load(r.sham)})
	}
	test, err := cifarTestSet(o.dataDir, stderr)
	if err != nil {
		return nil, err
	}
	return probe.LayerSilencing(pairs, test, o.opts)
}

// cifarTestSet reads the CIFAR-10 test images as the cifar10 experiment
// reads its data.
func cifarTestSet(dir string, stderr io.Writer) (*cifardata.Set, error) {
	_, test, err := cifarexp.LoadData(dir, stderr)
	return test, err
}

// runExperiment returns the experiment of a run folder (its config.json,
// or its first checkpoint) or checkpoint file; "" if it cannot tell.
func runExperiment(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return ""
	}
	file := path
	if st.IsDir() {
		if ex, _, err := experiment.All.LoadConfig(filepath.Join(path, train.ConfigFile)); err == nil {
			return ex.Name()
		}
		fs, err := probe.Checkpoints(path)
		if err != nil {
			return ""
		}
		file = fs[0].Path
	}
	_, meta, err := checkpoint.Load(file)
	if err != nil {
		return ""
	}
	ex, _, err := experiment.All.ConfigFromMeta(meta)
	if err != nil {
		return ""
	}
	return ex.Name()
}

// silenceStepsOf pairs the checkpoints of a perturbed run, its control and
// its sham run ("": none).
func silenceStepsOf(perturbed, control, sham string, stderr io.Writer) ([]silenceRuns, error) {
	runs := []string{perturbed, control}
	if sham != "" {
		runs = append(runs, sham)
	}
	folders := true
	for _, r := range runs {
		st, err := os.Stat(r)
		folders = folders && err == nil && st.IsDir()
	}
	if folders {
		// byStep[i][step]: the checkpoint of runs[i] at that step.
		byStep := make([]map[int]string, len(runs))
		var pf []probe.CheckpointFile // the perturbed run's, in order
		for i, r := range runs {
			fs, err := probe.Checkpoints(r)
			if err != nil {
				return nil, err
			}
			if i == 0 {
				pf = fs
			}
			byStep[i] = map[int]string{}
			for _, f := range fs {
				byStep[i][f.Step] = f.Path
			}
		}
		var steps []silenceRuns
		for _, f := range pf {
			c, ok := byStep[1][f.Step]
			s, sok := "", true
			if sham != "" {
				s, sok = byStep[2][f.Step]
			}
			if ok && sok {
				steps = append(steps, silenceRuns{f.Path, c, s})
			}
		}
		if len(steps) > 0 {
			return steps, nil
		}
		fmt.Fprintf(stderr, "warning: %s share no checkpoint step: comparing their newest checkpoints\n", strings.Join(runs, ", "))
	}
	return []silenceRuns{{perturbed, control, sham}}, nil
}
