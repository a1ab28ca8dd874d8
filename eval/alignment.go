package eval

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/tensor"
)

// Pattern is one quantized activity pattern over a chosen set of units, used
// as a map key. It encodes, unit by unit, the activity rounded to the nearest
// integer (halves away from zero, math.Round) as a zig-zag varint
// (encoding/binary.AppendVarint): exact for every integer, so no two
// different patterns share a key however far a badly trained generator
// strays. Rounded values beyond ±2⁶² saturate there; NaN is its own value
// (math.MinInt64). Two patterns are equal exactly when every unit's rounded
// value is.
type Pattern string

// Pattern codes for the values that are not ordinary numbers.
const (
	patternNaN = math.MinInt64
	patternMax = 1 << 62
)

// quantize returns v rounded to the nearest integer as Pattern encodes it.
func quantize(v float64) int64 {
	switch {
	case math.IsNaN(v):
		return patternNaN
	case v >= patternMax:
		return patternMax
	case v <= -patternMax:
		return -patternMax
	}
	return int64(math.Round(v))
}

// Patterns returns the pattern of every row of x [N, X] and z [N, Z] over the
// units xUnits of x followed by zUnits of z (indices into the second axis;
// either list may be empty, and z may then be nil). Panics if the row counts
// differ or an index is out of range.
func Patterns(x, z *tensor.Tensor, xUnits, zUnits []int) []Pattern {
	n := x.Dim(0)
	check := func(t *tensor.Tensor, units []int, name string) {
		if len(units) == 0 {
			return
		}
		if t == nil || t.Rank() != 2 || t.Dim(0) != n {
			panic(fmt.Sprintf("eval: Patterns: %s must be [%d, D]", name, n))
		}
		for _, u := range units {
			if u < 0 || u >= t.Dim(1) {
				panic(fmt.Sprintf("eval: Patterns: %s unit %d outside [0, %d)", name, u, t.Dim(1)))
			}
		}
	}
	check(x, xUnits, "x")
	check(z, zUnits, "z")
	out := make([]Pattern, n)
	buf := make([]byte, 0, binary.MaxVarintLen64*(len(xUnits)+len(zUnits)))
	for i := 0; i < n; i++ {
		buf = buf[:0]
		for _, u := range xUnits {
			buf = binary.AppendVarint(buf, quantize(x.At(i*x.Dim(1)+u)))
		}
		for _, u := range zUnits {
			buf = binary.AppendVarint(buf, quantize(z.At(i*z.Dim(1)+u)))
		}
		out[i] = Pattern(buf)
	}
	return out
}

// Histogram counts how often each pattern occurs.
type Histogram map[Pattern]int

// Count returns the histogram of ps.
func Count(ps []Pattern) Histogram {
	h := Histogram{}
	for _, p := range ps {
		h[p]++
	}
	return h
}

// Total returns the number of samples counted in h.
func (h Histogram) Total() int {
	n := 0
	for _, c := range h {
		n += c
	}
	return n
}

// KLBits returns the Kullback–Leibler divergence KL(P‖Q) in bits between the
// pattern distributions estimated from the counts p and q with additive
// (Dirichlet, "add-α") smoothing over the K patterns observed in either:
//
//	P̂(k) = (p_k + α) / (N_p + α·K),  Q̂(k) = (q_k + α) / (N_q + α·K),  k ∈ supp(p) ∪ supp(q)
//	KL(P‖Q) = Σ_k P̂(k) · log₂(P̂(k) / Q̂(k))
//
// α = 0.5 is the Jeffreys (Krichevsky–Trofimov) prior, α = 1 Laplace's rule.
// Patterns seen in neither sample get no mass. With α = 0, a pattern seen in
// p but not in q gives +Inf.
//
// Like every plug-in estimate, it is biased upward by sampling noise, by an
// amount that grows with the number of distinct patterns relative to the
// sample sizes: compare it with the same estimate between two samples of one
// distribution of the same sizes (Alignment's control).
//
// Panics if α < 0 or either histogram is empty.
func KLBits(p, q Histogram, alpha float64) float64 {
	if !(alpha >= 0) {
		panic(fmt.Sprintf("eval: KLBits: smoothing α = %g must be ≥ 0", alpha))
	}
	np, nq := p.Total(), q.Total()
	if np == 0 || nq == 0 {
		panic("eval: KLBits of an empty histogram")
	}
	k := len(p)
	for pat := range q {
		if _, ok := p[pat]; !ok {
			k++
		}
	}
	dp := float64(np) + alpha*float64(k)
	dq := float64(nq) + alpha*float64(k)
	var kl float64
	term := func(cp, cq int) {
		pk := (float64(cp) + alpha) / dp
		qk := (float64(cq) + alpha) / dq
		if pk > 0 {
			kl += pk * math.Log2(pk/qk)
		}
	}
	for pat, cp := range p {
		term(cp, q[pat])
	}
	for pat, cq := range q {
		if _, ok := p[pat]; !ok {
			term(0, cq)
		}
	}
	return kl
}

