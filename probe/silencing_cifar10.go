package probe

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"time"

	ad "github.com/wakesleep/wakesleep/autodiff"
	cifardata "github.com/wakesleep/wakesleep/data/cifar10"
	cifarexp "github.com/wakesleep/wakesleep/experiment/cifar10"
	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/objective"
	"github.com/wakesleep/wakesleep/tensor"
	"github.com/wakesleep/wakesleep/train"
)

// This file holds the hierarchical version of the silencing study (Sec.
// 4.4) on the CIFAR-10 model: channels S of one hidden layer k silenced in
// its top-down phase during training (objective.Settings.SilenceLayer,
// SilenceChannels), and the bottom-up activity of layer k and of the layer
// above, k+1, measured against a control run and a sham run.

// CIFARSubject is one trained CIFAR-10 model under study.
type CIFARSubject struct {
	Name    string // label: the run folder's name
	Path    string // checkpoint file
	Trainer *cifarexp.Trainer
}

// LoadCIFAR reads a CIFAR-10 checkpoint file, or the newest good
// checkpoint of a run folder (a warning about newer corrupt ones goes to
// warn; nil: discarded). The subject is named after the folder holding the
// checkpoint.
func LoadCIFAR(path string, warn io.Writer) (*CIFARSubject, error) {
	if warn == nil {
		warn = io.Discard
	}
	tr, file, err := train.Registry{cifarexp.Experiment}.Open(path, warn)
	if err != nil {
		return nil, err
	}
	t, err := cifarexp.View(tr)
	if err != nil {
		return nil, err
	}
	return &CIFARSubject{Name: filepath.Base(filepath.Dir(file)), Path: file, Trainer: t}, nil
}

// Info returns the subject's description: its silenced (or sham) channels
// stand in Silenced (Sham), their layer in SilenceLayer.
func (s *CIFARSubject) Info() Info {
	c := s.Trainer.Config
	o := c.Objective
	return Info{Name: s.Name, Path: s.Path, Experiment: c.Experiment, Step: s.Trainer.Step, Algorithm: model.CriticLocal,
		Gamma: o.Gamma, Seed: c.Seed, BatchSize: c.BatchSize, PixelScale: c.PixelScale, TrainLimit: c.TrainLimit,
		Silenced: o.SilenceChannels, Sham: o.ShamChannels, SilenceLayer: o.SilenceLayer}
}

// CIFARSilencePair loads a CIFAR-10 model trained with channels of a layer
// silenced (Perturbed), its control at the same step (same config and
// seed, no perturbation) and optionally a sham model (trained with the same
// channels' noise redrawn, objective.Settings.ShamChannels).
type CIFARSilencePair struct {
	Perturbed, Control func() (*CIFARSubject, error)
	Sham               func() (*CIFARSubject, error) // nil: no sham
}

// LayerSilencePoint compares a perturbed CIFAR-10 model with its control
// (and sham) at one step, in the silenced layer k and in the layer above.
type LayerSilencePoint struct {
	// Layer compares layer k's channels: S against the others.
	Layer SilencePoint `json:"layer"`
	// Above compares layer k+1's channels with the indices of S (those it
	// has) against its others; nil if it has none of them or only them.
	Above *SilencePoint `json:"above,omitempty"`
}

// LayerSilencingResult is the hierarchical phase-silencing study.
type LayerSilencingResult struct {
	Layer     int                 `json:"layer"`    // k, the silenced layer (0: the image)
	Silenced  []int               `json:"silenced"` // S, channels of layer k
	Channels  int                 `json:"channels"` // channels of layer k
	Above     []int               `json:"above_channels"`
	AboveOf   int                 `json:"above_of"` // channels of layer k+1
	N         int                 `json:"n"`
	Seed      uint64              `json:"seed"`
	Level     float64             `json:"level"`
	Bootstrap int                 `json:"bootstrap"`
	Points    []LayerSilencePoint `json:"points"` // by pair of runs, then step; each pair's last is its headline
	Mismatch  []string            `json:"config_mismatch,omitempty"`
	// Endpoints: layer k's (primary) and layer k+1's (secondary), each
	// pair's last step across pairs, against the random-channel-set null
	// and, with sham runs, the sham perturbation.
	Endpoints []*Endpoint `json:"endpoints"`
}

