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
	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/eval"
	"github.com/wakesleep/wakesleep/experiment"
	mnistexp "github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/probe"
	"github.com/wakesleep/wakesleep/train"
)

const probeUsage = `
Usage:
  wakesleep probe --study {oscillation | critic | development | silencing | plasticity | <list> | all}
                  [--checkpoint <file or run folder>] [--seeds-from <run>,<run>,...]
                  [--checkpoints <folder of checkpoints>] [--control <run>] [--out <folder>] [flags]

Tests the biological predictions of Sec. 4 of the paper on trained MNIST
models. Each study writes report.md, PNG plots, CSV tables and result.json
into <out>/<study>; with more than one study, <out>/report.md lists every
finding, one line each. Definitions and statistics are written in each report.

  oscillation  (Sec. 4.1) the difference between a layer's bottom-up activity
               and its top-down prediction on MNIST (familiar), Fashion-MNIST
               (novel) and MNIST with graded noise and rotation. Models:
               --checkpoint and --seeds-from (effects summarised over them).
  critic       (Sec. 4.2) the critics' outputs on familiar vs novel stimuli,
               their ROC AUC as novelty detectors beside the reconstruction
               error. Models as for oscillation.
  development  (Sec. 4.4) the wake/sleep alignment of 'wakesleep eval' at each
               checkpoint of --checkpoints (default: the --checkpoint folder),
               plus the untrained model (step 0) unless --no-init.
  plasticity   (Sec. 4.2) cosine between the critic-parameter updates of the
               wake phase alone and the sleep phase alone, per checkpoint of
               --checkpoints.
  silencing    (Sec. 4.4) a run trained with 'wakesleep train --silence-z'
               (--perturbed, default --checkpoint) against a control run with
               the same seed (--control): wake activity of the silenced units.
               If both are run folders, every step they both hold is compared.

Examples:
  $ wakesleep probe --study oscillation --checkpoint runs/local --seeds-from runs/local-s2,runs/local-s3
  $ wakesleep probe --study development --checkpoints runs/archive/local --out probe-local
  $ wakesleep train --silence-z 0,1,2,3 --epochs 1 --run runs/silenced
  $ wakesleep probe --study silencing --perturbed runs/silenced --control runs/control
  $ wakesleep probe --study all --checkpoint runs/local --control runs/control --perturbed runs/silenced
`

// Studies of the probe command, in the order --study all runs them.
var probeStudies = []string{"oscillation", "critic", "development", "plasticity", "silencing"}

