package eval

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/data/mnist"
	mnistexp "github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/tensor"
)

var (
	testOnce, trainOnce sync.Once
	testSet, trainSet   *mnist.Set
	testErr, trainErr   error
	tinyOnce            sync.Once
	tiny                *Classifier
	tinyErr             error
)

func loadTest(t *testing.T) *mnist.Set {
	t.Helper()
	testOnce.Do(func() { testSet, testErr = mnist.Load("test") })
	if testErr != nil {
		t.Fatal(testErr)
	}
	return testSet
}

func loadTrain(t *testing.T) *mnist.Set {
	t.Helper()
	trainOnce.Do(func() { trainSet, trainErr = mnist.Load("train") })
	if trainErr != nil {
		t.Fatal(trainErr)
	}
	return trainSet
}

// head returns the first n items of s.
func head(s *mnist.Set, n int) *mnist.Set {
	d := s.Rows * s.Cols
	return &mnist.Set{Images: s.Images[:n*d], Labels: s.Labels[:n], N: n, Rows: s.Rows, Cols: s.Cols}
}

func tinyConfig() ClassifierConfig {
	cfg := DefaultClassifierConfig()
	cfg.Hidden = []int{32}
	cfg.Epochs = 3
	cfg.BatchSize = 64
	cfg.LearningRate = 3e-3
	cfg.MaxShift = 1
	cfg.Dropout = 0
	return cfg
}

// tinyClassifier is a 784-32-10 MLP trained for three epochs on 3000 digits:
// a fraction of a second, and far better than chance.
func tinyClassifier(t *testing.T) *Classifier {
	t.Helper()
	tinyOnce.Do(func() {
		tiny, tinyErr = TrainClassifier(context.Background(), tinyConfig(), head(loadTrain(t), 3000), nil, nil)
	})
	if tinyErr != nil {
		t.Fatal(tinyErr)
	}
	return tiny
}

