package probe

import (
	"fmt"
	"math"
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
	// Untrained are the same models at step 0 (the controls), if measured;
	// Early the same after EarlySteps steps.
	Untrained []*ModelOscillation `json:"untrained,omitempty"`
	Early     []*ModelOscillation `json:"early,omitempty"`
	Endpoints []*Endpoint         `json:"endpoints"`
	responses []*Responses
}

// Name implements Study.
func (r *OscillationResult) Name() string { return "oscillation" }

// Layers of the oscillation study: the model's layers (with their retest
// floors removed for the excess) and the trivial detectors.
var (
	oscLayers     = []string{"x", "x-excess", "z", "z-excess"}
	trivialLayers = []string{ControlEnergy, ControlNorm, ControlMeanImage}
)

// isDiffLayer reports a layer whose values can be negative (an excess over
// a floor): its novelty effect is a difference of means, not a ratio.
func isDiffLayer(layer string) bool { return layer == "x-excess" || layer == "z-excess" }

// layerEffects computes the effects of one layer's (or critic's, or
// trivial detector's) values in rs: novel against familiar (the model's
// own training set against the other), and for a model of MNIST the graded
// series. With rng nil only the estimates are computed (intervals NaN).
func layerEffects(rs *Responses, layer string, o Options, rng *rand.Rand) []Effect {
	fam, nov := rs.Find(rs.Subject.Familiar()).layerValues(layer), rs.Find(rs.Subject.Novel()).layerValues(layer)
	name := rs.Subject.Name
	est := func(v float64) Interval { return Interval{v, nan, nan} }
	var out []Effect
	if isDiffLayer(layer) { // can be negative: a difference, not a ratio
		iv := est(Mean(nov) - Mean(fam))
		if rng != nil {
			iv = DiffOfMeans(nov, fam, o.Bootstrap, o.Level, rng)
		}
		out = append(out, Effect{Model: name, Measure: MeasureNovelDiff, Layer: layer, Null: 0, Sign: 1, Interval: iv})
	} else {
		iv := est(Mean(nov) / Mean(fam))
		if rng != nil {
			iv = RatioOfMeans(nov, fam, o.Bootstrap, o.Level, rng)
		}
		out = append(out, Effect{Model: name, Measure: MeasureNovelRatio, Layer: layer, Null: 1, Sign: 1, Interval: iv})
	}
	iv := est(AUC(nov, fam))
	if rng != nil {
		iv = BootstrapAUC(nov, fam, o.Bootstrap, o.Level, rng)
	}
	out = append(out, Effect{Model: name, Measure: MeasureNovelAUC, Layer: layer, Null: 0.5, Sign: 1, Interval: iv})
	if rs.Subject.Familiar() != "mnist" { // the graded series distort MNIST digits
		return out
	}
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
		var iv Interval
		if rng != nil {
			iv = GradedSpearman(levels, vals, o.Bootstrap, o.Level, rng)
		} else {
			var lv, vv []float64
			for k, l := range levels {
				for _, v := range vals[k] {
					lv, vv = append(lv, l), append(vv, v)
				}
			}
			iv = est(Spearman(lv, vv))
		}
		out = append(out, Effect{Model: name, Measure: g.measure, Layer: layer, Null: 0, Sign: 1, Interval: iv})
	}
	return out
}

// modelOscillation computes one model's means and effects (with bootstrap
// intervals unless estimatesOnly).
func modelOscillation(r *Responses, o Options, estimatesOnly bool) *ModelOscillation {
	rng := rand.New(rand.NewPCG(o.Seed, bootstrapStream))
	mo := &ModelOscillation{Subject: r.Subject}
	layers := append(append([]string{}, oscLayers...), "x-retest", "z-retest")
	layers = append(layers, trivialLayers...)
	for _, layer := range layers {
		if !estimatesOnly {
			for _, c := range r.Conds {
				dist := 0.0
				if c.Distortion != nil {
					dist = Mean(c.Distortion)
				}
				mo.Means = append(mo.Means, LevelMean{Condition: c.Condition, Layer: layer,
					Mean: BootstrapMean(c.layerValues(layer), o.Bootstrap, o.Level, rng), Distortion: dist})
			}
		}
		if layer == "x-retest" || layer == "z-retest" {
			continue
		}
		if estimatesOnly {
			mo.Effects = append(mo.Effects, layerEffects(r, layer, o, nil)...)
		} else {
			mo.Effects = append(mo.Effects, layerEffects(r, layer, o, rng)...)
		}
	}
	return mo
}

