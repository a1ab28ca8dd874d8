package tensor

import (
	"fmt"
	"math"
)

// NormKind selects the groups whose statistics Normalize takes, for x of
// shape [A, C, …] (rank ≥ 2, axis 1 the channel axis).
type NormKind int

const (
	// NormPerChannel is batch normalisation's: each channel c over the
	// batch and all positions, centred:
	// y = (x − μ_c)·r_c, r_c = 1/√(mean((x − μ_c)²) + ε), r [1, C, 1, …].
	NormPerChannel NormKind = iota
	// NormPerPosition is pixel normalisation's: each sample and position
	// over the channels, not centred:
	// y = x·r, r = 1/√(mean_c x² + ε), r [A, 1, …].
	NormPerPosition
)

func (k NormKind) String() string {
	switch k {
	case NormPerChannel:
		return "per-channel"
	case NormPerPosition:
		return "per-position"
	}
	return fmt.Sprintf("NormKind(%d)", int(k))
}

// NormStatShape returns the shape of Normalize's r for x of the given shape:
// [1, C, 1, …] per channel, [A, 1, …] per position.
func NormStatShape(shape []int, kind NormKind) []int {
	out := make([]int, len(shape))
	for i := range out {
		out[i] = 1
	}
	if kind == NormPerChannel {
		out[1] = shape[1]
	} else {
		copy(out, shape)
		out[1] = 1
	}
	return out
}

// NormGroupSize is the number of values in each group of Normalize: A·I per
// channel (I the product of the axes after the channel axis), C per position.
func NormGroupSize(shape []int, kind NormKind) int {
	if kind == NormPerChannel {
		return Size(shape) / shape[1]
	}
	return shape[1]
}

// normDims checks x's shape and kind and returns A, C and I (the product of
// the axes after 1).
func normDims(shape []int, kind NormKind) (a, c, i int) {
	if len(shape) < 2 || (kind != NormPerChannel && kind != NormPerPosition) {
		panic(fmt.Sprintf("tensor: %v normalisation of shape %v (rank ≥ 2 needed)", kind, shape))
	}
	a, c = shape[0], shape[1]
	i = 1
	for _, d := range shape[2:] {
		i *= d
	}
	if NormGroupSize(shape, kind) == 0 {
		panic(fmt.Sprintf("tensor: %v normalisation of empty groups, shape %v", kind, shape))
	}
	return a, c, i
}

// Normalize returns y, the normalised x, and r, the reciprocal root mean
// square of each group (see NormKind), in one pass for the statistics and
// one for y (two for per-channel statistics: mean, then the mean square of
// the deviations).
// Panics on a rank below 2, an empty group or eps < 0.
func Normalize(x *Tensor, kind NormKind, eps float64) (y, r *Tensor) {
	y, r, _, _ = NormalizeMoments(x, kind, eps)
	return y, r
}

// NormalizeMoments is Normalize that also returns each group's mean (zero
// per position: those groups are not centred) and mean square deviation
// (the biased variance; the mean square per position), of r's shape.
func NormalizeMoments(x *Tensor, kind NormKind, eps float64) (y, r, mean, variance *Tensor) {
	a, c, n := normDims(x.shape, kind)
	if eps < 0 || math.IsNaN(eps) {
		panic(fmt.Sprintf("tensor: normalisation with eps %g", eps))
	}
	stat := NormStatShape(x.shape, kind)
	y = newUninit(x.dtype, x.shape...)
	r = newUninit(x.dtype, stat...)
	mean, variance = New(x.dtype, stat...), newUninit(x.dtype, stat...)
	if x.dtype == Float32 {
		normalizeKernel(kind, y.f32, r.f32, mean.f32, variance.f32, x.f32, a, c, n, eps)
	} else {
		normalizeKernel(kind, y.f64, r.f64, mean.f64, variance.f64, x.f64, a, c, n, eps)
	}
	return y, r, mean, variance
}

