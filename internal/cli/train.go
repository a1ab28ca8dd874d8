package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/eval"
	"github.com/wakesleep/wakesleep/experiment"
	mnistexp "github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/train"
)

// `wakesleep train` is one command for every experiment: the flags common
// to all are defined once (here and in train.SettingsFlags), each experiment
// adds its own (train.Experiment.Flags). One precedence rule: the preset,
// then on resume the run's saved config, then the flags given (on resume
// only those that may change a run: --epochs).

const trainUsageHead = `
Usage: wakesleep train [experiment] [flags]     (experiment anywhere on the line)
       wakesleep train --config <config.json or run folder> [flags]
       wakesleep train --run <folder> --resume  (continues whatever run the folder holds)

Experiments:
%s
Ctrl-C or SIGTERM finishes the step in progress and saves a checkpoint (a
second one quits at once); --resume continues bit-identically. A run folder
is locked (run.lock names the process) while a run trains in it. A config
whose estimated memory exceeds what the machine has available is refused.
Flags override the preset; run 'wakesleep train <experiment> -h' for an
experiment's flags. --config starts a new run from the config.json of any
run (its experiment and every setting; a field it does not know, a
mistyped value or a null is an error naming the field); the flags given
override it. config.json records the build ('wakesleep version') and the command
line that made the run, and those of each resume. The default run folder is
runs/<experiment>[-<algorithm>]-s<seed>-<time>.
`

// runFlags are the flags of a training run that are not part of its config.
type runFlags struct {
	preset         string
	configFile     string
	run            string
	resume         bool
	data           string
	maxSteps       int
	evalEveryEpoch bool
	noMemoryCheck  bool
	amend          func(saved train.Config) error // on resume: the Resumable flags given
}

// nonConfigFlags may be given on resume: they change nothing saved.
var nonConfigFlags = map[string]bool{"config": true, "run": true, "resume": true, "data": true, "max-steps": true, "eval-every-epoch": true, "no-memory-check": true}

func (o *runFlags) define(fs *flag.FlagSet, ex train.Experiment) {
	var presets []string
	for _, p := range ex.Presets() {
		presets = append(presets, p.Name)
	}
	fs.StringVar(&o.preset, "preset", presets[0], "hyperparameter preset: "+strings.Join(presets, " or "))
	fs.StringVar(&o.configFile, "config", "", "start from this config.json (or a run folder's): the flags given override it")
	fs.StringVar(&o.run, "run", "", "run folder (default: runs/<experiment>[-<algorithm>]-s<seed>-<time>)")
	fs.BoolVar(&o.resume, "resume", false, "continue the run in --run from its newest good checkpoint")
	fs.StringVar(&o.data, "data", "", ex.Info().DataHelp)
	fs.IntVar(&o.maxSteps, "max-steps", 0, "stop after N steps in total (0: all epochs)")
	fs.BoolVar(&o.noMemoryCheck, "no-memory-check", false, "train even if the estimated memory of the config exceeds what the machine has available")
	fs.BoolVar(&o.evalEveryEpoch, "eval-every-epoch", false, "evaluate after each epoch (alignment KL, classifier metrics on 2000 samples) into <run>/eval/ ("+strings.Join(epochEvaluated(), ", ")+")")
}

// epochEvaluated lists the experiments eval.EpochHook evaluates.
func epochEvaluated() []string { return []string{mnistexp.Name} }

// recorded is an experiment's flag, defined on a flag set with its type;
// its value, if given, is applied to a config once the base config is known.
type recorded struct {
	f  train.Flag
	fs *flag.FlagSet
}

func (r *recorded) set() bool     { return setFlags(r.fs)[r.f.Name] }
func (r *recorded) value() string { return r.fs.Lookup(r.f.Name).Value.String() }

// experimentFlags defines the shared settings' and ex's own flags on fs.
func experimentFlags(fs *flag.FlagSet, ex train.Experiment) []*recorded {
	var out []*recorded
	for _, f := range append(train.SettingsFlags(), ex.Flags()...) {
		switch f.Type {
		case "int":
			fs.Int(f.Name, 0, f.Usage)
		case "uint":
			fs.Uint64(f.Name, 0, f.Usage)
		case "float":
			fs.Float64(f.Name, 0, f.Usage)
		case "bool":
			fs.Bool(f.Name, false, f.Usage)
		default:
			fs.String(f.Name, "", f.Usage)
		}
		out = append(out, &recorded{f: f, fs: fs})
	}
	return out
}

