package tensor

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

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
		ao, bo, co := i*aStride, i*bStride, i*m*n
		gemmRows(m, n*k, func(r0, r1 int) {
			// Rows r0:r1 of op(A) are rows of A, or columns of A if ta.
			aOff := ao + r0*ac
			if ta {
				aOff = ao + r0
			}
			if a.dtype == Float32 {
				blas.Gemm32(ta, tb, r1-r0, n, k, 1, a.f32[aOff:], ac, b.f32[bo:], bc, 0, out.f32[co+r0*n:], n)
			} else {
				blas.Gemm64(ta, tb, r1-r0, n, k, 1, a.f64[aOff:], ac, b.f64[bo:], bc, 0, out.f64[co+r0*n:], n)
			}
		})
	}
	return out
}

// With OpenBLAS run single-threaded (OPENBLAS_NUM_THREADS=1, as
// BENCHMARKS.md recommends: its threads spin between calls), MatMul cuts a
// large product into blocks of splitRows rows of the result, which up to
// GOMAXPROCS goroutines take in turn from a shared counter, so that the
// other cores are not left idle; a goroutine whose core is taken by another
// process just does fewer blocks. The pure-Go kernel splits its products
// across cores itself.
//
// The blocks depend only on the shape, not on the number of goroutines, so
// neither do the results: a BLAS may round a product of 128 rows
// differently from one of 512, but always the same way for the same block.
const (
	minSplitWork = 1 << 21 // m·n·k: about 30 µs on one core
	splitRows    = 256
)

var splitGemm = strings.HasPrefix(blas.Implementation, "OpenBLAS") && openBLASThreads() == 1

// openBLASThreads returns the number of threads OpenBLAS runs on, read as
// OpenBLAS reads it at start-up (OPENBLAS_NUM_THREADS, else
// GOTO_NUM_THREADS, else OMP_NUM_THREADS; 0 if none is set, when it takes
// every core). Splitting products that OpenBLAS already spreads over its own
// threads would only oversubscribe the cores.
func openBLASThreads() int {
	for _, v := range []string{"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"} {
		if n, err := strconv.Atoi(os.Getenv(v)); err == nil && n > 0 {
			return n
		}
	}
	return 0
}

// gemmRows calls f on row blocks [r0, r1) covering [0, m), on up to
// GOMAXPROCS goroutines when the product (perRow multiply-adds per row) is
// large enough. A panic in any block is re-raised on the caller.
func gemmRows(m, perRow int, f func(r0, r1 int)) {
	blocks := (m + splitRows - 1) / splitRows
	if !splitGemm || blocks < 2 || m*perRow < minSplitWork {
		f(0, m)
		return
	}
	var next atomic.Int64
	work := func() {
		for {
			b := int(next.Add(1)) - 1
			if b >= blocks {
				return
			}
			f(b*splitRows, min((b+1)*splitRows, m))
		}
	}
	var wg sync.WaitGroup
	var pnc atomic.Value
	for w := 1; w < min(runtime.GOMAXPROCS(0), blocks); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					pnc.CompareAndSwap(nil, p)
				}
			}()
			work()
		}()
	}
	work()
	wg.Wait()
	if p := pnc.Load(); p != nil {
		panic(p)
	}
}

// Linear returns x·Wᵀ + b, a dense layer in PyTorch's layout:
//
//	x [..., In], w [Out, In], b [Out] (or nil) → [..., Out]
//
// The bias is added in place on the product, with the rounding of
// Binary(OpAdd, MatMul(x, w, false, true), b) and without its extra tensor.
// Panics on mismatched shapes or types. See also LinearLeakyReLU.
func Linear(x, w, b *Tensor) *Tensor { return linear(x, w, b, false, 0) }

// LinearLeakyReLU returns LeakyReLU(x·Wᵀ + b, slope) in one pass over the
// product; slope 0 gives ReLU (with the zeros Unary(OpReLU, ·) writes).
func LinearLeakyReLU(x, w, b *Tensor, slope float64) *Tensor { return linear(x, w, b, true, slope) }

func linear(x, w, b *Tensor, act bool, slope float64) *Tensor {
	if w.Rank() != 2 || (b != nil && (b.Rank() != 1 || b.Dim(0) != w.Dim(0))) {
		bs := []int(nil)
		if b != nil {
			bs = b.shape
		}
		panic(fmt.Sprintf("tensor: Linear with weight %v and bias %v", w.shape, bs))
	}
	out := MatMul(x, w, false, true)
	if b == nil && !act {
		return out
	}
	if b != nil {
		mustSameType(out, b)
	}
	n := w.Dim(0)
	parallelFor(out.Len(), n, func(lo, hi int) {
		if out.dtype == Float32 {
			var bias []float32
			if b != nil {
				bias = b.f32
			}
			biasActKernel(out.f32[lo:hi], bias, n, act, float32(slope))
		} else {
			var bias []float64
			if b != nil {
				bias = b.f64
			}
			biasActKernel(out.f64[lo:hi], bias, n, act, slope)
		}
	})
	return out
}

// biasActKernel adds bias (if any) to each row of length n of d, then applies
// LeakyReLU(s) if act.
func biasActKernel[T Float](d, bias []T, n int, act bool, s T) {
	if d, ok := any(d).([]float32); ok {
		b, _ := any(bias).([]float32)
		biasAct32(d, b, n, act, float32(s))
		return
	}
	for r := 0; r < len(d); r += n {
		row := d[r : r+n]
		if bias != nil {
			bias := bias[:n]
			for j, v := range bias {
				row[j] += v
			}
		}
		if !act {
			continue
		}
		if s == 0 {
			for j, v := range row {
				if !(v > 0) {
					row[j] = 0
				}
			}
			continue
		}
		for j, v := range row {
			if !(v > 0) {
				row[j] = s * v
			}
		}
	}
}