// effectValue returns the estimate of the named effect of a model (NaN if
// it has none).
func effectValue(es []Effect, measure, layer string) float64 {
	for _, e := range es {
		if e.Measure == measure && e.Layer == layer {
			return e.Interval.Estimate
		}
	}
	return nan
}

// Measures of the crossed novelty design.
const (
	MeasureCrossedAUC   = "crossed: AUC novel vs familiar, train x test interaction"
	MeasureCrossedRatio = "crossed: novel/familiar ratio, train x test interaction (geometric)"
	MeasureCrossedDiff  = "crossed: novel - familiar difference, train x test interaction"
)

// crossed returns the train-set × test-set interaction of a novelty effect
// of model a (trained on MNIST) and model b (trained on Fashion-MNIST): the
// effect averaged over the two arms, in which any function of the stimulus
// alone (pixel energy) cancels exactly: AUC ½(a + b), ratio √(ab),
// difference ½(a + b).
func crossed(measure string, a, b float64) float64 {
	if measure == MeasureNovelRatio {
		return math.Sqrt(a * b)
	}
	return (a + b) / 2
}

var crossedMeasure = map[string]string{MeasureNovelAUC: MeasureCrossedAUC, MeasureNovelRatio: MeasureCrossedRatio, MeasureNovelDiff: MeasureCrossedDiff,
	MeasureAUC: MeasureCrossedAUC, MeasureScoreRise: "crossed: mean output, novel - familiar, train x test interaction"}

// isDiffMeasure reports a difference in a layer's own units, which a
// trivial detector's cannot be compared with.
func isDiffMeasure(m string) bool { return m == MeasureNovelDiff || m == MeasureScoreRise }

// withEarly reports whether every model's few-step control was measured.
func withEarly(rs []*Responses) bool {
	for _, r := range rs {
		if r.Early == nil {
			return false
		}
	}
	return true
}

// modelEffects are one model's effects.
type modelEffects struct {
	Subject Info
	Effects []Effect
}

func (m *ModelOscillation) subjectEffects() modelEffects { return modelEffects{m.Subject, m.Effects} }

// effectsOf returns the effects of each of ms (nil for nil).
func effectsOf[M interface{ subjectEffects() modelEffects }](ms []M) []modelEffects {
	if ms == nil {
		return nil
	}
	out := make([]modelEffects, len(ms))
	for i, m := range ms {
		out[i] = m.subjectEffects()
	}
	return out
}

// eachModel runs study on every model's responses and, where every model
// has them, on the untrained and the few-step (early) controls, with
// estimates only (study's third argument).
func eachModel[M any](rs []*Responses, o Options, study func(r *Responses, o Options, estimatesOnly bool) M) (models, untrained, early []M) {
	withUntrained := true
	for _, r := range rs {
		models = append(models, study(r, o, false))
		withUntrained = withUntrained && r.Untrained != nil
	}
	if withUntrained {
		for _, r := range rs {
			untrained = append(untrained, study(r.Untrained, o, true))
		}
	}
	if withEarly(rs) {
		for _, r := range rs {
			early = append(early, study(r.Early, o, true))
		}
	}
	return models, untrained, early
}