// NormalizeGrad returns the adjoint of Normalize's x given the adjoint g of
// its output y and its r (with r held as a function of x):
//
//	per channel:  x̄ = r·(g − mean(g) − y·mean(g·y))
//	per position: x̄ = r·(g − y·mean(g·y))
//
// means over each group. It is linear in g and self-adjoint in g (for fixed
// y, r). Panics on mismatched shapes or types.
func NormalizeGrad(g, y, r *Tensor, kind NormKind) *Tensor {
	mustSameType(g, y)
	mustSameType(g, r)
	a, c, n := normDims(g.shape, kind)
	if !SameShape(g.shape, y.shape) || !SameShape(r.shape, NormStatShape(g.shape, kind)) {
		panic(fmt.Sprintf("tensor: %v NormalizeGrad of g %v, y %v, r %v", kind, g.shape, y.shape, r.shape))
	}
	out := newUninit(g.dtype, g.shape...)
	if g.dtype == Float32 {
		normalizeGradKernel(kind, out.f32, g.f32, y.f32, r.f32, a, c, n)
	} else {
		normalizeGradKernel(kind, out.f64, g.f64, y.f64, r.f64, a, c, n)
	}
	return out
}

// The kernels take each group's sums in float64 (per channel) or in T
// across the channels (per position, as SumTo over axis 1 adds rows), and
// compute the outputs a row of I values at a time with the row kernels of
// Binary (the AVX ones for float32), so that each value is rounded as the
// unfused ops round it.

func normalizeKernel[T Float](kind NormKind, y, r, mean, variance, x []T, a, c, n int, eps float64) {
	if kind == NormPerChannel {
		m := float64(a * n)
		parallelBlocks(c, a*n, func(c0, c1 int) {
			for ch := c0; ch < c1; ch++ {
				var s float64
				for b := 0; b < a; b++ {
					s += sum4(x[(b*c+ch)*n : (b*c+ch+1)*n])
				}
				mu := s / m
				var q float64
				for b := 0; b < a; b++ {
					q += sumSqDev(x[(b*c+ch)*n:(b*c+ch+1)*n], mu)
				}
				r[ch], mean[ch], variance[ch] = T(1/math.Sqrt(q/m+eps)), T(mu), T(q/m)
				for b := 0; b < a; b++ {
					o := (b*c + ch) * n
					d := y[o : o+n]
					rowOpT(OpSub, d, x[o:o+n], mean[ch:ch+1], 1, 0)
					rowOpT(OpMul, d, d, r[ch:ch+1], 1, 0)
				}
			}
		})
		return
	}
	parallelBlocks(a, c*n, func(a0, a1 int) {
		tmp := make([]T, n)
		for b := a0; b < a1; b++ {
			rb, vb := r[b*n:(b+1)*n], variance[b*n:(b+1)*n]
			clear(vb)
			for ch := 0; ch < c; ch++ {
				v := x[(b*c+ch)*n : (b*c+ch+1)*n]
				groupDotRow(vb, tmp, v, v)
			}
			for i, s := range vb {
				vb[i] = T(float64(s) / float64(c))
				rb[i] = T(1 / math.Sqrt(float64(vb[i])+eps))
			}
			for ch := 0; ch < c; ch++ {
				o := (b*c + ch) * n
				if n < minRowOp {
					d, v := y[o:o+n], x[o:o+n]
					for i, rv := range rb[:len(d)] {
						d[i] = v[i] * rv
					}
					continue
				}
				rowOpT(OpMul, y[o:o+n], x[o:o+n], rb, 1, 1)
			}
		}
	})
}

