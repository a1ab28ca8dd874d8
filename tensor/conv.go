package tensor

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

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
// The batch is taken a chunk of items at a time (see colChunkElems): each
// chunk's columns are lowered and multiplied while they are in cache. In
// float32, where the build's sgemm takes its B operand through a packing
// function (blas.Gemm32Packed: the pure-Go build on AVX2), Conv2d and
// Conv2dWeightGrad never write col: they pack its panels straight from the
// input (conv_implicit.go), with the same results to the bit.

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
	y := newUninit(x.dtype, g.b, g.o, g.ho, g.wo) // every element written
	if x.dtype == Float32 {
		conv2dKernel32(y.f32, x.f32, w.f32, g)
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
	dx := newUninit(g.dtype, geo.b, geo.c, h, wd) // every element written
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
	dw := newUninit(x.dtype, geo.o, geo.c, kh, kw) // every element written
	if x.dtype == Float32 {
		conv2dWeightGradKernel32(dw.f32, x.f32, g.f32, geo)
	} else {
		conv2dWeightGradKernel(dw.f64, x.f64, g.f64, geo)
	}
	return dw
}

// Lowering in chunks. The lowered matrix of a whole batch is large (8 MiB
// for x [64, 32, 16, 16] under a 4×4 kernel), and it need not exist all at
// once: the batch is lowered a chunk of items at a time, each chunk
// multiplied right away while it is still in cache:
//
//	Conv2d:           y_chunk' = W · col_chunk,  then swapped to [nb, O, HW]
//	Conv2dTranspose:  col_chunk = Wᵀ · g_chunk', then col2im into dx_chunk
//	Conv2dWeightGrad: W̄ += g_chunk' · col_chunkᵀ
//
// One goroutine runs the chunks in order, so the BLAS sees one product at a
// time and uses every core for it (OpenBLAS serialises concurrent callers
// by spinning); the lowering of each chunk is split over the batch items
// across GOMAXPROCS goroutines.

// colChunkElems is the size aimed at for a chunk of the lowered matrix, in
// elements: 256k float32 are 1 MiB, which stays in the L3 cache next to the
// GEMM's packed panels while giving products large enough to split well.
var colChunkElems = 1 << 18

func (g *convGeom) ohw() int { return g.ho * g.wo }

// chunkItems returns the batch items lowered at once.
func (g *convGeom) chunkItems() int {
	return max(1, min(g.b, colChunkElems/max(1, g.k()*g.ohw())))
}

// padPlane returns the size of a zero-bordered input plane.
func (g *convGeom) padPlane() int { return (g.h + 2*g.pad) * (g.w + 2*g.pad) }

// conv2dKernel32 is conv2dKernel, on the implicit lowering where the
// build's sgemm has it.
func conv2dKernel32(y, x, w []float32, g *convGeom) {
	if implicitGEMM {
		conv2dImplicit(y, x, w, g)
		return
	}
	conv2dKernel(y, x, w, g)
}

func conv2dKernel[T Float](y, x, w []T, g *convGeom) {
	k, ohw, o, bc := g.k(), g.ohw(), g.o, g.chunkItems()
	col := getBuf[T](k * bc * ohw)
	defer putBuf(col)
	var yp []T
	if bc > 1 {
		yp = getBuf[T](o * bc * ohw)
		defer putBuf(yp)
	}
	pl := lowerings[T](g)
	for c0 := 0; c0 < g.b; c0 += bc {
		nb := min(bc, g.b-c0)
		n := nb * ohw
		parallelRanges(nb, k*ohw, len(pl), func(wk, b0, b1 int) {
			im2colChunk(col[:k*n], x, g, c0, nb, b0, b1, pl[wk])
		})
		yc := y[c0*o*ohw : (c0+nb)*o*ohw]
		if nb == 1 { // [O, HW] is already y's layout
			gemm(false, false, o, n, k, w, k, col, n, 0, yc, n)
			continue
		}
		gemm(false, false, o, n, k, w, k, col, n, 0, yp, n) // [O, K]·[K, nb·HW]
		swapBatchChannel(yc, yp[:o*n], o, nb, ohw)          // [O, nb, HW] → [nb, O, HW]
	}
}

// gatherChunk returns gy's items [b0, b0+nb) as [O, nb·HW] in gp (or gy's
// own storage when nb = 1).
func gatherChunk[T Float](gp, gy []T, g *convGeom, b0, nb int) []T {
	o, ohw := g.o, g.ohw()
	src := gy[b0*o*ohw : (b0+nb)*o*ohw]
	if nb == 1 {
		return src
	}
	swapBatchChannel(gp[:o*nb*ohw], src, nb, o, ohw)
	return gp[:o*nb*ohw]
}

