package train

import (
	"context"
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/data/movingmnist"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/objective"
	"github.com/wakesleep/wakesleep/tensor"
)

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

// fakeDigits returns n random 8×8 "digits".
func fakeDigits(n int, seed uint64) *mnist.Set {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &mnist.Set{N: n, Rows: 8, Cols: 8, Images: make([]uint8, n*64), Labels: make([]uint8, n)}
	for i := range s.Images {
		if rng.IntN(3) == 0 {
			s.Images[i] = uint8(128 + rng.IntN(128))
		}
	}
	return s
}

// tinyVideoConfig is the Moving MNIST experiment on 16×16 frames of 6, with
// 3 context frames, 3 predicted and 3 sleep steps, and narrow layers.
func tinyVideoConfig() MovingMNISTConfig {
	c := QuickMovingMNISTConfig()
	c.Model = model.MovingMNISTConfig{FrameSize: 16, Patch: 2, Hidden: 4, Kernel: 3, ReadoutHidden: 4, CriticChannels: 4, CriticNorm: model.NormBatch}
	c.Data = movingmnist.Config{FrameSize: 16, Frames: 6, Digits: 2, StepLength: 0.2, Combine: movingmnist.CombineMax}
	c.Objective.Context, c.Objective.Horizon, c.Objective.SleepSteps = 3, 3, 3
	c.BatchSize = 4
	c.SequencesPerEpoch = 16 // 4 steps an epoch
	c.Epochs = 2
	c.LogEvery = 1
	c.PictureCount = 2
	c.NetworkAdam.LearningRate = 1e-3
	return c
}

func runTinyVideo(t *testing.T, cfg MovingMNISTConfig, dir string, resume bool, maxSteps int, onStep func(*MovingMNISTTrainer)) error {
	t.Helper()
	return RunMovingMNIST(context.Background(), cfg, MovingMNISTRunOptions{Dir: dir, Resume: resume,
		Train: fakeDigits(50, 1), Test: fakeDigits(20, 2), MaxSteps: maxSteps, OnStep: onStep})
}

// TestMovingMNISTSmokeRun trains the tiny model for two epochs and checks the
// run folder, then that a second fresh run there is refused.
func TestMovingMNISTSmokeRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := runTinyVideo(t, tinyVideoConfig(), dir, false, 0, nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ConfigFile, MetricsFile, "predict-step00000004.png", "predict-step00000008.png", "ckpt-00000008.safetensors"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	csv, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"critic_x/gp", "critic_z/ws", "net/recon_x", "pred/mse"} {
		if !strings.Contains(strings.SplitN(string(csv), "\n", 2)[0], col) {
			t.Errorf("metrics.csv header lacks %s", col)
		}
	}
	if err := runTinyVideo(t, tinyVideoConfig(), dir, false, 0, nil); !errors.Is(err, ErrRunExists) {
		t.Errorf("second run in the same folder: got %v, want ErrRunExists", err)
	}
	tr, path, err := LoadMovingMNISTTrainer(dir)
	if err != nil || tr.Step != 8 || !strings.HasSuffix(path, "ckpt-00000008.safetensors") {
		t.Fatalf("LoadMovingMNISTTrainer: step %d from %s (%v)", tr.Step, path, err)
	}
	// The MNIST loader refuses this checkpoint, and this loader an MNIST one.
	if _, _, err := LoadTrainer(path); err == nil || !strings.Contains(err.Error(), "movingmnist") {
		t.Errorf("LoadTrainer of a Moving MNIST checkpoint: %v", err)
	}
	mdir := t.TempDir()
	if err := runTiny(t, tinyConfig("local"), mdir, false, 1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadMovingMNISTTrainer(mdir); err == nil || !strings.Contains(err.Error(), `"mnist"`) {
		t.Errorf("LoadMovingMNISTTrainer of an MNIST checkpoint: %v", err)
	}
}

// TestMovingMNISTLossesFall checks that each player's updates improve its
// own objective against a fixed opponent on a fixed batch: the critics'
// loss falls while the networks stand still, and the networks' loss falls
// while the critics stand still. (The joint game need not make any number
// fall monotonically.) This pins the signs of both updates.
func TestMovingMNISTLossesFall(t *testing.T) {
	t.Parallel()
	cfg := tinyVideoConfig()
	tr, err := NewMovingMNISTTrainer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := tr.TrainGenerator(fakeDigits(50, 1))
	if err != nil {
		t.Fatal(err)
	}
	frames := tr.Batches(gen, 0)[0]
	s := cfg.Objective
	noise := func() *rand.Rand { return rand.New(rand.NewPCG(4, 4)) } // the same samples every step
	var critic []float64
	for i := 0; i < 25; i++ {
		rng := noise()
		ph := objective.RunVideoPhases(tr.Model, frames, s, rng)
		loss, _ := objective.VideoCriticLoss(tr.Model, ph, s, rng)
		g, err := finiteGrads(loss, tr.Critic.Params, i, "critic loss")
		if err != nil {
			t.Fatal(err)
		}
		tr.Critic.Update(g)
		critic = append(critic, loss.Item())
	}
	var net []float64
	for i := 0; i < 25; i++ {
		ph := objective.RunVideoPhases(tr.Model, frames, s, noise())
		loss, _ := objective.VideoNetworkLoss(tr.Model, ph, s)
		g, err := finiteGrads(loss, tr.Network.Params, i, "network loss")
		if err != nil {
			t.Fatal(err)
		}
		tr.Network.Update(g)
		net = append(net, loss.Item())
	}
	for name, v := range map[string][]float64{"critic": critic, "network": net} {
		first, last := v[0], v[len(v)-1]
		t.Logf("%s loss %.4f → %.4f", name, first, last)
		if !(last < first-0.05) {
			t.Errorf("%s loss went from %.4f to %.4f in %d steps against a fixed opponent", name, first, last, len(v))
		}
	}
}

