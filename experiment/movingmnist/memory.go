package movingmnist

import "github.com/wakesleep/wakesleep/train"

// MemoryEstimate implements train.MemoryEstimator: an encoder and a decoder
// ConvLSTM (four gates of a K×K convolution over input and hidden
// channels) on the FrameSize/Patch grid, the read-out CNN, the critics, and
// one step's activations over every frame of a sequence, both phases.
func (e *experiment) MemoryEstimate(cfg train.Config) float64 {
	c := cfg.(*Config)
	m := c.Model
	patch := float64(max(m.Patch, 1))
	in, h, k := patch*patch, float64(m.Hidden), float64(m.Kernel)
	rh, cc := float64(m.ReadoutHidden), float64(m.CriticChannels)
	grid := float64(m.FrameSize) / patch
	params := 2*4*h*(in+h)*k*k + 9*(h*rh+rh*2*in) + 2*(9*(in*cc+cc*2*cc)+2*cc*grid*grid/16+1)
	perFrame := grid * grid * (2*(4*h*2+2*h) + rh + 3*in + 6*3*cc)
	acts := float64(c.BatchSize) * float64(c.Data.Frames) * perFrame * 2 * 2
	return train.TrainingBytes(params, acts)
}
