//go:build !openblas

package blas

// A GotoBLAS/BLIS-style float32 GEMM on top of a 6×16 AVX2+FMA micro-kernel
// (sgemm_amd64.s) and, where the CPU and OS have AVX-512F, a 12×16 one that
// does two 6-row tiles at once. Goto and van de Geijn, "Anatomy of
// high-performance matrix multiplication", ACM TOMS 34(3), 2008, describe
// the scheme.
//
// Loop nest of gemmJob.run, outermost first:
//
//	jc: n in blocks of nc      pack op(B)[:, jc:jc+nc], all of k, in kc-row blocks (L3)
//	 ic: m in blocks of mc     the unit of parallel work
//	  pc: k in blocks of kc    pack op(A)[ic:ic+mc, pc:pc+kc] (L2)
//	   jr: nc in steps of 16   one B micro-panel [kc, 16] (≤ 16 KiB, L1)
//	    ir: mc in steps of 6   the micro-kernel, looping inside the assembly
//	                           (steps of 12 on the AVX-512 kernel)
//
// Packed layouts: an A micro-panel holds, for p = 0..kc-1, the 6 values
// op(A)[i0:i0+6, p] (6·kc floats); a B micro-panel holds, for p = 0..kc-1,
// the 16 values op(B)[p, j0:j0+16] (16·kc floats). Panels at the bottom or
// right edge are padded with zeros, and the kernel's result for such a tile
// goes through a 6×16 scratch tile, so nothing outside C is touched (these
// tiles, and the odd full tile the AVX-512 kernel's pairs leave, are the
// AVX2 kernel's on either path). The
// packing routines absorb the transposes, so the kernel sees one case; the
// transposing ones (op(A) = A, op(B) = Bᵀ) are assembly too.
//
// beta and alpha follow BLAS: with beta == 0, C is never read (the first kc
// block stores into C, later ones add), so NaN or Inf there do not leak
// through; otherwise C is first scaled by beta and every kc block adds to
// it. With alpha == 0, C = beta·C and A and B are not read.
//
// Parallelism: with workers > 1, the workers pack the B block together and
// then take mc-row blocks of C from a shared counter, so a worker whose core
// is taken by another process just does fewer blocks. When m is too small
// for that, the columns are split statically instead.

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// useAsmSgemm reports whether gemm32 runs sgemmAsm; tests switch it off to
// cover the gonum fallback on the same machine.
var useAsmSgemm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// useAVX512 reports whether sgemmAsm runs full pairs of tiles on the
// AVX-512F kernel, sgemmKernel12x16Z, rather than the AVX2 one; tests and
// benchmarks switch it off to cover both kernels on an AVX-512 machine.
// cpu.X86.HasAVX512F is only set when the OS saves the ZMM state too.
var useAVX512 = useAsmSgemm && cpu.X86.HasAVX512F

// asmSgemmName goes into Implementation when the assembly kernel is used.
func asmSgemmName() string {
	if useAVX512 {
		return "AVX-512F assembly sgemm"
	}
	return "AVX2+FMA assembly sgemm"
}

// sgemmKernel6x16 computes C[6t:6t+6, 0:16] += alpha·Apanel(t)·Bpanel for t
// in [0, tiles), with consecutive packed A micro-panels; = instead of += when
// accumulate is false. k ≥ 1, tiles ≥ 1.
//
//go:noescape
func sgemmKernel6x16(k, tiles int, a, b, c *float32, ldc int, accumulate bool, alpha float32)

// sgemmKernel12x16Z computes C[12t:12t+12, 0:16] += alpha·[Apanel(2t);
// Apanel(2t+1)]·Bpanel for t in [0, pairs), with consecutive packed A
// micro-panels, on AVX-512F; = instead of += when accumulate is false.
// k ≥ 1, pairs ≥ 1.
//
//go:noescape
func sgemmKernel12x16Z(k, pairs int, a, b, c *float32, ldc int, accumulate bool, alpha float32)

// sgemmPackA6 packs 6 rows of 8·groups floats, row i at src[i·lds:], into
// an A micro-panel: dst[6p+i] = src[i·lds+p]. groups ≥ 1.
//
//go:noescape
func sgemmPackA6(groups int, src *float32, lds int, dst *float32)

