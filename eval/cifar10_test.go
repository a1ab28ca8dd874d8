package eval

import (
	"context"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	cifardata "github.com/wakesleep/wakesleep/data/cifar10"
	cifarexp "github.com/wakesleep/wakesleep/experiment/cifar10"
	"github.com/wakesleep/wakesleep/tensor"
)

// brightnessSet returns n images whose class k (cycling 0 … 4) sets their
// brightness: pixels 50·k plus uniform noise in [0, 40). A classifier, and a
// linear probe of the pixels, can tell them apart.
func brightnessSet(n int, seed uint64) *cifardata.Set {
	rng := rand.New(rand.NewPCG(seed, 7))
	s := &cifardata.Set{Images: make([]uint8, n*cifardata.ImageBytes), Labels: make([]uint8, n), Classes: cifardata.ClassNames[:], N: n}
	for i := 0; i < n; i++ {
		k := i % 5
		s.Labels[i] = uint8(k)
		for j := range s.Image(i) {
			s.Images[i*cifardata.ImageBytes+j] = uint8(50*k + rng.IntN(40))
		}
	}
	return s
}

func tinyCIFARConfig() CIFARClassifierConfig {
	c := DefaultCIFARClassifierConfig()
	c.Channels = []int{4, 8}
	c.Epochs = 4
	c.BatchSize = 20
	c.LearningRate = 1e-2
	return c
}

var (
	tinyCIFAROnce sync.Once
	tinyCIFAR     *CIFARClassifier
	tinyCIFARErr  error
)

// tinyCIFARClassifier is a two-stage convnet trained on 200 brightness
// images (well under a second).
func tinyCIFARClassifier(t *testing.T) *CIFARClassifier {
	tinyCIFAROnce.Do(func() {
		tinyCIFAR, tinyCIFARErr = TrainCIFARClassifier(context.Background(), tinyCIFARConfig(), brightnessSet(200, 1), nil, nil)
	})
	if tinyCIFARErr != nil {
		t.Fatal(tinyCIFARErr)
	}
	return tinyCIFAR
}

