package probe

import (
	"fmt"
	"math"
)

// Verdicts of a prediction.
const (
	Holds        = "holds"        // the interval lies on the predicted side of the null value
	Fails        = "fails"        // the interval lies on the other side
	Inconclusive = "inconclusive" // the interval contains the null value
)

// Effect is one measured effect size of one model, with its interval and
// what the paper predicts of it.
type Effect struct {
	Model   string  `json:"model"`   // subject name
	Measure string  `json:"measure"` // what is measured, e.g. "novel/familiar ratio"
	Layer   string  `json:"layer"`   // "x", "z", a critic's name, …
	Null    float64 `json:"null"`    // the value of no effect
	Sign    int     `json:"sign"`    // predicted direction: +1 above Null, −1 below
	// Interval is the estimate with its confidence interval.
	Interval Interval `json:"interval"`
}

// Verdict says whether the interval supports the prediction.
func (e Effect) Verdict() string { return verdict(e.Interval, e.Null, e.Sign) }

func verdict(i Interval, null float64, sign int) string {
	switch {
	case math.IsNaN(i.Lo) || math.IsNaN(i.Hi):
		return Inconclusive
	case i.Excludes(null, sign):
		return Holds
	case i.Excludes(null, -sign):
		return Fails
	}
	return Inconclusive
}

// Summary is one effect across several models (seeds): its mean, range and
// Student-t interval over models.
type Summary struct {
	Measure string  `json:"measure"`
	Layer   string  `json:"layer"`
	Null    float64 `json:"null"`
	Sign    int     `json:"sign"`
	Models  int     `json:"models"`
	Min     float64 `json:"min"`
	Max     float64 `json:"max"`
	// T is the mean with the t-interval over models; for one model, that
	// model's own estimate and interval.
	T       Interval `json:"interval"`
	Support int      `json:"support"` // models whose own interval holds
	Against int      `json:"against"` // models whose own interval fails
}

// Verdict judges the prediction across models by T: the t-interval over
// models when there are several, the one model's own interval otherwise.
func (s Summary) Verdict() string { return verdict(s.T, s.Null, s.Sign) }

// Summarize groups effects by measure and layer (in order of first
// appearance) and summarises each group across models.
func Summarize(effects []Effect, level float64) []Summary {
	type key struct{ m, l string }
	var order []key
	groups := map[key][]Effect{}
	for _, e := range effects {
		k := key{e.Measure, e.Layer}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], e)
	}
	var out []Summary
	for _, k := range order {
		g := groups[k]
		s := Summary{Measure: k.m, Layer: k.l, Null: g[0].Null, Sign: g[0].Sign, Models: len(g),
			Min: math.Inf(1), Max: math.Inf(-1)}
		var v []float64
		for _, e := range g {
			v = append(v, e.Interval.Estimate)
			if !math.IsNaN(e.Interval.Estimate) {
				s.Min, s.Max = math.Min(s.Min, e.Interval.Estimate), math.Max(s.Max, e.Interval.Estimate)
			}
			switch e.Verdict() {
			case Holds:
				s.Support++
			case Fails:
				s.Against++
			}
		}
		s.T = TInterval(v, level)
		if len(g) == 1 {
			s.T = g[0].Interval
		}
		out = append(out, s)
	}
	return out
}

// Finding is one line of a study's conclusion: a prediction, the effect
// that tests it and the verdict.
type Finding struct {
	Study      string `json:"study"`
	Prediction string `json:"prediction"`
	Effect     string `json:"effect"` // the effect size with its interval, as text
	Verdict    string `json:"verdict"`
}

func signWord(sign int) string {
	if sign > 0 {
		return ">"
	}
	return "<"
}

// describe formats a summary's effect for a findings table.
func (s Summary) describe(level float64) string {
	if s.Models < 2 {
		return fmt.Sprintf("%.3g, %g%% CI [%.3g, %.3g] (1 model; predicted %s %g)", s.T.Estimate, 100*level, s.T.Lo, s.T.Hi, signWord(s.Sign), s.Null)
	}
	return fmt.Sprintf("%.3g, %g%% t-interval over %d models [%.3g, %.3g], range [%.3g, %.3g]; models' own CIs: %d/%d support it, %d/%d against (predicted %s %g)",
		s.T.Estimate, 100*level, s.Models, s.T.Lo, s.T.Hi, s.Min, s.Max, s.Support, s.Models, s.Against, s.Models, signWord(s.Sign), s.Null)
}