// sgemmPackA6T packs an A micro-panel from the stored transpose of A:
// dst[6p+i] = src[p·lds+i] for p < k, i < 6. k ≥ 1.
//
//go:noescape
func sgemmPackA6T(k int, src *float32, lds int, dst *float32)

// sgemmPackB16 packs a B micro-panel from the stored B: dst[16p+j] =
// src[p·lds+j] for p < k, j < 16. k ≥ 1.
//
//go:noescape
func sgemmPackB16(k int, src *float32, lds int, dst *float32)

// sgemmPackBT8 packs 8 rows of 8·groups floats, row j at src[j·lds:], as 8
// columns of a B micro-panel: dst[16p+j] = src[j·lds+p]. groups ≥ 1.
//
//go:noescape
func sgemmPackBT8(groups int, src *float32, lds int, dst *float32)

const (
	mr = 6  // rows of the micro-kernel's register block
	nr = 16 // columns: two YMM vectors of 8 floats

	// Cache blocking for AMD Zen 3 (32 KiB L1d and 512 KiB L2 per core):
	// a [kcMax, nr] B micro-panel is 16 KiB, half of L1, and is reused by
	// every A micro-panel of the A block; an [mcMax, kcMax] A block is
	// 144 KiB, in L2 next to the B micro-panels streaming through; the
	// packed B panel, [k, nc] ≤ bPanelMax floats (8 MiB), sits in L3.
	// The AVX-512 path keeps them: on an Emerald Rapids core (48 KiB L1d,
	// 2 MiB L2), kc of 384 or 512, mc of 288 or 480, or a B panel cut to
	// fit L2 gave 0.79× to 1.08× the speed, call by call, none better on
	// all of 512×512×784, 784×512×512 and 2048³ (2026-12-01, loaded machine).
	kcMax     = 256
	mcMax     = 144 // multiple of 2·mr
	ncMax     = 2048
	bPanelMax = 1 << 21

	// Parallel work is handed out in A blocks of at least mcMin rows, about
	// blocksPerWorker of them per worker, so a worker whose core is busy
	// with another process leaves its share to the others.
	mcMin           = 4 * mr // multiple of 2·mr
	blocksPerWorker = 3

	// parallelMinWork is the m·n·k from which gemm uses more than one
	// goroutine: 128³, about 50 µs of work on one core. Waking a second
	// goroutine costs a few µs on an idle machine, where products from
	// about 96³ up gain from it; on a loaded one (the shared 2-core dev
	// machine) the second core is often busy, and 2 workers lost there up
	// to 256³ (BenchmarkGemm32Cube). This is the compromise.
	parallelMinWork = 128 * 128 * 128

	// smallWork is the m·n·k up to which a plain loop beats packing
	// (about 0.2 µs of fixed cost; measured at 1³ to 8³).
	smallWork = 6 * 6 * 6
)

// sgemmAsm is Gemm32 (m, n, k ≥ 1) on the assembly kernel.
func sgemmAsm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemmArgs(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)

	if alpha == 0 || m*n*k <= smallWork {
		scaleC(m, n, beta, c, ldc)
		if alpha != 0 {
			sgemmSmall(tA, tB, m, n, k, alpha, a, lda, b, ldb, c, ldc)
		}
		return
	}
	g := gemmJob{tA: tA, tB: tB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc}
	g.start(beta)
}

// sgemmAsmPacked is Gemm32Packed (m, n, k ≥ 1) on the assembly kernel: the
// B panels come from packB. Products small enough for sgemmSmall unpack B
// and go there, so that the result is always sgemmAsm's to the bit.
func sgemmAsmPacked(tA bool, m, n, k int, alpha float32, a []float32, lda int, packB PackB, beta float32, c []float32, ldc int) {
	checkGemmArgs(tA, false, m, n, k, len(a), lda, (k-1)*n+n, n, len(c), ldc)
	if alpha == 0 || m*n*k <= smallWork {
		scaleC(m, n, beta, c, ldc)
		if alpha != 0 {
			sgemmSmall(tA, false, m, n, k, alpha, a, lda, unpackB(k, n, packB), n, c, ldc)
		}
		return
	}
	g := gemmJob{tA: tA, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, pack: packB, c: c, ldc: ldc}
	g.start(beta)
}

