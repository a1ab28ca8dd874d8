package eval

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/data/movingmnist"
	mmexp "github.com/wakesleep/wakesleep/experiment/movingmnist"
	"github.com/wakesleep/wakesleep/tensor"
)

func tinyVideo() *mmexp.Config { return mmexp.Experiment.TinyConfig().(*mmexp.Config) }

// Golden SSIM values from PyTorch 1.13 (float64), /usr/bin/python3, with the
// reference formula written out (11×11 Gaussian window σ = 1.5 by
// conv2d without padding, C₁ = 0.01², C₂ = 0.03²), on 16×20 images
// a = (sin(0.7i + 0.3j) + 1)/2, b = clamp(a + 0.2·cos(1.3i − 0.5j), 0, 1),
// c = 1 on rows 4–11, columns 5–14, else 0.
func TestSSIMGolden(t *testing.T) {
	t.Parallel()
	const h, w = 16, 20
	a, b, c, zero := make([]float64, h*w), make([]float64, h*w), make([]float64, h*w), make([]float64, h*w)
	for i := 0; i < h; i++ {
		for j := 0; j < w; j++ {
			fi, fj := float64(i), float64(j)
			a[i*w+j] = (math.Sin(0.7*fi+0.3*fj) + 1) / 2
			b[i*w+j] = math.Min(1, math.Max(0, a[i*w+j]+0.2*math.Cos(1.3*fi-0.5*fj)))
			if i >= 4 && i < 12 && j >= 5 && j < 15 {
				c[i*w+j] = 1
			}
		}
	}
	for _, tc := range []struct {
		name string
		x, y []float64
		want float64
	}{
		{"a b", a, b, 0.9118475580745866},
		{"a c", a, c, 0.23107717996402624},
		{"c zero", c, zero, 1.945690443622797e-06},
		{"a a", a, a, 1},
		{"b a (symmetric)", b, a, 0.9118475580745866},
	} {
		if got := SSIM(tc.x, tc.y, h, w, 1); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: SSIM %.16g, want %.16g", tc.name, got, tc.want)
		}
	}
}

// TestEvaluatePrediction checks the measure on its baseline: with digits
// that do not move, repeating the last frame is perfect (MSE 0, SSIM 1).
func TestEvaluatePrediction(t *testing.T) {
	t.Parallel()
	tr, err := mmexp.NewTrainer(*tinyVideo())
	if err != nil {
		t.Fatal(err)
	}
	still := tr.Config.Data
	still.StepLength = 0
	gen, err := movingmnist.NewGenerator(mmexp.FakeDigits(20, 3), still, 9)
	if err != nil {
		t.Fatal(err)
	}
	o := PredictionOptions{N: 5, Batch: 2, Context: 3, Horizon: 3, K: 3, Seed: 1}
	r, err := EvaluatePrediction(PredictorOf(tr), gen, o)
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 3; k++ {
		if r.Baseline.MSE[k] != 0 || math.Abs(r.Baseline.SSIM[k]-1) > 1e-12 {
			t.Errorf("frame %d: baseline MSE %g, SSIM %g on still digits", k, r.Baseline.MSE[k], r.Baseline.SSIM[k])
		}
		if !(r.Model.MSE[k] > 0) || !(r.Model.SSIM[k] < 1) {
			t.Errorf("frame %d: untrained model MSE %g, SSIM %g", k, r.Model.MSE[k], r.Model.SSIM[k])
		}
	}
	if r.SleepAlignment == nil || r.Identity != nil {
		t.Errorf("sleep alignment %v (want one), identity %v (want none: no classifier)", r.SleepAlignment, r.Identity)
	}
	// Seeded: the same numbers again.
	if r2, _ := EvaluatePrediction(PredictorOf(tr), gen, o); r2.Model.MSE[2] != r.Model.MSE[2] || r2.BestOfK.SSIM[0] != r.BestOfK.SSIM[0] {
		t.Error("EvaluatePrediction is not deterministic")
	}
	dir := t.TempDir()
	if err := WritePredictionEval(dir, r); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{PredictionReportFile, PredictionResultFile, PredictionMSEPlot, PredictionSSIMPlot} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, PredictionReportFile))
	for _, want := range []string{"mean of 3", "best of 3", "Sleep-phase alignment", "±"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if _, err := EvaluatePrediction(PredictorOf(tr), gen, PredictionOptions{N: 5, Context: 5, Horizon: 3}); err == nil {
		t.Error("context + horizon beyond the sequence: no error")
	}
}

