package imaging

import (
	"errors"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/png"
	"io"

	"github.com/wakesleep/wakesleep/internal/atomicfile"
)

// SavePNG writes img to path as PNG, atomically (a temporary file in the same
// directory is renamed over path once complete and synced).
func SavePNG(path string, img image.Image) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		return png.Encode(w, img)
	})
}

// SaveGIF writes frames as an animated GIF that loops forever, delay
// hundredths of a second per frame, atomically. Frames that are all
// *image.Gray use a 256-level gray palette (exact); otherwise colours are
// reduced to the Plan 9 palette with Floyd–Steinberg dithering. Frames may
// be smaller than the first, which sets the canvas size.
func SaveGIF(path string, frames []image.Image, delay int) error {
	if len(frames) == 0 {
		return errors.New("imaging: SaveGIF with no frames")
	}
	grays := make(color.Palette, 256)
	for i := range grays {
		grays[i] = color.Gray{uint8(i)}
	}
	pal := color.Palette(palette.Plan9)
	allGray := true
	for _, f := range frames {
		if _, ok := f.(*image.Gray); !ok {
			allGray = false
		}
	}
	anim := &gif.GIF{LoopCount: 0}
	for _, f := range frames {
		b := f.Bounds()
		var p *image.Paletted
		if allGray {
			p = image.NewPaletted(b, grays)
			g := f.(*image.Gray)
			for y := b.Min.Y; y < b.Max.Y; y++ {
				copy(p.Pix[p.PixOffset(b.Min.X, y):p.PixOffset(b.Max.X, y)], g.Pix[g.PixOffset(b.Min.X, y):g.PixOffset(b.Max.X, y)])
			}
		} else {
			p = image.NewPaletted(b, pal)
			draw.FloydSteinberg.Draw(p, b, f, b.Min)
		}
		anim.Image = append(anim.Image, p)
		anim.Delay = append(anim.Delay, delay)
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		return gif.EncodeAll(w, anim)
	})
}

// Paletted returns img as an *image.Paletted if it has at most 256
// colours (a plot's few inks on white), else img itself. A paletted PNG is
// several times smaller and faster to encode than an RGBA one, whose rows
// the encoder filters. Alpha is ignored: plots are opaque.
func Paletted(img *image.RGBA) image.Image {
	b := img.Bounds()
	idx := map[[3]uint8]uint8{}
	var pal color.Palette
	out := image.NewPaletted(b, nil)
	var last [3]uint8
	lastI := -1
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[img.PixOffset(b.Min.X, y):]
		orow := out.Pix[out.PixOffset(b.Min.X, y):]
		for x := range b.Dx() {
			c := [3]uint8{row[4*x], row[4*x+1], row[4*x+2]}
			if lastI < 0 || c != last {
				i, ok := idx[c]
				if !ok {
					if len(pal) == 256 {
						return img
					}
					i = uint8(len(pal))
					idx[c] = i
					pal = append(pal, color.RGBA{c[0], c[1], c[2], 255})
				}
				last, lastI = c, int(i)
			}
			orow[x] = uint8(lastI)
		}
	}
	out.Palette = pal
	return out
}
