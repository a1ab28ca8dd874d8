package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wakesleep/wakesleep/eval"
)

const classifierUsage = `
Usage: wakesleep classifier train [--dataset {mnist | cifar10}] --out <file> [flags]

Trains a classifier that 'wakesleep eval' uses to judge samples and
reconstructions, with this repository's own autodiff and Adam, prints its
test accuracy and writes it as a safetensors file to --out (required: no
default, so that no run overwrites a classifier embedded in the binary by
accident; to remake one, write it over its source in a checkout and
rebuild, as the first example does from the repository root).

--dataset mnist (default): an MLP 784-512-512-10 with random shifts and
dropout. With the default flags it reproduces the embedded
eval/files/mnist-classifier.safetensors (bit for bit on the same BLAS build
and thread count; build with -tags openblas for speed).

--dataset cifar10: a small convnet (3x3 conv, batch norm, ReLU and 2x2
average pooling per stage, global average pooling, linear) with random crops
and flips, on CIFAR-10 from --data. With the default flags and --out
eval/files/cifar10-classifier.safetensors it remakes the embedded CIFAR-10
classifier. 'classifier train --dataset cifar10 -h' lists its flags.

Examples:
  $ go run -tags openblas ./cmd/wakesleep classifier train --out eval/files/mnist-classifier.safetensors
  $ wakesleep classifier train --epochs 5 --out /tmp/quick-classifier.safetensors
  $ wakesleep classifier train --dataset cifar10 --out eval/files/cifar10-classifier.safetensors
`

// classifierDataset returns the value of --dataset in args ("mnist" if
// absent), looked for before the flags are defined because each dataset has
// its own flags and defaults.
func classifierDataset(args []string) string {
	for i, a := range args {
		for _, p := range []string{"--dataset", "-dataset"} {
			if a == p && i+1 < len(args) {
				return args[i+1]
			}
			if strings.HasPrefix(a, p+"=") {
				return a[len(p)+1:]
			}
		}
		if a == "--" {
			break
		}
	}
	return "mnist"
}

// classifierOptions are the flags of classifier train.
type classifierOptions struct {
	cfg          eval.ClassifierConfig
	out, dataDir string
	command      string // the command line that remakes the file
}

func parseClassifier(args []string, stderr io.Writer) (*classifierOptions, error) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, strings.TrimSpace(classifierUsage))
		if len(args) == 0 {
			return nil, usagef("missing subcommand (available: train)")
		}
		return nil, flag.ErrHelp
	}
	if args[0] != "train" {
		return nil, usagef("unknown subcommand %q (available: train)", args[0])
	}
	switch d := classifierDataset(args[1:]); d {
	case "mnist":
	case "cifar10":
		return nil, errCIFARClassifier
	default:
		return nil, usagef("--dataset %q: want mnist or cifar10", d)
	}
	def := eval.DefaultClassifierConfig()
	o := &classifierOptions{cfg: def}
	cfg := &o.cfg
	fs := newFlagSet("classifier train", classifierUsage, stderr)
	fs.StringVar(&o.out, "out", "", "output safetensors file (required)")
	fs.String("dataset", "mnist", "mnist or cifar10 (cifar10 has its own flags: --dataset cifar10 -h)")
	hidden := fs.String("hidden", joinInts(def.Hidden), "hidden layer widths, comma-separated")
	classifierTrainFlags(fs, &cfg.Epochs, &cfg.BatchSize, &cfg.LearningRate, &cfg.WeightDecay, &cfg.Seed)
	fs.IntVar(&cfg.MaxShift, "max-shift", def.MaxShift, "augmentation: random shifts up to this many pixels")
	fs.Float64Var(&cfg.Dropout, "dropout", def.Dropout, "dropout probability on hidden units")
	fs.StringVar(&o.dataDir, "data", "", "folder with MNIST IDX files (default: embedded)")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usagef("unexpected arguments %v", pos)
	}
	if cfg.Hidden, err = parseInts(*hidden); err != nil {
		return nil, usagef("--hidden %q: %v", *hidden, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, usagef("%v", err)
	}
	if err := classifierBounds(*cfg); err != nil {
		return nil, err
	}
	if o.out == "" {
		return nil, usagef("--out is required: the safetensors file to write (the embedded classifier's source is %s)", eval.EmbeddedClassifierFile)
	}
	if err := outFile("out", o.out); err != nil {
		return nil, err
	}
	o.command = classifierCommand(fs, "wakesleep", "classifier", "train")
	return o, nil
}