// start runs g (alpha ≠ 0) with C = alpha·op(A)·op(B) + beta·C, on as many
// goroutines as its size pays for.
func (g gemmJob) start(beta float32) {
	m, n, k, c := g.m, g.n, g.k, g.c
	// With beta = 0 the first kc block overwrites C instead of adding to it.
	if beta != 0 {
		scaleC(m, n, beta, c, g.ldc)
	}
	g.overwrite = beta == 0
	// A blocks are whole pairs of tiles where the AVX-512 kernel does pairs.
	unit := mr
	if useAVX512 {
		unit = 2 * mr
	}
	workers := max(1, min(runtime.GOMAXPROCS(0), m*n*k/parallelMinWork))
	mTiles, nTiles := (m+mr-1)/mr, (n+nr-1)/nr
	switch {
	case workers == 1:
		g.run(1, evenBlock(m, mcMax, unit))
	case mTiles*mr >= mcMin*workers:
		// Share out blocks of rows; the workers pack B together.
		mc := min(mcMax, max(mcMin, roundUp((m+blocksPerWorker*workers-1)/(blocksPerWorker*workers), unit)))
		g.run(workers, mc)
	default:
		// Few rows: split the columns, each part a GEMM of its own.
		workers = min(workers, nTiles)
		var wg sync.WaitGroup
		wg.Add(workers - 1)
		for w := range workers {
			j0, j1 := min(nTiles*w/workers*nr, n), min(nTiles*(w+1)/workers*nr, n)
			part := g
			part.n, part.c = j1-j0, c[j0:]
			switch {
			case g.pack != nil:
				part.jOff = g.jOff + j0
			case g.tB:
				part.b = g.b[j0*g.ldb:]
			default:
				part.b = g.b[j0:]
			}
			if w == workers-1 {
				part.run(1, evenBlock(m, mcMax, unit))
				break
			}
			go func() {
				defer wg.Done()
				part.run(1, evenBlock(m, mcMax, unit))
			}()
		}
		wg.Wait()
	}
}

// sgemmSmall adds alpha·op(A)·op(B) to C with plain loops, for tiny
// products.
func sgemmSmall(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	// op(A)[i, p] = a[i·ai + p·ap], op(B)[p, j] = b[p·bp + j·bj].
	ai, ap, bp, bj := lda, 1, ldb, 1
	if tA {
		ai, ap = 1, lda
	}
	if tB {
		bp, bj = 1, ldb
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var sum float32
			for p := 0; p < k; p++ {
				sum += a[i*ai+p*ap] * b[p*bp+j*bj]
			}
			c[i*ldc+j] += alpha * sum
		}
	}
}

// gemmJob is C += alpha·op(A)·op(B), C already scaled by beta, or
// C = alpha·op(A)·op(B) when overwrite. op(B) is read from b, or, when pack
// is set, packed by pack with its columns offset by jOff (the columns of a
// part of the product).
type gemmJob struct {
	overwrite bool
	tA, tB    bool
	m, n, k   int
	alpha     float32
	a         []float32
	lda       int
	b         []float32
	ldb       int
	pack      PackB
	jOff      int
	c         []float32
	ldc       int
}

// run computes the job on workers goroutines (the caller's included), with
// A blocks of mc rows. For each block of nc columns, the workers first pack
// op(B)[:, jc:jc+nc] together, kc rows at a time, then take A blocks one
// after another: a worker packs its A block kc columns at a time and runs
// the micro-kernel over the whole B block for each.
func (g *gemmJob) run(workers, mc int) {
	kc := evenBlock(g.k, kcMax, 1)
	nc := evenBlock(g.n, max(nr, min(ncMax, bPanelMax/g.k/nr*nr)), nr)
	bBuf := getFloats(&bPanelPool, g.k*roundUp(min(nc, g.n), nr))
	defer bPanelPool.Put(bBuf)

	for jc := 0; jc < g.n; jc += nc {
		nb := min(nc, g.n-jc)
		if workers == 1 {
			var s colBlock // on the stack
			s.init(g, jc, nb, kc, mc, *bBuf)
			g.work(&s)
			continue
		}
		// Goroutines get their own copies, so that g and, on the path
		// above, s can stay on the caller's stack.
		gp, s := new(gemmJob), new(colBlock)
		*gp = *g
		s.init(g, jc, nb, kc, mc, *bBuf)
		s.packed = new(sync.WaitGroup)
		s.packed.Add(s.packItems)
		var done sync.WaitGroup
		done.Add(workers - 1)
		for range workers - 1 {
			go func() {
				defer done.Done()
				gp.work(s)
			}()
		}
		gp.work(s)
		done.Wait()
	}
}

