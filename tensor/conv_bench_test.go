package tensor_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/wakesleep/wakesleep/tensor"
)

// A CIFAR-sized down-sampling layer: x [64, 32, 16, 16], w [64, 32, 4, 4],
// stride 2, pad 1 → y [64, 64, 8, 8], float32. bench/conv_torch.py times
// PyTorch on the same shape.
func convBenchInputs() (x, w *tensor.Tensor, p tensor.ConvParams) {
	rng := rand.New(rand.NewPCG(1, 1))
	x = tensor.RandUniform(rng, tensor.Float32, -1, 1, 64, 32, 16, 16)
	w = tensor.RandUniform(rng, tensor.Float32, -0.1, 0.1, 64, 32, 4, 4)
	return x, w, tensor.ConvParams{Stride: 2, Pad: 1}
}

// timeCalls runs f b.N times and reports, besides the mean (ns/op), the
// median and fastest call in milliseconds, the statistics
// bench/conv_torch.py prints: on a shared machine the fastest call is the
// one least disturbed by other processes.
func timeCalls(b *testing.B, f func()) {
	f() // warm the scratch buffers
	ms := make([]float64, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		f()
		ms = append(ms, float64(time.Since(t0).Nanoseconds())/1e6)
	}
	b.StopTimer()
	slices.Sort(ms)
	b.ReportMetric(ms[len(ms)/2], "median-ms")
	b.ReportMetric(ms[0], "fastest-ms")
}

func BenchmarkConv2dForward(b *testing.B) {
	x, w, p := convBenchInputs()
	timeCalls(b, func() { tensor.Conv2d(x, w, p) })
}

// Forward, then both adjoints with the output as the upstream gradient: what
// one training step costs this layer.
func BenchmarkConv2dForwardBackward(b *testing.B) {
	x, w, p := convBenchInputs()
	timeCalls(b, func() {
		y := tensor.Conv2d(x, w, p)
		tensor.Conv2dTranspose(y, w, p, x.Dim(2), x.Dim(3))
		tensor.Conv2dWeightGrad(x, y, p, w.Dim(2), w.Dim(3))
	})
}
