package tensor

import (
	"math"
	"testing"
)

// ulpErr32 is |got − want| in units of the float32 spacing at want (the
// subnormal spacing below the normal range); 0 when both are the same
// infinity or both NaN, +Inf when only one is NaN or infinite.
func ulpErr32(got float32, want float64) float64 {
	g := float64(got)
	switch {
	case math.IsNaN(want) || math.IsNaN(g):
		if math.IsNaN(want) && math.IsNaN(g) {
			return 0
		}
		return math.Inf(1)
	case math.Abs(want) > math.MaxFloat32: // overflows float32: must be that infinity
		if g == math.Copysign(math.Inf(1), want) {
			return 0
		}
		return math.Inf(1)
	case math.IsInf(g, 0):
		return math.Inf(1)
	}
	_, e := math.Frexp(want)
	ulp := math.Ldexp(1, max(e-24, -149))
	return math.Abs(g-want) / ulp
}

// TestUnary32Accuracy measures the float32 exp, softplus, sigmoid and tanh,
// the Go functions and unary32 (the assembly where the machine has it),
// against math in float64 at every 4093rd float32 (1.04 million values,
// both signs, subnormals to the largest) and the special values. Each must
// be faithfully rounded (under 1 ulp off); the maxima are logged
// (go test ./tensor -run TestUnary32Accuracy -v): 0.50128 (exp), 0.50110
// (softplus), 0.50078 (sigmoid), 0.50616 (tanh) ulp on both paths.
func TestUnary32Accuracy(t *testing.T) {
	refs := []struct {
		name string
		op   UnaryOp
		got  func(float32) float32
		want func(float64) float64
	}{
		{"exp", OpExp, exp32, math.Exp},
		{"softplus", OpSoftplus, func(v float32) float32 { s, _ := softSig32(v); return s },
			func(f float64) float64 { return math.Max(f, 0) + math.Log1p(math.Exp(-math.Abs(f))) }},
		{"sigmoid", OpSigmoid, func(v float32) float32 { _, s := softSig32(v); return s },
			func(f float64) float64 {
				if f >= 0 {
					return 1 / (1 + math.Exp(-f))
				}
				e := math.Exp(f)
				return e / (1 + e)
			}},
		{"tanh", OpTanh, tanh32, math.Tanh},
	}
	values := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.MaxFloat32, -math.MaxFloat32, 1e-45, -1e-45, 88.72283, 88.72284,
		-87.33654, -103.97208, -103.98, -104, 9.01, -9.01, 1e-4, -1e-4, 0.3465736, -0.3465736}
	for b := uint32(0); b < 0x7f800000; b += 4093 {
		values = append(values, math.Float32frombits(b), math.Float32frombits(b|1<<31))
	}
	vec := make([]float32, len(values))
	for _, r := range refs {
		// The scalar functions, and unary32 on the whole slice: the
		// assembly where there is one (the same functions otherwise).
		unary32(r.op, vec, values)
		for pass, got := range []func(i int) float32{
			func(i int) float32 { return r.got(values[i]) },
			func(i int) float32 { return vec[i] },
		} {
			worst, at := 0.0, float32(0)
			for i, v := range values {
				if e := ulpErr32(got(i), r.want(float64(v))); e > worst || e != e {
					worst, at = e, v
				}
			}
			how := []string{"scalar", "unary32"}[pass]
			t.Logf("%s %s: max error %.5f ulp, at %g", r.name, how, worst, at)
			if !(worst < 1) {
				t.Errorf("%s %s: error %g ulp at %g: not faithfully rounded", r.name, how, worst, at)
			}
		}
	}
	// Signs and exact values that must hold.
	negZero := float32(math.Copysign(0, -1))
	one := func(op UnaryOp, v float32) float32 {
		d := make([]float32, 5) // past the four-float blocks: the tail path too
		unary32(op, d, []float32{v, v, v, v, v})
		return d[4]
	}
	for _, c := range []struct {
		got, want float32
	}{{exp32(0), 1}, {tanh32(negZero), negZero}, {tanh32(0), 0},
		{tanh32(float32(math.Inf(-1))), -1}, {exp32(float32(math.Inf(-1))), 0},
		{one(OpExp, 0), 1}, {one(OpTanh, negZero), negZero}, {one(OpTanh, 0), 0},
		{one(OpTanh, float32(math.Inf(-1))), -1}, {one(OpExp, float32(math.Inf(-1))), 0},
		{one(OpSigmoid, 0), 0.5}, {one(OpSoftplus, float32(math.Inf(-1))), 0}} {
		if math.Float32bits(c.got) != math.Float32bits(c.want) {
			t.Errorf("got %g, want %g", c.got, c.want)
		}
	}
}
