package fashionmnist

import (
	"os"
	"testing"

	mnistdata "github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/train"
)

// The experiment reads Fashion-MNIST where Debian installs it, and its
// configs name it.
func TestData(t *testing.T) {
	c, err := Experiment.Presets()[0].New(nil)
	if err != nil || c.ExperimentName() != Name || c.(*mnist.Config).Validate() != nil {
		t.Fatalf("preset: %v, %v", c, err)
	}
	if _, err := os.Stat(mnistdata.FashionDir); err != nil {
		t.Skipf("no Fashion-MNIST: %v", err)
	}
	d, err := Experiment.Data("", nil)
	if err != nil {
		t.Fatal(err)
	}
	md := d.(*mnist.Data)
	if md.Train.N != 60000 || md.Test.N != 10000 {
		t.Errorf("%d training and %d test images", md.Train.N, md.Test.N)
	}
	var _ train.Tester = Experiment
}
