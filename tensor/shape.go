package tensor

import (
	"fmt"
	"math"
)

// Transpose returns x with its axes permuted: out axis i is x axis perm[i].
func Transpose(x *Tensor, perm ...int) *Tensor {
	n := len(x.shape)
	if len(perm) != n {
		panic(fmt.Sprintf("tensor: permutation %v for shape %v", perm, x.shape))
	}
	seen := make([]bool, n)
	shape := make([]int, n)
	for i, p := range perm {
		if p < 0 || p >= n || seen[p] {
			panic(fmt.Sprintf("tensor: bad permutation %v", perm))
		}
		seen[p] = true
		shape[i] = x.shape[p]
	}
	out := newUninit(x.dtype, shape...)
	// Strides of x, in x's axis order.
	xs := make([]int, n)
	s := 1
	for i := n - 1; i >= 0; i-- {
		xs[i] = s
		s *= x.shape[i]
	}
	// Stride in x of each output axis.
	ps := make([]int, n)
	for i, p := range perm {
		ps[i] = xs[p]
	}
	if x.dtype == Float32 {
		permuteKernel(out.f32, x.f32, shape, ps)
	} else {
		permuteKernel(out.f64, x.f64, shape, ps)
	}
	return out
}

func permuteKernel[T Float](d, x []T, shape, strides []int) {
	n := len(shape)
	if len(d) == 0 {
		return
	}
	if n == 0 {
		d[0] = x[0]
		return
	}
	last := n - 1
	row, rs := shape[last], strides[last]
	idx := make([]int, last)
	src, off := 0, 0
	for {
		dr := d[off : off+row]
		if rs == 1 {
			copy(dr, x[src:src+row])
		} else {
			j := src
			for i := range dr {
				dr[i] = x[j]
				j += rs
			}
		}
		off += row
		i := last - 1
		for ; i >= 0; i-- {
			idx[i]++
			src += strides[i]
			if idx[i] < shape[i] {
				break
			}
			src -= strides[i] * shape[i]
			idx[i] = 0
		}
		if i < 0 {
			return
		}
	}
}

// InversePerm returns the permutation that undoes perm.
func InversePerm(perm []int) []int {
	inv := make([]int, len(perm))
	for i, p := range perm {
		inv[p] = i
	}
	return inv
}

// outerInner splits shape around axis: the product of the axes before it and
// of those after it.
func outerInner(shape []int, axis int) (outer, inner int) {
	outer, inner = 1, 1
	for i := 0; i < axis; i++ {
		outer *= shape[i]
	}
	for i := axis + 1; i < len(shape); i++ {
		inner *= shape[i]
	}
	return
}

// NormAxis resolves a possibly negative axis. Panics if out of range.
func NormAxis(axis, rank int) int {
	if axis < 0 {
		axis += rank
	}
	if axis < 0 || axis >= rank {
		panic(fmt.Sprintf("tensor: axis %d out of range for rank %d", axis, rank))
	}
	return axis
}

// Concat joins tensors along axis. All other dimensions must agree.
func Concat(axis int, xs ...*Tensor) *Tensor {
	if len(xs) == 0 {
		panic("tensor: Concat of nothing")
	}
	axis = NormAxis(axis, len(xs[0].shape))
	shape := append([]int(nil), xs[0].shape...)
	shape[axis] = 0
	for _, x := range xs {
		mustSameType(xs[0], x)
		if len(x.shape) != len(shape) {
			panic(fmt.Sprintf("tensor: Concat of ranks %d and %d", len(shape), len(x.shape)))
		}
		for i := range shape {
			if i != axis && x.shape[i] != xs[0].shape[i] {
				panic(fmt.Sprintf("tensor: Concat of %v and %v on axis %d", xs[0].shape, x.shape, axis))
			}
		}
		shape[axis] += x.shape[axis]
	}
	out := newUninit(xs[0].dtype, shape...)
	outer, inner := outerInner(shape, axis)
	pos := 0
	for _, x := range xs {
		w := x.shape[axis] * inner
		parallelBlocks(outer, w, func(o0, o1 int) {
			for o := o0; o < o1; o++ {
				dst := o*shape[axis]*inner + pos
				if out.dtype == Float32 {
					copy(out.f32[dst:dst+w], x.f32[o*w:(o+1)*w])
				} else {
					copy(out.f64[dst:dst+w], x.f64[o*w:(o+1)*w])
				}
			}
		})
		pos += w
	}
	return out
}

