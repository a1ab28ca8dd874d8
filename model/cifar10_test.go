package model

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/autodiff/gradcheck"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

// The paper's model (Appendix A.1.4): every layer's shape, bottom-up and
// top-down, and every critic's output and feature shapes.
func TestCIFAR10LayerShapes(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := NewCIFAR10(DefaultCIFAR10Config(), tensor.Float32, rng)
	if err != nil {
		t.Fatal(err)
	}
	const B = 2
	want := [][]int{{B, 3, 32, 32}, {B, 32, 16, 16}, {B, 64, 8, 8}, {B, 128, 4, 4}, {B, 256, 2, 2}, {B, 100, 1, 1}}
	x := ad.Const(tensor.RandUniform(rng, tensor.Float32, -1, 1, want[0]...))
	up := m.Infer(x, rng)
	down := m.Generate(m.Prior(B, rng), rng)
	if len(up) != 6 || len(down) != 6 {
		t.Fatalf("%d layers up, %d down, want 6", len(up), len(down))
	}
	// Critic features: 2K channels at the side after two shrinking convs.
	featSide := []int{8, 4, 2, 2, 2, 1}
	for i := range want {
		if !tensor.SameShape(up[i].Shape(), want[i]) || !tensor.SameShape(down[i].Shape(), want[i]) {
			t.Errorf("layer %d: up %v, down %v, want %v", i, up[i].Shape(), down[i].Shape(), want[i])
		}
		if got := m.Config.LayerShape(B, i); !tensor.SameShape(got, want[i]) {
			t.Errorf("LayerShape(%d) = %v", i, got)
		}
		d, f := m.Critics[i].ForwardFeatures(up[i])
		k := 2 * m.Config.CriticChannels[i]
		if !tensor.SameShape(d.Shape(), []int{B, 1}) || !tensor.SameShape(f.Shape(), []int{B, k * featSide[i] * featSide[i]}) {
			t.Errorf("critic %d: D %v, features %v", i, d.Shape(), f.Shape())
		}
	}
	// One-step arrows keep the shapes of their ends.
	for i := 0; i < 5; i++ {
		if s := m.GenerateStep(i, up[i+1], rng).Shape(); !tensor.SameShape(s, want[i]) {
			t.Errorf("GenerateStep(%d): %v", i, s)
		}
		if s := m.InferStep(i, down[i], rng).Shape(); !tensor.SameShape(s, want[i+1]) {
			t.Errorf("InferStep(%d): %v", i, s)
		}
	}
	if s := m.Reconstruct(x, rng).Shape(); !tensor.SameShape(s, want[0]) {
		t.Errorf("Reconstruct: %v", s)
	}
}

// Latent layers are ReLU'd and pixel-normalised: non-negative, with mean
// square 1 over channels at every position; the image and (by default) the
// top layer are plain Gaussian samples, with negative values.
func TestCIFAR10Activations(t *testing.T) {
	t.Parallel()
	for _, top := range []string{TopLinear, TopReLUNorm} {
		cfg := tinyCIFAR10Config()
		cfg.TopActivation = top
		rng := rand.New(rand.NewPCG(3, 4))
		m, err := NewCIFAR10(cfg, tensor.Float64, rng)
		if err != nil {
			t.Fatal(err)
		}
		x := ad.Const(tensor.RandUniform(rng, tensor.Float64, -1, 1, cfg.LayerShape(4, 0)...))
		L := cfg.Layers()
		for name, zs := range map[string][]*ad.Var{"infer": m.Infer(x, rng), "generate": m.Generate(m.Prior(4, rng), rng)} {
			for i, z := range zs {
				normed := i > 0 && (i < L || top == TopReLUNorm)
				minV, maxMS, unit := pixelStats(z.Value)
				if normed && (minV < 0 || maxMS > 1+1e-9 || unit < 0.5) {
					t.Errorf("%s %s layer %d: min %g, largest mean square %g, %.2f of positions at 1", top, name, i, minV, maxMS, unit)
				}
				if !normed && minV >= 0 {
					t.Errorf("%s %s layer %d: no negative values, want a plain Gaussian sample", top, name, i)
				}
			}
		}
	}
}