// colBlock is the work on one block of nc columns, shared by the workers.
type colBlock struct {
	jc, nb, nbPad, kc, mc int
	bp                    []float32 // packed op(B)[:, jc:jc+nb]: kc-row blocks of nbPad columns

	// Pack items: one kc block of rows times up to packGroup columns.
	groups, packItems  int
	nextPack, nextRows atomic.Int64
	packed             *sync.WaitGroup // counts pack items down; nil for one worker
}

const packGroup = 8 * nr

func (s *colBlock) init(g *gemmJob, jc, nb, kc, mc int, buf []float32) {
	s.jc, s.nb, s.nbPad, s.kc, s.mc = jc, nb, roundUp(nb, nr), kc, mc
	s.bp = buf[:g.k*s.nbPad]
	s.groups = (nb + packGroup - 1) / packGroup
	s.packItems = (g.k + kc - 1) / kc * s.groups
}

// work is one worker's part of s: it takes pack items, then waits for all
// of them to be packed (not for all workers: one that starts late, its core
// busy, finds the B block ready and maybe all rows taken), then takes A
// blocks until none are left.
func (g *gemmJob) work(s *colBlock) {
	kc := s.kc
	for {
		it := int(s.nextPack.Add(1) - 1)
		if it >= s.packItems {
			break
		}
		pc, j0 := it/s.groups*kc, it%s.groups*packGroup
		kb, nb := min(kc, g.k-pc), min(packGroup, s.nb-j0)
		dst := s.bp[pc*s.nbPad+j0*kb:]
		if g.pack != nil {
			g.pack(dst[:roundUp(nb, nr)*kb], kb, nb, pc, g.jOff+s.jc+j0)
		} else {
			packB(g.tB, kb, nb, g.b, g.ldb, pc, s.jc+j0, dst)
		}
		if s.packed != nil {
			s.packed.Done()
		}
	}
	if s.packed != nil {
		s.packed.Wait()
	}

	aBuf := getFloats(&aBlockPool, mcMax*kcMax)
	defer aBlockPool.Put(aBuf)
	for {
		ic := int(s.nextRows.Add(1)-1) * s.mc
		if ic >= g.m {
			break
		}
		mb := min(s.mc, g.m-ic)
		for pc := 0; pc < g.k; pc += kc {
			kb := min(kc, g.k-pc)
			packA(g.tA, mb, kb, g.a, g.lda, ic, pc, *aBuf)
			accumulate := pc > 0 || !g.overwrite
			macroKernel(mb, s.nb, kb, g.alpha, *aBuf, s.bp[pc*s.nbPad:], g.c[ic*g.ldc+s.jc:], g.ldc, accumulate)
		}
	}
}

// Packing buffers, 64-byte aligned, reused across calls.
var aBlockPool, bPanelPool sync.Pool

// getFloats returns a buffer from pool with room for at least n floats.
func getFloats(pool *sync.Pool, n int) *[]float32 {
	if p, ok := pool.Get().(*[]float32); ok && len(*p) >= n {
		return p
	}
	s := alignedFloat32s(n)
	return &s
}

// alignedFloat32s returns n zeroed float32s starting on a 64-byte boundary.
func alignedFloat32s(n int) []float32 {
	const align = 64 / 4
	s := make([]float32, n+align)
	off := int(uintptr(unsafe.Pointer(&s[0]))&63) / 4
	if off != 0 {
		off = align - off
	}
	return s[off : off+n : off+n]
}

// roundUp rounds x up to a multiple of unit.
func roundUp(x, unit int) int { return (x + unit - 1) / unit * unit }