func normalizeGradKernel[T Float](kind NormKind, out, g, y, r []T, a, c, n int) {
	if kind == NormPerChannel {
		m := float64(a * n)
		parallelBlocks(c, a*n, func(c0, c1 int) {
			for ch := c0; ch < c1; ch++ {
				var sg, sgy float64
				for b := 0; b < a; b++ {
					o := (b*c + ch) * n
					s, sy := sumDot(g[o:o+n], y[o:o+n], fusedNormRows)
					sg += s
					sgy += sy
				}
				st := []T{T(sg / m), T(sgy / m)}
				for b := 0; b < a; b++ {
					o := (b*c + ch) * n
					d := out[o : o+n]
					if d32, ok := any(d).([]float32); ok && fusedNormRows && normGradRowAsm(d32, any(g[o:o+n]).([]float32),
						any(y[o:o+n]).([]float32), float32(st[1]), float32(st[0]), float32(r[ch])) {
						continue // the four passes below in one
					}
					rowOpT(OpMul, d, y[o:o+n], st[1:], 1, 0)
					rowOpT(OpSub, d, g[o:o+n], d, 1, 1)
					rowOpT(OpSub, d, d, st[:1], 1, 0)
					rowOpT(OpMul, d, d, r[ch:ch+1], 1, 0)
				}
			}
		})
		return
	}
	parallelBlocks(a, c*n, func(a0, a1 int) {
		tmp, mgy := make([]T, n), make([]T, n)
		for b := a0; b < a1; b++ {
			clear(mgy)
			for ch := 0; ch < c; ch++ {
				o := (b*c + ch) * n
				groupDotRow(mgy, tmp, g[o:o+n], y[o:o+n])
			}
			for i, s := range mgy {
				mgy[i] = T(float64(s) / float64(c))
			}
			rb := r[b*n : (b+1)*n]
			for ch := 0; ch < c; ch++ {
				o := (b*c + ch) * n
				d := out[o : o+n]
				if n < minRowOp {
					gv, yv := g[o:o+n], y[o:o+n]
					for i, m := range mgy[:len(d)] {
						d[i] = (gv[i] - yv[i]*m) * rb[i]
					}
					continue
				}
				rowOpT(OpMul, d, y[o:o+n], mgy, 1, 1)
				rowOpT(OpSub, d, g[o:o+n], d, 1, 1)
				rowOpT(OpMul, d, d, rb, 1, 1)
			}
		}
	})
}

// minRowOp is the row length from which the per-position kernels call the
// row kernels; shorter rows (the channels of a [B, C] or 2×2 layer) take
// plain loops, which round the same.
const minRowOp = 32

// rowOpT is binRow32 (assembly where there is one) for float32, binRow
// otherwise.
func rowOpT[T Float](op BinaryOp, d, a, b []T, sa, sb int) {
	if d32, ok := any(d).([]float32); ok {
		binRow32(op, d32, any(a).([]float32), any(b).([]float32), sa, sb)
		return
	}
	binRow(op, d, a, b, sa, sb)
}

// sum4 is the float64 sum of x: the AVX kernel for float32, else four
// running sums.
func sum4[T Float](x []T) float64 {
	if x32, ok := any(x).([]float32); ok {
		if s, ok := sumAsm(x32); ok {
			return s
		}
	}
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
		s2 += float64(x[i+2])
		s3 += float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// sumSqDev is Σ (x − mu)² in float64, four running sums.
func sumSqDev[T Float](x []T, mu float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		d0, d1 := float64(x[i])-mu, float64(x[i+1])-mu
		d2, d3 := float64(x[i+2])-mu, float64(x[i+3])-mu
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := float64(x[i]) - mu
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// fusedNormRows selects NormalizeGrad's one-pass assembly for its
// per-channel sums (sumDot) and rows (normGradRowAsm); a benchmark switches
// it off to time the passes they replace.
var fusedNormRows = true

// sumDot is (sum4(x), Σ x·y) in float64: for float32 with fused set, in
// one pass of assembly (the dot product with sixteen partial sums, as
// sum4's), else sum4 and dotRow.
func sumDot[T Float](x, y []T, fused bool) (sx, sxy float64) {
	if x32, ok := any(x).([]float32); ok && fused {
		if sx, sxy, ok := sumDotAsm(x32, any(y).([]float32)); ok {
			return sx, sxy
		}
	}
	return sum4(x), dotRow(x, y)
}

// dotRow is Σ x·y in float64, four running sums.
func dotRow[T Float](x, y []T) float64 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i]) * float64(y[i])
		s1 += float64(x[i+1]) * float64(y[i+1])
		s2 += float64(x[i+2]) * float64(y[i+2])
		s3 += float64(x[i+3]) * float64(y[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i]) * float64(y[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// groupDotRow adds x·y elementwise into acc (tmp a scratch row).
func groupDotRow[T Float](acc, tmp, x, y []T) {
	if len(acc) < minRowOp {
		y = y[:len(x)]
		for i, v := range x[:len(acc)] {
			acc[i] += v * y[i]
		}
		return
	}
	rowOpT(OpMul, tmp, x, y, 1, 1)
	rowOpT(OpAdd, acc, acc, tmp, 1, 1)
}
