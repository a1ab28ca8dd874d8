package probe

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/eval"
	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/tensor"
)

// Development study measures (Sec. 4.4).
const (
	MeasureKLDrop = "excess KL(wake||sleep) - control, first - last checkpoint (bits)"
	MeasureKLRho  = "Spearman rho(step, KL(wake||sleep) - control)"
	// MeasureSpecificity is the specificity control at the last checkpoint:
	// sleep activity matches wake activity on the trained stimuli better
	// than on another set.
	MeasureSpecificity = "specificity: KL(other||sleep) - KL(wake||sleep), last checkpoint (bits)"
)

// specificity returns KL(other‖sleep) − KL(wake‖sleep) of an alignment.
func specificity(a *eval.AlignmentResult) float64 { return a.Other.Mean - a.WakeSleep.Mean }

// alignmentIndex returns the index of the alignment with the label, or −1.
func alignmentIndex(p DevPoint, label string) int {
	for k, a := range p.Alignments {
		if a.Options.Label() == label {
			return k
		}
	}
	return -1
}

// alignBatch is eval.Evaluate's default batch: the phases below draw the
// model's noise in the same order, so the alignments equal those of
// `wakesleep eval --n N --seed S`.
const alignBatch = 500

// WakeSleep runs the wake phase (the first n test digits, z ~ q(z|x)) and
// the sleep phase (z ~ N(0, I), x ~ p(x|z)) of a model exactly as
// eval.Evaluate does (same noise stream, batch and order; the
// reconstructions it also draws are discarded), so that eval.Alignment on
// them gives `wakesleep eval`'s numbers. It is the adapter between a
// checkpoint and the eval package's alignment, which takes phases.
func WakeSleep(m eval.Model, dt tensor.DType, pixelScale string, test *mnist.Set, n int, seed uint64) (wake, sleep eval.Phase) {
	rng := rand.New(rand.NewPCG(seed, alignStream))
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	x := test.Batch(idx, dt, pixelScale)
	var wakeZ, sleepX, sleepZ []*tensor.Tensor
	for b := 0; b < n; b += alignBatch {
		e := min(b+alignBatch, n)
		z := m.Infer(ad.Const(tensor.Slice(x, 0, b, e)), rng)
		wakeZ = append(wakeZ, z.Value)
		m.Generate(ad.Detach(z), rng) // the reconstruction eval draws here
	}
	for b := 0; b < n; b += alignBatch {
		e := min(b+alignBatch, n)
		z := m.Prior(e-b, rng)
		sleepZ = append(sleepZ, z.Value)
		sleepX = append(sleepX, m.Generate(z, rng).Value)
	}
	return eval.Phase{X: x, Z: tensor.Concat(0, wakeZ...)},
		eval.Phase{X: tensor.Concat(0, sleepX...), Z: tensor.Concat(0, sleepZ...)}
}

// otherWake returns the wake phase of the model on the first n images of
// another stimulus set (the specificity control of the alignment).
func otherWake(m eval.Model, dt tensor.DType, pixelScale string, set *mnist.Set, n int, seed uint64) eval.Phase {
	rng := rand.New(rand.NewPCG(seed, alignStream+1))
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	x := set.Batch(idx, dt, pixelScale)
	var zs []*tensor.Tensor
	for b := 0; b < n; b += alignBatch {
		zs = append(zs, m.Infer(ad.Const(tensor.Slice(x, 0, b, min(b+alignBatch, n))), rng).Value)
	}
	return eval.Phase{X: x, Z: tensor.Concat(0, zs...)}
}

// DevPoint is the alignment of one checkpoint.
type DevPoint struct {
	Subject    Info                    `json:"subject"`
	Alignments []*eval.AlignmentResult `json:"alignments"`
}

// DevelopmentResult is the development study (Sec. 4.4, after Berkes et
// al. 2011): wake/sleep alignment at checkpoints across training.
type DevelopmentResult struct {
	N       int        `json:"n"`
	Seed    uint64     `json:"seed"`
	Level   float64    `json:"level"`
	Points  []DevPoint `json:"points"`  // by run, then step; each run's initial model (step 0) first unless left out
	Effects []Effect   `json:"effects"` // per run
	// Endpoints judge each run's drop across runs (seeds), for the
	// alignments that resolve the distributions (Resolved).
	Endpoints []*Endpoint `json:"endpoints"`
	// Unresolved lists the alignments left out of the endpoints: a half's
	// missing mass ≥ MaxMissingMass at some checkpoint, where disjoint and
	// identical distributions give the same KL.
	Unresolved []string `json:"unresolved,omitempty"`
}

