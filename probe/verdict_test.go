package probe

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestHolm(t *testing.T) {
	// m = 4: sorted 0.01, 0.02, 0.03, 0.5 → 0.04, 0.06, 0.06 (monotone), 0.5.
	got := Holm([]float64{0.03, 0.5, 0.01, 0.02})
	want := []float64{0.06, 0.5, 0.04, 0.06}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("Holm = %v, want %v", got, want)
		}
	}
}

func TestTTestP(t *testing.T) {
	// s = √(2/3), t = mean/(s/√n) = 2√6 ≈ 4.899 with 3 df: one-sided
	// p = 0.008138 (R: pt(2*sqrt(6), 3, lower.tail = FALSE)).
	if p := tTestP([]float64{1, 2, 2, 3}); math.Abs(p-0.0081383) > 1e-6 {
		t.Errorf("p = %g, want 0.008138", p)
	}
	if tTestP([]float64{1, 1, 1}) != 0 || tTestP([]float64{-1, -1}) != 1 || tTestP([]float64{5}) != 1 {
		t.Error("degenerate p-values")
	}
}

// The known answers of the verdict rules: a planted effect that beats its
// controls over ≥ 3 models holds; one model never does; an effect that a
// control matches, or one in the wrong direction, does not.
func TestJudgeKnownAnswers(t *testing.T) {
	models := []string{"s1", "s2", "s3", "s4"}
	planted := []float64{0.81, 0.84, 0.79, 0.86}
	ctl := map[string][]float64{ControlUntrained: {0.52, 0.49, 0.5, 0.51}, ControlEnergy: {0.6, 0.6, 0.6, 0.6}}
	eps := []*Endpoint{
		NewEndpoint("s", "AUC", "x", 0.5, 1, models, planted, ctl),
		NewEndpoint("s", "AUC", "one model", 0.5, 1, models[:1], planted[:1], nil),
		// No effect beyond the trivial detector: pixel energy alone.
		NewEndpoint("s", "AUC", "energy-like", 0.5, 1, models, []float64{0.78, 0.79, 0.77, 0.78},
			map[string][]float64{ControlEnergy: {0.78, 0.78, 0.78, 0.78}}),
		NewEndpoint("s", "AUC", "wrong way", 0.5, 1, models, []float64{0.3, 0.32, 0.28, 0.31}, nil),
		NewEndpoint("s", "AUC", "noise", 0.5, 1, models, []float64{0.45, 0.56, 0.52, 0.47}, nil),
	}
	Judge(eps, 0.95)
	want := []string{Holds, NeedsModels, Inconclusive, Fails, Inconclusive}
	for i, e := range eps {
		if e.Verdict != want[i] {
			t.Errorf("%s: verdict %q (%s), want %q", e.Layer, e.Verdict, e.Reason, want[i])
		}
	}
	if !strings.Contains(eps[2].Reason, ControlEnergy) {
		t.Errorf("reason %q should name the control", eps[2].Reason)
	}
	if eps[0].PHolm < eps[0].PJoint {
		t.Errorf("Holm p %g below the raw p %g", eps[0].PHolm, eps[0].PJoint)
	}
	// Many endpoints: Holm turns a marginal one inconclusive.
	var many []*Endpoint
	for i := 0; i < 20; i++ {
		many = append(many, NewEndpoint("s", "d", "l", 0, 1, models[:3], []float64{1, 1.6, 2.2}, nil))
	}
	Judge(many, 0.95)
	if many[0].P >= 0.025 || many[0].Verdict != Inconclusive {
		t.Errorf("raw p %g, verdict %s after Holm over 20", many[0].P, many[0].Verdict)
	}
	eps[0].Values[1] = math.NaN()
	if _, err := json.Marshal(eps); err != nil {
		t.Error(err)
	}
}
