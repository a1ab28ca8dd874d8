package tensor

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// The LSTM kernels split their elements across goroutines, each computed
// once with the same arithmetic: bit-identical whatever GOMAXPROCS is.
// Blocks of 32·256 elements per sample (Moving MNIST's), and of 5·7 (runs
// shorter than a chunk, crossing samples).
func TestLSTMKernelsIndependentOfThreads(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 6))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, shape := range [][]int{{8, 128, 16, 16}, {2000, 20, 7}} {
		state := append([]int(nil), shape...)
		state[1] /= 4
		a, p := RandNormal(rng, Float32, shape...), RandNormal(rng, Float32, state...)
		u, v := RandNormal(rng, Float32, state...), RandNormal(rng, Float32, state...)
		run := func() []*Tensor {
			z := LSTMGates(a)
			c := LSTMState(z, p)
			m, th := LSTMOutput(z, c)
			ga, gp := LSTMStateGrad(u, z, p, true)
			gb, gc := LSTMOutputGrad(v, z, th)
			ga0, _ := LSTMStateGrad(u, z, nil, false)
			return []*Tensor{z, c, LSTMState(z, nil), m, th, ga, gp, gb, gc, ga0}
		}
		runtime.GOMAXPROCS(1)
		one := run()
		runtime.GOMAXPROCS(3)
		three := run()
		for i := range one {
			x, y := one[i].f32, three[i].f32
			for j := range x {
				if math.Float32bits(x[j]) != math.Float32bits(y[j]) {
					t.Fatalf("%v, result %d, element %d: %g with 1 thread, %g with 3", shape, i, j, x[j], y[j])
				}
			}
		}
	}
}

func TestLSTMKernelsRejectBadInput(t *testing.T) {
	a, s := New(Float32, 2, 8, 3), New(Float32, 2, 2, 3)
	for name, f := range map[string]func(){
		"gates rank 1":       func() { LSTMGates(New(Float32, 8)) },
		"gates not 4N":       func() { LSTMGates(New(Float32, 2, 6, 3)) },
		"state channels":     func() { LSTMState(a, New(Float32, 2, 4, 3)) },
		"state batch":        func() { LSTMOutput(a, New(Float32, 1, 2, 3)) },
		"state space":        func() { LSTMOutput(a, New(Float32, 2, 2, 4)) },
		"state type":         func() { LSTMState(a, New(Float64, 2, 2, 3)) },
		"state grad adjoint": func() { LSTMStateGrad(New(Float32, 2, 2, 2), a, s, true) },
		"output grad rank":   func() { LSTMOutputGrad(s, a, New(Float32, 2, 2)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
