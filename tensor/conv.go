package tensor

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/wakesleep/wakesleep/blas"
)

// This file holds 2-D convolution (cross-correlation, as PyTorch's conv2d)
// and its two adjoints. All three share one lowering, im2col:
//
//	col[(c,u,v), (b,i,j)] = x[b, c, i·s − p + u, j·s − p + v]   (0 outside x)
//
// a [C·KH·KW, B·Ho·Wo] matrix, so that the convolution of the whole batch is one
// matrix product with the weight seen as a [O, C·KH·KW] matrix:
//
//	Conv2d:           y'  = W · col              [O, B·Ho·Wo]
//	Conv2dTranspose:  col = Wᵀ · g', then col2im  (the scatter-add adjoint of im2col)
//	Conv2dWeightGrad: W̄   = g' · colᵀ            [O, C·KH·KW]
//
// where y' and g' are [B, O, Ho, Wo] tensors with their first two axes swapped.
// Putting the batch inside one GEMM lets the BLAS use all cores; the
// lowering itself is split over the batch across GOMAXPROCS goroutines.

// ConvParams holds the stride and zero padding of a 2-D convolution, the same
// along height and width. The zero value is stride 1 without padding.
type ConvParams struct {
	Stride int // 0 means 1
	Pad    int // zeros added on each side
}

// StrideOrOne returns the stride, with 0 read as 1.
func (p ConvParams) StrideOrOne() int {
	if p.Stride == 0 {
		return 1
	}
	return p.Stride
}

// ConvOutSize returns the output length of a convolution along one axis:
//
//	⌊(in + 2·pad − k) / stride⌋ + 1
//
// Panics if the parameters are negative or the padded input is shorter than k.
func ConvOutSize(in, k int, p ConvParams) int {
	s := p.StrideOrOne()
	if s < 0 || p.Pad < 0 || k <= 0 || in < 0 {
		panic(fmt.Sprintf("tensor: convolution of length %d with kernel %d, stride %d, pad %d", in, k, p.Stride, p.Pad))
	}
	n := in + 2*p.Pad - k
	if n < 0 {
		panic(fmt.Sprintf("tensor: kernel %d longer than padded input %d+2·%d", k, in, p.Pad))
	}
	return n/s + 1
}

// convGeom is the full geometry of one convolution y = conv(x, w).
type convGeom struct {
	b, c, h, w int // x [B, C, H, W]
	o, kh, kw  int // w [O, C, KH, KW]
	ho, wo     int // y [B, O, Ho, Wo]
	s, pad     int
}

func (g *convGeom) k() int { return g.c * g.kh * g.kw } // rows of col
func (g *convGeom) n() int { return g.b * g.ho * g.wo } // columns of col

func newConvGeom(b, c, h, w, o, kh, kw int, p ConvParams) *convGeom {
	return &convGeom{
		b: b, c: c, h: h, w: w, o: o, kh: kh, kw: kw,
		ho: ConvOutSize(h, kh, p), wo: ConvOutSize(w, kw, p),
		s: p.StrideOrOne(), pad: p.Pad,
	}
}

func mustRank4(what string, t *Tensor) {
	if t.Rank() != 4 {
		panic(fmt.Sprintf("tensor: %s needs a rank-4 tensor, got shape %v", what, t.shape))
	}
}

// Conv2d returns the cross-correlation of x with w (PyTorch's conv2d without
// bias, groups or dilation):
//
//	y[b, o, i, j] = Σ_{c,u,v} x[b, c, i·s − p + u, j·s − p + v] · w[o, c, u, v]
//
//	x [B, C, H, W], w [O, C, KH, KW] → y [B, O, Ho, Wo],  Ho = ConvOutSize(H, KH, p)
//
// Panics if the shapes or types do not fit.
func Conv2d(x, w *Tensor, p ConvParams) *Tensor {
	mustSameType(x, w)
	mustRank4("Conv2d input", x)
	mustRank4("Conv2d weight", w)
	if x.shape[1] != w.shape[1] {
		panic(fmt.Sprintf("tensor: Conv2d of input %v with weight %v", x.shape, w.shape))
	}
	g := newConvGeom(x.shape[0], x.shape[1], x.shape[2], x.shape[3], w.shape[0], w.shape[2], w.shape[3], p)
	y := New(x.dtype, g.b, g.o, g.ho, g.wo)
	if x.dtype == Float32 {
		conv2dKernel(y.f32, x.f32, w.f32, g)
	} else {
		conv2dKernel(y.f64, x.f64, w.f64, g)
	}
	return y
}

