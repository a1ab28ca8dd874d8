package cli

import (
	"context"
	"errors"
	"io"

	cifardata "github.com/wakesleep/wakesleep/data/cifar10"
	"github.com/wakesleep/wakesleep/eval"
	cifarexp "github.com/wakesleep/wakesleep/experiment/cifar10"
)

// errCIFARClassifier tells runClassifier that --dataset cifar10 was asked for.
var errCIFARClassifier = errors.New("cifar10 classifier")

const cifarClassifierUsage = `
Usage: wakesleep classifier train --dataset cifar10 --out <file> [flags]

Trains the CIFAR-10 classifier that 'wakesleep eval' uses to judge CIFAR-10
runs: per stage a 3x3 convolution, batch normalisation, ReLU and 2x2 average
pooling (not after the last), then global average pooling (the features of
the Fréchet distance) and a linear layer; Adam with a cosine-annealed rate,
random crops and horizontal flips. Prints the test accuracy each epoch and
writes a safetensors file. The defaults remake the committed
eval/files/cifar10-classifier.safetensors (bit for bit on the same BLAS build
and thread count).

Examples:
  $ wakesleep classifier train --dataset cifar10 --out eval/files/cifar10-classifier.safetensors
  $ wakesleep classifier train --dataset cifar10 --train-limit 2000 --epochs 1 --out /tmp/c.safetensors
`

type cifarClassifierOptions struct {
	cfg          eval.CIFARClassifierConfig
	out, dataDir string
	command      string
}

func parseCIFARClassifier(args []string, stderr io.Writer) (*cifarClassifierOptions, error) {
	def := eval.DefaultCIFARClassifierConfig()
	o := &cifarClassifierOptions{cfg: def}
	cfg := &o.cfg
	fs := newFlagSet("classifier train --dataset cifar10", cifarClassifierUsage, stderr)
	fs.String("dataset", "cifar10", "mnist or cifar10")
	fs.StringVar(&o.out, "out", "", "output safetensors file (required)")
	channels := fs.String("channels", joinInts(def.Channels), "channels of the conv stages, comma-separated")
	classifierTrainFlags(fs, &cfg.Epochs, &cfg.BatchSize, &cfg.LearningRate, &cfg.WeightDecay, &cfg.Seed)
	fs.IntVar(&cfg.CropPad, "crop-pad", def.CropPad, "augmentation: random crops of the image padded by this many pixels")
	fs.BoolVar(&cfg.Flip, "flip", def.Flip, "augmentation: random horizontal flips")
	fs.IntVar(&cfg.TrainLimit, "train-limit", def.TrainLimit, "use only N training images, evenly spaced over the set (0: all)")
	fs.StringVar(&o.dataDir, "data", "", "CIFAR-10 binary batches, image tree or tarball (default: found in $"+cifardata.DataEnv+" or the current folder, as train cifar10)")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usagef("unexpected arguments %v", pos)
	}
	if cfg.Channels, err = parseInts(*channels); err != nil {
		return nil, usagef("--channels %q: %v", *channels, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, usagef("%v", err)
	}
	for _, c := range cfg.Channels {
		if c > 4096 {
			return nil, usagef("--channels: %d exceeds 4096", c)
		}
	}
	if err := classifierTrainBounds(cfg.Seed, cfg.Epochs, cfg.BatchSize, 50000, "images"); err != nil {
		return nil, err
	}
	if o.out == "" {
		return nil, usagef("--out is required with --dataset cifar10 (the committed file is %s)", eval.EmbeddedCIFARClassifierFile)
	}
	if err := outFile("out", o.out); err != nil {
		return nil, err
	}
	o.command = classifierCommand(fs, "wakesleep", "classifier", "train", "--dataset=cifar10")
	return o, nil
}

func runCIFARClassifier(ctx context.Context, o *cifarClassifierOptions, stdout, stderr io.Writer) error {
	trainSet, testSet, err := cifarexp.LoadData(o.dataDir, stderr)
	if err != nil {
		return err
	}
	c, err := eval.TrainCIFARClassifier(ctx, o.cfg, trainSet, testSet, stderr)
	if err != nil {
		return err
	}
	acc := c.Accuracy(testSet)
	return writeClassifier(o.out, acc, stdout, func(path string) error {
		return eval.SaveCIFARClassifier(path, c, acc, o.command)
	})
}
