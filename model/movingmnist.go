package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

// MeanPixel is the approximate mean pixel value of Moving MNIST frames: two
// MNIST digits (mean pixel 0.1307 over 28×28) in a 64×64 frame give
// 2·784·0.1307/4096 ≈ 0.05.
const MeanPixel = 0.05

// MovingMNISTConfig describes the video prediction model of Sec. 5.3 and
// Appendix A.1.5 and its critics. DefaultMovingMNISTConfig follows the paper
// where it speaks.
type MovingMNISTConfig struct {
	FrameSize int `json:"frame_size"` // side of the square frames (64)
	// Patch folds p×p pixel patches into channels before the encoder and
	// unfolds the decoder's output (Shi et al. 2015's 16×16×16 view of a
	// 64×64 frame for p = 4): the LSTMs run at FrameSize/Patch. Open point:
	// the paper does not say at which resolution its LSTMs run; 4 is Shi et
	// al.'s choice and what makes CPU training feasible.
	Patch          int    `json:"patch"`
	Hidden         int    `json:"hidden"`          // channels of each ConvLSTM (32)
	Kernel         int    `json:"kernel"`          // ConvLSTM kernel, odd (open point: 5, Shi et al.'s)
	ReadoutHidden  int    `json:"readout_hidden"`  // hidden channels of the decoder's 2-layer CNN (16)
	CriticChannels int    `json:"critic_channels"` // channels of a critic's first conv (the second has twice)
	CriticNorm     string `json:"critic_norm"`     // "batch" (the paper) or "none"
}

// DefaultMovingMNISTConfig returns the paper's architecture: 32-channel
// encoder and decoder ConvLSTMs, a 16-channel readout CNN, critics with batch
// norm; kernel 5 and patch 4 as Shi et al. (2015).
func DefaultMovingMNISTConfig() MovingMNISTConfig {
	return MovingMNISTConfig{FrameSize: 64, Patch: 4, Hidden: 32, Kernel: 5, ReadoutHidden: 16,
		CriticChannels: 32, CriticNorm: NormBatch}
}

// Grid returns the side of the LSTMs' spatial grid, FrameSize/Patch.
func (c MovingMNISTConfig) Grid() int { return c.FrameSize / c.Patch }

// Validate reports an inconsistent configuration.
func (c MovingMNISTConfig) Validate() error {
	switch {
	case c.FrameSize <= 0 || c.Patch <= 0 || c.FrameSize%c.Patch != 0:
		return fmt.Errorf("model: frame size %d must be a positive multiple of the patch %d", c.FrameSize, c.Patch)
	case c.FrameSize%4 != 0 || c.Grid()%4 != 0:
		return fmt.Errorf("model: the critics halve the size twice: frame size %d and grid %d must be multiples of 4", c.FrameSize, c.Grid())
	case c.Hidden <= 0 || c.ReadoutHidden <= 0 || c.CriticChannels <= 0:
		return fmt.Errorf("model: hidden %d, readout hidden %d and critic channels %d must be positive", c.Hidden, c.ReadoutHidden, c.CriticChannels)
	case c.Kernel <= 0 || c.Kernel%2 == 0:
		return fmt.Errorf("model: kernel %d must be odd and positive", c.Kernel)
	case c.CriticNorm != NormBatch && c.CriticNorm != NormNone:
		return fmt.Errorf("model: critic norm %q must be %q or %q", c.CriticNorm, NormBatch, NormNone)
	}
	return nil
}

// MovingMNIST is the model of Fig. 5B: a stochastic ConvLSTM encoder whose
// sampled hidden state is the latent z_t, a stochastic ConvLSTM decoder that
// reads z_t, and a 2-layer CNN from the decoder's hidden state to the next
// frame; plus the critics D_x (frames) and D_z (latents).
//
//	encoder:  z_t = h^enc_t ~ q_φ(· | x_t, h^enc_{t−1}, c^enc_{t−1})        (x_t folded to [P², S/P, S/P])
//	decoder:  h^dec_t ~ p_θ(· | z_t, h^dec_{t−1}, c^dec_{t−1})
//	readout:  x̂_{t+1} = sigmoid(unfold(W₂ ∗ ReLU(W₁ ∗ h^dec_t)))             (3×3 convolutions)
//
// Frames are [B, 1, S, S] with pixels in [0, 1]; z is [B, Hidden, S/P, S/P].
// The decoder's output is deterministic given its state; the stochasticity
// is in both LSTMs' hidden-state updates, as the paper describes. Open
// points: the sigmoid output, the 3×3 readout kernels, the initial state
// (z_0 ~ N(0, I), the prior; all else zero), and the initialisation, which
// is PyTorch's except for the readout's output bias, set to the logit of
// MeanPixel so that an untrained model predicts dark frames near the data's
// mean intensity instead of uniform gray (a common output-bias choice that
// spares the first few hundred steps of learning the background).
type MovingMNIST struct {
	Config   MovingMNISTConfig
	Encoder  *ConvLSTM   // P² → Hidden
	Decoder  *ConvLSTM   // Hidden → Hidden
	Readout1 *nn.Conv2d  // Hidden → ReadoutHidden, 3×3, then ReLU
	Readout2 *nn.Conv2d  // ReadoutHidden → P², 3×3, then unfold and sigmoid
	CriticX  *ConvCritic // on frames [B, 1, S, S]
	CriticZ  *ConvCritic // on latents [B, Hidden, S/P, S/P]
	dtype    tensor.DType
}

