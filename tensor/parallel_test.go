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
