// Package imaging turns tensors into pictures: image grids, input/reconstruction
// pairs, animated GIFs and small line and scatter plots, all drawn with the
// standard library (image, image/draw, image/png, image/gif) and a built-in
// 5×7 bitmap font. Files are written atomically.
//
// Pixel values are floats in [0, 1]; values outside are clamped and NaN shows
// as 0. Data scaled to [−1, 1] must be mapped with (x+1)/2 first.
package imaging

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/wakesleep/wakesleep/tensor"
)

// PadGray is the gray level of the padding between grid cells: mid gray
// separates white-on-black digits as well as dark-on-light photographs.
const PadGray = 128

// stack is a batch of N images of C channels (1 gray, 3 RGB), H×W pixels,
// stored [N, C, H, W] row-major.
type stack struct {
	n, c, h, w int
	at         func(i int) float64 // flat index into [N, C, H, W]
}

func fromTensor(t *tensor.Tensor, who string) stack {
	s := t.Shape()
	switch len(s) {
	case 3:
		return stack{s[0], 1, s[1], s[2], t.At}
	case 4:
		if s[1] != 1 && s[1] != 3 {
			panic(fmt.Sprintf("imaging: %s: %d channels in shape %v, want 1 or 3", who, s[1], s))
		}
		return stack{s[0], s[1], s[2], s[3], t.At}
	}
	panic(fmt.Sprintf("imaging: %s: shape %v, want [N, C, H, W] or [N, H, W]", who, s))
}

// Grid lays out a batch of images, a tensor [N, C, H, W] (C = 1 for gray,
// 3 for RGB) or [N, H, W] (gray), in rows of cols images, with pad pixels of
// PadGray between cells and around the edge. cols ≤ 0 picks ⌈√N⌉. The result
// is an *image.Gray for one channel and an *image.RGBA for three.
// Panics on any other shape. To show flat MNIST batches [B, 784], reshape
// them first: t.Reshape(-1, 1, 28, 28).
func Grid(t *tensor.Tensor, cols, pad int) image.Image {
	return layout(fromTensor(t, "Grid"), cols, pad, 1, 0)
}

// GridFloats is Grid for gray images given as slices of h*w row-major values.
// Panics if an image has the wrong length.
func GridFloats(images [][]float64, h, w, cols, pad int) image.Image {
	for i, im := range images {
		if len(im) != h*w {
			panic(fmt.Sprintf("imaging: GridFloats: image %d has %d values, want %d×%d", i, len(im), h, w))
		}
	}
	s := stack{len(images), 1, h, w, func(i int) float64 {
		return images[i/(h*w)][i%(h*w)]
	}}
	return layout(s, cols, pad, 1, 0)
}

// SideBySide pairs each input with its reconstruction: inputs[i] and
// recons[i] sit next to each other (pad pixels apart), cols pairs to a row,
// and neighbouring pairs are 3·pad apart so the pairing is visible. Both
// tensors must have the same shape, as for Grid; cols ≤ 0 picks ⌈√N⌉.
func SideBySide(inputs, recons *tensor.Tensor, cols, pad int) image.Image {
	a, b := fromTensor(inputs, "SideBySide"), fromTensor(recons, "SideBySide")
	if !tensor.SameShape(inputs.Shape(), recons.Shape()) {
		panic(fmt.Sprintf("imaging: SideBySide: shapes %v and %v differ", inputs.Shape(), recons.Shape()))
	}
	per := a.c * a.h * a.w
	both := stack{2 * a.n, a.c, a.h, a.w, func(i int) float64 {
		k, off := i/per, i%per // image k of the interleaved stack
		if k%2 == 0 {
			return a.at(k/2*per + off)
		}
		return b.at(k/2*per + off)
	}}
	if cols <= 0 {
		cols = int(math.Ceil(math.Sqrt(float64(a.n))))
	}
	return layout(both, 2*cols, pad, 2, 2*pad)
}

// layout draws s in a grid of cols columns. Every group-th column boundary
// gets extra pixels on top of pad.
func layout(s stack, cols, pad, group, extra int) image.Image {
	if pad < 0 {
		panic(fmt.Sprintf("imaging: negative padding %d", pad))
	}
	if cols <= 0 {
		cols = int(math.Ceil(math.Sqrt(float64(s.n))))
	}
	cols = max(1, min(cols, s.n))
	rows := (s.n + cols - 1) / cols
	colX := func(j int) int { return pad + j*(s.w+pad) + (j/group)*extra }
	width := colX(cols-1) + s.w + pad
	height := pad + rows*(s.h+pad)
	if s.n == 0 {
		width, height = 2*pad, 2*pad
	}
	r := image.Rect(0, 0, width, height)
	var gray *image.Gray
	var rgba *image.RGBA
	if s.c == 1 {
		gray = image.NewGray(r)
		for i := range gray.Pix {
			gray.Pix[i] = PadGray
		}
	} else {
		rgba = image.NewRGBA(r)
		for i := range rgba.Pix {
			rgba.Pix[i] = PadGray
			if i%4 == 3 {
				rgba.Pix[i] = 255
			}
		}
	}
	plane := s.h * s.w
	for k := range s.n {
		x0, y0 := colX(k%cols), pad+(k/cols)*(s.h+pad)
		base := k * s.c * plane
		for y := range s.h {
			for x := range s.w {
				p := base + y*s.w + x
				if gray != nil {
					gray.Pix[gray.PixOffset(x0+x, y0+y)] = level(s.at(p))
					continue
				}
				o := rgba.PixOffset(x0+x, y0+y)
				rgba.Pix[o+0] = level(s.at(p))
				rgba.Pix[o+1] = level(s.at(p + plane))
				rgba.Pix[o+2] = level(s.at(p + 2*plane))
			}
		}
	}
	if gray != nil {
		return gray
	}
	return rgba
}

// level maps [0, 1] to 0..255, clamping, with NaN as 0.
func level(v float64) uint8 {
	if !(v > 0) { // also NaN
		return 0
	}
	if v >= 1 {
		return 255
	}
	return uint8(v*255 + 0.5)
}

// HStack places images left to right, top-aligned, gap pixels of PadGray
// apart: e.g. a grid of inputs and a grid of reconstructions. The result is
// gray if every image is *image.Gray, RGBA otherwise.
func HStack(gap int, imgs ...image.Image) image.Image {
	w, h, allGray := 0, 0, true
	for i, im := range imgs {
		b := im.Bounds()
		if i > 0 {
			w += gap
		}
		w += b.Dx()
		h = max(h, b.Dy())
		if _, ok := im.(*image.Gray); !ok {
			allGray = false
		}
	}
	r := image.Rect(0, 0, w, h)
	var dst interface {
		image.Image
		Set(x, y int, c color.Color)
	}
	if allGray {
		dst = image.NewGray(r)
	} else {
		dst = image.NewRGBA(r)
	}
	bg := color.Gray{PadGray}
	for y := range h {
		for x := range w {
			dst.Set(x, y, bg)
		}
	}
	x := 0
	for _, im := range imgs {
		b := im.Bounds()
		for yy := b.Min.Y; yy < b.Max.Y; yy++ {
			for xx := b.Min.X; xx < b.Max.X; xx++ {
				dst.Set(x+xx-b.Min.X, yy-b.Min.Y, im.At(xx, yy))
			}
		}
		x += b.Dx() + gap
	}
	return dst
}
