package train

import (
	"fmt"
	"image"
	"math/rand/v2"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/imaging"
)

// Picture kinds of the MNIST grids (RunOptions.Pictures, the --pictures and
// --means flags): sampled activity as the paper shows it, the noise-free
// means, or both.
const (
	PicturesSamples = "samples" // every Gaussian unit sampled
	PicturesMeans   = "means"   // every Gaussian unit at its mean (z of the sleep grid still from the prior)
	PicturesBoth    = "both"
)

// ValidatePictures checks a picture kind.
func ValidatePictures(kind string) error {
	switch kind {
	case PicturesSamples, PicturesMeans, PicturesBoth:
		return nil
	}
	return fmt.Errorf("pictures %q must be %q, %q or %q", kind, PicturesSamples, PicturesMeans, PicturesBoth)
}

// SampleMeans returns a grid of n sleep samples from the same fixed prior
// draws as Samples, with the generation network's units at their means: the
// model without its pixel noise.
func SampleMeans(t *Trainer, n int) (image.Image, error) {
	rng := rand.New(rand.NewPCG(t.Config.Seed, sampleStream))
	x := t.Model.GenerateMean(t.Model.Prior(n, rng))
	return imaging.Grid(toImages(x.Value, t.Config.PixelScale), 8, 2), nil
}

// ReconstructionMeans returns the first n test digits, each beside its
// noise-free reconstruction (inference and generation at their means).
func ReconstructionMeans(t *Trainer, test *mnist.Set, n int) (image.Image, error) {
	if n <= 0 || n > test.N {
		return nil, fmt.Errorf("reconstructions: %d digits asked of a test set of %d", n, test.N)
	}
	if d := test.Rows * test.Cols; d != t.Model.Config.XDim {
		return nil, fmt.Errorf("reconstructions: test images have %d pixels, the model takes %d", d, t.Model.Config.XDim)
	}
	x := test.Batch(seqIdx(n), t.Model.DType(), t.Config.PixelScale)
	r := t.Model.GenerateMean(t.Model.InferMean(ad.Const(x)))
	return imaging.SideBySide(toImages(x, t.Config.PixelScale), toImages(r.Value, t.Config.PixelScale), 8, 2), nil
}

func seqIdx(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}
