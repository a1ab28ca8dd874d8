package probe

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestAUC(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		pos, neg []float64
		want     float64
	}{
		{"separated", []float64{5, 6, 7}, []float64{1, 2, 3, 4}, 1},
		{"reversed", []float64{1, 2}, []float64{5, 6, 7}, 0},
		{"identical sets", []float64{1, 2, 3}, []float64{1, 2, 3}, 0.5},
		{"all tied", []float64{4, 4}, []float64{4, 4, 4}, 0.5},
		// pairs (pos > neg): 2>1; 3>1, 3>2.5; ties: none → 3 of 4.
		{"partial", []float64{2, 3}, []float64{1, 2.5}, 0.75},
		// one tie (2 = 2) counts half: (1 + 0.5) / 2.
		{"tie counts half", []float64{2}, []float64{1, 2}, 0.75},
	} {
		if got := AUC(tc.pos, tc.neg); !near(got, tc.want, 1e-12) {
			t.Errorf("%s: AUC = %g, want %g", tc.name, got, tc.want)
		}
	}
	if !math.IsNaN(AUC(nil, []float64{1})) {
		t.Error("AUC of an empty set should be NaN")
	}
}

func TestBootstrapAUCSeparated(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	iv := BootstrapAUC([]float64{10, 11, 12, 13}, []float64{1, 2, 3}, 200, 0.95, rng)
	if iv.Estimate != 1 || iv.Lo != 1 || iv.Hi != 1 {
		t.Errorf("separated sets: %v, want 1 [1, 1]", iv)
	}
}

func TestROC(t *testing.T) {
	t.Parallel()
	fpr, tpr := ROC([]float64{3, 4}, []float64{1, 2})
	wantF := []float64{0, 0, 0, 0.5, 1}
	wantT := []float64{0, 0.5, 1, 1, 1}
	for i := range wantF {
		if fpr[i] != wantF[i] || tpr[i] != wantT[i] {
			t.Fatalf("ROC = %v, %v; want %v, %v", fpr, tpr, wantF, wantT)
		}
	}
}

func TestSpearman(t *testing.T) {
	t.Parallel()
	x := []float64{1, 2, 3, 4, 5, 6}
	mono := []float64{0.1, 0.5, 3, 40, 41, 1000} // monotone, far from linear
	if got := Spearman(x, mono); !near(got, 1, 1e-12) {
		t.Errorf("monotone increasing: %g, want 1", got)
	}
	rev := []float64{9, 7, 5, 2, 1, -3}
	if got := Spearman(x, rev); !near(got, -1, 1e-12) {
		t.Errorf("monotone decreasing: %g, want -1", got)
	}
	// Ties: ranks of y are 1.5, 1.5, 3, 4; Pearson with 1..4 is
	// (by hand) 0.9486832980505138.
	if got := Spearman([]float64{1, 2, 3, 4}, []float64{5, 5, 6, 7}); !near(got, 0.9486832980505138, 1e-12) {
		t.Errorf("ties: %g", got)
	}
	if !math.IsNaN(Spearman([]float64{1, 2}, []float64{3, 3})) {
		t.Error("constant y should give NaN")
	}
}

func TestRanks(t *testing.T) {
	t.Parallel()
	got := Ranks([]float64{30, 10, 20, 10})
	want := []float64{4, 1.5, 3, 1.5}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Ranks = %v, want %v", got, want)
		}
	}
}

func TestBootstrapCoversTrueMean(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	const trueMean, reps, n = 3.0, 100, 200
	covered := 0
	for r := 0; r < reps; r++ {
		v := make([]float64, n)
		for i := range v {
			v[i] = trueMean + rng.NormFloat64()
		}
		iv := BootstrapMean(v, 400, 0.95, rng)
		if iv.Lo <= trueMean && trueMean <= iv.Hi {
			covered++
		}
		if r == 0 {
			// The percentile interval of a mean of N(μ, 1) is close to
			// ±1.96/√n wide.
			w := iv.Hi - iv.Lo
			if want := 2 * 1.96 / math.Sqrt(n); !near(w, want, 0.25*want) {
				t.Errorf("interval width %g, want about %g", w, want)
			}
		}
	}
	// Nominal 95%: 100 repetitions land in [88, 100] with high probability.
	if covered < 88 {
		t.Errorf("95%% bootstrap interval covered the true mean %d/%d times", covered, reps)
	}
}

