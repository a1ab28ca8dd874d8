package imaging

import (
	"flag"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/tensor"
)

var sampleDir = flag.String("sample-dir", "", "also write the sample pictures here, to look at them")

func outPath(t *testing.T, name string) string {
	if *sampleDir != "" {
		os.MkdirAll(*sampleDir, 0o755)
		return filepath.Join(*sampleDir, name)
	}
	return filepath.Join(t.TempDir(), name)
}

func ramp(shape ...int) *tensor.Tensor {
	x := tensor.New(tensor.Float64, shape...)
	for i := range x.Len() {
		x.SetAt(i, float64(i%11)/10)
	}
	return x
}

func TestGridGray(t *testing.T) {
	x := tensor.FromFloat64([]float64{
		0, 1, 0.5, -3, // image 0: 2×2, -3 clamps to 0
		1, 1, 1, 1,
		math.NaN(), 2, 0, 0,
	}, 3, 1, 2, 2)
	img := Grid(x, 2, 1)
	g, ok := img.(*image.Gray)
	if !ok || g.Bounds() != image.Rect(0, 0, 7, 7) {
		t.Fatalf("got %T %v", img, img.Bounds())
	}
	want := map[image.Point]uint8{
		{0, 0}: PadGray, {1, 1}: 0, {2, 1}: 255, {1, 2}: 128, {2, 2}: 0, // image 0
		{4, 1}: 255, {5, 2}: 255, // image 1, column 2
		{1, 4}: 0, {2, 4}: 255, // image 2, row 2 (NaN → 0, 2 → 255)
		{4, 4}: PadGray, {6, 6}: PadGray, // empty cell and border
	}
	for p, v := range want {
		if got := g.GrayAt(p.X, p.Y).Y; got != v {
			t.Errorf("pixel %v = %d, want %d", p, got, v)
		}
	}
	// [N, H, W] is the same picture; cols ≤ 0 picks ⌈√3⌉ = 2.
	g2 := Grid(x.Reshape(3, 2, 2), 0, 1).(*image.Gray)
	if !slices.Equal(g.Pix, g2.Pix) {
		t.Error("[N, H, W] differs from [N, 1, H, W]")
	}
	g3 := GridFloats([][]float64{x.Values()[:4], x.Values()[4:8], x.Values()[8:]}, 2, 2, 2, 1).(*image.Gray)
	if !slices.Equal(g.Pix[:7*4], g3.Pix[:7*4]) {
		t.Error("GridFloats differs from Grid")
	}
}

func TestGridRGB(t *testing.T) {
	x := tensor.New(tensor.Float32, 2, 3, 1, 1) // two 1×1 RGB images
	for i, v := range []float64{1, 0, 0, 0, 0.5, 1} {
		x.SetAt(i, v)
	}
	img := Grid(x, 4, 2)
	r, ok := img.(*image.RGBA)
	if !ok || r.Bounds() != image.Rect(0, 0, 8, 5) {
		t.Fatalf("got %T %v", img, img.Bounds())
	}
	if c := r.RGBAAt(2, 2); c != (color.RGBA{255, 0, 0, 255}) {
		t.Errorf("red pixel %v", c)
	}
	if c := r.RGBAAt(5, 2); c != (color.RGBA{0, 128, 255, 255}) {
		t.Errorf("second pixel %v", c)
	}
	if c := r.RGBAAt(0, 0); c != (color.RGBA{PadGray, PadGray, PadGray, 255}) {
		t.Errorf("pad %v", c)
	}
}

func TestGridPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"rank 2":     func() { Grid(tensor.New(tensor.Float32, 4, 784), 2, 1) },
		"2 channels": func() { Grid(tensor.New(tensor.Float32, 4, 2, 3, 3), 2, 1) },
		"pad":        func() { Grid(tensor.New(tensor.Float32, 1, 3, 3), 2, -1) },
		"mismatch":   func() { SideBySide(tensor.New(tensor.Float32, 2, 3, 3), tensor.New(tensor.Float32, 3, 3, 3), 2, 1) },
		"floats":     func() { GridFloats([][]float64{{1}}, 2, 2, 1, 0) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(r.(string), "imaging: ") {
					t.Errorf("%s: recovered %v", name, r)
				}
			}()
			f()
		}()
	}
}

