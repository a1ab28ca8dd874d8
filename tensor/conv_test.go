package tensor_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/wakesleep/wakesleep/tensor"
)

// Direct loops over the definition, in float64: the reference the lowered
// kernels are checked against.

func naiveConv2d(x, w *tensor.Tensor, s, p int) *tensor.Tensor {
	B, C, H, W := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	O, KH, KW := w.Dim(0), w.Dim(2), w.Dim(3)
	Ho, Wo := (H+2*p-KH)/s+1, (W+2*p-KW)/s+1
	y := tensor.New(tensor.Float64, B, O, Ho, Wo)
	for b := 0; b < B; b++ {
		for o := 0; o < O; o++ {
			for i := 0; i < Ho; i++ {
				for j := 0; j < Wo; j++ {
					var acc float64
					for c := 0; c < C; c++ {
						for u := 0; u < KH; u++ {
							for v := 0; v < KW; v++ {
								ih, iw := i*s-p+u, j*s-p+v
								if ih < 0 || ih >= H || iw < 0 || iw >= W {
									continue
								}
								acc += x.At(((b*C+c)*H+ih)*W+iw) * w.At(((o*C+c)*KH+u)*KW+v)
							}
						}
					}
					y.SetAt(((b*O+o)*Ho+i)*Wo+j, acc)
				}
			}
		}
	}
	return y
}

// naiveConvTranspose scatters each g element through the kernel.
func naiveConvTranspose(g, w *tensor.Tensor, s, p, H, W int) *tensor.Tensor {
	B, O, Ho, Wo := g.Dim(0), g.Dim(1), g.Dim(2), g.Dim(3)
	C, KH, KW := w.Dim(1), w.Dim(2), w.Dim(3)
	dx := tensor.New(tensor.Float64, B, C, H, W)
	for b := 0; b < B; b++ {
		for o := 0; o < O; o++ {
			for i := 0; i < Ho; i++ {
				for j := 0; j < Wo; j++ {
					gv := g.At(((b*O+o)*Ho+i)*Wo + j)
					for c := 0; c < C; c++ {
						for u := 0; u < KH; u++ {
							for v := 0; v < KW; v++ {
								ih, iw := i*s-p+u, j*s-p+v
								if ih < 0 || ih >= H || iw < 0 || iw >= W {
									continue
								}
								k := ((b*C+c)*H+ih)*W + iw
								dx.SetAt(k, dx.At(k)+gv*w.At(((o*C+c)*KH+u)*KW+v))
							}
						}
					}
				}
			}
		}
	}
	return dx
}

func naiveConvWeightGrad(x, g *tensor.Tensor, s, p, KH, KW int) *tensor.Tensor {
	B, C, H, W := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	O, Ho, Wo := g.Dim(1), g.Dim(2), g.Dim(3)
	dw := tensor.New(tensor.Float64, O, C, KH, KW)
	for o := 0; o < O; o++ {
		for c := 0; c < C; c++ {
			for u := 0; u < KH; u++ {
				for v := 0; v < KW; v++ {
					var acc float64
					for b := 0; b < B; b++ {
						for i := 0; i < Ho; i++ {
							for j := 0; j < Wo; j++ {
								ih, iw := i*s-p+u, j*s-p+v
								if ih < 0 || ih >= H || iw < 0 || iw >= W {
									continue
								}
								acc += x.At(((b*C+c)*H+ih)*W+iw) * g.At(((b*O+o)*Ho+i)*Wo+j)
							}
						}
					}
					dw.SetAt(((o*C+c)*KH+u)*KW+v, acc)
				}
			}
		}
	}
	return dw
}

type convCase struct {
	b, c, h, w, o, kh, kw, stride, pad int
}

func (c convCase) String() string {
	return fmt.Sprintf("x%dx%dx%dx%d_w%dx%dx%dx%d_s%d_p%d", c.b, c.c, c.h, c.w, c.o, c.c, c.kh, c.kw, c.stride, c.pad)
}

