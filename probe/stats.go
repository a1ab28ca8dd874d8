package probe

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Interval is an estimate with a confidence interval [Lo, Hi].
type Interval struct {
	Estimate float64 `json:"estimate"`
	Lo       float64 `json:"lo"`
	Hi       float64 `json:"hi"`
}

// MarshalJSON writes the interval as {"estimate", "lo", "hi"}, with null for
// a value that is NaN or infinite (JSON has no such numbers).
func (i Interval) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"estimate": jsonFloat(i.Estimate), "lo": jsonFloat(i.Lo), "hi": jsonFloat(i.Hi)})
}

// jsonFloat returns v, or nil if it is NaN or infinite.
func jsonFloat(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

// String formats the interval as "est [lo, hi]" with 3 significant digits.
func (i Interval) String() string {
	return fmt.Sprintf("%.3g [%.3g, %.3g]", i.Estimate, i.Lo, i.Hi)
}

// Excludes reports whether the interval lies entirely above v (sign +1) or
// entirely below it (sign −1).
func (i Interval) Excludes(v float64, sign int) bool {
	if sign > 0 {
		return i.Lo > v
	}
	return i.Hi < v
}

var nan = math.NaN()

func sqrt(x float64) float64 { return math.Sqrt(x) }

// Mean returns the arithmetic mean of v (NaN for none).
func Mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// StdDev returns the sample standard deviation of v (n−1; 0 for one value).
func StdDev(v []float64) float64 {
	if len(v) < 2 {
		return 0
	}
	m := Mean(v)
	ss := 0.0
	for _, x := range v {
		ss += (x - m) * (x - m)
	}
	return math.Sqrt(ss / float64(len(v)-1))
}

// Percentile returns the q-quantile (0 ≤ q ≤ 1) of v by linear interpolation
// between order statistics (type 7 of Hyndman & Fan 1996, the default of R
// and NumPy). v is not modified. NaN for an empty v.
func Percentile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	h := q * float64(len(s)-1)
	lo := int(math.Floor(h))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}

// Bootstrap returns stat over all n items with a percentile bootstrap
// interval at the given level (e.g. 0.95): stat is evaluated on resamples of
// n indices drawn with replacement from 0..n−1, b times, and the interval
// is the (1−level)/2 and (1+level)/2 quantiles of those values (Efron &
// Tibshirani 1993, ch. 13). Resamples whose statistic is NaN are dropped.
// Panics if n < 1 or b < 1.
func Bootstrap(n int, stat func(idx []int) float64, b int, level float64, rng *rand.Rand) Interval {
	if n < 1 || b < 1 {
		panic(fmt.Sprintf("probe: bootstrap of %d items with %d resamples", n, b))
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	est := stat(all)
	vals := make([]float64, 0, b)
	idx := make([]int, n)
	for r := 0; r < b; r++ {
		for i := range idx {
			idx[i] = rng.IntN(n)
		}
		if v := stat(idx); !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	a := (1 - level) / 2
	return Interval{Estimate: est, Lo: Percentile(vals, a), Hi: Percentile(vals, 1-a)}
}

// Bootstrap2 is Bootstrap for a statistic of two independent samples of n1
// and n2 items, each resampled separately (a stratified bootstrap).
func Bootstrap2(n1, n2 int, stat func(i1, i2 []int) float64, b int, level float64, rng *rand.Rand) Interval {
	if n1 < 1 || n2 < 1 || b < 1 {
		panic(fmt.Sprintf("probe: bootstrap of %d and %d items with %d resamples", n1, n2, b))
	}
	seq := func(n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = i
		}
		return s
	}
	est := stat(seq(n1), seq(n2))
	vals := make([]float64, 0, b)
	i1, i2 := make([]int, n1), make([]int, n2)
	for r := 0; r < b; r++ {
		for i := range i1 {
			i1[i] = rng.IntN(n1)
		}
		for i := range i2 {
			i2[i] = rng.IntN(n2)
		}
		if v := stat(i1, i2); !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	a := (1 - level) / 2
	return Interval{Estimate: est, Lo: Percentile(vals, a), Hi: Percentile(vals, 1-a)}
}

// BootstrapMean is Bootstrap of the mean of v.
func BootstrapMean(v []float64, b int, level float64, rng *rand.Rand) Interval {
	return Bootstrap(len(v), func(idx []int) float64 {
		s := 0.0
		for _, i := range idx {
			s += v[i]
		}
		return s / float64(len(idx))
	}, b, level, rng)
}

// TInterval returns the mean of v with the Student-t interval at the given
// level: mean ± t_{(1+level)/2, n−1}·s/√n. With one value the interval is
// the value itself (no spread can be estimated); NaN for none.
func TInterval(v []float64, level float64) Interval {
	m := Mean(v)
	if len(v) < 2 {
		return Interval{m, m, m}
	}
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(len(v) - 1)}.Quantile((1 + level) / 2)
	h := t * StdDev(v) / math.Sqrt(float64(len(v)))
	return Interval{m, m - h, m + h}
}

// Ranks returns the ranks (1-based) of v, ties getting the mean of the ranks
// they span.
func Ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && v[idx[j]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1 … j averaged
		for k := i; k < j; k++ {
			r[idx[k]] = avg
		}
		i = j
	}
	return r
}

