package tensor

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// BenchmarkNormalizeGradRows times NormalizeGrad per channel at the Moving
// MNIST critic's batch-norm shapes (quick preset) with its one-pass
// assembly (new) and with the passes it replaced (old: sum4 and dotRow for
// the sums, four binRow32 passes for each row), the two alternated call by
// call (which goes first alternating too), and prints the median call:
//
//	GOMAXPROCS=1 nice -n 19 go test ./tensor -run '^$' -bench NormalizeGradRows -benchtime 15x
func BenchmarkNormalizeGradRows(b *testing.B) {
	defer func(f bool) { fusedNormRows = f }(fusedNormRows)
	rng := rand.New(rand.NewPCG(1, 3))
	shapes := [][]int{{400, 16, 32, 32}, {400, 32, 16, 16}, {400, 64, 8, 8}}
	times := make([][2][]time.Duration, len(shapes))
	type args struct{ g, y, r *Tensor }
	in := make([]args, len(shapes))
	for i, s := range shapes {
		x := RandNormal(rng, Float32, s...)
		y, r := Normalize(x, NormPerChannel, 1e-5)
		in[i] = args{RandNormal(rng, Float32, s...), y, r}
	}
	for it := range b.N {
		for i, a := range in {
			for j := range 2 {
				path := (it + j) % 2
				fusedNormRows = path == 1
				t0 := time.Now()
				Recycle(NormalizeGrad(a.g, a.y, a.r, NormPerChannel))
				times[i][path] = append(times[i][path], time.Since(t0))
			}
		}
	}
	if b.N == 1 {
		return // the probe run before the timed one
	}
	median := func(d []time.Duration) float64 {
		d = slices.Clone(d)
		slices.Sort(d)
		return float64(d[len(d)/2]) / 1e6
	}
	for i, s := range shapes {
		old, cur := median(times[i][0]), median(times[i][1])
		fmt.Printf("NormalizeGrad per channel %v: old %.3f ms, new %.3f ms (%.2f×)\n", s, old, cur, cur/old)
	}
}
