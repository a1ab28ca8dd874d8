package probe

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"

	"github.com/wakesleep/wakesleep/imaging"
)

// Oscillation study measures (Sec. 4.1).
const (
	MeasureNovelRatio = "novel/familiar mean ratio"
	MeasureNovelDiff  = "novel - familiar mean difference"
	MeasureNovelAUC   = "AUC novel vs familiar"
	MeasureNoiseRho   = "Spearman rho(noise sigma, value)"
	MeasureRotRho     = "Spearman rho(rotation, value)"
)

// LevelMean is the mean of one layer's per-stimulus values in one
// condition, with a bootstrap interval.
type LevelMean struct {
	Condition
	Layer      string   `json:"layer"`
	Mean       Interval `json:"mean"`
	Distortion float64  `json:"distortion"` // mean squared difference of the stimuli from the clean digits
}

// ModelOscillation is the oscillation study of one model.
type ModelOscillation struct {
	Subject Info        `json:"subject"`
	Means   []LevelMean `json:"means"`
	Effects []Effect    `json:"effects"`
}

// OscillationResult is the oscillation study (Sec. 4.1): the difference
// between each layer's bottom-up activity and its top-down prediction,
// on familiar, novel and graded-surprise stimuli.
type OscillationResult struct {
	N         int                 `json:"n"`
	Level     float64             `json:"level"`
	Bootstrap int                 `json:"bootstrap"`
	Seed      uint64              `json:"seed"`
	Models    []*ModelOscillation `json:"models"`
	Summaries []Summary           `json:"summaries"`
	responses []*Responses
}

// Name implements Study.
func (r *OscillationResult) Name() string { return "oscillation" }

// layerEffects computes the four effects of one layer's (or critic's)
// values in rs, with bootstrap intervals from rng.
func layerEffects(rs *Responses, layer string, o Options, rng *rand.Rand) []Effect {
	fam, nov := rs.Find("mnist").layerValues(layer), rs.Find("fashion").layerValues(layer)
	name := rs.Subject.Name
	var out []Effect
	if layer == "z-excess" { // can be negative: a difference, not a ratio
		out = append(out, Effect{Model: name, Measure: MeasureNovelDiff, Layer: layer, Null: 0, Sign: 1,
			Interval: DiffOfMeans(nov, fam, o.Bootstrap, o.Level, rng)})
	} else {
		out = append(out, Effect{Model: name, Measure: MeasureNovelRatio, Layer: layer, Null: 1, Sign: 1,
			Interval: RatioOfMeans(nov, fam, o.Bootstrap, o.Level, rng)})
	}
	out = append(out, Effect{Model: name, Measure: MeasureNovelAUC, Layer: layer, Null: 0.5, Sign: 1,
		Interval: BootstrapAUC(nov, fam, o.Bootstrap, o.Level, rng)})
	for _, g := range []struct{ kind, measure string }{{KindNoise, MeasureNoiseRho}, {KindRotation, MeasureRotRho}} {
		grade := rs.Grade(g.kind)
		if len(grade) < 2 {
			continue
		}
		var levels []float64
		var vals [][]float64
		for _, c := range grade {
			levels = append(levels, c.Level)
			vals = append(vals, c.layerValues(layer))
		}
		out = append(out, Effect{Model: name, Measure: g.measure, Layer: layer, Null: 0, Sign: 1,
			Interval: GradedSpearman(levels, vals, o.Bootstrap, o.Level, rng)})
	}
	return out
}

// Oscillation runs the study on the responses of one or more models
// (seeds). See the package documentation for the definitions. Panics if rs
// is empty.
func Oscillation(rs []*Responses, o Options) *OscillationResult {
	if len(rs) == 0 {
		panic("probe: oscillation study of no model")
	}
	o = o.withDefaults()
	res := &OscillationResult{N: len(rs[0].Conds[0].AmpX), Level: o.Level, Bootstrap: o.Bootstrap, Seed: o.Seed, responses: rs}
	var all []Effect
	for _, r := range rs {
		rng := rand.New(rand.NewPCG(o.Seed, bootstrapStream))
		mo := &ModelOscillation{Subject: r.Subject}
		for _, layer := range []string{"x", "z", "z-retest", "z-excess"} {
			for _, c := range r.Conds {
				dist := 0.0
				if c.Distortion != nil {
					dist = Mean(c.Distortion)
				}
				mo.Means = append(mo.Means, LevelMean{Condition: c.Condition, Layer: layer,
					Mean: BootstrapMean(c.layerValues(layer), o.Bootstrap, o.Level, rng), Distortion: dist})
			}
			if layer != "z-retest" {
				mo.Effects = append(mo.Effects, layerEffects(r, layer, o, rng)...)
			}
		}
		all = append(all, mo.Effects...)
		res.Models = append(res.Models, mo)
	}
	res.Summaries = Summarize(all, o.Level)
	return res
}

