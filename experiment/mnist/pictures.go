package mnist

import (
	"fmt"
	"image"
	"math/rand/v2"

	ad "github.com/wakesleep/wakesleep/autodiff"
	mnistdata "github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/train"
)

// Picture kinds of a run folder's grids (Config.Pictures, the --pictures
// flag): sampled activity as the paper shows it, the noise-free means, or
// both.
const (
	PicturesSamples = "samples" // every Gaussian unit sampled: samples-epochNNN.png, recon-epochNNN.png
	PicturesMeans   = "means"   // every unit at its mean: samples-mean-epochNNN.png, recon-mean-epochNNN.png
	PicturesBoth    = "both"    // the default ("")
)

// validatePictures checks a picture kind ("" means both).
func validatePictures(kind string) error {
	switch kind {
	case "", PicturesSamples, PicturesMeans, PicturesBoth:
		return nil
	}
	return fmt.Errorf("pictures %q must be %q, %q or %q", kind, PicturesSamples, PicturesMeans, PicturesBoth)
}

// SampleMeans returns a grid of n sleep samples from the same fixed prior
// draws as Samples, with the generation network's units at their means: the
// model without its pixel noise.
func SampleMeans(t *Trainer, n int) (image.Image, error) {
	rng := rand.New(rand.NewPCG(t.Config.Seed, train.SampleStream))
	x := t.Model.GenerateMean(t.Model.Prior(n, rng))
	return imaging.Annotate(imaging.Grid(toImages(x.Value, t.Config.PixelScale), 8, 2), imaging.Caption{
		Title: fmt.Sprintf("Sleep samples, every Gaussian unit at its mean (z from N(0, I)), step %d", t.Step), Scale: 3}), nil
}

// ReconstructionMeans returns the first n test digits, each beside its
// noise-free reconstruction (inference and generation at their means).
func ReconstructionMeans(t *Trainer, test *mnistdata.Set, n int) (image.Image, error) {
	x, err := firstDigits(t, test, n)
	if err != nil {
		return nil, err
	}
	r := t.Model.GenerateMean(t.Model.InferMean(ad.Const(x)))
	return imaging.Annotate(imaging.SideBySide(toImages(x, t.Config.PixelScale), toImages(r.Value, t.Config.PixelScale), 8, 2),
		reconCaption(t, "noise-free reconstructions")), nil
}

// SampleMeans implements train.MeanSampler.
func (k *Kind) SampleMeans(tr *train.Trainer, n int) (image.Image, error) {
	t, err := View(tr)
	if err != nil {
		return nil, err
	}
	return SampleMeans(t, n)
}

// ReconstructMeans implements train.MeanReconstructor.
func (k *Kind) ReconstructMeans(tr *train.Trainer, data train.Data, n int) (image.Image, error) {
	t, err := View(tr)
	if err != nil {
		return nil, err
	}
	return ReconstructionMeans(t, data.(*Data).Test, n)
}

// epochGrid is one of a run's epoch pictures.
type epochGrid struct {
	pattern string // file name with %03d for the epoch
	recon   bool   // needs the test set
	draw    func(t *Trainer, test *mnistdata.Set) (image.Image, error)
}

// epochGrids returns the grids Config.Pictures asks for.
func epochGrids(kind string) []epochGrid {
	samples := []epochGrid{
		{"samples-epoch%03d.png", false, func(t *Trainer, _ *mnistdata.Set) (image.Image, error) { return Samples(t, 64) }},
		{"recon-epoch%03d.png", true, func(t *Trainer, s *mnistdata.Set) (image.Image, error) { return Reconstructions(t, s, min(32, s.N)) }},
	}
	means := []epochGrid{
		{"samples-mean-epoch%03d.png", false, func(t *Trainer, _ *mnistdata.Set) (image.Image, error) { return SampleMeans(t, 64) }},
		{"recon-mean-epoch%03d.png", true, func(t *Trainer, s *mnistdata.Set) (image.Image, error) {
			return ReconstructionMeans(t, s, min(32, s.N))
		}},
	}
	switch kind {
	case PicturesSamples:
		return samples
	case PicturesMeans:
		return means
	}
	return append(samples, means...)
}
