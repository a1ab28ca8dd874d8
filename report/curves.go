// Package report draws a run folder's training curves (curves.png, from
// metrics.csv) and writes its page, report.html: the curves, the newest
// pictures, the evaluation if there is one, the config and the build, in one
// self-contained file (pictures as data URIs, no script, no network) that
// any browser opens offline. The training loop refreshes both at the end of
// each epoch; `wakesleep report` writes them on demand, and overlays the
// curves of several runs on one page.
package report

import (
	"errors"
	"fmt"
	"image"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/metrics"
)

// Files of a run folder that this package writes, and the log it reads.
const (
	CurvesFile  = "curves.png"
	PageFile    = "report.html"
	MetricsFile = "metrics.csv" // train.MetricsFile
)

// Run is one run's training log.
type Run struct {
	Name  string         // how the legend and the page call it
	Dir   string         // its run folder
	Table *metrics.Table // its metrics.csv
}

// ReadRun reads the metrics.csv of the run folder dir; its name is the
// folder's.
func ReadRun(dir string) (Run, error) {
	t, err := metrics.ReadCSV(filepath.Join(dir, MetricsFile))
	if err != nil {
		return Run{}, err
	}
	if !slices.Contains(t.Columns, metrics.StepColumn) {
		return Run{}, fmt.Errorf("%s: no %q column", filepath.Join(dir, MetricsFile), metrics.StepColumn)
	}
	return Run{Name: filepath.Base(filepath.Clean(dir)), Dir: dir, Table: t}, nil
}

// ErrNoRows is returned when a run's log has no value to plot yet (before
// its first logged step).
var ErrNoRows = errors.New("no logged values to plot yet")

// Panel sizes and layout of the curves picture.
const (
	panelW, panelH = 440, 300
	panelCols      = 4
)

// notPlotted are columns that index rows rather than measure training.
var notPlotted = map[string]bool{metrics.StepColumn: true, "epoch": true}

// termNames describe a column by its term ("critic_x/gp" → "gp", "net/osc_x"
// → "osc"): the y-axis label of its panel.
var termNames = map[string]string{
	"loss":  "total loss",
	"ws":    "wake/sleep objective (Eq. 4)",
	"osc":   "oscillatory objective (Eq. 7)",
	"gp":    "gradient penalty (WGAN-GP)",
	"recon": "reconstruction loss",
	"mse":   "prediction MSE",
}

func describe(col string) string {
	switch {
	case strings.HasPrefix(col, "lr_"):
		return "learning rate"
	case col == "step_time_s":
		return "seconds per step"
	}
	_, term, ok := strings.Cut(col, "/")
	if !ok {
		return ""
	}
	term, _, _ = strings.Cut(term, "_")
	return termNames[term]
}

// Columns are the plotted columns of runs: those of the first run in its
// order, then any the others add, with the learning rates and step time
// last.
func Columns(runs []Run) []string {
	var cols, tail []string
	seen := map[string]bool{}
	for _, r := range runs {
		for _, c := range r.Table.Columns {
			if notPlotted[c] || seen[c] {
				continue
			}
			seen[c] = true
			if strings.HasPrefix(c, "lr_") || c == "step_time_s" {
				tail = append(tail, c)
			} else {
				cols = append(cols, c)
			}
		}
	}
	sort.Strings(tail)
	return append(cols, tail...)
}

// Smooth returns the exponential moving average of v with a span of span
// rows (weight 2/(span+1) on each new value), corrected for its start at
// zero as Adam corrects its moments, so that the first values are not pulled
// toward zero. Values that are NaN or ±Inf are skipped: the average there
// is the one before (NaN until the first finite value).
func Smooth(v []float64, span float64) []float64 {
	a := 2 / (max(span, 1) + 1)
	out := make([]float64, len(v))
	m, w := 0.0, 0.0 // running sum and its weight
	for i, x := range v {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			m = (1-a)*m + a*x
			w = (1-a)*w + a
		}
		out[i] = math.NaN()
		if w > 0 {
			out[i] = m / w
		}
	}
	return out
}

// span is the smoothing span for n rows: a fortieth of the run, so that
// the curve keeps its shape whatever the run's length.
func span(n int) float64 { return max(1, float64(n)/40) }