// pixelStats returns the smallest value of z [B, C, H, W], the largest mean
// over channels of z² at one position, and the fraction of positions where
// that mean is 1 (to 1e-3: below, the ReLU cut every channel or left only
// values small beside PixelNorm's ε).
func pixelStats(z *tensor.Tensor) (minV, maxMS, unit float64) {
	B, C, H, W := z.Dim(0), z.Dim(1), z.Dim(2), z.Dim(3)
	minV = math.Inf(1)
	n := 0
	for b := 0; b < B; b++ {
		for p := 0; p < H*W; p++ {
			var ms float64
			for c := 0; c < C; c++ {
				v := z.At((b*C+c)*H*W + p)
				minV = math.Min(minV, v)
				ms += v * v / float64(C)
			}
			maxMS = math.Max(maxMS, ms)
			if math.Abs(ms-1) < 1e-3 {
				n++
			}
		}
	}
	return minV, maxMS, float64(n) / float64(B*H*W)
}

// tinyCIFAR10Config is the paper's geometry with few channels.
func tinyCIFAR10Config() CIFAR10Config {
	c := DefaultCIFAR10Config()
	c.Channels = []int{4, 4, 6, 6, 5}
	c.CriticChannels = []int{2, 2, 2, 2, 2, 2}
	return c
}

func TestCIFAR10Parameters(t *testing.T) {
	t.Parallel()
	m, err := NewCIFAR10(DefaultCIFAR10Config(), tensor.Float32, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string][]int{}
	for _, p := range m.Parameters() {
		if _, dup := names[p.Name]; dup {
			t.Fatalf("duplicate parameter %s", p.Name)
		}
		names[p.Name] = p.V.Shape()
	}
	for name, shape := range map[string][]int{
		"inference.0.down.weight": {32, 3, 4, 4},    // x → hidden 32 at 16×16
		"inference.0.out.weight":  {64, 32, 1, 1},   // → mean, std of z₁
		"inference.4.down.weight": {256, 256, 4, 4}, // z₄ → hidden 256 at 1×1
		"inference.4.out.weight":  {200, 256, 1, 1},
		"generation.4.up.weight":  {100, 256, 4, 4}, // z₅ → hidden 256 at 2×2 (ConvTranspose: [In, Out, K, K])
		"generation.0.up.weight":  {32, 32, 4, 4},
		"generation.0.out.weight": {6, 32, 1, 1}, // → mean, std of the image
		"critic.0.conv1.weight":   {32, 3, 4, 4},
		"critic.0.conv2.weight":   {64, 32, 4, 4},
		"critic.0.out.weight":     {1, 64 * 8 * 8},
		"critic.4.conv1.weight":   {128, 256, 3, 3},
		"critic.5.conv2.weight":   {256, 128, 1, 1},
		"critic.5.out.bias":       {1},
		"generation.2.out.bias":   {128},
		"inference.2.down.bias":   {128},
		"critic.3.conv2.bias":     {256},
		"generation.3.up.bias":    {256},
		"inference.1.out.bias":    {128},
		"critic.2.out.weight":     {1, 256 * 2 * 2},
		"critic.1.out.weight":     {1, 128 * 4 * 4},
		"generation.1.out.weight": {64, 64, 1, 1},
		"inference.3.out.weight":  {512, 256, 1, 1},
		"generation.3.out.weight": {256, 256, 1, 1},
		"inference.3.down.weight": {256, 128, 4, 4},
		"generation.2.up.weight":  {128, 128, 4, 4},
		"critic.3.conv1.weight":   {128, 128, 4, 4},
		"critic.4.out.weight":     {1, 256 * 2 * 2},
		"critic.5.conv1.weight":   {128, 100, 1, 1},
		"critic.3.out.weight":     {1, 256 * 2 * 2},
		"critic.2.conv1.weight":   {128, 64, 4, 4},
		"inference.1.down.weight": {64, 32, 4, 4},
		"generation.1.up.weight":  {64, 64, 4, 4},
		"generation.4.out.weight": {512, 256, 1, 1},
		"inference.2.out.weight":  {256, 128, 1, 1},
		"critic.1.conv2.weight":   {128, 64, 4, 4},
		"critic.4.conv2.weight":   {256, 128, 3, 3},
		"inference.0.down.bias":   {32},
		"generation.0.up.bias":    {32},
		"generation.4.up.bias":    {256},
		"inference.4.out.bias":    {200},
		"critic.0.conv1.bias":     {32},
		"critic.5.conv2.bias":     {256},
		"critic.0.out.bias":       {1},
		"generation.0.out.bias":   {6},
		"inference.4.down.bias":   {256},
		"critic.4.conv1.bias":     {128},
		"critic.1.conv1.weight":   {64, 32, 4, 4},
		"inference.2.down.weight": {128, 64, 4, 4},
		"generation.2.out.weight": {128, 128, 1, 1},
		"generation.1.up.bias":    {64},
	} {
		if got, ok := names[name]; !ok || !tensor.SameShape(got, shape) {
			t.Errorf("%s: %v, want %v", name, got, shape)
		}
	}
	if n, c := len(m.NetworkParameters()), len(m.CriticParameters()); n != 5*2*4 || c != 6*6 {
		t.Errorf("%d network and %d critic parameters, want 40 and 36", n, c)
	}
	var _ nn.Module = m
}