type probeOptions struct {
	study          string
	checkpoint     string
	checkpoints    string
	seedsFrom      string
	perturbed      string
	control        string
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
	fs.StringVar(&o.checkpoints, "checkpoints", "", "folder of ckpt-<step>.safetensors for development and plasticity (default: --checkpoint if it is a folder)")
	fs.IntVar(&o.maxCheckpoints, "max-checkpoints", 0, "development and plasticity: use at most this many checkpoints, evenly spaced, first and last kept (0: all)")
	fs.StringVar(&o.perturbed, "perturbed", "", "silencing: the run trained with --silence-z (default: --checkpoint)")
	fs.StringVar(&o.control, "control", "", "silencing: the control run (same seed, no silencing)")
	fs.StringVar(&o.out, "out", "", "output folder (default: <folder of the checkpoint>/probe)")
	fs.StringVar(&o.dataDir, "data", "", "folder with MNIST IDX files (default: embedded)")
	fs.StringVar(&o.fashionDir, "fashion", mnist.FashionDir, "folder with the Fashion-MNIST IDX files (novel stimuli)")
	fs.IntVar(&o.opts.N, "n", 1000, "stimuli per condition (oscillation, critic) and digits (silencing)")
	fs.IntVar(&o.opts.AlignN, "align-n", 10000, "development: wake and sleep samples per checkpoint")
	fs.StringVar(&o.alignments, "alignments", "8x8z,4x2z", "development: alignments as <x units>x<z units>z, comma-separated (as 'wakesleep eval')")
	fs.BoolVar(&o.opts.NoInit, "no-init", false, "development and plasticity: leave out the untrained model (step 0)")
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
		base := firstNonEmpty(o.checkpoint, o.checkpoints, o.perturbed)
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
			loads, err := o.folderLoaders(stderr)
			if err != nil {
				return err
			}
			if name == "development" {
				s, err = probe.Development(loads, test, o.opts)
			} else {
				s, err = probe.Plasticity(loads, test, o.opts)
			}
			if err != nil {
				return err
			}
		case "silencing":
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
	// What each study lacks ("" if nothing).
	lacks := func(study string) string {
		switch study {
		case "oscillation", "critic":
			if o.checkpoint == "" && o.seedsFrom == "" {
				return "--checkpoint or --seeds-from"
			}
		case "development", "plasticity":
			if o.checkpoints == "" {
				return "--checkpoints (or a run folder as --checkpoint)"
			}
		case "silencing":
			if o.control == "" || o.perturbed == "" {
				return "--control and --perturbed (or --checkpoint)"
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
	var paths []string
	if o.checkpoint != "" {
		paths = append(paths, o.checkpoint)
	}
	for _, p := range strings.Split(o.seedsFrom, ",") {
		if p = strings.TrimSpace(p); p != "" {
			paths = append(paths, p)
		}
	}
	var rs []*probe.Responses
	names := map[string]int{}
	for _, p := range paths {
		s, err := probe.Load(p, stderr)
		if err != nil {
			return nil, err
		}
		// Two checkpoints of folders with the same name stay apart.
		if names[s.Name]++; names[s.Name] > 1 {
			s.Name = fmt.Sprintf("%s#%d", s.Name, names[s.Name])
		}
		rs = append(rs, probe.Respond(s, st, o.opts))
	}
	return rs, nil
}

// folderLoaders returns loaders for the checkpoints of --checkpoints, the
// initial model first unless --no-init.
func (o *probeOptions) folderLoaders(stderr io.Writer) ([]func() (*probe.Subject, error), error) {
	files, err := probe.Checkpoints(o.checkpoints)
	if err != nil {
		return nil, err
	}
	if n := o.maxCheckpoints; n > 0 && len(files) > n {
		files = evenly(files, n)
	}
	name := filepath.Base(filepath.Clean(o.checkpoints))
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

// silencePairs matches the perturbed and control checkpoints: every step
// both run folders hold, or the two given checkpoints.
func (o *probeOptions) silencePairs(stderr io.Writer) ([]probe.SilencePair, error) {
	load := func(p string) func() (*probe.Subject, error) {
		return func() (*probe.Subject, error) { return probe.Load(p, stderr) }
	}
	pst, perr := os.Stat(o.perturbed)
	cst, cerr := os.Stat(o.control)
	if perr == nil && cerr == nil && pst.IsDir() && cst.IsDir() {
		pf, err := probe.Checkpoints(o.perturbed)
		if err != nil {
			return nil, err
		}
		cf, err := probe.Checkpoints(o.control)
		if err != nil {
			return nil, err
		}
		byStep := map[int]string{}
		for _, f := range cf {
			byStep[f.Step] = f.Path
		}
		var pairs []probe.SilencePair
		for _, f := range pf {
			if c, ok := byStep[f.Step]; ok {
				pairs = append(pairs, probe.SilencePair{Perturbed: load(f.Path), Control: load(c)})
			}
		}
		if len(pairs) > 0 {
			return pairs, nil
		}
		fmt.Fprintf(stderr, "warning: %s and %s share no checkpoint step: comparing their newest checkpoints\n", o.perturbed, o.control)
	}
	return []probe.SilencePair{{Perturbed: load(o.perturbed), Control: load(o.control)}}, nil
}
