package probe

import (
	"math"
	"math/rand/v2"
	"testing"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

func TestRotate90IsExact(t *testing.T) {
	t.Parallel()
	const n = 28
	rng := rand.New(rand.NewPCG(1, 1))
	img := make([]float64, n*n)
	for i := range img {
		img[i] = rng.Float64()
	}
	got := RotateImage(img, n, n, 90)
	// Counterclockwise as displayed: new[r][c] = old[c][n−1−r].
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			if want := img[c*n+(n-1-r)]; got[r*n+c] != want {
				t.Fatalf("90°: pixel (%d, %d) = %g, want %g", r, c, got[r*n+c], want)
			}
		}
	}
	// A known pattern: the top-right pixel goes to the top-left.
	one := make([]float64, n*n)
	one[0*n+27] = 1
	if r := RotateImage(one, n, n, 90); r[0] != 1 || sum(r) != 1 {
		t.Errorf("top-right pixel rotated by 90° should land top-left alone")
	}
	// Four quarter turns, and a full turn, give the image back exactly.
	four := img
	for k := 0; k < 4; k++ {
		four = RotateImage(four, n, n, 90)
	}
	full := RotateImage(img, n, n, 360)
	zero := RotateImage(img, n, n, 0)
	for i := range img {
		if four[i] != img[i] || full[i] != img[i] || zero[i] != img[i] {
			t.Fatalf("pixel %d: 4×90° %g, 360° %g, 0° %g, want %g", i, four[i], full[i], zero[i], img[i])
		}
	}
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

func TestRotateBilinear(t *testing.T) {
	t.Parallel()
	// A constant image stays constant where the source is inside the image
	// (the centre), and the corners of a 45° rotation read outside (0).
	const n = 9
	img := make([]float64, n*n)
	for i := range img {
		img[i] = 1
	}
	r := RotateImage(img, n, n, 45)
	if c := r[4*n+4]; math.Abs(c-1) > 1e-12 {
		t.Errorf("centre of a rotated constant image = %g, want 1", c)
	}
	if r[0] != 0 {
		t.Errorf("corner of a 45° rotation = %g, want 0 (outside the source)", r[0])
	}
	// Mass is roughly kept for an interior blob.
	blob := make([]float64, n*n)
	blob[3*n+4], blob[4*n+4], blob[5*n+4] = 1, 1, 1
	if s := sum(RotateImage(blob, n, n, 30)); math.Abs(s-3) > 0.3 {
		t.Errorf("mass after rotation %g, want about 3", s)
	}
}

func TestAddNoise(t *testing.T) {
	t.Parallel()
	im := &Images{Rows: 2, Cols: 2, Pix: [][]float64{{0, 0.5, 1, 0.25}}}
	rng := rand.New(rand.NewPCG(1, 1))
	same := im.AddNoise(0, rng)
	for j, v := range im.Pix[0] {
		if same.Pix[0][j] != v {
			t.Fatal("σ = 0 should copy the image")
		}
	}
	big := im.AddNoise(10, rng)
	for _, v := range big.Pix[0] {
		if v < 0 || v > 1 {
			t.Fatalf("noisy pixel %g outside [0, 1]", v)
		}
	}
	d := MeanSquaredDiff(big, im)
	if len(d) != 1 || d[0] <= 0 {
		t.Errorf("distortion %v", d)
	}
}

// shiftModel is a "model" with identity inference and a generator that adds
// c to every unit: x̂ = x + c, z = x, z' = x̂.
type shiftModel struct{ c float64 }

func (m shiftModel) Infer(x *ad.Var, _ *rand.Rand) *ad.Var { return x }
func (m shiftModel) Generate(z *ad.Var, _ *rand.Rand) *ad.Var {
	return ad.Const(tensor.Affine(z.Value, 1, m.c))
}

func TestAmplitudes(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 1))
	x := tensor.RandUniform(rng, tensor.Float64, 0, 1, 7, 5)
	for _, tc := range []struct {
		name  string
		c     float64
		scale string
		wantX float64
		wantZ float64
	}{
		{"identity model", 0, mnist.ScaleUnit, 0, 0},
		{"shift by 0.5", 0.5, mnist.ScaleUnit, 0.25, 0.25},
		// In [−1, 1] pixels a shift of 0.5 is 0.25 in [0, 1] pixels.
		{"shift, sym pixels", 0.5, mnist.ScaleSym, 0.0625, 0.25},
	} {
		c := RunCycle(shiftModel{tc.c}, x, 3, rng) // batches of 3, 3, 1
		ax, az := Amplitudes(x, c, tc.scale)
		if r := RowMeanSquares(c.Z, c.ZRetest, 1); r[0] != 0 {
			t.Errorf("%s: deterministic inference has retest floor %g, want 0", tc.name, r[0])
		}
		if len(ax) != 7 || len(az) != 7 {
			t.Fatalf("%s: %d and %d amplitudes for 7 stimuli", tc.name, len(ax), len(az))
		}
		for i := range ax {
			if !near(ax[i], tc.wantX, 1e-12) || !near(az[i], tc.wantZ, 1e-12) {
				t.Fatalf("%s: stimulus %d: A_x %g, A_z %g; want %g, %g", tc.name, i, ax[i], az[i], tc.wantX, tc.wantZ)
			}
		}
	}
}