// Name implements Study.
func (r *LayerSilencingResult) Name() string { return "silencing" }

// ErrNotLayerSilenced is returned when the perturbed CIFAR-10 run silenced
// no channel, or the control perturbed any.
var ErrNotLayerSilenced = errors.New("probe: silencing of CIFAR-10 needs a run trained with --silence-layer and --silence-channels (no --sham-channels) and a control without either")

// checkLayerPair reports whether the runs of a pair fit the design: the
// perturbed run silences channels of a layer and shams none, the control
// perturbs nothing, and the sham run (nil: none) shams exactly the
// perturbed run's channels of the same layer and silences none.
func checkLayerPair(p, c, sh *CIFARSubject) error {
	po, co := p.Trainer.Config.Objective, c.Trainer.Config.Objective
	if po.SilenceLayer == 0 || len(po.SilenceChannels) == 0 || len(po.ShamChannels) > 0 || co.SilenceLayer != 0 {
		return fmt.Errorf("%w: %s silences channels %v and shams %v of layer %d; control %s perturbs layer %d",
			ErrNotLayerSilenced, p.Path, po.SilenceChannels, po.ShamChannels, po.SilenceLayer, c.Path, co.SilenceLayer)
	}
	if sh == nil {
		return nil
	}
	so := sh.Trainer.Config.Objective
	if so.SilenceLayer != po.SilenceLayer || len(so.SilenceChannels) > 0 ||
		!slices.Equal(slices.Sorted(slices.Values(so.ShamChannels)), slices.Sorted(slices.Values(po.SilenceChannels))) {
		return fmt.Errorf("%w: sham %s shams channels %v and silences %v of layer %d; %s silences %v of layer %d", ErrNotSham,
			sh.Path, so.ShamChannels, so.SilenceChannels, so.SilenceLayer, p.Path, po.SilenceChannels, po.SilenceLayer)
	}
	return nil
}

// layerConfigMismatch lists the fields in which two CIFAR-10 runs'
// configs differ, other than the perturbation and the bookkeeping fields.
func layerConfigMismatch(p, c *CIFARSubject) []string {
	a, b := *p.Trainer.Config, *c.Trainer.Config
	for _, x := range []*cifarexp.Config{&a, &b} {
		x.Objective.SilenceLayer, x.Objective.SilenceChannels, x.Objective.ShamChannels = 0, nil, nil
		x.Settings = bookkeeping(x.Settings)
	}
	return fieldMismatch(reflect.ValueOf(a), reflect.ValueOf(b))
}

// cifarWake returns the wake activity, z_i ~ q(z_i | z_{i−1}) bottom-up
// from the images, of layers k and k+1 of model s on test images idx,
// [N, C_i, S_i, S_i] each.
func cifarWake(s *CIFARSubject, test *cifardata.Set, idx []int, k, batch int, seed uint64) (zk, zk1 *tensor.Tensor) {
	m := s.Trainer.Model
	rng := rand.New(rand.NewPCG(seed, silenceStream))
	var lo, hi []*tensor.Tensor
	for b := 0; b < len(idx); b += batch {
		x := test.Batch(idx[b:min(b+batch, len(idx))], m.DType(), s.Trainer.Config.PixelScale)
		zs := m.Infer(ad.Const(x), rng)
		lo, hi = append(lo, zs[k].Value), append(hi, zs[k+1].Value)
	}
	return tensor.Concat(0, lo...), tensor.Concat(0, hi...)
}

// aboveChannels returns the channels of S that a layer of n channels has,
// or nil if that leaves no group to compare (none of S, or only S).
func aboveChannels(sil []int, n int) []int {
	var out []int
	for _, c := range sil {
		if c < n {
			out = append(out, c)
		}
	}
	if len(out) == 0 || len(out) == n {
		return nil
	}
	return out
}

// layerLabel returns the study's label of layer i's wake activity.
func layerLabel(i int) string { return objective.LayerName(i) + " (wake)" }

