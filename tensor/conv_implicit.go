package tensor

import (
	"runtime"
	"unsafe"

	"github.com/wakesleep/wakesleep/blas"
)

// Implicit lowering (float32, where blas.PackedNative): Conv2d and
// Conv2dWeightGrad hand the product a function that packs the lowered
// matrix's panels straight from the input (blas.Gemm32Packed), instead of
// writing col for the product to read and pack again. The chunks, the
// products and their panels are those of the explicit path, so the results
// are the same to the bit; what goes is one write and one read of col per
// product.
//
// Element (r, q) of col, row r = (c, u, v) and column q = (b, i, j) of a
// chunk, is read at xp[rowOff[r] + colOff[q]], where xp holds the chunk's
// input planes (zero-bordered copies of them when pad > 0):
//
//	rowOff[r] = c·plane + u·Wp + v,   colOff[q] = b·C·plane + i·s·Wp + j·s
//
// Both tables grow strictly, so their last entries bound every offset.

// implicitGEMM reports whether float32 Conv2d and Conv2dWeightGrad use the
// implicit lowering; tests switch it off to compare with the explicit one.
var implicitGEMM = blas.PackedNative()

// implicitSrc is one call's view of the input, one chunk at a time.
type implicitSrc struct {
	g              *convGeom
	plane, wp      int   // size and row length of a (padded) input plane
	rowOff, colOff []int // as above; colOff for a full chunk
	xp             []float32
	pooled         bool // xp comes from getBuf
}

func newImplicitSrc(g *convGeom, bc int) *implicitSrc {
	s := &implicitSrc{g: g, plane: g.padPlane(), wp: g.w + 2*g.pad}
	pos, taps := g.tapOffsets()
	s.rowOff = make([]int, 0, g.k())
	for c := 0; c < g.c; c++ {
		for _, t := range taps {
			s.rowOff = append(s.rowOff, c*s.plane+t)
		}
	}
	s.colOff = make([]int, 0, bc*len(pos))
	for b := 0; b < bc; b++ {
		for _, p := range pos {
			s.colOff = append(s.colOff, b*g.c*s.plane+p)
		}
	}
	if g.pad > 0 {
		s.xp = getBuf[float32](bc * g.c * s.plane)
		s.pooled = true
	}
	return s
}

func (s *implicitSrc) release() {
	if s.pooled {
		putBuf(s.xp)
	}
}

// load makes the chunk of items [b0, b0+nb) of x the source of the
// packers: x itself without padding, else zero-bordered copies of its
// planes.
func (s *implicitSrc) load(x []float32, b0, nb int) []float32 {
	g := s.g
	chw := g.c * g.h * g.w
	if g.pad == 0 {
		return x[b0*chw : (b0+nb)*chw]
	}
	xp := s.xp[:nb*g.c*s.plane]
	parallelRanges(nb, g.c*s.plane, runtime.GOMAXPROCS(0), func(_, lo, hi int) {
		H, W, pad, wp := g.h, g.w, g.pad, s.wp
		for pi := lo * g.c; pi < hi*g.c; pi++ {
			src := x[b0*chw+pi*H*W : b0*chw+(pi+1)*H*W]
			dst := xp[pi*s.plane : (pi+1)*s.plane]
			clear(dst)
			for ih := 0; ih < H; ih++ {
				copy(dst[(ih+pad)*wp+pad:(ih+pad)*wp+pad+W], src[ih*W:(ih+1)*W])
			}
		}
	})
	return xp
}

// gemmPacked is gemm with op(B) from packB (C = op(A)·op(B) + beta·C).
func gemmPacked(tA bool, m, n, k int, a []float32, lda int, packB blas.PackB, beta float32, c []float32, ldc int) {
	if k == 0 {
		if beta == 0 {
			clear(c[:m*ldc])
		}
		return
	}
	blas.Gemm32Packed(tA, m, n, k, 1, a, lda, packB, beta, c, ldc)
}

