package imaging

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"strconv"
	"strings"
)

// DefaultColors are the series colours in order (the familiar "tab10" hues).
var DefaultColors = []color.RGBA{
	{0x1f, 0x77, 0xb4, 255}, {0xff, 0x7f, 0x0e, 255}, {0x2c, 0xa0, 0x2c, 255},
	{0xd6, 0x27, 0x28, 255}, {0x94, 0x67, 0xbd, 255}, {0x8c, 0x56, 0x4b, 255},
	{0xe3, 0x77, 0xc2, 255}, {0x7f, 0x7f, 0x7f, 255}, {0xbc, 0xbd, 0x22, 255},
	{0x17, 0xbe, 0xcf, 255},
}

// Series is one curve or point cloud of a Plot.
type Series struct {
	Label   string // shown in the legend; empty for none
	X, Y    []float64
	Scatter bool        // draw points as dots instead of joining them by lines
	Thin    bool        // a 1-pixel line (e.g. faint raw values under a smoothed curve)
	Color   color.Color // nil: the next of DefaultColors
}

// Tick is a labelled position on an axis.
type Tick struct {
	Value float64
	Label string
}

// Faint returns c mixed with white, frac of the way (0: c, 1: white): the
// colour of raw values drawn under their smoothed curve.
func Faint(c color.Color, frac float64) color.RGBA {
	r, g, b, _ := c.RGBA()
	mix := func(v uint32) uint8 { return uint8(math.Round(float64(v>>8)*(1-frac) + 255*frac)) }
	return color.RGBA{mix(r), mix(g), mix(b), 255}
}

// Plot is a small line and scatter plot with axes, ticks, tick labels, grid
// lines, a title, axis labels and a legend. Points that are NaN or ±Inf, or
// not positive on a log axis, are left out (and break a line). A title too
// wide for the plot is wrapped at spaces; the legend goes into the corner of
// the plot area that hides the fewest points.
type Plot struct {
	Title, XLabel, YLabel string
	Width, Height         int  // pixels; zero means 720×450
	LogX, LogY            bool // base-10 logarithmic axes
	// XTicks, if set, replace the x-axis ticks: e.g. one per category of a
	// scatter over named models. The axis spans them and the data; a tick
	// without a label only widens the axis.
	XTicks []Tick
	// YLim, if YLim[0] < YLim[1], is the y-axis range (e.g. to keep a
	// few outliers from flattening a curve); what lies outside is clipped.
	YLim   [2]float64
	Series []Series
}

// SavePNG renders p and writes it to path atomically.
func (p *Plot) SavePNG(path string) error {
	img, err := p.Render()
	if err != nil {
		return fmt.Errorf("plot %q: %w", path, err)
	}
	return SavePNG(path, img)
}

// axis maps data values to pixels along one direction.
type axis struct {
	log        bool
	lo, hi     float64 // in transformed units (log10 for a log axis)
	p0, p1     int     // pixel positions of lo and hi
	ticks      []float64
	tickLabels []string
}

func (a *axis) tr(v float64) float64 {
	if a.log {
		return math.Log10(v)
	}
	return v
}

func (a *axis) ok(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && (!a.log || v > 0)
}

func (a *axis) pix(v float64) float64 {
	return float64(a.p0) + (a.tr(v)-a.lo)/(a.hi-a.lo)*float64(a.p1-a.p0)
}

// fit sets lo, hi and the ticks from the data values vs.
func (a *axis) fit(vs []float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		if a.ok(v) {
			t := a.tr(v)
			lo, hi = math.Min(lo, t), math.Max(hi, t)
		}
	}
	// Equal to rounding (a constant curve and its float average differ in
	// the last bits): one value, or the ticks would need ~1e13 steps.
	if hi-lo <= 1e-9*math.Max(math.Abs(lo), math.Abs(hi)) {
		lo = (lo + hi) / 2
		hi = lo
	}
	if lo == hi {
		d := 0.5 // half a decade on a log axis
		if !a.log {
			d = math.Abs(lo) * 0.1 // a constant learning rate of 1e-3 is not a line at 0
			if d == 0 {
				d = 1
			}
		}
		lo, hi = lo-d, hi+d
	} else {
		m := 0.04 * (hi - lo)
		lo, hi = lo-m, hi+m
	}
	a.lo, a.hi = lo, hi
	if a.log {
		a.ticks, a.tickLabels = logTicks(lo, hi)
	} else {
		a.ticks, a.tickLabels = linearTicks(lo, hi, 6)
	}
}

