package probe

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"

	"github.com/wakesleep/wakesleep/imaging"
)

// Critic study measures (Sec. 4.2).
const (
	MeasureScoreRise = "mean output, novel - familiar"
	MeasureAUC       = "AUC novel vs familiar (critic output)"
	// ReconDetector names the baseline detector: the reconstruction error
	// A_x = mean (x − x̂)².
	ReconDetector = "recon error"
)

// GradeAUC is the AUC of a detector separating one graded condition from the
// clean digits.
type GradeAUC struct {
	Detector string   `json:"detector"`
	Kind     string   `json:"kind"`
	Level    float64  `json:"level"`
	AUC      Interval `json:"auc"`
}

// ModelCritic is the critic study of one model.
type ModelCritic struct {
	Subject   Info       `json:"subject"`
	Detectors []string   `json:"detectors"`     // critics, ReconDetector, then the trivial detectors
	Familiar  []Interval `json:"familiar_mean"` // per detector: mean output on the familiar set
	Novel     []Interval `json:"novel_mean"`    // per detector: mean output on the novel set
	Effects   []Effect   `json:"effects"`
	Grades    []GradeAUC `json:"grades"`
}

// CriticResult is the critic study (Sec. 4.2): the trained critic as a
// surprise signal.
type CriticResult struct {
	N         int            `json:"n"`
	Level     float64        `json:"level"`
	Bootstrap int            `json:"bootstrap"`
	Seed      uint64         `json:"seed"`
	Models    []*ModelCritic `json:"models"`
	Untrained []*ModelCritic `json:"untrained,omitempty"`
	Early     []*ModelCritic `json:"early,omitempty"`
	Endpoints []*Endpoint    `json:"endpoints"`
	responses []*Responses
}

// Name implements Study.
func (r *CriticResult) Name() string { return "critic" }

// detectorValues returns a detector's per-stimulus scores in a condition.
func detectorValues(c *Response, det string) []float64 {
	if det == ReconDetector {
		return c.AmpX
	}
	if v, ok := c.Scores[det]; ok {
		return v
	}
	return c.layerValues(det)
}

// modelCritic computes one model's critic effects; with estimatesOnly no
// intervals (NaN) and no means.
func modelCritic(r *Responses, o Options, estimatesOnly bool) *ModelCritic {
	rng := rand.New(rand.NewPCG(o.Seed, bootstrapStream+1))
	mc := &ModelCritic{Subject: r.Subject, Detectors: append(append(append([]string(nil), r.Critics...), ReconDetector), trivialLayers...)}
	fam, nov := r.Find(r.Subject.Familiar()), r.Find(r.Subject.Novel())
	name := r.Subject.Name
	auc := func(pos, neg []float64) Interval {
		if estimatesOnly {
			return Interval{AUC(pos, neg), nan, nan}
		}
		return BootstrapAUC(pos, neg, o.Bootstrap, o.Level, rng)
	}
	for _, det := range mc.Detectors {
		f, n := detectorValues(fam, det), detectorValues(nov, det)
		isCritic := det != ReconDetector && !isTrivial(det)
		if !estimatesOnly {
			mc.Familiar = append(mc.Familiar, BootstrapMean(f, o.Bootstrap, o.Level, rng))
			mc.Novel = append(mc.Novel, BootstrapMean(n, o.Bootstrap, o.Level, rng))
		}
		if isCritic {
			iv := Interval{Mean(n) - Mean(f), nan, nan}
			if !estimatesOnly {
				iv = DiffOfMeans(n, f, o.Bootstrap, o.Level, rng)
			}
			mc.Effects = append(mc.Effects, Effect{Model: name, Measure: MeasureScoreRise, Layer: det, Null: 0, Sign: 1, Interval: iv})
		}
		mc.Effects = append(mc.Effects, Effect{Model: name, Measure: MeasureAUC, Layer: det, Null: 0.5, Sign: 1, Interval: auc(n, f)})
		if r.Subject.Familiar() != "mnist" { // the graded series distort MNIST digits
			continue
		}
		for _, kind := range []string{KindNoise, KindRotation} {
			grade := r.Grade(kind)
			for _, c := range grade[1:] {
				g := GradeAUC{Detector: det, Kind: kind, Level: c.Level, AUC: auc(detectorValues(c, det), f)}
				mc.Grades = append(mc.Grades, g)
				if c == grade[len(grade)-1] {
					mc.Effects = append(mc.Effects, Effect{Model: name, Measure: fmt.Sprintf("AUC %s=%g vs clean", kind, c.Level),
						Layer: det, Null: 0.5, Sign: 1, Interval: g.AUC})
				}
			}
		}
	}
	return mc
}