var convCases = []convCase{
	{b: 2, c: 3, h: 7, w: 5, o: 4, kh: 3, kw: 3, stride: 1, pad: 1},   // kernel 3, "same" padding, odd sizes
	{b: 3, c: 2, h: 9, w: 8, o: 5, kh: 4, kw: 4, stride: 2, pad: 1},   // DCGAN down-sampling layer, odd height
	{b: 2, c: 3, h: 8, w: 8, o: 3, kh: 4, kw: 4, stride: 2, pad: 1},   // exact halving
	{b: 2, c: 3, h: 7, w: 7, o: 2, kh: 3, kw: 3, stride: 2, pad: 0},   // last input row unused
	{b: 1, c: 1, h: 5, w: 5, o: 1, kh: 5, kw: 5, stride: 1, pad: 0},   // kernel covers the input
	{b: 2, c: 2, h: 3, w: 4, o: 3, kh: 1, kw: 1, stride: 1, pad: 0},   // 1×1
	{b: 2, c: 3, h: 6, w: 5, o: 4, kh: 3, kw: 2, stride: 3, pad: 2},   // non-square kernel, stride > kernel width
	{b: 1, c: 2, h: 2, w: 2, o: 2, kh: 4, kw: 4, stride: 2, pad: 1},   // 2×2 → 1×1 (CIFAR's last layer)
	{b: 8, c: 8, h: 16, w: 16, o: 8, kh: 4, kw: 4, stride: 2, pad: 1}, // big enough to run on several goroutines
}

func randT(rng *rand.Rand, dt tensor.DType, shape ...int) *tensor.Tensor {
	return tensor.RandUniform(rng, dt, -1, 1, shape...)
}

// maxRelErr returns max|a−b| / max(1, max|b|).
func maxRelErr(a, b *tensor.Tensor) float64 {
	if !tensor.SameShape(a.Shape(), b.Shape()) {
		return math.Inf(1)
	}
	var d, m float64
	for i := 0; i < a.Len(); i++ {
		d = math.Max(d, math.Abs(a.At(i)-b.At(i)))
		m = math.Max(m, math.Abs(b.At(i)))
	}
	return d / math.Max(1, m)
}

func TestConv2dAgainstDirectLoops(t *testing.T) {
	t.Parallel()
	for i, c := range convCases {
		for _, dt := range []tensor.DType{tensor.Float64, tensor.Float32} {
			t.Run(c.String()+"_"+dt.String(), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(i), 3))
				p := tensor.ConvParams{Stride: c.stride, Pad: c.pad}
				x := randT(rng, tensor.Float64, c.b, c.c, c.h, c.w)
				w := randT(rng, tensor.Float64, c.o, c.c, c.kh, c.kw)
				ho, wo := tensor.ConvOutSize(c.h, c.kh, p), tensor.ConvOutSize(c.w, c.kw, p)
				g := randT(rng, tensor.Float64, c.b, c.o, ho, wo)
				tol := 1e-13
				if dt == tensor.Float32 {
					tol = 2e-6
				}

				y := tensor.Conv2d(x.AsType(dt), w.AsType(dt), p)
				if e := maxRelErr(y, naiveConv2d(x, w, c.stride, c.pad)); e > tol {
					t.Errorf("Conv2d: error %.3g, shape %v", e, y.Shape())
				}
				dx := tensor.Conv2dTranspose(g.AsType(dt), w.AsType(dt), p, c.h, c.w)
				if e := maxRelErr(dx, naiveConvTranspose(g, w, c.stride, c.pad, c.h, c.w)); e > tol {
					t.Errorf("Conv2dTranspose: error %.3g", e)
				}
				dw := tensor.Conv2dWeightGrad(x.AsType(dt), g.AsType(dt), p, c.kh, c.kw)
				if e := maxRelErr(dw, naiveConvWeightGrad(x, g, c.stride, c.pad, c.kh, c.kw)); e > tol {
					t.Errorf("Conv2dWeightGrad: error %.3g", e)
				}
			})
		}
	}
}

