package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// randConvCase draws a geometry with strides 1 and 2 (and sometimes 3),
// padding 0..2, odd and even sizes, single items and kernels of 1 to 4.
func randConvCase(rng *rand.Rand) (b, c, h, w, o, k int, p ConvParams) {
	for {
		b, c, o = 1+rng.IntN(5), 1+rng.IntN(9), 1+rng.IntN(20)
		if rng.IntN(4) == 0 {
			b = 1
		}
		h, w, k = 1+rng.IntN(19), 1+rng.IntN(19), 1+rng.IntN(4)
		p = ConvParams{Stride: 1 + rng.IntN(2), Pad: rng.IntN(3)}
		if rng.IntN(8) == 0 {
			p.Stride = 3
		}
		if h+2*p.Pad >= k && w+2*p.Pad >= k {
			return
		}
	}
}

// TestConvImplicitMatchesExplicit checks the float32 implicit lowering
// (Conv2d, Conv2dWeightGrad) against the explicit im2col path, bit for bit,
// on random geometries, with whole-batch chunks and with chunks of one and
// two items, on one goroutine and on three.
func TestConvImplicitMatchesExplicit(t *testing.T) {
	if !implicitGEMM {
		t.Skip("no implicit lowering in this build")
	}
	defer func(n int) { colChunkElems = n }(colChunkElems)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer func() { implicitGEMM = true }()
	rng := rand.New(rand.NewPCG(17, 1))
	for i := range 60 {
		b, c, h, wd, o, k, p := randConvCase(rng)
		if i == 0 { // large enough for parallel products and lowering
			b, c, h, wd, o, k, p = 6, 16, 16, 16, 64, 3, ConvParams{Stride: 1, Pad: 1}
		}
		x := RandUniform(rng, Float32, -1, 1, b, c, h, wd)
		w := RandUniform(rng, Float32, -1, 1, o, c, k, k)
		ho, wo := ConvOutSize(h, k, p), ConvOutSize(wd, k, p)
		g := RandUniform(rng, Float32, -1, 1, b, o, ho, wo)
		per := c * k * k * ho * wo
		runtime.GOMAXPROCS(1 + 2*(i%2))
		colChunkElems = []int{1 << 30, per, 2 * per}[i%3]
		name := fmt.Sprintf("x%v w%v %+v chunk %d procs %d", x.Shape(), w.Shape(), p, colChunkElems, runtime.GOMAXPROCS(0))
		implicitGEMM = false
		y0, dw0 := Conv2d(x, w, p), Conv2dWeightGrad(x, g, p, k, k)
		implicitGEMM = true
		y1, dw1 := Conv2d(x, w, p), Conv2dWeightGrad(x, g, p, k, k)
		for what, pair := range map[string][2]*Tensor{"Conv2d": {y1, y0}, "Conv2dWeightGrad": {dw1, dw0}} {
			for j, v := range pair[0].f32 {
				if math.Float32bits(v) != math.Float32bits(pair[1].f32[j]) {
					t.Fatalf("%s: %s element %d = %v, explicit lowering gives %v", name, what, j, v, pair[1].f32[j])
				}
			}
		}
	}
}