func TestSideBySide(t *testing.T) {
	in := tensor.Full(tensor.Float64, 1, 3, 2, 2)  // white inputs
	out := tensor.Full(tensor.Float64, 0, 3, 2, 2) // black reconstructions
	g := SideBySide(in, out, 2, 1).(*image.Gray)
	// Row: pad, in, pad, out, 3·pad, in, pad, out, pad = 1+2+1+2+3+2+1+2+1.
	if g.Bounds() != image.Rect(0, 0, 15, 7) {
		t.Fatalf("bounds %v", g.Bounds())
	}
	for _, c := range []struct{ x, v int }{{1, 255}, {4, 0}, {6, PadGray}, {8, PadGray}, {9, 255}, {12, 0}} {
		if got := g.GrayAt(c.x, 1).Y; int(got) != c.v {
			t.Errorf("x=%d: %d, want %d", c.x, got, c.v)
		}
	}
	if got := g.GrayAt(1, 4).Y; got != 255 { // third pair, second row
		t.Errorf("second row input %d", got)
	}
}

func TestHStack(t *testing.T) {
	a := image.NewGray(image.Rect(0, 0, 3, 2))
	b := image.NewRGBA(image.Rect(5, 5, 7, 9))
	b.Set(5, 5, color.RGBA{255, 0, 0, 255})
	s := HStack(4, a, b)
	if s.Bounds() != image.Rect(0, 0, 9, 4) {
		t.Fatalf("bounds %v", s.Bounds())
	}
	if r, g, _, _ := s.At(7, 0).RGBA(); r != 0xffff || g != 0 {
		t.Errorf("moved pixel %v", s.At(7, 0))
	}
	if _, ok := HStack(1, a, a).(*image.Gray); !ok {
		t.Error("gray inputs should give a gray result")
	}
}

func TestSavePNG(t *testing.T) {
	img := Grid(ramp(16, 1, 28, 28), 4, 2)
	p := outPath(t, "grid.png")
	if err := SavePNG(p, img); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(p)
	defer f.Close()
	back, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.(*image.Gray).Pix, img.(*image.Gray).Pix) {
		t.Error("PNG round trip changed pixels")
	}
	if err := SavePNG(filepath.Join(t.TempDir(), "missing", "x.png"), img); err == nil {
		t.Error("missing directory: no error")
	}
	SavePNG(outPath(t, "pairs.png"), SideBySide(ramp(8, 3, 12, 12), ramp(8, 3, 12, 12), 2, 2))
}

func TestSaveGIF(t *testing.T) {
	var frames []image.Image
	for k := range 5 {
		x := tensor.New(tensor.Float64, 4, 1, 8, 8)
		for i := range x.Len() {
			x.SetAt(i, float64((i+k*7)%64)/63)
		}
		frames = append(frames, Grid(x, 2, 1))
	}
	p := outPath(t, "anim.gif")
	if err := SaveGIF(p, frames, 10); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(p)
	defer f.Close()
	g, err := gif.DecodeAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Image) != 5 || g.Delay[0] != 10 || g.LoopCount != 0 {
		t.Fatalf("%d frames, delay %v, loop %d", len(g.Image), g.Delay, g.LoopCount)
	}
	// Gray frames are exact.
	src := frames[3].(*image.Gray)
	for _, pt := range []image.Point{{1, 1}, {5, 3}, {12, 12}} {
		gr, _, _, _ := g.Image[3].At(pt.X, pt.Y).RGBA()
		if uint8(gr>>8) != src.GrayAt(pt.X, pt.Y).Y {
			t.Errorf("pixel %v: %d, want %d", pt, gr>>8, src.GrayAt(pt.X, pt.Y).Y)
		}
	}
	// Colour frames go through the Plan 9 palette.
	rgb := Grid(ramp(4, 3, 8, 8), 2, 1)
	if err := SaveGIF(outPath(t, "anim_rgb.gif"), []image.Image{rgb, rgb}, 20); err != nil {
		t.Fatal(err)
	}
	if err := SaveGIF(outPath(t, "none.gif"), nil, 1); err == nil {
		t.Error("no frames: no error")
	}
}

func TestTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   string
	}{
		{0, 1, "0 0.2 0.4 0.6 0.8 1.0"},
		{-0.03, 10.5, "0 2 4 6 8 10"},
		{-5, 5, "-4 -2 0 2 4"},
		{1000, 61000, "10000 20000 30000 40000 50000 60000"},
		{0, 6e5, "0 1e5 2e5 3e5 4e5 5e5 6e5"},
		{0.0001, 0.0007, "1e-4 2e-4 3e-4 4e-4 5e-4 6e-4 7e-4"},
	} {
		_, labels := linearTicks(tc.lo, tc.hi, 6)
		if got := strings.Join(labels, " "); got != tc.want {
			t.Errorf("linearTicks(%v, %v) = %q, want %q", tc.lo, tc.hi, got, tc.want)
		}
	}
	for _, tc := range []struct {
		lo, hi float64 // log10 units
		want   string
	}{
		{-3.1, 1.2, "0.001 0.01 0.1 1 10"},
		{0.1, 1.9, "2 5 10 20 50"},
		{-12, 12, "1e-12 1e-9 1e-6 0.001 1 1000 1e6 1e9 1e12"},
		{0.1, 0.5, "1.5 2.0 2.5 3.0"},
	} {
		_, labels := logTicks(tc.lo, tc.hi)
		if got := strings.Join(labels, " "); got != tc.want {
			t.Errorf("logTicks(%v, %v) = %q, want %q", tc.lo, tc.hi, got, tc.want)
		}
	}
}

func TestFont(t *testing.T) {
	for c := rune(32); c < 127; c++ {
		if strings.ContainsRune("\\`^{}~@$&", c) {
			continue // not drawn; print '?'
		}
		if !hasGlyph(c) {
			t.Errorf("no glyph for %q", c)
		}
	}
	if textWidth("ab", 2) != 22 || textWidth("", 1) != 0 {
		t.Error("textWidth")
	}
	img := image.NewRGBA(image.Rect(0, 0, 20, 10))
	drawText(img, 0, 0, "I~", 1, color.Black) // '~' falls back to '?'
	if img.RGBAAt(2, 1).A == 0 || img.RGBAAt(6+1, 0).A == 0 {
		t.Error("glyphs not drawn")
	}
}