// The two adjoints must satisfy ⟨conv(x, w), g⟩ = ⟨x, convT(g, w)⟩ = ⟨w, convW(x, g)⟩.
func TestConv2dAdjointIdentities(t *testing.T) {
	t.Parallel()
	for i, c := range convCases {
		t.Run(c.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 4))
			p := tensor.ConvParams{Stride: c.stride, Pad: c.pad}
			x := randT(rng, tensor.Float64, c.b, c.c, c.h, c.w)
			w := randT(rng, tensor.Float64, c.o, c.c, c.kh, c.kw)
			g := randT(rng, tensor.Float64, c.b, c.o, tensor.ConvOutSize(c.h, c.kh, p), tensor.ConvOutSize(c.w, c.kw, p))
			lhs := tensor.Dot(tensor.Conv2d(x, w, p), g)
			viaX := tensor.Dot(x, tensor.Conv2dTranspose(g, w, p, c.h, c.w))
			viaW := tensor.Dot(w, tensor.Conv2dWeightGrad(x, g, p, c.kh, c.kw))
			if math.Abs(lhs-viaX) > 1e-10*(1+math.Abs(lhs)) || math.Abs(lhs-viaW) > 1e-10*(1+math.Abs(lhs)) {
				t.Fatalf("⟨conv(x,w),g⟩ = %.15g, ⟨x,convT(g,w)⟩ = %.15g, ⟨w,convW(x,g)⟩ = %.15g", lhs, viaX, viaW)
			}
		})
	}
}

// Repeated calls reuse scratch buffers; stale contents must never leak into
// a result (padding positions in particular).
func TestConv2dScratchReuse(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	p := tensor.ConvParams{Stride: 2, Pad: 1}
	x := randT(rng, tensor.Float32, 2, 3, 8, 8)
	w := randT(rng, tensor.Float32, 4, 3, 4, 4)
	first := tensor.Conv2d(x, w, p)
	// Dirty the pool with a different geometry full of large values.
	big := tensor.Full(tensor.Float32, 1e6, 2, 3, 12, 12)
	for i := 0; i < 3; i++ {
		tensor.Conv2d(big, tensor.Full(tensor.Float32, 1e6, 4, 3, 3, 3), tensor.ConvParams{})
	}
	again := tensor.Conv2d(x, w, p)
	for i := 0; i < first.Len(); i++ {
		if first.At(i) != again.At(i) {
			t.Fatalf("element %d: %g then %g", i, first.At(i), again.At(i))
		}
	}
}

func TestConvOutSize(t *testing.T) {
	cases := []struct {
		in, k, s, p, want int
	}{
		{32, 4, 2, 1, 16},
		{2, 4, 2, 1, 1},
		{7, 3, 0, 0, 5}, // stride 0 means 1
		{7, 3, 2, 0, 3},
		{5, 3, 1, 1, 5},
		{6, 3, 3, 2, 3},
	}
	for _, c := range cases {
		if got := tensor.ConvOutSize(c.in, c.k, tensor.ConvParams{Stride: c.s, Pad: c.p}); got != c.want {
			t.Errorf("ConvOutSize(%d, %d, s%d p%d) = %d, want %d", c.in, c.k, c.s, c.p, got, c.want)
		}
	}
}

func TestConvPanics(t *testing.T) {
	x := tensor.New(tensor.Float64, 1, 2, 5, 5)
	cases := []struct {
		name string
		f    func()
	}{
		{"channels", func() { tensor.Conv2d(x, tensor.New(tensor.Float64, 3, 3, 3, 3), tensor.ConvParams{}) }},
		{"kernel too big", func() { tensor.Conv2d(x, tensor.New(tensor.Float64, 3, 2, 6, 6), tensor.ConvParams{}) }},
		{"dtype", func() { tensor.Conv2d(x, tensor.New(tensor.Float32, 3, 2, 3, 3), tensor.ConvParams{}) }},
		{"rank", func() {
			tensor.Conv2d(tensor.New(tensor.Float64, 2, 5, 5), tensor.New(tensor.Float64, 3, 2, 3, 3), tensor.ConvParams{})
		}},
		{"transpose size", func() {
			tensor.Conv2dTranspose(tensor.New(tensor.Float64, 1, 3, 3, 3), tensor.New(tensor.Float64, 3, 2, 3, 3), tensor.ConvParams{}, 6, 5)
		}},
		{"weight grad size", func() {
			tensor.Conv2dWeightGrad(x, tensor.New(tensor.Float64, 1, 3, 4, 3), tensor.ConvParams{}, 3, 3)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			c.f()
		})
	}
}