// boolFlags are the names of the boolean flags of any experiment, for
// finding the experiment's name on the command line before parsing it.
func boolFlags() map[string]bool {
	m := map[string]bool{"resume": true, "eval-every-epoch": true, "no-memory-check": true, "h": true, "help": true}
	for _, ex := range experiment.All {
		for _, f := range append(train.SettingsFlags(), ex.Flags()...) {
			if f.Type == "bool" {
				m[f.Name] = true
			}
		}
	}
	return m
}

// valueFlags are the names of the flags of any experiment that take a value.
func valueFlags() map[string]bool {
	m := map[string]bool{}
	for _, ex := range experiment.All {
		fs := flag.NewFlagSet("", flag.ContinueOnError)
		(&runFlags{}).define(fs, ex)
		experimentFlags(fs, ex)
		fs.VisitAll(func(f *flag.Flag) {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
				m[f.Name] = true
			}
		})
	}
	return m
}

// trainScan is what scanTrainArgs finds on a train command line.
type trainScan struct {
	positional  []string
	run, config string
	resume      bool
}

// scanTrainArgs finds, without parsing, the positional arguments and the
// values of --run, --config and --resume: which experiment's flags to parse
// with depends on them.
func scanTrainArgs(args []string) (sc trainScan) {
	positional, run, config, resume := []string(nil), "", "", false
	defer func() { sc = trainScan{positional, run, config, resume} }()
	bools, valued := boolFlags(), valueFlags()
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			return
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case bools[name]:
			if name == "resume" {
				resume = !hasVal || val == "true" || val == "1"
			}
		case hasVal:
			switch name {
			case "run":
				run = val
			case "config":
				config = val
			}
		case i+1 < len(args):
			switch name {
			case "run":
				run = args[i+1]
			case "config":
				config = args[i+1]
			}
			// A flag no experiment has takes no value: the mistake is
			// reported by the parser, with the help of the experiment
			// named after it.
			if _, err := experiment.All.Lookup(args[i+1]); err == nil && !valued[name] {
				continue
			}
			i++
		}
	}
	return
}

// configPath is the config file --config names: the file, or a run
// folder's config.json.
func configPath(p string) string {
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		return filepath.Join(p, train.ConfigFile)
	}
	return p
}

// chooseExperiment is the experiment named on the command line, else the
// one a run being resumed holds or --config names, else the default (the
// first).
func chooseExperiment(sc trainScan) (train.Experiment, error) {
	positional, run, resume := sc.positional, sc.run, sc.resume
	if len(positional) > 1 {
		return nil, usagef("too many arguments: %v", positional)
	}
	if len(positional) == 1 {
		ex, err := experiment.All.Lookup(positional[0])
		if err != nil {
			return nil, &usageError{msg: err.Error()}
		}
		return ex, nil
	}
	if resume && run != "" {
		path := filepath.Join(run, train.ConfigFile)
		if _, name, err := train.ReadConfigFile(path); err == nil {
			ex, err := experiment.All.Lookup(name)
			if err != nil {
				return nil, fmt.Errorf("read config %q: %w", path, err)
			}
			return ex, nil
		}
		// An unreadable config is reported by train.Run, naming the file.
	}
	if sc.config != "" && !resume {
		path := configPath(sc.config)
		_, name, err := train.ReadConfigFile(path)
		if err != nil {
			return nil, usagef("--config: %v", err)
		}
		ex, err := experiment.All.Lookup(name)
		if err != nil {
			return nil, usagef("--config: read config %q: %v", path, err)
		}
		return ex, nil
	}
	return experiment.All[0], nil
}

