package probe

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/eval"
	mnistexp "github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/train"
)

// fakeSet returns n random 28×28 images: a quarter of the pixels ink.
func fakeSet(n int, seed uint64) *mnist.Set {
	rng := rand.New(rand.NewPCG(seed, 9))
	s := &mnist.Set{N: n, Rows: 28, Cols: 28, Images: make([]uint8, n*784), Labels: make([]uint8, n)}
	for i := range s.Images {
		if rng.IntN(4) == 0 {
			s.Images[i] = uint8(rng.IntN(256))
		}
	}
	for i := range s.Labels {
		s.Labels[i] = uint8(i % 10)
	}
	return s
}

// tinyConfig is the MNIST experiment with a tiny network, for smoke tests.
func tinyConfig(critic string, seed uint64) mnistexp.Config {
	c := mnistexp.QuickConfig(critic)
	c.Model.Hidden, c.Model.ZDim, c.Model.CriticWidth, c.Model.CriticDepth = 16, 8, 16, 1
	c.BatchSize = 8
	c.Seed = seed
	return c
}

func tinyTrainer(t testing.TB, cfg mnistexp.Config, steps int, data *mnist.Set) *mnistexp.Trainer {
	t.Helper()
	tr, err := mnistexp.NewTrainer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for s := 0; s < steps; s++ {
		if _, err := tr.TrainStep(tr.Batches(data, s)); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

// saveCheckpoint writes tr into dir as a training checkpoint.
func saveCheckpoint(t testing.TB, dir string, tr *mnistexp.Trainer) string {
	t.Helper()
	ts, meta, err := tr.State()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, checkpoint.FileName(train.CheckpointPrefix, tr.Step))
	if err := checkpoint.Save(p, ts, meta); err != nil {
		t.Fatal(err)
	}
	return p
}

func smokeOptions() Options {
	return Options{N: 12, Batch: 5, Bootstrap: 30, AlignN: 20, GradBatches: 3, GradBatch: 6,
		Noise: []float64{0, 0.3}, Angles: []float64{0, 45, 90},
		Alignments: []eval.AlignmentOptions{{Draws: 2, XUnits: 2, ZUnits: 1, Alpha: 0.5, Choice: eval.UnitsUniform, Seed: 1}}}
}

func checkFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range append(names, ReportFile, ResultFile) {
		st, err := os.Stat(filepath.Join(dir, n))
		if err != nil || st.Size() == 0 {
			t.Errorf("%s: missing or empty (%v)", n, err)
		}
	}
}

func checkFindings(t *testing.T, s Study) {
	t.Helper()
	fs := s.Findings()
	if len(fs) == 0 {
		t.Fatalf("%s: no findings", s.Name())
	}
	for _, f := range fs {
		if f.Verdict == Holds {
			t.Errorf("%s: %q holds on one tiny model", s.Name(), f.Prediction)
		}
		if f.Verdict != Fails && f.Verdict != Inconclusive && f.Verdict != NeedsModels && !strings.HasPrefix(f.Verdict, "sanity check") {
			t.Errorf("%s: verdict %q", s.Name(), f.Verdict)
		}
	}
}

func TestSmokeOscillationAndCritic(t *testing.T) {
	t.Parallel()
	data := Data{Test: fakeSet(20, 1), Novel: fakeSet(20, 2)}
	o := smokeOptions()
	st, err := MakeStimuli(data, o)
	if err != nil {
		t.Fatal(err)
	}
	// 2 base conditions + 1 noise level + 2 rotations (levels 0 are the clean digits).
	if len(st.Conditions) != 5 {
		t.Fatalf("%d conditions: %v", len(st.Conditions), st.Conditions)
	}
	var rs []*Responses
	for i, critic := range []string{model.CriticLocal, model.CriticGlobal} {
		tr := tinyTrainer(t, tinyConfig(critic, uint64(i+1)), 0, nil)
		rs = append(rs, Respond(&Subject{Name: critic, Trainer: tr}, st, o))
	}
	if got := rs[0].Critics; len(got) != 2 || got[0] != "D_x" || got[1] != "D_z" {
		t.Errorf("local critics %v", got)
	}
	if got := rs[1].Critics; len(got) != 1 || got[0] != "D(x,z)" {
		t.Errorf("global critics %v", got)
	}
	for _, c := range rs[0].Conds {
		if len(c.AmpX) != 12 || len(c.AmpZ) != 12 || len(c.Scores["D_x"]) != 12 {
			t.Fatalf("condition %s: %d/%d/%d values, want 12", c.Name, len(c.AmpX), len(c.AmpZ), len(c.Scores["D_x"]))
		}
	}
	dir := t.TempDir()
	osc := Oscillation(rs, o)
	if err := osc.Write(filepath.Join(dir, "oscillation")); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, filepath.Join(dir, "oscillation"), "oscillation-stimuli.csv", "oscillation-means.csv", "oscillation-effects.csv",
		"oscillation-endpoints.csv", "oscillation-noise.png", "oscillation-rotation.png", "oscillation-novelty.png")
	checkFindings(t, osc)
	// 4 measures of 4 layers (x, x-excess, z, z-excess) of the 2 models,
	// too few for a verdict.
	if len(osc.Endpoints) != 16 || len(osc.Endpoints[0].Values) != 2 || osc.Endpoints[0].Verdict != NeedsModels {
		t.Errorf("%d endpoints, first over %d models: %s", len(osc.Endpoints), len(osc.Endpoints[0].Values), osc.Endpoints[0].Verdict)
	}
	cr := CriticStudy(rs, o)
	if err := cr.Write(filepath.Join(dir, "critic")); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, filepath.Join(dir, "critic"), "critic-stimuli.csv", "critic-grades.csv", "critic-effects.csv",
		"critic-endpoints.csv", "critic-roc.png", "critic-hist.png", "critic-grades.png")
	checkFindings(t, cr)
	if err := WriteIndex(dir, []Study{osc, cr}, "wakesleep probe --study all"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil || !strings.Contains(string(b), "oscillation/report.md") {
		t.Errorf("index: %v\n%s", err, b)
	}
}

