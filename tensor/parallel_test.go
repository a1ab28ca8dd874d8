package tensor

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// Broadcasting kernels split their rows across goroutines; every element is
// computed once with the same arithmetic, so the results are bit-identical
// whatever GOMAXPROCS is, and equal a per-element reference. Shapes are
// large enough to be split (≥ minParallelElems) and have rows of 1 (the
// row stride 0 path) to thousands of elements.
func TestBroadcastKernelsIndependentOfThreads(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct{ a, b []int }{
		{[]int{8, 32, 16, 16}, []int{1, 32, 1, 1}}, // conv bias
		{[]int{8, 32, 16, 16}, []int{8, 32, 1, 1}}, // per-sample, per-channel scale
		{[]int{512, 784}, []int{1, 784}},           // dense bias
		{[]int{512, 784}, []int{512, 1}},           // per-row scale
		{[]int{3, 1, 40, 300}, []int{1, 7, 40, 1}}, // both broadcast
		{[]int{70000}, []int{1}},
	}
	ref := func(op BinaryOp, a, b *Tensor) []float32 {
		shape := BroadcastShape(a.shape, b.shape)
		out := make([]float32, Size(shape))
		idx := make([]int, len(shape))
		at := func(x *Tensor) float32 {
			off, stride := 0, 1
			for i := len(shape) - 1; i >= 0; i-- {
				j := len(x.shape) - len(shape) + i
				if j >= 0 && x.shape[j] != 1 {
					off += idx[i] * stride
					stride *= x.shape[j]
				}
			}
			return x.f32[off]
		}
		for k := range out {
			r := k
			for i := len(shape) - 1; i >= 0; i-- {
				idx[i] = r % shape[i]
				r /= shape[i]
			}
			out[k] = binRow32Ref(op, at(a), at(b))
		}
		return out
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, c := range cases {
		for _, swap := range []bool{false, true} {
			sa, sb := c.a, c.b
			if swap {
				sa, sb = sb, sa
			}
			a, b := RandNormal(rng, Float32, sa...), RandNormal(rng, Float32, sb...)
			for _, op := range []BinaryOp{OpAdd, OpMul, OpDiv} {
				want := ref(op, a, b)
				for _, procs := range []int{1, 2, 3, 8} {
					runtime.GOMAXPROCS(procs)
					got := Binary(op, a, b)
					for k, w := range want {
						if math.Float32bits(got.f32[k]) != math.Float32bits(w) {
							t.Fatalf("%v %v op %d, GOMAXPROCS %d: element %d is %v, want %v", sa, sb, op, procs, k, got.f32[k], w)
						}
					}
				}
			}
			if !SameShape(BroadcastShape(sa, sb), sb) || SameShape(sa, sb) {
				continue
			}
			// BroadcastTo a small input to the big shape.
			want := ref(OpAdd, a, New(Float32, sb...))
			for _, procs := range []int{1, 2, 3, 8} {
				runtime.GOMAXPROCS(procs)
				got := BroadcastTo(a, sb)
				for k, w := range want {
					if got.f32[k] != w {
						t.Fatalf("BroadcastTo %v→%v, GOMAXPROCS %d: element %d is %v, want %v", sa, sb, procs, k, got.f32[k], w)
					}
				}
			}
		}
	}
}

// binRow32Ref is one element of binRow32, through the kernel itself.
func binRow32Ref(op BinaryOp, x, y float32) float32 {
	d := []float32{0}
	binRow32(op, d, []float32{x}, []float32{y}, 1, 1)
	return d[0]
}

// Slice, Unslice and Concat copy blocks split across goroutines: the same
// result for any GOMAXPROCS.
func TestCopyKernelsIndependentOfThreads(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := RandNormal(rng, Float32, 16, 96, 16, 16)
	y := RandNormal(rng, Float32, 16, 32, 16, 16)
	run := func() []*Tensor {
		return []*Tensor{Slice(x, 1, 32, 64), Slice(x, 0, 3, 11), Slice(x, 3, 1, 2), Unslice(y, 1, 40, 96),
			Concat(1, x, y), Concat(0, x, x), Concat(3, y, y, y)}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(1)
	want := run()
	// One reference by element, for the first Slice.
	for b := 0; b < 16; b++ {
		for c := 0; c < 32; c++ {
			for k := 0; k < 256; k++ {
				if want[0].f32[(b*32+c)*256+k] != x.f32[(b*96+32+c)*256+k] {
					t.Fatalf("Slice: element (%d, %d, %d) wrong", b, c, k)
				}
			}
		}
	}
	for _, procs := range []int{2, 3, 8} {
		runtime.GOMAXPROCS(procs)
		for i, got := range run() {
			if !SameShape(got.shape, want[i].shape) {
				t.Fatalf("case %d: shape %v, want %v", i, got.shape, want[i].shape)
			}
			for k := range got.f32 {
				if got.f32[k] != want[i].f32[k] {
					t.Fatalf("case %d, GOMAXPROCS %d: element %d differs", i, procs, k)
				}
			}
		}
	}
}
