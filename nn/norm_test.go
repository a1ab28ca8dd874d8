package nn_test

import (
	"math"
	"math/rand/v2"
	"testing"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/autodiff/gradcheck"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

func TestPixelNormValues(t *testing.T) {
	// x [1, 2, 1, 2]: position 0 has channels (3, 4), position 1 has (0, 0).
	x := ad.Const(tensor.FromFloat64([]float64{3, 0, 4, 0}, 1, 2, 1, 2))
	y := nn.PixelNorm(x, 0).Value
	s := math.Sqrt((9+16)/2.0 + 1e-8)
	want := []float64{3 / s, 0, 4 / s, 0}
	for i, w := range want {
		if math.Abs(y.At(i)-w) > 1e-15 {
			t.Errorf("y[%d] = %.17g, want %.17g", i, y.At(i), w)
		}
	}

	// In general the mean square over channels becomes ms/(ms + ε) ≈ 1.
	rng := rand.New(rand.NewPCG(1, 1))
	for _, shape := range [][]int{{3, 5}, {2, 4, 3, 2}} {
		x := ad.Const(tensor.RandNormal(rng, tensor.Float32, shape...))
		y := nn.PixelNorm(x, 1e-8).Value
		c := shape[1]
		inner := y.Len() / shape[0] / c
		for b := 0; b < shape[0]; b++ {
			for i := 0; i < inner; i++ {
				var ms float64
				for ch := 0; ch < c; ch++ {
					v := y.At((b*c+ch)*inner + i)
					ms += v * v / float64(c)
				}
				if math.Abs(ms-1) > 1e-5 {
					t.Fatalf("shape %v: mean square %.7g at batch %d position %d", shape, ms, b, i)
				}
			}
		}
	}
}

func TestPixelNormGradients(t *testing.T) {
	runLayerGradchecks(t, []layerCase{
		{"pixel_norm_2d", func(v []*ad.Var) *ad.Var { return nn.PixelNorm(v[0], 1e-8) }, [][]int{{3, 4}}},
		{"pixel_norm_4d", func(v []*ad.Var) *ad.Var { return nn.PixelNorm(v[0], 1e-3) }, [][]int{{2, 3, 2, 3}}},
		// After ReLU and a conv, as in the CIFAR model.
		{"pixel_norm_after_conv", func(v []*ad.Var) *ad.Var {
			return nn.PixelNorm(ad.Conv2d(v[0], v[1], tensor.ConvParams{Stride: 2, Pad: 1}), 0)
		}, [][]int{{2, 2, 4, 4}, {3, 2, 4, 4}}},
	})
}

// bnFunc runs a fresh BatchNorm (running statistics at 0 and 1) with γ, β
// from v[1], v[2] on v[0].
func bnFunc(training bool, momentum float64) gradcheck.Func {
	return func(v []*ad.Var) *ad.Var {
		bn := nn.NewBatchNorm(v[0].Dim(1), tensor.Float64)
		bn.W, bn.B = v[1], v[2]
		if !training { // make eval differ from the identity
			for i := 0; i < bn.RunningMean.Len(); i++ {
				bn.RunningMean.SetAt(i, 0.1*float64(i)-0.2)
				bn.RunningVar.SetAt(i, 0.5+0.3*float64(i))
			}
		}
		bn.Momentum = momentum
		return ad.Tanh(bn.Forward(v[0], training))
	}
}

func TestBatchNormGradients(t *testing.T) {
	runLayerGradchecks(t, []layerCase{
		{"train_2d", bnFunc(true, 0.1), [][]int{{5, 3}, {3}, {3}}},
		{"train_4d", bnFunc(true, 0.1), [][]int{{3, 2, 2, 3}, {2}, {2}}},
		{"eval_2d", bnFunc(false, 0.1), [][]int{{5, 3}, {3}, {3}}},
		{"eval_4d", bnFunc(false, 0.1), [][]int{{3, 2, 2, 3}, {2}, {2}}},
	})
}

func TestBatchNormTrainEval(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	const B, C, H, W = 4, 3, 2, 3
	n := float64(B * H * W)
	x := ad.Const(tensor.RandUniform(rng, tensor.Float64, -1, 3, B, C, H, W))
	bn := nn.NewBatchNorm(C, tensor.Float64)

	// Reference per-channel statistics.
	mean, biased := make([]float64, C), make([]float64, C)
	for c := 0; c < C; c++ {
		for b := 0; b < B; b++ {
			for i := 0; i < H*W; i++ {
				mean[c] += x.Value.At((b*C+c)*H*W+i) / n
			}
		}
		for b := 0; b < B; b++ {
			for i := 0; i < H*W; i++ {
				d := x.Value.At((b*C+c)*H*W+i) - mean[c]
				biased[c] += d * d / n
			}
		}
	}

	// Training: with γ = 1, β = 0 each channel comes out with mean 0 and biased
	// variance σ²/(σ² + ε).
	y := bn.Forward(x, true).Value
	for c := 0; c < C; c++ {
		var m, v float64
		for b := 0; b < B; b++ {
			for i := 0; i < H*W; i++ {
				m += y.At((b*C+c)*H*W+i) / n
			}
		}
		for b := 0; b < B; b++ {
			for i := 0; i < H*W; i++ {
				d := y.At((b*C+c)*H*W+i) - m
				v += d * d / n
			}
		}
		if math.Abs(m) > 1e-12 || math.Abs(v-biased[c]/(biased[c]+1e-5)) > 1e-12 {
			t.Errorf("channel %d: output mean %g, variance %g", c, m, v)
		}
		// Running statistics: one step of momentum 0.1 from (0, 1), unbiased variance.
		if got, want := bn.RunningMean.At(c), 0.1*mean[c]; math.Abs(got-want) > 1e-12 {
			t.Errorf("running_mean[%d] = %g, want %g", c, got, want)
		}
		if got, want := bn.RunningVar.At(c), 0.9+0.1*biased[c]*n/(n-1); math.Abs(got-want) > 1e-12 {
			t.Errorf("running_var[%d] = %g, want %g", c, got, want)
		}
	}
	if bn.NumBatchesTracked != 1 {
		t.Errorf("NumBatchesTracked = %d", bn.NumBatchesTracked)
	}

	// Eval uses the running statistics and leaves them alone.
	bn.W.Value.CopyFrom(tensor.FromFloat64([]float64{2, 0.5, -1}, C))
	bn.B.Value.CopyFrom(tensor.FromFloat64([]float64{0.1, -0.2, 0.3}, C))
	rm, rv := bn.RunningMean.Clone(), bn.RunningVar.Clone()
	ye := bn.Forward(x, false).Value
	for i := 0; i < ye.Len(); i++ {
		c := (i / (H * W)) % C
		want := (x.Value.At(i)-rm.At(c))/math.Sqrt(rv.At(c)+1e-5)*bn.W.Value.At(c) + bn.B.Value.At(c)
		if math.Abs(ye.At(i)-want) > 1e-12 {
			t.Fatalf("eval y[%d] = %g, want %g", i, ye.At(i), want)
		}
	}
	for c := 0; c < C; c++ {
		if bn.RunningMean.At(c) != rm.At(c) || bn.RunningVar.At(c) != rv.At(c) {
			t.Fatal("eval changed the running statistics")
		}
	}
	if bn.NumBatchesTracked != 1 {
		t.Errorf("NumBatchesTracked = %d after eval", bn.NumBatchesTracked)
	}
}

func TestBatchNormParametersAndBuffers(t *testing.T) {
	bn := nn.NewBatchNorm(4, tensor.Float32)
	ps := bn.Parameters()
	if len(ps) != 2 || ps[0].Name != "weight" || ps[1].Name != "bias" || ps[0].V != bn.W || ps[1].V != bn.B {
		t.Fatalf("parameters %v", ps)
	}
	for i := 0; i < 4; i++ {
		if bn.W.Value.At(i) != 1 || bn.B.Value.At(i) != 0 || bn.RunningMean.At(i) != 0 || bn.RunningVar.At(i) != 1 {
			t.Fatal("initial values are not γ = 1, β = 0, running (0, 1)")
		}
	}
	bs := nn.PrefixedBuffers("critic.bn1", bn.Buffers())
	if len(bs) != 2 || bs[0].Name != "critic.bn1.running_mean" || bs[1].Name != "critic.bn1.running_var" {
		t.Fatalf("buffers %v", bs)
	}
	// Buffers share storage: a checkpoint loader writes through them.
	bs[1].T.CopyFrom(tensor.Full(tensor.Float32, 2, 4))
	if bn.RunningVar.At(3) != 2 {
		t.Fatal("Buffers does not alias the running statistics")
	}
}

func TestBatchNormPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"one value per channel": func() {
			nn.NewBatchNorm(3, tensor.Float64).Forward(ad.Const(tensor.New(tensor.Float64, 1, 3)), true)
		},
		"channels": func() {
			nn.NewBatchNorm(3, tensor.Float64).Forward(ad.Const(tensor.New(tensor.Float64, 4, 2)), true)
		},
		"rank 3": func() {
			nn.NewBatchNorm(3, tensor.Float64).Forward(ad.Const(tensor.New(tensor.Float64, 4, 3, 2)), false)
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f()
		})
	}
}