// compareLayers compares the wake activity of a perturbed model (p: layer
// k, layer k+1) with its control's (c), rows driven by the same images:
// layer k on S, layer k+1 on above (nil: not compared).
func compareLayers(p, c Info, pk, pk1, ck, ck1 *tensor.Tensor, sil, above []int, k int, o Options) LayerSilencePoint {
	pt := LayerSilencePoint{Layer: compareLatents(p, c, pk, ck, sil, layerLabel(k), o)}
	if above != nil {
		a := compareLatents(p, c, pk1, ck1, above, layerLabel(k+1), o)
		pt.Above = &a
	}
	return pt
}

// LayerSilencing compares, in each pair of runs, the wake activity of
// layers k and k+1 of a CIFAR-10 run trained with channels S of layer k
// silenced in its top-down phase with those of a control run, at one or
// more matched steps, and those of a sham run with the same control where
// the pairs have one (every pair or none). The stimuli are o.N test images
// evenly spaced over the set (cifardata.Spread, as `wakesleep eval`).
func LayerSilencing(pairs []CIFARSilencePair, test *cifardata.Set, o Options) (*LayerSilencingResult, error) {
	o = o.withDefaults()
	if len(pairs) == 0 {
		return nil, errors.New("probe: silencing needs a perturbed and a control checkpoint")
	}
	idx := cifardata.Spread(test.N, min(o.N, test.N))
	res := &LayerSilencingResult{N: len(idx), Seed: o.Seed, Level: o.Level, Bootstrap: o.Bootstrap}
	for i, pr := range pairs {
		p, err := pr.Perturbed()
		if err != nil {
			return nil, err
		}
		c, err := pr.Control()
		if err != nil {
			return nil, err
		}
		if (pr.Sham == nil) != (pairs[0].Sham == nil) {
			return nil, fmt.Errorf("probe: silencing: pair %d (%s) has a sham run and the first pair has not, or the other way round: give a sham for every pair or for none", i+1, p.Path)
		}
		var sh *CIFARSubject
		if pr.Sham != nil {
			if sh, err = pr.Sham(); err != nil {
				return nil, err
			}
		}
		if err := checkLayerPair(p, c, sh); err != nil {
			return nil, err
		}
		po := p.Trainer.Config.Objective
		k, sil := po.SilenceLayer, po.SilenceChannels
		if res.Silenced == nil {
			mc := p.Trainer.Config.Model
			res.Layer, res.Silenced, res.Channels, res.AboveOf = k, sil, mc.LayerChannels(k), mc.LayerChannels(k+1)
			res.Above = aboveChannels(sil, res.AboveOf)
			res.Mismatch = layerConfigMismatch(p, c)
			if sh != nil {
				for _, f := range layerConfigMismatch(sh, c) {
					res.Mismatch = append(res.Mismatch, f+" (sham)")
				}
			}
		} else if k != res.Layer || fmt.Sprint(sil) != fmt.Sprint(res.Silenced) {
			return nil, fmt.Errorf("probe: silencing: %s silences channels %v of layer %d, the first pair %v of layer %d: every pair must silence the same channels", p.Path, sil, k, res.Silenced, res.Layer)
		}
		for _, s := range []*CIFARSubject{c, sh} {
			if s != nil && !reflect.DeepEqual(s.Trainer.Config.Model, p.Trainer.Config.Model) {
				return nil, fmt.Errorf("probe: silencing: %s and %s are different models (%+v, %+v)", p.Path, s.Path, p.Trainer.Config.Model, s.Trainer.Config.Model)
			}
		}
		start := time.Now()
		pk, pk1 := cifarWake(p, test, idx, k, o.Batch, o.Seed)
		ck, ck1 := cifarWake(c, test, idx, k, o.Batch, o.Seed)
		pt := compareLayers(p.Info(), c.Info(), pk, pk1, ck, ck1, sil, res.Above, k, o)
		if sh != nil {
			sk, sk1 := cifarWake(sh, test, idx, k, o.Batch, o.Seed)
			s := compareLayers(sh.Info(), c.Info(), sk, sk1, ck, ck1, sil, res.Above, k, o)
			pt.Layer.Sham = &s.Layer
			if pt.Above != nil {
				pt.Above.Sham = s.Above
			}
		}
		res.Points = append(res.Points, pt)
		fmt.Fprintf(o.Log, "probe: silencing %s step %d/%d: mean|z| silenced/other %s (perturbed) vs %s (control)",
			objective.LayerName(k), p.Trainer.Step, c.Trainer.Step, fmtCI(pt.Layer.PerturbedRatio[StatMeanAbs]), fmtCI(pt.Layer.ControlRatio[StatMeanAbs]))
		if sh != nil {
			fmt.Fprintf(o.Log, ", %s (sham, step %d)", fmtCI(pt.Layer.Sham.PerturbedRatio[StatMeanAbs]), sh.Trainer.Step)
		}
		fmt.Fprintf(o.Log, " (%.1fs)\n", time.Since(start).Seconds())
	}
	res.Endpoints = layerSilencingEndpoints(res.Points, res.Layer, o.Level)
	return res, nil
}

