package tensor

import "golang.org/x/sys/cpu"

// useAVX selects the assembly kernels of binary_amd64.s for float32 rows.
// They use AVX only (no FMA), so they round as the Go loops do.
var useAVX = cpu.X86.HasAVX

//go:noescape
func addVV32(d, a, b *float32, n int)

//go:noescape
func subVV32(d, a, b *float32, n int)

//go:noescape
func mulVV32(d, a, b *float32, n int)

//go:noescape
func divVV32(d, a, b *float32, n int)

//go:noescape
func addVS32(d, a *float32, n int, y float32)

//go:noescape
func subVS32(d, a *float32, n int, y float32)

//go:noescape
func mulVS32(d, a *float32, n int, y float32)

//go:noescape
func divVS32(d, a *float32, n int, y float32)

//go:noescape
func subSV32(d, b *float32, n int, x float32)

//go:noescape
func divSV32(d, b *float32, n int, x float32)

//go:noescape
func affine32(d, a *float32, n int, s, c float32)

//go:noescape
func square32(d, a *float32, n int)

//go:noescape
func relu32(d, a *float32, n int)

//go:noescape
func step32(d, a *float32, n int)

// simpleUnaryAsm computes x², ReLU or its step (x > 0 ? 1 : 0) of a into
// d in assembly, bit for bit as the Go loops, and reports whether it did.
func simpleUnaryAsm(op UnaryOp, d, a []float32) bool {
	n := len(d)
	if !useAVX || n == 0 {
		return false
	}
	a = a[:n]
	switch op {
	case OpSquare:
		square32(&d[0], &a[0], n)
	case OpReLU:
		relu32(&d[0], &a[0], n)
	case OpStep:
		step32(&d[0], &a[0], n)
	default:
		return false
	}
	return true
}

//go:noescape
func leaky32(d, a, y *float32, n int, s float32)

// leakyAsm sets d[i] = y[i] > 0 ? a[i] : s·a[i] in assembly, bit for bit as
// leakyReLU32 (y = a) and leakyGrad32 (a = g); false without AVX.
func leakyAsm(d, a, y []float32, s float32) bool {
	n := len(d)
	if !useAVX || n == 0 {
		return false
	}
	a, y = a[:n], y[:n]
	leaky32(&d[0], &a[0], &y[0], n, s)
	return true
}

//go:noescape
func fill32(d *float32, n int, v float32)

// fillAsm sets every element of d to v in assembly; false without AVX.
func fillAsm(d []float32, v float32) bool {
	if !useAVX || len(d) == 0 {
		return false
	}
	fill32(&d[0], len(d), v)
	return true
}

//go:noescape
func sum32(x *float32, n int) float64

// sumAsm returns the float64 sum of x in assembly (partial sums in parallel,
// so the rounding differs from a running sum at float64's last bits); false
// without AVX.
func sumAsm(x []float32) (float64, bool) {
	if !useAVX || len(x) == 0 {
		return 0, false
	}
	return sum32(&x[0], len(x)), true
}

// binRowAsm is binRow for float32 rows of the four arithmetic ops, in
// assembly; it reports false (and does nothing) for the comparisons, for
// two broadcast operands, or without AVX.
func binRowAsm(op BinaryOp, d, a, b []float32, sa, sb int) bool {
	n := len(d)
	if !useAVX || op > OpDiv || n == 0 {
		return false
	}
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:n], b[:n]
		switch op {
		case OpAdd:
			addVV32(&d[0], &a[0], &b[0], n)
		case OpSub:
			subVV32(&d[0], &a[0], &b[0], n)
		case OpMul:
			mulVV32(&d[0], &a[0], &b[0], n)
		default:
			divVV32(&d[0], &a[0], &b[0], n)
		}
	case sa == 1 && sb == 0:
		a = a[:n]
		switch op {
		case OpAdd:
			addVS32(&d[0], &a[0], n, b[0])
		case OpSub:
			subVS32(&d[0], &a[0], n, b[0])
		case OpMul:
			mulVS32(&d[0], &a[0], n, b[0])
		default:
			divVS32(&d[0], &a[0], n, b[0])
		}
	case sa == 0 && sb == 1:
		b = b[:n]
		switch op {
		case OpAdd:
			addVS32(&d[0], &b[0], n, a[0]) // x + b[i] = b[i] + x exactly
		case OpSub:
			subSV32(&d[0], &b[0], n, a[0])
		case OpMul:
			mulVS32(&d[0], &b[0], n, a[0])
		default:
			divSV32(&d[0], &b[0], n, a[0])
		}
	default:
		return false
	}
	return true
}

// affineAsm is affineKernel for float32 in assembly; false without AVX.
func affineAsm(d, a []float32, s, c float32) bool {
	n := len(d)
	if !useAVX || n == 0 {
		return false
	}
	a = a[:n]
	affine32(&d[0], &a[0], n, s, c)
	return true
}

//go:noescape
func normGradRow32(d, gr, y *float32, n int, b, a, r float32)

// normGradRowAsm sets d[i] = ((g[i] − y[i]·b) − a)·r in one pass of
// assembly, bit for bit the four binRow32 passes it replaces
// (normalizeGradKernel); false without AVX.
func normGradRowAsm(d, g, y []float32, b, a, r float32) bool {
	n := len(d)
	if !useAVX || n == 0 {
		return false
	}
	g, y = g[:n], y[:n]
	normGradRow32(&d[0], &g[0], &y[0], n, b, a, r)
	return true
}

//go:noescape
func sumDot32(x, y *float32, n int) (sx, sxy float64)

// sumDotAsm returns Σ x (as sumAsm sums it) and Σ x·y in float64, in one
// pass of assembly with sixteen partial sums each; false without AVX.
func sumDotAsm(x, y []float32) (sx, sxy float64, ok bool) {
	if !useAVX || len(x) == 0 {
		return 0, 0, false
	}
	y = y[:len(x)]
	sx, sxy = sumDot32(&x[0], &y[0], len(x))
	return sx, sxy, true
}
