package probe

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/eval"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

// synthResponses returns responses of a synthetic model trained on the
// given experiment. Fashion-MNIST stimuli carry about twice MNIST's pixel
// energy, as the real sets do. With planted, the model's x amplitude and
// its critic rise for the set it did not learn, beyond anything the
// stimulus energy explains; without, both follow the pixel energy alone
// (a model that has learned nothing but reacts to brightness).
func synthResponses(name, experiment string, seed uint64, planted bool) *Responses {
	rng := rand.New(rand.NewPCG(seed, 77))
	const n = 200
	r := &Responses{Subject: Info{Name: name, Experiment: experiment}, Critics: []string{"D_x"}}
	learned := "mnist"
	if experiment == FashionExperiment {
		learned = "fashion"
	}
	for _, cond := range []Condition{{"mnist", KindFamiliar, 0}, {"fashion", KindNovel, 0}, {OwnSleep, KindSleep, 0}} {
		c := &Response{Condition: cond, Scores: map[string][]float64{}}
		base := 0.1
		if cond.Name == "fashion" {
			base = 0.2
		}
		novel := 0.0
		if planted && cond.Name != learned && cond.Name != OwnSleep {
			novel = 1
		}
		for i := 0; i < n; i++ {
			e := base * (1 + 0.3*rng.NormFloat64())
			c.Energy = append(c.Energy, e)
			c.Norm = append(c.Norm, 28*sqrt(max(e, 0)))
			c.MeanImage = append(c.MeanImage, e/2+0.01*rng.NormFloat64())
			ax := 0.3*e + 0.02*novel + 0.005*rng.NormFloat64()
			c.AmpX = append(c.AmpX, ax)
			c.RetestX = append(c.RetestX, 0.01)
			c.AmpZ = append(c.AmpZ, 1+0.5*novel+0.1*rng.NormFloat64())
			c.RetestZ = append(c.RetestZ, 1+0.1*rng.NormFloat64())
			c.Scores["D_x"] = append(c.Scores["D_x"], e+0.2*novel+0.05*rng.NormFloat64())
		}
		r.Conds = append(r.Conds, c)
	}
	return r
}

func synthSeeds(k int, experiment string, planted bool) []*Responses {
	var rs []*Responses
	for s := 0; s < k; s++ {
		r := synthResponses("m", experiment, uint64(10*s+1)+map[bool]uint64{true: 0, false: 5}[planted], planted)
		r.Untrained = synthResponses("m (untrained)", experiment, uint64(10*s+3), false)
		r.Early = synthResponses("m (3 steps)", experiment, uint64(10*s+4), false)
		rs = append(rs, r)
	}
	return rs
}

func verdictOf(t *testing.T, eps []*Endpoint, measure, layer string) string {
	t.Helper()
	for _, e := range eps {
		if e.Measure == measure && e.Layer == layer {
			return e.Verdict
		}
	}
	t.Fatalf("no endpoint %s / %s", measure, layer)
	return ""
}

func countHolds(eps []*Endpoint) int {
	n := 0
	for _, e := range eps {
		if e.Verdict == Holds {
			n++
		}
	}
	return n
}

