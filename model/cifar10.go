package model

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

// This file holds the hierarchical model of the CIFAR-10 experiment
// (Sec. 5.2, Fig. 4, Appendix A.1.4): a stochastic DCGAN (Radford et al.
// 2015) with five stochastic layers above the input, inference by strided
// convolutions, generation by the mirror transposed convolutions, and one
// critic per layer. Layer i (z₀ = x) of a 32×32 image has the spatial size
// 32/2^i:
//
//	layer      x        z₁       z₂      z₃      z₄      z₅
//	shape      3×32×32  32×16×16 64×8×8  128×4×4 256×2×2 100×1×1
//
// Every arrow between two layers, in both directions, is a ConvGaussian: a
// convolutional network with one hidden ReLU layer whose output gives the
// mean (linear) and standard deviation (softplus) of a diagonal Gaussian,
// sampled with the reparameterisation trick; the sample of a latent layer
// then goes through ReLU and pixel-wise divisive normalisation across
// channels (Karras et al. 2017). Because of that nonlinearity and the depth,
// neither q_φ(z|x) nor p_θ(x|z) is Gaussian.
//
// Open points (the paper refers to its code for "stride and padding"), each a
// field of CIFAR10Config:
//   - Kernel 4, stride 2, padding 1 between every pair of layers (the DCGAN
//     layer; 32→16→8→4→2→1).
//   - The one hidden layer carries the resolution change: inference is
//     h = ReLU(Conv_{4,2,1}(z_i)), generation h = ReLU(ConvT_{4,2,1}(z_{i+1})),
//     then a stride-1 convolution of kernel OutKernel (1 by default, 3 as an
//     option) maps h to [mean, std] at the output resolution. Putting the
//     resampling first keeps the hidden layer at the lower resolution for
//     inference and costs the same as DCGAN's own layer.
//   - Hidden channels: max(C_i, C_{i+1}) for the arrow between layers i and
//     i+1, in both directions (32, 64, 128, 256, 256 for the paper's
//     channels): never narrower than either end, so that the 3-channel image
//     is generated from 32 hidden channels, as in DCGAN.
//   - The image layer is generated without ReLU or normalisation (pixels in
//     [−1, 1] take any sign and no unit norm), and the top layer z₅ is
//     inferred without them too, so that q(z₅|x) can match the prior
//     N(0, I) (TopActivation "linear"); with "relu-norm" both the inferred
//     z₅ and the prior's samples go through ReLU and normalisation.
//   - Critics: see LayerCritic.
//   - Initialisation: PyTorch's defaults (not DCGAN's N(0, 0.02)), except
//     that InitStd (default 0.1) sets the bias of every standard-deviation
//     output to softplus⁻¹(InitStd). PyTorch's init alone (InitStd 0) leaves
//     σ ≈ softplus(0) ≈ 0.69 everywhere, which at the image layer is noise
//     of 0.69 on pixels in [−1, 1], and Adam moves that bias by about one
//     learning rate a step: in a 360-step CPU run the image layer's samples
//     stayed noise, while with 0.1 the one-step reconstructions followed the
//     inputs' layout within a few hundred steps.

// Activations of the top layer (CIFAR10Config.TopActivation).
const (
	TopLinear   = "linear"    // z₅ is the Gaussian sample; the prior is N(0, I)
	TopReLUNorm = "relu-norm" // z₅ and the prior's samples go through ReLU and PixelNorm
)

