package tensor

import "math/rand/v2"

// RandNormal returns a tensor of standard normal draws from rng.
func RandNormal(rng *rand.Rand, dt DType, shape ...int) *Tensor {
	t := New(dt, shape...)
	if dt == Float32 {
		for i := range t.f32 {
			t.f32[i] = float32(rng.NormFloat64())
		}
	} else {
		for i := range t.f64 {
			t.f64[i] = rng.NormFloat64()
		}
	}
	return t
}

// RandUniform returns a tensor of uniform draws in [lo, hi) from rng.
func RandUniform(rng *rand.Rand, dt DType, lo, hi float64, shape ...int) *Tensor {
	t := New(dt, shape...)
	for i := 0; i < t.Len(); i++ {
		t.SetAt(i, lo+(hi-lo)*rng.Float64())
	}
	return t
}