func TestPhaseGradientLinearCritic(t *testing.T) {
	t.Parallel()
	// D(x) = w·x + b: ∇w mean D = mean x, ∇b mean D = 1. So g_wake =
	// (mean x_wake, 1) and g_sleep = −(mean x_sleep, 1).
	rng := rand.New(rand.NewPCG(2, 2))
	lin := nn.NewLinear(3, 1, tensor.Float64, rng)
	c := Critic{Name: "lin", Params: lin.Parameters(), Score: func(x, z *ad.Var) *ad.Var { return lin.Forward(x) }}
	wake := tensor.FromFloat64([]float64{1, 2, 3, 3, 2, 1}, 2, 3)  // mean (2, 2, 2)
	sleep := tensor.FromFloat64([]float64{0, 1, 0, 2, 1, 0}, 2, 3) // mean (1, 1, 0)
	gw := PhaseGradient(c, wake, wake, 1)
	gs := PhaseGradient(c, sleep, sleep, -1)
	wantW, wantS := []float64{2, 2, 2, 1}, []float64{-1, -1, 0, -1}
	for i := range wantW {
		if !near(gw[i], wantW[i], 1e-12) || !near(gs[i], wantS[i], 1e-12) {
			t.Fatalf("g_wake %v, g_sleep %v; want %v, %v", gw, gs, wantW, wantS)
		}
	}
	// cos = (−2−2−0−1)/(√13·√3)
	if got, want := Cosine(gw, gs), -5/(math.Sqrt(13)*math.Sqrt(3)); !near(got, want, 1e-12) {
		t.Errorf("cos = %g, want %g", got, want)
	}
	// Identical phases: the updates are exactly opposite.
	if got := Cosine(PhaseGradient(c, wake, wake, 1), PhaseGradient(c, wake, wake, -1)); !near(got, -1, 1e-12) {
		t.Errorf("same activity in both phases: cos = %g, want -1", got)
	}
}

func TestMomentsAndGroupRatio(t *testing.T) {
	t.Parallel()
	// Unit 0 silent, unit 1 ±1, unit 2 ±2.
	z := tensor.FromFloat64([]float64{0, 1, 2, 0, -1, -2}, 2, 3)
	m := Moments(z, nil)
	for u, want := range []float64{0, 1, 2} {
		if m.MeanAbs[u] != want || m.Mean[u] != 0 || m.Variance[u] != want*want {
			t.Fatalf("unit %d: %v %v %v", u, m.MeanAbs[u], m.Mean[u], m.Variance[u])
		}
	}
	if r := GroupRatio(m.MeanAbs, []int{0}); r != 0 {
		t.Errorf("ratio for the silent unit = %g, want 0", r)
	}
	if r := GroupRatio(m.MeanAbs, []int{2}); r != 4 {
		t.Errorf("ratio for unit 2 = %g, want 2/((0+1)/2) = 4", r)
	}
	// A resample of row 0 twice: means of |z| unchanged, variance 0.
	m2 := Moments(z, []int{0, 0})
	if m2.MeanAbs[2] != 2 || m2.Variance[2] != 0 {
		t.Errorf("resampled moments %v", m2)
	}
}

// A convolutional layer's unit is a channel, pooled over its positions: the
// moments of [N, C, H, W] are those of the [N·H·W, C] rows of its values.
func TestMomentsOfChannels(t *testing.T) {
	t.Parallel()
	// 2 rows, 2 channels, 2 positions: channel 0 is 1, 3 then 5, 7;
	// channel 1 is −1, 1 then −2, 2.
	z := tensor.FromFloat64([]float64{1, 3, -1, 1, 5, 7, -2, 2}, 2, 2, 1, 2)
	m := Moments(z, nil)
	want := UnitMoments{MeanAbs: []float64{4, 1.5}, Mean: []float64{4, 0}, Variance: []float64{5, 2.5}}
	for u := 0; u < 2; u++ {
		if m.MeanAbs[u] != want.MeanAbs[u] || m.Mean[u] != want.Mean[u] || m.Variance[u] != want.Variance[u] {
			t.Errorf("channel %d: %v, want %v", u, m, want)
		}
	}
	// Row 1 twice: channel 0 is 5, 7, 5, 7.
	if r := Moments(z, []int{1, 1}); r.Mean[0] != 6 || r.Variance[0] != 1 {
		t.Errorf("resampled: %v", r)
	}
}
