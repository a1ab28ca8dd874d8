package probe

import (
	"math/rand/v2"
	"testing"
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
