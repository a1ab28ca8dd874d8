//go:build !amd64

package tensor

// Without the amd64 assembly the Go loops do all the work.

func binRowAsm(op BinaryOp, d, a, b []float32, sa, sb int) bool { return false }

func affineAsm(d, a []float32, s, c float32) bool { return false }

func unaryAsm(op UnaryOp, d, a []float32) bool { return false }

func sumAsm(x []float32) (float64, bool) { return 0, false }

func fillAsm(d []float32, v float32) bool { return false }

func simpleUnaryAsm(op UnaryOp, d, a []float32) bool { return false }

func leakyAsm(d, a, y []float32, s float32) bool { return false }

func normGradRowAsm(d, g, y []float32, b, a, r float32) bool { return false }

func sumDotAsm(x, y []float32) (sx, sxy float64, ok bool) { return 0, 0, false }