// CIFAR10Config describes the hierarchical model of Sec. 5.2 and its six
// critics. DefaultCIFAR10Config follows Appendix A.1.4 where it speaks.
type CIFAR10Config struct {
	ImageChannels int   `json:"image_channels"` // 3 (RGB)
	ImageSize     int   `json:"image_size"`     // 32; halved by each layer, so ImageSize/2^len(Channels) ≥ 1
	Channels      []int `json:"channels"`       // z₁ … z_L: 32, 64, 128, 256, 100
	// Hidden[i] is the hidden width of both arrows between layers i and
	// i+1 (layer 0 is the image); empty means max(C_i, C_{i+1}).
	Hidden    []int   `json:"hidden,omitempty"`
	OutKernel int     `json:"out_kernel"` // 1 or 3: kernel of the hidden → (mean, std) convolution
	InitStd   float64 `json:"init_std"`   // initial σ of every layer, 0.1 (std-output bias softplus⁻¹(InitStd)); 0: PyTorch's init (σ ≈ 0.69)
	// MaxStd, when > 0, bounds every arrow's σ: σ = MaxStd·sigmoid(s)
	// instead of softplus(s) (open point, as MNISTConfig.MaxStd).
	MaxStd float64 `json:"max_std,omitempty"`
	// MeanNorm, when set, divides every arrow's mean by its root mean
	// square over channels at each position (PixelNorm of μ) before the
	// noise is added, except the image's generation arrow: a deviation.
	// The latent layers' samples go through ReLU and PixelNorm, which
	// forget their scale, so without it an arrow can shrink μ to zero and
	// still match the other phase exactly (PixelNorm(ReLU(σ·ε)) is the
	// same whatever the input): the upper layers' means collapse and carry
	// nothing of the image (results/cifar10). With it, μ has unit root mean
	// square and σ (bounded by MaxStd) is noise relative to that.
	MeanNorm       bool   `json:"mean_norm,omitempty"`
	TopActivation  string `json:"top_activation"`  // "linear" or "relu-norm"
	CriticChannels []int  `json:"critic_channels"` // first-conv channels of the critic of each layer (x, z₁ … z_L); the second conv has twice
}

// DefaultCIFAR10Config returns the paper's architecture: channels 32, 64,
// 128, 256 and 100, with the open points chosen as the comment at the top
// of this file says.
func DefaultCIFAR10Config() CIFAR10Config {
	return CIFAR10Config{
		ImageChannels:  3,
		ImageSize:      32,
		Channels:       []int{32, 64, 128, 256, 100},
		OutKernel:      1,
		InitStd:        0.1,
		TopActivation:  TopLinear,
		CriticChannels: []int{32, 64, 128, 128, 128, 128},
	}
}

// Limits of Validate: sanity bounds so that a corrupt config cannot ask for
// an absurd allocation (the paper's widest layer has 256 channels).
const (
	maxCIFARChannels = 4096
	maxCIFARSize     = 1024
)

// Layers returns L, the number of stochastic layers above the image.
func (c CIFAR10Config) Layers() int { return len(c.Channels) }

// LayerChannels returns the channels of layer i (0: the image).
func (c CIFAR10Config) LayerChannels(i int) int {
	if i == 0 {
		return c.ImageChannels
	}
	return c.Channels[i-1]
}

// LayerSize returns the height (= width) of layer i: ImageSize/2^i.
func (c CIFAR10Config) LayerSize(i int) int { return c.ImageSize >> i }

// LayerShape returns the shape of a batch of layer i, [B, C_i, S_i, S_i].
func (c CIFAR10Config) LayerShape(batch, i int) []int {
	s := c.LayerSize(i)
	return []int{batch, c.LayerChannels(i), s, s}
}

// HiddenChannels returns the hidden width of the arrows between layers i and i+1.
func (c CIFAR10Config) HiddenChannels(i int) int {
	if len(c.Hidden) > 0 {
		return c.Hidden[i]
	}
	return max(c.LayerChannels(i), c.LayerChannels(i+1))
}