func conv2dTransposeKernel[T Float](dx, gy, w []T, g *convGeom) {
	k, ohw, o, bc := g.k(), g.ohw(), g.o, g.chunkItems()
	col := getBuf[T](k * bc * ohw)
	defer putBuf(col)
	var gp []T
	if bc > 1 {
		gp = getBuf[T](o * bc * ohw)
		defer putBuf(gp)
	}
	pl := lowerings[T](g)
	for c0 := 0; c0 < g.b; c0 += bc {
		nb := min(bc, g.b-c0)
		n := nb * ohw
		gc := gatherChunk(gp, gy, g, c0, nb)
		gemm(true, false, k, n, o, w, k, gc, n, 0, col, n) // [O, K]ᵀ·[O, nb·HW]
		parallelRanges(nb, k*ohw, len(pl), func(wk, b0, b1 int) {
			col2imChunk(dx, col[:k*n], g, c0, nb, b0, b1, pl[wk])
		})
	}
}

// conv2dWeightGradKernel32 is conv2dWeightGradKernel, on the implicit
// lowering where the build's sgemm has it.
func conv2dWeightGradKernel32(dw, x, gy []float32, g *convGeom) {
	if implicitGEMM {
		conv2dWeightGradImplicit(dw, x, gy, g)
		return
	}
	conv2dWeightGradKernel(dw, x, gy, g)
}

func conv2dWeightGradKernel[T Float](dw, x, gy []T, g *convGeom) {
	k, ohw, o, bc := g.k(), g.ohw(), g.o, g.chunkItems()
	col := getBuf[T](k * bc * ohw)
	defer putBuf(col)
	var gp []T
	if bc > 1 {
		gp = getBuf[T](o * bc * ohw)
		defer putBuf(gp)
	}
	pl := lowerings[T](g)
	var beta T // the first chunk overwrites dw, the others add to it
	for c0 := 0; c0 < g.b; c0 += bc {
		nb := min(bc, g.b-c0)
		n := nb * ohw
		parallelRanges(nb, k*ohw, len(pl), func(wk, b0, b1 int) {
			im2colChunk(col[:k*n], x, g, c0, nb, b0, b1, pl[wk])
		})
		gc := gatherChunk(gp, gy, g, c0, nb)
		gemm(false, true, o, k, n, gc, n, col, n, beta, dw, k) // [O, nb·HW]·[K, nb·HW]ᵀ
		beta = 1
	}
	if g.b == 0 {
		clear(dw)
	}
}

// swapBatchChannel copies src [a, b, inner] to dst [b, a, inner], the
// blocks src[i] split across goroutines (parallelBlocks).
func swapBatchChannel[T Float](dst, src []T, a, b, inner int) {
	parallelBlocks(a, b*inner, func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			for j := 0; j < b; j++ {
				copy(dst[(j*a+i)*inner:(j*a+i+1)*inner], src[(i*b+j)*inner:(i*b+j+1)*inner])
			}
		}
	})
}

// tapOffsets returns, for each output position (i, j) in row-major order,
// the offset i·s·Wp + j·s of its top-left kernel tap in the zero-padded
// input plane [H + 2·pad, W + 2·pad]; and for each kernel tap (u, v) in
// row-major order its offset u·Wp + v from there. Tap t of position k then
// sits at taps[t] + pos[k] of the padded plane, with no bounds to test.
func (g *convGeom) tapOffsets() (pos, taps []int) {
	wp := g.w + 2*g.pad
	pos = make([]int, 0, g.ohw())
	for i := 0; i < g.ho; i++ {
		for j := 0; j < g.wo; j++ {
			pos = append(pos, i*g.s*wp+j*g.s)
		}
	}
	taps = make([]int, 0, g.kh*g.kw)
	for u := 0; u < g.kh; u++ {
		for v := 0; v < g.kw; v++ {
			taps = append(taps, u*wp+v)
		}
	}
	return pos, taps
}

// lowering is the scratch state of one goroutine lowering planes: a
// zero-bordered plane and the geometry's offset tables.
type lowering[T Float] struct {
	plane     []T // [H + 2p, W + 2p]; the border stays zero
	pos, taps []int
}

func newLowering[T Float](g *convGeom) *lowering[T] {
	pos, taps := g.tapOffsets()
	return &lowering[T]{plane: make([]T, g.padPlane()), pos: pos, taps: taps}
}

// lowerings returns one lowering per goroutine that parallelRanges may start.
func lowerings[T Float](g *convGeom) []*lowering[T] {
	ls := make([]*lowering[T], runtime.GOMAXPROCS(0))
	for i := range ls {
		ls[i] = newLowering[T](g)
	}
	return ls
}

// im2colChunk fills the columns of chunk items [lo, hi) of col
// [C·KH·KW, nb·Ho·Wo] (every element, padding included, so col need not be
// zeroed) from x's items b0+lo … b0+hi−1 of the chunk [b0, b0+nb):
//
//	col[(c,u,v), (b−b0, i, j)] = x[b, c, i·s − p + u, j·s − p + v]   (0 outside x)
//
// Each input plane is first copied into the lowering's zero-bordered plane
// (small enough for L1), so the gather needs no padding tests.
func im2colChunk[T Float](col, x []T, g *convGeom, b0, nb, lo, hi int, l *lowering[T]) {
	C, H, W, pad := g.c, g.h, g.w, g.pad
	ohw, kk := g.ohw(), g.kh*g.kw
	n, hw, wp := nb*ohw, H*W, W+2*pad
	for bi := lo; bi < hi; bi++ {
		for c := 0; c < C; c++ {
			src := x[((b0+bi)*C+c)*hw : ((b0+bi)*C+c+1)*hw]
			if pad > 0 {
				for ih := 0; ih < H; ih++ {
					copy(l.plane[(ih+pad)*wp+pad:], src[ih*W:(ih+1)*W])
				}
				src = l.plane
			}
			gatherPlane(col[c*kk*n+bi*ohw:], n, src, l.taps, l.pos)
		}
	}
}

