package probe

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"time"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/data/mnist"
	mnistexp "github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/tensor"
	"github.com/wakesleep/wakesleep/train"
)

// Silencing study statistics of the wake-phase latents.
const (
	StatMeanAbs  = "mean |z|"
	StatVariance = "variance"
)

// SilencePair loads a perturbed model and its control at the same step,
// and optionally a sham-perturbed model at that step: a run of the same
// config and seed trained with the silenced units redrawn from the prior
// instead (objective.Settings.ShamSleepZ), a manipulation that should move
// no unit.
type SilencePair struct {
	Perturbed, Control func() (*Subject, error)
	Sham               func() (*Subject, error) // nil: no sham
}

// SilencePoint compares a perturbed model with its control at one step.
type SilencePoint struct {
	Perturbed Info `json:"perturbed"`
	Control   Info `json:"control"`
	// Per-unit wake statistics of each model (E|z_u|, Var z_u).
	PerturbedUnits UnitMoments `json:"perturbed_units"`
	ControlUnits   UnitMoments `json:"control_units"`
	// Ratios silenced/other units of each statistic, and their difference
	// perturbed − control, with paired bootstrap intervals over stimuli.
	PerturbedRatio map[string]Interval `json:"perturbed_ratio"`
	ControlRatio   map[string]Interval `json:"control_ratio"`
	Effects        []Effect            `json:"effects"`
	// Null is the permutation null over random unit sets of the same size
	// (NullSets of them), per statistic: the effect's mean and standard
	// deviation over those sets, the silenced set's z-score against them,
	// and the one-sided permutation p-value (1 + #{null ≤ effect})/(1 + sets).
	Null map[string]UnitSetNull `json:"unit_set_null"`
	// Sham compares the sham-perturbed run with the same control on the
	// same units S, as this point compares the perturbed run (its
	// Perturbed is the sham run); nil without a sham.
	Sham *SilencePoint `json:"sham,omitempty"`
}

// UnitSetNull is the effect of random unit sets.
type UnitSetNull struct {
	Sets int     `json:"sets"`
	Mean float64 `json:"mean"`
	SD   float64 `json:"sd"`
	Z    float64 `json:"z"`
	P    float64 `json:"p"`
}

// NullSets is the number of random unit sets of the silencing null.
const NullSets = 200

// SilencingResult is the phase-silencing study (Sec. 4.4).
type SilencingResult struct {
	Silenced  []int          `json:"silenced"`
	N         int            `json:"n"`
	Seed      uint64         `json:"seed"`
	Level     float64        `json:"level"`
	Bootstrap int            `json:"bootstrap"`
	Points    []SilencePoint `json:"points"` // by pair of runs, then step; each pair's last is its headline
	Mismatch  []string       `json:"config_mismatch,omitempty"`
	// Endpoints judge each pair's last step across pairs (seeds), against
	// the random-unit-set null and, with sham runs, the sham perturbation.
	Endpoints []*Endpoint `json:"endpoints"`
}

// Name implements Study.
func (r *SilencingResult) Name() string { return "silencing" }

// wakeLatents returns z ~ q(z|x) [N, Z] for the first n test digits.
func wakeLatents(s *Subject, test *mnist.Set, n, batch int, seed uint64) *tensor.Tensor {
	m := s.Trainer.Model
	rng := rand.New(rand.NewPCG(seed, silenceStream))
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	x := test.Batch(idx, m.DType(), s.Trainer.Config.PixelScale)
	var zs []*tensor.Tensor
	for b := 0; b < n; b += batch {
		e := min(b+batch, n)
		zs = append(zs, m.Infer(ad.Const(tensor.Slice(x, 0, b, e)), rng).Value)
	}
	return tensor.Concat(0, zs...)
}

// unitStat returns the named statistic of each unit.
func unitStat(m UnitMoments, stat string) []float64 {
	if stat == StatVariance {
		return m.Variance
	}
	return m.MeanAbs
}

