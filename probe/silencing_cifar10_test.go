package probe

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cifardata "github.com/wakesleep/wakesleep/data/cifar10"
	cifarexp "github.com/wakesleep/wakesleep/experiment/cifar10"
	"github.com/wakesleep/wakesleep/tensor"
)

// channelLatents returns n rows of a convolutional layer's activity
// [n, 8, 2, 2], every value |N(0, 1)|, the channels in small scaled by 0.3.
func channelLatents(seed uint64, n int, small []int) *tensor.Tensor {
	rng := rand.New(rand.NewPCG(seed, 5))
	const c, per = 8, 4
	scale := make([]float64, c)
	for u := range scale {
		scale[u] = 1
	}
	for _, u := range small {
		scale[u] = 0.3
	}
	z := tensor.New(tensor.Float64, n, c, 2, 2)
	for i := 0; i < n; i++ {
		for u := 0; u < c; u++ {
			for q := 0; q < per; q++ {
				v := rng.NormFloat64()
				if v < 0 {
					v = -v
				}
				z.SetAt((i*c+u)*per+q, scale[u]*v)
			}
		}
	}
	return z
}

// The hierarchical study's known answers, over 3 seed pairs of synthetic
// wake activity of layers k = 2 and k+1: a perturbed model whose silenced
// channels of layer k shrank holds in layer k and not above it (nothing
// planted there); shrinking the same channels of the layer above instead
// holds only there, as a secondary endpoint; nothing shrunk, or a sham
// run that shrank as much, holds nowhere, and the verdict names the sham.
func TestKnownAnswersLayerSilencing(t *testing.T) {
	t.Parallel()
	o := Options{Bootstrap: 50}.withDefaults()
	sil := []int{0, 3}
	const k = 2
	run := func(shrunkK, shrunkAbove, shamK []int, sham bool) []LayerSilencePoint {
		var pts []LayerSilencePoint
		for s := uint64(1); s <= 3; s++ {
			p := Info{Name: fmt.Sprintf("silenced-s%d", s), Step: 100}
			c := Info{Name: fmt.Sprintf("control-s%d", s), Step: 100}
			ck, ck1 := channelLatents(10*s+1, 300, nil), channelLatents(10*s+2, 300, nil)
			pt := compareLayers(p, c, channelLatents(10*s+3, 300, shrunkK), channelLatents(10*s+4, 300, shrunkAbove), ck, ck1, sil, sil, k, o)
			if sham {
				sh := compareLayers(Info{Name: fmt.Sprintf("sham-s%d", s), Step: 100}, c, channelLatents(10*s+5, 300, shamK), channelLatents(10*s+6, 300, nil), ck, ck1, sil, sil, k, o)
				pt.Layer.Sham, pt.Above.Sham = &sh.Layer, sh.Above
			}
			pts = append(pts, pt)
		}
		return pts
	}
	// verdicts returns "holds" or "-" per endpoint, layer k's first.
	verdicts := func(pts []LayerSilencePoint) (v []string, eps []*Endpoint) {
		eps = layerSilencingEndpoints(pts, k, 0.95)
		for _, e := range eps {
			if e.Verdict == Holds {
				v = append(v, "holds")
			} else {
				v = append(v, "-")
			}
		}
		return v, eps
	}
	for name, tc := range map[string]struct {
		pts  []LayerSilencePoint
		want string
	}{
		"planted in layer k":     {run(sil, nil, nil, false), "holds holds - -"},
		"planted above":          {run(nil, sil, nil, false), "- - holds holds"},
		"other channels":         {run([]int{1, 5}, nil, nil, false), "- - - -"},
		"none":                   {run(nil, nil, nil, false), "- - - -"},
		"planted, sham moved no": {run(sil, nil, nil, true), "holds holds - -"},
		"sham as strong":         {run(sil, nil, sil, true), "- - - -"},
	} {
		v, eps := verdicts(tc.pts)
		if got := strings.Join(v, " "); got != tc.want {
			t.Errorf("%s: %s, want %s", name, got, tc.want)
			for _, e := range eps {
				t.Logf("  %s %s: %s (%s)", e.Layer, e.Measure, e.Verdict, e.Reason)
			}
		}
		if len(eps) != 4 || !eps[0].Primary || eps[2].Primary || eps[0].Layer != "z2 (wake)" || eps[2].Layer != "z3 (wake)" {
			t.Fatalf("%s: endpoints %d, primary %v %v, layers %q %q", name, len(eps), eps[0].Primary, eps[2].Primary, eps[0].Layer, eps[2].Layer)
		}
		if name == "sham as strong" && !strings.Contains(eps[0].Reason, ControlSham) {
			t.Errorf("%s: reason %q does not name the sham", name, eps[0].Reason)
		}
	}
	if v, _ := verdicts(run(sil, nil, nil, false)[:1]); strings.Join(v, " ") != "- - - -" {
		t.Errorf("one pair: %v", v)
	}
}