// The known answers of the oscillation and critic studies: a planted
// novelty effect holds over 4 seeds, for the MNIST arm and in the crossed
// design; an effect of pixel energy alone never holds, nor does anything
// measured on one model.
func TestKnownAnswersOscillationCritic(t *testing.T) {
	t.Parallel()
	o := Options{Bootstrap: 50}
	planted := synthSeeds(4, "mnist", true)
	osc := Oscillation(planted, o)
	for _, l := range []string{"x", "x-excess", "z", "z-excess"} {
		m := MeasureNovelAUC
		if v := verdictOf(t, osc.Endpoints, m, l); v != Holds {
			t.Errorf("planted, layer %s: %s %s", l, m, v)
		}
	}
	if v := verdictOf(t, CriticStudy(planted, o).Endpoints, MeasureAUC, "D_x"); v != Holds {
		t.Errorf("planted critic AUC: %s", v)
	}
	// Energy only: the x amplitude and the critic track pixel energy, which
	// separates the sets as well (AUC ≈ 0.8) but explains all of it.
	none := synthSeeds(4, "mnist", false)
	if n := countHolds(Oscillation(none, o).Endpoints); n != 0 {
		t.Errorf("energy-driven model: %d endpoints hold", n)
	}
	if n := countHolds(CriticStudy(none, o).Endpoints); n != 0 {
		t.Errorf("energy-driven critic: %d endpoints hold", n)
	}
	// The AUC of the energy-driven x amplitude itself is far above ½: only
	// the controls keep it from holding.
	if e := osc.Endpoints[0]; e.Layer != "x" {
		t.Fatalf("first endpoint %s", e.Layer)
	}
	for _, e := range Oscillation(none, o).Endpoints {
		if e.Measure == MeasureNovelAUC && e.Layer == "x" && !(e.T.Lo > 0.6) {
			t.Errorf("energy-driven AUC %v: want well above ½ (the confound)", e.T)
		}
	}
	// An effect the untrained model shows as strongly is no effect of
	// learning.
	built := synthSeeds(4, "mnist", true)
	for i, r := range built {
		r.Untrained = synthResponses("m (untrained)", "mnist", uint64(100+i), true)
	}
	if n := countHolds(Oscillation(built, o).Endpoints); n != 0 {
		t.Errorf("effect present at step 0: %d endpoints hold", n)
	}
	// So is one that a few training steps already give.
	early := synthSeeds(4, "mnist", true)
	for i, r := range early {
		r.Early = synthResponses("m (3 steps)", "mnist", uint64(200+i), true)
	}
	if n := countHolds(Oscillation(early, o).Endpoints); n != 0 {
		t.Errorf("effect present after 3 steps: %d endpoints hold", n)
	}
	// A control that was not measured keeps every endpoint from holding.
	unmeasured := synthSeeds(4, "mnist", true)
	for _, r := range unmeasured {
		r.Early = nil
	}
	if n := countHolds(Oscillation(unmeasured, o).Endpoints); n != 0 {
		t.Errorf("few-step control not measured: %d endpoints hold", n)
	}
	// One model, even with the planted effect: no verdict.
	for _, e := range Oscillation(planted[:1], o).Endpoints {
		if e.Verdict != NeedsModels {
			t.Errorf("one model: %s %s %s", e.Measure, e.Layer, e.Verdict)
		}
	}
	// Crossed: MNIST and Fashion-MNIST arms. With the planted effect the
	// interaction holds; driven by energy it is ½ (it cancels) for
	// every model.
	crossedPlanted := append(synthSeeds(3, "mnist", true), synthSeeds(3, FashionExperiment, true)...)
	if v := verdictOf(t, Oscillation(crossedPlanted, o).Endpoints, MeasureCrossedAUC, "x"); v != Holds {
		t.Errorf("crossed planted: %s", v)
	}
	crossedNone := append(synthSeeds(3, "mnist", false), synthSeeds(3, FashionExperiment, false)...)
	co := Oscillation(crossedNone, o)
	if n := countHolds(co.Endpoints); n != 0 {
		t.Errorf("crossed energy-driven: %d endpoints hold", n)
	}
	for _, e := range co.Endpoints {
		if e.Measure == MeasureCrossedAUC && e.Layer == "x" {
			for _, c := range e.Controls {
				if c.Name == ControlEnergy {
					for _, v := range c.Values {
						if v < 0.45 || v > 0.55 {
							t.Errorf("crossed pixel-energy AUC %g, want ≈ ½", v)
						}
					}
				}
			}
		}
	}
}

// linearCritic is D(x) = w·x + b on 2-d activity.
func linearCritic(seed uint64) Critic {
	l := nn.NewLinear(2, 1, tensor.Float64, rand.New(rand.NewPCG(seed, 1)))
	return Critic{Name: "lin", Params: l.Parameters(), Score: func(x, z *ad.Var) *ad.Var { return l.Forward(x) }}
}

// gaussBatches returns batches of 2-d activity: wake about (2, 0), sleep
// about (0, 2) with planted, both about (1, 1) without.
func gaussBatches(seed uint64, planted bool) []phaseBatch {
	rng := rand.New(rand.NewPCG(seed, 2))
	mk := func(n int, mx, my float64) *tensor.Tensor {
		t := tensor.New(tensor.Float64, n, 2)
		for i := 0; i < n; i++ {
			t.SetAt(2*i, mx+0.5*rng.NormFloat64())
			t.SetAt(2*i+1, my+0.5*rng.NormFloat64())
		}
		return t
	}
	var out []phaseBatch
	for b := 0; b < 4; b++ {
		z := tensor.New(tensor.Float64, 32, 1)
		if planted {
			out = append(out, phaseBatch{wakeX: mk(32, 2, 0), wakeZ: z, sleepX: mk(32, 0, 2), sleepZ: z})
		} else {
			out = append(out, phaseBatch{wakeX: mk(32, 1, 1), wakeZ: z, sleepX: mk(32, 1, 1), sleepZ: z})
		}
	}
	return out
}