// NewMovingMNIST builds the model with weights drawn from rng.
func NewMovingMNIST(cfg MovingMNISTConfig, dt tensor.DType, rng *rand.Rand) (*MovingMNIST, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pp := cfg.Patch * cfg.Patch
	same := tensor.ConvParams{Stride: 1, Pad: 1}
	m := &MovingMNIST{Config: cfg, dtype: dt}
	m.Encoder = NewConvLSTM(pp, cfg.Hidden, cfg.Kernel, dt, rng)
	m.Decoder = NewConvLSTM(cfg.Hidden, cfg.Hidden, cfg.Kernel, dt, rng)
	m.Readout1 = nn.NewConv2d(cfg.Hidden, cfg.ReadoutHidden, 3, same, dt, rng)
	m.Readout2 = nn.NewConv2d(cfg.ReadoutHidden, pp, 3, same, dt, rng)
	m.Readout2.B.Value.Fill(math.Log(MeanPixel / (1 - MeanPixel))) // start from dark frames, not gray
	m.CriticX = NewConvCritic(1, cfg.CriticChannels, cfg.FrameSize, cfg.CriticNorm, dt, rng)
	m.CriticZ = NewConvCritic(cfg.Hidden, cfg.CriticChannels, cfg.Grid(), cfg.CriticNorm, dt, rng)
	return m, nil
}

// DType returns the model's element type.
func (m *MovingMNIST) DType() tensor.DType { return m.dtype }

// VideoState is the recurrent state of encoder and decoder. Enc.H is the
// latent z of the last step.
type VideoState struct {
	Enc, Dec ConvLSTMState
}

// Prior samples z ~ N(0, I) [B, Hidden, S/P, S/P].
func (m *MovingMNIST) Prior(batch int, rng *rand.Rand) *ad.Var {
	g := m.Config.Grid()
	return ad.Const(tensor.RandNormal(rng, m.dtype, batch, m.Config.Hidden, g, g))
}

// InitialState returns the state before the first frame: the latent
// z_0 ~ N(0, I) drawn from rng (the prior, as the sleep phase starts), zero
// cell states and a zero decoder hidden state. A nil rng gives z_0 = 0, the
// prior's mean: with a nil rng every step takes its mean too (Reparameterize),
// and the model is a deterministic ConvLSTM predictor.
func (m *MovingMNIST) InitialState(batch int, rng *rand.Rand) *VideoState {
	if rng == nil {
		g := m.Config.Grid()
		return &VideoState{Enc: ConvLSTMState{H: ad.Const(tensor.New(m.dtype, batch, m.Config.Hidden, g, g))}}
	}
	return &VideoState{Enc: ConvLSTMState{H: m.Prior(batch, rng)}}
}

// Encode infers z_t from frame x [B, 1, S, S] and the state, updates
// st.Enc and returns z_t (bottom-up).
func (m *MovingMNIST) Encode(x *ad.Var, st *VideoState, rng *rand.Rand) *ad.Var {
	st.Enc = m.Encoder.Step(SpaceToDepth(x, m.Config.Patch), st.Enc, rng)
	return st.Enc.H
}

// Decode steps the decoder on z [B, Hidden, S/P, S/P], updates st.Dec and
// returns the predicted next frame [B, 1, S, S] in (0, 1) (top-down).
func (m *MovingMNIST) Decode(z *ad.Var, st *VideoState, rng *rand.Rand) *ad.Var {
	st.Dec = m.Decoder.Step(z, st.Dec, rng)
	return m.Readout(st.Dec.H)
}

// Readout maps a decoder hidden state to a frame in (0, 1).
func (m *MovingMNIST) Readout(h *ad.Var) *ad.Var {
	r := m.Readout2.Forward(ad.ReLU(m.Readout1.Forward(h)))
	return ad.Sigmoid(DepthToSpace(r, m.Config.Patch))
}

// Rollout is what the model did over one batch of sequences.
type Rollout struct {
	// Z[t] is the latent after encoding frame t (0-based) [B, Hidden, g, g].
	Z []*ad.Var
	// Pred[t] is the prediction of frame t made from Z[t−1]; Pred[0] is nil.
	Pred []*ad.Var
}

