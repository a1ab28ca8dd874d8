package eval

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/wakesleep/wakesleep/data/movingmnist"
	mmexp "github.com/wakesleep/wakesleep/experiment/movingmnist"
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
	r := EvaluatePrediction(tr.Model, gen, 5, 2, 3, 3, 1, nil)
	for k := 0; k < 3; k++ {
		if r.Baseline.MSE[k] != 0 || math.Abs(r.Baseline.SSIM[k]-1) > 1e-12 {
			t.Errorf("frame %d: baseline MSE %g, SSIM %g on still digits", k, r.Baseline.MSE[k], r.Baseline.SSIM[k])
		}
		if !(r.Model.MSE[k] > 0) || !(r.Model.SSIM[k] < 1) {
			t.Errorf("frame %d: untrained model MSE %g, SSIM %g", k, r.Model.MSE[k], r.Model.SSIM[k])
		}
	}
	// Seeded: the same numbers again.
	if r2 := EvaluatePrediction(tr.Model, gen, 5, 2, 3, 3, 1, nil); r2.Model.MSE[2] != r.Model.MSE[2] || r2.Model.SSIM[0] != r.Model.SSIM[0] {
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
}