func TestBatchNormGolden(t *testing.T) {
	var doc struct {
		Cases []struct {
			Name        string       `json:"name"`
			Channels    int          `json:"channels"`
			Momentum    float64      `json:"momentum"`
			Eps         float64      `json:"eps"`
			X           goldenTensor `json:"x"`
			Weight      goldenTensor `json:"weight"`
			Bias        goldenTensor `json:"bias"`
			GradOut     goldenTensor `json:"grad_out"`
			YTrain      goldenTensor `json:"y_train"`
			GradX       goldenTensor `json:"grad_x"`
			GradWeight  goldenTensor `json:"grad_weight"`
			GradBias    goldenTensor `json:"grad_bias"`
			RunningMean goldenTensor `json:"running_mean"`
			RunningVar  goldenTensor `json:"running_var"`
			YEval       goldenTensor `json:"y_eval"`
		}
	}
	loadGolden(t, "batchnorm.json", &doc)
	if len(doc.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range doc.Cases {
		t.Run(c.Name, func(t *testing.T) {
			bn := nn.NewBatchNorm(c.Channels, tensor.Float32)
			if bn.Momentum != c.Momentum || bn.Eps != c.Eps {
				t.Errorf("defaults momentum %g, eps %g; PyTorch's %g, %g", bn.Momentum, bn.Eps, c.Momentum, c.Eps)
			}
			bn.W.Value.CopyFrom(c.Weight.f32())
			bn.B.Value.CopyFrom(c.Bias.f32())
			x := ad.Param(c.X.f32())
			y := bn.Forward(x, true)
			checkGolden(t, "y_train", y.Value, c.YTrain)
			g := vjps(y, c.GradOut.f32(), x, bn.W, bn.B)
			checkGolden(t, "grad_x", g[0].Value, c.GradX)
			checkGolden(t, "grad_weight", g[1].Value, c.GradWeight)
			checkGolden(t, "grad_bias", g[2].Value, c.GradBias)
			checkGolden(t, "running_mean", bn.RunningMean, c.RunningMean)
			checkGolden(t, "running_var", bn.RunningVar, c.RunningVar)
			checkGolden(t, "y_eval", bn.Forward(x, false).Value, c.YEval)
		})
	}
}
