package objective

// Golden tests of GradientPenalty against PyTorch 1.13 (Gulrajani et al. 2017,
// Eq. 3, term 3). The reference values in testdata/wgangp_*.{json,bin} come
// from scripts/golden_wgangp.py, which documents the format and how to
// regenerate them:
//
//	/usr/bin/python3 scripts/golden_wgangp.py
//
// The critics are built here with the nn package in float32 from the same
// float32 weights and inputs; PyTorch's reference is computed from those in
// float64. Acceptance: for every compared tensor, ‖ours − torch‖/‖torch‖ ≤
// 1e-4 (PyTorch's own float32 run reaches ~1e-6, recorded in the JSON).

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

// goldenTol is the acceptance bound on the relative error of each tensor.
const goldenTol = 1e-4

type goldenFile struct {
	Case                  string  `json:"case"`
	Penalty               float64 `json:"penalty"`
	Slope                 float64 `json:"slope"`
	PixelNormEps          float64 `json:"pixel_norm_eps"`
	TorchFloat32MaxRelErr float64 `json:"torch_float32_max_rel_err"`
	Params                []string
	Bin                   string `json:"bin"`
	Grads                 map[string]struct {
		Zero    bool `json:"zero"`
		Lowrank int  `json:"lowrank"`
	} `json:"grads"`
	GeneratedWeights map[string]struct {
		Seed  uint64  `json:"seed"`
		Scale float64 `json:"scale"`
		Shape []int   `json:"shape"`
		Sum   float64 `json:"sum"`
		Sumsq float64 `json:"sumsq"`
	} `json:"generated_weights"`
	Tensors []struct {
		Name   string `json:"name"`
		DType  string `json:"dtype"`
		Shape  []int  `json:"shape"`
		Offset int    `json:"offset"`
	} `json:"tensors"`

	tensors map[string]*tensor.Tensor
}

// loadGolden reads testdata/<name>.json and the tensors of its .bin.
func loadGolden(t *testing.T, name string) *goldenFile {
	t.Helper()
	meta, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	g := &goldenFile{tensors: map[string]*tensor.Tensor{}}
	if err := json.Unmarshal(meta, g); err != nil {
		t.Fatalf("%s.json: %v", name, err)
	}
	bin, err := os.ReadFile(filepath.Join("testdata", g.Bin))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range g.Tensors {
		n := tensor.Size(e.Shape)
		switch e.DType {
		case "float32":
			if e.Offset+4*n > len(bin) {
				t.Fatalf("%s: tensor %s past the end of %s", name, e.Name, g.Bin)
			}
			d := make([]float32, n)
			for i := range d {
				d[i] = math.Float32frombits(binary.LittleEndian.Uint32(bin[e.Offset+4*i:]))
			}
			g.tensors[e.Name] = tensor.FromFloat32(d, e.Shape...)
		case "float64":
			if e.Offset+8*n > len(bin) {
				t.Fatalf("%s: tensor %s past the end of %s", name, e.Name, g.Bin)
			}
			d := make([]float64, n)
			for i := range d {
				d[i] = math.Float64frombits(binary.LittleEndian.Uint64(bin[e.Offset+8*i:]))
			}
			g.tensors[e.Name] = tensor.FromFloat64(d, e.Shape...)
		default:
			t.Fatalf("%s: tensor %s of dtype %q", name, e.Name, e.DType)
		}
	}
	return g
}

func (g *goldenFile) tensor(t *testing.T, name string) *tensor.Tensor {
	t.Helper()
	v, ok := g.tensors[name]
	if !ok {
		t.Fatalf("golden %s has no tensor %q", g.Case, name)
	}
	return v
}

// gradRef returns PyTorch's gradient for parameter name, rebuilt from its
// rank-r factors where the file stores it that way, or nil if it is zero.
func (g *goldenFile) gradRef(t *testing.T, name string) *tensor.Tensor {
	t.Helper()
	info, ok := g.Grads[name]
	switch {
	case !ok:
		t.Fatalf("golden %s has no gradient entry for %q", g.Case, name)
	case info.Zero:
		return nil
	case info.Lowrank > 0:
		return tensor.MatMul(g.tensor(t, "grad."+name+".left"), g.tensor(t, "grad."+name+".right"), false, false)
	}
	return g.tensor(t, "grad."+name)
}

// goldenWeights regenerates a weight tensor of scripts/golden_wgangp.py:
// SplitMix64 (Steele, Lea & Flood 2014) in counter form, element i being
// scale·(2u − 1) with u the top 24 bits of mix(seed + (i+1)·γ) over 2²⁴.
// The power-of-two scale makes every value exact in float32.
func goldenWeights(seed uint64, scale float64, shape []int) *tensor.Tensor {
	t := tensor.New(tensor.Float32, shape...)
	f := t.Float32s()
	for i := range f {
		z := seed + uint64(i+1)*0x9E3779B97F4A7C15
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		z ^= z >> 31
		u := float64(z>>40) / (1 << 24)
		f[i] = float32((2*u - 1) * scale)
	}
	return t
}