func conv2dImplicit(y, x, w []float32, g *convGeom) {
	k, ohw, o, bc := g.k(), g.ohw(), g.o, g.chunkItems()
	src := newImplicitSrc(g, bc)
	defer src.release()
	var yp []float32
	if bc > 1 {
		yp = getBuf[float32](o * bc * ohw)
		defer putBuf(yp)
	}
	for c0 := 0; c0 < g.b; c0 += bc {
		nb := min(bc, g.b-c0)
		n := nb * ohw
		xp := src.load(x, c0, nb)
		pack := func(dst []float32, kb, cols, pc, jc int) {
			packCol(dst, kb, xp, src.rowOff[pc:pc+kb], src.colOff[jc:jc+cols], g.s)
		}
		yc := y[c0*o*ohw : (c0+nb)*o*ohw]
		if nb == 1 { // [O, HW] is already y's layout
			gemmPacked(false, o, n, k, w, k, pack, 0, yc, n)
			continue
		}
		gemmPacked(false, o, n, k, w, k, pack, 0, yp, n) // [O, K]·[K, nb·HW]
		swapBatchChannel(yc, yp[:o*n], o, nb, ohw)       // [O, nb, HW] → [nb, O, HW]
	}
}

func conv2dWeightGradImplicit(dw, x, gy []float32, g *convGeom) {
	k, ohw, o, bc := g.k(), g.ohw(), g.o, g.chunkItems()
	src := newImplicitSrc(g, bc)
	defer src.release()
	var gp []float32
	if bc > 1 {
		gp = getBuf[float32](o * bc * ohw)
		defer putBuf(gp)
	}
	var beta float32 // the first chunk overwrites dw, the others add to it
	for c0 := 0; c0 < g.b; c0 += bc {
		nb := min(bc, g.b-c0)
		n := nb * ohw
		xp := src.load(x, c0, nb)
		// op(B) = colᵀ [nb·HW, K]: its rows are col's columns.
		pack := func(dst []float32, kb, cols, pc, jc int) {
			packColT(dst, kb, xp, src.rowOff[jc:jc+cols], src.colOff[pc:pc+kb], g.s)
		}
		gc := gatherChunk(gp, gy, g, c0, nb)
		gemmPacked(false, o, k, n, gc, n, pack, beta, dw, k) // [O, nb·HW]·[K, nb·HW]ᵀ
		beta = 1
	}
	if g.b == 0 {
		clear(dw)
	}
}

const panelCols = 16 // columns of a packed B micro-panel (blas.PackB)

// packCol writes the panels of col[rows, cols] (rows[i] and cols[j] the
// offsets of row i and column j) in blas.PackB's layout, kb = len(rows):
//
//	dst[16·kb·t + 16·p + j] = xp[rows[p] + cols[16t + j]]   (0 past len(cols))
//
// The columns of a panel are mostly two runs of 8 output positions along
// an output row, each run 8 floats s apart in xp (s the stride: 1 or 2);
// those panels are copied with fixed offsets, the rest through the table.
func packCol(dst []float32, kb int, xp []float32, rows, cols []int, s int) {
	if kb == 0 || len(cols) == 0 {
		return
	}
	rows = rows[:kb]
	_ = xp[rows[kb-1]+cols[len(cols)-1]] // bounds every offset
	_ = dst[(len(cols)+panelCols-1)/panelCols*panelCols*kb-1]
	base := unsafe.Pointer(unsafe.SliceData(xp))
	d := unsafe.Pointer(unsafe.SliceData(dst))
	for j0 := 0; j0 < len(cols); j0 += panelCols {
		panel := unsafe.Add(d, uintptr(j0*kb)*4)
		n := min(panelCols, len(cols)-j0)
		var offs [panelCols]int
		copy(offs[:], cols[j0:j0+n])
		// Offsets grow by s along an output row and by more from one row or
		// item to the next, so a spread of 7·s means a run of 8.
		runs := n == panelCols && offs[7]-offs[0] == 7*s && offs[15]-offs[8] == 7*s
		p0, p1 := unsafe.Add(base, uintptr(offs[0])*4), unsafe.Add(base, uintptr(offs[8])*4)
		switch {
		case runs && s == 1:
			copyRuns8(panel, p0, p1, rows)
		case runs && s == 2:
			gatherRuns8Stride2(panel, p0, p1, rows)
		default:
			gatherPanel(panel, base, rows, &offs, n)
		}
	}
}