func isTrivial(det string) bool {
	for _, t := range trivialLayers {
		if t == det {
			return true
		}
	}
	return false
}

func (m *ModelCritic) subjectEffects() modelEffects { return modelEffects{m.Subject, m.Effects} }

// CriticStudy runs the study on the responses of one or more models, each
// with its untrained control when measured. The critic's sign is fixed in
// advance by the prediction (D rises for novel stimuli), never chosen on
// the data. Panics if rs is empty.
func CriticStudy(rs []*Responses, o Options) *CriticResult {
	if len(rs) == 0 {
		panic("probe: critic study of no model")
	}
	o = o.withDefaults()
	res := &CriticResult{N: len(rs[0].Conds[0].AmpX), Level: o.Level, Bootstrap: o.Bootstrap, Seed: o.Seed, responses: rs}
	res.Models, res.Untrained, res.Early = eachModel(rs, o, modelCritic)
	// Endpoints: the critics (the predictions); the reconstruction error
	// is the oscillation study's x layer.
	res.Endpoints = oscillationEndpoints(res.Name(), effectsOf(res.Models), effectsOf(res.Untrained), effectsOf(res.Early), rs[0].Critics, o.Level)
	return res
}

// Findings implements Study: one line per endpoint.
func (r *CriticResult) Findings() []Finding {
	var out []Finding
	for _, e := range r.Endpoints {
		out = append(out, e.Finding(fmt.Sprintf("critic %s output rises for novel stimuli: %s", e.Layer, e.Measure)))
	}
	return out
}