// The plasticity endpoint's known answers: when wake and sleep activity
// differ, their updates are less mirrored than those of label-free
// pseudo-phases, over seeds and against critics whose phases do not
// differ; when they do not differ, the cosine is still negative (the
// sanity check, true by construction) but the endpoint does not hold.
func TestKnownAnswersPlasticity(t *testing.T) {
	t.Parallel()
	o := Options{GradPerms: 8}.withDefaults()
	excess := func(seed uint64, planted bool) (float64, float64) {
		_, st := criticPlasticity(linearCritic(seed), gaussBatches(seed, planted), o, rand.New(rand.NewPCG(seed, 3)))
		return st[PairExcess].Estimate, st[PairWakeSleep].Estimate
	}
	var models []string
	var planted, none, none2 []float64
	for s := uint64(1); s <= 4; s++ {
		models = append(models, fmt.Sprint(s))
		p, _ := excess(s, true)
		n, cos := excess(s+10, false)
		n2, _ := excess(s+20, false)
		planted, none, none2 = append(planted, p), append(none, n), append(none2, n2)
		if !(cos < 0) {
			t.Errorf("sanity: cos(g_wake, g_sleep) %g without any phase difference, want < 0 by construction", cos)
		}
	}
	eps := []*Endpoint{
		NewEndpoint("plasticity", MeasurePhaseSpecific, "planted", 0, 1, models, planted, map[string][]float64{ControlUntrained: none}),
		NewEndpoint("plasticity", MeasurePhaseSpecific, "none", 0, 1, models, none2, map[string][]float64{ControlUntrained: none}),
	}
	Judge(eps, 0.95)
	if eps[0].Verdict != Holds || eps[1].Verdict == Holds {
		t.Errorf("planted %s (%v), none %s (%v)", eps[0].Verdict, planted, eps[1].Verdict, none2)
	}
}

// latents returns n rows of z ∈ R^8 ~ N(0, 1), the units in small scaled
// by 0.3.
func latents(seed uint64, n int, small []int) *tensor.Tensor {
	rng := rand.New(rand.NewPCG(seed, 4))
	z := tensor.New(tensor.Float64, n, 8)
	scale := make([]float64, 8)
	for u := range scale {
		scale[u] = 1
	}
	for _, u := range small {
		scale[u] = 0.3
	}
	for i := 0; i < n; i++ {
		for u := 0; u < 8; u++ {
			z.SetAt(i*8+u, scale[u]*rng.NormFloat64())
		}
	}
	return z
}

// The silencing study's known answers: silenced units whose wake activity
// shrank hold over 3 seed pairs, beyond random unit sets; when another set
// of units shrank instead (the perturbation did nothing specific), or
// nothing did, no endpoint holds; one pair gives no verdict.
func TestKnownAnswersSilencing(t *testing.T) {
	t.Parallel()
	o := Options{Bootstrap: 50}.withDefaults()
	sil := []int{0, 3}
	run := func(shrunk []int) []SilencePoint {
		var pts []SilencePoint
		for s := uint64(1); s <= 3; s++ {
			p := Info{Name: fmt.Sprintf("silenced-s%d", s), Step: 100}
			c := Info{Name: fmt.Sprintf("control-s%d", s), Step: 100}
			pts = append(pts, compareLatents(p, c, latents(10*s, 400, shrunk), latents(10*s+1, 400, nil), sil, LayerZ, o))
		}
		return pts
	}
	holds := func(pts []SilencePoint) []string {
		var v []string
		for _, e := range silencingEndpoints(pts, 0.95) {
			v = append(v, e.Verdict)
		}
		return v
	}
	planted := run(sil)
	if v := holds(planted); v[0] != Holds || v[1] != Holds {
		t.Errorf("planted: %v", v)
	}
	if z := planted[0].Null[StatMeanAbs].Z; !(z < -2) {
		t.Errorf("planted: z %g against random unit sets", z)
	}
	for name, pts := range map[string][]SilencePoint{"other units": run([]int{1, 5}), "none": run(nil)} {
		for _, v := range holds(pts) {
			if v == Holds {
				t.Errorf("%s: an endpoint holds", name)
			}
		}
	}
	for _, v := range holds(planted[:1]) {
		if v != NeedsModels {
			t.Errorf("one pair: %s", v)
		}
	}
}