// relErr returns ‖ours − ref‖/‖ref‖ over all elements, in float64.
func relErr(ours, ref *tensor.Tensor) float64 {
	if ours.Len() != ref.Len() {
		panic(fmt.Sprintf("relErr of %v and %v", ours.Shape(), ref.Shape()))
	}
	var d2, r2 float64
	for i := 0; i < ref.Len(); i++ {
		d := ours.At(i) - ref.At(i)
		d2 += d * d
		r2 += ref.At(i) * ref.At(i)
	}
	return math.Sqrt(d2 / r2)
}

// comparison collects relative errors and reports them sorted, with the max.
type comparison struct {
	t    *testing.T
	errs map[string]float64
}

func (c *comparison) add(name string, ours, ref *tensor.Tensor) {
	c.t.Helper()
	if !tensor.SameShape(ours.Shape(), ref.Shape()) && ours.Len() != ref.Len() {
		c.t.Fatalf("%s: shape %v, torch %v", name, ours.Shape(), ref.Shape())
	}
	c.errs[name] = relErr(ours, ref)
}

func (c *comparison) report(torchFloor float64) {
	c.t.Helper()
	names := make([]string, 0, len(c.errs))
	for n := range c.errs {
		names = append(names, n)
	}
	sort.Strings(names)
	max, maxName := 0.0, ""
	for _, n := range names {
		e := c.errs[n]
		c.t.Logf("  %-22s rel err %.3g", n, e)
		if e > goldenTol || math.IsNaN(e) {
			c.t.Errorf("%s: relative error %.3g > %g", n, e, goldenTol)
		}
		if e > max || math.IsNaN(e) {
			max, maxName = e, n
		}
	}
	c.t.Logf("max relative error %.3g (%s); PyTorch float32 vs float64: %.3g", max, maxName, torchFloor)
}

// checkGradients compares the penalty's gradient with respect to each
// parameter with PyTorch's; gradients PyTorch finds exactly zero must be zero
// here too (up to goldenTol times the largest gradient's norm).
func checkGradients(t *testing.T, g *goldenFile, c *comparison, p *ad.Var, params []*nn.Parameter) {
	t.Helper()
	if len(params) != len(g.Params) {
		t.Fatalf("%d parameters, torch has %d", len(params), len(g.Params))
	}
	grads := ad.Grad(p, nn.Vars(params), nil)
	var largest float64
	zeros := map[string]*tensor.Tensor{}
	for i, par := range params {
		if par.Name != g.Params[i] {
			t.Fatalf("parameter %d is %s, torch has %s", i, par.Name, g.Params[i])
		}
		ref := g.gradRef(t, par.Name)
		if ref == nil {
			zeros[par.Name] = grads[i].Value
			continue
		}
		largest = math.Max(largest, math.Sqrt(tensor.Dot(ref, ref)))
		c.add("grad."+par.Name, grads[i].Value, ref)
	}
	for name, v := range zeros {
		n := math.Sqrt(tensor.Dot(v, v))
		t.Logf("  %-22s norm %.3g (torch: exactly zero)", "grad."+name, n)
		if n > goldenTol*largest {
			t.Errorf("grad.%s: norm %.3g, torch has exactly zero", name, n)
		}
	}
}

// interpolates returns α·wakeₖ + (1−α)·sleepₖ for each input, as PyTorch's
// reference forms them, to compare D(x̂).
func interpolates(wake, sleep []*ad.Var, alpha *tensor.Tensor) []*ad.Var {
	out := make([]*ad.Var, len(wake))
	for k := range wake {
		shape := make([]int, wake[k].Rank())
		for i := range shape {
			shape[i] = 1
		}
		shape[0] = alpha.Dim(0)
		out[k] = ad.Lerp(wake[k], sleep[k], alpha.Reshape(shape...))
	}
	return out
}

