package tensor

import (
	"fmt"

	"github.com/wakesleep/wakesleep/blas"
)

// MatMul returns op(a) @ op(b) over the last two axes, where op transposes
// those two axes when ta (tb) is set. Leading axes are batch axes: they must be
// equal, or one operand must be a plain matrix shared by every batch.
//
//	a [..., M, K] (or [..., K, M] with ta), b [..., K, N] (or [..., N, K] with tb) → [..., M, N]
func MatMul(a, b *Tensor, ta, tb bool) *Tensor {
	mustSameType(a, b)
	if a.Rank() < 2 || b.Rank() < 2 {
		panic(fmt.Sprintf("tensor: MatMul needs matrices, got %v and %v", a.shape, b.shape))
	}
	ar, ac := a.Dim(-2), a.Dim(-1)
	br, bc := b.Dim(-2), b.Dim(-1)
	m, k := ar, ac
	if ta {
		m, k = ac, ar
	}
	k2, n := br, bc
	if tb {
		k2, n = bc, br
	}
	if k != k2 {
		panic(fmt.Sprintf("tensor: MatMul of %v (ta=%v) and %v (tb=%v)", a.shape, ta, b.shape, tb))
	}
	aBatch, bBatch := a.shape[:a.Rank()-2], b.shape[:b.Rank()-2]
	var batch []int
	switch {
	case len(bBatch) == 0:
		batch = aBatch
	case len(aBatch) == 0:
		batch = bBatch
	case SameShape(aBatch, bBatch):
		batch = aBatch
	default:
		panic(fmt.Sprintf("tensor: MatMul batch shapes %v and %v differ", aBatch, bBatch))
	}
	shape := append(append([]int(nil), batch...), m, n)
	out := New(a.dtype, shape...)
	nb := Size(batch)
	// A batch of row-major A against one shared B is a single tall matmul.
	if len(bBatch) == 0 && !ta && nb > 1 {
		m, nb = m*nb, 1
	}
	aStride, bStride := ar*ac, br*bc
	if len(aBatch) == 0 {
		aStride = 0
	}
	if len(bBatch) == 0 {
		bStride = 0
	}
	for i := 0; i < nb; i++ {
		if a.dtype == Float32 {
			blas.Gemm32(ta, tb, m, n, k, 1, a.f32[i*aStride:], ac, b.f32[i*bStride:], bc, 0, out.f32[i*m*n:], n)
		} else {
			blas.Gemm64(ta, tb, m, n, k, 1, a.f64[i*aStride:], ac, b.f64[i*bStride:], bc, 0, out.f64[i*m*n:], n)
		}
	}
	return out
}
