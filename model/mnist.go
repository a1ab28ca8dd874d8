package model

import (
	"fmt"
	"math/rand/v2"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

// Critic kinds.
const (
	CriticGlobal = "global" // one critic on concat(x, z): Fig. 3B, Eq. 4
	CriticLocal  = "local"  // one critic per layer, D_x and D_z: Fig. 3C, Eq. 7–8
)

// MNISTConfig describes the recurrent stochastic autoencoder of Sec. 5.1 and
// its critics. Defaults (DefaultMNISTConfig) follow Appendix A.1.3.
type MNISTConfig struct {
	XDim           int    `json:"x_dim"`           // 784 pixels
	ZDim           int    `json:"z_dim"`           // 64 latents (A.1.3: 128 output units, half means, half stds)
	Hidden         int    `json:"hidden"`          // 512 hidden units in every stochastic layer
	RecurrentSteps int    `json:"recurrent_steps"` // open point: 1 (the text reads as one step)
	Critic         string `json:"critic"`          // "global" or "local"
	CriticWidth    int    `json:"critic_width"`    // 512
	CriticDepth    int    `json:"critic_depth"`    // 3 hidden layers
	// InitStd, when > 0, sets the initial σ of every Gaussian unit: the bias
	// of each std output is softplus⁻¹(InitStd). 0 keeps PyTorch's default
	// init, under which σ ≈ softplus(0) ≈ 0.69 (open point: the paper gives
	// no initialisation).
	InitStd float64 `json:"init_std,omitempty"`
	// MaxStd, when > 0, bounds every Gaussian unit's σ below it:
	// σ = MaxStd·sigmoid(s) instead of softplus(s) (open point: the
	// paper does not say how σ is kept positive).
	MaxStd float64 `json:"max_std,omitempty"`
}

// DefaultMNISTConfig returns the paper's architecture with the given critic kind.
func DefaultMNISTConfig(critic string) MNISTConfig {
	return MNISTConfig{XDim: 784, ZDim: 64, Hidden: 512, RecurrentSteps: 1,
		Critic: critic, CriticWidth: 512, CriticDepth: 3}
}

// Validate reports an inconsistent configuration.
func (c MNISTConfig) Validate() error {
	switch {
	case c.XDim <= 0 || c.ZDim <= 0 || c.Hidden <= 0:
		return fmt.Errorf("model: dimensions must be positive (x %d, z %d, hidden %d)", c.XDim, c.ZDim, c.Hidden)
	case c.RecurrentSteps < 0:
		return fmt.Errorf("model: recurrent steps %d must be ≥ 0", c.RecurrentSteps)
	case c.Critic != CriticGlobal && c.Critic != CriticLocal:
		return fmt.Errorf("model: critic %q must be %q or %q", c.Critic, CriticGlobal, CriticLocal)
	case c.CriticWidth <= 0 || c.CriticDepth <= 0:
		return fmt.Errorf("model: critic width %d and depth %d must be positive", c.CriticWidth, c.CriticDepth)
	case !(c.InitStd >= 0 && c.InitStd <= 10):
		return fmt.Errorf("model: init std %g must be in [0, 10] (0: PyTorch's init, σ ≈ 0.69)", c.InitStd)
	case !(c.MaxStd >= 0 && c.MaxStd <= 10):
		return fmt.Errorf("model: max std %g must be in [0, 10] (0: no bound, softplus)", c.MaxStd)
	case c.MaxStd > 0 && c.InitStd >= c.MaxStd:
		return fmt.Errorf("model: init std %g must be below max std %g", c.InitStd, c.MaxStd)
	}
	return nil
}

// MNIST is the model of Fig. 3: inference q_φ(z|x), generation p_θ(x|z) with
// prior p(z) = N(0, I), and its critics.
type MNIST struct {
	Config    MNISTConfig
	Inference *RecurrentStochastic // x [B, 784] → z [B, ZDim], bottom-up
	Generator *RecurrentStochastic // z [B, ZDim] → x [B, 784], top-down
	// Global critic D(x, z) (Critic == "global"), or local critics D_x, D_z.
	Joint   *MLPCritic
	CriticX *MLPCritic
	CriticZ *MLPCritic
	dtype   tensor.DType
}

// NewMNIST builds the model with weights drawn from rng.
func NewMNIST(cfg MNISTConfig, dt tensor.DType, rng *rand.Rand) (*MNIST, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &MNIST{Config: cfg, dtype: dt}
	gauss := func(in, out int) *GaussianLayer {
		g := NewGaussianLayer(in, cfg.Hidden, out, dt, rng)
		g.MaxStd = cfg.MaxStd
		g.SetInitStd(cfg.InitStd)
		return g
	}
	m.Inference = &RecurrentStochastic{
		First: gauss(cfg.XDim, cfg.ZDim),
		Recur: gauss(cfg.ZDim, cfg.ZDim),
		Steps: cfg.RecurrentSteps,
	}
	m.Generator = &RecurrentStochastic{
		First: gauss(cfg.ZDim, cfg.XDim),
		Recur: gauss(cfg.XDim, cfg.XDim),
		Steps: cfg.RecurrentSteps,
	}
	if cfg.Critic == CriticGlobal {
		m.Joint = NewMLPCritic(cfg.XDim+cfg.ZDim, cfg.CriticWidth, cfg.CriticDepth, dt, rng)
	} else {
		m.CriticX = NewMLPCritic(cfg.XDim, cfg.CriticWidth, cfg.CriticDepth, dt, rng)
		m.CriticZ = NewMLPCritic(cfg.ZDim, cfg.CriticWidth, cfg.CriticDepth, dt, rng)
	}
	return m, nil
}

// DType returns the model's element type.
func (m *MNIST) DType() tensor.DType { return m.dtype }

// Infer samples z ~ q_φ(z|x) for x [B, 784] (the bottom-up, wake pass).
func (m *MNIST) Infer(x *ad.Var, rng *rand.Rand) *ad.Var { return m.Inference.Forward(x, rng) }

// InferMean is the inference network without sampling noise: every Gaussian
// unit outputs its mean (for pictures and probes, not for training).
func (m *MNIST) InferMean(x *ad.Var) *ad.Var { return m.Inference.Mean(x) }

// GenerateMean is the generation network without sampling noise.
func (m *MNIST) GenerateMean(z *ad.Var) *ad.Var { return m.Generator.Mean(z) }

// Generate samples x ~ p_θ(x|z) for z [B, ZDim] (the top-down pass).
func (m *MNIST) Generate(z *ad.Var, rng *rand.Rand) *ad.Var { return m.Generator.Forward(z, rng) }

// Prior samples z ~ N(0, I) [B, ZDim].
func (m *MNIST) Prior(batch int, rng *rand.Rand) *ad.Var {
	return ad.Const(tensor.RandNormal(rng, m.dtype, batch, m.Config.ZDim))
}

// NetworkParameters returns the inference and generation parameters (φ, θ):
// the players that minimise the adversarial objectives.
func (m *MNIST) NetworkParameters() []*nn.Parameter {
	return append(nn.Prefixed("inference", m.Inference.Parameters()),
		nn.Prefixed("generator", m.Generator.Parameters())...)
}

// CriticParameters returns the parameters of every critic: the players that
// maximise the adversarial objectives.
func (m *MNIST) CriticParameters() []*nn.Parameter {
	if m.Joint != nil {
		return nn.Prefixed("critic_xz", m.Joint.Parameters())
	}
	return append(nn.Prefixed("critic_x", m.CriticX.Parameters()),
		nn.Prefixed("critic_z", m.CriticZ.Parameters())...)
}

// Parameters implements nn.Module: networks then critics.
func (m *MNIST) Parameters() []*nn.Parameter {
	return append(m.NetworkParameters(), m.CriticParameters()...)
}
