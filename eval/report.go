package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/wakesleep/wakesleep/internal/regular"
	"image/color"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/internal/atomicfile"
)

// Files Write puts in a report folder.
const (
	ReportFile     = "report.md"
	ResultFile     = "eval.json"
	AlignmentPlot  = "alignment.png"
	HistogramPlot  = "sleep-class-histogram.png"
	ReportDir      = "eval" // the report folder inside a run folder
	EpochHistory   = "epochs.csv"
	resultFileMode = 0o644
)

// Write writes the report of r into dir (created if needed): report.md,
// eval.json, alignment.png (Fig. 3D, the first alignment), one
// alignment-<X>x<Z>z.png per further alignment, and sleep-class-histogram.png.
func Write(dir string, r *Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("eval report: %w", err)
	}
	r.stamp()
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ResultFile), append(js, '\n'), resultFileMode); err != nil {
		return err
	}
	for i, a := range r.Alignments {
		if err := alignmentPlot(a).SavePNG(filepath.Join(dir, alignmentPlotName(i, a))); err != nil {
			return err
		}
	}
	if err := histogramPlot(r).SavePNG(filepath.Join(dir, HistogramPlot)); err != nil {
		return err
	}
	var md bytes.Buffer
	writeMarkdown(&md, r)
	return atomicfile.WriteFile(filepath.Join(dir, ReportFile), md.Bytes(), resultFileMode)
}

// ReadResult reads an eval.json, or the eval.json of a report folder, or of
// the report folder (eval/) of a run folder.
func ReadResult(path string) (*Result, string, error) {
	candidates := []string{path}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		candidates = []string{filepath.Join(path, ResultFile), filepath.Join(path, ReportDir, ResultFile)}
	}
	for _, p := range candidates {
		b, err := regular.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, p, err
		}
		var r Result
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, p, fmt.Errorf("read %q: %w", p, err)
		}
		if len(r.Alignments) == 0 {
			return nil, p, fmt.Errorf("read %q: no alignments: not a wakesleep eval.json", p)
		}
		return &r, p, nil
	}
	return nil, path, fmt.Errorf("no %s in %q or %q (run `wakesleep eval --checkpoint %s` first)",
		ResultFile, path, filepath.Join(path, ReportDir), path)
}

func pm(s Stat) string { return fmt.Sprintf("%.3f ± %.3f", s.Mean, s.Std) }

// alignmentPlotName is AlignmentPlot for the first alignment and
// alignment-<X>x<Z>z.png for the others.
func alignmentPlotName(i int, a *AlignmentResult) string {
	if i == 0 {
		return AlignmentPlot
	}
	return fmt.Sprintf("alignment-%dx%dz.png", a.Options.XUnits, a.Options.ZUnits)
}