// The sham control's known answers: a planted silencing effect beside a
// sham run that moved no unit holds, beating the sham; a "silenced" run
// whose effect the sham run has as well (both shrank S equally) does not
// hold, and the verdict names the sham.
func TestKnownAnswersSilencingSham(t *testing.T) {
	t.Parallel()
	o := Options{Bootstrap: 50}.withDefaults()
	sil := []int{0, 3}
	run := func(shamShrunk []int) []SilencePoint {
		var pts []SilencePoint
		for s := uint64(1); s <= 3; s++ {
			p := Info{Name: fmt.Sprintf("silenced-s%d", s), Step: 100}
			c := Info{Name: fmt.Sprintf("control-s%d", s), Step: 100}
			sh := Info{Name: fmt.Sprintf("sham-s%d", s), Step: 100}
			zc := latents(10*s+1, 400, nil)
			pt := compareLatents(p, c, latents(10*s, 400, sil), zc, sil, LayerZ, o)
			sp := compareLatents(sh, c, latents(10*s+2, 400, shamShrunk), zc, sil, LayerZ, o)
			pt.Sham = &sp
			pts = append(pts, pt)
		}
		return pts
	}
	for name, tc := range map[string]struct {
		shamShrunk []int
		holds      bool
	}{"sham moved nothing": {nil, true}, "sham as strong": {sil, false}} {
		for _, e := range silencingEndpoints(run(tc.shamShrunk), 0.95) {
			var sham *ControlValues
			for k := range e.Controls {
				if e.Controls[k].Name == ControlSham {
					sham = &e.Controls[k]
				}
			}
			switch {
			case sham == nil || len(sham.Values) != 3:
				t.Fatalf("%s: %s: no sham control among %+v", name, e.Measure, e.Controls)
			case (e.Verdict == Holds) != tc.holds:
				t.Errorf("%s: %s: %s (%s), margin over the sham %v", name, e.Measure, e.Verdict, e.Reason, sham.Diff)
			case !tc.holds && !strings.Contains(e.Reason, ControlSham):
				t.Errorf("%s: %s: reason %q does not name the sham", name, e.Measure, e.Reason)
			}
		}
	}
}

// devRun returns a run's checkpoints at steps 100, 200, 300 whose excess
// KL over the control falls by drop per checkpoint, with the given missing
// mass.
func devRun(name string, drop, missing float64, seed uint64) []DevPoint {
	rng := rand.New(rand.NewPCG(seed, 5))
	ao := eval.ResolvedAlignmentOptions()
	var pts []DevPoint
	for k := 0; k < 3; k++ {
		a := &eval.AlignmentResult{Options: ao, WakeMissing: eval.Stat{Mean: missing}, SleepMissing: eval.Stat{Mean: missing}}
		for d := 0; d < 5; d++ {
			a.Draws = append(a.Draws, eval.Draw{WakeSleep: 1 - drop*float64(k) + 0.02*rng.NormFloat64(), Control: 0.1})
		}
		pts = append(pts, DevPoint{Subject: Info{Name: name, Step: 100 * (k + 1)}, Alignments: []*eval.AlignmentResult{a}})
	}
	return pts
}

// The development study's known answers: a drop planted in three runs
// holds; no drop, an unresolved alignment (missing mass ≈ 1) or one run do
// not.
func TestKnownAnswersDevelopment(t *testing.T) {
	t.Parallel()
	o := Options{Bootstrap: 50, Alignments: []eval.AlignmentOptions{eval.ResolvedAlignmentOptions()}}.withDefaults()
	judge := func(drop, missing float64, runs int) ([]*Endpoint, []string) {
		var pts []DevPoint
		var effects [][]Effect
		for r := 0; r < runs; r++ {
			p := devRun(fmt.Sprintf("run%d", r), drop, missing, uint64(r+1))
			pts = append(pts, p...)
			effects = append(effects, developmentEffects(p, o))
		}
		return developmentEndpoints(pts, effects, o)
	}
	if eps, _ := judge(0.2, 0.1, 3); len(eps) != 1 || eps[0].Verdict != Holds {
		t.Errorf("planted drop: %+v", eps)
	}
	if eps, _ := judge(0, 0.1, 3); eps[0].Verdict == Holds {
		t.Error("no drop holds")
	}
	if eps, un := judge(0.2, 0.95, 3); len(eps) != 0 || len(un) != 1 {
		t.Errorf("unresolved alignment judged: %d endpoints, unresolved %v", len(eps), un)
	}
	if eps, _ := judge(0.2, 0.1, 1); eps[0].Verdict != NeedsModels {
		t.Errorf("one run: %s", eps[0].Verdict)
	}
}
