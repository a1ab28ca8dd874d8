package train

import (
	"fmt"
	"math/rand/v2"

	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/tensor"
)

// UsedImages is n, or limit if that is positive and smaller (a run that
// trains on the first limit images only).
func UsedImages(n, limit int) int {
	if limit > 0 && limit < n {
		return limit
	}
	return n
}

// SetSteps returns the steps of an epoch over the first used images of a
// fixed set, or an error if a step's batches need more.
func SetSteps(s *Settings, used int) (int, error) {
	per := used / (s.BatchSize * s.CriticSteps)
	if per == 0 {
		return 0, fmt.Errorf("batch size %d × critic steps %d exceeds the %d training images", s.BatchSize, s.CriticSteps, used)
	}
	return per, nil
}

// SetBatches returns the critic-step batches of global step st (0-based)
// over the first used images of a fixed set (batch returns the images at
// idx as a tensor): each epoch visits them in an order
// that is a pure function of the seed and the epoch, so that a resumed run
// sees the same batches.
func SetBatches(s *Settings, batch func(idx []int) *tensor.Tensor, used, st int) [][]*tensor.Tensor {
	per := used / (s.BatchSize * s.CriticSteps)
	epoch, i := st/per, st%per
	order := mnist.Permutation(rand.New(rand.NewPCG(s.Seed, uint64(epoch)+1<<32)), used)
	b, k := s.BatchSize, s.CriticSteps
	xs := make([][]*tensor.Tensor, k)
	for j := range xs {
		start := (i*k + j) * b
		xs[j] = []*tensor.Tensor{batch(order[start : start+b])}
	}
	return xs
}

// Fixed noise streams for pictures, so that pictures of successive epochs
// are comparable.
const (
	SampleStream     = 0xF1
	ReconStream      = 0xF2
	PredictionStream = 0xF3
)
