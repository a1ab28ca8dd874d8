package probe

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"
)

// MinModels is the fewest independently trained models (seeds) an endpoint
// needs for a verdict: with fewer, intervals over stimuli or unit draws of
// one model would stand in for the spread between trainings, which they do
// not measure.
const MinModels = 3

// NeedsModels is the verdict of an endpoint measured on fewer than
// MinModels models.
var NeedsModels = fmt.Sprintf("needs ≥%d models", MinModels)

// Control names.
const (
	ControlUntrained = "untrained"    // the same model at step 0, built from its config and seed
	ControlEarly     = "3 steps"      // the same model after EarlySteps training steps
	ControlEnergy    = "pixel energy" // mean x² of the stimulus
	ControlNorm      = "‖x‖"          // Euclidean norm of the stimulus
	ControlMeanImage = "mean image"   // reconstruction by the mean familiar image: mean (x − x̄)²
	ControlPermuted  = "permuted"     // the statistic under a permutation of its labels
)

// ControlValues are one control's values of an endpoint's measure, one per
// model and paired with the trained models' values (the same seed, the
// same stimuli).
type ControlValues struct {
	Name   string    `json:"name"`
	Values []float64 `json:"values"`
	// Diff is sign·(trained − control), the margin by which the trained
	// models beat the control on the predicted side, with its t-interval
	// over models; P its one-sided p-value (the margin is not above 0).
	Diff Interval `json:"margin"`
	P    float64  `json:"p"`
}

// Endpoint is one prediction tested across independently trained models:
// the effect of each model, its controls, and the verdict.
type Endpoint struct {
	Study   string  `json:"study"`
	Measure string  `json:"measure"`
	Layer   string  `json:"layer"`
	Null    float64 `json:"null"`
	Sign    int     `json:"sign"`
	// Primary endpoints are corrected together (Holm); secondary ones are
	// corrected among themselves.
	Primary bool      `json:"primary"`
	Models  []string  `json:"models"`
	Values  []float64 `json:"values"` // the effect of each model
	// T is the mean over models with its Student-t interval; P the
	// one-sided p-value of a t-test against Null on the predicted side.
	T        Interval        `json:"interval"`
	P        float64         `json:"p"`
	Controls []ControlValues `json:"controls"`
	// PJoint is the largest of P and the controls' p-values (the
	// intersection–union test: the effect holds only if every part does);
	// PHolm is PJoint after Holm's correction over the study's endpoints.
	PJoint  float64 `json:"p_joint"`
	PHolm   float64 `json:"p_holm"`
	Verdict string  `json:"verdict"`
	Reason  string  `json:"reason,omitempty"` // why a verdict is not "holds"
}

// NewEndpoint returns an endpoint of the given models' effects (values[i]
// of models[i]) with the controls' paired values (each a slice as long as
// values). Call Judge on the study's endpoints to fill in the verdicts.
func NewEndpoint(study, measure, layer string, null float64, sign int, models []string, values []float64, controls map[string][]float64) *Endpoint {
	e := &Endpoint{Study: study, Measure: measure, Layer: layer, Null: null, Sign: sign, Primary: true,
		Models: models, Values: values}
	names := make([]string, 0, len(controls))
	for k := range controls {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		e.Controls = append(e.Controls, ControlValues{Name: k, Values: controls[k]})
	}
	return e
}

// tTestP returns the one-sided p-value that the mean of v is not above 0
// (a one-sample t-test of mean > 0); NaN values are left out. With no
// spread the answer is 0 or 1 by the sign of the mean; with fewer than two
// values it is 1.
func tTestP(v []float64) float64 {
	var w []float64
	for _, x := range v {
		if !math.IsNaN(x) {
			w = append(w, x)
		}
	}
	if len(w) < 2 {
		return 1
	}
	m, s := Mean(w), StdDev(w)
	if s == 0 {
		if m > 0 {
			return 0
		}
		return 1
	}
	t := m / (s / math.Sqrt(float64(len(w))))
	return 1 - distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(len(w) - 1)}.CDF(t)
}