// linearTicks returns about target "nice" ticks (1, 2 or 5 times a power of
// ten apart) within [lo, hi], with labels.
func linearTicks(lo, hi float64, target int) ([]float64, []string) {
	raw := (hi - lo) / float64(target)
	if !(raw > 1e-12*math.Max(math.Abs(lo), math.Abs(hi))) {
		return nil, nil // a range of rounding errors: no ticks rather than 1e13
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []float64
	var labels []string
	for k := math.Ceil(lo / step); k*step <= hi+1e-9*step; k++ {
		v := k * step
		if math.Abs(v) < 1e-9*step {
			v = 0
		}
		ticks = append(ticks, v)
		labels = append(labels, formatTick(v, step))
	}
	return ticks, labels
}

// logTicks returns ticks for a log axis spanning log10 values [lo, hi]:
// powers of ten (thinned if there are many), with 2 and 5 multiples added
// when few decades show, or linear ticks when less than one decade shows.
func logTicks(lo, hi float64) ([]float64, []string) {
	first, last := int(math.Ceil(lo-1e-9)), int(math.Floor(hi+1e-9))
	if last < first {
		return linearTicks(math.Pow(10, lo), math.Pow(10, hi), 4)
	}
	every := max(1, (last-first+1+8)/9) // at most 9 labelled powers
	var ticks []float64
	var labels []string
	mults := []float64{1}
	if last-first < 2 {
		mults = []float64{1, 2, 5}
	}
	for e := first - 1; e <= last; e++ {
		for _, m := range mults {
			v := m * math.Pow(10, float64(e))
			lv := math.Log10(v)
			if lv < lo-1e-9 || lv > hi+1e-9 || (m == 1 && (e-first)%every != 0) {
				continue
			}
			ticks = append(ticks, v)
			labels = append(labels, formatTick(v, v))
		}
	}
	return ticks, labels
}

// formatTick writes v with as many decimals as the tick spacing step needs,
// switching to exponent form ("1e-5", "2.5e6") for very large or small values.
func formatTick(v, step float64) string {
	if v == 0 {
		return "0"
	}
	if a := math.Abs(v); a >= 1e5 || a < 1e-3 {
		// As many significant digits as the step resolves: "3e-4", "2.5e6".
		prec := max(0, int(math.Floor(math.Log10(a)+1e-9)-math.Floor(math.Log10(step)+1e-9)))
		mant, exp, _ := strings.Cut(strconv.FormatFloat(v, 'e', prec, 64), "e")
		e, _ := strconv.Atoi(exp) // drops the '+' and leading zeros
		return mant + "e" + strconv.Itoa(e)
	}
	dec := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	return strconv.FormatFloat(v, 'f', dec, 64)
}

var (
	black     = color.RGBA{0, 0, 0, 255}
	gridColor = color.RGBA{0xe4, 0xe4, 0xe4, 255}
	textColor = color.RGBA{0x20, 0x20, 0x20, 255}
)

// Render draws the plot. It fails if no series has a drawable point.
func (p *Plot) Render() (*image.RGBA, error) {
	w, h := p.Width, p.Height
	if w == 0 {
		w = 720
	}
	if h == 0 {
		h = 450
	}
	x := &axis{log: p.LogX}
	y := &axis{log: p.LogY}
	var xs, ys []float64
	n := 0
	for _, s := range p.Series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("series %q has %d x and %d y values", s.Label, len(s.X), len(s.Y))
		}
		for i := range s.X {
			if x.ok(s.X[i]) && y.ok(s.Y[i]) {
				xs, ys = append(xs, s.X[i]), append(ys, s.Y[i])
				n++
			}
		}
	}
	if n == 0 {
		return nil, errors.New("nothing to plot: no finite points (positive on log axes)")
	}
	for _, t := range p.XTicks {
		if x.ok(t.Value) {
			xs = append(xs, t.Value)
		}
	}
	x.fit(xs)
	if len(p.XTicks) > 0 {
		x.ticks, x.tickLabels = nil, nil
		for _, t := range p.XTicks {
			if x.ok(t.Value) && t.Label != "" {
				x.ticks, x.tickLabels = append(x.ticks, t.Value), append(x.tickLabels, t.Label)
			}
		}
	}
	if lo, hi := p.YLim[0], p.YLim[1]; lo < hi && y.ok(lo) && y.ok(hi) {
		y.fit([]float64{lo, hi})
		y.lo, y.hi = y.tr(lo), y.tr(hi)
	} else {
		y.fit(ys)
	}

	const s1, s2 = 1, 2 // text scales: ticks and legend, title and labels
	tickW := 0
	for _, l := range y.tickLabels {
		tickW = max(tickW, textWidth(l, s1))
	}
	title := wrapText(p.Title, s2, w-16)
	top := 12 + len(title)*(textHeight(s2)+6)
	if len(title) > 0 {
		top += 6
	}
	top += 4 // room for the top tick label
	bottom := 12 + 6 + textHeight(s1) + 8
	if p.XLabel != "" {
		bottom += textHeight(s2) + 10
	}
	// The y label runs up the left side, at the labels' scale if it fits
	// the plot's height, else smaller and wrapped.
	ylScale, ylLines := s2, []string(nil)
	if p.YLabel != "" {
		if textWidth(p.YLabel, s2) > h-top-bottom {
			ylScale = s1
		}
		ylLines = wrapText(p.YLabel, ylScale, h-top-bottom)
	}
	left := 12 + tickW + 8
	if len(ylLines) > 0 {
		left += len(ylLines)*(textHeight(ylScale)+6) + 4
	}
	right := 24
	area := image.Rect(left, top, w-right, h-bottom)
	if area.Dx() < 20 || area.Dy() < 20 {
		return nil, fmt.Errorf("plot size %d×%d is too small", w, h)
	}
	x.p0, x.p1 = area.Min.X, area.Max.X-1
	y.p0, y.p1 = area.Max.Y-1, area.Min.Y

	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)

	// Grid lines, tick marks and tick labels.
	for i, t := range x.ticks {
		px := int(math.Round(x.pix(t)))
		vline(img, px, area.Min.Y, area.Max.Y-1, gridColor)
		vline(img, px, area.Max.Y, area.Max.Y+4, black)
		l := x.tickLabels[i]
		drawText(img, px-textWidth(l, s1)/2, area.Max.Y+8, l, s1, textColor)
	}
	for i, t := range y.ticks {
		py := int(math.Round(y.pix(t)))
		hline(img, area.Min.X, area.Max.X-1, py, gridColor)
		hline(img, area.Min.X-5, area.Min.X-1, py, black)
		l := y.tickLabels[i]
		drawText(img, area.Min.X-8-textWidth(l, s1), py-textHeight(s1)/2, l, s1, textColor)
	}

	// Data, clipped to the plot area.
	clip := area
	for k, s := range p.Series {
		c := s.Color
		if c == nil {
			c = DefaultColors[k%len(DefaultColors)]
		}
		prevOK := false
		var px0, py0 float64
		for i := range s.X {
			if !x.ok(s.X[i]) || !y.ok(s.Y[i]) {
				prevOK = false
				continue
			}
			px, py := x.pix(s.X[i]), y.pix(s.Y[i])
			if s.Scatter {
				dot(img, clip, int(math.Round(px)), int(math.Round(py)), 2, c)
			} else if prevOK {
				line(img, clip, px0, py0, px, py, !s.Thin, c)
			} else if i+1 == len(s.X) || !x.ok(s.X[i+1]) || !y.ok(s.Y[i+1]) {
				dot(img, clip, int(math.Round(px)), int(math.Round(py)), 1, c) // isolated point
			}
			px0, py0, prevOK = px, py, true
		}
	}

	// Frame, title, axis labels, legend.
	hline(img, area.Min.X-1, area.Max.X, area.Min.Y-1, black)
	hline(img, area.Min.X-1, area.Max.X, area.Max.Y, black)
	vline(img, area.Min.X-1, area.Min.Y-1, area.Max.Y, black)
	vline(img, area.Max.X, area.Min.Y-1, area.Max.Y, black)
	for i, l := range title {
		drawText(img, max(4, (w-textWidth(l, s2))/2), 12+i*(textHeight(s2)+6), l, s2, textColor)
	}
	for i, l := range ylLines {
		cy := area.Min.Y + (area.Dy()+textWidth(l, ylScale))/2 // bottom end of the line of text
		drawTextUp(img, 10+i*(textHeight(ylScale)+6), cy, l, ylScale, textColor)
	}
	if p.XLabel != "" {
		drawText(img, area.Min.X+(area.Dx()-textWidth(p.XLabel, s2))/2, h-10-textHeight(s2), p.XLabel, s2, textColor)
	}
	p.legend(img, area, s1, x, y)
	return img, nil
}