// Write implements Study.
func (r *CriticResult) Write(dir string) error {
	if err := r.writeFiles(dir); err != nil {
		return err
	}
	var m md
	m.p("# The critic as a surprise signal (Sec. 4.2)")
	m.p("Prediction: \"If a new stimulus is then shown from a novel distribution of stimuli, that will evoke a pattern of activity unlike any seen before. A good discriminator will increase its activity and appear like surprise.\"")
	m.p("## Definitions")
	m.p("- **Critic output**: for the local (oscillatory) model, D_x(x) on the stimulus itself, and D_z(z) on its inferred latent z ~ q(z|x); for the global model, D(x, z) with z ~ q(z|x). The critics are trained to maximise E_wake[D] − E_sleep[D] (Eq. 4, 7), so D is high for activity that looks driven by data (wake, bottom-up) and low for activity that looks generated (sleep, top-down). \"Rising activity for novel stimuli\" is therefore D(novel) > D(familiar): a novel stimulus looks *more* like data and less like anything the generative model produces.\n" +
		"- **Detector**: a score that should be higher for novel stimuli. Its ROC AUC is the Mann-Whitney probability P(score(novel) > score(familiar)) + ½P(tie); 0.5 is chance, below 0.5 means the score *falls* for novel stimuli.\n" +
		"- **Sign**: fixed in advance by the prediction (D rises); it is never chosen on the test data, which would inflate the AUC.\n" +
		"- **Baseline detector**: the reconstruction error A_x = mean over pixels of (x − x̂)², x̂ ~ p(x|z), z ~ q(z|x), the x-layer oscillation amplitude of the oscillation study.")
	m.p("Familiar: the first %d MNIST test digits; novel: the first %d Fashion-MNIST test images; graded: MNIST with pixel noise or rotation (as in the oscillation study), each against the clean digits. Per-model intervals: %g%% percentile bootstrap (%d resamples; familiar and novel resampled separately); they describe one model and give no verdict.", r.N, r.N, 100*r.Level, r.Bootstrap)
	m.p("## Models")
	var infos []Info
	for _, mc := range r.Models {
		infos = append(infos, mc.Subject)
	}
	m.subjectsTable(infos)
	m.heterogeneity(infos)
	m.p("## Results across models")
	m.p(judgingText)
	m.p("Controls: each critic's effect in the same model untrained (step 0) and after %d training steps, and, for AUCs, the trivial detectors pixel energy, ‖x‖ and the mean-image reconstruction error on the same stimuli (pixel energy alone separates Fashion-MNIST from MNIST). Models trained on Fashion-MNIST form the second arm of the crossed design (familiar Fashion-MNIST, novel MNIST); the crossed endpoints average the two arms, which cancels any property of the stimulus sets alone.", EarlySteps)
	m.endpointsTable(r.Endpoints)
	m.p("![ROC](critic-roc.png)\n\n![output histograms](critic-hist.png)\n\n![graded AUC](critic-grades.png)")
	m.p("## Per model")
	m.tableHead("model", "detector", "mean on familiar", "mean on novel")
	for _, mc := range r.Models {
		for i, det := range mc.Detectors {
			m.row(mc.Subject.Name, det, fmtCI(mc.Familiar[i]), fmtCI(mc.Novel[i]))
		}
	}
	m.end()
	var effects []Effect
	for _, mc := range r.Models {
		effects = append(effects, mc.Effects...)
	}
	m.effectsTable(effects, r.Level)
	m.p("Files: `critic-stimuli.csv` (per stimulus), `critic-grades.csv` (AUC per graded condition), `critic-effects.csv`, `critic-endpoints.csv`, `%s`.", ResultFile)
	return writeStudy(dir, r, m.Bytes())
}