// oscillationEndpoints judges the effects across models. Models trained on
// MNIST form one arm, those trained on Fashion-MNIST the other; each
// endpoint's controls are the same effect in the same models untrained
// (when measured) and, for ratios, AUCs and correlations, in the trivial
// detectors. With both arms, the novelty endpoints are the crossed
// interactions (models paired across arms in the order given), and the
// single-arm novelty effects become secondary.
func oscillationEndpoints(study string, models, untrained, early []modelEffects, layers []string, level float64) []*Endpoint {
	var arms [2][]int // indices of MNIST, Fashion-MNIST models
	for i, m := range models {
		k := 0
		if m.Subject.Familiar() != "mnist" {
			k = 1
		}
		arms[k] = append(arms[k], i)
	}
	both := len(arms[0]) > 0 && len(arms[1]) > 0
	var eps []*Endpoint
	for _, layer := range layers {
		for arm, idx := range arms {
			if len(idx) == 0 {
				continue
			}
			for _, e := range models[idx[0]].Effects {
				if e.Layer != layer {
					continue
				}
				var names []string
				var vals []float64
				ctl := map[string][]float64{}
				for _, i := range idx {
					names = append(names, models[i].Subject.Name)
					vals = append(vals, effectValue(models[i].Effects, e.Measure, layer))
					u := nan // not measured: the endpoint cannot hold
					if untrained != nil {
						u = effectValue(untrained[i].Effects, e.Measure, layer)
					}
					ctl[ControlUntrained] = append(ctl[ControlUntrained], u)
					v := nan
					if early != nil {
						v = effectValue(early[i].Effects, e.Measure, layer)
					}
					ctl[ControlEarly] = append(ctl[ControlEarly], v)
					if !isDiffMeasure(e.Measure) {
						for _, tl := range trivialLayers {
							ctl[tl] = append(ctl[tl], effectValue(models[i].Effects, e.Measure, tl))
						}
					}
				}
				ep := NewEndpoint(study, e.Measure, layer, e.Null, e.Sign, names, vals, ctl)
				if arm == 1 {
					ep.Measure += " (trained on Fashion-MNIST)"
				}
				_, isNovelty := crossedMeasure[e.Measure]
				ep.Primary = !(both && isNovelty)
				eps = append(eps, ep)
			}
		}
		if !both {
			continue
		}
		n := min(len(arms[0]), len(arms[1]))
		for _, e := range models[arms[0][0]].Effects {
			cm, ok := crossedMeasure[e.Measure]
			if e.Layer != layer || !ok {
				continue
			}
			var names []string
			var vals []float64
			ctl := map[string][]float64{}
			for k := 0; k < n; k++ {
				a, b := models[arms[0][k]], models[arms[1][k]]
				names = append(names, a.Subject.Name+" x "+b.Subject.Name)
				vals = append(vals, crossed(e.Measure, effectValue(a.Effects, e.Measure, layer), effectValue(b.Effects, e.Measure, layer)))
				u := nan
				if untrained != nil {
					ua, ub := untrained[arms[0][k]], untrained[arms[1][k]]
					u = crossed(e.Measure, effectValue(ua.Effects, e.Measure, layer), effectValue(ub.Effects, e.Measure, layer))
				}
				ctl[ControlUntrained] = append(ctl[ControlUntrained], u)
				v := nan
				if early != nil {
					ea, eb := early[arms[0][k]], early[arms[1][k]]
					v = crossed(e.Measure, effectValue(ea.Effects, e.Measure, layer), effectValue(eb.Effects, e.Measure, layer))
				}
				ctl[ControlEarly] = append(ctl[ControlEarly], v)
				if !isDiffMeasure(e.Measure) {
					for _, tl := range trivialLayers {
						ctl[tl] = append(ctl[tl], crossed(e.Measure, effectValue(a.Effects, e.Measure, tl), effectValue(b.Effects, e.Measure, tl)))
					}
				}
			}
			eps = append(eps, NewEndpoint(study, cm, layer, e.Null, e.Sign, names, vals, ctl))
		}
	}
	Judge(eps, level)
	return eps
}

// Oscillation runs the study on the responses of one or more models
// (seeds), each with its untrained control when measured (Responses.
// Untrained). See the package documentation for the definitions. Panics if
// rs is empty.
func Oscillation(rs []*Responses, o Options) *OscillationResult {
	if len(rs) == 0 {
		panic("probe: oscillation study of no model")
	}
	o = o.withDefaults()
	res := &OscillationResult{N: len(rs[0].Conds[0].AmpX), Level: o.Level, Bootstrap: o.Bootstrap, Seed: o.Seed, responses: rs}
	res.Models, res.Untrained, res.Early = eachModel(rs, o, modelOscillation)
	res.Endpoints = oscillationEndpoints(res.Name(), effectsOf(res.Models), effectsOf(res.Untrained), effectsOf(res.Early), oscLayers, o.Level)
	return res
}