// CurvesPlots returns a plot per column of runs: every logged value
// against the step, raw (thin and faint) under its moving average (Smooth,
// solid). With one run the first drawable panel's legend tells raw from
// smoothed; with several each run has a colour, named in that legend.
func CurvesPlots(runs []Run) []*imaging.Plot {
	var plots []*imaging.Plot
	legend := true // the next panel with a value gets the legend
	for _, col := range Columns(runs) {
		p := &imaging.Plot{Title: col, XLabel: "training step", YLabel: describe(col), Width: panelW, Height: panelH}
		var raw, smooth []float64
		here := legend && slices.ContainsFunc(runs, func(r Run) bool { return hasFinite(r.Table.Column(col)) })
		for i, r := range runs {
			c := imaging.DefaultColors[i%len(imaging.DefaultColors)]
			y := r.Table.Column(col)
			rawLabel, smoothLabel := "", ""
			switch {
			case here && len(runs) == 1:
				rawLabel, smoothLabel = "raw", fmt.Sprintf("moving average (span %.3g rows)", span(len(y)))
			case here:
				smoothLabel = r.Name
			}
			if y == nil {
				if smoothLabel != "" { // named in the legend all the same
					p.Series = append(p.Series, imaging.Series{Label: smoothLabel, Color: c})
				}
				continue
			}
			x := r.Table.Column(metrics.StepColumn)
			s := Smooth(y, span(len(y)))
			// Raw values first, so that the smoothed curve lies on top.
			rx, ry := envelope(x, y, maxPoints)
			sx, sy := envelope(x, s, maxPoints)
			p.Series = slices.Insert(p.Series, 0, imaging.Series{Label: rawLabel, X: rx, Y: ry, Thin: true, Color: imaging.Faint(c, 0.55)})
			p.Series = append(p.Series, imaging.Series{Label: smoothLabel, X: sx, Y: sy, Color: c})
			raw, smooth = append(raw, y...), append(smooth, s...)
		}
		legend = legend && !here
		p.YLim = yRange(raw, smooth)
		plots = append(plots, p)
	}
	return plots
}

func hasFinite(v []float64) bool {
	return slices.ContainsFunc(v, func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) })
}

// maxPoints is the most points a curve is drawn with: about four a pixel
// of a panel's width; longer logs are thinned by envelope.
const maxPoints = 4 * panelW

// envelope thins a curve of more than most points to most: the rows fall
// into most/2 runs of equal length, and of each run the lowest and the highest
// value are kept in their order, so that spikes still show. Non-finite
// values are kept only where a run has nothing else (a gap stays a gap).
func envelope(x, y []float64, most int) ([]float64, []float64) {
	n := len(y)
	if n <= most {
		return x, y
	}
	runs := most / 2
	ox, oy := make([]float64, 0, most), make([]float64, 0, most)
	for r := range runs {
		i0, i1 := r*n/runs, (r+1)*n/runs
		lo, hi := -1, -1
		for i := i0; i < i1; i++ {
			if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
				continue
			}
			if lo < 0 || y[i] < y[lo] {
				lo = i
			}
			if hi < 0 || y[i] > y[hi] {
				hi = i
			}
		}
		switch {
		case lo < 0:
			ox, oy = append(ox, x[i0]), append(oy, math.NaN())
		case lo == hi:
			ox, oy = append(ox, x[lo]), append(oy, y[lo])
		default:
			a, b := min(lo, hi), max(lo, hi)
			ox, oy = append(ox, x[a], x[b]), append(oy, y[a], y[b])
		}
	}
	return ox, oy
}

// yRange is the y-axis range of a panel: the smoothed values and the middle
// 96% of the raw ones, so that a few spikes do not flatten the curve. Zero
// (the automatic range) for short logs.
func yRange(raw, smooth []float64) [2]float64 {
	finite := func(v []float64) []float64 {
		var out []float64
		for _, x := range v {
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				out = append(out, x)
			}
		}
		sort.Float64s(out)
		return out
	}
	r, s := finite(raw), finite(smooth)
	if len(r) < 50 || len(s) == 0 {
		return [2]float64{}
	}
	q := func(v []float64, p float64) float64 { return v[int(p*float64(len(v)-1))] }
	lo, hi := min(q(r, 0.02), q(s, 0.02)), max(q(r, 0.98), q(s, 0.98))
	if !(hi-lo > 1e-9*max(math.Abs(lo), math.Abs(hi))) { // constant but for rounding
		return [2]float64{}
	}
	m := 0.04 * (hi - lo)
	return [2]float64{lo - m, hi + m}
}

// Curves draws the training curves of runs, a panel per column (see
// CurvesPlots), panelCols to a row. It fails if no run logged a row.
func Curves(runs []Run) (*image.RGBA, error) {
	plots := CurvesPlots(runs)
	var panels []image.Image
	for _, p := range plots {
		// A column with no finite value yet (a term that is NaN from the
		// start) has no panel: the others still show.
		if img, err := p.Render(); err == nil {
			panels = append(panels, img)
		}
	}
	if len(panels) == 0 {
		return nil, ErrNoRows
	}
	return imaging.Tile(panelCols, 0, panels...), nil
}