// fakePredictor predicts frames from the truth: the constant c (oracle
// false, noise 0), or the true frames plus Gaussian noise of std noise
// (oracle). Its latents are 40 rows of 2 units a sequence, N(0, I) in wake
// and N(shift, I) in sleep.
type fakePredictor struct {
	c, noise, shift float64
	oracle          bool
}

func (f fakePredictor) Stochastic() bool { return f.noise > 0 }

func (f fakePredictor) Predict(frames []*tensor.Tensor, context, horizon int, rng *rand.Rand) ([]*tensor.Tensor, *tensor.Tensor) {
	out := make([]*tensor.Tensor, horizon)
	for k := range out {
		truth := frames[context+k]
		p := tensor.Full(tensor.Float32, f.c, truth.Shape()...)
		if f.oracle {
			p = truth.Clone()
			if f.noise > 0 {
				p = tensor.Binary(tensor.OpAdd, p, tensor.Affine(tensor.RandNormal(rng, tensor.Float32, truth.Shape()...), f.noise, 0))
			}
		}
		out[k] = p
	}
	return out, tensor.RandNormal(rng, tensor.Float32, frames[0].Dim(0)*40, 2)
}

func (f fakePredictor) Dream(batch int, rng *rand.Rand) *tensor.Tensor {
	return tensor.Affine(tensor.RandNormal(rng, tensor.Float32, batch*40, 2), 1, f.shift)
}

