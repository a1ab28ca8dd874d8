package eval

import (
	"math/rand/v2"
	"testing"

	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/tensor"
)

// The linear probe finds linearly separable classes and stays at chance on
// features that carry nothing about the labels.
func TestLinearProbeKnownAnswers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func(n int, informative bool) (*tensor.Tensor, []uint8) {
		f := tensor.New(tensor.Float64, n, 12)
		y := make([]uint8, n)
		for i := 0; i < n; i++ {
			y[i] = uint8(rng.IntN(10))
			for j := 0; j < 12; j++ {
				v := rng.NormFloat64()
				if informative && j == int(y[i]) {
					v += 6 // class c lights up feature c
				}
				f.SetAt(i*12+j, v)
			}
		}
		return f, y
	}
	trF, trY := gen(2000, true)
	teF, teY := gen(1000, true)
	if acc := LinearProbe(trF, trY, teF, teY); acc < 0.97 {
		t.Fatalf("separable classes: accuracy %.3f, want ≥ 0.97", acc)
	}
	trF, trY = gen(2000, false)
	teF, teY = gen(1000, false)
	if acc := LinearProbe(trF, trY, teF, teY); acc > 0.16 {
		t.Fatalf("uninformative features: accuracy %.3f, want chance (≈ 0.1)", acc)
	}
}

// Diagnose routes each loss term's gradient to the right network: in the
// local algorithm the z critic's term reaches only the encoder and the
// wake/sleep term on x (data against sleep samples) only the decoder, while
// the oscillatory and reconstruction terms reach both.
func TestDiagnoseGradientRouting(t *testing.T) {
	t.Parallel()
	tr := tinyTrainer(t)
	d, err := Diagnose(tr, loadTrain(t), loadTest(t), DiagnoseOptions{ProbeTrain: 200, ProbeTest: 100, Batches: 1, BatchSize: 16, Classifier: tinyClassifier(t)})
	if err != nil {
		t.Fatal(err)
	}
	if d.Encoder["osc_z"] <= 0 || d.Decoder["osc_z"] != 0 {
		t.Errorf("osc_z: encoder %g, decoder %g; want > 0 and 0", d.Encoder["osc_z"], d.Decoder["osc_z"])
	}
	if d.Encoder["ws_x"] != 0 || d.Decoder["ws_x"] <= 0 {
		t.Errorf("ws_x: encoder %g, decoder %g; want 0 and > 0", d.Encoder["ws_x"], d.Decoder["ws_x"])
	}
	for _, n := range []string{"osc_x", "recon_x"} {
		if d.Encoder[n] <= 0 || d.Decoder[n] <= 0 {
			t.Errorf("%s: encoder %g, decoder %g; want both > 0", n, d.Encoder[n], d.Decoder[n])
		}
	}
	if d.ProbeZ < 0 || d.ProbeZ > 1 || d.ReconMean < 0 || d.ReconMean > 1 || d.LatentStd <= 0 {
		t.Errorf("out of range: %+v", d)
	}
	if _, err := Diagnose(tr, loadTrain(t), loadTest(t), DiagnoseOptions{ProbeTrain: 1 << 30}); err == nil {
		t.Error("a probe larger than the training set was accepted")
	}
}

// The embedded Fashion-MNIST classifier, which judges Fashion-MNIST runs,
// classifies the Fashion-MNIST test set as its file records.
func TestEmbeddedFashionClassifier(t *testing.T) {
	t.Parallel()
	c, info, err := FashionClassifier()
	if err != nil {
		t.Fatal(err)
	}
	test, err := mnist.LoadFashion("test")
	if err != nil {
		t.Skip(err) // dataset-fashion-mnist not installed (CI installs it)
	}
	acc := c.Accuracy(test)
	if acc < 0.87 {
		t.Errorf("Fashion-MNIST classifier test accuracy %.4f < 0.87", acc)
	}
	if d := acc - info.TestAccuracy; d > 1e-4 || d < -1e-4 {
		t.Errorf("test accuracy %.4f, file records %.4f", acc, info.TestAccuracy)
	}
}
