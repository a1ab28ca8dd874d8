// Package experiment registers the experiments: the one list that the
// command line, the loader and the reliability suite go through. Each
// experiment lives in a folder of its own below this one.
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
