package cli

import (
	"context"
	"fmt"
	"image"
	"io"

	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/train"
)

const sampleUsage = `
Usage: wakesleep sample --checkpoint <file or run folder> [--n 64] [--out samples.png] [--means]

Draws sleep samples (z ~ N(0, I), then x ~ p(x|z) top-down) from a checkpoint
and writes them as a PNG grid. A run folder means its newest good checkpoint.
--means shows the generation network without its noise (every Gaussian unit
at its mean), the paper's samples with the pixel noise taken out.
`

const reconstructUsage = `
Usage: wakesleep reconstruct --checkpoint <file or run folder> [--n 32] [--out recon.png] [--means]

Infers z ~ q(z|x) for the first n MNIST test digits and generates x̂ ~ p(x|z)
back down; writes the digits beside their reconstructions as a PNG grid.
--means uses every Gaussian unit's mean instead of a sample, both ways.
`

func runSample(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runPicture(args, stdout, stderr, "sample", sampleUsage, 64, "samples.png")
}

func runReconstruct(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runPicture(args, stdout, stderr, "reconstruct", reconstructUsage, 32, "recon.png")
}

func runPicture(args []string, stdout, stderr io.Writer, name, usage string, defN int, defOut string) error {
	fs := newFlagSet(name, usage, stderr)
	ckpt := fs.String("checkpoint", "", "checkpoint file, or run folder (newest good checkpoint)")
	n := fs.Int("n", defN, "number of images")
	out := fs.String("out", defOut, "output PNG")
	seed := fs.Uint64("seed", 0, "noise seed (0: the run's fixed picture noise)")
	dataDir := fs.String("data", "", "folder with MNIST IDX files (default: embedded)")
	means := fs.Bool("means", false, "noise-free: every Gaussian unit of the networks at its mean (sleep z still drawn from the prior)")
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
	if *n <= 0 || *n > 4096 {
		return usagef("--n %d must be in 1..4096", *n)
	}
	tr, path, err := train.LoadTrainerWarn(*ckpt, stderr)
	if err != nil {
		return err
	}
	if *seed != 0 {
		tr.Config.Seed = *seed
	}
	var img image.Image
	switch {
	case name == "sample" && *means:
		img, err = train.SampleMeans(tr, *n)
	case name == "sample":
		img, err = train.Samples(tr, *n)
	default:
		_, test, lerr := loadMNIST(*dataDir)
		if lerr != nil {
			return lerr
		}
		if *n > test.N {
			return usagef("--n %d exceeds the %d test digits", *n, test.N)
		}
		if *means {
			img, err = train.ReconstructionMeans(tr, test, *n)
		} else {
			img, err = train.Reconstructions(tr, test, *n)
		}
	}
	if err != nil {
		return err
	}
	if err := imaging.SavePNG(*out, img); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s from %s (step %d)\n", *out, path, tr.Step)
	return nil
}