func finite(v []float64) []float64 {
	var out []float64
	for _, x := range v {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			out = append(out, x)
		}
	}
	return out
}

// Holm returns Holm's step-down adjustment of the p-values p (Holm 1979):
// sorted ascending, p₍ᵢ₎ becomes max_{j≤i} min(1, (m−j+1)·p₍ⱼ₎). It
// controls the family-wise error rate at any level under any dependence.
func Holm(p []float64) []float64 {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	out := make([]float64, len(p))
	run := 0.0
	for r, i := range idx {
		v := math.Min(1, float64(len(p)-r)*p[i])
		run = math.Max(run, v)
		out[i] = run
	}
	return out
}

// Judge computes every endpoint's intervals, p-values and verdict at the
// given confidence level, with Holm's correction over the primary
// endpoints and, separately, over the secondary ones.
//
// An endpoint "holds" when (1) at least MinModels models were measured,
// (2) the t-interval over models lies on the predicted side of the null
// value, (3) the trained models beat every control on the predicted side
// (paired margin's t-interval above 0), and (4) the Holm-adjusted p-value
// of the joint test is below (1 − level)/2, the one-sided level of the
// interval. It "fails" when the interval lies on the other side of the
// null value, and is "inconclusive" otherwise.
func Judge(eps []*Endpoint, level float64) {
	alpha := (1 - level) / 2
	for _, e := range eps {
		e.T = TInterval(finite(e.Values), level)
		s := float64(e.Sign)
		d := make([]float64, len(e.Values))
		for i, v := range e.Values {
			d[i] = s * (v - e.Null)
		}
		e.P = tTestP(d)
		e.PJoint = e.P
		for k := range e.Controls {
			c := &e.Controls[k]
			m := make([]float64, len(e.Values))
			for i, v := range e.Values {
				m[i] = nan
				if i < len(c.Values) {
					m[i] = s * (v - c.Values[i])
				}
			}
			c.Diff = TInterval(finite(m), level)
			c.P = tTestP(m)
			e.PJoint = math.Max(e.PJoint, c.P)
		}
	}
	for _, primary := range []bool{true, false} {
		var group []*Endpoint
		var ps []float64
		for _, e := range eps {
			if e.Primary == primary && len(finite(e.Values)) >= MinModels {
				group = append(group, e)
				ps = append(ps, e.PJoint)
			}
		}
		for i, p := range Holm(ps) {
			group[i].PHolm = p
		}
	}
	for _, e := range eps {
		e.Verdict, e.Reason = e.judge(alpha)
	}
}

func (e *Endpoint) judge(alpha float64) (string, string) {
	n := len(finite(e.Values))
	if n < MinModels {
		e.PHolm = 1
		return NeedsModels, fmt.Sprintf("%d model(s)", n)
	}
	switch {
	case e.T.Excludes(e.Null, -e.Sign):
		return Fails, ""
	case !e.T.Excludes(e.Null, e.Sign):
		return Inconclusive, "interval over models contains the null value"
	}
	var beaten, missing []string
	for _, c := range e.Controls {
		switch {
		case len(finite(c.Values)) == 0:
			missing = append(missing, c.Name)
		case !(c.Diff.Lo > 0):
			beaten = append(beaten, c.Name)
		}
	}
	if len(missing) > 0 {
		return Inconclusive, "control not measured: " + strings.Join(missing, ", ")
	}
	if len(beaten) > 0 {
		return Inconclusive, "does not beat " + strings.Join(beaten, ", ")
	}
	if !(e.PHolm < alpha) {
		return Inconclusive, fmt.Sprintf("Holm-adjusted p %.3g ≥ %.3g", e.PHolm, alpha)
	}
	return Holds, ""
}

// Finding returns the endpoint as a line of a findings table.
func (e *Endpoint) Finding(prediction string) Finding {
	return Finding{Study: e.Study, Prediction: prediction, Effect: e.describe(), Verdict: e.Verdict}
}

