package eval

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/wakesleep/wakesleep/tensor"
)

// opts returns DefaultAlignmentOptions changed by f.
func opts(f func(o *AlignmentOptions)) AlignmentOptions {
	o := DefaultAlignmentOptions()
	f(&o)
	return o
}

func TestKLBitsHand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		p, q  Histogram
		alpha float64
		want  float64
	}{
		// K = 3 patterns (a, b, c); P̂ = (3.5, 1.5, 0.5)/5.5, Q̂ = (1.5, 2.5, 1.5)/5.5;
		// Σ P̂ log₂(P̂/Q̂) worked out with Python's math module.
		{"smoothed", Histogram{"a": 3, "b": 1}, Histogram{"a": 1, "b": 2, "c": 1}, 0.5, 0.43280796964866936},
		// ½ log₂(0.5/0.25) + ½ log₂(0.5/0.75).
		{"unsmoothed", Histogram{"a": 2, "b": 2}, Histogram{"a": 1, "b": 3}, 0, 0.20751874963942185},
		{"identical", Histogram{"a": 5, "b": 1, "c": 9}, Histogram{"a": 5, "b": 1, "c": 9}, 0.5, 0},
		// Same distribution from samples of different sizes, no smoothing.
		{"proportional", Histogram{"a": 1, "b": 3}, Histogram{"a": 10, "b": 30}, 0, 0},
		{"missing in q", Histogram{"a": 1, "b": 1}, Histogram{"a": 2}, 0, math.Inf(1)},
		// Disjoint supports of 1 pattern each with α = 1: P̂ = (2/3, 1/3), Q̂ = (1/3, 2/3).
		{"disjoint", Histogram{"a": 1}, Histogram{"b": 1}, 1, (2.0/3)*math.Log2(2) + (1.0/3)*math.Log2(0.5)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := KLBits(tc.p, tc.q, tc.alpha)
			if math.IsInf(tc.want, 1) {
				if !math.IsInf(got, 1) {
					t.Fatalf("KLBits = %g, want +Inf", got)
				}
				return
			}
			if math.Abs(got-tc.want) > 1e-12 {
				t.Fatalf("KLBits = %.17g, want %.17g", got, tc.want)
			}
		})
	}
}