// Conv2dTranspose is the adjoint of Conv2d with respect to its input: for
// every x of shape [B, C, h, wd],
//
//	⟨Conv2d(x, w, p), g⟩ = ⟨x, Conv2dTranspose(g, w, p, h, wd)⟩
//
//	g [B, O, Ho, Wo], w [O, C, KH, KW] → [B, C, h, wd]
//
// It is also PyTorch's conv_transpose2d of g with a weight laid out as
// [in = O, out = C, KH, KW]. The output size is an argument because several
// input sizes give the same Ho (PyTorch's output_padding picks one). Panics if
// ConvOutSize(h, KH, p) ≠ Ho or ConvOutSize(wd, KW, p) ≠ Wo, or on mismatched
// shapes or types.
func Conv2dTranspose(g, w *Tensor, p ConvParams, h, wd int) *Tensor {
	mustSameType(g, w)
	mustRank4("Conv2dTranspose input", g)
	mustRank4("Conv2dTranspose weight", w)
	geo := newConvGeom(g.shape[0], w.shape[1], h, wd, w.shape[0], w.shape[2], w.shape[3], p)
	if g.shape[1] != geo.o || g.shape[2] != geo.ho || g.shape[3] != geo.wo {
		panic(fmt.Sprintf("tensor: Conv2dTranspose of %v with weight %v to %d×%d (stride %d, pad %d) needs input [%d %d %d %d]",
			g.shape, w.shape, h, wd, geo.s, geo.pad, geo.b, geo.o, geo.ho, geo.wo))
	}
	dx := New(g.dtype, geo.b, geo.c, h, wd)
	if g.dtype == Float32 {
		conv2dTransposeKernel(dx.f32, g.f32, w.f32, geo)
	} else {
		conv2dTransposeKernel(dx.f64, g.f64, w.f64, geo)
	}
	return dx
}

// Conv2dWeightGrad is the adjoint of Conv2d with respect to its weight: for
// every w of shape [O, C, kh, kw],
//
//	⟨Conv2d(x, w, p), g⟩ = ⟨w, Conv2dWeightGrad(x, g, p, kh, kw)⟩
//
//	x [B, C, H, W], g [B, O, Ho, Wo] → [O, C, kh, kw]
//
// Panics if g's spatial size is not the output size of x under (kh, kw, p),
// or on mismatched shapes or types.
func Conv2dWeightGrad(x, g *Tensor, p ConvParams, kh, kw int) *Tensor {
	mustSameType(x, g)
	mustRank4("Conv2dWeightGrad input", x)
	mustRank4("Conv2dWeightGrad output gradient", g)
	geo := newConvGeom(x.shape[0], x.shape[1], x.shape[2], x.shape[3], g.shape[1], kh, kw, p)
	if g.shape[0] != geo.b || g.shape[2] != geo.ho || g.shape[3] != geo.wo {
		panic(fmt.Sprintf("tensor: Conv2dWeightGrad of input %v and gradient %v with kernel %d×%d (stride %d, pad %d)",
			x.shape, g.shape, kh, kw, geo.s, geo.pad))
	}
	dw := New(x.dtype, geo.o, geo.c, kh, kw)
	if x.dtype == Float32 {
		conv2dWeightGradKernel(dw.f32, x.f32, g.f32, geo)
	} else {
		conv2dWeightGradKernel(dw.f64, x.f64, g.f64, geo)
	}
	return dw
}

func conv2dKernel[T Float](y, x, w []T, g *convGeom) {
	k, n := g.k(), g.n()
	col := getBuf[T](k * n)
	im2col(col, x, g)
	if g.b == 1 { // [O, 1, HW] is already y's layout
		gemm(false, false, g.o, n, k, w, k, col, n, y, n)
		putBuf(col)
		return
	}
	yp := getBuf[T](g.o * n)
	gemm(false, false, g.o, n, k, w, k, col, n, yp, n) // [O, K]·[K, N]
	swapBatchChannel(y, yp, g.o, g.b, g.ho*g.wo)       // [O, B, HW] → [B, O, HW]
	putBuf(col)
	putBuf(yp)
}

