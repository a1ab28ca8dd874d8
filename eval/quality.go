package eval

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/tensor"
)

// Agreement says how often reconstructions keep their input's class.
type Agreement struct {
	// Agreement is the fraction of inputs whose reconstruction the
	// classifier assigns to the input's true class.
	Agreement float64 `json:"agreement"`
	// Accuracy is the classifier's accuracy on the inputs themselves: what
	// a perfect reconstructor would score.
	Accuracy float64 `json:"accuracy"`
	// Consistency is the fraction of inputs whose reconstruction gets the
	// same predicted class as the input (whether or not that is right).
	Consistency float64 `json:"consistency"`
}

// AgreementOf computes Agreement from the classifier's outputs on the inputs
// and on their reconstructions (row i of each belonging together) and the
// inputs' labels. Panics if the lengths differ or are zero.
func AgreementOf(inputs, recons *Outputs, labels []uint8) Agreement {
	n := len(labels)
	if n == 0 || len(inputs.Probs) != n || len(recons.Probs) != n {
		panic(fmt.Sprintf("eval: AgreementOf: %d inputs, %d reconstructions, %d labels", len(inputs.Probs), len(recons.Probs), n))
	}
	pi, pr := inputs.Predicted(), recons.Predicted()
	var agree, acc, cons int
	for i, l := range labels {
		if pr[i] == int(l) {
			agree++
		}
		if pi[i] == int(l) {
			acc++
		}
		if pr[i] == pi[i] {
			cons++
		}
	}
	f := float64(n)
	return Agreement{Agreement: float64(agree) / f, Accuracy: float64(acc) / f, Consistency: float64(cons) / f}
}

// ReconstructionAgreement classifies inputs and recons, both [N, 784] with
// pixels in [0, 1], and returns their Agreement given the inputs' labels.
func ReconstructionAgreement(c *Classifier, inputs, recons *tensor.Tensor, labels []uint8) Agreement {
	return AgreementOf(c.Classify(inputs, false), c.Classify(recons, false), labels)
}

// ClassStats describe the classes a classifier sees in a set of images.
type ClassStats struct {
	Counts    [mnist.NumClasses]int     `json:"counts"`    // images per predicted class
	Fractions [mnist.NumClasses]float64 `json:"fractions"` // Counts / N
	// MeanConfidence is the mean over images of the largest softmax
	// probability: near 1 when the images look like clear digits.
	MeanConfidence float64 `json:"mean_confidence"`
	// EntropyBits is the entropy of Fractions in bits: log₂ 10 ≈ 3.32 when
	// every class is equally common, 0 when one class takes everything.
	EntropyBits float64 `json:"entropy_bits"`
}

// ClassStatsOf computes ClassStats from classifier outputs. Panics on no outputs.
func ClassStatsOf(out *Outputs) ClassStats {
	n := len(out.Probs)
	if n == 0 {
		panic("eval: ClassStatsOf with no outputs")
	}
	var s ClassStats
	for _, p := range out.Probs {
		k := argmax(p)
		s.Counts[k]++
		s.MeanConfidence += p[k]
	}
	s.MeanConfidence /= float64(n)
	for k, c := range s.Counts {
		f := float64(c) / float64(n)
		s.Fractions[k] = f
		if f > 0 {
			s.EntropyBits -= f * math.Log2(f)
		}
	}
	return s
}

// Gaussian is a mean and covariance fitted to feature vectors.
type Gaussian struct {
	Mean []float64
	Cov  *mat.SymDense
}

