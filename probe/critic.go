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
	MeasureAUC       = "AUC novel (Fashion) vs familiar (MNIST)"
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
	Detectors []string   `json:"detectors"`     // critics, then ReconDetector
	Familiar  []Interval `json:"familiar_mean"` // per detector: mean output on MNIST
	Novel     []Interval `json:"novel_mean"`    // per detector: mean output on Fashion-MNIST
	// Orientation is the sign s (+1 or −1) that makes s·D a detector with
	// AUC ≥ ½ on these data, per critic; OrientedAUC is the AUC of s·D.
	Orientation []int      `json:"orientation"`
	OrientedAUC []Interval `json:"oriented_auc"`
	// AUCDiff is AUC(s·D) − AUC(recon error) per critic, paired bootstrap.
	AUCDiff []Interval `json:"oriented_auc_minus_recon"`
	Effects []Effect   `json:"effects"`
	Grades  []GradeAUC `json:"grades"`
}

// CriticResult is the critic study (Sec. 4.2): the trained critic as a
// surprise signal.
type CriticResult struct {
	N         int            `json:"n"`
	Level     float64        `json:"level"`
	Bootstrap int            `json:"bootstrap"`
	Seed      uint64         `json:"seed"`
	Models    []*ModelCritic `json:"models"`
	Summaries []Summary      `json:"summaries"`
	responses []*Responses
}

// Name implements Study.
func (r *CriticResult) Name() string { return "critic" }

// detectorValues returns a detector's per-stimulus scores in a condition.
func detectorValues(c *Response, det string) []float64 {
	if det == ReconDetector {
		return c.AmpX
	}
	return c.Scores[det]
}

// CriticStudy runs the study on the responses of one or more models.
// Panics if rs is empty.
func CriticStudy(rs []*Responses, o Options) *CriticResult {
	if len(rs) == 0 {
		panic("probe: critic study of no model")
	}
	o = o.withDefaults()
	res := &CriticResult{N: len(rs[0].Conds[0].AmpX), Level: o.Level, Bootstrap: o.Bootstrap, Seed: o.Seed, responses: rs}
	var all []Effect
	for _, r := range rs {
		rng := rand.New(rand.NewPCG(o.Seed, bootstrapStream+1))
		mc := &ModelCritic{Subject: r.Subject, Detectors: append(append([]string(nil), r.Critics...), ReconDetector)}
		fam, nov := r.Find("mnist"), r.Find("fashion")
		name := r.Subject.Name
		for _, det := range mc.Detectors {
			f, n := detectorValues(fam, det), detectorValues(nov, det)
			mc.Familiar = append(mc.Familiar, BootstrapMean(f, o.Bootstrap, o.Level, rng))
			mc.Novel = append(mc.Novel, BootstrapMean(n, o.Bootstrap, o.Level, rng))
			if det != ReconDetector {
				mc.Effects = append(mc.Effects, Effect{Model: name, Measure: MeasureScoreRise, Layer: det, Null: 0, Sign: 1,
					Interval: DiffOfMeans(n, f, o.Bootstrap, o.Level, rng)})
			}
			mc.Effects = append(mc.Effects, Effect{Model: name, Measure: MeasureAUC, Layer: det, Null: 0.5, Sign: 1,
				Interval: BootstrapAUC(n, f, o.Bootstrap, o.Level, rng)})
			for _, kind := range []string{KindNoise, KindRotation} {
				grade := r.Grade(kind)
				for _, c := range grade[1:] {
					g := GradeAUC{Detector: det, Kind: kind, Level: c.Level,
						AUC: BootstrapAUC(detectorValues(c, det), f, o.Bootstrap, o.Level, rng)}
					mc.Grades = append(mc.Grades, g)
					if c == grade[len(grade)-1] {
						mc.Effects = append(mc.Effects, Effect{Model: name, Measure: fmt.Sprintf("AUC %s=%g vs clean", kind, c.Level),
							Layer: det, Null: 0.5, Sign: 1, Interval: g.AUC})
					}
				}
			}
		}
		// The critic against the baseline on the same stimuli: resample
		// familiar and novel stimuli, keeping both detectors' scores of each.
		// The critic's sign is oriented to make it a detector (AUC ≥ ½).
		rf, rn := detectorValues(fam, ReconDetector), detectorValues(nov, ReconDetector)
		for _, det := range r.Critics {
			df, dn := detectorValues(fam, det), detectorValues(nov, det)
			sgn := 1.0
			if AUC(dn, df) < 0.5 {
				sgn = -1
			}
			mc.Orientation = append(mc.Orientation, int(sgn))
			a, b, c, d := make([]float64, len(dn)), make([]float64, len(df)), make([]float64, len(rn)), make([]float64, len(rf))
			var oriented []float64
			diff := Bootstrap2(len(dn), len(df), func(i1, i2 []int) float64 {
				for k, i := range i1 {
					a[k], c[k] = sgn*dn[i], rn[i]
				}
				for k, i := range i2 {
					b[k], d[k] = sgn*df[i], rf[i]
				}
				au := AUC(a, b)
				oriented = append(oriented, au)
				return au - AUC(c, d)
			}, o.Bootstrap, o.Level, rng)
			mc.AUCDiff = append(mc.AUCDiff, diff)
			// oriented[0] is the full-sample AUC, the rest the resamples.
			q := (1 - o.Level) / 2
			mc.OrientedAUC = append(mc.OrientedAUC, Interval{oriented[0], Percentile(oriented[1:], q), Percentile(oriented[1:], 1-q)})
		}
		all = append(all, mc.Effects...)
		res.Models = append(res.Models, mc)
	}
	res.Summaries = Summarize(all, o.Level)
	return res
}

