// Package experiment registers the experiments: the one list that the
// command line, the loader and the reliability suite go through. Each
// experiment lives in a folder of its own below this one.
//
// A new experiment is a folder experiment/<name> whose package implements
// train.Experiment (a config embedding train.Settings, presets, flags, a
// model bound to its objective with train.Bind, data and pictures) and
// train.Tester (a tiny config and synthetic data, so that the reliability
// suite covers it) and train.Describer (its model written out in its
// checkpoints, for readers in other frameworks; a new model needs a class in
// interop/wakesleep_torch.py too), and optionally train.Sampler and
// train.Reconstructor (wakesleep sample and reconstruct); plus one entry in
// All below. The
// command line, the loader, resume and the layering test need nothing more.
package experiment

import (
	"github.com/wakesleep/wakesleep/experiment/cifar10"
	"github.com/wakesleep/wakesleep/experiment/fashionmnist"
	"github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/experiment/movingmnist"
	"github.com/wakesleep/wakesleep/train"
)

// All are the experiments, the default (MNIST) first.
var All = train.Registry{
	mnist.Experiment,
	cifar10.Experiment,
	movingmnist.Experiment,
	fashionmnist.Experiment,
}