// Validate reports an inconsistent configuration.
func (c CIFAR10Config) Validate() error {
	L := len(c.Channels)
	switch {
	case c.ImageChannels <= 0 || c.ImageChannels > maxCIFARChannels:
		return fmt.Errorf("model: image channels %d must be in [1, %d]", c.ImageChannels, maxCIFARChannels)
	case L == 0:
		return fmt.Errorf("model: no stochastic layers (channels is empty)")
	case c.ImageSize <= 0 || c.ImageSize > maxCIFARSize || c.ImageSize%(1<<L) != 0:
		return fmt.Errorf("model: image size %d must be a positive multiple of 2^%d (each of the %d layers halves it), at most %d", c.ImageSize, L, L, maxCIFARSize)
	case len(c.Hidden) != 0 && len(c.Hidden) != L:
		return fmt.Errorf("model: %d hidden widths for %d layers (give one per layer, or none)", len(c.Hidden), L)
	case len(c.CriticChannels) != L+1:
		return fmt.Errorf("model: %d critic widths for %d layers (give one per layer, image included: %d)", len(c.CriticChannels), L+1, L+1)
	case c.OutKernel != 1 && c.OutKernel != 3:
		return fmt.Errorf("model: out kernel %d must be 1 or 3", c.OutKernel)
	case c.TopActivation != TopLinear && c.TopActivation != TopReLUNorm:
		return fmt.Errorf("model: top activation %q must be %q or %q", c.TopActivation, TopLinear, TopReLUNorm)
	case !(c.InitStd >= 0 && c.InitStd <= 10):
		return fmt.Errorf("model: init std %g must be in [0, 10] (0: PyTorch's init)", c.InitStd)
	case !(c.MaxStd >= 0 && c.MaxStd <= 10):
		return fmt.Errorf("model: max std %g must be in [0, 10] (0: no bound, softplus)", c.MaxStd)
	case c.MaxStd > 0 && c.InitStd >= c.MaxStd:
		return fmt.Errorf("model: init std %g must be below max std %g", c.InitStd, c.MaxStd)
	}
	for _, l := range []struct {
		name string
		v    []int
	}{{"channels", c.Channels}, {"hidden", c.Hidden}, {"critic channels", c.CriticChannels}} {
		for i, v := range l.v {
			if v <= 0 || v > maxCIFARChannels {
				return fmt.Errorf("model: %s[%d] = %d must be in [1, %d]", l.name, i, v, maxCIFARChannels)
			}
		}
	}
	return nil
}

// downParams is the resampling of every arrow: kernel 4, stride 2, padding 1.
var downParams = tensor.ConvParams{Stride: 2, Pad: 1}

const downKernel = 4

// ConvGaussian is one stochastic arrow of the hierarchy: a convolutional
// network with one hidden ReLU layer giving the mean and standard deviation
// of a diagonal Gaussian, sampled with the reparameterisation trick:
//
//	h = ReLU(R(in));  [μ, s] = Out(h);  σ = softplus(s);  out = μ + σ·ε,  ε ~ N(0, I)
//
// (σ = MaxStd·sigmoid(s) instead when MaxStd > 0, as GaussianLayer)
//
// where R halves the resolution (Conv2d, kernel 4, stride 2, pad 1: an
// inference arrow) or doubles it (ConvTranspose2d, the mirror: a generation
// arrow), and Out is a stride-1 convolution with "same" padding:
//
//	in [B, In, S, S] → h [B, Hidden, S', S'] → μ, σ, out [B, Out, S', S'],  S' = S/2 or 2S
//
// The first Out channels of Out's output are the mean, the next Out the
// pre-softplus standard deviation. See also GaussianLayer.
type ConvGaussian struct {
	Down *nn.Conv2d          // inference arrows (nil for generation)
	Up   *nn.ConvTranspose2d // generation arrows (nil for inference)
	Out  *nn.Conv2d          // Hidden → 2·Out channels
	// MaxStd, when > 0, bounds σ: σ = MaxStd·sigmoid(s) (see GaussianLayer).
	MaxStd float64
	// NormMean, when set, replaces μ by PixelNorm(μ) (CIFAR10Config.MeanNorm).
	NormMean bool
}

// NewConvGaussian returns an inference (up = false: halves the size) or
// generation (up = true: doubles it) arrow with PyTorch's default init;
// initStd > 0 then sets the standard deviations' bias so that σ starts at
// initStd; maxStd > 0 bounds σ below it (σ = maxStd·sigmoid(s)).
func NewConvGaussian(in, hidden, out, outKernel int, up bool, initStd, maxStd float64, dt tensor.DType, rng *rand.Rand) *ConvGaussian {
	g := &ConvGaussian{MaxStd: maxStd}
	if up {
		g.Up = nn.NewConvTranspose2d(in, hidden, downKernel, downParams, 0, dt, rng)
	} else {
		g.Down = nn.NewConv2d(in, hidden, downKernel, downParams, dt, rng)
	}
	g.Out = nn.NewConv2d(hidden, 2*out, outKernel, tensor.ConvParams{Stride: 1, Pad: (outKernel - 1) / 2}, dt, rng)
	if initStd > 0 {
		b := stdBias(initStd, maxStd)
		for j := out; j < 2*out; j++ {
			g.Out.B.Value.SetAt(j, b)
		}
	}
	return g
}

