package cifar10

import "github.com/wakesleep/wakesleep/train"

// MemoryEstimate implements train.MemoryEstimator: for each pair of
// adjacent layers of the hierarchy a bottom-up and a top-down arrow (3×3
// convolutions through the hidden width), a critic per layer (two
// convolutions and a linear read-out), and one step's activations for a
// batch, both phases, at each layer's resolution.
func (e *experiment) MemoryEstimate(cfg train.Config) float64 {
	c := cfg.(*Config)
	m := c.Model
	chans := append([]int{m.ImageChannels}, m.Channels...)
	var params, perSample float64
	for i := 0; i+1 < len(chans); i++ {
		a, b := float64(chans[i]), float64(chans[i+1])
		h := max(a, b)
		if i < len(m.Hidden) {
			h = float64(m.Hidden[i])
		}
		params += 2 * 9 * (a*h + h*2*b)
		side := float64(m.ImageSize) / float64(int(1)<<min(i, 62))
		perSample += 2 * side * side * (4*a + 2*h + 3*b)
	}
	for i, cc := range m.CriticChannels {
		if i >= len(chans) {
			break
		}
		a, k := float64(chans[i]), float64(cc)
		side := float64(m.ImageSize) / float64(int(1)<<min(i, 62))
		params += 9*(a*k+k*2*k) + 2*k*side*side/16 + 1
		perSample += 6 * side * side * (k + 2*k/4)
	}
	// Calibrated on the quick preset (batch 64): one step peaks at about
	// 1.1 GB resident, of which the activations are most.
	acts := float64(c.BatchSize) * perSample * 2 * 0.4
	return train.TrainingBytes(params, acts)
}