// evenBlock splits size into nearly equal blocks of at most maxBlock,
// rounded up to a multiple of unit, so the last block is not a sliver.
func evenBlock(size, maxBlock, unit int) int {
	blocks := (size + maxBlock - 1) / maxBlock
	return min(maxBlock, roundUp((size+blocks-1)/blocks, unit))
}

// scaleC sets C = beta·C, writing zeros when beta == 0.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	switch beta {
	case 1:
	case 0:
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+n])
		}
	default:
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// macroKernel adds alpha·Ablock·Bblock to the [mb, nb] block of C at c, or
// stores it there when not accumulate.
func macroKernel(mb, nb, kb int, alpha float32, ap, bp []float32, c []float32, ldc int, accumulate bool) {
	fullTiles := mb / mr
	var scratch [mr * nr]float32
	for jr := 0; jr < nb; jr += nr {
		bPanel := bp[jr*kb : (jr+nr)*kb]
		cols := min(nr, nb-jr)
		if cols == nr && fullTiles > 0 {
			// Bounds: the kernel writes rows [0, 6·fullTiles) × cols [jr, jr+16).
			_ = c[(fullTiles*mr-1)*ldc+jr+nr-1]
			_ = ap[fullTiles*mr*kb-1]
			t0 := 0
			if useAVX512 && fullTiles >= 2 {
				pairs := fullTiles / 2
				sgemmKernel12x16Z(kb, pairs, &ap[0], &bPanel[0], &c[jr], ldc, accumulate, alpha)
				t0 = 2 * pairs
			}
			if t0 < fullTiles {
				sgemmKernel6x16(kb, fullTiles-t0, &ap[t0*mr*kb], &bPanel[0], &c[t0*mr*ldc+jr], ldc, accumulate, alpha)
			}
		}
		// Tiles that stick out of C: compute into scratch, then add or copy
		// the part inside C.
		first := fullTiles
		if cols < nr {
			first = 0
		}
		for t := first; t*mr < mb; t++ {
			rows := min(mr, mb-t*mr)
			_ = ap[(t+1)*mr*kb-1]
			sgemmKernel6x16(kb, 1, &ap[t*mr*kb], &bPanel[0], &scratch[0], nr, false, alpha)
			for i := 0; i < rows; i++ {
				dst := c[(t*mr+i)*ldc+jr : (t*mr+i)*ldc+jr+cols]
				src := scratch[i*nr : i*nr+cols]
				if !accumulate {
					copy(dst, src)
					continue
				}
				for j := range dst {
					dst[j] += src[j]
				}
			}
		}
	}
}