func TestPlot(t *testing.T) {
	var x, loss, kl, sx, sy []float64
	for i := 1; i <= 200; i++ {
		x = append(x, float64(i*50))
		loss = append(loss, 2+30*math.Exp(-float64(i)/25)+0.3*math.Sin(float64(i)))
		kl = append(kl, 1+8*math.Exp(-float64(i)/60))
	}
	loss[50] = math.NaN() // a gap, not a crash
	p := &Plot{
		Title: "Wake-sleep training", XLabel: "step", YLabel: "loss (nats)",
		Series: []Series{{Label: "reconstruction", X: x, Y: loss}, {Label: "KL(q||p)", X: x, Y: kl}},
	}
	img, err := p.Render()
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != image.Rect(0, 0, 720, 450) {
		t.Errorf("bounds %v", img.Bounds())
	}
	count := func(img *image.RGBA, c color.RGBA) int {
		n := 0
		for i := 0; i < len(img.Pix); i += 4 {
			if img.Pix[i] == c.R && img.Pix[i+1] == c.G && img.Pix[i+2] == c.B {
				n++
			}
		}
		return n
	}
	if count(img, DefaultColors[0]) < 500 || count(img, DefaultColors[1]) < 500 {
		t.Error("series not drawn")
	}
	if err := p.SavePNG(outPath(t, "plot_lines.png")); err != nil {
		t.Fatal(err)
	}

	for i := range 300 {
		v := math.Pow(10, float64(i%60)/10-2)
		sx = append(sx, v)
		sy = append(sy, v*v*(1+0.3*math.Sin(float64(i)*1.7)))
	}
	sx = append(sx, -1, 0) // not drawable on a log axis: left out
	sy = append(sy, 5, 5)
	sp := &Plot{Title: "surprise vs. likelihood", XLabel: "x", YLabel: "y", LogX: true, LogY: true, Width: 500, Height: 400,
		Series: []Series{{Label: "samples", X: sx, Y: sy, Scatter: true}, {X: []float64{0.01, 1e4}, Y: []float64{1e-4, 1e8}, Color: color.Black}}}
	if err := sp.SavePNG(outPath(t, "plot_scatter.png")); err != nil {
		t.Fatal(err)
	}

	for name, bad := range map[string]*Plot{
		"empty":    {},
		"log zero": {LogY: true, Series: []Series{{X: []float64{1, 2}, Y: []float64{0, -1}}}},
		"lengths":  {Series: []Series{{X: []float64{1, 2}, Y: []float64{0}}}},
		"tiny":     {Width: 30, Height: 30, Series: []Series{{X: []float64{1}, Y: []float64{1}}}},
	} {
		if _, err := bad.Render(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// A single point and a constant series still get a sensible axis.
	if _, err := (&Plot{Series: []Series{{X: []float64{3}, Y: []float64{3}}}}).Render(); err != nil {
		t.Error(err)
	}
}

func TestWrapText(t *testing.T) {
	// 6 pixels a character at scale 1: 20 pixels hold 3 characters.
	if got := strings.Join(wrapText("ab cd efghij k", 1, 20), "|"); got != "ab|cd|efghij|k" {
		t.Errorf("wrap = %q", got)
	}
	if got := strings.Join(wrapText("ab cd", 1, 100), "|"); got != "ab cd" {
		t.Errorf("wrap = %q", got)
	}
	if wrapText("", 2, 100) != nil {
		t.Error("empty text gives lines")
	}
}

func TestAnnotate(t *testing.T) {
	grid := Grid(ramp(6, 1, 10, 10), 3, 2) // 2 rows of 3: 38×26
	img := Annotate(grid, Caption{Title: "A title", Rows: []string{"top", "bottom"}, Scale: 3})
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("a gray grid annotated is %T", img)
	}
	left := textWidth("bottom", 2) + 16
	top := 10 + textHeight(2) + 6
	if b := g.Bounds(); b.Dx() != left+3*38 || b.Dy() != top+3*26 {
		t.Fatalf("bounds %v, want %d×%d", b, left+3*38, top+3*26)
	}
	// Magnified: each grid pixel is a 3×3 block.
	src := grid.(*image.Gray)
	for _, p := range []image.Point{{0, 0}, {5, 7}, {37, 25}} {
		want := src.GrayAt(p.X, p.Y).Y
		for d := range 3 {
			if got := g.GrayAt(left+3*p.X+d, top+3*p.Y+2-d).Y; got != want {
				t.Errorf("pixel %v: %d, want %d", p, got, want)
			}
		}
	}
	// Ink in the title band and beside each row, nothing elsewhere in the margin.
	ink := func(r image.Rectangle) int {
		n := 0
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				if g.GrayAt(x, y).Y < 128 {
					n++
				}
			}
		}
		return n
	}
	half := top + 3*26/2
	if ink(image.Rect(0, 0, g.Bounds().Dx(), top)) == 0 || ink(image.Rect(0, top, left, half)) == 0 || ink(image.Rect(0, half, left, g.Bounds().Dy())) == 0 {
		t.Error("title or row labels missing")
	}
	if rgb := Annotate(Grid(ramp(2, 3, 4, 4), 2, 1), Caption{}); rgb.Bounds() != image.Rect(0, 0, 11, 6) {
		t.Errorf("no caption, scale 1: %v, want the grid's 11×6", rgb.Bounds())
	}
	if err := SavePNG(outPath(t, "annotated.png"), img); err != nil {
		t.Fatal(err)
	}
}

