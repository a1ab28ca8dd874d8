package probe

import (
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

// Verdict says on which side of the null value this one model's interval
// lies; the verdicts of the studies are the Endpoints' (Judge).
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