// layerSilencingEndpoints judges the silenced layer k's endpoints as
// primary and, where measured, the layer above's as secondary (the paper
// predicts a change there too, with no target channels: a weaker claim).
func layerSilencingEndpoints(points []LayerSilencePoint, k int, level float64) []*Endpoint {
	var lay, above []SilencePoint
	for _, p := range points {
		lay = append(lay, p.Layer)
		if p.Above != nil {
			above = append(above, *p.Above)
		}
	}
	eps := unitEndpoints(lay, layerLabel(k), true)
	if len(above) == len(points) {
		eps = append(eps, unitEndpoints(above, layerLabel(k+1), false)...)
	}
	Judge(eps, level)
	return eps
}

// layerView is one layer of the study: its label, index, channel set and
// the comparison of a point in it.
type layerView struct {
	layer int
	set   []int
	of    func(LayerSilencePoint) *SilencePoint
}

// layers returns the layers measured: k, then k+1 if it was.
func (r *LayerSilencingResult) layers() []layerView {
	out := []layerView{{r.Layer, r.Silenced, func(p LayerSilencePoint) *SilencePoint { return &p.Layer }}}
	if r.Above != nil {
		out = append(out, layerView{r.Layer + 1, r.Above, func(p LayerSilencePoint) *SilencePoint { return p.Above }})
	}
	return out
}

// Findings implements Study: the endpoints across pairs of runs.
func (r *LayerSilencingResult) Findings() []Finding {
	var out []Finding
	for _, e := range r.Endpoints {
		what := fmt.Sprintf("silencing channels of %s in its top-down phase drags their wake activity toward silence", objective.LayerName(r.Layer))
		if !e.Primary {
			what = fmt.Sprintf("silencing channels of %s in its top-down phase moves the wake activity of the same channels of the layer above, %s, toward silence (secondary)",
				objective.LayerName(r.Layer), objective.LayerName(r.Layer+1))
		}
		out = append(out, e.Finding(what+": "+e.Measure))
	}
	return out
}