func TestKLBitsPanics(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func(){
		"negative alpha": func() { KLBits(Histogram{"a": 1}, Histogram{"a": 1}, -1) },
		"empty":          func() { KLBits(Histogram{}, Histogram{"a": 1}, 1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestPatterns(t *testing.T) {
	t.Parallel()
	x := tensor.FromFloat64([]float64{
		0.49, 0.5, -0.5, 2.7, // row 0 rounds to 0 1 −1 3
		0.2, 1.4, -1.49, 3.3, // row 1 rounds to 0 1 −1 3 as well
		1e6, 0, 0, 0, // huge values stay distinct
		1e6 + 1, 0, 0, 0,
		math.NaN(), 0, 0, 0, // NaN is its own value
		math.Inf(1), 0, 0, 0,
	}, 6, 4)
	z := tensor.FromFloat64([]float64{-0.3, 0, 0.3, 0, -7, 0, 7.2, 0, 1, 1, 1, 1}, 6, 2)
	p := Patterns(x, z, []int{0, 1, 2, 3}, []int{0})
	if p[0] != p[1] {
		t.Errorf("rows 0 and 1 round to the same integers but give patterns %q and %q", p[0], p[1])
	}
	seen := map[Pattern]int{}
	for i := 2; i < 6; i++ {
		if j, ok := seen[p[i]]; ok {
			t.Errorf("rows %d and %d share a pattern", j, i)
		}
		seen[p[i]] = i
	}
	// z alone: −0.3 and 0.3 both round to 0.
	pz := Patterns(x, z, nil, []int{0})
	if pz[0] != pz[1] || pz[0] == pz[2] {
		t.Errorf("z patterns %q", pz[:3])
	}
	// Unit order matters.
	if a, b := Patterns(x, z, []int{1, 3}, nil), Patterns(x, z, []int{3, 1}, nil); a[0] == b[0] {
		t.Errorf("patterns over units (1, 3) and (3, 1) coincide")
	}
	if q := quantize(-0.5); q != -1 {
		t.Errorf("quantize(−0.5) = %d, want −1 (halves away from zero)", q)
	}
}

// bernoulliPhase draws n samples of a toy "network": x pixels that are 1 with
// probability probs[j] (else 0, plus small noise that rounds away), and z
// normal with standard deviation zStd; shift is added to every unit.
func bernoulliPhase(rng *rand.Rand, n int, probs []float64, zDim int, zStd, shift float64) Phase {
	x := tensor.New(tensor.Float64, n, len(probs))
	z := tensor.New(tensor.Float64, n, zDim)
	for i := 0; i < n; i++ {
		for j, p := range probs {
			v := 0.1 * rng.Float64()
			if rng.Float64() < p {
				v += 0.8
			}
			x.SetAt(i*len(probs)+j, v+shift)
		}
		for j := 0; j < zDim; j++ {
			z.SetAt(i*zDim+j, zStd*rng.NormFloat64()+shift)
		}
	}
	return Phase{X: x, Z: z}
}

func toyProbs() []float64 {
	probs := make([]float64, 40)
	for j := range probs {
		if j >= 5 { // five constant background pixels, then varied ones
			probs[j] = 0.2 + 0.6*float64(j%7)/6
		}
	}
	return probs
}

func TestAlignmentSameDistribution(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	probs := toyProbs()
	wake := bernoulliPhase(rng, 4000, probs, 16, 0.3, 0)
	sleep := bernoulliPhase(rng, 4000, probs, 16, 0.3, 0)
	r, err := Alignment(wake, sleep, opts(func(o *AlignmentOptions) { o.Draws = 6 }))
	if err != nil {
		t.Fatal(err)
	}
	// Equal distributions: KL is the estimator's bias, the same as the
	// control's, within the control's spread.
	for name, s := range map[string]Stat{"KL(wake‖sleep)": r.WakeSleep, "KL(sleep‖wake)": r.SleepWake, "sleep control": r.SleepControl} {
		if d := math.Abs(s.Mean - r.Control.Mean); d > 3*r.Control.Std+0.05*r.Control.Mean {
			t.Errorf("%s = %.3f ± %.3f, control %.3f ± %.3f: should agree", name, s.Mean, s.Std, r.Control.Mean, r.Control.Std)
		}
	}
	if r.Control.Mean <= 0 || r.Control.Mean > 2 {
		t.Errorf("control %.3f bits: expected a small positive bias", r.Control.Mean)
	}
	if r.HalfN != 2000 || len(r.Draws) != 6 || r.EligibleX != 35 {
		t.Errorf("half %d, draws %d, eligible %d; want 2000, 6, 35", r.HalfN, len(r.Draws), r.EligibleX)
	}
	for _, d := range r.Draws {
		for _, u := range d.XUnits {
			if u < 5 {
				t.Errorf("constant pixel %d drawn", u)
			}
		}
	}
	if len(r.Scatter.A) == 0 || len(r.Scatter.A) != len(r.Scatter.B) || r.Scatter.N != 2000 {
		t.Errorf("scatter: %d/%d points of %d samples", len(r.Scatter.A), len(r.Scatter.B), r.Scatter.N)
	}
	var sa float64
	for _, f := range r.Scatter.A {
		sa += f
	}
	if math.Abs(sa-1) > 1e-9 {
		t.Errorf("wake frequencies sum to %g", sa)
	}
}

func TestAlignmentDisjoint(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 10))
	probs := toyProbs()
	// 4 + 4 units of a low-entropy toy: a few dozen patterns, well sampled
	// by 2000 samples a half, so the estimator resolves differences.
	o := opts(func(o *AlignmentOptions) { o.Draws = 3; o.XUnits = 4; o.ZUnits = 4 })
	wake := bernoulliPhase(rng, 4000, probs, 16, 0.3, 0)
	sleep := bernoulliPhase(rng, 4000, probs, 16, 0.3, 5) // every unit shifted by 5: no shared pattern
	r, err := Alignment(wake, sleep, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.WakeMissing.Mean > 0.05 {
		t.Errorf("missing mass %.3f: the toy should be well sampled", r.WakeMissing.Mean)
	}
	if r.WakeSleep.Mean < 5 || r.SleepWake.Mean < 5 || r.WakeSleep.Mean < 20*r.Control.Mean {
		t.Errorf("disjoint supports: KL(w‖s) %.3f, KL(s‖w) %.3f, control %.3f: want large KLs far above the control",
			r.WakeSleep.Mean, r.SleepWake.Mean, r.Control.Mean)
	}
	// A partial mismatch (sleep z shifted by 0.5) lands in between.
	sleep2 := bernoulliPhase(rng, 4000, probs, 16, 0.3, 0)
	for i := 0; i < sleep2.Z.Len(); i++ {
		sleep2.Z.SetAt(i, sleep2.Z.At(i)+0.5)
	}
	r2, err := Alignment(wake, sleep2, o)
	if err != nil {
		t.Fatal(err)
	}
	if !(r2.WakeSleep.Mean > r2.Control.Mean+3*r2.Control.Std+0.2 && r2.WakeSleep.Mean < r.WakeSleep.Mean) {
		t.Errorf("shifted z: KL %.3f, control %.3f ± %.3f, disjoint %.3f", r2.WakeSleep.Mean, r2.Control.Mean, r2.Control.Std, r.WakeSleep.Mean)
	}
}

// TestAlignmentUndersampled shows why the control and the missing mass are
// reported: when nearly every pattern occurs once, even disjoint
// distributions give a KL at the control's level.
func TestAlignmentUndersampled(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 12))
	probs := toyProbs()
	wake := bernoulliPhase(rng, 1000, probs, 16, 3, 0)
	sleep := bernoulliPhase(rng, 1000, probs, 16, 3, 50)
	r, err := Alignment(wake, sleep, opts(func(o *AlignmentOptions) { o.Draws = 2 }))
	if err != nil {
		t.Fatal(err)
	}
	if r.WakeMissing.Mean < 0.99 || math.Abs(r.WakeSleep.Mean-r.Control.Mean) > 0.01 {
		t.Errorf("missing mass %.3f, KL %.3f, control %.3f: want ≈1 and KL ≈ control", r.WakeMissing.Mean, r.WakeSleep.Mean, r.Control.Mean)
	}
}

func TestMissingMass(t *testing.T) {
	t.Parallel()
	if got := MissingMass(Histogram{"a": 1, "b": 1, "c": 3, "d": 5}); got != 0.2 {
		t.Errorf("MissingMass = %g, want 2/10", got)
	}
}

func TestAlignmentDeterministicAndOptions(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	probs := toyProbs()
	wake := bernoulliPhase(rng, 600, probs, 10, 1, 0)
	sleep := bernoulliPhase(rng, 500, probs, 10, 1, 0)
	a, err := Alignment(wake, sleep, opts(func(o *AlignmentOptions) { o.Draws = 2; o.Seed = 3 }))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Alignment(wake, sleep, opts(func(o *AlignmentOptions) { o.Draws = 2; o.Seed = 3 }))
	if !reflect.DeepEqual(a.Draws, b.Draws) {
		t.Error("same seed, different draws")
	}
	if a.HalfN != 250 {
		t.Errorf("half %d, want min(600, 500)/2 = 250", a.HalfN)
	}
	c, _ := Alignment(wake, sleep, opts(func(o *AlignmentOptions) { o.Draws = 2; o.Seed = 4 }))
	if reflect.DeepEqual(a.Draws[0].XUnits, c.Draws[0].XUnits) && reflect.DeepEqual(a.Draws[0].ZUnits, c.Draws[0].ZUnits) {
		t.Error("different seeds drew the same units")
	}
	u, _ := Alignment(wake, sleep, opts(func(o *AlignmentOptions) { o.Draws = 1; o.Choice = UnitsUniform }))
	if u.EligibleX != 40 {
		t.Errorf("uniform choice: %d eligible, want 40", u.EligibleX)
	}
	if _, err := Alignment(wake, sleep, opts(func(o *AlignmentOptions) { o.XUnits = 36 })); !errors.Is(err, ErrTooFewUnits) {
		t.Errorf("36 of 35 active pixels: err %v, want ErrTooFewUnits", err)
	}
	if _, err := Alignment(wake, sleep, opts(func(o *AlignmentOptions) { o.ZUnits = 11 })); !errors.Is(err, ErrTooFewUnits) {
		t.Errorf("11 of 10 latents: err %v, want ErrTooFewUnits", err)
	}
	for _, o := range []AlignmentOptions{
		opts(func(o *AlignmentOptions) { o.Draws = 0 }),
		opts(func(o *AlignmentOptions) { o.Choice = "some" }),
		opts(func(o *AlignmentOptions) { o.MinActive = 2 }),
		opts(func(o *AlignmentOptions) { o.XUnits = -1 }),
		opts(func(o *AlignmentOptions) { o.XUnits, o.ZUnits = 0, 0 }),
		opts(func(o *AlignmentOptions) { o.Alpha = -1 }),
	} {
		if _, err := Alignment(wake, sleep, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	// Zero units of one kind are allowed: x alone, without z.
	if r, err := Alignment(Phase{X: wake.X}, Phase{X: sleep.X}, opts(func(o *AlignmentOptions) { o.ZUnits = 0 })); err != nil || len(r.Draws[0].ZUnits) != 0 {
		t.Errorf("x units only: %v", err)
	}
}