// packA packs op(A)[ic:ic+mb, pc:pc+kb] into dst as 6-row micro-panels,
// zero-padding the last one. op(A)[i, p] is a[i*lda+p], or a[p*lda+i] when tA.
func packA(tA bool, mb, kb int, a []float32, lda, ic, pc int, dst []float32) {
	tiles := (mb + mr - 1) / mr
	dst = dst[:tiles*mr*kb]
	if tA {
		// Row p of the stored A holds op(A)[ic:ic+mb, p]: copy 6 at a time,
		// one panel after the other so the writes are sequential.
		for t := 0; t < tiles; t++ {
			panel := dst[t*mr*kb : (t+1)*mr*kb]
			rows := min(mr, mb-t*mr)
			if rows < mr {
				for p := 0; p < kb; p++ {
					d := panel[p*mr : p*mr+mr]
					n := copy(d, a[(pc+p)*lda+ic+t*mr:][:rows])
					clear(d[n:])
				}
				continue
			}
			// Bounds: rows pc .. pc+kb-1 of a, columns ic+6t .. +5.
			_ = a[(pc+kb-1)*lda+ic+t*mr+mr-1]
			sgemmPackA6T(kb, &a[pc*lda+ic+t*mr], lda, &panel[0])
		}
		return
	}
	// Rows of A: full panels 8 columns at a time in assembly, the rest
	// reading 6 rows side by side and writing each panel sequentially.
	var zeros [kcMax]float32
	for t := 0; t < tiles; t++ {
		panel := dst[t*mr*kb : (t+1)*mr*kb]
		var rows [mr][]float32
		for i := range rows {
			if r := t*mr + i; r < mb {
				rows[i] = a[(ic+r)*lda+pc:][:kb]
			} else {
				rows[i] = zeros[:kb]
			}
		}
		p0 := 0
		if groups := kb / 8; groups > 0 && t*mr+mr <= mb {
			sgemmPackA6(groups, &rows[0][0], lda, &panel[0])
			p0 = groups * 8
		}
		r0, r1, r2, r3, r4, r5 := rows[0], rows[1][:len(rows[0])], rows[2][:len(rows[0])],
			rows[3][:len(rows[0])], rows[4][:len(rows[0])], rows[5][:len(rows[0])]
		for p := p0; p < len(r0); p++ {
			d := (*[mr]float32)(panel[p*mr:])
			d[0], d[1], d[2], d[3], d[4], d[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
		}
	}
}

// packB packs op(B)[pc:pc+kb, jc:jc+nb] into dst as 16-column micro-panels,
// zero-padding the last one. op(B)[p, j] is b[p*ldb+j], or b[j*ldb+p] when tB.
func packB(tB bool, kb, nb int, b []float32, ldb, pc, jc int, dst []float32) {
	tiles := (nb + nr - 1) / nr
	dst = dst[:tiles*nr*kb]
	if !tB {
		// Row p of the stored B holds op(B)[p, jc:jc+nb]: copy 16 at a time,
		// one panel after the other so the writes are sequential.
		for t := 0; t < tiles; t++ {
			panel := dst[t*nr*kb : (t+1)*nr*kb]
			cols := min(nr, nb-t*nr)
			if cols < nr {
				for p := 0; p < kb; p++ {
					d := panel[p*nr : p*nr+nr]
					n := copy(d, b[(pc+p)*ldb+jc+t*nr:][:cols])
					clear(d[n:])
				}
				continue
			}
			// Bounds: rows pc .. pc+kb-1 of b, columns jc+16t .. +15.
			_ = b[(pc+kb-1)*ldb+jc+t*nr+nr-1]
			sgemmPackB16(kb, &b[pc*ldb+jc+t*nr], ldb, &panel[0])
		}
		return
	}
	// Rows of the stored B are columns of op(B): full panels 8×8 blocks at
	// a time in assembly, the rest reading 4 rows side by side.
	var zeros [kcMax]float32
	for t := 0; t < tiles; t++ {
		panel := dst[t*nr*kb : (t+1)*nr*kb]
		p0 := 0
		if groups := kb / 8; groups > 0 && t*nr+nr <= nb {
			// Bounds: rows jc+t·16 .. +15 of b, columns pc .. pc+kb.
			_ = b[(jc+t*nr+nr-1)*ldb+pc+kb-1]
			sgemmPackBT8(groups, &b[(jc+t*nr)*ldb+pc], ldb, &panel[0])
			sgemmPackBT8(groups, &b[(jc+t*nr+8)*ldb+pc], ldb, &panel[8])
			p0 = groups * 8
		}
		for j0 := 0; j0 < nr; j0 += 4 {
			var rows [4][]float32
			for j := range rows {
				if c := t*nr + j0 + j; c < nb {
					rows[j] = b[(jc+c)*ldb+pc:][:kb]
				} else {
					rows[j] = zeros[:kb]
				}
			}
			r0, r1, r2, r3 := rows[0], rows[1][:len(rows[0])], rows[2][:len(rows[0])], rows[3][:len(rows[0])]
			for p := p0; p < len(r0); p++ {
				d := (*[4]float32)(panel[p*nr+j0:])
				d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
			}
		}
	}
}

// checkGemmArgs panics, before any unchecked memory access, when the slices
// are too short for the dimensions and leading dimensions.
func checkGemmArgs(tA, tB bool, m, n, k, la, lda, lb, ldb, lc, ldc int) {
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	switch {
	case m < 0 || n < 0 || k < 0:
		panic("blas: negative dimension")
	case lda < max(1, ac) || ldb < max(1, bc) || ldc < max(1, n):
		panic("blas: leading dimension too small")
	case la < (ar-1)*lda+ac || lb < (br-1)*ldb+bc || lc < (m-1)*ldc+n:
		panic("blas: matrix too short for its dimensions")
	}
}