func TestSmokeDevelopmentAndPlasticity(t *testing.T) {
	t.Parallel()
	test := fakeSet(24, 3)
	cfg := tinyConfig(model.CriticLocal, 1)
	dir := t.TempDir()
	tr := tinyTrainer(t, cfg, 0, test)
	for s := 0; s < 2; s++ {
		if _, err := tr.TrainStep(tr.Batches(test, s)); err != nil {
			t.Fatal(err)
		}
		saveCheckpoint(t, dir, tr)
	}
	files, err := Checkpoints(dir)
	if err != nil || len(files) != 2 || files[0].Step != 1 || files[1].Step != 2 {
		t.Fatalf("Checkpoints = %v, %v", files, err)
	}
	loads := []func() (*Subject, error){func() (*Subject, error) { return Initial("run", cfg) }}
	for _, f := range files {
		loads = append(loads, func() (*Subject, error) { return Load(f.Path, nil) })
	}
	o := smokeOptions()
	dev, err := Development([][]func() (*Subject, error){loads}, test, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(dev.Points) != 3 || dev.Points[0].Subject.Step != 0 || dev.Points[2].Subject.Step != 2 {
		t.Fatalf("development points %d", len(dev.Points))
	}
	// Two trained checkpoints: a drop, but too few for a correlation.
	if len(dev.Effects) != 1 || dev.Effects[0].Measure != MeasureKLDrop {
		t.Errorf("development effects %+v, want one drop", dev.Effects)
	}
	out := t.TempDir()
	if err := dev.Write(filepath.Join(out, "development")); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, filepath.Join(out, "development"), "development.csv", "development-draws.csv", "development.png")
	checkFindings(t, dev)

	pl, err := Plasticity([][]func() (*Subject, error){loads}, test, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Effects) != 12 { // 3 checkpoints × 2 critics × (sanity, endpoint)
		t.Errorf("%d plasticity effects, want 12", len(pl.Effects))
	}
	if len(pl.Endpoints) != 2 || pl.Endpoints[0].Verdict != NeedsModels {
		t.Errorf("plasticity endpoints %d", len(pl.Endpoints))
	}
	st := pl.Points[0].Stats["D_x"]
	for _, pair := range []string{PairWakeSleep, PairPermuted, PairExcess, PairWakeTopDown, PairWakeWake, PairSleepSleep} {
		if _, ok := st[pair]; !ok {
			t.Errorf("D_x lacks the %s cosine", pair)
		}
	}
	if err := pl.Write(filepath.Join(out, "plasticity")); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, filepath.Join(out, "plasticity"), "plasticity.csv", "plasticity-batches.csv", "plasticity-params.csv", "plasticity.png")
	checkFindings(t, pl)
}

