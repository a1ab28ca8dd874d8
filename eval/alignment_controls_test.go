package eval

import (
	"math/rand/v2"
	"testing"

	"github.com/wakesleep/wakesleep/tensor"
)

// jointPhase returns n samples of 4 binary pixels and 2 latents. With
// coupled, latent k copies pixel k (joint structure between x and z);
// without, the latents are independent coins of the same marginals.
func jointPhase(rng *rand.Rand, n int, coupled bool) Phase {
	x := tensor.New(tensor.Float64, n, 4)
	z := tensor.New(tensor.Float64, n, 2)
	for i := 0; i < n; i++ {
		for j := 0; j < 4; j++ {
			x.SetAt(i*4+j, float64(rng.IntN(2)))
		}
		for k := 0; k < 2; k++ {
			v := float64(rng.IntN(2))
			if coupled {
				v = x.At(i*4 + k)
			}
			z.SetAt(i*2+k, v)
		}
	}
	return Phase{X: x, Z: z}
}

func controlOpts() AlignmentOptions {
	return opts(func(o *AlignmentOptions) {
		o.Draws, o.XUnits, o.ZUnits, o.Choice, o.Permutations = 3, 4, 2, UnitsUniform, 50
	})
}

// Known answers of the controls: joint structure planted in wake (latents
// copy pixels) and absent from sleep (same marginals, independent) is seen
// by the pairing shuffle, the information of the latents and the
// permutation null; without it, none of them moves off its floor.
func TestAlignmentControlsKnownAnswers(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	o := controlOpts()
	planted, err := Alignment(jointPhase(rng, 2000, true), jointPhase(rng, 2000, false), o, jointPhase(rng, 2000, false))
	if err != nil {
		t.Fatal(err)
	}
	if !planted.Resolved() {
		t.Fatalf("64 patterns in 1000 samples: missing mass %v / %v", planted.WakeMissing, planted.SleepMissing)
	}
	// Latent k = pixel k: 2 bits of information, less the bias.
	if planted.Information.Mean < 1.8 || planted.PairShuffle.Mean < 10*planted.Control.Mean || planted.IndepShuffle.Mean < 10*planted.Control.Mean {
		t.Errorf("planted joint structure: information %v, pair shuffle %v, independent %v, control %v",
			planted.Information, planted.PairShuffle, planted.IndepShuffle, planted.Control)
	}
	if planted.PermZ.Mean < 5 || planted.PermP.Mean > 0.05 {
		t.Errorf("planted misalignment: permutation z %v, p %v", planted.PermZ, planted.PermP)
	}
	// Specificity: the other stimuli are independent like sleep, so they
	// match sleep better than wake does.
	if !planted.HasOther || !(planted.Other.Mean < planted.WakeSleep.Mean/5) {
		t.Errorf("other %v vs wake %v", planted.Other, planted.WakeSleep)
	}

	none, err := Alignment(jointPhase(rng, 2000, false), jointPhase(rng, 2000, false), o)
	if err != nil {
		t.Fatal(err)
	}
	if none.Information.Mean > 0.05 || none.PairShuffle.Mean > 3*none.Control.Mean+0.01 {
		t.Errorf("no joint structure: information %v, pair shuffle %v, control %v", none.Information, none.PairShuffle, none.Control)
	}
	if none.PermZ.Mean > 2.5 || none.PermP.Mean < 0.1 {
		t.Errorf("same distributions: permutation z %v, p %v", none.PermZ, none.PermP)
	}
	if none.HasOther {
		t.Error("no other stimuli given")
	}
	if _, err := Alignment(jointPhase(rng, 20, false), jointPhase(rng, 20, false), o, jointPhase(rng, 10, false)); err == nil {
		t.Error("too few other samples accepted")
	}
}

// Undersampled: 16 binary units in 100 samples leave missing mass ≈ 1,
// where the estimate cannot tell a distribution from another.
func TestAlignmentUnresolved(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	x := func() Phase {
		p := tensor.New(tensor.Float64, 200, 16)
		for i := 0; i < p.Len(); i++ {
			p.SetAt(i, float64(rng.IntN(2)))
		}
		return Phase{X: p}
	}
	a, err := Alignment(x(), x(), opts(func(o *AlignmentOptions) { o.Draws, o.XUnits, o.ZUnits, o.Choice = 2, 16, 0, UnitsUniform }))
	if err != nil {
		t.Fatal(err)
	}
	if a.Resolved() {
		t.Errorf("missing mass %v counted as resolved", a.WakeMissing)
	}
}