func (p *Plot) legend(img *image.RGBA, area image.Rectangle, scale int, x, y *axis) {
	var labels []string
	var colors []color.Color
	var scatter []bool
	for k, s := range p.Series {
		if s.Label == "" {
			continue
		}
		c := s.Color
		if c == nil {
			c = DefaultColors[k%len(DefaultColors)]
		}
		labels, colors, scatter = append(labels, s.Label), append(colors, c), append(scatter, s.Scatter)
	}
	if len(labels) == 0 {
		return
	}
	lineH := textHeight(scale) + 2*scale + 4
	tw := 0
	for _, l := range labels {
		tw = max(tw, textWidth(l, scale))
	}
	bw, bh := tw+34, 4+len(labels)*lineH
	// The corner whose box covers the fewest points (top right on a tie).
	var box image.Rectangle
	best := -1
	for _, corner := range []image.Point{
		{area.Max.X - 6 - bw, area.Min.Y + 6}, {area.Min.X + 6, area.Min.Y + 6},
		{area.Max.X - 6 - bw, area.Max.Y - 6 - bh}, {area.Min.X + 6, area.Max.Y - 6 - bh},
	} {
		b := image.Rect(corner.X, corner.Y, corner.X+bw, corner.Y+bh)
		n := 0
		for _, s := range p.Series {
			for i := range s.X {
				if x.ok(s.X[i]) && y.ok(s.Y[i]) && image.Pt(int(x.pix(s.X[i])), int(y.pix(s.Y[i]))).In(b) {
					n++
				}
			}
		}
		if best < 0 || n < best {
			box, best = b, n
		}
	}
	draw.Draw(img, box, image.White, image.Point{}, draw.Src)
	gray := color.RGBA{0xa0, 0xa0, 0xa0, 255}
	hline(img, box.Min.X, box.Max.X, box.Min.Y, gray)
	hline(img, box.Min.X, box.Max.X, box.Max.Y, gray)
	vline(img, box.Min.X, box.Min.Y, box.Max.Y, gray)
	vline(img, box.Max.X, box.Min.Y, box.Max.Y, gray)
	for i, l := range labels {
		ty := box.Min.Y + 5 + i*lineH
		cy := ty + textHeight(scale)/2
		if scatter[i] {
			dot(img, box, box.Min.X+14, cy, 2, colors[i])
		} else {
			line(img, box, float64(box.Min.X+6), float64(cy), float64(box.Min.X+22), float64(cy), true, colors[i])
		}
		drawText(img, box.Min.X+28, ty, l, scale, textColor)
	}
}