// Moments returns the mean and standard deviation for input x.
func (g *ConvGaussian) Moments(x *ad.Var) (mean, std *ad.Var) {
	var h *ad.Var
	if g.Up != nil {
		h = g.Up.Forward(x)
	} else {
		h = g.Down.Forward(x)
	}
	o := g.Out.Forward(ad.ReLU(h)) // [B, 2·Out, S', S']
	n := o.Dim(1) / 2
	mean = ad.Slice(o, 1, 0, n)
	if g.NormMean {
		mean = nn.PixelNorm(mean, 0)
	}
	return mean, stdOf(ad.Slice(o, 1, n, 2*n), g.MaxStd)
}

// Sample draws a reparameterised sample given x, with noise from rng.
func (g *ConvGaussian) Sample(x *ad.Var, rng *rand.Rand) *ad.Var {
	mean, std := g.Moments(x)
	return Reparameterize(mean, std, rng)
}

// Parameters implements nn.Module: "down.*" or "up.*", then "out.*".
func (g *ConvGaussian) Parameters() []*nn.Parameter {
	var ps []*nn.Parameter
	if g.Up != nil {
		ps = nn.Prefixed("up", g.Up.Parameters())
	} else {
		ps = nn.Prefixed("down", g.Down.Parameters())
	}
	return append(ps, nn.Prefixed("out", g.Out.Parameters())...)
}

// LayerCritic is the Wasserstein critic of one layer of the CIFAR-10 model
// (Appendix A.1.4): two convolutions, each followed by LeakyReLU(0.2) and
// pixel-wise divisive normalisation, then a linear scalar output:
//
//	z [B, C, S, S] → [B, K, S₁, S₁] → [B, 2K, S₂, S₂] → flatten: features [B, 2K·S₂²] → D [B, 1]
//
// The convolutions shrink with the spatial size they see, as the paper says
// ("decreased higher in the network"): kernel 4, stride 2, pad 1 on a side
// of 4 or more; kernel 3, stride 1, pad 1 on a side of 2 or 3; kernel 1 on a
// side of 1. So the image critic goes 32→16→8, z₃'s 4→2→2, z₄'s 2→2→2 and
// z₅'s 1→1→1. The features before the linear layer are the learned metric
// of L_RECON. No batch norm: pixel norm acts on each sample alone, so the
// WGAN-GP per-sample gradient is well defined (see ConvCritic).
type LayerCritic struct {
	Conv1, Conv2 *nn.Conv2d
	Out          *nn.Linear
	Slope        float64 // LeakyReLU negative slope, 0.2
}

// criticConv returns the kernel and parameters of a critic convolution on a
// side of s, and the side it outputs.
func criticConv(s int) (k int, p tensor.ConvParams, out int) {
	switch {
	case s >= 4:
		return 4, tensor.ConvParams{Stride: 2, Pad: 1}, s / 2
	case s >= 2:
		return 3, tensor.ConvParams{Stride: 1, Pad: 1}, s
	}
	return 1, tensor.ConvParams{Stride: 1}, s
}

// NewLayerCritic returns a critic for inputs [B, in, size, size] whose first
// convolution has channels outputs. Panics on non-positive sizes.
func NewLayerCritic(in, channels, size int, dt tensor.DType, rng *rand.Rand) *LayerCritic {
	if in <= 0 || channels <= 0 || size <= 0 {
		panic(fmt.Sprintf("model: LayerCritic(in %d, channels %d, size %d)", in, channels, size))
	}
	k1, p1, s1 := criticConv(size)
	k2, p2, s2 := criticConv(s1)
	return &LayerCritic{
		Conv1: nn.NewConv2d(in, channels, k1, p1, dt, rng),
		Conv2: nn.NewConv2d(channels, 2*channels, k2, p2, dt, rng),
		Out:   nn.NewLinear(2*channels*s2*s2, 1, dt, rng),
		Slope: 0.2,
	}
}

// hidden returns both hidden layers' activity, unflattened.
func (c *LayerCritic) hidden(z *ad.Var) (h1, h2 *ad.Var) {
	h1 = nn.PixelNorm(c.Conv1.ForwardLeakyReLU(z, c.Slope), 0)
	return h1, nn.PixelNorm(c.Conv2.ForwardLeakyReLU(h1, c.Slope), 0)
}

