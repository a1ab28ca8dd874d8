package eval

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/wakesleep/wakesleep/tensor"
)

func TestFrechetGaussiansKnown(t *testing.T) {
	t.Parallel()
	// 2×2 with non-commuting covariances: for A = Σ₁Σ₂ (eigenvalues real and
	// positive), Tr A^{1/2} = √(Tr A + 2√det A), since √λ₁ + √λ₂ squared is
	// λ₁ + λ₂ + 2√(λ₁λ₂).
	s1 := mat.NewSymDense(2, []float64{2, 1, 1, 2})
	s2 := mat.NewSymDense(2, []float64{3, 0.5, 0.5, 1})
	var a mat.Dense
	a.Mul(s1, s2)
	trSqrt := math.Sqrt(mat.Trace(&a) + 2*math.Sqrt(mat.Det(s1)*mat.Det(s2)))
	want2 := 1.0 + 4.0 + (2 + 2) + (3 + 1) - 2*trSqrt // ‖(1,2)−(0,4)‖² + Tr Σ₁ + Tr Σ₂ − 2 Tr
	for _, tc := range []struct {
		name string
		a, b Gaussian
		want float64
	}{
		{"diagonal", // Σ (μ₁−μ₂)² + Σ (σ₁−σ₂)² = (1 + 4) + (1 + 1)
			Gaussian{Mean: []float64{0, 0}, Cov: mat.NewSymDense(2, []float64{1, 0, 0, 4})},
			Gaussian{Mean: []float64{1, -2}, Cov: mat.NewSymDense(2, []float64{4, 0, 0, 9})}, 7},
		{"identical", Gaussian{Mean: []float64{1, 2}, Cov: s1}, Gaussian{Mean: []float64{1, 2}, Cov: s1}, 0},
		{"non-commuting", Gaussian{Mean: []float64{1, 2}, Cov: s1}, Gaussian{Mean: []float64{0, 4}, Cov: s2}, want2},
		{"singular", // point mass vs N(0, 1) in 1-d: (σ₁ − σ₂)² = 1
			Gaussian{Mean: []float64{0}, Cov: mat.NewSymDense(1, []float64{0})},
			Gaussian{Mean: []float64{0}, Cov: mat.NewSymDense(1, []float64{1})}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FrechetGaussians(tc.a, tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-tc.want) > 1e-10*(1+tc.want) {
				t.Fatalf("Fréchet distance %.15g, want %.15g", got, tc.want)
			}
		})
	}
	if _, err := FrechetGaussians(Gaussian{Mean: []float64{0}, Cov: mat.NewSymDense(1, []float64{1})},
		Gaussian{Mean: []float64{0, 0}, Cov: mat.NewSymDense(2, nil)}); err == nil {
		t.Error("different dimensions accepted")
	}
}

// correlatedSamples draws n samples of a d-dimensional correlated Gaussian.
func correlatedSamples(rng *rand.Rand, n, d int) [][]float64 {
	mix := make([]float64, d*d)
	for i := range mix {
		mix[i] = rng.NormFloat64() / math.Sqrt(float64(d))
	}
	out := make([][]float64, n)
	e := make([]float64, d)
	for i := range out {
		for j := range e {
			e[j] = rng.NormFloat64()
		}
		row := make([]float64, d)
		for j := range row {
			for k := 0; k < d; k++ {
				row[j] += mix[j*d+k] * e[k]
			}
			row[j] += 3 // a non-zero mean
		}
		out[i] = row
	}
	return out
}

func TestFrechetDistanceSamples(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	const d = 6
	a := correlatedSamples(rng, 3000, d)
	if fd, err := FrechetDistance(a, a); err != nil || fd > 1e-9 {
		t.Errorf("identical samples: %g, %v; want ≈ 0", fd, err)
	}
	// A shift moves only the means: the distance is ‖shift‖² exactly.
	shift := []float64{1, -2, 0.5, 0, 3, -1}
	var want float64
	b := make([][]float64, len(a))
	for i, row := range a {
		b[i] = make([]float64, d)
		for j := range row {
			b[i][j] = row[j] + shift[j]
		}
	}
	for _, s := range shift {
		want += s * s
	}
	if fd, err := FrechetDistance(a, b); err != nil || math.Abs(fd-want) > 1e-8*want {
		t.Errorf("shifted samples: %.12g, %v; want ‖shift‖² = %g", fd, err, want)
	}
	// Scaling by c multiplies the covariance by c²: the distance is
	// ‖(1−c)μ‖² + (1−c)² Tr Σ.
	ga, _ := FitGaussian(a)
	const c = 1.5
	var tr, mu2 float64
	for j := 0; j < d; j++ {
		tr += ga.Cov.At(j, j)
		mu2 += ga.Mean[j] * ga.Mean[j]
	}
	sc := make([][]float64, len(a))
	for i, row := range a {
		sc[i] = make([]float64, d)
		for j := range row {
			sc[i][j] = c * row[j]
		}
	}
	wantScaled := (1-c)*(1-c)*mu2 + (1-c)*(1-c)*tr
	if fd, err := FrechetDistance(a, sc); err != nil || math.Abs(fd-wantScaled) > 1e-8*wantScaled {
		t.Errorf("scaled samples: %.12g, %v; want %g", fd, err, wantScaled)
	}
	if _, err := FrechetDistance(a[:1], a); err == nil {
		t.Error("one sample accepted")
	}
}

func TestClassStatsAndAgreement(t *testing.T) {
	t.Parallel()
	probs := func(k int, p float64) []float64 {
		row := make([]float64, 10)
		for j := range row {
			row[j] = (1 - p) / 9
		}
		row[k] = p
		return row
	}
	out := &Outputs{Probs: [][]float64{probs(3, 0.9), probs(3, 0.5), probs(7, 0.7), probs(1, 0.9)}}
	s := ClassStatsOf(out)
	if s.Counts != [10]int{0, 1, 0, 2, 0, 0, 0, 1, 0, 0} {
		t.Errorf("counts %v", s.Counts)
	}
	if math.Abs(s.MeanConfidence-0.75) > 1e-12 {
		t.Errorf("mean confidence %g, want 0.75", s.MeanConfidence)
	}
	if want := 1.5; math.Abs(s.EntropyBits-want) > 1e-12 { // fractions ¼, ½, ¼
		t.Errorf("entropy %g bits, want %g", s.EntropyBits, want)
	}
	recons := &Outputs{Probs: [][]float64{probs(3, 0.9), probs(5, 0.5), probs(7, 0.7), probs(2, 0.9)}}
	ag := AgreementOf(out, recons, []uint8{3, 3, 7, 2})
	// inputs predicted 3 3 7 1 (3 of 4 right); recons 3 5 7 2 (3 of 4 right, 2 match the input's prediction).
	if ag != (Agreement{Agreement: 0.75, Accuracy: 0.75, Consistency: 0.5}) {
		t.Errorf("agreement %+v", ag)
	}
}

func TestReconstructionAgreementIdentity(t *testing.T) {
	t.Parallel()
	test := loadTest(t)
	c := tinyClassifier(t)
	x := test.Batch(seq(1000), tensor.Float32, "unit")
	ag := ReconstructionAgreement(c, x, x, test.Labels[:1000])
	if ag.Agreement != ag.Accuracy || ag.Consistency != 1 {
		t.Errorf("perfect reconstructor: %+v; want agreement = accuracy, consistency 1", ag)
	}
	if ag.Accuracy < 0.5 {
		t.Errorf("tiny classifier accuracy %.3f: training failed", ag.Accuracy)
	}
}