// Unit choices for the x units of Alignment.
const (
	// UnitsActive draws x units among the pixels whose quantized value
	// varies in the wake (data) phase: those where it differs from its most
	// common value in at least MinActive of the samples. It depends only on
	// the data and the pixel scaling, so runs are compared on the same
	// pixels.
	UnitsActive = "active"
	// UnitsUniform draws x units uniformly among all pixels. On MNIST most
	// of them are background in every digit and round to a constant.
	UnitsUniform = "uniform"
)

// AlignmentOptions configure Alignment; DefaultAlignmentOptions gives the
// paper's setting.
type AlignmentOptions struct {
	Draws     int     `json:"draws"`       // seeded draws of units
	XUnits    int     `json:"x_units"`     // units of x per draw
	ZUnits    int     `json:"z_units"`     // units of z per draw
	Alpha     float64 `json:"alpha"`       // additive smoothing of KLBits (0: none)
	Choice    string  `json:"unit_choice"` // UnitsActive or UnitsUniform, for x; z units are always uniform
	MinActive float64 `json:"min_active"`  // UnitsActive threshold
	Seed      uint64  `json:"seed"`        // unit draws and the split into halves
	// Permutations is the size of each draw's phase-label permutation null
	// of KL(W₁‖S₁) (0: none).
	Permutations int `json:"permutations,omitempty"`
}

// MaxMissingMass is the largest Good–Turing missing mass of a half at which
// an alignment counts as resolved (AlignmentResult.Resolved): above it most
// patterns are seen once, and disjoint and identical distributions give the
// same KL.
const MaxMissingMass = 0.5

// DefaultAlignmentOptions returns the paper's setting (Sec. 5.1: 16 units,
// 8 of x and 8 of z) with 10 draws, Jeffreys smoothing α = ½, x units among
// the pixels active in at least 10% of the digits, seed 1, and a
// permutation null of 20 relabellings per draw.
func DefaultAlignmentOptions() AlignmentOptions {
	return AlignmentOptions{Draws: 10, XUnits: 8, ZUnits: 8, Alpha: 0.5, Choice: UnitsActive, MinActive: 0.1, Seed: 1, Permutations: 20}
}

// ResolvedAlignmentOptions returns DefaultAlignmentOptions with 4 units of x
// and 2 of z. With z ~ N(0, I) each rounded latent carries about 2 bits, so
// the paper's 8 + 8 units span some 20 bits of patterns, and 5,000 samples
// a half see nearly every pattern once (missing mass ≈ 1): the estimate then
// cannot separate even disjoint distributions from the control. Around 7
// bits of patterns are well covered (missing mass a few per cent), and
// differences show.
func ResolvedAlignmentOptions() AlignmentOptions {
	o := DefaultAlignmentOptions()
	o.XUnits, o.ZUnits = 4, 2
	return o
}

// DefaultAlignments are the alignments Evaluate reports unless told
// otherwise: the paper's 8 + 8 units first, then the resolved 4 + 2.
func DefaultAlignments() []AlignmentOptions {
	return []AlignmentOptions{DefaultAlignmentOptions(), ResolvedAlignmentOptions()}
}

// Label names the unit counts, e.g. "8x+8z".
func (o AlignmentOptions) Label() string { return fmt.Sprintf("%dx+%dz", o.XUnits, o.ZUnits) }

