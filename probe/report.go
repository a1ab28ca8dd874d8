package probe

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/internal/atomicfile"
	"github.com/wakesleep/wakesleep/internal/buildinfo"
)

// Files every study writes into its folder.
const (
	ReportFile = "report.md"
	ResultFile = "result.json"
	IndexFile  = "report.md" // the index in the output folder
)

// Study is the result of one study, ready to be written.
type Study interface {
	// Name is the study's name: its folder and its --study value.
	Name() string
	// Findings are the study's conclusions.
	Findings() []Finding
	// Write writes report.md, result.json, PNG plots and CSV tables into dir.
	Write(dir string) error
}

// WriteIndex writes out/report.md: one row per finding of each study, with
// links to the studies' own reports.
func WriteIndex(out string, studies []Study, command string) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Biological predictions of the paper, tested in simulation (Sec. 4)\n\n")
	if command != "" {
		fmt.Fprintf(&b, "Command: `%s`  \n", command)
	}
	fmt.Fprintf(&b, "Build: %s\n\n", buildinfo.String())
	fmt.Fprintf(&b, "| study | prediction | effect size (interval) | verdict |\n|---|---|---|---|\n")
	for _, s := range studies {
		for _, f := range s.Findings() {
			fmt.Fprintf(&b, "| [%s](%s/%s) | %s | %s | **%s** |\n", s.Name(), s.Name(), ReportFile, f.Prediction, f.Effect, f.Verdict)
		}
	}
	fmt.Fprintf(&b, "\n%s\n", judgingText)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(out, IndexFile), b.Bytes(), 0o644)
}

func mkdir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("probe report: %w", err)
	}
	return nil
}

// writeStudy creates dir and writes the JSON result and the markdown.
func writeStudy(dir string, result any, md []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("probe report: %w", err)
	}
	js, err := json.MarshalIndent(result, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ResultFile), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, ReportFile), md, 0o644)
}

// table accumulates the rows of a CSV file.
type table struct {
	header []string
	rows   [][]string
}

func newTable(header ...string) *table { return &table{header: header} }

// add appends a row; values are formatted with fmtCell.
func (t *table) add(vals ...any) {
	row := make([]string, len(vals))
	for i, v := range vals {
		row[i] = fmtCell(v)
	}
	t.rows = append(t.rows, row)
}

func fmtCell(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', 8, 64)
	case int:
		return strconv.Itoa(x)
	case uint64:
		return strconv.FormatUint(x, 10)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

func (t *table) write(path string) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write(t.header); err != nil {
			return err
		}
		if err := cw.WriteAll(t.rows); err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	})
}

// md helps write markdown tables.
type md struct{ bytes.Buffer }

func (m *md) p(format string, args ...any) { fmt.Fprintf(m, format+"\n\n", args...) }