func TestTInterval(t *testing.T) {
	t.Parallel()
	// mean 2, s = 1, t_{0.975, 2} = 4.302652729911275 (R: qt(0.975, 2)).
	iv := TInterval([]float64{1, 2, 3}, 0.95)
	h := 4.302652729911275 / math.Sqrt(3)
	if !near(iv.Estimate, 2, 1e-12) || !near(iv.Lo, 2-h, 1e-9) || !near(iv.Hi, 2+h, 1e-9) {
		t.Errorf("TInterval = %v, want 2 ± %g", iv, h)
	}
	one := TInterval([]float64{5}, 0.95)
	if one.Lo != 5 || one.Hi != 5 {
		t.Errorf("one value: %v", one)
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	v := []float64{4, 1, 3, 2} // sorted 1 2 3 4
	for _, tc := range []struct{ q, want float64 }{{0, 1}, {1, 4}, {0.5, 2.5}, {0.25, 1.75}} {
		if got := Percentile(v, tc.q); !near(got, tc.want, 1e-12) {
			t.Errorf("Percentile(%g) = %g, want %g", tc.q, got, tc.want)
		}
	}
}

func TestCosine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b []float64
		want float64
	}{
		{[]float64{1, 0}, []float64{0, 1}, 0},
		{[]float64{1, 2, 3}, []float64{-2, -4, -6}, -1},
		{[]float64{1, 2, 3}, []float64{2, 4, 6}, 1},
		{[]float64{1, 1}, []float64{1, 0}, 1 / math.Sqrt2},
	} {
		if got := Cosine(tc.a, tc.b); !near(got, tc.want, 1e-12) {
			t.Errorf("Cosine(%v, %v) = %g, want %g", tc.a, tc.b, got, tc.want)
		}
	}
	if !math.IsNaN(Cosine([]float64{0, 0}, []float64{1, 0})) {
		t.Error("zero vector should give NaN")
	}
	if got := OppositeSignFraction([]float64{1, -1, 2, 0}, []float64{-1, -1, -3, 5}); !near(got, 2.0/3, 1e-12) {
		t.Errorf("OppositeSignFraction = %g, want 2/3", got)
	}
}

func TestGradedSpearmanMonotone(t *testing.T) {
	t.Parallel()
	// Values at level k lie in [k, k+0.5): they grow with the level and
	// levels never overlap. With m stimuli at each of L levels (n = mL
	// values), the level ranks are block averages, so ρ is the largest a
	// tied variable allows: √(1 − (m²−1)/(n²−1)).
	rng := rand.New(rand.NewPCG(3, 3))
	levels := []float64{0, 1, 2, 3}
	const m = 30
	vals := make([][]float64, len(levels))
	for k := range levels {
		for i := 0; i < m; i++ {
			vals[k] = append(vals[k], float64(k)+0.5*rng.Float64())
		}
	}
	n := float64(m * len(levels))
	want := math.Sqrt(1 - (m*m-1)/(n*n-1))
	iv := GradedSpearman(levels, vals, 200, 0.95, rng)
	if !near(iv.Estimate, want, 1e-9) || iv.Lo < 0.95 || iv.Hi > 1 {
		t.Errorf("monotone graded series: ρ = %v, want %g with a tight interval", iv, want)
	}
}

