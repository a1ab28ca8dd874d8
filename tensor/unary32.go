package tensor

import "math"

// Float32 kernels of the exponential family: exp, sigmoid, softplus and tanh
// of a float32, computed in float64 from one short polynomial instead of
// math.Exp, math.Log1p and math.Tanh, which carry the full float64 accuracy
// that a float32 result throws away. On amd64 with AVX2 and FMA the
// assembly of unary_amd64.s runs the same method four lanes at a time (its
// softplus takes log1p(x) = 2·atanh(x/(2 + x)) by a series instead of
// math.Log); the Go functions below are the fallback and the reference.
//
// expParts reduces f to r = f − k·ln2, |r| ≤ ln2/2, and evaluates e^r − 1 by
// its Taylor series to degree 8, whose remainder is below 6e-10 of e^r − 1
// (0.3466⁸/9!); the float64 arithmetic adds ~1e-15. Each result is then
// rounded to float32 once, so it is within 0.5 ulp + ~1e-8 relative of the
// exact value: a faithful rounding that differs from the correctly rounded
// float32 only at near-ties, by one ulp. TestUnary32Accuracy checks both
// paths against math over a dense grid and the special values (±0, ±Inf,
// NaN, overflow and underflow); the largest errors it measures are 0.5013
// (exp), 0.5011 (softplus), 0.5008 (sigmoid) and 0.5062 (tanh) ulp.
//
// The Go functions are no faster than math's on amd64: the compiler's
// float32-to-float64 conversion keeps a false dependency on its target
// register, which chains the iterations of a loop together.

// expParts returns s = 2^k and p = e^r − 1 with e^f = s·(1 + p), for f
// already clamped to [-110, 100] (NaN passes through into p).
func expParts(f float64) (s, p float64) {
	const (
		log2e = 1.4426950408889634
		ln2   = 0.6931471805599453
		round = 0x1.8p52 // adding it rounds a float64 below 2^51 to an integer
	)
	kf := (f*log2e + round) - round // f/ln2 rounded to an integer
	k := int64(kf)
	r := f - kf*ln2 // kf·ln2's rounding error, |kf| ≤ 159 ulps of ln2, is ~2e-14 absolute
	p = r * (1 + r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040+r*(1.0/40320))))))))
	s = math.Float64frombits(uint64(k+1023) << 52)
	return s, p
}

// clampExp clamps f to [-110, 100], beyond which float32 e^f is 0 or +Inf
// whatever the exact value; NaN is left as it is.
func clampExp(f float64) float64 {
	if f < -110 {
		return -110
	}
	if f > 100 {
		return 100
	}
	return f
}

// exp32 returns e^v.
func exp32(v float32) float32 {
	s, p := expParts(clampExp(float64(v)))
	return float32(s * (1 + p))
}

// softSig32 returns softplus(v) = max(v, 0) + log(1 + e^−|v|) and
// σ(v) = 1/(1 + e^−v) from one exponential, x = e^−|v| ∈ (0, 1].
func softSig32(v float32) (softplus, sigmoid float32) {
	f := float64(v)
	s, p := expParts(clampExp(-math.Abs(f)))
	x := s * (1 + p)
	u := 1 + x
	// log1p(x): log(u) is off by u's rounding, 1.1e-16 absolute, which is
	// too much relative to x when x is tiny; log(u)·x/(u−1) cancels it.
	l := x
	if u != 1 {
		l = math.Log(u) * (x / (u - 1))
	}
	num := x
	if f >= 0 {
		num = 1
	}
	return float32(math.Max(f, 0) + l), float32(num / u)
}

// tanh32 returns tanh v = −m/(m + 2) with m = e^−2|v| − 1, the sign of v
// restored; m comes as s·p + (s − 1) without cancellation for small |v|.
func tanh32(v float32) float32 {
	f := float64(v)
	a := math.Abs(f)
	if a > 20 { // tanh rounds to ±1 in float32 from 9.01 on
		a = 20
	}
	s, p := expParts(-2 * a)
	m := s*p + (s - 1)
	return float32(math.Copysign(-m/(m+2), f))
}

// unary32 computes the float32 ops of the exponential family into d and
// reports whether op was one of them: in the assembly of unary_amd64.s
// where the machine has it (the same method, with fused multiply-adds),
// else with the functions above.
func unary32(op UnaryOp, d, a []float32) bool {
	if unaryAsm(op, d, a) {
		return true
	}
	a = a[:len(d)]
	switch op {
	case OpExp:
		for i, v := range a {
			d[i] = exp32(v)
		}
	case OpSoftplus:
		for i, v := range a {
			d[i], _ = softSig32(v)
		}
	case OpSigmoid:
		for i, v := range a {
			_, d[i] = softSig32(v)
		}
	case OpTanh:
		for i, v := range a {
			d[i] = tanh32(v)
		}
	default:
		return false
	}
	return true
}
