package autodiff_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/tensor"
)

// BenchmarkConvLSTMFusedOps times, at the Moving MNIST quick preset's
// shapes (batch 8, 32 hidden channels on a 16×16 grid), one forward and
// first-order backward pass of the ConvLSTM's elementwise cell (LSTMCell
// against LSTMCellComposite) and of its head's sample (GaussianSample of
// the flattened rows against Slice, Softplus, Mul and Add), fused and
// composite alternated call by call (which goes first alternating too),
// and prints the median of each with the per-step total for 57 cell
// steps (a count of one quick step: 29 decoder, 28 encoder):
//
//	GOMAXPROCS=1 nice -n 19 go test ./autodiff -run '^$' -bench ConvLSTMFusedOps -benchtime 30x
func BenchmarkConvLSTMFusedOps(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 4))
	f32 := func(shape ...int) *tensor.Tensor { return tensor.RandNormal(rng, tensor.Float32, shape...) }
	a, p := ad.Param(f32(8, 128, 16, 16)), ad.Param(f32(8, 32, 16, 16))
	ms, eps := ad.Param(f32(8, 64, 16, 16)), f32(8, 32, 16, 16)
	w1, w2 := ad.Const(f32(8, 32, 16, 16)), ad.Const(f32(8, 32, 16, 16))
	cell := func(f func(a, p *ad.Var) (c, m *ad.Var)) func() {
		return func() {
			c, m := f(a, p)
			ad.Grad(ad.Add(ad.Sum(ad.Mul(c, w1)), ad.Sum(ad.Mul(m, w2))), []*ad.Var{a, p}, nil)
		}
	}
	sample := func(fused bool) func() {
		return func() {
			var h *ad.Var
			if fused {
				h = ad.Reshape(ad.GaussianSample(ad.Reshape(ms, 8, -1), eps.Reshape(8, -1)), 8, 32, 16, 16)
			} else {
				h = ad.Add(ad.Slice(ms, 1, 0, 32), ad.Mul(ad.Softplus(ad.Slice(ms, 1, 32, 64)), ad.Const(eps)))
			}
			ad.Grad(ad.Sum(ad.Mul(h, w1)), []*ad.Var{ms}, nil)
		}
	}
	cases := []struct {
		name string
		run  [2]func() // composite, fused
	}{
		{"cell", [2]func(){cell(ad.LSTMCellComposite), cell(ad.LSTMCell)}},
		{"head sample", [2]func(){sample(false), sample(true)}},
	}
	times := make([][2][]time.Duration, len(cases))
	for it := range b.N {
		for i, c := range cases {
			for j := range 2 {
				path := (it + j) % 2
				t0 := time.Now()
				c.run[path]()
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
	for i, c := range cases {
		old, cur := median(times[i][0]), median(times[i][1])
		fmt.Printf("%s (forward and backward, with the loss's Mul and Sum): composite %.3f ms, fused %.3f ms (%.2f×); ×57 per step: %.0f → %.0f ms\n",
			c.name, old, cur, cur/old, 57*old, 57*cur)
	}
}
