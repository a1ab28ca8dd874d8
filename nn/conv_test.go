package nn_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/autodiff/gradcheck"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

// goldenTensor is a tensor as scripts/golden_conv.py writes it.
type goldenTensor struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

func (g goldenTensor) f32() *tensor.Tensor {
	d := make([]float32, len(g.Data))
	for i, v := range g.Data {
		d[i] = float32(v)
	}
	return tensor.FromFloat32(d, g.Shape...)
}

// loadGolden reads nn/testdata/name into v. The files come from
// scripts/golden_conv.py (PyTorch 1.13, float32); see there to regenerate.
func loadGolden(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// goldenTol bounds max|got − want| / max|want|: float32 with another
// summation order than PyTorch's.
const goldenTol = 1e-4

func checkGolden(t *testing.T, what string, got *tensor.Tensor, want goldenTensor) {
	t.Helper()
	if !tensor.SameShape(got.Shape(), want.Shape) {
		t.Errorf("%s: shape %v, want %v", what, got.Shape(), want.Shape)
		return
	}
	var d, m float64
	for i, w := range want.Data {
		d = math.Max(d, math.Abs(got.At(i)-w))
		m = math.Max(m, math.Abs(w))
	}
	if m == 0 {
		m = 1
	}
	if d/m > goldenTol {
		t.Errorf("%s: relative error %.3g (max abs diff %.3g, max |want| %.3g)", what, d/m, d, m)
	}
}

// vjps returns the gradients of sum(y * seed) with respect to wrt.
func vjps(y *ad.Var, seed *tensor.Tensor, wrt ...*ad.Var) []*ad.Var {
	return ad.Grad(ad.Sum(ad.Mul(y, ad.Const(seed))), wrt, nil)
}

type goldenConvCase struct {
	Name          string       `json:"name"`
	In            int          `json:"in"`
	Out           int          `json:"out"`
	K             int          `json:"k"`
	Stride        int          `json:"stride"`
	Pad           int          `json:"pad"`
	OutputPadding int          `json:"output_padding"`
	X             goldenTensor `json:"x"`
	Weight        goldenTensor `json:"weight"`
	Bias          goldenTensor `json:"bias"`
	GradOut       goldenTensor `json:"grad_out"`
	Y             goldenTensor `json:"y"`
	GradX         goldenTensor `json:"grad_x"`
	GradWeight    goldenTensor `json:"grad_weight"`
	GradBias      goldenTensor `json:"grad_bias"`
}

func TestConv2dGolden(t *testing.T) {
	var doc struct{ Cases []goldenConvCase }
	loadGolden(t, "conv2d.json", &doc)
	if len(doc.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range doc.Cases {
		t.Run(c.Name, func(t *testing.T) {
			p := tensor.ConvParams{Stride: c.Stride, Pad: c.Pad}
			l := nn.NewConv2d(c.In, c.Out, c.K, p, tensor.Float32, rand.New(rand.NewPCG(1, 1)))
			l.W.Value.CopyFrom(c.Weight.f32())
			l.B.Value.CopyFrom(c.Bias.f32())
			x := ad.Param(c.X.f32())
			y := l.Forward(x)
			checkGolden(t, "y", y.Value, c.Y)
			g := vjps(y, c.GradOut.f32(), x, l.W, l.B)
			checkGolden(t, "grad_x", g[0].Value, c.GradX)
			checkGolden(t, "grad_weight", g[1].Value, c.GradWeight)
			checkGolden(t, "grad_bias", g[2].Value, c.GradBias)
		})
	}
}

func TestConvTranspose2dGolden(t *testing.T) {
	var doc struct{ Cases []goldenConvCase }
	loadGolden(t, "conv_transpose2d.json", &doc)
	if len(doc.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range doc.Cases {
		t.Run(c.Name, func(t *testing.T) {
			p := tensor.ConvParams{Stride: c.Stride, Pad: c.Pad}
			l := nn.NewConvTranspose2d(c.In, c.Out, c.K, p, c.OutputPadding, tensor.Float32, rand.New(rand.NewPCG(1, 1)))
			l.W.Value.CopyFrom(c.Weight.f32())
			l.B.Value.CopyFrom(c.Bias.f32())
			x := ad.Param(c.X.f32())
			y := l.Forward(x)
			checkGolden(t, "y", y.Value, c.Y)
			g := vjps(y, c.GradOut.f32(), x, l.W, l.B)
			checkGolden(t, "grad_x", g[0].Value, c.GradX)
			checkGolden(t, "grad_weight", g[1].Value, c.GradWeight)
			checkGolden(t, "grad_bias", g[2].Value, c.GradBias)
		})
	}
}

type forwarder interface {
	Forward(*ad.Var) *ad.Var
	Parameters() []*nn.Parameter
}

func TestConvLayerShapesAndInit(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	s2p1 := tensor.ConvParams{Stride: 2, Pad: 1}
	cases := []struct {
		name    string
		layer   forwarder
		in, out []int
		wantW   []int
		bound   float64 // PyTorch's init: U(±1/√fan_in)
	}{
		{"conv_32to16", nn.NewConv2d(3, 32, 4, s2p1, tensor.Float32, rng),
			[]int{2, 3, 32, 32}, []int{2, 32, 16, 16}, []int{32, 3, 4, 4}, 1 / math.Sqrt(3*16)},
		{"convT_4to8", nn.NewConvTranspose2d(64, 32, 4, s2p1, 0, tensor.Float32, rng),
			[]int{2, 64, 4, 4}, []int{2, 32, 8, 8}, []int{64, 32, 4, 4}, 1 / math.Sqrt(32*16)},
		{"convT_k3_outpad1", nn.NewConvTranspose2d(8, 4, 3, s2p1, 1, tensor.Float32, rng),
			[]int{1, 8, 5, 4}, []int{1, 4, 10, 8}, []int{8, 4, 3, 3}, 1 / math.Sqrt(4*9)},
		{"convT_1to2", nn.NewConvTranspose2d(100, 256, 4, s2p1, 0, tensor.Float32, rng),
			[]int{2, 100, 1, 1}, []int{2, 256, 2, 2}, []int{100, 256, 4, 4}, 1 / math.Sqrt(256*16)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y := c.layer.Forward(ad.Const(tensor.New(tensor.Float32, c.in...)))
			if !tensor.SameShape(y.Shape(), c.out) {
				t.Errorf("output shape %v, want %v", y.Shape(), c.out)
			}
			ps := c.layer.Parameters()
			if len(ps) != 2 || ps[0].Name != "weight" || ps[1].Name != "bias" {
				t.Fatalf("parameters %v", ps)
			}
			if w := ps[0].V.Value; !tensor.SameShape(w.Shape(), c.wantW) {
				t.Errorf("weight shape %v, want %v", w.Shape(), c.wantW)
			}
			for _, p := range ps {
				lo, hi := math.Inf(1), math.Inf(-1)
				for _, v := range p.V.Value.Values() {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
				// Inside ±bound, and spread over most of it.
				if lo < -c.bound || hi > c.bound || hi-lo < c.bound {
					t.Errorf("%s in [%.4g, %.4g], want U(±%.4g)", p.Name, lo, hi, c.bound)
				}
			}
		})
	}
}

func TestConvLayerWithoutBias(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	l := nn.NewConv2d(2, 3, 3, tensor.ConvParams{Pad: 1}, tensor.Float64, rng)
	l.B = nil
	if ps := l.Parameters(); len(ps) != 1 || ps[0].Name != "weight" {
		t.Fatalf("parameters %v", ps)
	}
	x := ad.Const(tensor.RandUniform(rng, tensor.Float64, -1, 1, 1, 2, 4, 4))
	got := l.Forward(x).Value
	want := tensor.Conv2d(x.Value, l.W.Value, l.Params)
	for i := 0; i < got.Len(); i++ {
		if got.At(i) != want.At(i) {
			t.Fatalf("element %d: %g, want %g", i, got.At(i), want.At(i))
		}
	}
}

func TestConvLayerPanics(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for name, f := range map[string]func(){
		"conv zero channels":        func() { nn.NewConv2d(0, 3, 3, tensor.ConvParams{}, tensor.Float32, rng) },
		"convT output padding ≥ s":  func() { nn.NewConvTranspose2d(2, 3, 4, tensor.ConvParams{Stride: 2}, 2, tensor.Float32, rng) },
		"convT output padding, s 1": func() { nn.NewConvTranspose2d(2, 3, 4, tensor.ConvParams{}, 1, tensor.Float32, rng) },
		"conv negative pad":         func() { nn.NewConv2d(2, 3, 3, tensor.ConvParams{Pad: -1}, tensor.Float32, rng) },
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

// layerCase is a float64 function of (input, weight, bias) for gradcheck.
type layerCase struct {
	name   string
	f      gradcheck.Func
	shapes [][]int
}

var convLayerCases = []layerCase{
	{"conv2d_k3_s1_p1", func(v []*ad.Var) *ad.Var {
		l := &nn.Conv2d{W: v[1], B: v[2], Params: tensor.ConvParams{Stride: 1, Pad: 1}}
		return ad.Tanh(l.Forward(v[0]))
	}, [][]int{{2, 3, 5, 4}, {4, 3, 3, 3}, {4}}},
	{"conv2d_k4_s2_p1", func(v []*ad.Var) *ad.Var {
		l := &nn.Conv2d{W: v[1], B: v[2], Params: tensor.ConvParams{Stride: 2, Pad: 1}}
		return ad.Square(l.Forward(v[0]))
	}, [][]int{{2, 2, 6, 7}, {3, 2, 4, 4}, {3}}},
	{"conv_transpose2d_k4_s2_p1", func(v []*ad.Var) *ad.Var {
		l := &nn.ConvTranspose2d{W: v[1], B: v[2], Params: tensor.ConvParams{Stride: 2, Pad: 1}}
		return ad.Tanh(l.Forward(v[0]))
	}, [][]int{{2, 3, 3, 2}, {3, 2, 4, 4}, {2}}},
	{"conv_transpose2d_k3_s2_p1_op1", func(v []*ad.Var) *ad.Var {
		l := &nn.ConvTranspose2d{W: v[1], B: v[2], Params: tensor.ConvParams{Stride: 2, Pad: 1}, OutputPadding: 1}
		return ad.Square(l.Forward(v[0]))
	}, [][]int{{2, 2, 3, 3}, {2, 3, 3, 3}, {3}}},
}

func randInputs(rng *rand.Rand, shapes [][]int) []*tensor.Tensor {
	xs := make([]*tensor.Tensor, len(shapes))
	for i, s := range shapes {
		xs[i] = gradcheck.Rand(rng, -1, 1, s...)
	}
	return xs
}

func runLayerGradchecks(t *testing.T, cases []layerCase) {
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 21))
			opts := &gradcheck.Options{Seed: uint64(i)}
			if err := gradcheck.Check(c.f, randInputs(rng, c.shapes), opts); err != nil {
				t.Fatal(err)
			}
			if err := gradcheck.CheckSecondOrder(c.f, randInputs(rng, c.shapes), opts); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConvLayerGradients(t *testing.T) {
	runLayerGradchecks(t, convLayerCases)
}