// Findings implements Study.
func (r *OscillationResult) Findings() []Finding {
	var out []Finding
	for _, s := range r.Summaries {
		out = append(out, Finding{Study: r.Name(),
			Prediction: fmt.Sprintf("oscillation amplitude of %s grows with surprise: %s", s.Layer, s.Measure),
			Effect:     s.describe(r.Level), Verdict: s.Verdict()})
	}
	return out
}

// Write implements Study.
func (r *OscillationResult) Write(dir string) error {
	if err := r.writeFiles(dir); err != nil {
		return err
	}
	var m md
	m.p("# Oscillation strength and surprise (Sec. 4.1)")
	m.p("Prediction: \"one should observe stronger oscillations in activity for unexpected stimuli\": the difference between a layer's bottom-up activity and its top-down prediction grows with surprise.")
	m.p("## Definitions")
	m.p("One oscillation cycle on a stimulus x: bottom-up z ~ q(z|x), top-down x̂ ~ p(x|z), and the next cycle's bottom-up z' ~ q(z|x̂), each a single stochastic pass of the trained networks (with their sampling noise, which is part of the activity).")
	m.p("- **Amplitude of layer x** (the input layer): A_x = mean over the 784 pixels of (x − x̂)², in [0, 1] pixel units (this is also the reconstruction error).\n" +
		"- **Amplitude of layer z** (the top layer): A_z = mean over the latent units of (z − z')². The top layer's own top-down phase is the prior N(0, I), which does not depend on the stimulus, so comparing z with a prior sample would measure the spread of q(z|x) around the prior rather than a prediction error; the stimulus-specific top-down signal at z is what the next bottom-up pass makes of the top-down prediction x̂, so the z amplitude is the change of the top layer across one cycle.")
	m.p("Stimuli (the first %d of each set, the same for every model): MNIST test digits (familiar), Fashion-MNIST test images (novel), and graded surprise: MNIST digits with additive Gaussian pixel noise σ (clipped to [0, 1]; σ = 0 is the clean digit) and MNIST digits rotated counterclockwise about the image centre (bilinear interpolation, zero outside). Stimulus noise and model noise are seeded (seed %d).", r.N, r.Seed)
	m.p("Statistics: means with percentile bootstrap %g%% intervals (%d resamples, seeded); novel/familiar ratio of mean amplitudes and AUC (Mann-Whitney, amplitude as the score, novel as positives) with stratified bootstrap intervals; Spearman correlation between surprise level and per-stimulus amplitude over all stimuli and levels, with a cluster bootstrap over stimuli (each resampled stimulus keeps its values at every level). Across models (seeds): mean, range and Student-t interval of each effect over models.", 100*r.Level, r.Bootstrap)
	m.p("Floor of A_z: z and z' are two stochastic samples, so A_z is not 0 even for a perfect model. The *retest* floor is mean (z − z'')² with z'' ~ q(z|x) a second, independent bottom-up pass on the same stimulus (inference noise alone). The **excess** A_z − floor (layer `z-excess`, per stimulus) is the part of the z oscillation due to passing through the top-down prediction; a rise of raw A_z with surprise that the floor matches is a rise of the posterior's spread, not of a prediction error. The excess can be negative, so its familiar-vs-novel effect is a difference of means, not a ratio.")
	m.p("Note on noise: a model that maps inputs onto the digit manifold cannot reproduce added noise, so A_x rises at least by roughly the injected noise energy (the `distortion` column: mean squared difference of the noisy from the clean digit) even if the digit itself is perfectly modelled. Rotation and Fashion-MNIST are the cleaner tests.")
	m.p("## Models")
	var infos []Info
	for _, mo := range r.Models {
		infos = append(infos, mo.Subject)
	}
	m.subjectsTable(infos)
	m.heterogeneity(infos)
	m.p("## Results across models")
	m.summariesTable(r.Summaries, r.Level)
	m.p("![familiar vs novel](oscillation-novelty.png)\n\n![noise](oscillation-noise.png)\n\n![rotation](oscillation-rotation.png)")
	m.p("## Per model")
	m.effectsTable(allEffects(r.Models), r.Level)
	m.p("Mean amplitude per condition (%g%% bootstrap CI):", 100*r.Level)
	m.tableHead("model", "condition", "A_x", "A_z", "A_z floor (retest)", "A_z excess", "distortion")
	for _, mo := range r.Models {
		byLayer := map[string]map[string]LevelMean{}
		var conds []string
		for _, lm := range mo.Means {
			if byLayer[lm.Layer] == nil {
				byLayer[lm.Layer] = map[string]LevelMean{}
			}
			if lm.Layer == "x" {
				conds = append(conds, lm.Name)
			}
			byLayer[lm.Layer][lm.Name] = lm
		}
		for _, c := range conds {
			x := byLayer["x"][c]
			m.row(mo.Subject.Name, c, fmtCI(x.Mean), fmtCI(byLayer["z"][c].Mean), fmtCI(byLayer["z-retest"][c].Mean),
				fmtCI(byLayer["z-excess"][c].Mean), fmtG(x.Distortion))
		}
	}
	m.end()
	m.p("Files: `oscillation-stimuli.csv` (per stimulus), `oscillation-means.csv`, `oscillation-effects.csv`, `oscillation-summary.csv`, `%s`.", ResultFile)
	return writeStudy(dir, r, m.Bytes())
}