const panelRow = panelCols * 4 // bytes in a row of a packed panel

// copyRuns8 sets row i of the panel to the 8 floats at p0 + rows[i], then
// the 8 at p1 + rows[i].
//
//go:noinline
func copyRuns8(panel, p0, p1 unsafe.Pointer, rows []int) {
	for i, ro := range rows {
		r := (*[2][8]float32)(unsafe.Add(panel, uintptr(i)*panelRow))
		r[0] = *(*[8]float32)(unsafe.Add(p0, uintptr(ro)*4))
		r[1] = *(*[8]float32)(unsafe.Add(p1, uintptr(ro)*4))
	}
}

// gatherRuns8Stride2 sets row i of the panel to every other float of the
// 15 at p0 + rows[i], then of the 15 at p1 + rows[i].
//
//go:noinline
func gatherRuns8Stride2(panel, p0, p1 unsafe.Pointer, rows []int) {
	for i, ro := range rows {
		r := (*[16]float32)(unsafe.Add(panel, uintptr(i)*panelRow))
		a := (*[15]float32)(unsafe.Add(p0, uintptr(ro)*4))
		b := (*[15]float32)(unsafe.Add(p1, uintptr(ro)*4))
		r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7] = a[0], a[2], a[4], a[6], a[8], a[10], a[12], a[14]
		r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15] = b[0], b[2], b[4], b[6], b[8], b[10], b[12], b[14]
	}
}

// gatherPanel sets row i of the panel to the floats at base + rows[i] +
// offs[j] for j < n, zeros after them.
//
//go:noinline
func gatherPanel(panel, base unsafe.Pointer, rows []int, offs *[panelCols]int, n int) {
	for i, ro := range rows {
		r := (*[panelCols]float32)(unsafe.Add(panel, uintptr(i)*panelRow))
		p := unsafe.Add(base, uintptr(ro)*4)
		for j, o := range offs[:n] {
			r[j] = *(*float32)(unsafe.Add(p, uintptr(o)*4))
		}
		clear(r[n:])
	}
}

// packColT writes the panels of colᵀ, kb = len(cols) of its rows (col's
// columns, offsets cols) by len(rows) of its columns (col's rows, offsets
// rows), in blas.PackB's layout:
//
//	dst[16·kb·t + 16·p + j] = xp[rows[16t + j] + cols[p]]   (0 past len(rows))
//
// A panel whose 16 columns are one channel's taps under a 4×4 kernel (4
// runs of 4 floats) is filled a row at a time, 4 floats per copy. Others
// are filled a column at a time; groups of 8 positions that are a run
// along an output row (8 floats s apart in xp, as in packCol) are read at
// fixed offsets.
func packColT(dst []float32, kb int, xp []float32, rows, cols []int, s int) {
	if kb == 0 || len(rows) == 0 {
		return
	}
	cols = cols[:kb]
	_ = xp[rows[len(rows)-1]+cols[kb-1]] // bounds every offset
	_ = dst[(len(rows)+panelCols-1)/panelCols*panelCols*kb-1]
	var runsBuf [64]bool
	runs := runsBuf[:0]
	if kb/8 > len(runsBuf) {
		runs = make([]bool, 0, kb/8)
	}
	for g := 0; g+8 <= kb; g += 8 {
		runs = append(runs, (s == 1 || s == 2) && cols[g+7]-cols[g] == 7*s)
	}
	base := unsafe.Pointer(unsafe.SliceData(xp))
	d := unsafe.Pointer(unsafe.SliceData(dst))
	for r0 := 0; r0 < len(rows); r0 += panelCols {
		panel := unsafe.Add(d, uintptr(r0*kb)*4)
		ro := rows[r0:min(len(rows), r0+panelCols)]
		if len(ro) == panelCols && quadRuns(ro) {
			var q [4]int
			q[0], q[1], q[2], q[3] = ro[0], ro[4], ro[8], ro[12]
			copyQuads(panel, base, &q, cols)
			continue
		}
		for j, r := range ro {
			gatherColumn(unsafe.Add(panel, uintptr(j)*4), unsafe.Add(base, uintptr(r)*4), cols, runs, s)
		}
		if len(ro) < panelCols {
			p := unsafe.Slice((*float32)(panel), panelCols*kb)
			for i := range cols {
				clear(p[i*panelCols+len(ro) : (i+1)*panelCols])
			}
		}
	}
}