// Name implements Study.
func (r *DevelopmentResult) Name() string { return "development" }

// Development measures eval.Alignment (KL between the wake and sleep
// pattern histograms, after Berkes et al. 2011) at each subject of each
// run (runs[i]: the checkpoints of run i, by step), and judges each run's
// drop across runs. The loaders are called in turn, so that only one model
// is in memory at a time.
func Development(runs [][]func() (*Subject, error), test *mnist.Set, o Options) (*DevelopmentResult, error) {
	o = o.withDefaults()
	if len(runs) == 0 {
		return nil, errors.New("probe: development needs at least one run")
	}
	res := &DevelopmentResult{N: min(o.AlignN, test.N), Seed: o.Seed, Level: o.Level}
	var runEffects [][]Effect
	for _, load := range runs {
		r, err := developmentRun(load, test, o)
		if err != nil {
			return nil, err
		}
		res.Points = append(res.Points, r.Points...)
		res.Effects = append(res.Effects, r.Effects...)
		runEffects = append(runEffects, r.Effects)
	}
	res.Endpoints, res.Unresolved = developmentEndpoints(res.Points, runEffects, o)
	return res, nil
}

// developmentEndpoints: the drop of each resolved alignment, one value per
// run; the unresolved alignments are listed instead.
func developmentEndpoints(points []DevPoint, runEffects [][]Effect, o Options) (eps []*Endpoint, unresolvedLabels []string) {
	unresolved := map[string]bool{}
	for _, p := range points {
		for _, a := range p.Alignments {
			if p.Subject.Step > 0 && !a.Resolved() {
				unresolved[a.Options.Label()] = true
			}
		}
	}
	for _, ao := range o.Alignments {
		label := ao.Label()
		if unresolved[label] {
			unresolvedLabels = append(unresolvedLabels, label)
			continue
		}
		var names []string
		var vals []float64
		for _, es := range runEffects {
			for _, e := range es {
				if e.Measure == MeasureKLDrop && e.Layer == label {
					names, vals = append(names, e.Model), append(vals, e.Interval.Estimate)
				}
			}
		}
		eps = append(eps, NewEndpoint("development", MeasureKLDrop, label, 0, 1, names, vals, nil))
		// Specificity at each run's last checkpoint, against its step 0.
		names, vals = nil, nil
		var ctl, ectl []float64
		for _, run := range groupRuns(points) {
			last, first := run[len(run)-1], run[0]
			k := alignmentIndex(last, label)
			if k < 0 || !last.Alignments[k].HasOther || last.Subject.Step == 0 {
				continue
			}
			names = append(names, last.Subject.Name)
			vals = append(vals, specificity(last.Alignments[k]))
			u, v := nan, nan
			if first.Subject.Step == 0 {
				u = specificity(first.Alignments[k])
			}
			if last.Subject.Step <= EarlySteps { // a few-step run is its own control
				v = specificity(last.Alignments[k])
			}
			for _, p := range run[:len(run)-1] {
				if p.Subject.Step > 0 && p.Subject.Step <= EarlySteps {
					v = specificity(p.Alignments[k])
				}
			}
			ctl, ectl = append(ctl, u), append(ectl, v)
		}
		if len(names) > 0 {
			controls := map[string][]float64{ControlUntrained: ctl, ControlEarly: ectl}
			e := NewEndpoint("development", MeasureSpecificity, label, 0, 1, names, vals, controls)
			e.Primary = false
			eps = append(eps, e)
		}
	}
	Judge(eps, o.Level)
	return eps, unresolvedLabels
}

