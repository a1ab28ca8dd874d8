package probe

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/tensor"
)

// Images are n grayscale images of Rows×Cols pixels in [0, 1], row-major:
// Pix[i][r*Cols+c].
type Images struct {
	Pix        [][]float64
	Rows, Cols int
}

// N returns the number of images.
func (im *Images) N() int { return len(im.Pix) }

// FromSet returns the first n images of s scaled to [0, 1] (all if n ≤ 0 or
// n > s.N).
func FromSet(s *mnist.Set, n int) *Images {
	if n <= 0 || n > s.N {
		n = s.N
	}
	d := s.Rows * s.Cols
	out := &Images{Rows: s.Rows, Cols: s.Cols, Pix: make([][]float64, n)}
	for i := range out.Pix {
		row := make([]float64, d)
		for j, b := range s.Images[i*d : (i+1)*d] {
			row[j] = float64(b) / 255
		}
		out.Pix[i] = row
	}
	return out
}

// map applies f to every image.
func (im *Images) mapEach(f func([]float64) []float64) *Images {
	out := &Images{Rows: im.Rows, Cols: im.Cols, Pix: make([][]float64, len(im.Pix))}
	for i, p := range im.Pix {
		out.Pix[i] = f(p)
	}
	return out
}

// AddNoise returns the images with independent Gaussian noise of standard
// deviation sigma added to every pixel, clipped to [0, 1]. σ = 0 returns
// copies.
func (im *Images) AddNoise(sigma float64, rng *rand.Rand) *Images {
	return im.mapEach(func(p []float64) []float64 {
		q := make([]float64, len(p))
		for j, v := range p {
			if sigma > 0 {
				v += sigma * rng.NormFloat64()
			}
			q[j] = math.Min(1, math.Max(0, v))
		}
		return q
	})
}

// Rotate returns the images rotated by deg degrees counterclockwise as
// displayed (rows downward), about the image centre ((Cols−1)/2, (Rows−1)/2).
// See RotateImage.
func (im *Images) Rotate(deg float64) *Images {
	return im.mapEach(func(p []float64) []float64 { return RotateImage(p, im.Rows, im.Cols, deg) })
}

// RotateImage rotates one rows×cols image (row-major) by deg degrees
// counterclockwise as displayed, about its centre, with bilinear
// interpolation and zeros outside the source. Each output pixel (x', y'),
// relative to the centre with y pointing down, reads the source at
//
//	x = x'·cos θ − y'·sin θ,   y = x'·sin θ + y'·cos θ
//
// Source coordinates within 1e-9 of an integer are snapped to it, so that
// multiples of 90° on a square image move pixels exactly. Panics if
// len(img) ≠ rows·cols.
func RotateImage(img []float64, rows, cols int, deg float64) []float64 {
	if len(img) != rows*cols {
		panic(fmt.Sprintf("probe: image of %d pixels is not %d×%d", len(img), rows, cols))
	}
	th := deg * math.Pi / 180
	c, s := math.Cos(th), math.Sin(th)
	cx, cy := float64(cols-1)/2, float64(rows-1)/2
	snap := func(v float64) float64 {
		if r := math.Round(v); math.Abs(v-r) < 1e-9 {
			return r
		}
		return v
	}
	at := func(r, col int) float64 {
		if r < 0 || r >= rows || col < 0 || col >= cols {
			return 0
		}
		return img[r*cols+col]
	}
	out := make([]float64, len(img))
	for r := 0; r < rows; r++ {
		for col := 0; col < cols; col++ {
			xo, yo := float64(col)-cx, float64(r)-cy
			xs := snap(xo*c - yo*s + cx)
			ys := snap(xo*s + yo*c + cy)
			x0, y0 := math.Floor(xs), math.Floor(ys)
			fx, fy := xs-x0, ys-y0
			i0, j0 := int(y0), int(x0)
			v := (1-fy)*((1-fx)*at(i0, j0)+fx*at(i0, j0+1)) + fy*((1-fx)*at(i0+1, j0)+fx*at(i0+1, j0+1))
			out[r*cols+col] = v
		}
	}
	return out
}

// MeanSquaredDiff returns the mean squared difference between the images
// of a and b, one value per image (e.g. the energy of added noise).
func MeanSquaredDiff(a, b *Images) []float64 {
	out := make([]float64, a.N())
	for i := range out {
		s := 0.0
		for j, v := range a.Pix[i] {
			d := v - b.Pix[i][j]
			s += d * d
		}
		out[i] = s / float64(len(a.Pix[i]))
	}
	return out
}

// Tensor returns the images as a [N, Rows·Cols] tensor of dtype dt in the
// model's pixel scale (mnist.ScaleUnit: as is; mnist.ScaleSym: 2p − 1).
func (im *Images) Tensor(dt tensor.DType, scale string) *tensor.Tensor {
	d := im.Rows * im.Cols
	t := tensor.New(dt, im.N(), d)
	for i, p := range im.Pix {
		for j, v := range p {
			if scale == mnist.ScaleSym {
				v = 2*v - 1
			}
			t.SetAt(i*d+j, v)
		}
	}
	return t
}