func writeMarkdown(w io.Writer, r *Result) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# Evaluation\n\n")
	p("| | |\n|---|---|\n")
	if r.Checkpoint != "" {
		p("| checkpoint | `%s` |\n", r.Checkpoint)
	} else {
		p("| checkpoint | (evaluated during training) |\n")
	}
	p("| step (epoch) | %d (%d) |\n", r.Step, r.Epoch)
	p("| algorithm | %s, γ = %g |\n", r.Algorithm, r.Gamma)
	p("| pixel scale | %s |\n", r.PixelScale)
	p("| samples | N = %d wake (the first %d MNIST test digits) and %d sleep; model noise seed %d |\n", r.N, r.N, r.N, r.Seed)
	p("| classifier | %s (test accuracy %.4f when saved) |\n", r.Classifier, r.ClassifierTest)
	p("| evaluated | %s |\n", r.Time.Format("2006-01-02 15:04 UTC"))
	r.Provenance.rows(w)
	p("\n")

	p("## Wake/sleep alignment (Fig. 3D, after Berkes et al. 2011)\n\n")
	a0 := r.Alignments[0]
	p("Activity is quantized by rounding x (in the model's %s pixel scale) and z to the nearest integer. ", r.PixelScale)
	p("Wake: x = test digit, z ~ q(z|x); sleep: z ~ N(0, I), x ~ p(x|z). ")
	p("Each phase's samples are split at random into halves W₁, W₂ and S₁, S₂ of %d samples each, so that every KL compares two samples of the same size and the control is the floor the estimator shows for two samples of one distribution. ", a0.HalfN)
	p("Each draw picks units of x and of z without replacement; ")
	if a0.Options.Choice == UnitsActive {
		p("x units come from the %d pixels whose quantized wake value differs from its most common value in at least %.0f%% of the test digits (the others are background in nearly every digit), z units from all of z. ", a0.EligibleX, 100*a0.Options.MinActive)
	} else {
		p("x units come uniformly from all %d pixels, z units from all of z. ", a0.EligibleX)
	}
	p("Patterns over the chosen units are counted in each half; KL is in bits between the empirical distributions with additive smoothing α over the K patterns observed in either half: P̂(k) = (n_k + α)/(N + αK).\n\n")
	p("How to read it: equal distributions give KL(wake‖sleep) within the spread of the control; the further above, the worse the alignment. ")
	p("The missing mass (Good–Turing: the fraction of a half's samples whose pattern occurs once there) says how much the histograms can resolve: near 1, nearly every pattern is new, and even disjoint distributions would score at the control's level. ")
	p("The paper's 16 units (8 of x, 8 of z) are in that regime for latents near N(0, I), whose rounded units carry about 2 bits each; the coarser alignment below uses fewer units, whose patterns the samples cover.\n\n")
	for i, a := range r.Alignments {
		o := a.Options
		title := "paper's setting"
		if i > 0 {
			title = "fewer units"
		}
		p("### %d units of x and %d of z (%s)\n\n", o.XUnits, o.ZUnits, title)
		p("![wake vs sleep pattern frequencies, %s](%s)\n\n", o.Label(), alignmentPlotName(i, a))
		p("| quantity | bits (mean ± std over %d draws, seed %d, α = %g) | definition |\n|---|---|---|\n", o.Draws, o.Seed, o.Alpha)
		p("| KL(wake‖sleep) | %s | ½[KL(W₁‖S₁) + KL(W₂‖S₂)] |\n", pm(a.WakeSleep))
		p("| KL(sleep‖wake) | %s | ½[KL(S₁‖W₁) + KL(S₂‖W₂)] |\n", pm(a.SleepWake))
		p("| control: wake vs wake | %s | ½[KL(W₁‖W₂) + KL(W₂‖W₁)]: the noise floor |\n", pm(a.Control))
		p("| control: sleep vs sleep | %s | ½[KL(S₁‖S₂) + KL(S₂‖S₁)] |\n", pm(a.SleepControl))
		p("| missing mass, wake / sleep | %.3f / %.3f | fraction of a half's samples whose pattern occurs once there (mean over halves and draws) |\n", a.WakeMissing.Mean, a.SleepMissing.Mean)
		p("| positive control: x–z pairing shuffled | %s | ½[KL(W₁‖W₂′) + KL(W₂′‖W₁)], W₂′ = W₂ with z rows permuted against x: far above the control, the estimator sees x–z joint structure |\n", pm(a.PairShuffle))
		p("| positive control: independent units | %s | the same with every unit of W₂ permuted on its own (product of marginals) |\n", pm(a.IndepShuffle))
		p("| information of the drawn latents | %s | plug-in I(x units; z units) in wake, minus its value with z permuted (the bias) |\n", pm(a.Information))
		if a.HasOther {
			p("| specificity: other stimuli vs sleep | %s | ½[KL(O₁‖S₁) + KL(O₂‖S₂)], wake activity on another stimulus set: above KL(wake‖sleep) if sleep matches the trained data specifically |\n", pm(a.Other))
		}
		if o.Permutations > 0 {
			p("| permutation null: z-score / p | %s / %s | KL(W₁‖S₁) against %d random splits of W₁ ∪ S₁ (mean ± std over draws) |\n", pm(a.PermZ), pm(a.PermP), o.Permutations)
		}
		resolved := "yes"
		if !a.Resolved() {
			resolved = fmt.Sprintf("**no**: missing mass ≥ %g, disjoint and identical distributions give the same KL here", MaxMissingMass)
		}
		p("| resolved | %s | missing mass of both phases below %g |\n\n", resolved, MaxMissingMass)
		p("| draw | x units | z units | KL(w‖s) | KL(s‖w) | control | sleep control | distinct patterns wake / sleep | missing mass wake / sleep |\n|---|---|---|---|---|---|---|---|---|\n")
		for k, d := range a.Draws {
			p("| %d | %v | %v | %.3f | %.3f | %.3f | %.3f | %d / %d | %.2f / %.2f |\n", k+1, d.XUnits, d.ZUnits, d.WakeSleep, d.SleepWake, d.Control, d.SleepControl, d.WakePatterns, d.SleepPatterns, d.WakeMissing, d.SleepMissing)
		}
		p("\n")
	}
	p("Each figure shows draw 1: the frequency of each pattern in W₁ against its frequency in S₁ (blue) and in W₂ (gray, the control), on log axes; patterns absent from one side sit on the dashed floor at half a count (%s). Points on the diagonal mean equal frequencies; each point is jittered by up to ±12%% so that coinciding points show.\n\n", fmtFloor(a0.HalfN))

	rc := r.Reconstruction
	p("## Reconstructions and samples, judged by an MNIST classifier\n\n")
	p("| quantity | value | definition |\n|---|---|---|\n")
	p("| reconstruction class agreement | %.4f | fraction of the %d test digits whose reconstruction x̂ ~ p(x\\|z), z ~ q(z\\|x) is classified as the digit's label |\n", rc.Agreement, r.N)
	p("| classifier accuracy on the inputs | %.4f | what a perfect reconstructor would score |\n", rc.Accuracy)
	p("| reconstruction consistency | %.4f | fraction whose reconstruction gets the same predicted class as the input |\n", rc.Consistency)
	p("| sleep mean confidence | %.4f | mean max-softmax probability on %d sleep samples (test digits: %.4f) |\n", r.Sleep.MeanConfidence, r.N, r.Test.MeanConfidence)
	p("| sleep class entropy | %.3f bits | entropy of the sleep samples' predicted-class histogram (uniform: %.3f; test digits: %.3f) |\n", r.Sleep.EntropyBits, math.Log2(10), r.Test.EntropyBits)
	if sm := r.SleepMean; sm != nil {
		p("| sleep means: confidence, entropy | %.4f, %.3f bits | the same for E[x\\|z] of the same prior draws z, every stochastic unit at its mean (no sampling noise) |\n", sm.MeanConfidence, sm.EntropyBits)
	}
	p("| Fréchet distance, sleep vs test | %.3f | ‖μ₁−μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁^½Σ₂Σ₁^½)^½) between Gaussian fits of the classifier's last hidden layer (%d units) |\n", r.Frechet.SleepTest, r.ClassifierFeatures)
	p("| Fréchet distance, reconstructions vs test | %.3f | the same for the reconstructions |\n", r.Frechet.ReconTest)
	if r.Frechet.TrainTest >= 0 {
		p("| Fréchet distance, train vs test digits | %.3f | the same for %d training digits: the floor |\n", r.Frechet.TrainTest, r.N)
	}
	p("\n![sleep class histogram](%s)\n\n", HistogramPlot)
	p("| class | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	p("| sleep samples |")
	for _, f := range r.Sleep.Fractions {
		p(" %.3f |", f)
	}
	p("\n| test digits |")
	for _, f := range r.Test.Fractions {
		p(" %.3f |", f)
	}
	p("\n")
}