func (r *CriticResult) writeFiles(dir string) error {
	if err := mkdir(dir); err != nil {
		return err
	}
	var effects []Effect
	grades := newTable("model", "detector", "kind", "level", "auc", "lo", "hi")
	for _, mc := range r.Models {
		effects = append(effects, mc.Effects...)
		for _, g := range mc.Grades {
			grades.add(mc.Subject.Name, g.Detector, g.Kind, g.Level, g.AUC.Estimate, g.AUC.Lo, g.AUC.Hi)
		}
	}
	st := newTable("model", "condition", "kind", "level", "stimulus", "detector", "score")
	for _, rs := range r.responses {
		dets := append(append(append([]string(nil), rs.Critics...), ReconDetector), trivialLayers...)
		for _, c := range rs.Conds {
			for _, det := range dets {
				for i, v := range detectorValues(c, det) {
					st.add(rs.Subject.Name, c.Name, c.Kind, c.Level, i, det, v)
				}
			}
		}
	}
	for name, t := range map[string]*table{
		"critic-stimuli.csv": st, "critic-grades.csv": grades,
		"critic-effects.csv": effectsCSV(effects), "critic-endpoints.csv": endpointsCSV(r.Endpoints),
	} {
		if err := t.write(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	// ROC curves, novel vs familiar: every model's detectors.
	roc := &imaging.Plot{Title: "ROC: Fashion-MNIST (novel) vs MNIST (familiar)", XLabel: "false positive rate (familiar flagged)",
		YLabel: "true positive rate (novel flagged)", Width: 640, Height: 560}
	k := 0
	for _, rs := range r.responses {
		fam, nov := rs.Find(rs.Subject.Familiar()), rs.Find(rs.Subject.Novel())
		for _, det := range append(append([]string(nil), rs.Critics...), ReconDetector, ControlEnergy) {
			fpr, tpr := ROC(detectorValues(nov, det), detectorValues(fam, det))
			roc.Series = append(roc.Series, imaging.Series{Label: ascii(fmt.Sprintf("%s %s (AUC %.3f)", rs.Subject.Name, det, AUC(detectorValues(nov, det), detectorValues(fam, det)))),
				X: fpr, Y: tpr, Color: seriesColor(k)})
			k++
		}
	}
	roc.Series = append(roc.Series, imaging.Series{Label: "chance", X: []float64{0, 1}, Y: []float64{0, 1}, Color: gray})
	if err := savePanels(filepath.Join(dir, "critic-roc.png"), roc); err != nil {
		return err
	}
	// Output histograms of the first model, one panel per detector.
	rs := r.responses[0]
	var hists []*imaging.Plot
	for _, det := range append(append([]string(nil), rs.Critics...), ReconDetector) {
		f, n := detectorValues(rs.Find("mnist"), det), detectorValues(rs.Find("fashion"), det)
		p := &imaging.Plot{Title: ascii(fmt.Sprintf("%s: %s", rs.Subject.Name, det)), XLabel: "output", YLabel: "fraction of stimuli", Width: 480, Height: 400}
		lo, hi := math.Min(minOf(f), minOf(n)), math.Max(maxOf(f), maxOf(n))
		for ci, v := range [][]float64{f, n} {
			x, y := histogram(v, lo, hi, 40)
			p.Series = append(p.Series, imaging.Series{Label: []string{"MNIST (familiar)", "Fashion (novel)"}[ci], X: x, Y: y, Color: seriesColor(ci)})
		}
		hists = append(hists, p)
	}
	if err := savePanels(filepath.Join(dir, "critic-hist.png"), hists...); err != nil {
		return err
	}
	// AUC vs surprise level.
	var panels []*imaging.Plot
	for _, kind := range []string{KindNoise, KindRotation} {
		p := &imaging.Plot{Title: "AUC vs clean digits: " + kind, XLabel: map[string]string{KindNoise: "pixel noise sigma", KindRotation: "rotation (degrees)"}[kind],
			YLabel: "AUC (95% CI)", Width: 560, Height: 420}
		k, n := 0, 0
		for _, mc := range r.Models {
			n += len(mc.Detectors)
		}
		for _, mc := range r.Models {
			for _, det := range mc.Detectors {
				x, y, lo, hi := []float64{0}, []float64{0.5}, []float64{0.5}, []float64{0.5}
				for _, g := range mc.Grades {
					if g.Detector == det && g.Kind == kind {
						x, y = append(x, g.Level), append(y, g.AUC.Estimate)
						lo, hi = append(lo, g.AUC.Lo), append(hi, g.AUC.Hi)
					}
				}
				c := seriesColor(k)
				x = dodge(x, k, n, 0.006*x[len(x)-1])
				p.Series = append(p.Series, imaging.Series{Label: ascii(mc.Subject.Name + " " + det), X: x, Y: y, Color: c}, errorBars(x, lo, hi, 0.004*x[len(x)-1], c))
				k++
			}
		}
		panels = append(panels, p)
	}
	return savePanels(filepath.Join(dir, "critic-grades.png"), panels...)
}

var gray = imaging.DefaultColors[7]

func minOf(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

// histogram returns a step outline of the fraction of v in each of bins
// equal bins over [lo, hi].
func histogram(v []float64, lo, hi float64, bins int) (x, y []float64) {
	if hi <= lo {
		hi = lo + 1
	}
	counts := make([]float64, bins)
	for _, s := range v {
		b := int(float64(bins) * (s - lo) / (hi - lo))
		counts[min(max(b, 0), bins-1)]++
	}
	w := (hi - lo) / float64(bins)
	x, y = []float64{lo}, []float64{0}
	for b, c := range counts {
		f := c / float64(len(v))
		x = append(x, lo+float64(b)*w, lo+float64(b+1)*w)
		y = append(y, f, f)
	}
	x, y = append(x, hi), append(y, 0)
	return x, y
}