func hline(img *image.RGBA, x0, x1, y int, c color.Color) {
	for x := x0; x <= x1; x++ {
		img.Set(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.Color) {
	for y := y0; y <= y1; y++ {
		img.Set(x, y, c)
	}
}

// dot draws a filled disc of radius r, clipped to clip.
func dot(img *image.RGBA, clip image.Rectangle, cx, cy, r int, c color.Color) {
	for dy := -r; dy <= r; dy++ {
		for dx := -r; dx <= r; dx++ {
			if dx*dx+dy*dy <= r*r+r/2 && image.Pt(cx+dx, cy+dy).In(clip) {
				img.Set(cx+dx, cy+dy, c)
			}
		}
	}
}

// line draws a segment 2 pixels wide (thick) or 1, clipped to clip, by
// stepping along the longer axis (a DDA; enough for plots).
func line(img *image.RGBA, clip image.Rectangle, x0, y0, x1, y1 float64, thick bool, c color.Color) {
	pen := []image.Point{{0, 0}, {1, 0}, {0, 1}, {1, 1}}
	if !thick {
		pen = pen[:1]
	}
	steps := int(math.Ceil(math.Max(math.Abs(x1-x0), math.Abs(y1-y0))))
	if steps > 1<<16 { // far outside the picture: skip rather than loop long
		return
	}
	for i := 0; i <= steps; i++ {
		t := 0.0
		if steps > 0 {
			t = float64(i) / float64(steps)
		}
		x := int(math.Round(x0 + t*(x1-x0)))
		y := int(math.Round(y0 + t*(y1-y0)))
		for _, d := range pen {
			if q := image.Pt(x+d.X, y+d.Y); q.In(clip) {
				img.Set(q.X, q.Y, c)
			}
		}
	}
}