// gatherPlane sets d[t·n + k] = src[taps[t] + pos[k]] for every kernel tap
// t and output position k: all the rows of col that one input plane fills.
// It is kept out of the loops that call it so that its few variables live
// in registers.
//
// The offsets only grow, so the last tap of the last position bounds them
// all: after that one check the loop reads without bounds tests.
//
//go:noinline
func gatherPlane[T Float](d []T, n int, src []T, taps, pos []int) {
	if len(taps) == 0 || len(pos) == 0 {
		return
	}
	_ = src[taps[len(taps)-1]+pos[len(pos)-1]]
	base := unsafe.Pointer(unsafe.SliceData(src))
	size := unsafe.Sizeof(src[0])
	for t, to := range taps {
		row := d[t*n : t*n+len(pos)]
		p := unsafe.Add(base, uintptr(to)*size)
		for k, o := range pos {
			row[k] = *(*T)(unsafe.Add(p, uintptr(o)*size))
		}
	}
}

// col2imChunk writes into dx's items b0+lo … b0+hi−1 the sum of every
// element of their columns of col [C·KH·KW, nb·Ho·Wo] at the place of dx
// that im2colChunk read it from. Every element of those items is written
// (dx need not be zeroed). Each plane is accumulated in the lowering's
// zero-bordered plane and its interior then copied out.
func col2imChunk[T Float](dx, col []T, g *convGeom, b0, nb, lo, hi int, l *lowering[T]) {
	C, H, W, pad := g.c, g.h, g.w, g.pad
	ohw, kk := g.ohw(), g.kh*g.kw
	n, hw, wp := nb*ohw, H*W, W+2*pad
	for bi := lo; bi < hi; bi++ {
		for c := 0; c < C; c++ {
			dst := dx[((b0+bi)*C+c)*hw : ((b0+bi)*C+c+1)*hw]
			acc := dst
			if pad > 0 {
				acc = l.plane
			}
			clear(acc)
			scatterPlane(acc, col[c*kk*n+bi*ohw:], n, l.taps, l.pos)
			if pad > 0 {
				for ih := 0; ih < H; ih++ {
					copy(dst[ih*W:(ih+1)*W], l.plane[(ih+pad)*wp+pad:])
				}
			}
		}
	}
}

// scatterPlane adds s[t·n + k] to dst[taps[t] + pos[k]]: the adjoint of
// gatherPlane.
//
//go:noinline
func scatterPlane[T Float](dst, s []T, n int, taps, pos []int) {
	if len(taps) == 0 || len(pos) == 0 {
		return
	}
	_ = dst[taps[len(taps)-1]+pos[len(pos)-1]] // bounds every offset, as in gatherPlane
	base := unsafe.Pointer(unsafe.SliceData(dst))
	size := unsafe.Sizeof(dst[0])
	for t, to := range taps {
		row := s[t*n : t*n+len(pos)]
		p := unsafe.Add(base, uintptr(to)*size)
		for k, o := range pos {
			*(*T)(unsafe.Add(p, uintptr(o)*size)) += row[k]
		}
	}
}

// minParallelWork is the number of elements below which a lowering runs on
// one goroutine: a goroutine costs about a microsecond, copying 32k floats
// several.
const minParallelWork = 1 << 15

// parallelRanges splits [0, n) into up to min(GOMAXPROCS, maxWorkers)
// contiguous ranges when the work (elements per item) pays for it, and calls
// f(worker, b0, b1) for each on its own goroutine (the caller's for worker 0).
func parallelRanges(n, perItem, maxWorkers int, f func(worker, b0, b1 int)) {
	workers := min(runtime.GOMAXPROCS(0), maxWorkers, n)
	if workers < 2 || n*perItem < minParallelWork {
		f(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for i := 1; i < workers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			f(i, i*n/workers, (i+1)*n/workers)
		}(i)
	}
	f(0, 0, n/workers)
	wg.Wait()
}

// gemm computes C = op(A)·op(B) + beta·C (alpha 1) through the blas
// package. With beta = 0, C's old contents are ignored (BLAS semantics).
func gemm[T Float](tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if k == 0 { // BLAS would scale C by beta, and C may hold NaNs from scratch
		if beta == 0 {
			clear(c[:m*ldc])
		}
		return
	}
	switch a := any(a).(type) {
	case []float32:
		blas.Gemm32(tA, tB, m, n, k, 1, a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		blas.Gemm64(tA, tB, m, n, k, 1, a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	default:
		panic("tensor: gemm on an unnamed float type")
	}
}

// Scratch buffers for the lowered chunks, reused
// across calls to spare the allocator and the garbage collector. Contents
// are garbage on Get.
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