// Pearson returns the Pearson correlation of x and y (NaN if either is
// constant). Panics if the lengths differ.
func Pearson(x, y []float64) float64 {
	if len(x) != len(y) {
		panic(fmt.Sprintf("probe: correlation of %d and %d values", len(x), len(y)))
	}
	mx, my := Mean(x), Mean(y)
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// Spearman returns Spearman's rank correlation of x and y: the Pearson
// correlation of their ranks (average ranks for ties).
func Spearman(x, y []float64) float64 { return Pearson(Ranks(x), Ranks(y)) }

// AUC returns the area under the ROC curve of a detector that scores the
// positives pos higher than the negatives neg: the Mann–Whitney probability
//
//	AUC = P(s⁺ > s⁻) + ½·P(s⁺ = s⁻) = (R⁺ − n⁺(n⁺+1)/2) / (n⁺·n⁻)
//
// with R⁺ the sum of the positives' ranks in the pooled sample. 1 means every
// positive scores above every negative, 0.5 no separation, 0 a detector of
// the opposite sign. NaN if either set is empty.
func AUC(pos, neg []float64) float64 {
	if len(pos) == 0 || len(neg) == 0 {
		return math.NaN()
	}
	all := append(append([]float64(nil), pos...), neg...)
	r := Ranks(all)
	sum := 0.0
	for i := range pos {
		sum += r[i]
	}
	np, nn := float64(len(pos)), float64(len(neg))
	return (sum - np*(np+1)/2) / (np * nn)
}

// BootstrapAUC returns AUC(pos, neg) with a stratified percentile bootstrap
// interval (positives and negatives resampled separately).
func BootstrapAUC(pos, neg []float64, b int, level float64, rng *rand.Rand) Interval {
	all := append(append([]float64(nil), pos...), neg...)
	ord := sortedIndex(all)
	wp, wn := make([]float64, len(all)), make([]float64, len(all))
	return Bootstrap2(len(pos), len(neg), func(i1, i2 []int) float64 {
		clear(wp)
		clear(wn)
		for _, i := range i1 {
			wp[i]++
		}
		for _, i := range i2 {
			wn[len(pos)+i]++
		}
		return weightedAUC(all, ord, wp, wn)
	}, b, level, rng)
}

// ROC returns the points (false positive rate, true positive rate) of the
// ROC curve of scores pos (positives) and neg, from (0, 0) to (1, 1), one
// point per distinct threshold.
func ROC(pos, neg []float64) (fpr, tpr []float64) {
	type s struct {
		v   float64
		pos bool
	}
	all := make([]s, 0, len(pos)+len(neg))
	for _, v := range pos {
		all = append(all, s{v, true})
	}
	for _, v := range neg {
		all = append(all, s{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
	fpr, tpr = []float64{0}, []float64{0}
	tp, fp := 0, 0
	for i := 0; i < len(all); {
		j := i
		// j == i: a NaN equals nothing, not even itself, and must still
		// move the sweep on.
		for j < len(all) && (j == i || all[j].v == all[i].v) {
			if all[j].pos {
				tp++
			} else {
				fp++
			}
			j++
		}
		fpr = append(fpr, float64(fp)/float64(len(neg)))
		tpr = append(tpr, float64(tp)/float64(len(pos)))
		i = j
	}
	return fpr, tpr
}

// Cosine returns the cosine similarity a·b / (‖a‖‖b‖) (NaN if either is
// zero). Panics if the lengths differ.
func Cosine(a, b []float64) float64 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("probe: cosine of vectors of %d and %d", len(a), len(b)))
	}
	var ab, aa, bb float64
	for i := range a {
		ab += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
	}
	if aa == 0 || bb == 0 {
		return math.NaN()
	}
	return ab / math.Sqrt(aa*bb)
}

// OppositeSignFraction returns the fraction of coordinates, among those
// nonzero in both, where a and b have opposite signs.
func OppositeSignFraction(a, b []float64) float64 {
	n, opp := 0, 0
	for i := range a {
		if a[i] == 0 || b[i] == 0 {
			continue
		}
		n++
		if (a[i] > 0) != (b[i] > 0) {
			opp++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return float64(opp) / float64(n)
}
