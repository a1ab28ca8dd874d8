package mnist

import (
	"math/rand/v2"
	"testing"

	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/tensor"
)

func benchStep(b *testing.B, critic string, batch int) {
	cfg := PaperConfig(critic)
	cfg.BatchSize = batch
	tr, err := NewTrainer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	x := tensor.RandUniform(rand.New(rand.NewPCG(1, 2)), tensor.Float32, 0, 1, batch, 784)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tr.TrainStep([][]*tensor.Tensor{{x}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrainStep times one full training step (critic update with
// gradient penalty, then network update) at the paper's batch size.
func BenchmarkTrainStepGlobal512(b *testing.B) { benchStep(b, model.CriticGlobal, 512) }
func BenchmarkTrainStepLocal512(b *testing.B)  { benchStep(b, model.CriticLocal, 512) }