func TestTrainClassifierDeterministicAndSaved(t *testing.T) {
	t.Parallel()
	train := head(loadTrain(t), 1000)
	a, err := TrainClassifier(context.Background(), tinyConfig(), train, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := TrainClassifier(context.Background(), tinyConfig(), train, nil, nil)
	for i, p := range a.Parameters() {
		if !reflect.DeepEqual(p.V.Value.Float32s(), b.Parameters()[i].V.Value.Float32s()) {
			t.Fatalf("parameter %s differs between two runs with one seed", p.Name)
		}
	}
	path := filepath.Join(t.TempDir(), "c.safetensors")
	if err := SaveClassifier(path, a, 0.5, "test"); err != nil {
		t.Fatal(err)
	}
	c, info, err := LoadClassifier(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.TestAccuracy != 0.5 || info.Command != "test" || !reflect.DeepEqual(c.Config, a.Config) {
		t.Errorf("loaded info %+v config %+v", info, c.Config)
	}
	x := loadTest(t).Batch(seq(50), tensor.Float32, mnist.ScaleUnit)
	if !reflect.DeepEqual(a.Classify(x, true), c.Classify(x, true)) {
		t.Error("loaded classifier answers differently")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := TrainClassifier(ctx, tinyConfig(), train, nil, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled training: %v", err)
	}
}

// TestEmbeddedClassifier checks the committed classifier: it loads and
// reaches the 98.5% test accuracy the quality metrics rely on.
func TestEmbeddedClassifier(t *testing.T) {
	t.Parallel()
	c, info, err := DefaultClassifier()
	if err != nil {
		t.Fatal(err)
	}
	acc := c.Accuracy(loadTest(t))
	if acc < 0.985 {
		t.Errorf("embedded classifier test accuracy %.4f < 0.985", acc)
	}
	if math.Abs(acc-info.TestAccuracy) > 1e-4 {
		t.Errorf("test accuracy %.4f, file records %.4f", acc, info.TestAccuracy)
	}
	t.Logf("%s: test accuracy %.4f; made by %q", info.Source, acc, info.Command)
}

// perfectModel is a stand-in for a perfectly trained network: inference and
// generation are the identity (z = x), and the prior draws training digits,
// so that sleep has exactly the wake distribution and reconstructions are the
// inputs.
type perfectModel struct {
	train *mnist.Set
	scale string
}

func (m perfectModel) Infer(x *ad.Var, _ *rand.Rand) *ad.Var    { return x }
func (m perfectModel) Generate(z *ad.Var, _ *rand.Rand) *ad.Var { return z }
func (m perfectModel) Prior(batch int, rng *rand.Rand) *ad.Var {
	idx := make([]int, batch)
	for i := range idx {
		idx[i] = rng.IntN(m.train.N)
	}
	return ad.Const(m.train.Batch(idx, tensor.Float32, m.scale))
}

func TestEvaluatePerfectModel(t *testing.T) {
	t.Parallel()
	for _, scale := range []string{mnist.ScaleUnit, mnist.ScaleSym} {
		t.Run(scale, func(t *testing.T) {
			data := Data{Test: loadTest(t), Train: loadTrain(t)}
			c := tinyClassifier(t)
			al := DefaultAlignments()
			for i := range al {
				al[i].Draws = 4
			}
			res, err := Evaluate(perfectModel{data.Train, scale}, scale, data, &Options{N: 2000, Classifier: c, Alignments: al})
			if err != nil {
				t.Fatal(err)
			}
			rc := res.Reconstruction
			if rc.Agreement != rc.Accuracy || rc.Consistency != 1 {
				t.Errorf("perfect reconstructor: %+v; want agreement = accuracy", rc)
			}
			if want := c.Accuracy(head(data.Test, 2000)); rc.Accuracy != want {
				t.Errorf("accuracy %.4f, classifier's own %.4f", rc.Accuracy, want)
			}
			if res.Frechet.ReconTest > 1e-6 {
				t.Errorf("FD reconstructions/test %g, want 0", res.Frechet.ReconTest)
			}
			// Sleep samples are other digits of the same distribution: their
			// distance is that of training vs test digits, far below that of
			// noise images.
			if res.Frechet.SleepTest > 3*res.Frechet.TrainTest+1 {
				t.Errorf("FD sleep/test %.3f vs train/test %.3f", res.Frechet.SleepTest, res.Frechet.TrainTest)
			}
			if len(res.Alignments) != 2 {
				t.Fatalf("%d alignments, want the 2 defaults", len(res.Alignments))
			}
			for _, a := range res.Alignments {
				if d := math.Abs(a.WakeSleep.Mean - a.Control.Mean); d > 3*math.Hypot(a.WakeSleep.Std, a.Control.Std)+0.05*a.Control.Mean {
					t.Errorf("%s: KL(wake‖sleep) %s vs control %s: equal distributions should agree", a.Options.Label(), pm(a.WakeSleep), pm(a.Control))
				}
			}
			if res.Sleep.EntropyBits < 3 {
				t.Errorf("sleep class entropy %.3f bits for real digits", res.Sleep.EntropyBits)
			}
		})
	}
}

// noisyModel's samples are the prior's digits under heavy pixel noise, its
// means the digits themselves.
type noisyModel struct{ perfectModel }

func (m noisyModel) Generate(z *ad.Var, rng *rand.Rand) *ad.Var {
	noise := tensor.RandNormal(rng, tensor.Float32, z.Shape()...)
	return ad.Const(tensor.Binary(tensor.OpAdd, z.Value, tensor.Affine(noise, 0.8, 0)))
}
func (m noisyModel) GenerateMean(z *ad.Var) *ad.Var { return z }

// Sleep means are scored beside sleep samples when the model has them: for
// noiseless means the classifier is as sure as on real digits, and its
// samples, under noise, less so; a model without means gets none.
func TestEvaluateSleepMeans(t *testing.T) {
	t.Parallel()
	data := Data{Test: loadTest(t)}
	c := tinyClassifier(t)
	o := &Options{N: 500, Classifier: c, Alignments: []AlignmentOptions{opts(func(o *AlignmentOptions) { o.Draws = 2 })}}
	plain, err := Evaluate(perfectModel{loadTrain(t), mnist.ScaleUnit}, mnist.ScaleUnit, data, o)
	if err != nil {
		t.Fatal(err)
	}
	if plain.SleepMean != nil {
		t.Errorf("a model without GenerateMean got sleep means %+v", plain.SleepMean)
	}
	noisy, err := Evaluate(noisyModel{perfectModel{loadTrain(t), mnist.ScaleUnit}}, mnist.ScaleUnit, data, o)
	if err != nil {
		t.Fatal(err)
	}
	if noisy.SleepMean == nil {
		t.Fatal("no sleep means")
	}
	if sm := noisy.SleepMean.MeanConfidence; math.Abs(sm-plain.Sleep.MeanConfidence) > 0.03 || sm < noisy.Sleep.MeanConfidence+0.05 {
		t.Errorf("sleep means confidence %.3f: want about the real digits' %.3f and above the noisy samples' %.3f",
			sm, plain.Sleep.MeanConfidence, noisy.Sleep.MeanConfidence)
	}
}

// tinyTrainer returns a trainer with a small untrained model.
func tinyTrainer(t *testing.T) *mnistexp.Trainer {
	t.Helper()
	cfg := mnistexp.QuickConfig(model.CriticLocal)
	cfg.Model.Hidden, cfg.Model.ZDim, cfg.Model.CriticWidth, cfg.Model.CriticDepth = 16, 12, 16, 1
	tr, err := mnistexp.NewTrainer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestWriteReportSmoke(t *testing.T) {
	t.Parallel()
	tr := tinyTrainer(t)
	data := Data{Test: loadTest(t), Train: loadTrain(t)}
	res, err := EvaluateTrainer(tr, "ckpt-00000000.safetensors", data, &Options{N: 300, Classifier: tinyClassifier(t),
		ClassifierInfo: ClassifierInfo{Source: "tiny"}, Alignments: []AlignmentOptions{opts(func(o *AlignmentOptions) { o.Draws = 2 }),
			opts(func(o *AlignmentOptions) { o.Draws = 2; o.XUnits, o.ZUnits = 3, 1 })}})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "eval")
	if err := Write(dir, res); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ReportFile, ResultFile, AlignmentPlot, "alignment-3x1z.png", HistogramPlot} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, ReportFile))
	for _, want := range []string{"KL(wake‖sleep)", "control", "8 units of x and 8 of z", "3 units of x and 1 of z", "alignment-3x1z.png",
		"reconstruction class agreement", "Fréchet", "local"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	back, _, err := ReadResult(filepath.Dir(dir)) // the run folder
	if err != nil {
		t.Fatal(err)
	}
	if back.Alignments[1].WakeSleep != res.Alignments[1].WakeSleep || back.Frechet != res.Frechet || back.Step != 0 {
		t.Errorf("eval.json round trip: %+v", back)
	}
	var b strings.Builder
	if err := Compare(&b, []string{"run-a", "run-b"}, []*Result{res, back}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3+2*5+8+2 || !strings.Contains(lines[0], "run-a") || !strings.Contains(lines[0], "run-b") ||
		!strings.Contains(b.String(), "KL(wake||sleep) 3x+1z") {
		t.Errorf("compare table:\n%s", b.String())
	}
	for _, l := range lines[2:] {
		if len([]rune(l)) != len([]rune(lines[0])) {
			t.Errorf("misaligned row %q", l)
		}
	}
	if _, _, err := ReadResult(t.TempDir()); err == nil {
		t.Error("ReadResult of an empty folder succeeded")
	}
}

func TestEpochHook(t *testing.T) {
	t.Parallel()
	tr := tinyTrainer(t)
	dir := t.TempDir()
	hook := EpochHook(dir, &Options{N: 100, Classifier: tinyClassifier(t), Alignments: []AlignmentOptions{opts(func(o *AlignmentOptions) { o.Draws = 1 })}})
	rngState := func() string {
		_, meta, err := tr.State()
		if err != nil {
			t.Fatal(err)
		}
		return meta["wakesleep.rng"]
	}
	before := rngState()
	for epoch := 1; epoch <= 2; epoch++ {
		if err := hook(tr.Trainer, epoch); err != nil {
			t.Fatal(err)
		}
	}
	if after := rngState(); before == "" || before != after {
		t.Error("the hook drew from the trainer's random stream")
	}
	for _, f := range []string{"epoch-001/" + ResultFile, "epoch-002/" + AlignmentPlot} {
		if _, err := os.Stat(filepath.Join(dir, ReportDir, f)); err != nil {
			t.Error(err)
		}
	}
	csv, err := os.ReadFile(filepath.Join(dir, ReportDir, EpochHistory))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "epoch,step") || !strings.HasPrefix(lines[2], "2,0,100,") {
		t.Errorf("epochs.csv:\n%s", csv)
	}
}