// configMismatch lists the fields in which two runs' configs differ, other
// than the silenced and sham units and the bookkeeping fields.
func configMismatch(p, c *Subject) []string {
	a, b := *p.Trainer.Config, *c.Trainer.Config
	for _, x := range []*mnistexp.Config{&a, &b} {
		x.Objective.SilenceSleepZ, x.Objective.ShamSleepZ = nil, nil
		x.Settings = bookkeeping(x.Settings)
	}
	return fieldMismatch(reflect.ValueOf(a), reflect.ValueOf(b))
}

// bookkeeping returns s without the fields that do not change what a run
// learns by a given step: logging, checkpointing and the training length.
func bookkeeping(s train.Settings) train.Settings {
	s.LogEvery, s.CheckpointEvery, s.KeepCheckpoints, s.Epochs = 0, 0, 0, 0
	return s
}

// fieldMismatch names the fields in which two structs of one type differ,
// embedded structs (the shared run settings) field by field.
func fieldMismatch(va, vb reflect.Value) []string {
	var out []string
	for i := 0; i < va.NumField(); i++ {
		if va.Type().Field(i).Anonymous {
			out = append(out, fieldMismatch(va.Field(i), vb.Field(i))...)
		} else if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, va.Type().Field(i).Name)
		}
	}
	return out
}

// ErrNotSilenced is returned when the perturbed run silenced no unit, or
// the control did.
var ErrNotSilenced = errors.New("probe: silencing needs a run trained with --silence-z and a control without it")

// ErrNotSham is returned when a sham run does not redraw exactly the
// perturbed run's silenced units, or silences some, or when the perturbed
// run or the control has sham units of its own.
var ErrNotSham = errors.New("probe: silencing: the sham run must be trained with --sham-z listing exactly the silenced units and no --silence-z, and neither the perturbed run nor the control with --sham-z")

// checkSham reports whether the runs of a pair fit the sham design: the
// perturbed run and the control have no sham units, and the sham run (nil:
// none) redraws exactly the silenced units sil and silences none.
func checkSham(p, c, sh *Subject, sil []int) error {
	for _, r := range []*Subject{p, c} {
		if u := r.Trainer.Config.Objective.ShamSleepZ; len(u) > 0 {
			return fmt.Errorf("%w: %s shams units %v", ErrNotSham, r.Path, u)
		}
	}
	if sh == nil {
		return nil
	}
	o := sh.Trainer.Config.Objective
	if len(o.SilenceSleepZ) > 0 || !slices.Equal(slices.Sorted(slices.Values(o.ShamSleepZ)), slices.Sorted(slices.Values(sil))) {
		return fmt.Errorf("%w: sham %s shams %v and silences %v; %s silences %v", ErrNotSham, sh.Path, o.ShamSleepZ, o.SilenceSleepZ, p.Path, sil)
	}
	return nil
}