// batchSecond returns gy [B, O, HW] as [O, B, HW]. When it had to copy
// (B > 1), the copy is a scratch buffer and scratch is true: the caller
// releases it with putBuf.
func batchSecond[T Float](gy []T, g *convGeom) (gp []T, scratch bool) {
	if g.b == 1 {
		return gy, false
	}
	gp = getBuf[T](len(gy))
	swapBatchChannel(gp, gy, g.b, g.o, g.ho*g.wo)
	return gp, true
}

func conv2dTransposeKernel[T Float](dx, gy, w []T, g *convGeom) {
	k, n := g.k(), g.n()
	gp, scratch := batchSecond(gy, g) // [O, N]
	col := getBuf[T](k * n)
	gemm(true, false, k, n, g.o, w, k, gp, n, col, n) // [O, K]ᵀ·[O, N]
	if scratch {
		putBuf(gp)
	}
	col2im(dx, col, g)
	putBuf(col)
}

func conv2dWeightGradKernel[T Float](dw, x, gy []T, g *convGeom) {
	k, n := g.k(), g.n()
	gp, scratch := batchSecond(gy, g) // [O, N]
	col := getBuf[T](k * n)
	im2col(col, x, g)
	gemm(false, true, g.o, k, n, gp, n, col, n, dw, k) // [O, N]·[K, N]ᵀ
	if scratch {
		putBuf(gp)
	}
	putBuf(col)
}

// swapBatchChannel copies src [a, b, inner] to dst [b, a, inner].
func swapBatchChannel[T Float](dst, src []T, a, b, inner int) {
	for i := 0; i < a; i++ {
		for j := 0; j < b; j++ {
			copy(dst[(j*a+i)*inner:(j*a+i+1)*inner], src[(i*b+j)*inner:(i*b+j+1)*inner])
		}
	}
}

// tapOffsets returns, for each output position (i, j) in row-major order,
// the offset i·s·Wp + j·s of its top-left kernel tap in the zero-padded
// input plane [H + 2·pad, W + 2·pad]. Tap (u, v) of position k then sits at
// offset u·Wp + v + off[k] of the padded plane, with no bounds to test.
func (g *convGeom) tapOffsets() []int {
	wp := g.w + 2*g.pad
	off := make([]int, 0, g.ho*g.wo)
	for i := 0; i < g.ho; i++ {
		for j := 0; j < g.wo; j++ {
			off = append(off, i*g.s*wp+j*g.s)
		}
	}
	return off
}

// im2col fills every element of col [C·KH·KW, B·Ho·Wo] (padding included, so
// col need not be zeroed) from x [B, C, H, W].
func im2col[T Float](col, x []T, g *convGeom) {
	off := g.tapOffsets()
	parallelBatch(g.b, g.k()*len(off), func(b0, b1 int) { im2colRange(col, x, *g, off, b0, b1) })
}

// im2colRange does im2col for batch items [b0, b1). Each input plane is first
// copied into a zero-bordered plane (small enough for L1), so the gather
// needs no padding tests. The geometry is passed by value so that its fields
// stay in registers.
func im2colRange[T Float](col, x []T, g convGeom, off []int, b0, b1 int) {
	C, H, W, KH, KW, pad := g.c, g.h, g.w, g.kh, g.kw, g.pad
	n, hw, ohw := g.n(), H*W, len(off)
	wp := W + 2*pad
	var plane []T
	if pad > 0 {
		plane = make([]T, (H+2*pad)*wp) // the border stays zero
	}
	for b := b0; b < b1; b++ {
		for c := 0; c < C; c++ {
			xc := x[(b*C+c)*hw : (b*C+c+1)*hw]
			if pad > 0 {
				for ih := 0; ih < H; ih++ {
					copy(plane[(ih+pad)*wp+pad:], xc[ih*W:(ih+1)*W])
				}
			} else {
				plane = xc
			}
			for u := 0; u < KH; u++ {
				for v := 0; v < KW; v++ {
					r := (c*KH+u)*KW + v
					gather(col[r*n+b*ohw:r*n+(b+1)*ohw], plane[u*wp+v:], off)
				}
			}
		}
	}
}

