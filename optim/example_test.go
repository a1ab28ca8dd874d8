package optim_test

import (
	"fmt"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/optim"
	"github.com/wakesleep/wakesleep/tensor"
)

// Adam with the paper's β1 = 0.5, β2 = 0.99 minimises the quadratic
// f(θ) = (θ₁ − 3)² + (θ₂ + 1)², whose minimum is at θ = (3, −1).
func ExampleAdam() {
	theta := &nn.Parameter{Name: "theta", V: ad.Param(tensor.FromFloat64([]float64{0, 0}, 2))}
	target := ad.Const(tensor.FromFloat64([]float64{3, -1}, 2))
	opt := optim.NewAdam(optim.AdamConfig{LearningRate: 0.05, Beta1: 0.5, Beta2: 0.99}, []*nn.Parameter{theta})
	loss := func() *ad.Var { return ad.Sum(ad.Square(ad.Sub(theta.V, target))) }
	fmt.Printf("start: f = %.4f\n", loss().Item())
	for i := 0; i < 500; i++ {
		g := ad.Grad(loss(), []*ad.Var{theta.V}, nil)
		opt.Update([]*tensor.Tensor{g[0].Value})
	}
	fmt.Printf("after %d steps: θ = (%.3f, %.3f), f = %.4f\n", opt.Step, theta.V.Value.At(0), theta.V.Value.At(1), loss().Item())
	// Output:
	// start: f = 10.0000
	// after 500 steps: θ = (3.000, -1.000), f = 0.0000
}