// Validate reports an option out of range.
func (o AlignmentOptions) Validate() error {
	switch {
	case o.Draws < 1:
		return fmt.Errorf("alignment: draws %d must be positive", o.Draws)
	case o.XUnits < 0 || o.ZUnits < 0 || o.XUnits+o.ZUnits == 0:
		return fmt.Errorf("alignment: %d x units and %d z units: need some units, none negative", o.XUnits, o.ZUnits)
	case o.Choice != UnitsActive && o.Choice != UnitsUniform:
		return fmt.Errorf("alignment: unit choice %q must be %q or %q", o.Choice, UnitsActive, UnitsUniform)
	case o.Choice == UnitsActive && !(o.MinActive > 0 && o.MinActive < 1):
		return fmt.Errorf("alignment: min active %g must be in (0, 1)", o.MinActive)
	case !(o.Alpha >= 0) || math.IsInf(o.Alpha, 1):
		return fmt.Errorf("alignment: smoothing α = %g must be finite and ≥ 0", o.Alpha)
	case o.Permutations < 0 || o.Permutations > 100000:
		return fmt.Errorf("alignment: permutations %d must be in 0..100000", o.Permutations)
	}
	return nil
}

// Phase is the activity of one phase: x [N, X] and z [N, Z], row i one sample.
// For wake, x is data and z ~ q(z|x); for sleep, z ~ N(0, I) and x ~ p(x|z).
type Phase struct {
	X, Z *tensor.Tensor
}

// N returns the number of samples.
func (p Phase) N() int { return p.X.Dim(0) }

// Stat is a mean and a standard deviation over draws (sample standard
// deviation, n−1; 0 for one draw).
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
}