func TestSmokeSilencing(t *testing.T) {
	t.Parallel()
	test := fakeSet(24, 4)
	ctl := tinyConfig(model.CriticLocal, 5)
	per := ctl
	per.Objective.SilenceSleepZ = []int{0, 3}
	var pairs []SilencePair
	for steps := 1; steps <= 2; steps++ {
		p, c := tinyTrainer(t, per, steps, test), tinyTrainer(t, ctl, steps, test)
		pairs = append(pairs, SilencePair{
			Perturbed: func() (*Subject, error) { return &Subject{Name: "perturbed", Trainer: p}, nil },
			Control:   func() (*Subject, error) { return &Subject{Name: "control", Trainer: c}, nil },
		})
	}
	o := smokeOptions()
	res, err := Silencing(pairs, test, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Silenced) != 2 || len(res.Points) != 2 || len(res.Mismatch) != 0 {
		t.Fatalf("silenced %v, %d points, mismatch %v", res.Silenced, len(res.Points), res.Mismatch)
	}
	dir := filepath.Join(t.TempDir(), "silencing")
	if err := res.Write(dir); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, "silencing.csv", "silencing-units.csv", "silencing-effects.csv", "silencing-units.png", "silencing-course.png")
	checkFindings(t, res)
	// The control must not be silenced, the perturbed run must be.
	_, err = Silencing([]SilencePair{{Perturbed: pairs[0].Control, Control: pairs[0].Perturbed}}, test, o)
	if !errors.Is(err, ErrNotSilenced) {
		t.Errorf("swapped runs: %v, want ErrNotSilenced", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "report.md")); err != nil || !strings.Contains(string(b), "Not done here: a sham perturbation") {
		t.Errorf("report without a sham does not say it lacks one (%v)", err)
	}
}

// With a sham run per pair, each point compares it with the control too,
// the endpoints take it as a control and the report shows it; a sham run
// that redraws other units than the silenced ones, or silences some, is
// refused, and so is a sham for some pairs only.
func TestSmokeSilencingSham(t *testing.T) {
	t.Parallel()
	test := fakeSet(24, 4)
	ctl := tinyConfig(model.CriticLocal, 5)
	per, sham := ctl, ctl
	per.Objective.SilenceSleepZ = []int{0, 3}
	sham.Objective.ShamSleepZ = []int{3, 0}
	subject := func(name string, tr *mnistexp.Trainer) func() (*Subject, error) {
		return func() (*Subject, error) { return &Subject{Name: name, Path: name, Trainer: tr}, nil }
	}
	p, c, sh := tinyTrainer(t, per, 1, test), tinyTrainer(t, ctl, 1, test), tinyTrainer(t, sham, 1, test)
	pair := SilencePair{Perturbed: subject("perturbed", p), Control: subject("control", c), Sham: subject("sham", sh)}
	o := smokeOptions()
	res, err := Silencing([]SilencePair{pair}, test, o)
	if err != nil {
		t.Fatal(err)
	}
	pt := res.Points[0]
	if pt.Sham == nil || pt.Sham.Perturbed.Name != "sham" || len(pt.Sham.Effects) != 2 || len(res.Mismatch) != 0 {
		t.Fatalf("sham point %+v, mismatch %v", pt.Sham, res.Mismatch)
	}
	for i, e := range res.Endpoints { // by statistic, as the effects
		if len(e.Controls) != 2 || e.Controls[1].Name != ControlSham || e.Controls[1].Values[0] != pt.Sham.Effects[i].Interval.Estimate {
			t.Errorf("%s: controls %+v", e.Measure, e.Controls)
		}
	}
	dir := filepath.Join(t.TempDir(), "silencing")
	if err := res.Write(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Sham perturbation:", "sham vs control (sham)", "Not done here: the hierarchical"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(string(b), "Not done here: a sham") {
		t.Error("report says the sham was not done")
	}
	if csv, err := os.ReadFile(filepath.Join(dir, "silencing.csv")); err != nil || strings.Count(string(csv), "\nsham,sham,control,") != 2 {
		t.Errorf("silencing.csv lacks the sham's two rows (%v):\n%s", err, csv)
	}
	// Refused: a sham of other units, a sham that also silences, a control
	// with sham units, a sham for one pair of two.
	other, both := ctl, ctl
	other.Objective.ShamSleepZ = []int{0, 1}
	both.Objective.SilenceSleepZ, both.Objective.ShamSleepZ = []int{1}, []int{0, 3}
	for name, pr := range map[string]SilencePair{
		"other units": {Perturbed: pair.Perturbed, Control: pair.Control, Sham: subject("other", tinyTrainer(t, other, 0, test))},
		"silences":    {Perturbed: pair.Perturbed, Control: pair.Control, Sham: subject("both", tinyTrainer(t, both, 0, test))},
		"control":     {Perturbed: pair.Perturbed, Control: pair.Sham},
	} {
		if _, err := Silencing([]SilencePair{pr}, test, o); !errors.Is(err, ErrNotSham) {
			t.Errorf("%s: %v, want ErrNotSham", name, err)
		}
	}
	if _, err := Silencing([]SilencePair{pair, {Perturbed: pair.Perturbed, Control: pair.Control}}, test, o); err == nil || !strings.Contains(err.Error(), "every pair or for none") {
		t.Errorf("a sham for one pair of two: %v", err)
	}
}