// tinyCIFAR returns a tiny CIFAR-10 trainer of cfg after steps training
// steps on set.
func tinyCIFAR(t *testing.T, cfg cifarexp.Config, steps int, set *cifardata.Set) *cifarexp.Trainer {
	t.Helper()
	tr, err := cifarexp.NewTrainer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for s := 0; s < steps; s++ {
		idx := []int{(4 * s) % set.N, (4*s + 1) % set.N, (4*s + 2) % set.N, (4*s + 3) % set.N}
		if _, err := tr.TrainStep([][]*tensor.Tensor{{set.Batch(idx, tr.Model.DType(), cfg.PixelScale)}}); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

func cifarSubject(name string, tr *cifarexp.Trainer) func() (*CIFARSubject, error) {
	return func() (*CIFARSubject, error) { return &CIFARSubject{Name: name, Trainer: tr}, nil }
}

// The study runs on tiny CIFAR-10 models, writes its files and report, and
// refuses runs that do not fit the design.
func TestSmokeLayerSilencing(t *testing.T) {
	t.Parallel()
	set := cifarexp.FakeSet(12, 3)
	ctl := *cifarexp.Experiment.TinyConfig().(*cifarexp.Config)
	ctl.BatchSize = 4
	per, sham := ctl, ctl
	per.Objective.SilenceLayer, per.Objective.SilenceChannels = 2, []int{0, 1}
	sham.Objective.SilenceLayer, sham.Objective.ShamChannels = 2, []int{1, 0}
	p, c, sh := tinyCIFAR(t, per, 1, set), tinyCIFAR(t, ctl, 1, set), tinyCIFAR(t, sham, 1, set)
	pair := CIFARSilencePair{Perturbed: cifarSubject("perturbed", p), Control: cifarSubject("control", c), Sham: cifarSubject("sham", sh)}
	o := smokeOptions()
	o.N = 8
	res, err := LayerSilencing([]CIFARSilencePair{pair}, set, o)
	if err != nil {
		t.Fatal(err)
	}
	pt := res.Points[0]
	if res.Layer != 2 || res.N != 8 || len(res.Mismatch) != 0 || pt.Above == nil || pt.Layer.Sham == nil || pt.Above.Sham == nil {
		t.Fatalf("layer %d, n %d, mismatch %v, point %+v", res.Layer, res.N, res.Mismatch, pt)
	}
	if len(pt.Layer.PerturbedUnits.MeanAbs) != 4 || len(res.Endpoints) != 4 || res.Endpoints[0].Verdict != NeedsModels {
		t.Fatalf("%d channels, %d endpoints", len(pt.Layer.PerturbedUnits.MeanAbs), len(res.Endpoints))
	}
	dir := filepath.Join(t.TempDir(), "silencing")
	if err := res.Write(dir); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, "silencing.csv", "silencing-units.csv", "silencing-effects.csv", "silencing-endpoints.csv", "silencing-units.png")
	checkFindings(t, res)
	b, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"channels S = [0 1] (2 of 4) of layer z2", "Sham perturbation:", "The layer above (secondary)", "| sham vs control (sham) | z3 |"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if csv, err := os.ReadFile(filepath.Join(dir, "silencing.csv")); err != nil || strings.Count(string(csv), "\nsham,z3,sham,control,") != 2 {
		t.Errorf("silencing.csv lacks the sham's two rows of z3 (%v):\n%s", err, csv)
	}
	other, onlySilence := sham, per
	other.Objective.ShamChannels = []int{2}
	onlySilence.Objective.ShamChannels = []int{3}
	for name, tc := range map[string]struct {
		pr   CIFARSilencePair
		want error
	}{
		"swapped":            {CIFARSilencePair{Perturbed: pair.Control, Control: pair.Perturbed}, ErrNotLayerSilenced},
		"sham as perturbed":  {CIFARSilencePair{Perturbed: pair.Sham, Control: pair.Control}, ErrNotLayerSilenced},
		"perturbed shams":    {CIFARSilencePair{Perturbed: cifarSubject("both", tinyCIFAR(t, onlySilence, 0, set)), Control: pair.Control}, ErrNotLayerSilenced},
		"sham of other ones": {CIFARSilencePair{Perturbed: pair.Perturbed, Control: pair.Control, Sham: cifarSubject("other", tinyCIFAR(t, other, 0, set))}, ErrNotSham},
	} {
		if _, err := LayerSilencing([]CIFARSilencePair{tc.pr}, set, o); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if _, err := LayerSilencing([]CIFARSilencePair{pair, {Perturbed: pair.Perturbed, Control: pair.Control}}, set, o); err == nil || !strings.Contains(err.Error(), "every pair or for none") {
		t.Errorf("a sham for one pair of two: %v", err)
	}
}