func TestCIFAR10OutKernel3(t *testing.T) {
	cfg := tinyCIFAR10Config()
	cfg.OutKernel = 3
	rng := rand.New(rand.NewPCG(5, 6))
	m, err := NewCIFAR10(cfg, tensor.Float32, rng)
	if err != nil {
		t.Fatal(err)
	}
	x := ad.Const(tensor.RandUniform(rng, tensor.Float32, -1, 1, cfg.LayerShape(2, 0)...))
	if s := m.Reconstruct(x, rng).Shape(); !tensor.SameShape(s, cfg.LayerShape(2, 0)) {
		t.Fatalf("reconstruction %v", s)
	}
	if s := m.Inference[0].Out.W.Shape(); !tensor.SameShape(s, []int{8, 4, 3, 3}) {
		t.Fatalf("out weight %v", s)
	}
}

// Gradients reach every network parameter through the reparameterised
// samples, and every critic parameter through its output.
func TestCIFAR10GradientsFlow(t *testing.T) {
	cfg := tinyCIFAR10Config()
	rng := rand.New(rand.NewPCG(7, 8))
	m, err := NewCIFAR10(cfg, tensor.Float64, rng)
	if err != nil {
		t.Fatal(err)
	}
	x := ad.Const(tensor.RandUniform(rng, tensor.Float64, -1, 1, cfg.LayerShape(3, 0)...))
	up := m.Infer(x, rng)
	down := m.Generate(up[len(up)-1], rng)
	var loss *ad.Var
	for i := range up {
		d := ad.Add(ad.Mean(m.Critics[i].Forward(up[i])), ad.Mean(m.Critics[i].Forward(down[i])))
		if loss == nil {
			loss = d
		} else {
			loss = ad.Add(loss, d)
		}
	}
	ps := m.Parameters()
	for i, g := range ad.Grad(loss, nn.Vars(ps), nil) {
		var s float64
		for j := 0; j < g.Value.Len(); j++ {
			s += math.Abs(g.Value.At(j))
		}
		if s == 0 || math.IsNaN(s) {
			t.Errorf("gradient of %s: Σ|g| = %g", ps[i].Name, s)
		}
	}
}

func TestCIFAR10ConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*CIFAR10Config)
		msg  string
	}{
		{"no layers", func(c *CIFAR10Config) { c.Channels = nil; c.CriticChannels = []int{1} }, "no stochastic layers"},
		{"too deep", func(c *CIFAR10Config) { c.ImageSize = 16 }, "multiple of 2^5"},
		{"critics", func(c *CIFAR10Config) { c.CriticChannels = c.CriticChannels[:5] }, "5 critic widths for 6 layers"},
		{"hidden", func(c *CIFAR10Config) { c.Hidden = []int{1, 2} }, "2 hidden widths"},
		{"kernel", func(c *CIFAR10Config) { c.OutKernel = 2 }, "out kernel 2"},
		{"top", func(c *CIFAR10Config) { c.TopActivation = "tanh" }, "top activation"},
		{"channel", func(c *CIFAR10Config) { c.Channels[2] = 0 }, "channels[2] = 0"},
		{"huge", func(c *CIFAR10Config) { c.CriticChannels[0] = 1 << 20 }, "critic channels[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultCIFAR10Config()
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want %q", err, tc.msg)
			}
			if _, err := NewCIFAR10(c, tensor.Float32, rand.New(rand.NewPCG(1, 1))); err == nil {
				t.Fatal("NewCIFAR10 accepted it")
			}
		})
	}
	if err := DefaultCIFAR10Config().Validate(); err != nil {
		t.Fatal(err)
	}
}