// Findings implements Study.
func (r *OscillationResult) Findings() []Finding {
	var out []Finding
	for _, e := range r.Endpoints {
		out = append(out, e.Finding(fmt.Sprintf("oscillation amplitude of %s grows with surprise: %s", e.Layer, e.Measure)))
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
	m.p("Statistics: means with percentile bootstrap %g%% intervals (%d resamples, seeded); novel/familiar ratio of mean amplitudes and AUC (Mann-Whitney, amplitude as the score, novel as positives) with stratified bootstrap intervals; Spearman correlation between surprise level and per-stimulus amplitude over all stimuli and levels, with a cluster bootstrap over stimuli (each resampled stimulus keeps its values at every level); these per-model intervals describe one model and give no verdict. Across models (seeds): the endpoints below.", 100*r.Level, r.Bootstrap)
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
	m.p(judgingText)
	m.p("Controls: the untrained model (the same config and seed at step 0) and the same model after %d training steps (an effect a few-step model shows as strongly is no product of learning the distribution) for every endpoint; the trivial detectors pixel energy (mean x²), ‖x‖ and the mean-image reconstructor (A_x with x̂ = the mean image of the model's own training set) for every ratio, AUC and correlation, on the same stimuli. Models trained on Fashion-MNIST (experiment fashionmnist) form the other arm of the crossed design: familiar = Fashion-MNIST, novel = MNIST; the *crossed* endpoints average each novelty effect over the two arms (models paired in the order given), so that any property of the stimulus sets alone (pixel energy, about twice as high in Fashion-MNIST) cancels exactly; with both arms present the single-arm novelty endpoints are secondary.", EarlySteps)
	m.endpointsTable(r.Endpoints)
	m.p("![familiar vs novel](oscillation-novelty.png)\n\n![noise](oscillation-noise.png)\n\n![rotation](oscillation-rotation.png)")
	m.p("## Per model")
	m.effectsTable(allEffects(r.Models), r.Level)
	m.p("Mean amplitude per condition (%g%% bootstrap CI):", 100*r.Level)
	m.p("`own-sleep` is the zero-surprise reference: the model's own sleep samples x ~ p(x|z), z ~ N(0, I), as stimuli. The x floor is ½ mean (x̂ − x̂'')² with x̂'' a second top-down pass from the same z (generation noise alone); the x excess is A_x minus it.")
	m.tableHead("model", "condition", "A_x", "A_x floor (retest)", "A_x excess", "A_z", "A_z floor (retest)", "A_z excess", "distortion")
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
			m.row(mo.Subject.Name, c, fmtCI(x.Mean), fmtCI(byLayer["x-retest"][c].Mean), fmtCI(byLayer["x-excess"][c].Mean), fmtCI(byLayer["z"][c].Mean), fmtCI(byLayer["z-retest"][c].Mean),
				fmtCI(byLayer["z-excess"][c].Mean), fmtG(x.Distortion))
		}
	}
	m.end()
	m.p("Files: `oscillation-stimuli.csv` (per stimulus), `oscillation-means.csv`, `oscillation-effects.csv`, `oscillation-endpoints.csv`, `%s`.", ResultFile)
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
	st := newTable("model", "condition", "kind", "level", "stimulus", "amp_x", "retest_x", "amp_z", "retest_z", "energy", "norm", "mean_image_err", "distortion")
	for _, rs := range r.responses {
		for _, c := range rs.Conds {
			for i := range c.AmpX {
				d := 0.0
				if c.Distortion != nil {
					d = c.Distortion[i]
				}
				me := nan
				if c.MeanImage != nil {
					me = c.MeanImage[i]
				}
				st.add(rs.Subject.Name, c.Name, c.Kind, c.Level, i, c.AmpX[i], c.RetestX[i], c.AmpZ[i], c.RetestZ[i], c.Energy[i], c.Norm[i], me, d)
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
		"oscillation-effects.csv": effectsCSV(allEffects(r.Models)), "oscillation-endpoints.csv": endpointsCSV(r.Endpoints),
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
