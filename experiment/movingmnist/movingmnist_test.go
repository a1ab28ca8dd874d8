package movingmnist

import (
	"context"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/objective"
	"github.com/wakesleep/wakesleep/tensor"
	"github.com/wakesleep/wakesleep/train"
)

func tinyConfig() *Config { return Experiment.TinyConfig().(*Config) }

// TestSmokeRun trains the tiny model for two epochs and checks the
// prediction strips, the metrics and the loader.
func TestSmokeRun(t *testing.T) {
	dir := t.TempDir()
	if err := train.Run(context.Background(), Experiment, tinyConfig(), train.RunOptions{Dir: dir, Data: Experiment.FakeData()}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"predict-step00000004.png", "predict-step00000008.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	csv, err := os.ReadFile(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"critic_x/gp", "critic_z/ws", "net/recon_x", "pred/mse"} {
		if !strings.Contains(strings.SplitN(string(csv), "\n", 2)[0], col) {
			t.Errorf("metrics.csv header lacks %s", col)
		}
	}
	tr, path, err := train.Registry{Experiment}.Open(dir, nil)
	if err != nil || tr.Step != 8 || !strings.HasSuffix(path, "ckpt-00000008.safetensors") {
		t.Fatalf("Open: %v from %s (%v)", tr, path, err)
	}
	if _, err := View(tr); err != nil {
		t.Fatal(err)
	}
}

func grads(t *testing.T, loss *ad.Var, params []*nn.Parameter) []*tensor.Tensor {
	t.Helper()
	gs := ad.Grad(loss, nn.Vars(params), nil)
	out := make([]*tensor.Tensor, len(gs))
	for i, g := range gs {
		if g.Value.HasNaNOrInf() {
			t.Fatalf("gradient of %s is not finite", params[i].Name)
		}
		out[i] = g.Value
	}
	return out
}

// TestLossesFall checks that each player's updates improve its own
// objective against a fixed opponent on a fixed batch: the critics' loss
// falls while the networks stand still, and the networks' loss falls while
// the critics stand still. (The joint game need not make any number fall
// monotonically.) This pins the signs of both updates.
func TestLossesFall(t *testing.T) {
	cfg := tinyConfig()
	tr, err := NewTrainer(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	feed, err := Experiment.FakeData().Feed(tr.Trainer)
	if err != nil {
		t.Fatal(err)
	}
	frames := feed.Batches(0)[0]
	s := cfg.Objective
	noise := func() *rand.Rand { return rand.New(rand.NewPCG(4, 4)) } // the same samples every step
	var critic []float64
	for i := 0; i < 25; i++ {
		rng := noise()
		ph := objective.RunVideoPhases(tr.Model, frames, s, rng)
		loss, _ := objective.VideoCriticLoss(tr.Model, ph, s, rng)
		tr.Critic.Update(grads(t, loss, tr.Critic.Params))
		critic = append(critic, loss.Item())
	}
	var net []float64
	for i := 0; i < 25; i++ {
		ph := objective.RunVideoPhases(tr.Model, frames, s, noise())
		loss, _ := objective.VideoNetworkLoss(tr.Model, ph, s)
		tr.Network.Update(grads(t, loss, tr.Network.Params))
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

func TestConfigValidate(t *testing.T) {
	p, q := PaperConfig(), QuickConfig()
	for _, c := range []*Config{&p, &q, tinyConfig()} {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	for name, mod := range map[string]func(*Config){
		"frame size": func(c *Config) { c.Data.FrameSize = 32 },
		"batch":      func(c *Config) { c.BatchSize = 1 },
		"epoch":      func(c *Config) { c.SequencesPerEpoch = 3 },
		"pool":       func(c *Config) { c.TrainPool = -1 },
		"horizon":    func(c *Config) { c.Objective.Horizon = 15 },
		"norm":       func(c *Config) { c.Model.CriticNorm = "layer" },
	} {
		c := PaperConfig()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestPredictionPictures(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	var frames, preds []*tensor.Tensor
	for i := 0; i < 6; i++ {
		frames = append(frames, tensor.RandUniform(rng, tensor.Float32, 0, 1, 2, 1, 16, 16))
	}
	for i := 0; i < 3; i++ {
		preds = append(preds, tensor.RandUniform(rng, tensor.Float32, 0, 1, 2, 1, 16, 16))
	}
	strip := PredictionStrip(frames, preds, 3)
	// 2 sequences × 3 rows + 1 separator row, 3 columns, 2 pixels of
	// padding, magnified twice; a title above and row labels to the left,
	// as wide as "prediction" (10 characters of 12 pixels, less the last
	// one's spacing, and 16 pixels of margin).
	if b := strip.Bounds(); b.Dx() != 2*(2+3*18)+(10*12-2+16) || b.Dy() <= 2*(2+7*18) {
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

// BenchmarkStep times one training step of the quick preset (the paper's
// model with 3×3 kernels and 16-channel critics) at batch 8.
func BenchmarkStep(b *testing.B) {
	tr, err := NewTrainer(QuickConfig())
	if err != nil {
		b.Fatal(err)
	}
	digits := FakeDigits(100, 1)
	big := &mnist.Set{N: 100, Rows: 28, Cols: 28, Images: make([]uint8, 100*784), Labels: make([]uint8, 100)}
	for i := range big.Images {
		big.Images[i] = digits.Images[i%len(digits.Images)]
	}
	feed, err := (&Data{Train: big}).Feed(tr.Trainer)
	if err != nil {
		b.Fatal(err)
	}
	batches := feed.Batches(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tr.TrainStep(batches); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDeterministicBaseline trains the deterministic baseline on a fixed
// batch: its pixel MSE falls, its critic loss is 0, and its
// predictions do not depend on the noise.
func TestDeterministicBaseline(t *testing.T) {
	cfg := tinyConfig()
	cfg.Deterministic = true
	tr, err := NewTrainer(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	feed, err := Experiment.FakeData().Feed(tr.Trainer)
	if err != nil {
		t.Fatal(err)
	}
	batch := feed.Batches(0)
	var mses []float64
	for i := 0; i < 15; i++ {
		terms, err := tr.TrainStep(batch)
		if err != nil {
			t.Fatal(err)
		}
		mses = append(mses, terms["pred/mse"])
		if terms["critic/loss"] != 0 {
			t.Fatalf("critic loss %g, want 0: the baseline has no critics", terms["critic/loss"])
		}
	}
	if first, last := mses[0], mses[len(mses)-1]; !(last < first) {
		t.Errorf("pixel MSE %.5f → %.5f in %d steps on one batch", first, last, len(mses))
	}
	frames := batch[0]
	o := cfg.Objective
	a := Predict(tr.Model, frames, o.Context, o.Horizon, cfg.Noise(rand.New(rand.NewPCG(1, 1))))
	b := Predict(tr.Model, frames, o.Context, o.Horizon, cfg.Noise(rand.New(rand.NewPCG(2, 2))))
	for k := range a {
		if maxAbsDiff(a[k], b[k]) != 0 {
			t.Fatalf("frame %d: predictions differ between noise seeds", k)
		}
	}
}

func maxAbsDiff(a, b *tensor.Tensor) float64 {
	var m float64
	for i := 0; i < a.Len(); i++ {
		m = max(m, math.Abs(a.At(i)-b.At(i)))
	}
	return m
}
