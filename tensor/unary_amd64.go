package tensor

import "golang.org/x/sys/cpu"

// useAVX2FMA selects the assembly of unary_amd64.s for the float32
// exponential family.
var useAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func exp32x(d, a *float32, n int)

//go:noescape
func sigmoid32x(d, a *float32, n int)

//go:noescape
func softplus32x(d, a *float32, n int)

//go:noescape
func tanh32x(d, a *float32, n int)

func unaryX(op UnaryOp, d, a *float32, n int) {
	switch op {
	case OpExp:
		exp32x(d, a, n)
	case OpSigmoid:
		sigmoid32x(d, a, n)
	case OpSoftplus:
		softplus32x(d, a, n)
	default:
		tanh32x(d, a, n)
	}
}

// unaryAsm computes exp, sigmoid, softplus or tanh of a into d in
// assembly and reports whether it did (false for other ops, or without
// AVX2 and FMA). The kernels take four floats a turn; the last few go
// through a buffer, so every element is computed the same way.
func unaryAsm(op UnaryOp, d, a []float32) bool {
	if !useAVX2FMA || (op != OpExp && op != OpSigmoid && op != OpSoftplus && op != OpTanh) {
		return false
	}
	n := len(d)
	a = a[:n]
	n4 := n &^ 3
	if n4 > 0 {
		unaryX(op, &d[0], &a[0], n4)
	}
	if n4 < n {
		var in, out [4]float32
		copy(in[:], a[n4:])
		unaryX(op, &out[0], &in[0], 4)
		copy(d[n4:], out[:n-n4])
	}
	return true
}
