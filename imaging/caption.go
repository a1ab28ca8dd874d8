package imaging

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
)

// Caption is the text around a picture of images (a Grid, a SideBySide, a
// strip of frames) that makes it readable on its own: see Annotate.
type Caption struct {
	Title string // above the picture, wrapped to its width
	// Rows label the picture's rows of images, top to bottom; they are
	// taken to be evenly spaced, as a Grid's are.
	Rows []string
	// Scale magnifies the picture by an integer factor, each pixel a
	// Scale×Scale square, so that 28-pixel digits can be seen (0 or 1:
	// as is).
	Scale int
}

// Annotate returns img magnified by c.Scale, with c.Title above it and the
// row labels c.Rows to its left, each centred on its row, on a white margin.
// The result is gray if img is *image.Gray, RGBA otherwise. Panics if
// c.Scale is negative.
func Annotate(img image.Image, c Caption) image.Image {
	if c.Scale < 0 {
		panic(fmt.Sprintf("imaging: Annotate: scale %d", c.Scale))
	}
	k := max(1, c.Scale)
	b := img.Bounds()
	pw, ph := b.Dx()*k, b.Dy()*k
	const ts = 2 // text scale: 12-pixel capitals
	left := 0
	for _, l := range c.Rows {
		left = max(left, textWidth(l, ts)+16)
	}
	maxW := left + pw - 16
	title := wrapText(c.Title, ts, max(maxW, textWidth("M", ts)))
	top := 0
	if len(title) > 0 {
		top = 10 + len(title)*(textHeight(ts)+6)
	}
	r := image.Rect(0, 0, left+pw, top+ph)
	var dst draw.Image
	if _, ok := img.(*image.Gray); ok {
		dst = image.NewGray(r)
	} else {
		dst = image.NewRGBA(r)
	}
	draw.Draw(dst, r, image.White, image.Point{}, draw.Src)
	for y := range ph {
		for x := range pw {
			dst.Set(left+x, top+y, img.At(b.Min.X+x/k, b.Min.Y+y/k))
		}
	}
	ink := color.Gray{0x20}
	for i, l := range title {
		drawText(dst, max(4, (r.Dx()-textWidth(l, ts))/2), 8+i*(textHeight(ts)+6), l, ts, ink)
	}
	for i, l := range c.Rows {
		cy := top + (2*i+1)*ph/(2*len(c.Rows))
		drawText(dst, left-8-textWidth(l, ts), cy-textHeight(ts)/2, l, ts, ink)
	}
	return dst
}

// Tile lays pictures out in rows of cols (cols ≤ 0: all in one row), gap
// pixels apart on white, each row as high as its tallest picture and each
// column as wide as its widest: e.g. a figure of plot panels.
func Tile(cols, gap int, imgs ...image.Image) *image.RGBA {
	if cols <= 0 || cols > len(imgs) {
		cols = max(1, len(imgs))
	}
	rows := (len(imgs) + cols - 1) / cols
	colW, rowH := make([]int, cols), make([]int, rows)
	for i, im := range imgs {
		colW[i%cols] = max(colW[i%cols], im.Bounds().Dx())
		rowH[i/cols] = max(rowH[i/cols], im.Bounds().Dy())
	}
	w, h := gap*(cols-1), gap*max(0, rows-1)
	for _, v := range colW {
		w += v
	}
	for _, v := range rowH {
		h += v
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), image.White, image.Point{}, draw.Src)
	y := 0
	for r := range rows {
		x := 0
		for c := range cols {
			if i := r*cols + c; i < len(imgs) {
				b := imgs[i].Bounds()
				draw.Draw(dst, image.Rect(x, y, x+b.Dx(), y+b.Dy()), imgs[i], b.Min, draw.Src)
			}
			x += colW[c] + gap
		}
		y += rowH[r] + gap
	}
	return dst
}