func fmtFloor(halfN int) string { return fmt.Sprintf("%.2g", floorFreq(halfN)) }

// floorFreq is where a zero frequency is drawn on the log axes: half a count.
func floorFreq(n int) float64 { return 0.5 / float64(n) }

var (
	wakeSleepColor = color.RGBA{0x1f, 0x77, 0xb4, 255}
	controlColor   = color.RGBA{0xb0, 0xb0, 0xb0, 255}
	diagonalColor  = color.RGBA{0x20, 0x20, 0x20, 255}
	floorColor     = color.RGBA{0xd6, 0x27, 0x28, 255}
)

// alignmentPlot is Fig. 3D: frequency of each pattern in wake (x) against
// sleep (y) on log axes, with the diagonal and the wake-vs-wake control.
func alignmentPlot(a *AlignmentResult) *imaging.Plot {
	f0 := floorFreq(a.HalfN)
	// Frequencies are multiples of 1/h, so many points coincide: a fixed
	// multiplicative jitter of up to ±12% shows how many sit at each spot.
	rng := rand.New(rand.NewPCG(1, 2))
	lift := func(v []float64) []float64 {
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = math.Max(x, f0) * math.Exp(0.12*(2*rng.Float64()-1))
		}
		return out
	}
	hi := 0.0
	for _, v := range [][]float64{a.Scatter.A, a.Scatter.B, a.ControlScatter.A, a.ControlScatter.B} {
		for _, x := range v {
			hi = math.Max(hi, x)
		}
	}
	hi = math.Max(hi, 2*f0)
	if math.IsInf(hi, 0) || math.IsNaN(hi) || !(f0 > 0) {
		// Frequencies are at most 1; anything else must not stall the
		// loop below (e += 0.1 never reaches +Inf).
		hi, f0 = 1, math.Max(math.Min(f0, 0.5), 1e-12)
	}
	// The floor as a dashed pair of lines: short segments broken by NaN.
	var fx, fy, gx, gy []float64
	for e := math.Log10(f0); e < math.Log10(hi); e += 0.1 {
		v0, v1 := math.Pow(10, e), math.Pow(10, math.Min(e+0.05, math.Log10(hi)))
		fx, fy = append(fx, v0, v1, math.NaN()), append(fy, f0, f0, math.NaN())
		gx, gy = append(gx, f0, f0, math.NaN()), append(gy, v0, v1, math.NaN())
	}
	return &imaging.Plot{
		Title:  fmt.Sprintf("Pattern frequencies, %d x + %d z units (draw 1)", a.Options.XUnits, a.Options.ZUnits),
		XLabel: "frequency in wake half W1",
		YLabel: "frequency in sleep half S1 (blue) or wake half W2 (gray)",
		Width:  720, Height: 640,
		LogX: true, LogY: true,
		Series: []imaging.Series{
			{Label: fmt.Sprintf("wake W1 vs wake W2 (control, KL %.2f bits)", a.Draws[0].Control), X: lift(a.ControlScatter.A), Y: lift(a.ControlScatter.B), Scatter: true, Color: controlColor},
			{Label: fmt.Sprintf("wake W1 vs sleep S1 (KL %.2f bits)", a.Draws[0].WakeSleep), X: lift(a.Scatter.A), Y: lift(a.Scatter.B), Scatter: true, Color: wakeSleepColor},
			{Label: "equal frequency", X: []float64{f0, hi}, Y: []float64{f0, hi}, Color: diagonalColor},
			{Label: "absent (plotted at half a count)", X: fx, Y: fy, Color: floorColor},
			{X: gx, Y: gy, Color: floorColor},
		},
	}
}