// N+M steps in one go give bit-identical parameters, batch-norm statistics
// and optimizer state to N steps, stop, resume, M steps, across an epoch
// boundary.
func TestMovingMNISTResumeIsBitIdentical(t *testing.T) {
	t.Parallel()
	cfg := tinyVideoConfig()
	a, b := t.TempDir(), t.TempDir()
	if err := runTinyVideo(t, cfg, a, false, 6, nil); err != nil {
		t.Fatal(err)
	}
	if err := runTinyVideo(t, cfg, b, false, 3, nil); err != nil {
		t.Fatal(err)
	}
	if err := runTinyVideo(t, MovingMNISTConfig{}, b, true, 6, nil); err != nil {
		t.Fatal(err)
	}
	pa, pb := params(t, a), params(t, b)
	if len(pa) != len(pb) || len(pa) == 0 {
		t.Fatalf("%d tensors vs %d", len(pa), len(pb))
	}
	for k, va := range pa {
		if !strings.HasPrefix(k, "buffer.") && !strings.HasPrefix(k, "model.") && !strings.Contains(k, "adam") {
			t.Errorf("unexpected tensor %s", k)
		}
		vb := pb[k]
		for i := range va {
			if va[i] != vb[i] {
				t.Fatalf("%s[%d]: %v uninterrupted, %v resumed", k, i, va[i], vb[i])
			}
		}
	}
}

func TestMovingMNISTCancelSavesCheckpoint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := RunMovingMNIST(ctx, tinyVideoConfig(), MovingMNISTRunOptions{Dir: dir, Train: fakeDigits(50, 1),
		OnStep: func(tr *MovingMNISTTrainer) {
			if tr.Step == 2 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if _, step, err := checkpoint.Latest(dir, CheckpointPrefix); err != nil || step != 2 {
		t.Fatalf("latest checkpoint step %d (%v), want 2", step, err)
	}
}

func TestMovingMNISTConfigValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []MovingMNISTConfig{PaperMovingMNISTConfig(), QuickMovingMNISTConfig(), tinyVideoConfig()} {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	for name, mod := range map[string]func(*MovingMNISTConfig){
		"experiment": func(c *MovingMNISTConfig) { c.Experiment = "mnist" },
		"frame size": func(c *MovingMNISTConfig) { c.Data.FrameSize = 32 },
		"batch":      func(c *MovingMNISTConfig) { c.BatchSize = 1 },
		"epoch":      func(c *MovingMNISTConfig) { c.SequencesPerEpoch = 3 },
		"pool":       func(c *MovingMNISTConfig) { c.TrainPool = -1 },
		"horizon":    func(c *MovingMNISTConfig) { c.Objective.Horizon = 15 },
		"norm":       func(c *MovingMNISTConfig) { c.Model.CriticNorm = "layer" },
	} {
		c := PaperMovingMNISTConfig()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestEvaluatePrediction checks the measure on its baseline: with digits
// that do not move, repeating the last frame is perfect (MSE 0, SSIM 1).
func TestEvaluatePrediction(t *testing.T) {
	t.Parallel()
	tr, err := NewMovingMNISTTrainer(tinyVideoConfig())
	if err != nil {
		t.Fatal(err)
	}
	still := tr.Config.Data
	still.StepLength = 0
	gen, err := movingmnist.NewGenerator(fakeDigits(20, 3), still, 9)
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

func TestPredictionPictures(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 1))
	var frames, preds []*tensor.Tensor
	for i := 0; i < 6; i++ {
		frames = append(frames, tensor.RandUniform(rng, tensor.Float32, 0, 1, 2, 1, 16, 16))
	}
	for i := 0; i < 3; i++ {
		preds = append(preds, tensor.RandUniform(rng, tensor.Float32, 0, 1, 2, 1, 16, 16))
	}
	strip := PredictionStrip(frames, preds, 3)
	// 2 sequences × 3 rows + 1 separator row, 3 columns, 2 pixels of padding.
	if b := strip.Bounds(); b.Dx() != 2+3*18 || b.Dy() != 2+7*18 {
		t.Errorf("strip is %v", b)
	}
	anim := PredictionFrames(frames, preds, 3)
	if len(anim) != 6 {
		t.Fatalf("%d animation frames", len(anim))
	}
	for _, f := range anim {
		if _, ok := f.(*image.Gray); !ok {
			t.Fatal("animation frame is not gray")
		}
	}
}

// BenchmarkMovingMNISTStep times one training step of the quick preset
// (the paper's model with 3×3 kernels and 16-channel critics) at batch 8.
func BenchmarkMovingMNISTStep(b *testing.B) {
	cfg := QuickMovingMNISTConfig()
	tr, err := NewMovingMNISTTrainer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	digits := fakeDigits(100, 1)
	digits.Rows, digits.Cols = 8, 8
	big := &mnist.Set{N: 100, Rows: 28, Cols: 28, Images: make([]uint8, 100*784), Labels: make([]uint8, 100)}
	for i := range big.Images {
		big.Images[i] = digits.Images[i%len(digits.Images)]
	}
	gen, err := tr.TrainGenerator(big)
	if err != nil {
		b.Fatal(err)
	}
	batches := tr.Batches(gen, 0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tr.TrainStep(batches); err != nil {
			b.Fatal(err)
		}
	}
}