// FitGaussian returns the sample mean and the unbiased (n−1) sample
// covariance of the rows of x (each a feature vector of the same length).
// It fails with fewer than two rows or rows of different lengths.
func FitGaussian(x [][]float64) (Gaussian, error) {
	n := len(x)
	if n < 2 {
		return Gaussian{}, fmt.Errorf("frechet: %d samples: need at least 2", n)
	}
	d := len(x[0])
	if d == 0 {
		return Gaussian{}, errors.New("frechet: empty feature vectors")
	}
	data := make([]float64, 0, n*d)
	for i, row := range x {
		if len(row) != d {
			return Gaussian{}, fmt.Errorf("frechet: sample %d has %d features, sample 0 has %d", i, len(row), d)
		}
		data = append(data, row...)
	}
	m := mat.NewDense(n, d, data)
	g := Gaussian{Mean: make([]float64, d), Cov: mat.NewSymDense(d, nil)}
	for j := 0; j < d; j++ {
		g.Mean[j] = stat.Mean(mat.Col(nil, j, m), nil)
	}
	stat.CovarianceMatrix(g.Cov, m, nil)
	return g, nil
}

// FrechetGaussians returns the Fréchet (2-Wasserstein squared) distance
// between N(μ₁, Σ₁) and N(μ₂, Σ₂) (Dowson & Landau 1982):
//
//	d² = ‖μ₁ − μ₂‖² + Tr Σ₁ + Tr Σ₂ − 2 Tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}
//
// The square roots come from eigendecompositions of symmetric matrices with
// negative round-off eigenvalues set to 0, so the result is real; it is
// clamped at 0. Tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2} equals the Tr (Σ₁Σ₂)^{1/2} of
// the FID formula (Heusel et al. 2017): the two matrices are similar.
// It fails if the dimensions differ or an eigendecomposition does not converge.
func FrechetGaussians(a, b Gaussian) (float64, error) {
	d := len(a.Mean)
	if len(b.Mean) != d || a.Cov.SymmetricDim() != d || b.Cov.SymmetricDim() != d {
		return 0, fmt.Errorf("frechet: dimensions %d and %d differ", d, len(b.Mean))
	}
	var dist float64
	for j := range a.Mean {
		dm := a.Mean[j] - b.Mean[j]
		dist += dm * dm
	}
	var tr1, tr2 float64
	for j := 0; j < d; j++ {
		tr1 += a.Cov.At(j, j)
		tr2 += b.Cov.At(j, j)
	}
	s1, err := symSqrt(a.Cov)
	if err != nil {
		return 0, err
	}
	var m mat.Dense
	m.Product(s1, b.Cov, s1)
	// Symmetrise against round-off before the second eigendecomposition.
	ms := mat.NewSymDense(d, nil)
	for i := 0; i < d; i++ {
		for j := i; j < d; j++ {
			ms.SetSym(i, j, (m.At(i, j)+m.At(j, i))/2)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(ms, false) {
		return 0, errors.New("frechet: eigendecomposition did not converge")
	}
	var trSqrt float64
	for _, l := range eig.Values(nil) {
		if l > 0 {
			trSqrt += math.Sqrt(l)
		}
	}
	return math.Max(0, dist+tr1+tr2-2*trSqrt), nil
}

// symSqrt returns the symmetric positive semidefinite square root of a.
func symSqrt(a *mat.SymDense) (*mat.Dense, error) {
	var eig mat.EigenSym
	if !eig.Factorize(a, true) {
		return nil, errors.New("frechet: eigendecomposition did not converge")
	}
	vals := eig.Values(nil)
	var v mat.Dense
	eig.VectorsTo(&v)
	d := len(vals)
	// V · diag(√λ) · Vᵀ, with λ < 0 (round-off) treated as 0.
	vs := mat.DenseCopyOf(&v)
	for j, l := range vals {
		s := math.Sqrt(math.Max(l, 0))
		for i := 0; i < d; i++ {
			vs.Set(i, j, vs.At(i, j)*s)
		}
	}
	var out mat.Dense
	out.Mul(vs, v.T())
	return &out, nil
}

// FrechetDistance fits a Gaussian to each set of feature vectors and returns
// the Fréchet distance between the fits (FrechetGaussians): with classifier
// features, the FID of Heusel et al. (2017) with our classifier in place of
// Inception.
func FrechetDistance(a, b [][]float64) (float64, error) {
	ga, err := FitGaussian(a)
	if err != nil {
		return 0, err
	}
	gb, err := FitGaussian(b)
	if err != nil {
		return 0, err
	}
	return FrechetGaussians(ga, gb)
}