func movingTest(t *testing.T) *movingmnist.Generator {
	t.Helper()
	g, err := movingmnist.TestSet(loadTest(t))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestPredictionKnownAnswers scores predictors whose scores are known.
func TestPredictionKnownAnswers(t *testing.T) {
	t.Parallel()
	test := movingTest(t)
	const n, context, horizon = 12, 10, 4
	o := PredictionOptions{N: n, Batch: 5, Context: context, Horizon: horizon, Seed: 1, Classifier: tinyClassifier(t)}

	t.Run("constant", func(t *testing.T) {
		const c = 0.25
		r, err := EvaluatePrediction(fakePredictor{c: c}, test, o)
		if err != nil {
			t.Fatal(err)
		}
		if r.K != 1 {
			t.Errorf("K = %d for a deterministic predictor, want 1", r.K)
		}
		// The analytic MSE of a constant: the mean of (x − c)² over the truth.
		for k := 0; k < horizon; k++ {
			var want float64
			for i := 0; i < n; i++ {
				seq := test.Sequence(uint64(i))
				fr := seq.Frames[(context+k)*r.FramePix : (context+k+1)*r.FramePix]
				for _, p := range fr {
					d := float64(p)/255 - c
					want += d * d
				}
			}
			want /= float64(n * r.FramePix)
			if math.Abs(r.Model.MSE[k]-want) > 1e-6*want {
				t.Errorf("frame %d: MSE %.8f, analytic %.8f", k, r.Model.MSE[k], want)
			}
			if r.MeanOfK.MSE[k] != r.Model.MSE[k] || r.BestOfK.MSE[k] != r.Model.MSE[k] {
				t.Errorf("frame %d: one sample, mean and best of 1 differ", k)
			}
			if !(r.Model.MSECI[k] > 0) {
				t.Errorf("frame %d: interval %g", k, r.Model.MSECI[k])
			}
		}
		if avg(r.Identity.Model) > 0.5 || avg(r.Identity.Truth) < 0.5 {
			t.Errorf("identity: flat frames %.3f, true frames %.3f", avg(r.Identity.Model), avg(r.Identity.Truth))
		}
	})

	t.Run("oracle", func(t *testing.T) {
		r, err := EvaluatePrediction(fakePredictor{oracle: true}, test, o)
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < horizon; k++ {
			if r.Model.MSE[k] != 0 || math.Abs(r.Model.SSIM[k]-1) > 1e-12 {
				t.Errorf("frame %d: perfect prediction MSE %g, SSIM %g", k, r.Model.MSE[k], r.Model.SSIM[k])
			}
			if id := r.Identity; id.Model[k] != id.Truth[k] {
				t.Errorf("frame %d: identity %.3f of perfect predictions, %.3f of the truth", k, id.Model[k], id.Truth[k])
			}
		}
	})

	t.Run("noisy oracle", func(t *testing.T) {
		const sigma, K = 0.1, 4
		oo := o
		oo.K = K
		oo.Classifier = nil
		r, err := EvaluatePrediction(fakePredictor{oracle: true, noise: sigma}, test, oo)
		if err != nil {
			t.Fatal(err)
		}
		m1, _ := r.Model.Mean()
		mk, _ := r.MeanOfK.Mean()
		bk, _ := r.BestOfK.Mean()
		// Noise of variance σ² per pixel: MSE σ² for a sample, σ²/K for the mean of K.
		if math.Abs(m1-sigma*sigma) > 0.02*sigma*sigma || math.Abs(mk-sigma*sigma/K) > 0.02*sigma*sigma/K {
			t.Errorf("MSE of a sample %.6f (want %.6f), of the mean of %d %.6f (want %.6f)", m1, sigma*sigma, K, mk, sigma*sigma/K)
		}
		if !(bk <= m1) {
			t.Errorf("best of K %.6f above one sample %.6f", bk, m1)
		}
		_, s1 := r.Model.Mean()
		_, sb := r.BestOfK.Mean()
		if !(sb >= s1) {
			t.Errorf("best-of-K SSIM %.4f below one sample's %.4f", sb, s1)
		}
	})

	t.Run("sleep alignment", func(t *testing.T) {
		for _, shift := range []float64{0, 3} {
			oo := o
			oo.Classifier = nil
			r, err := EvaluatePrediction(fakePredictor{oracle: true, noise: 0.01, shift: shift}, test, oo)
			if err != nil {
				t.Fatal(err)
			}
			a := r.SleepAlignment
			within := a.WakeSleep.Mean <= a.Control.Mean+3*math.Hypot(a.WakeSleep.Std, a.Control.Std)+0.05
			if (shift == 0) != within {
				t.Errorf("sleep z shifted by %g: KL %s, control %s", shift, pm(a.WakeSleep), pm(a.Control))
			}
		}
	})
}

// TestCI95Coverage checks the intervals on synthetic data: over many
// samples of 30 values of N(2, 1), the 95% interval of the mean contains 2
// about 95% of the time.
func TestCI95Coverage(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	const reps, n = 2000, 30
	hit := 0
	for r := 0; r < reps; r++ {
		var s, ss float64
		for i := 0; i < n; i++ {
			v := 2 + rng.NormFloat64()
			s += v
			ss += v * v
		}
		if math.Abs(s/n-2) <= ci95(s, ss, n) {
			hit++
		}
	}
	if c := float64(hit) / reps; c < 0.92 || c > 0.97 {
		t.Errorf("coverage %.3f, want about 0.95 (normal approximation with n = %d: a little under)", c, n)
	}
	if ci95(5, 25, 1) != 0 || ci95(6, 18, 2) != 0 {
		t.Error("one value or two equal values: want a zero interval")
	}
}