// describe formats the endpoint's effect, controls and p-value.
func (e *Endpoint) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s over %d models (t-interval; predicted %s %g)", fmtCI(e.T), len(finite(e.Values)), signWord(e.Sign), e.Null)
	for _, c := range e.Controls {
		fmt.Fprintf(&b, "; margin over %s %s", c.Name, fmtCI(c.Diff))
	}
	if e.Verdict != NeedsModels {
		fmt.Fprintf(&b, "; Holm p %.3g", e.PHolm)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, " (%s)", e.Reason)
	}
	return b.String()
}

// endpointsTable writes endpoints as a markdown table.
func (m *md) endpointsTable(eps []*Endpoint) {
	m.tableHead("measure", "layer", "models", "mean [t-interval]", "predicted", "controls: margin [t-interval]", "p (joint)", "p (Holm)", "verdict")
	for _, e := range eps {
		var cs []string
		for _, c := range e.Controls {
			cs = append(cs, fmt.Sprintf("%s: %s", c.Name, fmtCI(c.Diff)))
		}
		v := "**" + e.Verdict + "**"
		if e.Reason != "" {
			v += " (" + e.Reason + ")"
		}
		prim := ""
		if !e.Primary {
			prim = " (secondary)"
		}
		m.row(e.Measure+prim, e.Layer, fmt.Sprint(len(finite(e.Values))), fmtCI(e.T), fmt.Sprintf("%s %g", signWord(e.Sign), e.Null),
			strings.Join(cs, "; "), fmtG(e.PJoint), fmtG(e.PHolm), v)
	}
	m.end()
}

func endpointsCSV(eps []*Endpoint) *table {
	t := newTable("study", "measure", "layer", "primary", "models", "mean", "lo", "hi", "null", "predicted_sign", "p", "p_joint", "p_holm", "controls", "verdict", "reason")
	for _, e := range eps {
		var cs []string
		for _, c := range e.Controls {
			cs = append(cs, fmt.Sprintf("%s:%.6g[%.6g,%.6g]", c.Name, c.Diff.Estimate, c.Diff.Lo, c.Diff.Hi))
		}
		t.add(e.Study, e.Measure, e.Layer, e.Primary, len(finite(e.Values)), e.T.Estimate, e.T.Lo, e.T.Hi, e.Null, e.Sign, e.P, e.PJoint, e.PHolm,
			strings.Join(cs, ";"), e.Verdict, e.Reason)
	}
	return t
}

// judgingText explains the verdicts, for reports.
const judgingText = "Verdicts are over independently trained models (seeds), the unit of replication: an endpoint *holds* only with ≥ 3 models, a Student-t interval over models on the predicted side of the null value, a paired margin over every control (the same models untrained, rebuilt from their configs and seeds at step 0, and after 3 training steps; trivial detectors that know nothing of any model; permutation nulls) whose t-interval lies above 0, and a Holm-adjusted p-value (intersection–union test: the largest of the one-sided t-tests against the null and against each control; Holm over the study's primary endpoints) below the interval's one-sided level. *fails*: the interval lies on the other side of the null value. *inconclusive*: anything else, with the reason. With fewer models the verdict is *" + "needs ≥3 models" + "*."

func jsonFloats(v []float64) []any {
	out := make([]any, len(v))
	for i, x := range v {
		out[i] = jsonFloat(x)
	}
	return out
}

// MarshalJSON writes the control with null for values that are NaN.
func (c ControlValues) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"name": c.Name, "values": jsonFloats(c.Values), "margin": c.Diff, "p": c.P})
}

// MarshalJSON writes the endpoint with null for values that are NaN.
func (e *Endpoint) MarshalJSON() ([]byte, error) {
	type plain Endpoint
	return json.Marshal(struct {
		*plain
		Values []any `json:"values"`
	}{(*plain)(e), jsonFloats(e.Values)})
}