func trainUsage(ex train.Experiment) string {
	var b strings.Builder
	for _, e := range experiment.All {
		fmt.Fprintf(&b, "  %-13s %s\n", e.Name(), e.Info().Summary)
	}
	return fmt.Sprintf(trainUsageHead, b.String()) + "\n" + ex.Name() + ": " + ex.Info().Usage + "\n"
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	ex, o, cfg, err := parseTrain(args, stderr)
	if err != nil {
		return err
	}
	if o.run == "" {
		o.run = defaultRun(ex, cfg, time.Now())
	}
	if err := train.CheckFolder(ex, o.run, o.resume); err != nil {
		return err
	}
	limit := 0.0 // what the machine has available
	if o.noMemoryCheck {
		limit = math.Inf(1)
	}
	// A fresh run's config is known: refuse it before the data are read.
	if !o.resume {
		if err := train.CheckMemory(ex, cfg, limit); err != nil {
			return fmt.Errorf("%w (--no-memory-check trains anyway)", err)
		}
	}
	data, err := ex.Data(o.data, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "run folder: %s\n", o.run)
	hold := holding(ctx)
	defer hold.Store(false)
	opts := train.RunOptions{Dir: o.run, Resume: o.resume, Out: stderr, Data: data, MaxSteps: o.maxSteps, Amend: o.amend, MemoryLimit: limit,
		OnStart: func() { hold.Store(true) }, Provenance: provenance(ctx)}
	if o.evalEveryEpoch {
		hook := eval.EpochHook(o.run, nil)
		// The epoch's checkpoint and pictures are saved before its
		// evaluation: a signal need not wait for that to finish.
		opts.OnEpoch = func(tr *train.Trainer, epoch int) error {
			hold.Store(false)
			defer hold.Store(true)
			return hook(tr, epoch)
		}
	}
	return train.Run(ctx, ex, cfg, opts)
}

// parseTrain parses a train command line: the experiment, the run's flags
// and the config of a fresh run (of a resumed one, only what may change).
func parseTrain(args []string, stderr io.Writer) (ex train.Experiment, o *runFlags, cfg train.Config, err error) {
	ex, err = chooseExperiment(scanTrainArgs(args))
	if err != nil {
		return nil, nil, nil, err
	}
	// Usage errors point to the experiment's own help.
	defer func() {
		var ue *usageError
		if errors.As(err, &ue) && ue.help == "" {
			ue.help = "train " + ex.Name()
		}
	}()
	o = &runFlags{}
	fs := newFlagSet("train "+ex.Name(), trainUsage(ex), stderr)
	o.define(fs, ex)
	flags := experimentFlags(fs, ex)
	pos, err := parse(fs, args)
	if err != nil {
		return ex, nil, nil, err
	}
	switch {
	case len(pos) > 1:
		return ex, nil, nil, usagef("too many arguments: %v", pos)
	case o.maxSteps < 0:
		return ex, nil, nil, usagef("--max-steps %d must be ≥ 0", o.maxSteps)
	case o.configFile != "" && o.resume:
		return ex, nil, nil, usagef("--config starts a new run; --resume continues one from its own config.json (give one of them)")
	case o.evalEveryEpoch && ex.Name() != mnistexp.Name:
		return ex, nil, nil, usagef("--eval-every-epoch: experiment %s has no per-epoch evaluation (supported: %s)", ex.Name(), strings.Join(epochEvaluated(), ", "))
	}
	cfg, err = o.config(ex, fs, flags)
	return ex, o, cfg, err
}