// InitStd sets every layer's initial σ: the std-output bias is
// softplus⁻¹(InitStd), so with the weights' small contribution the mean σ
// over a batch is close to it.
func TestCIFAR10InitStd(t *testing.T) {
	cfg := tinyCIFAR10Config()
	cfg.InitStd = 0.05
	rng := rand.New(rand.NewPCG(9, 10))
	m, err := NewCIFAR10(cfg, tensor.Float64, rng)
	if err != nil {
		t.Fatal(err)
	}
	x := ad.Const(tensor.RandUniform(rng, tensor.Float64, -1, 1, cfg.LayerShape(4, 0)...))
	z := m.Infer(x, rng)
	for name, g := range map[string]*ConvGaussian{"inference 0": m.Inference[0], "generation 0": m.Generation[0]} {
		in := x
		if g.Up != nil {
			in = z[1]
		}
		_, std := g.Moments(in)
		if s := ad.Mean(std).Item(); s < 0.02 || s > 0.12 {
			t.Errorf("%s: mean σ %g, want about 0.05", name, s)
		}
	}
	cfg.InitStd = -1
	if err := cfg.Validate(); err == nil {
		t.Error("negative init std accepted")
	}
}

// With MaxStd, every arrow's σ starts at InitStd and stays below MaxStd
// however large the pre-activation gets.
func TestCIFAR10MaxStd(t *testing.T) {
	cfg := tinyCIFAR10Config()
	cfg.InitStd, cfg.MaxStd = 0.05, 0.2
	rng := rand.New(rand.NewPCG(9, 11))
	m, err := NewCIFAR10(cfg, tensor.Float64, rng)
	if err != nil {
		t.Fatal(err)
	}
	x := ad.Const(tensor.RandUniform(rng, tensor.Float64, -1, 1, cfg.LayerShape(4, 0)...))
	g := m.Inference[0]
	if _, std := g.Moments(x); math.Abs(ad.Mean(std).Item()-0.05) > 0.03 {
		t.Errorf("mean σ %g, want about 0.05", ad.Mean(std).Item())
	}
	g.Out.B.Value.Fill(1e3) // every pre-activation huge
	_, std := g.Moments(x)
	for i := 0; i < std.Value.Len(); i++ {
		if v := std.Value.At(i); !(v <= 0.2) {
			t.Fatalf("σ %g above max std 0.2", v)
		}
	}
	for _, bad := range [][2]float64{{0.3, 0.2}, {0.05, -1}, {0.05, 11}} {
		cfg.InitStd, cfg.MaxStd = bad[0], bad[1]
		if err := cfg.Validate(); err == nil {
			t.Errorf("init std %g, max std %g accepted", bad[0], bad[1])
		}
	}
}