func TestCIFARClassifierLearnsSavesAndLoads(t *testing.T) {
	c := tinyCIFARClassifier(t)
	test := brightnessSet(100, 2)
	acc := c.Accuracy(test)
	if acc < 0.8 {
		t.Errorf("test accuracy %.2f on brightness classes, want ≥ 0.8 (chance 0.2)", acc)
	}
	path := filepath.Join(t.TempDir(), "c.safetensors")
	if err := SaveCIFARClassifier(path, c, acc, "test command"); err != nil {
		t.Fatal(err)
	}
	d, info, err := LoadCIFARClassifier(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Command != "test command" || math.Abs(info.TestAccuracy-acc) > 1e-4 {
		t.Errorf("info %+v", info)
	}
	x := test.Batch(seq(10), tensor.Float32, cifardata.ScaleUnit)
	a, b := c.Classify(x, true), d.Classify(x, true)
	for i := range a.Probs {
		for k := range a.Probs[i] {
			if a.Probs[i][k] != b.Probs[i][k] {
				t.Fatalf("loaded classifier differs at image %d class %d: %g vs %g", i, k, a.Probs[i][k], b.Probs[i][k])
			}
		}
	}
	if len(a.Features[0]) != 8 {
		t.Errorf("%d features, want the last stage's 8 channels", len(a.Features[0]))
	}
	// An MNIST classifier file is refused with a clear error.
	mlp := filepath.Join(t.TempDir(), "mlp.safetensors")
	if err := SaveClassifier(mlp, tinyClassifier(t), 0.5, "x"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadCIFARClassifier(mlp); err == nil || !strings.Contains(err.Error(), "not a wakesleep CIFAR-10 classifier") {
		t.Errorf("loading an MNIST classifier: %v", err)
	}
}

func TestCIFARClassifierDeterministic(t *testing.T) {
	t.Parallel()
	cfg := tinyCIFARConfig()
	cfg.Epochs = 1
	set := brightnessSet(40, 3)
	a, err := TrainCIFARClassifier(context.Background(), cfg, set, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := TrainCIFARClassifier(context.Background(), cfg, set, nil, nil)
	pa, pb := a.Parameters(), b.Parameters()
	for i := range pa {
		if !sameTensor(pa[i].V.Value, pb[i].V.Value) {
			t.Fatalf("%s differs between two runs of one config", pa[i].Name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := TrainCIFARClassifier(ctx, cfg, set, nil, nil); err != context.Canceled {
		t.Errorf("cancelled: %v", err)
	}
}

func TestCIFARClassifierConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*CIFARClassifierConfig)
		want string
	}{
		{"no stages", func(c *CIFARClassifierConfig) { c.Channels = nil }, "conv stages"},
		{"zero channels", func(c *CIFARClassifierConfig) { c.Channels = []int{4, 0} }, "channels 0"},
		{"batch 1", func(c *CIFARClassifierConfig) { c.BatchSize = 1 }, "batch size"},
		{"nan rate", func(c *CIFARClassifierConfig) { c.LearningRate = math.NaN() }, "learning rate"},
		{"crop", func(c *CIFARClassifierConfig) { c.CropPad = 9 }, "crop padding"},
	} {
		c := DefaultCIFARClassifierConfig()
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error about %q", tc.name, err, tc.want)
		}
	}
	if err := DefaultCIFARClassifierConfig().Validate(); err != nil {
		t.Error(err)
	}
}

func TestAugmentedCIFAR(t *testing.T) {
	t.Parallel()
	set := brightnessSet(3, 4)
	rng := rand.New(rand.NewPCG(1, 2))
	plain := augmentedCIFAR(set, []int{0, 1, 2}, 0, false, rng)
	if !sameTensor(plain, set.Batch([]int{0, 1, 2}, tensor.Float32, cifardata.ScaleUnit)) {
		t.Fatal("no crop, no flip: want the images themselves")
	}
	// A flipped image mirrors each row.
	var flipped *tensor.Tensor
	for range 20 {
		f := augmentedCIFAR(set, []int{0}, 0, true, rng)
		if !sameTensor(f, tensor.Slice(plain, 0, 0, 1)) {
			flipped = f
			break
		}
	}
	if flipped == nil {
		t.Fatal("20 draws without a flip")
	}
	const s = cifardata.Size
	for _, at := range [][3]int{{0, 0, 0}, {1, 5, 3}, {2, 31, 31}} {
		c, y, x := at[0], at[1], at[2]
		if flipped.At((c*s+y)*s+x) != plain.At((c*s+y)*s+s-1-x) {
			t.Errorf("flip at channel %d (%d, %d)", c, y, x)
		}
	}
}

// perfectSubject is a stand-in for a perfect hierarchy of two layers:
// reconstructions are the inputs; z₁ is the image itself and z₂ noise that
// carries no label. Sleep draws images of the training set (the data
// distribution) with z₂ noise of the same law, or, with shifted set,
// z₂ noise shifted by 3 (another distribution).
type perfectSubject struct {
	train   *cifardata.Set
	scale   string
	shifted bool
}

func (perfectSubject) Layers() int { return 2 }

func (m perfectSubject) Wake(x *tensor.Tensor, rng *rand.Rand) []*tensor.Tensor {
	return []*tensor.Tensor{x, x, tensor.RandNormal(rng, tensor.Float32, x.Dim(0), 16)}
}

func (m perfectSubject) Sleep(n int, rng *rand.Rand) []*tensor.Tensor {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = rng.IntN(m.train.N)
	}
	x := m.train.Batch(idx, tensor.Float32, m.scale)
	z2 := tensor.RandNormal(rng, tensor.Float32, n, 16)
	if m.shifted {
		z2 = tensor.Affine(z2, 1, 3)
	}
	return []*tensor.Tensor{x, x, z2}
}

func (perfectSubject) Reconstruct(x *tensor.Tensor, _ int, _ *rand.Rand) *tensor.Tensor { return x }

func TestEvaluateSubjectPerfectReconstructor(t *testing.T) {
	c := tinyCIFARClassifier(t)
	train, test := brightnessSet(200, 5), brightnessSet(100, 6)
	for _, tc := range []struct {
		scale   string
		shifted bool
	}{{cifardata.ScaleSym, false}, {cifardata.ScaleUnit, true}} {
		scale, shifted := tc.scale, tc.shifted
		{
			r, err := EvaluateSubject(perfectSubject{train, scale, shifted}, test, CIFAR10Options{N: 100, Batch: 64, Train: train, Classifier: c, PixelScale: scale,
				ProbeTrain: 100, Alignment: AlignmentOptions{Draws: 4, XUnits: 3, Alpha: 0.5, Choice: UnitsUniform, Seed: 1}})
			if err != nil {
				t.Fatal(err)
			}
			if want := c.Accuracy(test); r.Accuracy != want {
				t.Errorf("accuracy %.3f, classifier's own %.3f", r.Accuracy, want)
			}
			if len(r.Depths) != 2 {
				t.Fatalf("%d depths, want 2", len(r.Depths))
			}
			for _, d := range r.Depths {
				if a := d.Agreement; a.Agreement != r.Accuracy || a.Consistency != 1 {
					t.Errorf("depth %d: %+v; a perfect reconstructor's agreement is the accuracy %.3f", d.Depth, *a, r.Accuracy)
				}
				if d.Frechet > 1e-6 || d.MSE != 0 || d.PSNR != maxPSNR {
					t.Errorf("depth %d: FD %g, MSE %g, PSNR %g; want 0, 0, %d", d.Depth, d.Frechet, d.MSE, d.PSNR, maxPSNR)
				}
			}
			// Samples are other images of the same distribution: near the floor.
			if r.FrechetFloor < 0 || r.FrechetSamples > 3*r.FrechetFloor+0.1 {
				t.Errorf("FD samples %.3f vs train/test floor %.3f", r.FrechetSamples, r.FrechetFloor)
			}
			if len(r.Probes) != 3 {
				t.Fatalf("%d probes, want x, z1, z2", len(r.Probes))
			}
			if p := r.Probes; p[0].Accuracy < 0.9 || p[1].Accuracy != p[0].Accuracy || p[2].Accuracy > 0.45 {
				t.Errorf("probes %+v: want x = z1 (≥ 0.9, brightness tells the class) and z2 near chance (0.2)", p)
			}
			if p := r.Probes[0]; p.Pool != 4 || p.Dims != 192 {
				t.Errorf("pixel probe pooled %d to %d features, want 4×4 blocks to 192", p.Pool, p.Dims)
			}
			for _, la := range r.Alignments {
				a := la.Align
				within := a.WakeSleep.Mean <= a.Control.Mean+3*math.Hypot(a.WakeSleep.Std, a.Control.Std)+0.05
				if la.Layer == 2 && shifted {
					if within || a.WakeSleep.Mean < 1 {
						t.Errorf("layer 2, sleep z shifted by 3: KL %s vs control %s, want far above", pm(a.WakeSleep), pm(a.Control))
					}
				} else if !within {
					t.Errorf("layer %d (shifted %v): KL %s vs control %s, equal laws should agree", la.Layer, shifted, pm(a.WakeSleep), pm(a.Control))
				}
			}
		}
	}
}

func TestEvaluateCIFAR10TinyModel(t *testing.T) {
	t.Parallel()
	ex := cifarexp.Experiment
	tr, err := cifarexp.NewTrainer(*ex.TinyConfig().(*cifarexp.Config))
	if err != nil {
		t.Fatal(err)
	}
	test, train := cifarexp.FakeSet(30, 2), cifarexp.FakeSet(30, 3)
	r, err := EvaluateCIFAR10(tr, test, CIFAR10Options{N: 20, Batch: 8, Train: train, Classifier: tinyCIFARClassifier(t),
		ClassifierInfo: ClassifierInfo{Source: "tiny"}, ProbeTrain: 20})
	if err != nil {
		t.Fatal(err)
	}
	L := tr.Model.Layers()
	if len(r.Depths) != L || len(r.Probes) != L+1 || len(r.Alignments) != L+1 {
		t.Fatalf("%d depths, %d probes, %d alignments for %d layers", len(r.Depths), len(r.Probes), len(r.Alignments), L)
	}
	for _, p := range r.Probes {
		if p.Dims > maxProbeDims || p.Accuracy < 0 || p.Accuracy > 1 {
			t.Errorf("probe %+v", p)
		}
	}
	dir := t.TempDir()
	r.Checkpoint = "ckpt"
	if err := WriteCIFAR10(dir, r); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, CIFAR10ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"agreement", "Linear probes", "| z5 |", "control (wake)", "floor", CIFAR10DepthPlot} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if f, err := os.Open(filepath.Join(dir, CIFAR10DepthPlot)); err != nil {
		t.Error(err)
	} else {
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 100 {
			t.Errorf("depth plot: %v", err)
		}
	}
	if _, err := EvaluateCIFAR10(tr, test, CIFAR10Options{N: 31}); err == nil {
		t.Error("n beyond the test set: no error")
	}
}

func TestPoolFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		shape []int
		want  int
	}{
		{[]int{1, 32, 16, 16}, 4}, {[]int{1, 64, 8, 8}, 4}, {[]int{1, 128, 4, 4}, 2},
		{[]int{1, 256, 2, 2}, 2}, {[]int{1, 100, 1, 1}, 1}, {[]int{1, 3, 32, 32}, 4}, {[]int{1, 600}, 1},
		{[]int{1, 1024, 1, 1}, 1}, // nothing left to pool
	} {
		if got := poolFor(tensor.New(tensor.Float32, tc.shape...)); got != tc.want {
			t.Errorf("poolFor(%v) = %d, want %d", tc.shape, got, tc.want)
		}
	}
	x := tensor.New(tensor.Float32, 1, 1, 2, 2)
	for i, v := range []float64{1, 2, 3, 6} {
		x.SetAt(i, v)
	}
	if got := avgPool(x, 2).At(0); got != 3 {
		t.Errorf("avgPool of 1, 2, 3, 6 = %g, want 3", got)
	}
}

// sameTensor reports whether a and b have one shape and equal values.
func sameTensor(a, b *tensor.Tensor) bool {
	if !tensor.SameShape(a.Shape(), b.Shape()) {
		return false
	}
	for i := 0; i < a.Len(); i++ {
		if a.At(i) != b.At(i) {
			return false
		}
	}
	return true
}

// TestEmbeddedCIFARClassifier checks the committed classifier: it loads,
// DefaultCIFARClassifierConfig describes it (so the default command remakes
// it), and it records the accuracy stated in files/README.md.
func TestEmbeddedCIFARClassifier(t *testing.T) {
	t.Parallel()
	c, info, err := CIFAR10Classifier()
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultCIFARClassifierConfig()
	if got, want := c.Config, def; len(got.Channels) != len(want.Channels) || got.Epochs != want.Epochs || got.BatchSize != want.BatchSize ||
		got.LearningRate != want.LearningRate || got.CropPad != want.CropPad || got.Flip != want.Flip || got.Seed != want.Seed {
		t.Errorf("embedded config %+v, default %+v: the default command would not remake it", got, want)
	}
	readme, err := os.ReadFile("files/README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Test accuracy: %.4f", info.TestAccuracy); !strings.Contains(string(readme), want) {
		t.Errorf("files/README.md does not state the recorded %q", want)
	}
	if info.TestAccuracy < 0.55 || info.Command != "wakesleep classifier train --dataset=cifar10" {
		t.Errorf("recorded accuracy %.4f, command %q", info.TestAccuracy, info.Command)
	}
}