// config applies the precedence rule. A fresh run: the preset (given the
// flags marked Preset), then the flags given, in the order they are defined
// (so that, say, --silence-z sees --z-dim). A resumed run: train.Run reads
// the saved config; the flags given may only lengthen it.
func (o *runFlags) config(ex train.Experiment, fs *flag.FlagSet, flags []*recorded) (train.Config, error) {
	given := setFlags(fs)
	if o.resume {
		if o.run == "" {
			return nil, usagef("--resume needs --run")
		}
		names := make([]string, 0, len(given))
		for name := range given {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if nonConfigFlags[name] {
				continue
			}
			if r := find(flags, name); r == nil || !r.f.Resumable {
				allowed := []string{"--max-steps"}
				for _, r := range flags {
					if r.f.Resumable {
						allowed = append(allowed, "--"+r.f.Name)
					}
				}
				sort.Strings(allowed)
				return nil, usagef("--%s cannot change a run being resumed (its config.json rules; only %s may be given)", name, strings.Join(allowed, ", "))
			}
		}
		cfg := ex.NewConfig()
		for _, r := range flags {
			if r.set() {
				if err := r.f.Set(cfg, r.value()); err != nil {
					return nil, &usageError{msg: err.Error()}
				}
			}
		}
		if given["epochs"] && cfg.RunSettings().Epochs <= 0 {
			return nil, usagef("--epochs %d must be positive", cfg.RunSettings().Epochs)
		}
		// The Resumable flags given apply to the run's saved config.
		o.amend = func(saved train.Config) error {
			for _, r := range flags {
				if r.set() {
					if err := r.f.Set(saved, r.value()); err != nil {
						return &usageError{msg: err.Error()}
					}
				}
			}
			if err := saved.Validate(); err != nil {
				return &usageError{msg: err.Error()}
			}
			return nil
		}
		return cfg, nil
	}
	var cfg train.Config
	if o.configFile != "" {
		var err error
		if cfg, err = o.fromConfig(ex, given, flags); err != nil {
			return nil, err
		}
	} else {
		presetArgs := map[string]string{}
		for _, r := range flags {
			if r.f.Preset && r.set() {
				presetArgs[r.f.Name] = r.value()
			}
		}
		preset, err := train.FindPreset(ex, o.preset)
		if err != nil {
			return nil, &usageError{msg: err.Error()}
		}
		if cfg, err = preset.New(presetArgs); err != nil {
			return nil, &usageError{msg: err.Error()}
		}
	}
	for _, r := range flags {
		if r.set() && !r.f.Preset {
			if err := r.f.Set(cfg, r.value()); err != nil {
				return nil, &usageError{msg: err.Error()}
			}
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	return cfg, nil
}

// fromConfig reads the config --config names, of experiment ex, strictly
// (train.DecodeConfig: a field it lacks or does not know is an error naming
// it); the flags given then override it.
func (o *runFlags) fromConfig(ex train.Experiment, given map[string]bool, flags []*recorded) (train.Config, error) {
	if given["preset"] {
		return nil, usagef("--preset and --config both give the base config: choose one")
	}
	for _, r := range flags {
		if r.f.Preset && r.set() {
			return nil, usagef("--%s chooses a preset; with --config, edit the file instead", r.f.Name)
		}
	}
	path := configPath(o.configFile)
	b, name, err := train.ReadConfigFile(path)
	if err != nil {
		return nil, usagef("--config: %v", err)
	}
	if name != ex.Name() {
		return nil, usagef("--config %s holds a %s config, not %s (leave out the experiment to train it)", path, name, ex.Name())
	}
	cfg, err := train.DecodeConfig(ex, b, path)
	if err != nil {
		return nil, usagef("--config: %v", err)
	}
	return cfg, nil
}

func find(flags []*recorded, name string) *recorded {
	for _, r := range flags {
		if r.f.Name == name {
			return r
		}
	}
	return nil
}

// defaultRun is a fresh run's default folder,
// runs/<experiment>[-<algorithm>]-s<seed>-<time>: the algorithm (critic) of
// the MNIST model's experiments.
func defaultRun(ex train.Experiment, cfg train.Config, now time.Time) string {
	tag := ex.Name()
	if c, ok := cfg.(*mnistexp.Config); ok {
		tag += "-" + c.Model.Critic
	}
	return filepath.Join("runs", fmt.Sprintf("%s-s%d-%s", tag, cfg.RunSettings().Seed, now.Format("20060102-150405")))
}

// loadMNIST reads both splits of MNIST, embedded or from dir, checking that
// they hold 28×28 images.
func loadMNIST(dir string) (trainSet, testSet *mnist.Set, err error) {
	return mnistexp.LoadData(dir)
}

// openRun opens a checkpoint or run folder of any experiment.
func openRun(path string, warn io.Writer) (*train.Trainer, string, error) {
	return experiment.All.Open(path, warn)
}

// unsupported is the one-line error of a command an experiment does not
// support, naming those that do.
func unsupported(command string, ex train.Experiment, supported []string) error {
	return unsupportedName(command, ex.Name(), supported)
}

func unsupportedName(command, name string, supported []string) error {
	return fmt.Errorf("%s does not support the %s experiment (supported: %s)", command, name, strings.Join(supported, ", "))
}

// probed lists the experiments probe studies: those of the MNIST model.
func probed() []string {
	return supporting(func(ex train.Experiment) bool {
		_, ok := ex.NewConfig().(*mnistexp.Config)
		return ok
	})
}

// supporting lists the experiments for which ok holds.
func supporting(ok func(train.Experiment) bool) []string {
	var names []string
	for _, ex := range experiment.All {
		if ok(ex) {
			names = append(names, ex.Name())
		}
	}
	return names
}
