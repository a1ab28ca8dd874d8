package tensor

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// Normalize, NormalizeGrad and ChannelAffine split their groups (or rows)
// across goroutines, each computed by one worker with the same arithmetic:
// the results are bit-identical whatever GOMAXPROCS is. The shapes are
// large enough to be split three ways (≥ 3·minParallelElems), with rows
// shorter and longer than minRowOp.
func TestNormKernelsIndependentOfThreads(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, shape := range [][]int{{32, 24, 16, 9}, {256, 48, 3, 3}, {4800, 24}} {
		x := RandNormal(rng, Float32, shape...)
		g := RandNormal(rng, Float32, shape...)
		w, b := RandNormal(rng, Float32, shape[1]), RandNormal(rng, Float32, shape[1])
		run := func() []*Tensor {
			var out []*Tensor
			for _, kind := range []NormKind{NormPerChannel, NormPerPosition} {
				y, r := Normalize(x, kind, 1e-5)
				out = append(out, y, r, NormalizeGrad(g, y, r, kind))
			}
			return append(out, ChannelAffine(x, w, b, true, 0.2), ChannelAffine(x, nil, b, false, 0))
		}
		runtime.GOMAXPROCS(1)
		one := run()
		runtime.GOMAXPROCS(3)
		three := run()
		for i := range one {
			a, c := one[i].f32, three[i].f32
			for j := range a {
				if math.Float32bits(a[j]) != math.Float32bits(c[j]) {
					t.Fatalf("%v, result %d, element %d: %g with 1 thread, %g with 3", shape, i, j, a[j], c[j])
				}
			}
		}
	}
}

func TestNormKernelsRejectBadInput(t *testing.T) {
	x := New(Float32, 2, 3, 4)
	for name, f := range map[string]func(){
		"channel affine rank 1":  func() { ChannelAffine(New(Float32, 3), nil, nil, false, 0) },
		"channel affine w shape": func() { ChannelAffine(x, New(Float32, 4), nil, false, 0) },
		"channel affine b type":  func() { ChannelAffine(x, nil, New(Float64, 3), false, 0) },
		"normalize grad shapes":  func() { NormalizeGrad(x, New(Float32, 2, 3, 5), New(Float32, 1, 3, 1), NormPerChannel) },
		"normalize NaN eps":      func() { Normalize(x, NormPerPosition, math.NaN()) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