// MNIST InitStd sets every Gaussian unit's initial σ; the mean path is the
// noise-free network (deterministic, and the sampled path's centre).
func TestMNISTInitStdAndMeans(t *testing.T) {
	cfg := DefaultMNISTConfig(CriticLocal)
	cfg.InitStd = 0.05
	m, err := NewMNIST(cfg, tensor.Float32, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	x := ad.Const(tensor.RandUniform(rand.New(rand.NewPCG(3, 4)), tensor.Float32, 0, 1, 16, 784))
	zIn := ad.Const(tensor.RandNormal(rand.New(rand.NewPCG(5, 6)), tensor.Float32, 16, cfg.ZDim))
	for i, g := range []*GaussianLayer{m.Inference.First, m.Inference.Recur, m.Generator.First, m.Generator.Recur} {
		in := x
		if i == 1 || i == 2 {
			in = zIn
		}
		_, std := g.Moments(in)
		s := 0.0
		for i := 0; i < std.Value.Len(); i++ {
			s += std.Value.At(i)
		}
		if mean := s / float64(std.Value.Len()); mean < 0.03 || mean > 0.08 {
			t.Fatalf("mean initial σ %g, want about 0.05", mean)
		}
	}
	z1, z2 := m.InferMean(x), m.InferMean(x)
	for i := 0; i < z1.Value.Len(); i++ {
		if z1.Value.At(i) != z2.Value.At(i) {
			t.Fatal("InferMean is not deterministic")
		}
	}
	// With σ ≈ 0.05 a sample stays within a few σ of the mean path.
	zs := m.Infer(x, rand.New(rand.NewPCG(7, 8)))
	for i := 0; i < zs.Value.Len(); i++ {
		if dd := zs.Value.At(i) - z1.Value.At(i); dd > 0.5 || dd < -0.5 {
			t.Fatalf("sample %g far from mean %g", zs.Value.At(i), z1.Value.At(i))
		}
	}
	cfg.InitStd = -1
	if cfg.Validate() == nil {
		t.Fatal("negative init std accepted")
	}
}

// A bounded σ (MaxStd) keeps σ below the bound, starts at InitStd, and
// differentiates correctly (first and second order) through the sample.
func TestGaussianMaxStd(t *testing.T) {
	g := NewGaussianLayer(3, 4, 2, tensor.Float64, rand.New(rand.NewPCG(1, 1)))
	g.MaxStd = 0.2
	g.SetInitStd(0.05)
	x := tensor.RandNormal(rand.New(rand.NewPCG(2, 2)), tensor.Float64, 5, 3)
	_, std := g.Moments(ad.Const(x))
	for i := 0; i < std.Value.Len(); i++ {
		if v := std.Value.At(i); v <= 0 || v >= 0.2 {
			t.Fatalf("σ %g outside (0, 0.2)", v)
		}
	}
	ps := g.Parameters()
	f := func(vs []*ad.Var) *ad.Var {
		g.Hidden.W, g.Hidden.B, g.Out.W, g.Out.B = vs[0], vs[1], vs[2], vs[3]
		s := g.Sample(ad.Const(x), rand.New(rand.NewPCG(3, 3)))
		return ad.Mean(ad.Square(s))
	}
	ins := make([]*tensor.Tensor, len(ps))
	for i, p := range ps {
		ins[i] = p.V.Value
	}
	if err := gradcheck.Check(f, ins, &gradcheck.Options{AbsTol: 1e-6, RelTol: 1e-5}); err != nil {
		t.Fatal(err)
	}
	if err := gradcheck.CheckSecondOrder(f, ins, &gradcheck.Options{AbsTol: 1e-5, RelTol: 1e-4}); err != nil {
		t.Fatal(err)
	}
}

// With MeanNorm every arrow's mean has unit root mean square over channels
// at each position, but the image's generation arrow, whose mean is the
// pixels; without it no arrow's is.
func TestCIFAR10MeanNorm(t *testing.T) {
	for _, on := range []bool{false, true} {
		cfg := tinyCIFAR10Config()
		cfg.MeanNorm = on
		rng := rand.New(rand.NewPCG(9, 12))
		m, err := NewCIFAR10(cfg, tensor.Float64, rng)
		if err != nil {
			t.Fatal(err)
		}
		x := ad.Const(tensor.RandUniform(rng, tensor.Float64, -1, 1, cfg.LayerShape(3, 0)...))
		z := m.Infer(x, rng)
		for i := 0; i < m.Layers(); i++ {
			mi, _ := m.Inference[i].Moments(z[i])
			mg, _ := m.Generation[i].Moments(z[i+1])
			_, _, ui := pixelStats(mi.Value)
			_, _, ug := pixelStats(mg.Value)
			if want := b2f(on); ui != want {
				t.Errorf("mean norm %v: inference %d: unit-RMS share %g, want %g", on, i, ui, want)
			}
			if want := b2f(on && i > 0); ug != want {
				t.Errorf("mean norm %v: generation %d: unit-RMS share %g, want %g", on, i, ug, want)
			}
		}
		if d, ok := m.Describe()["gaussian"].(map[string]any)["mean"]; ok != on || ok && d != "pixel_norm_but_image" {
			t.Errorf("mean norm %v: description's gaussian mean %v", on, d)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