// Silencing compares the wake-phase latents of a run trained with some
// latent units silenced in the sleep phase (objective.Settings.SilenceSleepZ)
// with those of a control run, at one or more matched steps, and those of a
// sham run with the same control where the pairs have one (every pair or
// none).
func Silencing(pairs []SilencePair, test *mnist.Set, o Options) (*SilencingResult, error) {
	o = o.withDefaults()
	if len(pairs) == 0 {
		return nil, errors.New("probe: silencing needs a perturbed and a control checkpoint")
	}
	n := min(o.N, test.N)
	res := &SilencingResult{N: n, Seed: o.Seed, Level: o.Level, Bootstrap: o.Bootstrap}
	for i, pr := range pairs {
		p, err := pr.Perturbed()
		if err != nil {
			return nil, err
		}
		c, err := pr.Control()
		if err != nil {
			return nil, err
		}
		sil := p.Trainer.Config.Objective.SilenceSleepZ
		if len(sil) == 0 || len(c.Trainer.Config.Objective.SilenceSleepZ) > 0 {
			return nil, fmt.Errorf("%w: %s silences %v, control %s silences %v", ErrNotSilenced, p.Path, sil, c.Path, c.Trainer.Config.Objective.SilenceSleepZ)
		}
		if (pr.Sham == nil) != (pairs[0].Sham == nil) {
			return nil, fmt.Errorf("probe: silencing: pair %d (%s) has a sham run and the first pair has not, or the other way round: give a sham for every pair or for none", i+1, p.Path)
		}
		var sh *Subject
		if pr.Sham != nil {
			if sh, err = pr.Sham(); err != nil {
				return nil, err
			}
		}
		if err := checkSham(p, c, sh, sil); err != nil {
			return nil, err
		}
		if res.Silenced == nil {
			res.Silenced = sil
			res.Mismatch = configMismatch(p, c)
			if sh != nil {
				for _, f := range configMismatch(sh, c) {
					res.Mismatch = append(res.Mismatch, f+" (sham)")
				}
			}
		} else if fmt.Sprint(sil) != fmt.Sprint(res.Silenced) {
			return nil, fmt.Errorf("probe: silencing: %s silences %v, the first pair %v: every pair must silence the same units", p.Path, sil, res.Silenced)
		}
		start := time.Now()
		pt := comparePair(p, c, sh, sil, test, n, o)
		res.Points = append(res.Points, pt)
		fmt.Fprintf(o.Log, "probe: silencing step %d/%d: mean|z| silenced/other %s (perturbed) vs %s (control)",
			p.Trainer.Step, c.Trainer.Step, fmtCI(pt.PerturbedRatio[StatMeanAbs]), fmtCI(pt.ControlRatio[StatMeanAbs]))
		if pt.Sham != nil {
			fmt.Fprintf(o.Log, ", %s (sham, step %d)", fmtCI(pt.Sham.PerturbedRatio[StatMeanAbs]), pt.Sham.Perturbed.Step)
		}
		fmt.Fprintf(o.Log, " (%.1fs)\n", time.Since(start).Seconds())
	}
	res.Endpoints = silencingEndpoints(res.Points, o.Level)
	return res, nil
}

// ControlSham names the sham perturbation among a silencing endpoint's
// controls.
const ControlSham = "sham perturbation"

// silencingEndpoints: per statistic, each pair's effect at its last step,
// one value per pair of runs, against the random-unit-set null and, when
// every pair has one, the sham run's effect in the same pair; judged.
func silencingEndpoints(points []SilencePoint, level float64) []*Endpoint {
	eps := unitEndpoints(points, LayerZ, true)
	Judge(eps, level)
	return eps
}

// unitEndpoints returns silencingEndpoints' endpoints of points measured in
// one layer, primary or secondary, not yet judged.
func unitEndpoints(points []SilencePoint, layer string, primary bool) []*Endpoint {
	last := map[string]int{}
	var order []string
	for i, p := range points {
		k := p.Perturbed.Name + " vs " + p.Control.Name
		if _, ok := last[k]; !ok {
			order = append(order, k)
		}
		last[k] = i
	}
	shams := true
	for _, k := range order {
		shams = shams && points[last[k]].Sham != nil
	}
	var eps []*Endpoint
	for si, stat := range []string{StatMeanAbs, StatVariance} {
		var vals, null, sham []float64
		for _, k := range order {
			p := points[last[k]]
			vals = append(vals, p.Effects[si].Interval.Estimate)
			null = append(null, p.Null[stat].Mean)
			if shams {
				sham = append(sham, p.Sham.Effects[si].Interval.Estimate)
			}
		}
		controls := map[string][]float64{"random unit sets (" + ControlPermuted + ")": null}
		if shams {
			controls[ControlSham] = sham
		}
		e := NewEndpoint("silencing", points[0].Effects[si].Measure, layer, 0, -1, order, vals, controls)
		e.Primary = primary
		eps = append(eps, e)
	}
	return eps
}

