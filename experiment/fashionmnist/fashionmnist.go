// Package fashionmnist is the MNIST experiment's model and objective trained
// on Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 28×28 gray images of ten
// kinds of garment, read from the Debian package dataset-fashion-mnist. The
// surprise studies train on one set and show the other as novel.
package fashionmnist

import (
	mnistdata "github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/train"
)

// Name is the experiment's name, the "experiment" field of its config.
const Name = "fashionmnist"

// Experiment is the Fashion-MNIST experiment.
var Experiment = mnist.New(Name, train.Info{
	Summary: "the MNIST model and objective on Fashion-MNIST garments",
	Usage: `Trains the MNIST recurrent stochastic autoencoder (Sec. 5.1 of the paper),
with the global or the local critics and every flag and preset of the mnist
experiment, on Fashion-MNIST: 28x28 gray images of T-shirts, trousers,
pullovers, dresses, coats, sandals, shirts, sneakers, bags and ankle boots.
--data defaults to ` + mnistdata.FashionDir + `, where
'apt-get install dataset-fashion-mnist' puts the four IDX files.

Examples:
  $ wakesleep train fashionmnist
  $ wakesleep train fashionmnist --algorithm global --run runs/fashion-global`,
	DataHelp: "folder with Fashion-MNIST IDX files (default: " + mnistdata.FashionDir + ")",
	Items:    "images",
}, LoadData)

// LoadData reads both splits of Fashion-MNIST from dir, by default
// FashionDir.
func LoadData(dir string) (trainSet, testSet *mnistdata.Set, err error) {
	return mnist.LoadSplits(dir, mnistdata.LoadFashion)
}