func TestTile(t *testing.T) {
	a, b := image.NewRGBA(image.Rect(0, 0, 10, 5)), image.NewRGBA(image.Rect(0, 0, 4, 8))
	if got := Tile(2, 1, a, b, a).Bounds(); got != image.Rect(0, 0, 10+1+4, 8+1+5) {
		t.Errorf("Tile(2) = %v", got)
	}
	if got := Tile(0, 0, a, b).Bounds(); got != image.Rect(0, 0, 14, 8) {
		t.Errorf("Tile(0) = %v", got)
	}
}

func TestPlotTicksLimitsLegend(t *testing.T) {
	// Category ticks replace the numbers; YLim clips a spike.
	p := &Plot{Width: 400, Height: 300, XTicks: []Tick{{0.5, ""}, {1, "alpha"}, {2, "beta"}, {2.5, ""}}, YLim: [2]float64{0, 2},
		Series: []Series{{Label: "data", X: []float64{1, 1.5, 2}, Y: []float64{1, 100, 1}}}}
	if _, err := p.Render(); err != nil {
		t.Fatal(err)
	}
	x, y := &axis{}, &axis{}
	x.fit([]float64{0.5, 2.5})
	if x.lo > 0.5 || x.hi < 2.5 {
		t.Errorf("axis %v..%v does not span the ticks", x.lo, x.hi)
	}
	// A constant series that differs by rounding has a sensible range.
	y.fit([]float64{1e-3, math.Nextafter(1e-3, 1)})
	if y.hi-y.lo < 1e-4 || len(y.ticks) == 0 {
		t.Errorf("constant 1e-3: axis %v..%v, ticks %v", y.lo, y.hi, y.ticks)
	}
	if c := Faint(color.RGBA{0, 100, 200, 255}, 0.5); c != (color.RGBA{128, 178, 228, 255}) {
		t.Errorf("Faint = %v", c)
	}
	// The legend avoids the corner the data fill: a curve through the top
	// right leaves the box elsewhere, and the legend's colour swatch with it.
	var xs, ys []float64
	for i := range 100 {
		xs, ys = append(xs, float64(i)), append(ys, float64(i))
	}
	lp := &Plot{Width: 400, Height: 300, Series: []Series{{Label: "rising", X: xs, Y: ys, Color: color.RGBA{255, 0, 0, 255}}}}
	img, err := lp.Render()
	if err != nil {
		t.Fatal(err)
	}
	gray := color.RGBA{0xa0, 0xa0, 0xa0, 255}
	topLeft := 0
	for yy := 0; yy < 150; yy++ {
		for xx := 0; xx < 200; xx++ {
			if img.RGBAAt(xx, yy) == gray {
				topLeft++
			}
		}
	}
	if topLeft == 0 {
		t.Error("the legend is not in the top left, the corner the rising curve leaves empty")
	}
}

func TestPaletted(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 30, 20))
	for y := range 20 {
		for x := range 30 {
			img.Set(x, y, DefaultColors[(x/10+y/10)%3])
		}
	}
	p, ok := Paletted(img).(*image.Paletted)
	if !ok || len(p.Palette) != 3 {
		t.Fatalf("3 colours: %T", Paletted(img))
	}
	for y := range 20 {
		for x := range 30 {
			if a, b := color.RGBAModel.Convert(p.At(x, y)), img.At(x, y); a != b {
				t.Fatalf("(%d, %d): %v, want %v", x, y, a, b)
			}
		}
	}
	for i := range 300 {
		img.Set(i%30, i/30, color.RGBA{uint8(i), uint8(i >> 8), 7, 255})
	}
	if _, ok := Paletted(img).(*image.RGBA); !ok {
		t.Error("300 colours should stay RGBA")
	}
}
