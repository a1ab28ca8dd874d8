package model

import "github.com/wakesleep/wakesleep/nn"

// This file writes each model out for readers in other frameworks
// (interop/wakesleep_torch.py): every choice a reader needs to rebuild the
// networks from a checkpoint's tensors, beyond the tensors' names and
// shapes. Train saves it as the checkpoint metadata "wakesleep.architecture"
// (JSON), with the experiment's pixel scale added.
//
// Vocabulary shared by every description:
//
//	"split": "mean|std"      a Gaussian unit's output [.., 2N, ..] is the
//	                         mean (first N outputs, or channels), then the
//	                         pre-activation s of the standard deviation
//	"std": "softplus"        σ = softplus(s) = log(1 + eˢ)
//	"std": "sigmoid"         σ = max_std·sigmoid(s)
//	"sample": "mean+std*eps" the unit's output is μ + σ·ε, ε ~ N(0, I)
//	"conv": [k, stride, pad] a square convolution's kernel, stride, padding

// DescriptionVersion is the version of the descriptions' vocabulary; a
// reader refuses a version it does not know.
const DescriptionVersion = 1

// gaussianSpec describes how a Gaussian unit turns its output into a sample.
func gaussianSpec(maxStd float64) map[string]any {
	g := map[string]any{"hidden_activation": "relu", "split": "mean|std", "std": "softplus", "sample": "mean+std*eps"}
	if maxStd > 0 {
		g["std"], g["max_std"] = "sigmoid", maxStd
	}
	return g
}

// Describe returns the MNIST model's description: dimensions, the Gaussian
// units (Linear → ReLU → Linear to [μ, s]), the recurrence and its merge
// rule, s_{k+1} = (s_k + sample(Recur(s_k)))/2, the prior and the critics
// (Linear layers with LeakyReLU, named fc1 … fc<depth+1>).
func (m *MNIST) Describe() map[string]any {
	c := m.Config
	critic := m.Joint
	if critic == nil {
		critic = m.CriticX
	}
	return map[string]any{
		"version":         DescriptionVersion,
		"model":           "mnist",
		"x_dim":           c.XDim,
		"z_dim":           c.ZDim,
		"hidden":          c.Hidden,
		"recurrent_steps": m.Inference.Steps,
		"gaussian":        gaussianSpec(m.Inference.First.MaxStd),
		"merge":           "mean", // s ← (s + sample(recur(s))) / 2
		"prior":           "standard_normal",
		"critic": map[string]any{
			"kind": c.Critic, "width": c.CriticWidth, "depth": c.CriticDepth,
			"activation": "leaky_relu", "slope": critic.Slope,
		},
	}
}

// Describe returns the CIFAR-10 model's description: the layers' shapes,
// every arrow (resampling convolution → ReLU → Out convolution to [μ, s]),
// each layer's activation after sampling, the prior and the six critics
// (conv → LeakyReLU → PixelNorm, twice, then flatten and Linear).
func (m *CIFAR10) Describe() map[string]any {
	c := m.Config
	L := c.Layers()
	hidden := make([]int, L)
	activations := make([]string, L+1)
	critics := make([]any, L+1)
	for i := 0; i <= L; i++ {
		if i < L {
			hidden[i] = c.HiddenChannels(i)
		}
		activations[i] = "linear"
		if m.activated(i) {
			activations[i] = "relu,pixel_norm"
		}
		k1, p1, s1 := criticConv(c.LayerSize(i))
		k2, p2, _ := criticConv(s1)
		critics[i] = map[string]any{
			"channels": c.CriticChannels[i],
			"conv1":    []int{k1, p1.Stride, p1.Pad},
			"conv2":    []int{k2, p2.Stride, p2.Pad},
		}
	}
	cifarGaussian := gaussianSpec(c.MaxStd)
	if c.MeanNorm { // every arrow's μ but the image's generation arrow
		cifarGaussian["mean"] = "pixel_norm_but_image"
	}
	return map[string]any{
		"version":        DescriptionVersion,
		"model":          "cifar10",
		"image_channels": c.ImageChannels,
		"image_size":     c.ImageSize,
		"channels":       c.Channels,
		"hidden":         hidden,
		"inference":      map[string]any{"down": []int{downKernel, downParams.Stride, downParams.Pad}},
		"generation":     map[string]any{"up": []int{downKernel, downParams.Stride, downParams.Pad}, "output_padding": 0},
		"out":            []int{c.OutKernel, 1, (c.OutKernel - 1) / 2},
		"gaussian":       cifarGaussian,
		// activations[i] follows every sample of layer i (0: the image),
		// inferred or generated, and the prior's samples of the top layer.
		"activations":    activations,
		"pixel_norm_eps": nn.PixelNormEps,
		"prior":          "standard_normal",
		"critic": map[string]any{
			"layers": critics, "activation": "leaky_relu", "slope": m.Critics[0].Slope,
			"norm": "pixel_norm", "pixel_norm_eps": nn.PixelNormEps,
		},
	}
}

// activated reports whether samples of layer i go through ReLU and PixelNorm.
func (m *CIFAR10) activated(i int) bool {
	return !(i == 0 || (i == m.Layers() && m.Config.TopActivation == TopLinear))
}

// Describe returns the Moving MNIST model's description: the frame folding,
// the two stochastic ConvLSTMs (gates i, f, g, o of concat(x, h); a 1×1
// head to [μ, s]), the readout, the initial state and the critics.
func (m *MovingMNIST) Describe() map[string]any {
	c := m.Config
	critic := map[string]any{
		"channels": c.CriticChannels, "conv1": []int{4, 2, 1}, "conv2": []int{4, 2, 1},
		"norm": c.CriticNorm, "activation": "leaky_relu", "slope": m.CriticX.Slope,
	}
	if m.CriticX.Norm1 != nil {
		critic["batch_norm_eps"] = m.CriticX.Norm1.Eps
	}
	return map[string]any{
		"version":        DescriptionVersion,
		"model":          "movingmnist",
		"frame_size":     c.FrameSize,
		"patch":          c.Patch,
		"space_to_depth": "out[b, c*p*p + u*p + v, i, j] = x[b, c, i*p + u, j*p + v]",
		"hidden":         c.Hidden,
		"kernel":         c.Kernel,
		"lstm": map[string]any{
			"input": "concat(x, h)", "gates": "i,f,g,o", "cell": "c = sigmoid(f)*c_prev + sigmoid(i)*tanh(g)",
			"output": "sigmoid(o)*tanh(c)", "head": []int{1, 1, 0}, "split": "mean|std", "std": "softplus",
			"sample": "mean+std*eps",
		},
		"initial_state":  "encoder h = z0 ~ N(0, I); encoder c, decoder h and c zero",
		"readout_hidden": c.ReadoutHidden,
		"readout":        "sigmoid(depth_to_space(readout2(relu(readout1(h)))))",
		"readout_conv":   []int{3, 1, 1},
		"prior":          "standard_normal",
		"critic":         critic,
	}
}
