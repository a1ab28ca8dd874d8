package eval

import (
	"fmt"
	"math"
)

// SSIM constants of Wang et al. (2004): an 11×11 Gaussian window of standard
// deviation 1.5, normalised to sum 1, and K₁ = 0.01, K₂ = 0.03.
const (
	ssimWindow = 11
	ssimSigma  = 1.5
	ssimK1     = 0.01
	ssimK2     = 0.03
)

var ssimKernel = func() []float64 {
	k := make([]float64, ssimWindow)
	var s float64
	for i := range k {
		d := float64(i - ssimWindow/2)
		k[i] = math.Exp(-d * d / (2 * ssimSigma * ssimSigma))
		s += k[i]
	}
	for i := range k {
		k[i] /= s
	}
	return k
}()

// SSIM returns the mean structural similarity index of two gray images a and
// b of h×w pixels (row-major) with values in [0, dataRange] (Wang, Bovik,
// Sheikh & Simoncelli 2004, "Image quality assessment: from error visibility
// to structural similarity", IEEE TIP 13(4), Eq. 13, with their reference
// settings):
//
//	SSIM(a, b) = mean over windows of (2μ_aμ_b + C₁)(2σ_ab + C₂) / ((μ_a² + μ_b² + C₁)(σ_a² + σ_b² + C₂))
//
// where μ, σ², σ_ab are Gaussian-weighted (11×11, σ = 1.5) means, variances
// and covariance over each window, C₁ = (0.01·L)², C₂ = (0.03·L)², L =
// dataRange. Windows lie wholly inside the image ("valid" positions, as the
// authors' MATLAB code and scikit-image's structural_similarity with
// gaussian_weights=True, which average over the same interior). Two
// identical images score 1. Panics if the images are smaller than 11×11 or
// their lengths differ from h·w.
func SSIM(a, b []float64, h, w int, dataRange float64) float64 {
	if h < ssimWindow || w < ssimWindow || len(a) != h*w || len(b) != h*w {
		panic(fmt.Sprintf("eval: SSIM of %d and %d values as %d×%d (needs at least %d×%d)", len(a), len(b), h, w, ssimWindow, ssimWindow))
	}
	c1 := (ssimK1 * dataRange) * (ssimK1 * dataRange)
	c2 := (ssimK2 * dataRange) * (ssimK2 * dataRange)
	ab, aa, bb := make([]float64, h*w), make([]float64, h*w), make([]float64, h*w)
	for i := range a {
		ab[i], aa[i], bb[i] = a[i]*b[i], a[i]*a[i], b[i]*b[i]
	}
	ma, mb := gaussValid(a, h, w), gaussValid(b, h, w)
	mab, maa, mbb := gaussValid(ab, h, w), gaussValid(aa, h, w), gaussValid(bb, h, w)
	var sum float64
	for i := range ma {
		mua, mub := ma[i], mb[i]
		va, vb, cov := maa[i]-mua*mua, mbb[i]-mub*mub, mab[i]-mua*mub
		sum += (2*mua*mub + c1) * (2*cov + c2) / ((mua*mua + mub*mub + c1) * (va + vb + c2))
	}
	return sum / float64(len(ma))
}

// gaussValid filters x (h×w) with the separable SSIM window at the valid
// positions: a (h−10)×(w−10) result.
func gaussValid(x []float64, h, w int) []float64 {
	ow, oh := w-ssimWindow+1, h-ssimWindow+1
	rows := make([]float64, h*ow) // horizontal pass
	for i := 0; i < h; i++ {
		for j := 0; j < ow; j++ {
			var s float64
			for k, kv := range ssimKernel {
				s += kv * x[i*w+j+k]
			}
			rows[i*ow+j] = s
		}
	}
	out := make([]float64, oh*ow) // vertical pass
	for i := 0; i < oh; i++ {
		for j := 0; j < ow; j++ {
			var s float64
			for k, kv := range ssimKernel {
				s += kv * rows[(i+k)*ow+j]
			}
			out[i*ow+j] = s
		}
	}
	return out
}
