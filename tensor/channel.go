package tensor

import "fmt"

// ChannelAffine returns x·w_c + b_c for each channel c (axis 1) of x
// [A, C, …], then LeakyReLU(slope) of it when act is set (slope 0 is ReLU).
// w and b are [C]; either may be nil (a scale of 1, a shift of 0). Each value
// is rounded as Binary(OpMul, …), Binary(OpAdd, …) and LeakyReLU round it,
// in one pass. Panics on mismatched shapes or types.
func ChannelAffine(x, w, b *Tensor, act bool, slope float64) *Tensor {
	if x.Rank() < 2 {
		panic(fmt.Sprintf("tensor: ChannelAffine of shape %v (rank ≥ 2 needed)", x.shape))
	}
	c := x.shape[1]
	var wv, bv *Tensor
	for _, p := range []struct {
		t    *Tensor
		dest **Tensor
	}{{w, &wv}, {b, &bv}} {
		if p.t == nil {
			continue
		}
		mustSameType(x, p.t)
		if p.t.Rank() != 1 || p.t.shape[0] != c {
			panic(fmt.Sprintf("tensor: ChannelAffine of %v with a parameter of shape %v", x.shape, p.t.shape))
		}
		*p.dest = p.t
	}
	out := newUninit(x.dtype, x.shape...)
	n := 1
	for _, d := range x.shape[2:] {
		n *= d
	}
	if x.dtype == Float32 {
		channelAffineKernel(out.f32, x.f32, f32s(wv), f32s(bv), c, n, act, float32(slope))
	} else {
		channelAffineKernel(out.f64, x.f64, f64s(wv), f64s(bv), c, n, act, slope)
	}
	return out
}

func f32s(t *Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.f32
}

func f64s(t *Tensor) []float64 {
	if t == nil {
		return nil
	}
	return t.f64
}

// channelAffineKernel works a row at a time: rows of C values with the
// vectors w and b when x has rank 2 (n = 1), else rows of n values with
// the scalars w_c and b_c.
func channelAffineKernel[T Float](d, x, w, b []T, c, n int, act bool, slope T) {
	rows, row := len(x)/n, n
	if n == 1 {
		rows, row = len(x)/c, c
	}
	if row == 0 {
		return
	}
	parallelBlocks(rows, row, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			dr, xr := d[r*row:(r+1)*row], x[r*row:(r+1)*row]
			wr, br, s := w, b, 1 // n = 1: the vectors
			if n > 1 {
				ch := r % c
				s = 0 // a scalar per row
				if w != nil {
					wr = w[ch : ch+1]
				}
				if b != nil {
					br = b[ch : ch+1]
				}
			}
			switch {
			case w != nil:
				rowOpT(OpMul, dr, xr, wr, 1, s)
				if b != nil {
					rowOpT(OpAdd, dr, dr, br, 1, s)
				}
			case b != nil:
				rowOpT(OpAdd, dr, xr, br, 1, s)
			default:
				copy(dr, xr)
			}
			if act {
				leakyReLUKernel(dr, dr, slope)
			}
		}
	})
}