// Slice returns x[..., start:end, ...] along axis (a copy).
func Slice(x *Tensor, axis, start, end int) *Tensor {
	axis = NormAxis(axis, len(x.shape))
	if start < 0 || end > x.shape[axis] || start > end {
		panic(fmt.Sprintf("tensor: slice [%d:%d] of axis %d of %v", start, end, axis, x.shape))
	}
	shape := append([]int(nil), x.shape...)
	shape[axis] = end - start
	out := newUninit(x.dtype, shape...)
	outer, inner := outerInner(x.shape, axis)
	w := (end - start) * inner
	parallelBlocks(outer, w, func(o0, o1 int) {
		for o := o0; o < o1; o++ {
			src := (o*x.shape[axis] + start) * inner
			if x.dtype == Float32 {
				copy(out.f32[o*w:(o+1)*w], x.f32[src:src+w])
			} else {
				copy(out.f64[o*w:(o+1)*w], x.f64[src:src+w])
			}
		}
	})
	return out
}

// Unslice places x at [start : start+x.Dim(axis)] along axis of a zero tensor
// whose axis has length full: the adjoint of Slice.
func Unslice(x *Tensor, axis, start, full int) *Tensor {
	axis = NormAxis(axis, len(x.shape))
	shape := append([]int(nil), x.shape...)
	shape[axis] = full
	if start < 0 || start+x.shape[axis] > full {
		panic(fmt.Sprintf("tensor: unslice %v at %d into length %d", x.shape, start, full))
	}
	out := New(x.dtype, shape...)
	outer, inner := outerInner(shape, axis)
	w := x.shape[axis] * inner
	parallelBlocks(outer, w, func(o0, o1 int) {
		for o := o0; o < o1; o++ {
			dst := (o*full + start) * inner
			if x.dtype == Float32 {
				copy(out.f32[dst:dst+w], x.f32[o*w:(o+1)*w])
			} else {
				copy(out.f64[dst:dst+w], x.f64[o*w:(o+1)*w])
			}
		}
	})
	return out
}

// MaxAxis returns the maximum of x along axis (kept as a size-1 axis) and a
// mask of x's shape with a single 1 at the first maximum of each slice.
func MaxAxis(x *Tensor, axis int) (max, mask *Tensor) {
	axis = NormAxis(axis, len(x.shape))
	shape := append([]int(nil), x.shape...)
	shape[axis] = 1
	max = New(x.dtype, shape...)
	mask = New(x.dtype, x.shape...)
	outer, inner := outerInner(x.shape, axis)
	n := x.shape[axis]
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			best, bi := math.Inf(-1), -1
			for k := 0; k < n; k++ {
				v := x.At((o*n+k)*inner + in)
				if v > best || bi < 0 {
					best, bi = v, k
				}
			}
			max.SetAt(o*inner+in, best)
			mask.SetAt((o*n+bi)*inner+in, 1)
		}
	}
	return max, mask
}

// Sum returns the sum of all elements as a 0-d tensor.
func Sum(x *Tensor) *Tensor { return SumTo(x, nil) }

// Dot returns the sum of a*b over all elements, accumulated in float64.
func Dot(a, b *Tensor) float64 {
	if a.Len() != b.Len() {
		panic("tensor: Dot of different sizes")
	}
	var s float64
	for i := 0; i < a.Len(); i++ {
		s += a.At(i) * b.At(i)
	}
	return s
}