func allEffects(ms []*ModelOscillation) []Effect {
	var out []Effect
	for _, m := range ms {
		out = append(out, m.Effects...)
	}
	return out
}

func (r *OscillationResult) writeFiles(dir string) error {
	if err := mkdir(dir); err != nil {
		return err
	}
	st := newTable("model", "condition", "kind", "level", "stimulus", "amp_x", "amp_z", "retest_z", "distortion")
	for _, rs := range r.responses {
		for _, c := range rs.Conds {
			for i := range c.AmpX {
				d := 0.0
				if c.Distortion != nil {
					d = c.Distortion[i]
				}
				st.add(rs.Subject.Name, c.Name, c.Kind, c.Level, i, c.AmpX[i], c.AmpZ[i], c.RetestZ[i], d)
			}
		}
	}
	means := newTable("model", "condition", "kind", "level", "layer", "mean", "lo", "hi", "distortion")
	for _, mo := range r.Models {
		for _, lm := range mo.Means {
			means.add(mo.Subject.Name, lm.Name, lm.Kind, lm.Level, lm.Layer, lm.Mean.Estimate, lm.Mean.Lo, lm.Mean.Hi, lm.Distortion)
		}
	}
	for name, t := range map[string]*table{
		"oscillation-stimuli.csv": st, "oscillation-means.csv": means,
		"oscillation-effects.csv": effectsCSV(allEffects(r.Models)), "oscillation-summary.csv": summariesCSV(r.Summaries),
	} {
		if err := t.write(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	// Graded plots: one panel per layer, one curve per model.
	for _, g := range []struct{ kind, file, xlabel string }{
		{KindNoise, "oscillation-noise.png", "pixel noise sigma"},
		{KindRotation, "oscillation-rotation.png", "rotation (degrees)"},
	} {
		var panels []*imaging.Plot
		for _, layer := range []string{"x", "z", "z-excess"} {
			p := &imaging.Plot{Title: fmt.Sprintf("Oscillation amplitude A_%s vs %s", layer, g.kind), XLabel: g.xlabel,
				YLabel: fmt.Sprintf("mean A_%s (95%% CI)", layer), Width: 560, Height: 420}
			for k, mo := range r.Models {
				var x, y, lo, hi []float64
				for _, lm := range mo.Means {
					if lm.Layer == layer && (lm.Kind == g.kind || lm.Kind == KindFamiliar) {
						x, y = append(x, lm.Level), append(y, lm.Mean.Estimate)
						lo, hi = append(lo, lm.Mean.Lo), append(hi, lm.Mean.Hi)
					}
				}
				c := seriesColor(k)
				span := x[len(x)-1] - x[0]
				x = dodge(x, k, len(r.Models), 0.008*span)
				p.Series = append(p.Series, imaging.Series{Label: ascii(mo.Subject.Name), X: x, Y: y, Color: c}, errorBars(x, lo, hi, 0.005*span, c))
			}
			panels = append(panels, p)
		}
		if err := savePanels(filepath.Join(dir, g.file), panels...); err != nil {
			return err
		}
	}
	// Familiar vs novel: one panel per layer, models along x.
	var panels []*imaging.Plot
	for _, layer := range []string{"x", "z", "z-excess"} {
		p := &imaging.Plot{Title: fmt.Sprintf("A_%s: MNIST (familiar) vs Fashion-MNIST (novel)", layer), XLabel: "model",
			YLabel: fmt.Sprintf("mean A_%s (95%% CI)", layer), Width: 560, Height: 420}
		// One tick per model, named; the axis spans half a slot either side.
		for k, mo := range r.Models {
			p.XTicks = append(p.XTicks, imaging.Tick{Value: float64(k + 1), Label: ascii(mo.Subject.Name)})
		}
		p.XTicks = append([]imaging.Tick{{Value: 0.5}}, append(p.XTicks, imaging.Tick{Value: float64(len(r.Models)) + 0.5})...)
		for ci, cond := range []string{"mnist", "fashion"} {
			var x, y, lo, hi []float64
			for k, mo := range r.Models {
				for _, lm := range mo.Means {
					if lm.Layer == layer && lm.Name == cond {
						x, y = append(x, float64(k+1)+0.1*float64(2*ci-1)), append(y, lm.Mean.Estimate)
						lo, hi = append(lo, lm.Mean.Lo), append(hi, lm.Mean.Hi)
					}
				}
			}
			c := seriesColor(ci)
			p.Series = append(p.Series, imaging.Series{Label: cond, X: x, Y: y, Scatter: true, Color: c}, errorBars(x, lo, hi, 0.04, c))
		}
		panels = append(panels, p)
	}
	return savePanels(filepath.Join(dir, "oscillation-novelty.png"), panels...)
}