// unitSetNull returns the effect (perturbed − control ratio of stat) for
// NullSets random sets of k units, against the silenced set's effect d.
func unitSetNull(pm, cm []float64, k int, d float64, rng *rand.Rand) UnitSetNull {
	n := len(pm)
	vals := make([]float64, NullSets)
	le := 0
	for r := range vals {
		set := mnist.Permutation(rng, n)[:k]
		vals[r] = GroupRatio(pm, set) - GroupRatio(cm, set)
		if vals[r] <= d {
			le++
		}
	}
	u := UnitSetNull{Sets: NullSets, Mean: Mean(vals), SD: StdDev(vals), P: float64(1+le) / float64(1+NullSets)}
	u.Z = (d - u.Mean) / math.Max(u.SD, 1e-12)
	return u
}

// comparePair compares the perturbed model p and, if not nil, the sham
// model sh with the control c on the silenced units sil.
func comparePair(p, c, sh *Subject, sil []int, test *mnist.Set, n int, o Options) SilencePoint {
	zp := wakeLatents(p, test, n, o.Batch, o.Seed)
	zc := wakeLatents(c, test, n, o.Batch, o.Seed)
	pt := compareLatents(p.Info(), c.Info(), zp, zc, sil, LayerZ, o)
	if sh != nil {
		s := compareLatents(sh.Info(), c.Info(), wakeLatents(sh, test, n, o.Batch, o.Seed), zc, sil, LayerZ, o)
		pt.Sham = &s
	}
	return pt
}

// LayerZ labels the MNIST model's latent layer in the silencing study.
const LayerZ = "z (wake)"

// compareLatents compares the wake latents zp of a perturbed model with
// those zc of its control, [N, Z] or a convolutional layer's [N, C, H, W]
// (a unit per channel, Moments), row i of both driven by the same
// stimulus; layer labels the effects.
func compareLatents(p, c Info, zp, zc *tensor.Tensor, sil []int, layer string, o Options) SilencePoint {
	n := zp.Dim(0)
	sp, sc := sumsOf(zp), sumsOf(zc)
	pt := SilencePoint{Perturbed: p, Control: c, PerturbedUnits: sp.moments(nil), ControlUnits: sc.moments(nil),
		PerturbedRatio: map[string]Interval{}, ControlRatio: map[string]Interval{}, Null: map[string]UnitSetNull{}}
	rng := rand.New(rand.NewPCG(o.Seed, bootstrapStream+3))
	nrng := rand.New(rand.NewPCG(o.Seed, silenceStream+1))
	for _, stat := range []string{StatMeanAbs, StatVariance} {
		// One paired bootstrap over stimuli (the same digits drive both
		// models) gives all three intervals.
		var rp, rc, d []float64
		boot := func(idx []int) (float64, float64) {
			a := GroupRatio(unitStat(sp.moments(idx), stat), sil)
			b := GroupRatio(unitStat(sc.moments(idx), stat), sil)
			return a, b
		}
		a0, b0 := boot(nil)
		idx := make([]int, n)
		for k := 0; k < o.Bootstrap; k++ {
			for i := range idx {
				idx[i] = rng.IntN(n)
			}
			a, b := boot(idx)
			rp, rc, d = append(rp, a), append(rc, b), append(d, a-b)
		}
		q := (1 - o.Level) / 2
		ci := func(est float64, v []float64) Interval { return Interval{est, Percentile(v, q), Percentile(v, 1-q)} }
		pt.PerturbedRatio[stat] = ci(a0, rp)
		pt.ControlRatio[stat] = ci(b0, rc)
		pt.Effects = append(pt.Effects, Effect{Model: fmt.Sprintf("%s vs %s @%d", p.Name, c.Name, p.Step),
			Measure: "silenced/other ratio of " + stat + ", perturbed - control", Layer: layer, Null: 0, Sign: -1, Interval: ci(a0-b0, d)})
		pt.Null[stat] = unitSetNull(unitStat(pt.PerturbedUnits, stat), unitStat(pt.ControlUnits, stat), len(sil), a0-b0, nrng)
	}
	return pt
}

