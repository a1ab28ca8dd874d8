package autodiff_test

import (
	"fmt"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/tensor"
)

// Double backward: with CreateGraph the first derivative is itself a recorded
// computation, so it can be differentiated again. For y = x³ at x = 4,
// dy/dx = 3x² = 48 and d²y/dx² = 6x = 24. WGAN-GP's gradient penalty uses the
// same mechanism to differentiate ‖∇ₓD‖ with respect to the critic's weights.
func ExampleGrad_doubleBackward() {
	x := ad.Param(tensor.Scalar(tensor.Float64, 4))
	y := ad.Mul(x, ad.Mul(x, x))

	dy := ad.Grad(y, []*ad.Var{x}, &ad.GradOptions{CreateGraph: true})[0]
	d2y := ad.Grad(dy, []*ad.Var{x}, nil)[0]

	fmt.Println("y =", y.Item())
	fmt.Println("dy/dx =", dy.Item())
	fmt.Println("d²y/dx² =", d2y.Item())
	// Output:
	// y = 64
	// dy/dx = 48
	// d²y/dx² = 24
}