func (m *md) tableHead(cols ...string) {
	fmt.Fprintf(m, "| %s |\n|%s\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
}

func (m *md) row(cells ...string) { fmt.Fprintf(m, "| %s |\n", strings.Join(cells, " | ")) }

func (m *md) end() { m.WriteString("\n") }

// subjectsTable writes the models under study.
func (m *md) subjectsTable(infos []Info) {
	m.tableHead("model", "algorithm", "γ", "seed", "step", "epochs", "checkpoint")
	for _, s := range infos {
		path := s.Path
		if path == "" {
			path = "(initial weights, rebuilt from the seed)"
		}
		m.row(s.Name, s.Algorithm, fmtG(s.Gamma), strconv.FormatUint(s.Seed, 10), strconv.Itoa(s.Step), fmt.Sprintf("%.2f", s.Epochs()), "`"+path+"`")
	}
	m.end()
}

// heterogeneity notes when the models summarised together are not
// replicates (different algorithm, γ or training length).
func (m *md) heterogeneity(infos []Info) {
	if len(infos) < 2 {
		return
	}
	var diff []string
	a := infos[0]
	for _, b := range infos[1:] {
		if b.Algorithm != a.Algorithm || b.Gamma != a.Gamma {
			diff = append(diff, "algorithm")
			break
		}
	}
	for _, b := range infos[1:] {
		if b.Step != a.Step || b.BatchSize != a.BatchSize {
			diff = append(diff, "training length")
			break
		}
	}
	if len(diff) > 0 {
		m.p("**Note**: these models differ in %s, so the summary over models is not one over seeds of a single configuration.", strings.Join(diff, " and "))
	}
}

// effectsTable writes per-model effects.
func (m *md) effectsTable(effects []Effect, level float64) {
	m.p("Per model, intervals over stimuli (or batches, or unit draws) of that one model: they do not measure the spread between trainings, so they give no verdict.")
	m.tableHead("model", "measure", "layer", "estimate", fmt.Sprintf("%g%% CI", 100*level), "predicted", "this model's CI")
	for _, e := range effects {
		m.row(e.Model, e.Measure, e.Layer, fmtG(e.Interval.Estimate), fmt.Sprintf("[%s, %s]", fmtG(e.Interval.Lo), fmtG(e.Interval.Hi)),
			fmt.Sprintf("%s %g", signWord(e.Sign), e.Null), ciSide(e))
	}
	m.end()
}

func effectsCSV(es []Effect) *table {
	t := newTable("model", "measure", "layer", "estimate", "lo", "hi", "null", "predicted_sign", "ci_side")
	for _, e := range es {
		t.add(e.Model, e.Measure, e.Layer, e.Interval.Estimate, e.Interval.Lo, e.Interval.Hi, e.Null, e.Sign, ciSide(e))
	}
	return t
}

// ciSide says where one model's own interval lies, without a verdict.
func ciSide(e Effect) string {
	switch e.Verdict() {
	case Holds:
		return "predicted side"
	case Fails:
		return "other side"
	}
	return "contains null"
}

func fmtG(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func fmtCI(i Interval) string {
	return fmt.Sprintf("%s [%s, %s]", fmtG(i.Estimate), fmtG(i.Lo), fmtG(i.Hi))
}

// color returns the i-th series colour.
func seriesColor(i int) color.Color { return imaging.DefaultColors[i%len(imaging.DefaultColors)] }

// errorBars returns a series of vertical segments from lo to hi at each x,
// with short caps, broken by NaN.
func errorBars(x, lo, hi []float64, capW float64, c color.Color) imaging.Series {
	var sx, sy []float64
	nan := math.NaN()
	for i := range x {
		sx = append(sx, x[i], x[i], nan, x[i]-capW, x[i]+capW, nan, x[i]-capW, x[i]+capW, nan)
		sy = append(sy, lo[i], hi[i], nan, lo[i], lo[i], nan, hi[i], hi[i], nan)
	}
	return imaging.Series{X: sx, Y: sy, Color: c}
}

// dodge returns x shifted for series k of n that share the same x values,
// by (k − (n−1)/2)·step, so that their error bars stand side by side
// instead of on top of each other.
func dodge(x []float64, k, n int, step float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v + (float64(k)-float64(n-1)/2)*step
	}
	return out
}

// savePanels renders plots side by side into one PNG, on white.
func savePanels(path string, plots ...*imaging.Plot) error {
	imgs := make([]image.Image, len(plots))
	for i, p := range plots {
		im, err := p.Render()
		if err != nil {
			return fmt.Errorf("plot %q: %w", path, err)
		}
		imgs[i] = im
	}
	return imaging.SavePNG(path, imaging.Tile(0, 8, imgs...))
}

// ascii replaces characters the plot font lacks.
func ascii(s string) string {
	r := strings.NewReplacer("‖", "||", "σ", "sigma", "θ", "theta", "γ", "gamma", "→", "->", "−", "-", "≥", ">=", "≤", "<=", "ρ", "rho", "x̂", "xhat", "·", "*")
	return r.Replace(s)
}
