package tensor

import (
	"fmt"
	"math"
)

// Float is the constraint of the element types the kernels are written for.
type Float interface{ ~float32 | ~float64 }

// UnaryOp names an elementwise function of one argument.
type UnaryOp int

const (
	OpNeg UnaryOp = iota
	OpExp
	OpLog
	OpSqrt
	OpSquare
	OpSoftplus // log(1 + e^x), computed stably
	OpSigmoid  // 1 / (1 + e^-x)
	OpTanh     //
	OpReLU     // max(x, 0)
	OpStep     // 1 where x > 0, else 0: the derivative of ReLU
	OpAbs      //
	OpSign     // -1, 0 or 1
	OpReciprocal
)

// Unary applies op elementwise and returns a new tensor.
func Unary(op UnaryOp, x *Tensor) *Tensor {
	out := New(x.dtype, x.shape...)
	if x.dtype == Float32 {
		unaryKernel(op, out.f32, x.f32)
	} else {
		unaryKernel(op, out.f64, x.f64)
	}
	return out
}

func unaryKernel[T Float](op UnaryOp, d, a []T) {
	a = a[:len(d)]
	switch op {
	case OpNeg:
		for i, v := range a {
			d[i] = -v
		}
	case OpExp:
		for i, v := range a {
			d[i] = T(math.Exp(float64(v)))
		}
	case OpLog:
		for i, v := range a {
			d[i] = T(math.Log(float64(v)))
		}
	case OpSqrt:
		for i, v := range a {
			d[i] = T(math.Sqrt(float64(v)))
		}
	case OpSquare:
		for i, v := range a {
			d[i] = v * v
		}
	case OpSoftplus:
		for i, v := range a {
			f := float64(v)
			d[i] = T(math.Max(f, 0) + math.Log1p(math.Exp(-math.Abs(f))))
		}
	case OpSigmoid:
		for i, v := range a {
			f := float64(v)
			if f >= 0 {
				d[i] = T(1 / (1 + math.Exp(-f)))
			} else {
				e := math.Exp(f)
				d[i] = T(e / (1 + e))
			}
		}
	case OpTanh:
		for i, v := range a {
			d[i] = T(math.Tanh(float64(v)))
		}
	case OpReLU:
		for i, v := range a {
			if v > 0 {
				d[i] = v
			} else {
				d[i] = 0
			}
		}
	case OpStep:
		for i, v := range a {
			if v > 0 {
				d[i] = 1
			} else {
				d[i] = 0
			}
		}
	case OpAbs:
		for i, v := range a {
			if v < 0 {
				d[i] = -v
			} else {
				d[i] = v
			}
		}
	case OpSign:
		for i, v := range a {
			switch {
			case v > 0:
				d[i] = 1
			case v < 0:
				d[i] = -1
			default:
				d[i] = 0
			}
		}
	case OpReciprocal:
		for i, v := range a {
			d[i] = 1 / v
		}
	default:
		panic(fmt.Sprintf("tensor: unknown unary op %d", op))
	}
}

// Pow returns x^p elementwise for a constant exponent p.
func Pow(x *Tensor, p float64) *Tensor {
	out := New(x.dtype, x.shape...)
	if x.dtype == Float32 {
		powKernel(out.f32, x.f32, p)
	} else {
		powKernel(out.f64, x.f64, p)
	}
	return out
}

func powKernel[T Float](d, a []T, p float64) {
	switch p {
	case 1:
		copy(d, a)
	case 2:
		for i, v := range a {
			d[i] = v * v
		}
	case 0.5:
		for i, v := range a {
			d[i] = T(math.Sqrt(float64(v)))
		}
	default:
		for i, v := range a {
			d[i] = T(math.Pow(float64(v), p))
		}
	}
}

// Affine returns s*x + c elementwise.
func Affine(x *Tensor, s, c float64) *Tensor {
	out := New(x.dtype, x.shape...)
	if x.dtype == Float32 {
		affineKernel(out.f32, x.f32, float32(s), float32(c))
	} else {
		affineKernel(out.f64, x.f64, s, c)
	}
	return out
}

func affineKernel[T Float](d, a []T, s, c T) {
	for i, v := range a {
		d[i] = s*v + c
	}
}

// LeakySlope returns 1 where x > 0 and slope elsewhere: the derivative of
// LeakyReLU with that slope. LeakyReLU(x) itself is x * LeakySlope(x).
func LeakySlope(x *Tensor, slope float64) *Tensor {
	out := New(x.dtype, x.shape...)
	if x.dtype == Float32 {
		leakyKernel(out.f32, x.f32, float32(slope))
	} else {
		leakyKernel(out.f64, x.f64, slope)
	}
	return out
}

func leakyKernel[T Float](d, a []T, s T) {
	for i, v := range a {
		if v > 0 {
			d[i] = 1
		} else {
			d[i] = s
		}
	}
}

// LeakyReLU returns x where x > 0 and slope*x elsewhere.
func LeakyReLU(x *Tensor, slope float64) *Tensor {
	out := New(x.dtype, x.shape...)
	if x.dtype == Float32 {
		leakyReLUKernel(out.f32, x.f32, float32(slope))
	} else {
		leakyReLUKernel(out.f64, x.f64, slope)
	}
	return out
}

func leakyReLUKernel[T Float](d, a []T, s T) {
	for i, v := range a {
		if v > 0 {
			d[i] = v
		} else {
			d[i] = s * v
		}
	}
}

// Round returns x rounded to the nearest integer, halves away from zero.
func Round(x *Tensor) *Tensor {
	out := New(x.dtype, x.shape...)
	for i := 0; i < x.Len(); i++ {
		out.SetAt(i, math.Round(x.At(i)))
	}
	return out
}