func TestEffectVerdict(t *testing.T) {
	t.Parallel()
	es := []Effect{
		{Model: "a", Measure: "m", Layer: "x", Null: 0, Sign: 1, Interval: Interval{1, 0.5, 1.5}},
		{Model: "b", Measure: "m", Layer: "x", Null: 0, Sign: 1, Interval: Interval{2, 1, 3}},
		{Model: "c", Measure: "m", Layer: "x", Null: 0, Sign: 1, Interval: Interval{-1, -2, -0.5}},
		{Model: "a", Measure: "m", Layer: "z", Null: 0, Sign: -1, Interval: Interval{0.1, -0.5, 0.7}},
	}
	if es[0].Verdict() != Holds || es[2].Verdict() != Fails || es[3].Verdict() != Inconclusive {
		t.Errorf("verdicts %s %s %s", es[0].Verdict(), es[2].Verdict(), es[3].Verdict())
	}
}

// The linear-time bootstrap statistics equal the plain definitions on
// resamples with duplicates and ties.
func TestWeightedStatisticsMatchPlain(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 5))
	round := func(n int) []float64 { // few distinct values: many ties
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(rng.IntN(7))
		}
		return v
	}
	for rep := 0; rep < 20; rep++ {
		pos, neg := round(15), round(11)
		all := append(append([]float64(nil), pos...), neg...)
		ord := sortedIndex(all)
		wp, wn := make([]float64, len(all)), make([]float64, len(all))
		var rp, rn []float64
		for k := 0; k < len(pos); k++ {
			i := rng.IntN(len(pos))
			wp[i]++
			rp = append(rp, pos[i])
		}
		for k := 0; k < len(neg); k++ {
			i := rng.IntN(len(neg))
			wn[len(pos)+i]++
			rn = append(rn, neg[i])
		}
		if got, want := weightedAUC(all, ord, wp, wn), AUC(rp, rn); !near(got, want, 1e-12) {
			t.Fatalf("weighted AUC %g, plain %g", got, want)
		}
		// Spearman of a graded series with duplicated stimuli.
		levels := []float64{0, 1, 2}
		n := 9
		vals := [][]float64{round(n), round(n), round(n)}
		idx := make([]int, n)
		for i := range idx {
			idx[i] = rng.IntN(n)
		}
		var lv, vv []float64
		for k := range levels {
			for _, i := range idx {
				lv, vv = append(lv, levels[k]), append(vv, vals[k][i])
			}
		}
		want := Spearman(lv, vv)
		var flv, fvv []float64
		for k := range levels {
			for i := 0; i < n; i++ {
				flv, fvv = append(flv, levels[k]), append(fvv, vals[k][i])
			}
		}
		w := make([]float64, len(flv))
		for _, i := range idx {
			for k := range levels {
				w[k*n+i]++
			}
		}
		rl, rv := make([]float64, len(flv)), make([]float64, len(flv))
		weightedMidranks(flv, sortedIndex(flv), w, rl)
		weightedMidranks(fvv, sortedIndex(fvv), w, rv)
		if got := weightedPearson(rl, rv, w); !(near(got, want, 1e-12) || (math.IsNaN(got) && math.IsNaN(want))) {
			t.Fatalf("weighted Spearman %g, plain %g", got, want)
		}
	}
}

// A NaN among the values (a model gone bad) must not stall a ranking sweep:
// each is ranked, last, in its own group, and every function returns.
func TestRankingsSurviveNaN(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		v := []float64{3, math.NaN(), 1, math.NaN(), 1, 2}
		ord := sortedIndex(v)
		if !math.IsNaN(v[ord[4]]) || !math.IsNaN(v[ord[5]]) {
			t.Errorf("NaNs not sorted last: %v", ord)
		}
		w := []float64{1, 1, 1, 1, 1, 1}
		r := make([]float64, len(v))
		weightedMidranks(v, ord, w, r)
		if r[2] != 1.5 || r[4] != 1.5 || r[5] != 3 || r[0] != 4 {
			t.Errorf("midranks %v", r)
		}
		weightedAUC(v, ord, []float64{1, 0, 1, 0, 0, 1}, []float64{0, 1, 0, 1, 1, 0})
		Ranks(v)
		ROC([]float64{math.NaN(), 1, math.NaN()}, []float64{math.NaN(), 0})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a ranking with NaN did not return")
	}
}