// Write implements Study.
func (r *LayerSilencingResult) Write(dir string) error {
	if err := mkdir(dir); err != nil {
		return err
	}
	shams := r.Points[0].Layer.Sham != nil // every point has a sham or none (LayerSilencing)
	units := newTable("step", "model", "layer", "channel", "silenced", "mean_abs", "mean", "variance")
	pts := newTable("arm", "layer", "perturbed", "control", "step", "statistic", "ratio_perturbed", "lo", "hi", "ratio_control", "lo", "hi", "difference", "lo", "hi",
		"null_mean", "null_sd", "null_z", "null_p")
	var effects []Effect
	for _, lp := range r.Points {
		for _, l := range r.layers() {
			p := l.of(lp)
			in := map[int]bool{}
			for _, u := range l.set {
				in[u] = true
			}
			for _, mu := range p.runMoments() {
				for u := range mu.m.MeanAbs {
					units.add(p.Perturbed.Step, mu.name, objective.LayerName(l.layer), u, in[u], mu.m.MeanAbs[u], mu.m.Mean[u], mu.m.Variance[u])
				}
			}
			for k, q := range p.arms() {
				for i, stat := range []string{StatMeanAbs, StatVariance} {
					a, b, e, nl := q.PerturbedRatio[stat], q.ControlRatio[stat], q.Effects[i], q.Null[stat]
					pts.add(armNames[k], objective.LayerName(l.layer), q.Perturbed.Name, q.Control.Name, q.Perturbed.Step, stat, a.Estimate, a.Lo, a.Hi,
						b.Estimate, b.Lo, b.Hi, e.Interval.Estimate, e.Interval.Lo, e.Interval.Hi, nl.Mean, nl.SD, nl.Z, nl.P)
				}
				effects = append(effects, q.Effects...)
			}
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
	for _, l := range r.layers() {
		p := l.of(last)
		in := map[int]bool{}
		for _, u := range l.set {
			in[u] = true
		}
		pl := &imaging.Plot{Title: fmt.Sprintf("Wake mean |z| per channel of %s, step %d", objective.LayerName(l.layer), p.Perturbed.Step),
			XLabel: "channel", YLabel: "mean |z| of wake " + objective.LayerName(l.layer), Width: 560, Height: 420}
		for k, mu := range p.runMoments() {
			var xs, ys, xo, yo []float64
			for u, v := range mu.m.MeanAbs {
				if in[u] {
					xs, ys = append(xs, float64(u)), append(ys, v)
				} else {
					xo, yo = append(xo, float64(u)), append(yo, v)
				}
			}
			pl.Series = append(pl.Series,
				imaging.Series{Label: mu.name + ", silenced channels", X: xs, Y: ys, Scatter: true, Color: seriesColor(2 * k)},
				imaging.Series{Label: mu.name + ", other channels", X: xo, Y: yo, Scatter: true, Color: seriesColor(2*k + 1)})
		}
		panels = append(panels, pl)
	}
	if err := savePanels(filepath.Join(dir, "silencing-units.png"), panels...); err != nil {
		return err
	}

	var m md
	k, above := objective.LayerName(r.Layer), objective.LayerName(r.Layer+1)
	m.p("# Phase-silencing perturbation of a CIFAR-10 layer (Sec. 4.4, hierarchical)")
	m.p("Prediction: \"one could selectively silence activity during a stage of sleep or half of an oscillatory cycle [...] This perturbs the generative distribution. One could then observe if activity changes in the waking or opposing phase to match that perturbed distribution.\" Here: silence the top-down phase of one layer of the hierarchical CIFAR-10 model (Sec. 5.2) and measure the bottom-up activity of it and of the layer above.")
	m.p("## Definitions")
	m.p("Perturbation: during training, the channels S = %v (%d of %d) of layer %s are held at zero in both of that layer's generative samples (`wakesleep train cifar10 --silence-layer %d --silence-channels ...`, objective.Settings.SilenceLayer, SilenceChannels): the top-down sample ẑ_%d ~ p(z_%d | z^w_%d), which its critic D_%d compares with the wake activity (Eq. 7, L_RECON), and the sleep sample z^s_%d ~ p(z_%d | z^s_%d), which D_%d compares with it too (Eq. 4) and from which the sleep chain below is dreamt. The channels are zeroed after the layer's ReLU and pixel norm; the wake phase is untouched. The perturbed distribution of the channels S is therefore a point mass at 0. The control is a run with the same configuration and seed and no perturbation.",
		r.Silenced, len(r.Silenced), r.Channels, k, r.Layer, r.Layer, r.Layer, r.Layer+1, r.Layer, r.Layer, r.Layer, r.Layer+1, r.Layer)
	if shams {
		m.p("Sham perturbation: a third run of the same configuration and seed, trained with the reparameterisation noise ε of the same channels S of layer %s redrawn afresh in the same two samples (`--sham-channels`, objective.Settings.ShamChannels). ε is N(0, I) either way, so the layer's distribution is exactly unchanged (its joint across channels too, which pixel norm couples), but the same channels go through a manipulation and the run's noise stream differs from the control's: it measures training noise between two runs of one seed and any artefact of manipulating S. Its effect is ratio(sham) − ratio(control), computed as the perturbed run's.", k)
	}
	m.p("Measurement: the wake (bottom-up) phase z_i ~ q(z_i | z_{i−1}) from %d CIFAR-10 test images evenly spaced over the set, in each model, the same noise seed in each. Per channel c of a layer, pooled over its positions and the images: E|z_c| and Var z_c. The ratio of the mean over the channels in a set to the mean over the other channels measures how they compare with their neighbours (≈ 1 in the control, whose channels are exchangeable). The effect size is ratio(perturbed) − ratio(control): negative if the wake activity moved toward the perturbed (silent) distribution. Intervals: %g%% percentile bootstrap over images, paired (the same resampled images drive both models), %d resamples.", r.N, 100*r.Level, r.Bootstrap)
	if r.Above != nil {
		m.p("The layer above (secondary): the same ratio in layer %s, over its channels with the indices of S (%v, of %d). The paper predicts that activity changes in the layers reading the perturbed one but names no channels there, and channels of %s bear no designed correspondence to those of %s: this measure asks whether the perturbation reaches the same-index channels of the layer above, a weaker prediction judged as a secondary endpoint (Holm among the secondary endpoints), and the per-channel moments of %s are in `silencing-units.csv` for any other reading.", above, r.Above, r.AboveOf, above, k, above)
	} else {
		m.p("The layer above, %s (%d channels), has none of the indices of S or only them: no ratio is measured there.", above, r.AboveOf)
	}
	if len(r.Mismatch) > 0 {
		m.p("**Warning**: the perturbed and control runs differ in more than the perturbation: %v.", r.Mismatch)
	}
	m.p("## Models")
	var infos []Info
	for _, p := range r.Points {
		infos = append(infos, p.Layer.Perturbed, p.Layer.Control)
		if p.Layer.Sham != nil {
			infos = append(infos, p.Layer.Sham.Perturbed)
		}
	}
	m.subjectsTable(infos)
	m.p("## Verdicts over pairs of runs")
	controls := fmt.Sprintf("Controls: the permutation null over %d random sets of channels of the same size, the effect computed for each in the same pair and layer; the perturbed set must beat its mean in every pair (paired margin over pairs).", NullSets)
	if shams {
		controls += " The sham perturbation: the perturbed run's effect must be more negative than the sham run's of the same seed, by a paired margin over pairs."
	} else {
		controls += " Not done here: a sham perturbation (`--sham-channels`, passed as --sham)."
	}
	m.p("%s As for MNIST, the effect in layer %s is nearly built in: D_%d compares wake %s against silenced generative samples, so the encoder is trained directly to silence those channels; the null shows that the effect is specific to S.", controls, k, r.Layer, k)
	m.p(judgingText)
	m.endpointsTable(r.Endpoints)
	m.p("## Results")
	if shams {
		m.p("Rows marked (sham) compare the sham run with the same control: its ratio stands in the perturbed column.")
	}
	m.tableHead("pair", "layer", "step", "statistic", "ratio, perturbed", "ratio, control", "difference (effect)", "random channel sets: mean ± sd", "z", "permutation p")
	for _, lp := range r.Points {
		for _, l := range r.layers() {
			for a, q := range l.of(lp).arms() {
				pair := q.Perturbed.Name + " vs " + q.Control.Name
				if a > 0 {
					pair += " (sham)"
				}
				for i, stat := range []string{StatMeanAbs, StatVariance} {
					e, nl := q.Effects[i], q.Null[stat]
					m.row(pair, objective.LayerName(l.layer), fmt.Sprint(q.Perturbed.Step), stat, fmtCI(q.PerturbedRatio[stat]), fmtCI(q.ControlRatio[stat]), fmtCI(e.Interval),
						fmt.Sprintf("%s ± %s", fmtG(nl.Mean), fmtG(nl.SD)), fmtG(nl.Z), fmtG(nl.P))
				}
			}
		}
	}
	m.end()
	m.p("![per-channel](silencing-units.png)")
	m.p("Files: `silencing.csv` (ratios per layer and step), `silencing-units.csv` (per channel), `silencing-effects.csv`, `silencing-endpoints.csv`, `%s`.", ResultFile)
	return writeStudy(dir, r, m.Bytes())
}
