package eval

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/optim"
	"github.com/wakesleep/wakesleep/tensor"
)

// classifierFit is the training loop that both classifiers share: Adam
// (β = 0.9, 0.999, ε = 1e-8) on the cross-entropy of the labels, with the
// learning rate cosine-annealed from LearningRate to 0 over all steps,
// Epochs passes over the N training items in batches of
// BatchSize (the last N mod BatchSize of each pass left out), each pass in a
// fresh order drawn from RNG.
type classifierFit struct {
	Label        string // names the classifier in errors: "classifier", "cifar10 classifier"
	Params       []*nn.Parameter
	LearningRate float64
	WeightDecay  float64
	Epochs       int
	BatchSize    int
	N            int     // training items
	Labels       []uint8 // [N] the class of each
	Classes      int
	RNG          *rand.Rand

	// Logits returns the training-mode logits [B, Classes] of the items idx.
	Logits func(idx []int) *ad.Var
	// EpochNote, if set, returns text for the epoch's log line after the
	// loss, given how many items the epoch saw.
	EpochNote func(seen int) string
	// TestAccuracy, if set, is logged after each epoch.
	TestAccuracy func() float64
}

// run trains, writing a line per epoch to log; it stops with ctx's error
// when ctx is cancelled, and with an error if the loss is not finite.
func (f classifierFit) run(ctx context.Context, log io.Writer) error {
	n := f.N
	opt := optim.NewAdam(optim.AdamConfig{LearningRate: f.LearningRate, Beta1: 0.9, Beta2: 0.999,
		Eps: 1e-8, WeightDecay: f.WeightDecay}, f.Params)
	steps := n / f.BatchSize
	if steps == 0 {
		return fmt.Errorf("%s: batch size %d exceeds the %d training images", f.Label, f.BatchSize, n)
	}
	total := f.Epochs * steps
	onehot := tensor.New(tensor.Float32, f.BatchSize, f.Classes)
	for epoch := 0; epoch < f.Epochs; epoch++ {
		start := time.Now()
		order := mnist.Permutation(f.RNG, n)
		var sum float64
		for s := 0; s < steps; s++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			t := epoch*steps + s
			// Cosine annealing (Loshchilov & Hutter 2017) from lr₀ to 0.
			opt.SetLearningRate(f.LearningRate * 0.5 * (1 + math.Cos(math.Pi*float64(t)/float64(total))))
			idx := order[s*f.BatchSize : (s+1)*f.BatchSize]
			logits := f.Logits(idx)
			onehot.Fill(0)
			for b, i := range idx {
				onehot.SetAt(b*f.Classes+int(f.Labels[i]), 1)
			}
			loss := crossEntropy(logits, onehot)
			l := loss.Item()
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return fmt.Errorf("%s: loss is %g at epoch %d step %d", f.Label, l, epoch+1, s+1)
			}
			sum += l
			gs := ad.Grad(loss, nn.Vars(f.Params), nil)
			grads := make([]*tensor.Tensor, len(gs))
			for i, g := range gs {
				grads[i] = g.Value
			}
			opt.Update(grads)
		}
		fmt.Fprintf(log, "epoch %d/%d  loss %.4f", epoch+1, f.Epochs, sum/float64(steps))
		if f.EpochNote != nil {
			fmt.Fprint(log, f.EpochNote(steps*f.BatchSize))
		}
		if f.TestAccuracy != nil {
			fmt.Fprintf(log, "  test accuracy %.4f", f.TestAccuracy())
		}
		fmt.Fprintf(log, "  (%.1fs)\n", time.Since(start).Seconds())
	}
	return nil
}