// histogramPlot draws the predicted-class fractions of sleep samples as bars
// and those of the test digits as dots.
func histogramPlot(r *Result) *imaging.Plot {
	var bx, by, tx, ty []float64
	for k, f := range r.Sleep.Fractions {
		c := float64(k)
		bx = append(bx, c-0.35, c-0.35, c+0.35, c+0.35, math.NaN())
		by = append(by, 0, f, f, 0, math.NaN())
		tx, ty = append(tx, c), append(ty, r.Test.Fractions[k])
	}
	return &imaging.Plot{
		Title:  fmt.Sprintf("Classes of %d sleep samples (mean confidence %.3f)", r.N, r.Sleep.MeanConfidence),
		XLabel: "predicted class",
		YLabel: "fraction of samples",
		XTicks: classTicks(len(r.Sleep.Fractions)),
		Series: []imaging.Series{
			{Label: "sleep samples", X: bx, Y: by, Color: wakeSleepColor},
			{Label: "test digits", X: tx, Y: ty, Scatter: true, Color: floorColor},
			{X: []float64{-0.6, 9.6}, Y: []float64{0, 0}, Color: diagonalColor},
		},
	}
}

// classTicks are a tick per class 0 … n−1, labelled with its number.
func classTicks(n int) []imaging.Tick {
	t := make([]imaging.Tick, n)
	for k := range t {
		t[k] = imaging.Tick{Value: float64(k), Label: fmt.Sprint(k)}
	}
	return t
}

// compareRow is one line of Compare's table: a label and a function that
// formats a result's value ("-" where the result lacks it).
type compareRow struct {
	label string
	value func(r *Result) string
}