// Rollout runs encoder and decoder over a sequence: for t = 0 … context+horizon−2
// it encodes frame t, then decodes the prediction of frame t+1. Frames
// before context are the given frames[t] (the warm-up: states are kept,
// predictions unused). From then on the encoder reads its own prediction
// Pred[t] (closed loop, what happens at test time) or, with teacherForcing,
// the true frames[t]. The result holds Pred[1 … context+horizon−1]: the last
// horizon of them are the predictions of frames context … context+horizon−1.
//
// The state starts at InitialState. Everything is recorded, so a loss on the
// predictions backpropagates through time into the warm-up.
// Panics if context < 1, horizon < 1, or frames is too short (context frames,
// or context+horizon−1 with teacher forcing).
func (m *MovingMNIST) Rollout(frames []*ad.Var, context, horizon int, teacherForcing bool, rng *rand.Rand) *Rollout {
	need := context
	if teacherForcing {
		need = context + horizon - 1
	}
	if context < 1 || horizon < 1 || len(frames) < need {
		panic(fmt.Sprintf("model: Rollout of %d frames with context %d, horizon %d, teacher forcing %v", len(frames), context, horizon, teacherForcing))
	}
	n := context + horizon
	r := &Rollout{Z: make([]*ad.Var, n-1), Pred: make([]*ad.Var, n)}
	st := m.InitialState(frames[0].Dim(0), rng)
	for t := 0; t < n-1; t++ {
		in := r.Pred[t]
		if t < context || teacherForcing {
			in = frames[t]
		}
		r.Z[t] = m.Encode(in, st, rng)
		r.Pred[t+1] = m.Decode(r.Z[t], st, rng)
	}
	return r
}

// Dream runs the sleep phase: z_0 ~ N(0, I), then it bounces between x and z
// for steps steps through decoder and encoder,
//
//	x^s_k = decode(z_{k−1}),  z_k = encode(x^s_k),   k = 1 … steps,
//
// and returns the pairs (x^s_k, z_{k−1}): xs[k−1] [B, 1, S, S] and zs[k−1]
// [B, Hidden, g, g] (zs[0] is the prior sample itself). Panics if steps < 1.
func (m *MovingMNIST) Dream(batch, steps int, rng *rand.Rand) (xs, zs []*ad.Var) {
	if steps < 1 {
		panic(fmt.Sprintf("model: Dream of %d steps", steps))
	}
	st := m.InitialState(batch, rng)
	z := st.Enc.H
	for k := 0; k < steps; k++ {
		zs = append(zs, z)
		x := m.Decode(z, st, rng)
		xs = append(xs, x)
		if k < steps-1 {
			z = m.Encode(x, st, rng)
		}
	}
	return xs, zs
}

// NetworkParameters returns the encoder, decoder and readout parameters
// (φ, θ): the players that minimise the adversarial objectives.
func (m *MovingMNIST) NetworkParameters() []*nn.Parameter {
	ps := nn.Prefixed("encoder", m.Encoder.Parameters())
	ps = append(ps, nn.Prefixed("decoder", m.Decoder.Parameters())...)
	ps = append(ps, nn.Prefixed("readout1", m.Readout1.Parameters())...)
	return append(ps, nn.Prefixed("readout2", m.Readout2.Parameters())...)
}

// CriticParameters returns the parameters of D_x and D_z.
func (m *MovingMNIST) CriticParameters() []*nn.Parameter {
	return append(nn.Prefixed("critic_x", m.CriticX.Parameters()), nn.Prefixed("critic_z", m.CriticZ.Parameters())...)
}

// Parameters implements nn.Module: networks then critics.
func (m *MovingMNIST) Parameters() []*nn.Parameter {
	return append(m.NetworkParameters(), m.CriticParameters()...)
}

// Buffers returns the critics' batch-norm running statistics.
func (m *MovingMNIST) Buffers() []*nn.Buffer {
	return append(nn.PrefixedBuffers("critic_x", m.CriticX.Buffers()), nn.PrefixedBuffers("critic_z", m.CriticZ.Buffers())...)
}

// Frozen returns a copy of the networks (encoder, decoder, readout) whose
// parameters are constants sharing m's values: its forward passes record no
// graph, the no-grad mode for prediction and evaluation. The critics are
// shared with m, not copied.
func (m *MovingMNIST) Frozen() *MovingMNIST {
	conv := func(c *nn.Conv2d) *nn.Conv2d {
		f := &nn.Conv2d{W: ad.Const(c.W.Value), Params: c.Params}
		if c.B != nil {
			f.B = ad.Const(c.B.Value)
		}
		return f
	}
	lstm := func(l *ConvLSTM) *ConvLSTM {
		return &ConvLSTM{Gates: conv(l.Gates), Head: conv(l.Head), In: l.In, Hidden: l.Hidden}
	}
	f := *m
	f.Encoder, f.Decoder = lstm(m.Encoder), lstm(m.Decoder)
	f.Readout1, f.Readout2 = conv(m.Readout1), conv(m.Readout2)
	return &f
}
