package cli

import (
	"context"
	"fmt"
	"image"
	"io"
	"strings"

	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/train"
)

const sampleUsage = `
Usage: wakesleep sample --checkpoint <file or run folder> [--n 64] [--out samples.png] [--means]

Draws sleep samples from a checkpoint of any experiment that supports it and
writes them as a PNG grid: z ~ N(0, I), then x ~ p(x|z) top-down (MNIST,
Fashion-MNIST; CIFAR-10 through its whole hierarchy), or for Moving MNIST a
row of dreamed frames per sample. A run folder means its newest good
checkpoint. --means (MNIST, Fashion-MNIST) shows the generation network
without its noise: every Gaussian unit at its mean, z still from the prior.
`

const reconstructUsage = `
Usage: wakesleep reconstruct --checkpoint <file or run folder> [--n 32] [--depth 0] [--out recon.png] [--means]

Shows the first n test items of a checkpoint's experiment beside their
reconstructions as a PNG grid: MNIST and Fashion-MNIST digits x beside
x̂ ~ p(x|z), z ~ q(z|x); CIFAR-10 images with a row per depth d of the
hierarchy (x up to z_d and back down; --depth picks one, 0 all); Moving MNIST
test sequences as context, truth and predicted frames. --means (MNIST,
Fashion-MNIST) reconstructs without noise: every Gaussian unit at its mean,
both ways.
`

func runSample(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runPicture(ctx, args, stdout, stderr, "sample", sampleUsage, 64, "samples.png")
}

func runReconstruct(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runPicture(ctx, args, stdout, stderr, "reconstruct", reconstructUsage, 32, "recon.png")
}

// pictureOptions are the flags of sample and reconstruct.
type pictureOptions struct {
	ckpt, out, dataDir string
	n                  int
	seed               uint64
	means              bool
	depth              int
}

func parsePicture(args []string, stderr io.Writer, name, usage string, defN int, defOut string) (*pictureOptions, error) {
	o := &pictureOptions{}
	fs := newFlagSet(name, usage, stderr)
	fs.StringVar(&o.ckpt, "checkpoint", "", "checkpoint file, or run folder (newest good checkpoint)")
	fs.IntVar(&o.n, "n", defN, "number of images")
	fs.StringVar(&o.out, "out", defOut, "output PNG")
	fs.Uint64Var(&o.seed, "seed", 0, "noise seed (0: the run's fixed picture noise)")
	fs.StringVar(&o.dataDir, "data", "", "reconstruct: the experiment's data, as train --data (default: its default)")
	fs.BoolVar(&o.means, "means", false, "noise-free: every Gaussian unit of the networks at its mean (MNIST, Fashion-MNIST)")
	if name == "reconstruct" {
		fs.IntVar(&o.depth, "depth", 0, "CIFAR-10: the depth to reconstruct through (0: every depth)")
	}
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
	if o.n <= 0 || o.n > 4096 {
		return nil, usagef("--n %d must be in 1..4096", o.n)
	}
	if o.depth < 0 {
		return nil, usagef("--depth %d must be ≥ 0", o.depth)
	}
	if err := outFile("out", o.out); err != nil {
		return nil, err
	}
	return o, nil
}

func runPicture(ctx context.Context, args []string, stdout, stderr io.Writer, name, usage string, defN int, defOut string) error {
	o, err := parsePicture(args, stderr, name, usage, defN, defOut)
	if err != nil {
		return err
	}
	tr, path, err := openRun(o.ckpt, stderr)
	if err != nil {
		return err
	}
	if o.seed != 0 {
		tr.Settings().Seed = o.seed
	}
	var img image.Image
	if name == "sample" {
		img, err = drawSamples(tr, o.n, o.means)
	} else {
		img, err = drawReconstructions(tr, o.dataDir, o.n, o.depth, o.means, stderr)
	}
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := imaging.SavePNG(o.out, img); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s from %s (step %d)\n", o.out, path, tr.Step)
	return nil
}

// drawSamples draws n sleep samples of tr's experiment, noise-free if means.
func drawSamples(tr *train.Trainer, n int, means bool) (image.Image, error) {
	if means {
		s, ok := tr.Experiment.(train.MeanSampler)
		if !ok {
			return nil, unsupported("sample --means", tr.Experiment, supporting(func(e train.Experiment) bool { _, ok := e.(train.MeanSampler); return ok }))
		}
		return asUsage(s.SampleMeans(tr, n))
	}
	s, ok := tr.Experiment.(train.Sampler)
	if !ok {
		return nil, unsupported("sample", tr.Experiment, supporting(func(e train.Experiment) bool { _, ok := e.(train.Sampler); return ok }))
	}
	return asUsage(s.Sample(tr, n))
}

// drawReconstructions shows the first n test items of tr's experiment (read
// from dataDir) beside their reconstructions, noise-free if means.
func drawReconstructions(tr *train.Trainer, dataDir string, n, depth int, means bool, stderr io.Writer) (image.Image, error) {
	var mr train.MeanReconstructor
	if means {
		var ok bool
		if mr, ok = tr.Experiment.(train.MeanReconstructor); !ok {
			return nil, unsupported("reconstruct --means", tr.Experiment, supporting(func(e train.Experiment) bool { _, ok := e.(train.MeanReconstructor); return ok }))
		}
	}
	r, ok := tr.Experiment.(train.Reconstructor)
	if !ok {
		return nil, unsupported("reconstruct", tr.Experiment, supporting(func(e train.Experiment) bool { _, ok := e.(train.Reconstructor); return ok }))
	}
	data, err := tr.Experiment.Data(dataDir, stderr)
	if err != nil {
		return nil, err
	}
	if m := r.TestItems(data); n > m {
		return nil, usagef("--n %d exceeds the %d test %s", n, m, tr.Experiment.Info().Items)
	}
	if mr != nil {
		return asUsage(mr.ReconstructMeans(tr, data, n))
	}
	return asUsage(r.Reconstruct(tr, data, n, depth))
}

// asUsage passes a picture through, and makes an experiment's error about a
// flag ("--depth 9: …") a usage error.
func asUsage(img image.Image, err error) (image.Image, error) {
	if err != nil && strings.HasPrefix(err.Error(), "--") {
		return nil, &usageError{msg: err.Error()}
	}
	return img, err
}