// alignmentRows are the rows of the alignment with the given label.
func alignmentRows(label string) []compareRow {
	find := func(r *Result) *AlignmentResult {
		for _, a := range r.Alignments {
			if a.Options.Label() == label {
				return a
			}
		}
		return nil
	}
	row := func(name string, f func(a *AlignmentResult) string) compareRow {
		return compareRow{name + " " + label, func(r *Result) string {
			if a := find(r); a != nil {
				return f(a)
			}
			return "-"
		}}
	}
	return []compareRow{
		row("KL(wake||sleep)", func(a *AlignmentResult) string { return pm(a.WakeSleep) }),
		row("KL(sleep||wake)", func(a *AlignmentResult) string { return pm(a.SleepWake) }),
		row("control wake/wake", func(a *AlignmentResult) string { return pm(a.Control) }),
		row("control sleep/sleep", func(a *AlignmentResult) string { return pm(a.SleepControl) }),
		row("missing mass w/s", func(a *AlignmentResult) string {
			return fmt.Sprintf("%.2f / %.2f", a.WakeMissing.Mean, a.SleepMissing.Mean)
		}),
	}
}

// compareRows returns the rows of Compare's table for results: the run's
// identity, every alignment label found (in order of first appearance),
// then the classifier's numbers.
func compareRows(results []*Result) []compareRow {
	rows := []compareRow{
		{"algorithm", func(r *Result) string { return fmt.Sprintf("%s γ=%g", r.Algorithm, r.Gamma) }},
		{"step (epoch)", func(r *Result) string { return fmt.Sprintf("%d (%d)", r.Step, r.Epoch) }},
		{"samples N", func(r *Result) string { return fmt.Sprint(r.N) }},
	}
	seen := map[string]bool{}
	for _, r := range results {
		for _, a := range r.Alignments {
			if l := a.Options.Label(); !seen[l] {
				seen[l] = true
				rows = append(rows, alignmentRows(l)...)
			}
		}
	}
	f4 := func(v float64) string { return fmt.Sprintf("%.4f", v) }
	f3 := func(v float64) string { return fmt.Sprintf("%.3f", v) }
	return append(rows,
		compareRow{"recon class agreement", func(r *Result) string { return f4(r.Reconstruction.Agreement) }},
		compareRow{"classifier accuracy", func(r *Result) string { return f4(r.Reconstruction.Accuracy) }},
		compareRow{"recon consistency", func(r *Result) string { return f4(r.Reconstruction.Consistency) }},
		compareRow{"sleep mean confidence", func(r *Result) string { return f4(r.Sleep.MeanConfidence) }},
		compareRow{"sleep class entropy bits", func(r *Result) string { return f3(r.Sleep.EntropyBits) }},
		compareRow{"FD sleep/test", func(r *Result) string { return f3(r.Frechet.SleepTest) }},
		compareRow{"FD recon/test", func(r *Result) string { return f3(r.Frechet.ReconTest) }},
		compareRow{"FD train/test (floor)", func(r *Result) string {
			if r.Frechet.TrainTest < 0 {
				return "-"
			}
			return f3(r.Frechet.TrainTest)
		}},
	)
}

// Compare prints the results side by side, one column per run headed by its
// name, one row per number (alignments matched by their unit counts),
// aligned with spaces.
func Compare(w io.Writer, names []string, results []*Result) error {
	if len(names) != len(results) {
		panic("eval: Compare: names and results differ in length")
	}
	rows := [][]string{append([]string{"metric"}, names...)}
	for _, row := range compareRows(results) {
		line := []string{row.label}
		for _, r := range results {
			line = append(line, row.value(r))
		}
		rows = append(rows, line)
	}
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for j, c := range row {
			widths[j] = max(widths[j], len([]rune(c)))
		}
	}
	var b strings.Builder
	for i, row := range rows {
		for j, c := range row {
			pad := widths[j] - len([]rune(c))
			if j == 0 {
				b.WriteString(c + strings.Repeat(" ", pad))
			} else {
				b.WriteString("  " + strings.Repeat(" ", pad) + c)
			}
		}
		b.WriteString("\n")
		if i == 0 {
			total := 0
			for _, wd := range widths {
				total += wd + 2
			}
			b.WriteString(strings.Repeat("-", total-2) + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
