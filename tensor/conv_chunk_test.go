package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The lowering runs a few batch items at a time (colChunkElems) and splits
// each chunk over goroutines (when it holds minParallelWork elements). Forcing tiny chunks, including a last chunk
// shorter than the others and chunks of one item, must not change any of
// the three products.
func TestConvChunking(t *testing.T) {
	defer func(n int) { colChunkElems = n }(colChunkElems)
	cases := []struct {
		b, c, h, w, o, k int
		p                ConvParams
	}{
		{7, 3, 9, 8, 4, 4, ConvParams{Stride: 2, Pad: 1}},
		{5, 2, 6, 6, 3, 3, ConvParams{Stride: 1, Pad: 1}},
		{6, 4, 5, 5, 2, 1, ConvParams{}},
		{9, 2, 2, 2, 5, 4, ConvParams{Stride: 2, Pad: 1}},    // 2×2 → 1×1, mostly padding
		{18, 8, 16, 16, 3, 4, ConvParams{Stride: 2, Pad: 1}}, // chunks of 4 items lowered by several goroutines
	}
	for i, tc := range cases {
		rng := rand.New(rand.NewPCG(uint64(i), 5))
		x := RandUniform(rng, Float64, -1, 1, tc.b, tc.c, tc.h, tc.w)
		w := RandUniform(rng, Float64, -1, 1, tc.o, tc.c, tc.k, tc.k)
		ho, wo := ConvOutSize(tc.h, tc.k, tc.p), ConvOutSize(tc.w, tc.k, tc.p)
		g := RandUniform(rng, Float64, -1, 1, tc.b, tc.o, ho, wo)
		colChunkElems = 1 << 30 // one chunk: the whole batch
		y0, dx0, dw0 := Conv2d(x, w, tc.p), Conv2dTranspose(g, w, tc.p, tc.h, tc.w), Conv2dWeightGrad(x, g, tc.p, tc.k, tc.k)
		per := tc.c * tc.k * tc.k * ho * wo
		for _, items := range []int{1, 2, 4} {
			colChunkElems = items * per
			y, dx, dw := Conv2d(x, w, tc.p), Conv2dTranspose(g, w, tc.p, tc.h, tc.w), Conv2dWeightGrad(x, g, tc.p, tc.k, tc.k)
			for name, pair := range map[string][2]*Tensor{"conv": {y, y0}, "transpose": {dx, dx0}, "weight grad": {dw, dw0}} {
				for j := 0; j < pair[0].Len(); j++ {
					if d := math.Abs(pair[0].At(j) - pair[1].At(j)); d > 1e-12 {
						t.Fatalf("case %d, %d items a chunk: %s element %d differs by %g", i, items, name, j, d)
					}
				}
			}
		}
	}
}