// namedMoments are one run's per-unit wake moments.
type namedMoments struct {
	name string
	m    UnitMoments
}

// runMoments returns the per-unit wake moments of the control, the
// perturbed run and, if there is one, the sham run.
func (p *SilencePoint) runMoments() []namedMoments {
	out := []namedMoments{{"control", p.ControlUnits}, {"perturbed", p.PerturbedUnits}}
	if p.Sham != nil {
		out = append(out, namedMoments{"sham", p.Sham.PerturbedUnits})
	}
	return out
}

// armNames name the comparisons of arms.
var armNames = []string{"silenced", "sham"}

// arms returns the point's comparisons with the control: the perturbed
// run's (p itself) and, if there is one, the sham run's.
func (p *SilencePoint) arms() []*SilencePoint {
	if p.Sham == nil {
		return []*SilencePoint{p}
	}
	return []*SilencePoint{p, p.Sham}
}

// Findings implements Study: the endpoints across pairs of runs.
func (r *SilencingResult) Findings() []Finding {
	var out []Finding
	for _, e := range r.Endpoints {
		out = append(out, e.Finding(fmt.Sprintf("silencing units in sleep drags their wake activity toward silence: %s", e.Measure)))
	}
	return out
}

// Write implements Study.
func (r *SilencingResult) Write(dir string) error {
	if err := mkdir(dir); err != nil {
		return err
	}
	in := map[int]bool{}
	for _, u := range r.Silenced {
		in[u] = true
	}
	shams := r.Points[0].Sham != nil // every point has a sham or none (Silencing)
	units := newTable("step", "model", "unit", "silenced", "mean_abs", "mean", "variance")
	// arm: "silenced" rows compare the perturbed run with its control,
	// "sham" rows the sham run (in the perturbed column) with the same one.
	pts := newTable("arm", "perturbed", "control", "step", "statistic", "ratio_perturbed", "lo", "hi", "ratio_control", "lo", "hi", "difference", "lo", "hi",
		"null_mean", "null_sd", "null_z", "null_p")
	var effects []Effect
	for _, p := range r.Points {
		for _, mu := range p.runMoments() {
			for u := range mu.m.MeanAbs {
				units.add(p.Perturbed.Step, mu.name, u, in[u], mu.m.MeanAbs[u], mu.m.Mean[u], mu.m.Variance[u])
			}
		}
		for k, q := range p.arms() {
			for i, stat := range []string{StatMeanAbs, StatVariance} {
				a, b, e := q.PerturbedRatio[stat], q.ControlRatio[stat], q.Effects[i]
				nl := q.Null[stat]
				pts.add(armNames[k], q.Perturbed.Name, q.Control.Name, q.Perturbed.Step, stat, a.Estimate, a.Lo, a.Hi, b.Estimate, b.Lo, b.Hi, e.Interval.Estimate, e.Interval.Lo, e.Interval.Hi,
					nl.Mean, nl.SD, nl.Z, nl.P)
			}
			effects = append(effects, q.Effects...)
		}
	}
	for name, t := range map[string]*table{"silencing-units.csv": units, "silencing.csv": pts, "silencing-effects.csv": effectsCSV(effects),
		"silencing-endpoints.csv": endpointsCSV(r.Endpoints)} {
		if err := t.write(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	last := r.Points[len(r.Points)-1]
	var panels []*imaging.Plot
	for _, stat := range []string{StatMeanAbs, StatVariance} {
		p := &imaging.Plot{Title: fmt.Sprintf("Wake %s per latent unit, step %d", stat, last.Perturbed.Step), XLabel: "latent unit",
			YLabel: stat + " of wake z, from q(z|x)", Width: 560, Height: 420}
		for k, mu := range last.runMoments() {
			var xs, ys, xo, yo []float64
			for u, v := range unitStat(mu.m, stat) {
				if in[u] {
					xs, ys = append(xs, float64(u)), append(ys, v)
				} else {
					xo, yo = append(xo, float64(u)), append(yo, v)
				}
			}
			p.Series = append(p.Series,
				imaging.Series{Label: mu.name + ", silenced units", X: xs, Y: ys, Scatter: true, Color: seriesColor(2 * k)},
				imaging.Series{Label: mu.name + ", other units", X: xo, Y: yo, Scatter: true, Color: seriesColor(2*k + 1)})
		}
		panels = append(panels, p)
	}
	if err := savePanels(filepath.Join(dir, "silencing-units.png"), panels...); err != nil {
		return err
	}
	if len(r.Points) > 1 {
		p := &imaging.Plot{Title: "Silenced/other ratio of wake mean |z| over training", XLabel: "training step",
			YLabel: "ratio (95% bootstrap CI)", Width: 640, Height: 440}
		lines := []string{"control", "perturbed"}
		if shams {
			lines = append(lines, "sham")
		}
		for k, which := range lines {
			var x, y, lo, hi []float64
			for _, pt := range r.Points {
				iv := pt.ControlRatio[StatMeanAbs]
				switch which {
				case "perturbed":
					iv = pt.PerturbedRatio[StatMeanAbs]
				case "sham":
					iv = pt.Sham.PerturbedRatio[StatMeanAbs]
				}
				x, y = append(x, float64(pt.Perturbed.Step)), append(y, iv.Estimate)
				lo, hi = append(lo, iv.Lo), append(hi, iv.Hi)
			}
			c := seriesColor(k)
			span := x[len(x)-1] - x[0]
			x = dodge(x, k, len(lines), 0.008*span)
			p.Series = append(p.Series, imaging.Series{Label: which, X: x, Y: y, Color: c}, errorBars(x, lo, hi, 0.005*span, c))
		}
		if err := p.SavePNG(filepath.Join(dir, "silencing-course.png")); err != nil {
			return err
		}
	}

	var m md
	m.p("# Phase-silencing perturbation (Sec. 4.4)")
	m.p("Prediction: \"one could selectively silence activity during a stage of sleep or half of an oscillatory cycle [...] This perturbs the generative distribution. One could then observe if activity changes in the waking or opposing phase to match that perturbed distribution.\"")
	m.p("## Definitions")
	m.p("Perturbation: during training, the latent units S = %v (%d of %d) are held at zero in the sleep phase (z ~ N(0, I) with z_S := 0, then x ~ p(x|z); `wakesleep train --silence-z`, objective.Settings.SilenceSleepZ). For the top layer the top-down half of the oscillation is the same prior sample, so this silences the top-down phase of z as well. The perturbed distribution of z_S is therefore a point mass at 0. The control is a run with the same configuration and seed and no silencing.",
		r.Silenced, len(r.Silenced), len(last.ControlUnits.MeanAbs))
	if shams {
		m.p("Sham perturbation: a third run of the same configuration and seed, trained with the same units S redrawn in the sleep phase from a fresh, independent N(0, 1) (`wakesleep train --sham-z`, objective.Settings.ShamSleepZ). The prior it trains against is unchanged, but the same units go through a manipulation and its noise stream differs from the control's, so it measures what a perturbation that should move no unit does to the ratio: training noise between two runs of one seed, and any artefact of manipulating S. Its effect is ratio(sham) − ratio(control), computed as the perturbed run's.")
	}
	m.p("Measurement: the wake (bottom-up) phase z ~ q(z|x) on the first %d MNIST test digits, in each model. Per unit u: E|z_u| and Var z_u. The ratio of the mean over silenced units to the mean over the other units measures how the silenced units' wake activity compares with that of their neighbours (≈ 1 in the control, whose units are exchangeable). The effect size is ratio(perturbed) − ratio(control): negative if wake activity of the silenced units moved toward the perturbed (silent) distribution. Intervals: %g%% percentile bootstrap over stimuli, paired (the same resampled digits drive both models), %d resamples.", r.N, 100*r.Level, r.Bootstrap)
	if len(r.Mismatch) > 0 {
		m.p("**Warning**: the perturbed and control runs differ in more than the silenced units: %v.", r.Mismatch)
	}
	m.p("## Models")
	var infos []Info
	for _, p := range r.Points {
		infos = append(infos, p.Perturbed, p.Control)
		if p.Sham != nil {
			infos = append(infos, p.Sham.Perturbed)
		}
	}
	m.subjectsTable(infos)
	m.p("## Verdicts over pairs of runs")
	controls := fmt.Sprintf("Controls: the permutation null over %d random sets of %d latent units (the same size as S), the effect computed for each in the same pair; the silenced set must beat its mean in every pair (paired margin over pairs).", NullSets, len(r.Silenced))
	notDone := "Not done here: a sham perturbation (a run trained with a perturbation that should not move any unit) and the hierarchical version of the paper"
	if shams {
		controls += " The sham perturbation: the perturbed run's effect must be more negative than the sham run's of the same seed, by a paired margin over pairs."
		notDone = "Not done here: the hierarchical version of the paper"
	}
	m.p("%s Note that the effect is nearly built in: the z critic compares wake z against the silenced prior, so the encoder is trained directly to zero those units; the null shows that the effect is specific to S, not that it arises through the generative model. %s (silence the top-down phase of one CIFAR-10 layer and measure the bottom-up activity of it and the layer above): this study runs it on CIFAR-10 runs trained with `--silence-layer`, `--silence-channels` (LayerSilencing), which need a CIFAR-10 model worth probing.", controls, notDone)
	m.p(judgingText)
	m.endpointsTable(r.Endpoints)
	m.p("## Results")
	if shams {
		m.p("Rows marked (sham) compare the sham run with the same control: its ratio stands in the perturbed column.")
	}
	m.tableHead("pair", "step", "statistic", "ratio silenced/other, perturbed", "ratio, control", "difference (effect)", "random unit sets: mean ± sd", "z", "permutation p")
	for _, p := range r.Points {
		for k, q := range p.arms() {
			pair := q.Perturbed.Name + " vs " + q.Control.Name
			if k > 0 {
				pair += " (sham)"
			}
			for i, stat := range []string{StatMeanAbs, StatVariance} {
				e := q.Effects[i]
				nl := q.Null[stat]
				m.row(pair, fmt.Sprint(q.Perturbed.Step), stat, fmtCI(q.PerturbedRatio[stat]), fmtCI(q.ControlRatio[stat]), fmtCI(e.Interval),
					fmt.Sprintf("%s ± %s", fmtG(nl.Mean), fmtG(nl.SD)), fmtG(nl.Z), fmtG(nl.P))
			}
		}
	}
	m.end()
	fraction := func(q *SilencePoint) float64 {
		return 1 - q.PerturbedRatio[StatMeanAbs].Estimate/q.ControlRatio[StatMeanAbs].Estimate
	}
	m.p("Fraction of the way to the perturbed distribution at step %d (1 − ratio_perturbed / ratio_control, mean |z|): %.3f.", last.Perturbed.Step, fraction(&last))
	if shams {
		m.p("The same for the sham run at step %d (1 − ratio_sham / ratio_control): %.3f.", last.Sham.Perturbed.Step, fraction(last.Sham))
	}
	m.p("![per-unit](silencing-units.png)")
	if len(r.Points) > 1 {
		m.p("![course](silencing-course.png)")
	}
	m.p("Files: `silencing.csv` (ratios per step), `silencing-units.csv` (per unit), `silencing-effects.csv`, `%s`.", ResultFile)
	return writeStudy(dir, r, m.Bytes())
}