// Features returns the activity before the linear layer, flattened.
func (c *LayerCritic) Features(z *ad.Var) *ad.Var {
	_, h2 := c.hidden(z)
	return ad.Flatten(h2)
}

// ForwardLayers returns D(z) and both hidden layers' activity, flattened,
// first to last (the last is Features): what L_RECON compares when it
// compares every layer.
func (c *LayerCritic) ForwardLayers(z *ad.Var) (d *ad.Var, hidden []*ad.Var) {
	h1, h2 := c.hidden(z)
	f := ad.Flatten(h2)
	return c.Out.Forward(f), []*ad.Var{ad.Flatten(h1), f}
}

// Forward returns D(z) [B, 1].
func (c *LayerCritic) Forward(z *ad.Var) *ad.Var { return c.Out.Forward(c.Features(z)) }

// ForwardFeatures returns D(z) and the features it was computed from.
func (c *LayerCritic) ForwardFeatures(z *ad.Var) (d, features *ad.Var) {
	f := c.Features(z)
	return c.Out.Forward(f), f
}

// Parameters implements nn.Module: "conv1.*", "conv2.*", "out.*".
func (c *LayerCritic) Parameters() []*nn.Parameter {
	ps := nn.Prefixed("conv1", c.Conv1.Parameters())
	ps = append(ps, nn.Prefixed("conv2", c.Conv2.Parameters())...)
	return append(ps, nn.Prefixed("out", c.Out.Parameters())...)
}

// CIFAR10 is the model of Fig. 4: inference arrows q_φ(z_{i+1}|z_i),
// generation arrows p_θ(z_i|z_{i+1}), the prior p(z_L) = N(0, I), and one
// critic per layer.
type CIFAR10 struct {
	Config     CIFAR10Config
	Inference  []*ConvGaussian // Inference[i]: layer i → i+1, bottom-up
	Generation []*ConvGaussian // Generation[i]: layer i+1 → i, top-down
	Critics    []*LayerCritic  // Critics[i] sees layer i (0: the image)
	dtype      tensor.DType
}

// NewCIFAR10 builds the model with weights drawn from rng.
func NewCIFAR10(cfg CIFAR10Config, dt tensor.DType, rng *rand.Rand) (*CIFAR10, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &CIFAR10{Config: cfg, dtype: dt}
	L := cfg.Layers()
	for i := 0; i < L; i++ {
		lo, hi, h := cfg.LayerChannels(i), cfg.LayerChannels(i+1), cfg.HiddenChannels(i)
		m.Inference = append(m.Inference, NewConvGaussian(lo, h, hi, cfg.OutKernel, false, cfg.InitStd, cfg.MaxStd, dt, rng))
		m.Generation = append(m.Generation, NewConvGaussian(hi, h, lo, cfg.OutKernel, true, cfg.InitStd, cfg.MaxStd, dt, rng))
		m.Inference[i].NormMean = cfg.MeanNorm
		m.Generation[i].NormMean = cfg.MeanNorm && i > 0 // not the image's
	}
	for i := 0; i <= L; i++ {
		m.Critics = append(m.Critics, NewLayerCritic(cfg.LayerChannels(i), cfg.CriticChannels[i], cfg.LayerSize(i), dt, rng))
	}
	return m, nil
}

// DType returns the model's element type.
func (m *CIFAR10) DType() tensor.DType { return m.dtype }

// Layers returns L, the number of stochastic layers above the image.
func (m *CIFAR10) Layers() int { return m.Config.Layers() }

// activate applies a layer's output nonlinearity to a Gaussian sample of
// layer i: ReLU then PixelNorm for latent layers; none for the image, nor
// for the top layer with TopActivation "linear".
func (m *CIFAR10) activate(i int, s *ad.Var) *ad.Var {
	if !m.activated(i) {
		return s
	}
	return nn.PixelNorm(ad.ReLU(s), 0)
}

// Activate applies layer i's output nonlinearity to a Gaussian sample of
// that layer, as InferStep and GenerateStep do: for a caller that draws the
// sample itself (a perturbation of its noise).
func (m *CIFAR10) Activate(i int, s *ad.Var) *ad.Var { return m.activate(i, s) }