// The global critic of the paper's Fig. 3B on concat(x, z), with the penalty
// of Gulrajani et al. (2017), Eq. 3, term 3.
func TestGoldenGradientPenaltyMLP(t *testing.T) {
	g := loadGolden(t, "wgangp_mlp")
	rng := rand.New(rand.NewPCG(1, 1)) // initial weights, all overwritten
	dims := []int{912, 512, 512, 512, 1}
	var layers []*nn.Linear
	var params []*nn.Parameter
	for l := 0; l < 4; l++ {
		lin := nn.NewLinear(dims[l], dims[l+1], tensor.Float32, rng)
		layers = append(layers, lin)
		params = append(params, nn.Prefixed(fmt.Sprintf("fc%d", l+1), lin.Parameters())...)
	}
	for _, p := range params {
		gen, ok := g.GeneratedWeights[p.Name]
		if !ok {
			t.Fatalf("no generated weights for %s", p.Name)
		}
		if !tensor.SameShape(gen.Shape, p.V.Shape()) {
			t.Fatalf("%s: generated shape %v, layer has %v", p.Name, gen.Shape, p.V.Shape())
		}
		w := goldenWeights(gen.Seed, gen.Scale, gen.Shape)
		var sum, sumsq float64
		for _, v := range w.Float32s() {
			sum += float64(v)
			sumsq += float64(v) * float64(v)
		}
		// The checksums are float64 sums of the same float32 values, added in
		// another order by NumPy: they agree to rounding.
		if math.Abs(sum-gen.Sum) > 1e-9*(1+math.Sqrt(gen.Sumsq)) || math.Abs(sumsq-gen.Sumsq) > 1e-12*gen.Sumsq {
			t.Fatalf("%s: generated weights differ from the script's (sum %.17g vs %.17g, sumsq %.17g vs %.17g)",
				p.Name, sum, gen.Sum, sumsq, gen.Sumsq)
		}
		p.V.Value.CopyFrom(w)
	}
	critic := func(in []*ad.Var) *ad.Var {
		h := ad.Concat(1, in...) // [B, 912]
		for l, lin := range layers {
			h = lin.Forward(h)
			if l < len(layers)-1 {
				h = ad.LeakyReLU(h, g.Slope)
			}
		}
		return h // [B, 1]
	}
	wake := []*ad.Var{ad.Const(g.tensor(t, "wake.x")), ad.Const(g.tensor(t, "wake.z"))}
	sleep := []*ad.Var{ad.Const(g.tensor(t, "sleep.x")), ad.Const(g.tensor(t, "sleep.z"))}
	compareWithTorch(t, g, critic, params, wake, sleep)
}

// compareWithTorch evaluates the critic on wake, sleep and interpolated
// inputs and the penalty with its gradients, and compares all of them with
// PyTorch's.
func compareWithTorch(t *testing.T, g *goldenFile, critic func([]*ad.Var) *ad.Var, params []*nn.Parameter, wake, sleep []*ad.Var) {
	t.Helper()
	c := &comparison{t: t, errs: map[string]float64{}}
	c.add("d_wake", critic(wake).Value, g.tensor(t, "d_wake"))
	c.add("d_sleep", critic(sleep).Value, g.tensor(t, "d_sleep"))
	alpha := g.tensor(t, "alpha")
	c.add("d_hat", critic(interpolates(wake, sleep, alpha)).Value, g.tensor(t, "d_hat"))
	p := GradientPenalty(critic, wake, sleep, alpha)
	c.add("penalty", p.Value, tensor.Scalar(tensor.Float64, g.Penalty))
	checkGradients(t, g, c, p, params)
	c.report(g.TorchFloat32MaxRelErr)
}

// A critic of the CIFAR-10 experiment's form (Sec. 5.2: conv layers,
// LeakyReLU 0.2, pixel norm on hidden layers, linear output) on 28×28 inputs,
// with the penalty of Gulrajani et al. (2017), Eq. 3, term 3. Unlike the
// MLP's, this critic is not piecewise linear (pixel norm), so the gradients
// of the hidden layers' biases are non-zero and checked; only the output bias
// does not reach ∇D.
func TestGoldenGradientPenaltyConv(t *testing.T) {
	g := loadGolden(t, "wgangp_conv")
	rng := rand.New(rand.NewPCG(1, 1)) // initial weights, all overwritten
	cp := tensor.ConvParams{Stride: 2, Pad: 1}
	conv1 := nn.NewConv2d(1, 16, 4, cp, tensor.Float32, rng)  // [B,1,28,28] → [B,16,14,14]
	conv2 := nn.NewConv2d(16, 32, 4, cp, tensor.Float32, rng) // → [B,32,7,7]
	fc := nn.NewLinear(32*7*7, 1, tensor.Float32, rng)        // [B,1568] → [B,1]
	var params []*nn.Parameter
	params = append(params, nn.Prefixed("conv1", conv1.Parameters())...)
	params = append(params, nn.Prefixed("conv2", conv2.Parameters())...)
	params = append(params, nn.Prefixed("fc", fc.Parameters())...)
	for _, p := range params {
		w := g.tensor(t, "param."+p.Name)
		if !tensor.SameShape(w.Shape(), p.V.Shape()) {
			t.Fatalf("%s: torch shape %v, layer has %v", p.Name, w.Shape(), p.V.Shape())
		}
		p.V.Value.CopyFrom(w)
	}
	critic := func(in []*ad.Var) *ad.Var {
		h := nn.PixelNorm(ad.LeakyReLU(conv1.Forward(in[0]), g.Slope), g.PixelNormEps)
		h = nn.PixelNorm(ad.LeakyReLU(conv2.Forward(h), g.Slope), g.PixelNormEps)
		return fc.Forward(ad.Flatten(h))
	}
	wake := []*ad.Var{ad.Const(g.tensor(t, "wake.x"))}
	sleep := []*ad.Var{ad.Const(g.tensor(t, "sleep.x"))}
	compareWithTorch(t, g, critic, params, wake, sleep)
}