// developmentRun measures one run's checkpoints.
func developmentRun(load []func() (*Subject, error), test *mnist.Set, o Options) (*DevelopmentResult, error) {
	n := min(o.AlignN, test.N)
	res := &DevelopmentResult{N: n, Seed: o.Seed, Level: o.Level}
	err := eachCheckpoint("development", load, func(_ int, s *Subject) error {
		start := time.Now()
		tr := s.Trainer
		wake, sleep := WakeSleep(tr.Model, tr.Model.DType(), tr.Config.PixelScale, test, n, o.Seed)
		var other []eval.Phase
		if o.Other != nil && o.Other.N >= n {
			other = append(other, otherWake(tr.Model, tr.Model.DType(), tr.Config.PixelScale, o.Other, n, o.Seed))
		}
		p := DevPoint{Subject: s.Info()}
		for _, ao := range o.Alignments {
			a, err := eval.Alignment(wake, sleep, ao, other...)
			if err != nil {
				return err
			}
			p.Alignments = append(p.Alignments, a)
		}
		a := p.Alignments[0]
		fmt.Fprintf(o.Log, "probe: development %s step %d: KL(wake||sleep) %s %.3f ± %.3f bits (control %.3f) (%.1fs)\n",
			s.Name, tr.Step, a.Options.Label(), a.WakeSleep.Mean, a.WakeSleep.Std, a.Control.Mean, time.Since(start).Seconds())
		res.Points = append(res.Points, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Effects = developmentEffects(res.Points, o)
	return res, nil
}

// minRhoPoints is the fewest trained checkpoints for which a rank
// correlation with a bootstrap over checkpoints is reported.
const minRhoPoints = 4

// developmentEffects: for each alignment, the drop of the excess of
// KL(wake‖sleep) over its control from the first trained checkpoint
// (step > 0) to the last, paired over unit draws (the same units at every
// checkpoint), with a t-interval over draws; and, given at least
// minRhoPoints trained checkpoints, Spearman's correlation of step with
// that excess, with a bootstrap over checkpoints.
func developmentEffects(points []DevPoint, o Options) []Effect {
	var trained []DevPoint
	for _, p := range points {
		if p.Subject.Step > 0 {
			trained = append(trained, p)
		}
	}
	if len(trained) < 2 {
		return nil
	}
	name := trained[0].Subject.Name
	rng := rand.New(rand.NewPCG(o.Seed, bootstrapStream+2))
	var out []Effect
	for k := range trained[0].Alignments {
		first, last := trained[0].Alignments[k], trained[len(trained)-1].Alignments[k]
		var d []float64
		for i := range first.Draws {
			f, l := first.Draws[i], last.Draws[i]
			d = append(d, (f.WakeSleep-f.Control)-(l.WakeSleep-l.Control))
		}
		label := first.Options.Label()
		out = append(out, Effect{Model: name, Measure: MeasureKLDrop, Layer: label, Null: 0, Sign: 1, Interval: TInterval(d, o.Level)})
		if len(trained) < minRhoPoints {
			continue
		}
		steps, excess := make([]float64, len(trained)), make([]float64, len(trained))
		for i, p := range trained {
			steps[i] = float64(p.Subject.Step)
			excess[i] = p.Alignments[k].WakeSleep.Mean - p.Alignments[k].Control.Mean
		}
		s, e := make([]float64, len(trained)), make([]float64, len(trained))
		out = append(out, Effect{Model: name, Measure: MeasureKLRho, Layer: label, Null: 0, Sign: -1,
			Interval: Bootstrap(len(trained), func(idx []int) float64 {
				for j, i := range idx {
					s[j], e[j] = steps[i], excess[i]
				}
				return Spearman(s, e)
			}, o.Bootstrap, o.Level, rng)})
	}
	return out
}

// Findings implements Study: one line per endpoint, and one per
// alignment left out for want of resolution.
func (r *DevelopmentResult) Findings() []Finding {
	var out []Finding
	for _, e := range r.Endpoints {
		out = append(out, e.Finding(fmt.Sprintf("wake and sleep distributions align over development (%s units): %s", e.Layer, e.Measure)))
	}
	for _, l := range r.Unresolved {
		out = append(out, Finding{Study: r.Name(), Prediction: fmt.Sprintf("wake and sleep distributions align over development (%s units)", l),
			Effect: fmt.Sprintf("not judged: missing mass ≥ %g at some checkpoint (the estimator cannot tell distributions apart)", eval.MaxMissingMass), Verdict: Inconclusive})
	}
	return out
}

// runs returns the points grouped by run (consecutive points of one name).
func (r *DevelopmentResult) runs() [][]DevPoint { return groupRuns(r.Points) }

func groupRuns(points []DevPoint) [][]DevPoint {
	var out [][]DevPoint
	for i, p := range points {
		if i == 0 || p.Subject.Name != points[i-1].Subject.Name {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], p)
	}
	return out
}

// Write implements Study.
func (r *DevelopmentResult) Write(dir string) error {
	if err := mkdir(dir); err != nil {
		return err
	}
	pts := newTable("model", "step", "epochs", "alignment", "kl_wake_sleep", "kl_wake_sleep_sd", "kl_sleep_wake", "kl_sleep_wake_sd",
		"control", "control_sd", "sleep_control", "wake_missing_mass", "sleep_missing_mass", "resolved",
		"pair_shuffle", "independent_units", "xz_information_bits", "kl_other_sleep", "perm_z", "perm_p")
	draws := newTable("model", "step", "alignment", "draw", "kl_wake_sleep", "kl_sleep_wake", "control", "sleep_control",
		"pair_shuffle", "independent_units", "xz_information_bits", "kl_other_sleep", "perm_z", "perm_p")
	for _, p := range r.Points {
		for _, a := range p.Alignments {
			pts.add(p.Subject.Name, p.Subject.Step, p.Subject.Epochs(), a.Options.Label(), a.WakeSleep.Mean, a.WakeSleep.Std, a.SleepWake.Mean, a.SleepWake.Std,
				a.Control.Mean, a.Control.Std, a.SleepControl.Mean, a.WakeMissing.Mean, a.SleepMissing.Mean, a.Resolved(),
				a.PairShuffle.Mean, a.IndepShuffle.Mean, a.Information.Mean, map[bool]float64{true: a.Other.Mean, false: nan}[a.HasOther], a.PermZ.Mean, a.PermP.Mean)
			for i, d := range a.Draws {
				draws.add(p.Subject.Name, p.Subject.Step, a.Options.Label(), i, d.WakeSleep, d.SleepWake, d.Control, d.SleepControl,
					d.PairShuffle, d.IndepShuffle, d.Information, d.Other, d.PermZ, d.PermP)
			}
		}
	}
	for name, t := range map[string]*table{"development.csv": pts, "development-draws.csv": draws, "development-effects.csv": effectsCSV(r.Effects),
		"development-endpoints.csv": endpointsCSV(r.Endpoints)} {
		if err := t.write(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	var panels []*imaging.Plot
	for k := range r.Points[0].Alignments {
		label := r.Points[0].Alignments[k].Options.Label()
		p := &imaging.Plot{Title: "Wake/sleep alignment over training, " + label, XLabel: "training step",
			YLabel: "KL in bits (mean, +-1 sd over unit draws)", Width: 560, Height: 420}
		series := []struct {
			name string
			get  func(a *eval.AlignmentResult) eval.Stat
		}{
			{"KL(wake||sleep)", func(a *eval.AlignmentResult) eval.Stat { return a.WakeSleep }},
			{"KL(sleep||wake)", func(a *eval.AlignmentResult) eval.Stat { return a.SleepWake }},
			{"control: wake half vs half", func(a *eval.AlignmentResult) eval.Stat { return a.Control }},
		}
		for ri, run := range r.runs() {
			for si, s := range series {
				var x, y, lo, hi []float64
				for _, pt := range run {
					st := s.get(pt.Alignments[k])
					x, y = append(x, float64(pt.Subject.Step)), append(y, st.Mean)
					lo, hi = append(lo, st.Mean-st.Std), append(hi, st.Mean+st.Std)
				}
				c := seriesColor(ri*len(series) + si)
				span := x[len(x)-1] - x[0]
				x = dodge(x, ri*len(series)+si, len(r.runs())*len(series), 0.008*span)
				capW := 0.005 * span
				label := s.name
				if len(r.runs()) > 1 {
					label = ascii(run[0].Subject.Name) + " " + s.name
				}
				p.Series = append(p.Series, imaging.Series{Label: label, X: x, Y: y, Color: c}, errorBars(x, lo, hi, capW, c))
			}
		}
		panels = append(panels, p)
	}
	if err := savePanels(filepath.Join(dir, "development.png"), panels...); err != nil {
		return err
	}

	var m md
	m.p("# Alignment over development (Sec. 4.4, after Berkes et al. 2011)")
	m.p("Prediction: the distributions of activity in the externally driven (wake) and internally generated (sleep) phases \"should align over development\".")
	m.p("## Definitions")
	m.p("At each checkpoint of one run: wake = the first %d MNIST test digits x with z ~ q(z|x); sleep = z ~ N(0, I) with x ~ p(x|z) (seed %d). Both are passed to the eval package's `Alignment` (the measure of `wakesleep eval`, and the numbers equal `wakesleep eval --n %d --seed %d` on the same checkpoint): x and z rounded to the nearest integer, patterns over a seeded draw of units counted in each phase, KL(wake‖sleep) in bits between the pattern histograms (smoothing α = ½), averaged over two independent halves, beside the control (the same estimate between two halves of the wake samples: the estimator's floor). The same unit draws are used at every checkpoint.", r.N, r.Seed, r.N, r.Seed)
	m.p("Effects, on the excess KL(wake‖sleep) − control (the control drifts as the wake latents change, so the raw KL would mix the two): (1) its drop from the first trained checkpoint to the last, paired over unit draws, Student-t %g%% interval over draws; (2) with at least 4 trained checkpoints, Spearman's correlation between training step and the excess, percentile bootstrap over checkpoints (predicted negative). The paper's 8 + 8 units leave most patterns seen once at these sample sizes (missing mass near 1: see `wakesleep eval`), so that alignment sits at the estimator's floor; the coarser 4 + 2 alignment resolves differences. The initial model (step 0, rebuilt from the run's seed) is shown for reference when present but is not part of the effects: its misalignment is trivially large. The command line adds each run's few-step control (the same seed after %d steps, shown at that step), which is then the first trained checkpoint of the drop; the specificity endpoint (secondary) must beat both step 0 and that control.", 100*r.Level, EarlySteps)
	m.p("## Verdicts over runs")
	m.p(judgingText)
	m.p("Only alignments whose halves' Good–Turing missing mass stays below %g at every trained checkpoint are judged: above it, disjoint and identical distributions give the same KL.", eval.MaxMissingMass)
	if len(r.Endpoints) > 0 {
		m.endpointsTable(r.Endpoints)
	}
	if len(r.Unresolved) > 0 {
		m.p("Not judged (unresolved): %v.", r.Unresolved)
	}
	m.p("## Checkpoints")
	m.p("Controls per checkpoint (see `wakesleep eval`): the x–z pairing shuffle and the independent-units shuffle of a wake half (positive controls: far above the wake/wake control when the estimator sees joint structure), the information of the drawn latents about the drawn pixels (bits, bias removed), KL(other‖sleep) for wake activity on Fashion-MNIST (specificity; when the Fashion-MNIST set is at hand), and the per-draw phase-label permutation null as a z-score. The ± is the spread over unit draws, not sampling error.")
	m.tableHead("run", "step", "epochs", "alignment", "KL(wake‖sleep)", "KL(sleep‖wake)", "control", "missing mass wake / sleep",
		"pairing shuffle", "independent units", "information (bits)", "KL(other‖sleep)", "permutation z")
	for _, p := range r.Points {
		for _, a := range p.Alignments {
			m.row(p.Subject.Name, fmt.Sprint(p.Subject.Step), fmt.Sprintf("%.2f", p.Subject.Epochs()), a.Options.Label(),
				fmt.Sprintf("%.3f ± %.3f", a.WakeSleep.Mean, a.WakeSleep.Std), fmt.Sprintf("%.3f ± %.3f", a.SleepWake.Mean, a.SleepWake.Std),
				fmt.Sprintf("%.3f ± %.3f", a.Control.Mean, a.Control.Std), fmt.Sprintf("%.2f / %.2f", a.WakeMissing.Mean, a.SleepMissing.Mean),
				fmt.Sprintf("%.3f", a.PairShuffle.Mean), fmt.Sprintf("%.3f", a.IndepShuffle.Mean), fmt.Sprintf("%.3f", a.Information.Mean),
				map[bool]string{true: fmt.Sprintf("%.3f", a.Other.Mean), false: "—"}[a.HasOther], fmt.Sprintf("%.2f ± %.2f", a.PermZ.Mean, a.PermZ.Std))
		}
	}
	m.end()
	m.p("![development](development.png)")
	m.p("## Effects")
	if len(r.Effects) == 0 {
		m.p("Fewer than two trained checkpoints: no trend can be measured.")
	} else {
		m.effectsTable(r.Effects, r.Level)
	}
	m.p("Files: `development.csv` (per checkpoint), `development-draws.csv` (per unit draw), `development-effects.csv`, `%s`.", ResultFile)
	return writeStudy(dir, r, m.Bytes())
}