// InferStep samples layer i+1 from layer i (bottom-up): z_{i+1} ~ q_φ(·|z_i).
func (m *CIFAR10) InferStep(i int, z *ad.Var, rng *rand.Rand) *ad.Var {
	return m.activate(i+1, m.Inference[i].Sample(z, rng))
}

// GenerateStep samples layer i from layer i+1 (top-down): z_i ~ p_θ(·|z_{i+1}).
func (m *CIFAR10) GenerateStep(i int, z *ad.Var, rng *rand.Rand) *ad.Var {
	return m.activate(i, m.Generation[i].Sample(z, rng))
}

// InferMean returns layer i+1's activation of the mean of q_φ(z_{i+1}|z_i)
// instead of a sample: the noise-free bottom-up step.
func (m *CIFAR10) InferMean(i int, z *ad.Var) *ad.Var {
	mean, _ := m.Inference[i].Moments(z)
	return m.activate(i+1, mean)
}

// GenerateMean returns layer i's activation of the mean of p_θ(z_i|z_{i+1})
// instead of a sample (for the image: the mean itself): the noise-free view
// of a top-down step, for pictures.
func (m *CIFAR10) GenerateMean(i int, z *ad.Var) *ad.Var {
	mean, _ := m.Generation[i].Moments(z)
	return m.activate(i, mean)
}

// Infer runs the wake pass from images x [B, 3, 32, 32]: it returns every
// layer, [x, z₁, …, z_L], each sampled from the one below.
func (m *CIFAR10) Infer(x *ad.Var, rng *rand.Rand) []*ad.Var {
	zs := []*ad.Var{x}
	for i := 0; i < m.Layers(); i++ {
		zs = append(zs, m.InferStep(i, zs[i], rng))
	}
	return zs
}

// Generate runs the top-down pass from a top layer z_L: it returns every
// layer, [x, z₁, …, z_L], each sampled from the one above.
func (m *CIFAR10) Generate(top *ad.Var, rng *rand.Rand) []*ad.Var {
	L := m.Layers()
	zs := make([]*ad.Var, L+1)
	zs[L] = top
	for i := L - 1; i >= 0; i-- {
		zs[i] = m.GenerateStep(i, zs[i+1], rng)
	}
	return zs
}

// Prior samples the top layer z_L ~ N(0, I), [B, C_L, S_L, S_L] (through
// ReLU and PixelNorm with TopActivation "relu-norm").
func (m *CIFAR10) Prior(batch int, rng *rand.Rand) *ad.Var {
	z := ad.Const(tensor.RandNormal(rng, m.dtype, m.Config.LayerShape(batch, m.Layers())...))
	return m.activate(m.Layers(), z)
}

// Reconstruct returns x̂, the image generated top-down from the top layer
// inferred bottom-up from x: the full round trip of Fig. 4B.
func (m *CIFAR10) Reconstruct(x *ad.Var, rng *rand.Rand) *ad.Var {
	zs := m.Infer(x, rng)
	return m.Generate(zs[len(zs)-1], rng)[0]
}

// NetworkParameters returns the inference and generation parameters (φ, θ).
func (m *CIFAR10) NetworkParameters() []*nn.Parameter {
	var ps []*nn.Parameter
	for i, g := range m.Inference {
		ps = append(ps, nn.Prefixed("inference."+strconv.Itoa(i), g.Parameters())...)
	}
	for i, g := range m.Generation {
		ps = append(ps, nn.Prefixed("generation."+strconv.Itoa(i), g.Parameters())...)
	}
	return ps
}

// CriticParameters returns the parameters of the critics, "critic.<layer>.*".
func (m *CIFAR10) CriticParameters() []*nn.Parameter {
	var ps []*nn.Parameter
	for i, c := range m.Critics {
		ps = append(ps, nn.Prefixed("critic."+strconv.Itoa(i), c.Parameters())...)
	}
	return ps
}

// Parameters implements nn.Module: networks then critics.
func (m *CIFAR10) Parameters() []*nn.Parameter {
	return append(m.NetworkParameters(), m.CriticParameters()...)
}