func statOf(v []float64) Stat {
	var s Stat
	for _, x := range v {
		s.Mean += x
	}
	s.Mean /= float64(len(v))
	if len(v) > 1 {
		var ss float64
		for _, x := range v {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		s.Std = math.Sqrt(ss / float64(len(v)-1))
	}
	return s
}

// Draw is the outcome of one draw of units.
type Draw struct {
	XUnits []int `json:"x_units"`
	ZUnits []int `json:"z_units"`
	// KL divergences in bits, each the mean of the two halves (see Alignment).
	WakeSleep    float64 `json:"kl_wake_sleep"`
	SleepWake    float64 `json:"kl_sleep_wake"`
	Control      float64 `json:"kl_control_wake"`
	SleepControl float64 `json:"kl_control_sleep"`
	// Distinct patterns seen in all wake samples and in all sleep samples.
	WakePatterns  int `json:"wake_patterns"`
	SleepPatterns int `json:"sleep_patterns"`
	// Good–Turing estimates of the probability mass of patterns a half has
	// not seen (MissingMass), averaged over the two halves of each phase.
	WakeMissing  float64 `json:"wake_missing_mass"`
	SleepMissing float64 `json:"sleep_missing_mass"`

	// Positive controls of joint structure, each ½[KL(W₁‖W₂′) + KL(W₂′‖W₁)]
	// with W₂′ the second wake half shuffled: PairShuffle with its z rows
	// permuted against its x rows (breaks the x–z pairing; needs units of
	// both), IndepShuffle with every unit permuted on its own (the product
	// of the marginals). Far above Control, the estimator sees the joint
	// structure that a mismatch of it would need; at Control, it cannot.
	PairShuffle  float64 `json:"kl_pair_shuffle"`
	IndepShuffle float64 `json:"kl_independent_units"`
	// Information is the plug-in mutual information in bits between the
	// drawn x units' and z units' patterns in all wake samples, minus the
	// same after permuting z against x (its bias): whether the drawn
	// latents carry information about the drawn pixels.
	Information float64 `json:"xz_information_bits"`
	// Other is the specificity control (when other stimuli are given):
	// ½[KL(O₁‖S₁) + KL(O₂‖S₂)] for wake activity on the other stimuli.
	Other float64 `json:"kl_other_sleep,omitempty"`
	// The phase-label permutation null of KL(W₁‖S₁): mean and standard
	// deviation of KL(A‖B) over random splits of W₁ ∪ S₁ into two halves,
	// the z-score of the observed value against it and the permutation
	// p-value (1 + #{null ≥ observed})/(1 + permutations).
	NullMean float64 `json:"perm_null_mean,omitempty"`
	NullSD   float64 `json:"perm_null_sd,omitempty"`
	PermZ    float64 `json:"perm_z,omitempty"`
	PermP    float64 `json:"perm_p,omitempty"`
}

// MissingMass returns the Good–Turing estimate of the probability mass of
// the patterns that the sample counted in h has not seen: the fraction of
// samples whose pattern occurs exactly once (Good 1953). Near 1, nearly every
// pattern is new and the histograms resolve little: KL estimates then sit at
// the control's level whatever the distributions, and fewer units or more
// samples are needed to tell them apart.
func MissingMass(h Histogram) float64 {
	n1 := 0
	for _, c := range h {
		if c == 1 {
			n1++
		}
	}
	return float64(n1) / float64(h.Total())
}

// AlignmentResult holds Alignment's numbers.
type AlignmentResult struct {
	Options   AlignmentOptions `json:"options"`
	HalfN     int              `json:"half_n"`        // samples in each half
	EligibleX int              `json:"eligible_x"`    // pixels the x units were drawn from
	WakeSleep Stat             `json:"kl_wake_sleep"` // KL(wake‖sleep), bits
	SleepWake Stat             `json:"kl_sleep_wake"` // KL(sleep‖wake), bits
	// Control is the noise floor: the same estimate between the two halves
	// of the wake samples (symmetrised). SleepControl is that between the
	// two halves of the sleep samples.
	Control      Stat `json:"kl_control_wake"`
	SleepControl Stat `json:"kl_control_sleep"`
	// Good–Turing missing mass of a half (see MissingMass), over draws.
	WakeMissing  Stat   `json:"wake_missing_mass"`
	SleepMissing Stat   `json:"sleep_missing_mass"`
	Draws        []Draw `json:"draws"`
	// Over draws: the positive controls, the information of the drawn
	// latents, the specificity control (HasOther) and the permutation
	// z-score and p-value of each draw.
	PairShuffle  Stat `json:"kl_pair_shuffle"`
	IndepShuffle Stat `json:"kl_independent_units"`
	Information  Stat `json:"xz_information_bits"`
	HasOther     bool `json:"has_other,omitempty"`
	Other        Stat `json:"kl_other_sleep"`
	PermZ        Stat `json:"perm_z"`
	PermP        Stat `json:"perm_p"`
	// Frequencies of the first draw's patterns, for the scatter plot of
	// Fig. 3D: wake half 1 against sleep half 1, and wake half 1 against
	// wake half 2 (the control). A pattern absent from one side has
	// frequency 0 there.
	Scatter, ControlScatter FrequencyPairs `json:"-"`
}

// Resolved reports whether the halves of both phases leave a missing mass
// below MaxMissingMass, so that the KL estimates can tell distributions
// apart.
func (a *AlignmentResult) Resolved() bool {
	return a.WakeMissing.Mean < MaxMissingMass && a.SleepMissing.Mean < MaxMissingMass
}

// FrequencyPairs are the relative frequencies of each pattern seen in either
// of two samples: A[i] in the first, B[i] in the second.
type FrequencyPairs struct {
	A, B []float64
	N    int // samples on each side
}

func frequencyPairs(a, b Histogram) FrequencyPairs {
	na, nb := float64(a.Total()), float64(b.Total())
	keys := make([]Pattern, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	fp := FrequencyPairs{N: a.Total()}
	for _, k := range keys {
		fp.A = append(fp.A, float64(a[k])/na)
		fp.B = append(fp.B, float64(b[k])/nb)
	}
	return fp
}

// ErrTooFewUnits is returned when fewer units are eligible than a draw needs.
var ErrTooFewUnits = errors.New("too few eligible units")

// EligibleX returns the x units (pixels) that Alignment draws from given the
// wake data x [N, X]: all of them for UnitsUniform; for UnitsActive those
// whose rounded value differs from its most common value in at least a
// fraction minActive of the rows.
func EligibleX(x *tensor.Tensor, choice string, minActive float64) []int {
	n, d := x.Dim(0), x.Dim(1)
	var units []int
	for j := 0; j < d; j++ {
		if choice == UnitsUniform {
			units = append(units, j)
			continue
		}
		counts := map[int64]int{}
		mode := 0
		for i := 0; i < n; i++ {
			q := quantize(x.At(i*d + j))
			counts[q]++
			mode = max(mode, counts[q])
		}
		if float64(n-mode) >= minActive*float64(n) {
			units = append(units, j)
		}
	}
	return units
}

// Alignment compares the wake and sleep joint distributions over quantized
// activity patterns, after Berkes et al. (2011) as in Fig. 3D:
//
//  1. Round x and z to the nearest integer (see Pattern).
//
//  2. Split each phase's samples at random into two halves of h samples,
//     h = ⌊min(N_wake, N_sleep)/2⌋: wake W₁, W₂ and sleep S₁, S₂.
//
//  3. For each of Draws seeded draws, pick XUnits units of x (among EligibleX)
//     and ZUnits units of z (uniformly), without replacement, and count
//     patterns over these units in each half. Then, in bits (KLBits, with
//     smoothing Alpha):
//
//     KL(wake‖sleep) = ½[KL(W₁‖S₁) + KL(W₂‖S₂)]
//     KL(sleep‖wake) = ½[KL(S₁‖W₁) + KL(S₂‖W₂)]
//     control        = ½[KL(W₁‖W₂) + KL(W₂‖W₁)]   (two samples of one distribution)
//     sleep control  = ½[KL(S₁‖S₂) + KL(S₂‖S₁)]
//
//  4. Report the mean and standard deviation of each over the draws.
//
// Every estimate compares two samples of exactly h, so the control is the
// floor that KL(wake‖sleep) would show if the two distributions were equal:
// an alignment is as good as the estimator can tell when KL(wake‖sleep) is
// within the control's spread. How much the estimator can tell at all depends
// on how well h samples cover the patterns: see MissingMass, reported per
// phase. With 8 + 8 units and z ~ N(0, I) (about 2 bits per rounded latent)
// most patterns occur once in 5,000 samples; fewer units resolve more.
//
// Controls (see Draw): the x–z pairing and independent-units shuffles of a
// wake half, the information of the drawn latents about the drawn pixels,
// the phase-label permutation null (o.Permutations), and, given other (at
// most one: wake activity on stimuli of another set, at least 2h samples),
// the specificity control.
func Alignment(wake, sleep Phase, o AlignmentOptions, other ...Phase) (*AlignmentResult, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if wake.X == nil || sleep.X == nil || wake.X.Dim(1) != sleep.X.Dim(1) {
		return nil, errors.New("alignment: wake and sleep x must be [N, X] with the same X")
	}
	if o.ZUnits > 0 && (wake.Z == nil || sleep.Z == nil || wake.Z.Dim(1) != sleep.Z.Dim(1)) {
		return nil, errors.New("alignment: wake and sleep z must be [N, Z] with the same Z")
	}
	h := min(wake.N(), sleep.N()) / 2
	if h < 1 {
		return nil, fmt.Errorf("alignment: %d wake and %d sleep samples: need at least 2 of each", wake.N(), sleep.N())
	}
	eligible := EligibleX(wake.X, o.Choice, o.MinActive)
	if len(eligible) < o.XUnits {
		return nil, fmt.Errorf("alignment: %w: %d x units wanted, %d pixels eligible (%s choice, min active %g)",
			ErrTooFewUnits, o.XUnits, len(eligible), o.Choice, o.MinActive)
	}
	zDim := 0
	if wake.Z != nil {
		zDim = wake.Z.Dim(1)
	}
	if zDim < o.ZUnits {
		return nil, fmt.Errorf("alignment: %w: %d z units wanted, z has %d", ErrTooFewUnits, o.ZUnits, zDim)
	}

	if len(other) > 1 {
		return nil, errors.New("alignment: at most one set of other stimuli")
	}
	var oth *Phase
	var o1, o2 []int
	if len(other) == 1 {
		oth = &other[0]
		if oth.X == nil || oth.X.Dim(1) != wake.X.Dim(1) || (o.ZUnits > 0 && (oth.Z == nil || oth.Z.Dim(1) != wake.Z.Dim(1))) {
			return nil, errors.New("alignment: other stimuli must have the shapes of wake")
		}
		if oth.N() < 2*h {
			return nil, fmt.Errorf("alignment: %d samples of other stimuli: need %d (two halves of %d)", oth.N(), 2*h, h)
		}
	}

	splitRNG := rand.New(rand.NewPCG(o.Seed, 0x5917))
	wp := mnist.Permutation(splitRNG, wake.N())
	sp := mnist.Permutation(splitRNG, sleep.N())
	w1, w2 := wp[:h], wp[h:2*h]
	s1, s2 := sp[:h], sp[h:2*h]
	if oth != nil {
		op := mnist.Permutation(splitRNG, oth.N())
		o1, o2 = op[:h], op[h:2*h]
	}

	res := &AlignmentResult{Options: o, HalfN: h, EligibleX: len(eligible), HasOther: oth != nil}
	ctlRNG := rand.New(rand.NewPCG(o.Seed, 0x5A0F))
	var pair, indep, info, othKL, pz, pp []float64
	unitRNG := rand.New(rand.NewPCG(o.Seed, 0xD4A3))
	var ws, sw, ctl, sctl, wm, sm []float64
	for d := 0; d < o.Draws; d++ {
		xu := pick(unitRNG, eligible, o.XUnits)
		zu := pick(unitRNG, seq(zDim), o.ZUnits)
		wPat := Patterns(wake.X, wake.Z, xu, zu)
		sPat := Patterns(sleep.X, sleep.Z, xu, zu)
		hw1, hw2 := Count(subset(wPat, w1)), Count(subset(wPat, w2))
		hs1, hs2 := Count(subset(sPat, s1)), Count(subset(sPat, s2))
		a := o.Alpha
		dr := Draw{
			XUnits:        xu,
			ZUnits:        zu,
			WakeSleep:     (KLBits(hw1, hs1, a) + KLBits(hw2, hs2, a)) / 2,
			SleepWake:     (KLBits(hs1, hw1, a) + KLBits(hs2, hw2, a)) / 2,
			Control:       (KLBits(hw1, hw2, a) + KLBits(hw2, hw1, a)) / 2,
			SleepControl:  (KLBits(hs1, hs2, a) + KLBits(hs2, hs1, a)) / 2,
			WakePatterns:  len(Count(wPat)),
			SleepPatterns: len(Count(sPat)),
			WakeMissing:   (MissingMass(hw1) + MissingMass(hw2)) / 2,
			SleepMissing:  (MissingMass(hs1) + MissingMass(hs2)) / 2,
		}
		codes := unitCodes(wake, xu, zu)
		w2codes := make([][]Pattern, len(codes))
		for u, c := range codes {
			w2codes[u] = subset(c, w2)
		}
		ident := seq(h)
		if len(xu) > 0 && len(zu) > 0 {
			perm := mnist.Permutation(ctlRNG, h)
			var ps [][]int
			for u := range codes {
				if u < len(xu) {
					ps = append(ps, ident)
				} else {
					ps = append(ps, perm)
				}
			}
			dr.PairShuffle = symKL(hw1, Count(joinCodes(w2codes, ps)), a)
			dr.Information = information(codes[:len(xu)], codes[len(xu):], ctlRNG)
		}
		var ps [][]int
		for range codes {
			ps = append(ps, mnist.Permutation(ctlRNG, h))
		}
		dr.IndepShuffle = symKL(hw1, Count(joinCodes(w2codes, ps)), a)
		if oth != nil {
			oPat := Patterns(oth.X, oth.Z, xu, zu)
			dr.Other = (KLBits(Count(subset(oPat, o1)), hs1, a) + KLBits(Count(subset(oPat, o2)), hs2, a)) / 2
			othKL = append(othKL, dr.Other)
		}
		if o.Permutations > 0 {
			dr.NullMean, dr.NullSD, dr.PermZ, dr.PermP = permutationNull(subset(wPat, w1), subset(sPat, s1), KLBits(hw1, hs1, a), o.Permutations, a, ctlRNG)
			pz, pp = append(pz, dr.PermZ), append(pp, dr.PermP)
		}
		pair, indep, info = append(pair, dr.PairShuffle), append(indep, dr.IndepShuffle), append(info, dr.Information)
		res.Draws = append(res.Draws, dr)
		ws, sw = append(ws, dr.WakeSleep), append(sw, dr.SleepWake)
		ctl, sctl = append(ctl, dr.Control), append(sctl, dr.SleepControl)
		wm, sm = append(wm, dr.WakeMissing), append(sm, dr.SleepMissing)
		if d == 0 {
			res.Scatter = frequencyPairs(hw1, hs1)
			res.ControlScatter = frequencyPairs(hw1, hw2)
		}
	}
	res.WakeSleep, res.SleepWake = statOf(ws), statOf(sw)
	res.Control, res.SleepControl = statOf(ctl), statOf(sctl)
	res.WakeMissing, res.SleepMissing = statOf(wm), statOf(sm)
	res.PairShuffle, res.IndepShuffle, res.Information = statOf(pair), statOf(indep), statOf(info)
	if oth != nil {
		res.Other = statOf(othKL)
	}
	if o.Permutations > 0 {
		res.PermZ, res.PermP = statOf(pz), statOf(pp)
	}
	return res, nil
}

func symKL(a, b Histogram, alpha float64) float64 {
	return (KLBits(a, b, alpha) + KLBits(b, a, alpha)) / 2
}

// unitCodes returns, per drawn unit (x units, then z units), the code of
// every sample's rounded value: the pattern of that unit alone.
func unitCodes(p Phase, xu, zu []int) [][]Pattern {
	var out [][]Pattern
	for _, u := range xu {
		out = append(out, Patterns(p.X, nil, []int{u}, nil))
	}
	for _, u := range zu {
		out = append(out, Patterns(p.X, p.Z, nil, []int{u}))
	}
	return out
}

// joinCodes returns the patterns whose unit u takes sample perms[u][i]'s
// code at row i (the identity for every unit gives Patterns' own).
func joinCodes(codes [][]Pattern, perms [][]int) []Pattern {
	n := len(perms[0])
	out := make([]Pattern, n)
	var b []byte
	for i := 0; i < n; i++ {
		b = b[:0]
		for u, c := range codes {
			b = append(b, c[perms[u][i]]...)
		}
		out[i] = Pattern(b)
	}
	return out
}

// entropyBits returns the plug-in entropy in bits of the patterns' histogram.
func entropyBits(ps []Pattern) float64 {
	n := float64(len(ps))
	var counts []int
	for _, c := range Count(ps) {
		counts = append(counts, c)
	}
	sort.Ints(counts) // a fixed order of summation: the same bits every run
	hb := 0.0
	for _, c := range counts {
		q := float64(c) / n
		hb -= q * math.Log2(q)
	}
	return hb
}

// information returns the plug-in mutual information between the patterns
// of the units xc and zc, minus its value after permuting the z samples
// (the plug-in estimator's bias at this sample size and support).
func information(xc, zc [][]Pattern, rng *rand.Rand) float64 {
	n := len(xc[0])
	id := seq(n)
	perm := mnist.Permutation(rng, n)
	same := func(k int, p []int) [][]int {
		out := make([][]int, k)
		for i := range out {
			out[i] = p
		}
		return out
	}
	px := joinCodes(xc, same(len(xc), id))
	pz := joinCodes(zc, same(len(zc), id))
	mi := func(p []int) float64 {
		joint := joinCodes(append(append([][]Pattern{}, xc...), zc...), append(same(len(xc), id), same(len(zc), p)...))
		return entropyBits(px) + entropyBits(pz) - entropyBits(joint)
	}
	return mi(id) - mi(perm)
}

// permutationNull returns the mean and standard deviation of KL(A‖B) over
// k random splits of the pooled patterns a ∪ b into halves of their sizes,
// the z-score of observed against it (its spread floored at 1e-9 bits, so
// that a null without spread gives a finite z) and the permutation p-value.
func permutationNull(a, b []Pattern, observed float64, k int, alpha float64, rng *rand.Rand) (mean, sd, z, p float64) {
	pool := append(append([]Pattern(nil), a...), b...)
	null := make([]float64, k)
	ge := 0
	for r := range null {
		perm := mnist.Permutation(rng, len(pool))
		ha, hb := Histogram{}, Histogram{}
		for i, j := range perm {
			if i < len(a) {
				ha[pool[j]]++
			} else {
				hb[pool[j]]++
			}
		}
		null[r] = KLBits(ha, hb, alpha)
		if null[r] >= observed {
			ge++
		}
	}
	st := statOf(null)
	z = (observed - st.Mean) / math.Max(st.Std, 1e-9)
	return st.Mean, st.Std, z, float64(1+ge) / float64(1+k)
}

// pick returns k distinct elements of from, chosen uniformly by rng, in
// ascending order. It uses mnist.Permutation, whose algorithm is fixed here
// (unlike rand.Perm's), so a seed picks the same units on every Go version.
func pick(rng *rand.Rand, from []int, k int) []int {
	perm := mnist.Permutation(rng, len(from))
	out := make([]int, k)
	for i := range out {
		out[i] = from[perm[i]]
	}
	sort.Ints(out)
	return out
}

func subset(ps []Pattern, idx []int) []Pattern {
	out := make([]Pattern, len(idx))
	for i, j := range idx {
		out[i] = ps[j]
	}
	return out
}
