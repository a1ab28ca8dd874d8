package tensor

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// modelConvShapes are the float32 convolutions of one quick-preset training
// step of the CIFAR-10 and Moving MNIST models that took the most time (op
// F = Conv2d, T = Conv2dTranspose, W = Conv2dWeightGrad), with their calls
// per step, from a count of one step of bench/gostep (2026-12-01).
var modelConvShapes = []struct {
	model, op        string
	calls            int
	b, c, h, w, o, k int
	stride, pad      int
}{
	{"cifar10", "F", 4, 192, 32, 16, 16, 64, 4, 2, 1},
	{"cifar10", "F", 9, 64, 32, 16, 16, 64, 4, 2, 1},
	{"cifar10", "W", 9, 64, 32, 16, 16, 64, 4, 2, 1},
	{"cifar10", "F", 4, 192, 64, 8, 8, 128, 4, 2, 1},
	{"cifar10", "T", 3, 192, 32, 16, 16, 64, 4, 2, 1},
	{"cifar10", "F", 9, 64, 64, 8, 8, 128, 4, 2, 1},
	{"cifar10", "T", 7, 64, 32, 16, 16, 64, 4, 2, 1},
	{"cifar10", "W", 9, 64, 64, 8, 8, 128, 4, 2, 1},
	{"cifar10", "T", 2, 64, 256, 4, 4, 256, 4, 2, 1},
	{"cifar10", "T", 2, 64, 32, 32, 32, 32, 4, 2, 1},
	{"cifar10", "F", 8, 64, 128, 2, 2, 256, 3, 1, 1},
	{"cifar10", "T", 8, 64, 128, 2, 2, 256, 3, 1, 1},
	{"cifar10", "W", 8, 64, 128, 2, 2, 256, 3, 1, 1},
	{"movingmnist", "T", 2, 400, 16, 32, 32, 32, 4, 2, 1},
	{"movingmnist", "F", 2, 400, 16, 32, 32, 32, 4, 2, 1},
	{"movingmnist", "W", 2, 400, 16, 32, 32, 32, 4, 2, 1},
	{"movingmnist", "F", 29, 8, 64, 16, 16, 128, 3, 1, 1},
	{"movingmnist", "T", 28, 8, 64, 16, 16, 128, 3, 1, 1},
	{"movingmnist", "W", 29, 8, 64, 16, 16, 128, 3, 1, 1},
	{"movingmnist", "F", 28, 8, 48, 16, 16, 128, 3, 1, 1},
	{"movingmnist", "T", 27, 8, 48, 16, 16, 128, 3, 1, 1},
	{"movingmnist", "W", 28, 8, 48, 16, 16, 128, 3, 1, 1},
	{"movingmnist", "F", 2, 400, 1, 64, 64, 16, 4, 2, 1},
	{"movingmnist", "F", 57, 8, 32, 16, 16, 64, 1, 1, 0},
	{"movingmnist", "F", 29, 8, 32, 16, 16, 16, 3, 1, 1},
}

// BenchmarkConvModelShapes times each of modelConvShapes on the lowering
// this build uses (new) and on the explicit im2col/col2im one (old), the
// two alternated call by call (which goes first alternating too) so that
// both see the same load, and reports
// each model's convolution time per step, Σ calls × the median call:
//
//	GOMAXPROCS=1 nice -n 19 go test ./tensor -run '^$' -bench ConvModelShapes -benchtime 5x
func BenchmarkConvModelShapes(b *testing.B) {
	defer func(i bool) { implicitGEMM = i }(implicitGEMM)
	newI := implicitGEMM
	rng := rand.New(rand.NewPCG(1, 2))
	times := make([][2][]time.Duration, len(modelConvShapes))
	type call func()
	calls := make([]call, len(modelConvShapes))
	for i, s := range modelConvShapes {
		p := ConvParams{Stride: s.stride, Pad: s.pad}
		x := RandUniform(rng, Float32, -1, 1, s.b, s.c, s.h, s.w)
		w := RandUniform(rng, Float32, -1, 1, s.o, s.c, s.k, s.k)
		g := RandUniform(rng, Float32, -1, 1, s.b, s.o, ConvOutSize(s.h, s.k, p), ConvOutSize(s.w, s.k, p))
		switch s.op {
		case "F":
			calls[i] = func() { Recycle(Conv2d(x, w, p)) }
		case "T":
			calls[i] = func() { Recycle(Conv2dTranspose(g, w, p, s.h, s.w)) }
		default:
			calls[i] = func() { Recycle(Conv2dWeightGrad(x, g, p, s.k, s.k)) }
		}
	}
	for it := range b.N {
		for i, f := range calls {
			for j := range 2 {
				path := (it + j) % 2 // which runs first alternates
				implicitGEMM = newI && path == 1
				t0 := time.Now()
				f()
				times[i][path] = append(times[i][path], time.Since(t0))
			}
		}
	}
	median := func(d []time.Duration) float64 {
		d = slices.Clone(d)
		slices.Sort(d)
		return float64(d[len(d)/2]) / 1e6
	}
	perStep := map[string]*[2]float64{}
	for i, s := range modelConvShapes {
		old, cur := median(times[i][0]), median(times[i][1])
		fmt.Printf("%-11s %s x[%d %d %d %d] w[%d %d %d %d] s%d p%d: old %.3f ms, new %.3f ms (%.2f×)\n",
			s.model, s.op, s.b, s.c, s.h, s.w, s.o, s.c, s.k, s.k, s.stride, s.pad, old, cur, cur/old)
		if perStep[s.model] == nil {
			perStep[s.model] = new([2]float64)
		}
		perStep[s.model][0] += float64(s.calls) * old
		perStep[s.model][1] += float64(s.calls) * cur
	}
	for m, v := range perStep {
		b.ReportMetric(v[0], m+"-old-ms/step")
		b.ReportMetric(v[1], m+"-new-ms/step")
	}
}
