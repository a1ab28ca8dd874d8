package mnist

import (
	"reflect"
	"testing"

	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/objective"
	"github.com/wakesleep/wakesleep/optim"
	"github.com/wakesleep/wakesleep/train"
)

// --preset paper is the paper's MNIST setting, field by field (Sec. 5.1,
// Appendix A.1.2–A.1.3); open points take the values the README's table
// names for the paper preset.
func TestPaperPresetFieldByField(t *testing.T) {
	for _, tc := range []struct {
		critic string
		gamma  float64
	}{{model.CriticGlobal, 1}, {model.CriticLocal, 0.1}} {
		want := Config{
			Experiment: "mnist",
			Model: model.MNISTConfig{XDim: 784, ZDim: 64, Hidden: 512, RecurrentSteps: 1,
				Critic: tc.critic, CriticWidth: 512, CriticDepth: 3, InitStd: 0},
			Objective: objective.Settings{Gamma: tc.gamma, Lambda: 1, ReconWeight: 1, ReconLayers: ""},
			Settings: train.Settings{
				Epochs:      400,
				BatchSize:   512,
				CriticSteps: 1,
				Seed:        1,
				NetworkAdam: optim.AdamConfig{LearningRate: 1e-4, Beta1: 0.5, Beta2: 0.99, Eps: 1e-8, WeightDecay: 2e-5},
				CriticAdam:  optim.AdamConfig{LearningRate: 4e-4, Beta1: 0.5, Beta2: 0.99, Eps: 1e-8, WeightDecay: 2e-5},
				Schedule:    optim.Schedule{Factor: 0.96, Start: 200, End: 250},
				LogEvery:    10, CheckpointEvery: 0, KeepCheckpoints: 3,
			},
			PixelScale: "unit",
		}
		if got := PaperConfig(tc.critic); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.critic, got, want)
		}
		paper, quick := PaperConfig(tc.critic), QuickConfig(tc.critic)
		if err := paper.Validate(); err != nil {
			t.Error(err)
		}
		if err := quick.Validate(); err != nil {
			t.Error(err)
		}
	}
}