// col2im adds every element of col [C·KH·KW, B·Ho·Wo] into the place of dx
// [B, C, H, W] that im2col read it from. Every element of dx is written (dx
// need not be zeroed).
func col2im[T Float](dx, col []T, g *convGeom) {
	off := g.tapOffsets()
	parallelBatch(g.b, g.k()*len(off), func(b0, b1 int) { col2imRange(dx, col, *g, off, b0, b1) })
}

// col2imRange does col2im for batch items [b0, b1), accumulating each plane
// in a zero-bordered scratch plane and then copying out its interior.
func col2imRange[T Float](dx, col []T, g convGeom, off []int, b0, b1 int) {
	C, H, W, KH, KW, pad := g.c, g.h, g.w, g.kh, g.kw, g.pad
	n, hw, ohw := g.n(), H*W, len(off)
	wp := W + 2*pad
	plane := make([]T, (H+2*pad)*wp)
	for b := b0; b < b1; b++ {
		for c := 0; c < C; c++ {
			clear(plane)
			for u := 0; u < KH; u++ {
				for v := 0; v < KW; v++ {
					r := (c*KH+u)*KW + v
					scatterAdd(plane[u*wp+v:], col[r*n+b*ohw:r*n+(b+1)*ohw], off)
				}
			}
			dxc := dx[(b*C+c)*hw : (b*C+c+1)*hw]
			for ih := 0; ih < H; ih++ {
				copy(dxc[ih*W:(ih+1)*W], plane[(ih+pad)*wp+pad:])
			}
		}
	}
}

// gather sets d[k] = src[off[k]]. It is kept out of the loops that call it
// so that its few variables live in registers.
//
//go:noinline
func gather[T Float](d, src []T, off []int) {
	d = d[:len(off)]
	for k, o := range off {
		d[k] = src[o]
	}
}

// scatterAdd adds s[k] to dst[off[k]].
//
//go:noinline
func scatterAdd[T Float](dst, s []T, off []int) {
	s = s[:len(off)]
	for k, o := range off {
		dst[o] += s[k]
	}
}

// minParallelWork is the number of elements (per batch item times batch) below
// which the lowering runs on one goroutine: a goroutine costs about a
// microsecond, copying 32k floats several.
const minParallelWork = 1 << 15

// parallelBatch calls f over [0, n) split into up to GOMAXPROCS contiguous
// chunks, one goroutine each, when the work (elements per item) pays for it.
func parallelBatch(n, perItem int, f func(b0, b1 int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers < 2 || n*perItem < minParallelWork {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := 1; i < workers; i++ {
		wg.Add(1)
		go func(b0, b1 int) {
			defer wg.Done()
			f(b0, b1)
		}(i*n/workers, (i+1)*n/workers)
	}
	f(0, n/workers)
	wg.Wait()
}

// gemm computes C = op(A)·op(B) (alpha 1, beta 0: C's old contents are
// ignored) through the blas package.
func gemm[T Float](tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int) {
	if k == 0 { // BLAS would scale C by beta = 0, and C may hold NaNs from scratch
		clear(c[:m*ldc])
		return
	}
	switch a := any(a).(type) {
	case []float32:
		blas.Gemm32(tA, tB, m, n, k, 1, a, lda, any(b).([]float32), ldb, 0, any(c).([]float32), ldc)
	case []float64:
		blas.Gemm64(tA, tB, m, n, k, 1, a, lda, any(b).([]float64), ldb, 0, any(c).([]float64), ldc)
	default:
		panic("tensor: gemm on an unnamed float type")
	}
}

// Scratch buffers for the lowered matrices, which are large (a CIFAR-sized
// layer's col is 8 MB) and short-lived: reusing them spares the allocator
// and the garbage collector. Contents are garbage on Get.
var scratch32, scratch64 sync.Pool

func scratchPool[T Float]() *sync.Pool {
	var zero T
	if _, ok := any(zero).(float32); ok {
		return &scratch32
	}
	return &scratch64
}

func getBuf[T Float](n int) []T {
	if b, ok := scratchPool[T]().Get().(*[]T); ok && cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]T, n)
}

func putBuf[T Float](b []T) {
	scratchPool[T]().Put(&b)
}