// Findings implements Study: the critics' novelty AUC and output rise (the
// prediction as stated: D rises), the critics as surprise signals of either
// sign (oriented AUC, beside the baseline), and the baseline's AUC.
func (r *CriticResult) Findings() []Finding {
	var out []Finding
	for _, s := range r.Summaries {
		if s.Measure != MeasureAUC && s.Measure != MeasureScoreRise {
			continue
		}
		pred := fmt.Sprintf("critic %s output rises for novel stimuli: %s", s.Layer, s.Measure)
		if s.Layer == ReconDetector {
			pred = "baseline (not a prediction): reconstruction error as novelty detector, " + s.Measure
		}
		out = append(out, Finding{Study: r.Name(), Prediction: pred, Effect: s.describe(r.Level), Verdict: s.Verdict()})
	}
	for _, mc := range r.Models {
		for i, det := range mc.Detectors[:len(mc.Orientation)] {
			o := mc.OrientedAUC[i]
			out = append(out, Finding{Study: r.Name(),
				Prediction: fmt.Sprintf("critic %s (%s) is a surprise signal of either sign: AUC of %sD", det, mc.Subject.Name, map[int]string{1: "+", -1: "−"}[mc.Orientation[i]]),
				Effect:     fmt.Sprintf("%s, %g%% CI [%s, %s]; minus the reconstruction-error AUC: %s", fmtG(o.Estimate), 100*r.Level, fmtG(o.Lo), fmtG(o.Hi), fmtCI(mc.AUCDiff[i])),
				Verdict:    verdict(o, 0.5, 1)})
		}
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
		"- **Either sign**: the paper does not fix the sign of a discriminator's \"activity\"; a critic whose output *falls* for novel stimuli is as good a surprise signal read with the opposite sign. So each critic is also reported oriented: s·D with s = ±1 chosen so that its AUC ≥ ½ on these data (the orientation is chosen from the same data, immaterial when the AUC is far from ½), and compared with the baseline by AUC(s·D) − AUC(recon error).\n" +
		"- **Baseline detector**: the reconstruction error A_x = mean over pixels of (x − x̂)², x̂ ~ p(x|z), z ~ q(z|x), the x-layer oscillation amplitude of the oscillation study.")
	m.p("Familiar: the first %d MNIST test digits; novel: the first %d Fashion-MNIST test images; graded: MNIST with pixel noise or rotation (as in the oscillation study), each against the clean digits. Intervals: %g%% percentile bootstrap (%d resamples; familiar and novel resampled separately; for AUC(critic) − AUC(recon error) each resampled stimulus keeps both detectors' scores).", r.N, r.N, 100*r.Level, r.Bootstrap)
	m.p("## Models")
	var infos []Info
	for _, mc := range r.Models {
		infos = append(infos, mc.Subject)
	}
	m.subjectsTable(infos)
	m.heterogeneity(infos)
	m.p("## Results across models")
	m.summariesTable(r.Summaries, r.Level)
	m.p("![ROC](critic-roc.png)\n\n![output histograms](critic-hist.png)\n\n![graded AUC](critic-grades.png)")
	m.p("## Per model")
	m.tableHead("model", "detector", "mean on familiar", "mean on novel", "sign s", "AUC of s·D", "AUC(s·D) − AUC(recon error)")
	for _, mc := range r.Models {
		for i, det := range mc.Detectors {
			sg, oa, diff := "—", "—", "—"
			if i < len(mc.AUCDiff) {
				sg, oa, diff = fmt.Sprintf("%+d", mc.Orientation[i]), fmtCI(mc.OrientedAUC[i]), fmtCI(mc.AUCDiff[i])
			}
			m.row(mc.Subject.Name, det, fmtCI(mc.Familiar[i]), fmtCI(mc.Novel[i]), sg, oa, diff)
		}
	}
	m.end()
	var effects []Effect
	for _, mc := range r.Models {
		effects = append(effects, mc.Effects...)
	}
	m.effectsTable(effects, r.Level)
	m.p("Files: `critic-stimuli.csv` (per stimulus), `critic-grades.csv` (AUC per graded condition), `critic-effects.csv`, `critic-summary.csv`, `%s`.", ResultFile)
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
		dets := append(append([]string(nil), rs.Critics...), ReconDetector)
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
		"critic-effects.csv": effectsCSV(effects), "critic-summary.csv": summariesCSV(r.Summaries),
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
		fam, nov := rs.Find("mnist"), rs.Find("fashion")
		for _, det := range append(append([]string(nil), rs.Critics...), ReconDetector) {
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