// classifierTrainFlags defines the training flags that both classifiers
// share, each defaulting to the value it points at.
func classifierTrainFlags(fs *flag.FlagSet, epochs, batchSize *int, learningRate, weightDecay *float64, seed *uint64) {
	fs.IntVar(epochs, "epochs", *epochs, "passes over the training set")
	fs.IntVar(batchSize, "batch-size", *batchSize, "batch size")
	fs.Float64Var(learningRate, "learning-rate", *learningRate, "initial Adam learning rate (cosine-annealed to 0)")
	fs.Float64Var(weightDecay, "weight-decay", *weightDecay, "Adam L2 weight decay")
	fs.Uint64Var(seed, "seed", *seed, "random seed")
}

// classifierTrainBounds refuses a zero seed and sizes that could not be
// trained: over 100000 epochs, or a batch larger than the n training items
// ("digits", "images").
func classifierTrainBounds(seed uint64, epochs, batchSize, n int, items string) error {
	switch {
	case seed == 0:
		return usagef("--seed must be positive")
	case epochs > 100000:
		return usagef("--epochs %d exceeds 100000", epochs)
	case batchSize > n:
		return usagef("--batch-size %d exceeds the %d training %s", batchSize, n, items)
	}
	return nil
}

// classifierCommand returns the command line that remakes a classifier:
// base, then every flag set but --out, --data and --dataset.
func classifierCommand(fs *flag.FlagSet, base ...string) string {
	cmd := base
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "out" && f.Name != "data" && f.Name != "dataset" {
			cmd = append(cmd, "--"+f.Name+"="+f.Value.String())
		}
	})
	return strings.Join(cmd, " ")
}

// writeClassifier makes out's folder, writes the trained classifier there
// with save and reports its test accuracy acc on stdout.
func writeClassifier(out string, acc float64, stdout io.Writer, save func(path string) error) error {
	if dir := filepath.Dir(out); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := save(out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "test accuracy %.4f; wrote %s\n", acc, out)
	return nil
}

// parseClassifierCommand parses a classifier command line: the options of
// the MNIST classifier or, with --dataset cifar10, of the CIFAR-10 one.
func parseClassifierCommand(args []string, stderr io.Writer) (*classifierOptions, *cifarClassifierOptions, error) {
	o, err := parseClassifier(args, stderr)
	if errors.Is(err, errCIFARClassifier) {
		co, err := parseCIFARClassifier(args[1:], stderr)
		return nil, co, err
	}
	return o, nil, err
}

func runClassifier(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, co, err := parseClassifierCommand(args, stderr)
	if err == nil && co != nil {
		return runCIFARClassifier(ctx, co, stdout, stderr)
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	cfg, out, dataDir := o.cfg, &o.out, &o.dataDir
	trainSet, testSet, err := loadMNIST(*dataDir)
	if err != nil {
		return err
	}
	c, err := eval.TrainClassifier(ctx, cfg, trainSet, testSet, stderr)
	if err != nil {
		return err
	}
	acc := c.Accuracy(testSet)
	return writeClassifier(*out, acc, stdout, func(path string) error {
		return eval.SaveClassifier(path, c, acc, o.command)
	})
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer (or out of range)", f)
		}
		if len(out) == maxListLen {
			return nil, fmt.Errorf("more than %d values", maxListLen)
		}
		out = append(out, v)
	}
	return out, nil
}

// classifierBounds refuses sizes that could not be allocated or trained
// (eval's Validate checks only that they are positive).
func classifierBounds(c eval.ClassifierConfig) error {
	if len(c.Hidden) > 16 {
		return usagef("--hidden: %d layers, at most 16", len(c.Hidden))
	}
	for _, h := range c.Hidden {
		if h > 16384 {
			return usagef("--hidden: width %d exceeds 16384", h)
		}
	}
	return classifierTrainBounds(c.Seed, c.Epochs, c.BatchSize, 60000, "digits")
}
