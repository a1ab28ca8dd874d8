package cifar10

import (
	"math/rand/v2"
	"testing"

	"github.com/wakesleep/wakesleep/tensor"
)

// BenchmarkCIFAR10TrainStep32 times one full training step of the paper's
// CIFAR-10 model (six critic updates with their gradient penalties, then
// the network update) at batch 32.
func BenchmarkCIFAR10TrainStep32(b *testing.B) {
	cfg := QuickConfig()
	cfg.BatchSize = 32
	tr, err := NewTrainer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	x := tensor.RandUniform(rand.New(rand.NewPCG(1, 2)), tensor.Float32, -1, 1, 32, 3, 32, 32)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tr.TrainStep([][]*tensor.Tensor{{x}}); err != nil {
			b.Fatal(err)
		}
	}
}