// quadRuns reports whether the 16 offsets are 4 runs of 4 consecutive
// floats: the 4×4 taps of one channel under a 4×4 kernel.
func quadRuns(ro []int) bool {
	for j := 0; j < panelCols; j++ {
		if j%4 != 0 && ro[j] != ro[j-1]+1 {
			return false
		}
	}
	return true
}

// copyQuads fills a panel whose 16 columns are the 4 runs of 4 floats at
// q[0], …, q[3]: row i is the 4 floats at base + q[k] + cols[i], k = 0 … 3.
// The caller bounds every access.
//
//go:noinline
func copyQuads(panel, base unsafe.Pointer, q *[4]int, cols []int) {
	p0, p1 := unsafe.Add(base, uintptr(q[0])*4), unsafe.Add(base, uintptr(q[1])*4)
	p2, p3 := unsafe.Add(base, uintptr(q[2])*4), unsafe.Add(base, uintptr(q[3])*4)
	for i, o := range cols {
		r := (*[4][4]float32)(unsafe.Add(panel, uintptr(i)*panelRow))
		off := uintptr(o) * 4
		r[0] = *(*[4]float32)(unsafe.Add(p0, off))
		r[1] = *(*[4]float32)(unsafe.Add(p1, off))
		r[2] = *(*[4]float32)(unsafe.Add(p2, off))
		r[3] = *(*[4]float32)(unsafe.Add(p3, off))
	}
}

// gatherColumn sets the float at d + 64·i to the one at p + cols[i]: one
// column of a packed panel. Group g of 8 positions with runs[g] is read at
// p + cols[8g] + s·k. The caller bounds every access.
//
//go:noinline
func gatherColumn(d, p unsafe.Pointer, cols []int, runs []bool, s int) {
	for g, run := range runs {
		c := cols[8*g : 8*g+8]
		o := unsafe.Add(d, uintptr(8*g)*panelRow)
		switch {
		case run && s == 1:
			a := (*[8]float32)(unsafe.Add(p, uintptr(c[0])*4))
			*(*float32)(o) = a[0]
			*(*float32)(unsafe.Add(o, 1*panelRow)) = a[1]
			*(*float32)(unsafe.Add(o, 2*panelRow)) = a[2]
			*(*float32)(unsafe.Add(o, 3*panelRow)) = a[3]
			*(*float32)(unsafe.Add(o, 4*panelRow)) = a[4]
			*(*float32)(unsafe.Add(o, 5*panelRow)) = a[5]
			*(*float32)(unsafe.Add(o, 6*panelRow)) = a[6]
			*(*float32)(unsafe.Add(o, 7*panelRow)) = a[7]
		case run:
			a := (*[15]float32)(unsafe.Add(p, uintptr(c[0])*4))
			*(*float32)(o) = a[0]
			*(*float32)(unsafe.Add(o, 1*panelRow)) = a[2]
			*(*float32)(unsafe.Add(o, 2*panelRow)) = a[4]
			*(*float32)(unsafe.Add(o, 3*panelRow)) = a[6]
			*(*float32)(unsafe.Add(o, 4*panelRow)) = a[8]
			*(*float32)(unsafe.Add(o, 5*panelRow)) = a[10]
			*(*float32)(unsafe.Add(o, 6*panelRow)) = a[12]
			*(*float32)(unsafe.Add(o, 7*panelRow)) = a[14]
		default:
			for k, off := range c {
				*(*float32)(unsafe.Add(o, uintptr(k)*panelRow)) = *(*float32)(unsafe.Add(p, uintptr(off)*4))
			}
		}
	}
	for i := 8 * len(runs); i < len(cols); i++ {
		*(*float32)(unsafe.Add(d, uintptr(i)*panelRow)) = *(*float32)(unsafe.Add(p, uintptr(cols[i])*4))
	}
}
