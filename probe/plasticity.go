package probe

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"time"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/tensor"
)

// Plasticity study measures (Sec. 4.2).
const (
	MeasureWakeSleepCos = "cos(g_wake, g_sleep)"
	MeasureWakeTopCos   = "cos(g_wake, g_topdown)"
)

// Pair names of the cosines measured per batch.
const (
	PairWakeSleep   = "wake,sleep"   // the prediction: negative
	PairWakeTopDown = "wake,topdown" // D_x of the local model: bottom-up vs top-down phase
	PairWakeWake    = "wake,wake'"   // control: two wake batches
	PairSleepSleep  = "sleep,sleep'" // control: two sleep batches
	// PairPermuted is the phase-label permutation null: cos(g_A, g_B) for
	// a random split of the pooled wake and sleep activity into pseudo-
	// phases A and B of the same sizes (mean over o.GradPerms splits).
	PairPermuted = "permuted labels"
	// PairExcess is cos(g_wake, g_sleep) minus the permuted-label null, per
	// batch.
	PairExcess = "wake,sleep - permuted"
)

// MeasurePhaseSpecific is the plasticity endpoint: how much less mirrored
// the wake and sleep updates are than those of label-free pseudo-phases.
const MeasurePhaseSpecific = "cos(g_wake, g_sleep) - permuted-label null"

// PlasticityBatch is the measurement on one batch of one critic.
type PlasticityBatch struct {
	Critic       string             `json:"critic"`
	Batch        int                `json:"batch"`
	Cos          map[string]float64 `json:"cos"`           // per pair
	OppositeSign float64            `json:"opposite_sign"` // fraction of parameters whose wake and sleep updates differ in sign
	NormWake     float64            `json:"norm_wake"`
	NormSleep    float64            `json:"norm_sleep"`
	// ParamCos is cos(g_wake, g_sleep) restricted to each parameter tensor.
	ParamCos map[string]float64 `json:"param_cos"`
}

// MarshalJSON writes the batch with null for values that are NaN (a zero
// gradient has no direction).
func (b PlasticityBatch) MarshalJSON() ([]byte, error) {
	fm := func(m map[string]float64) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = jsonFloat(v)
		}
		return out
	}
	return json.Marshal(map[string]any{"critic": b.Critic, "batch": b.Batch, "cos": fm(b.Cos), "opposite_sign": jsonFloat(b.OppositeSign),
		"norm_wake": b.NormWake, "norm_sleep": b.NormSleep, "param_cos": fm(b.ParamCos)})
}

// PlasticityPoint is the plasticity measurement at one checkpoint.
type PlasticityPoint struct {
	Subject Info                           `json:"subject"`
	Batches []PlasticityBatch              `json:"batches"`
	Stats   map[string]map[string]Interval `json:"stats"` // critic → pair → mean with t-interval over batches
}

// PlasticityResult is the plasticity study (Sec. 4.2): the critics'
// parameter updates from each phase alone.
type PlasticityResult struct {
	Batches   int               `json:"batches"`
	BatchSize int               `json:"batch_size"`
	Perms     int               `json:"permutations"` // label permutations per batch
	Seed      uint64            `json:"seed"`
	Level     float64           `json:"level"`
	Points    []PlasticityPoint `json:"points"`
	Effects   []Effect          `json:"effects"` // one per checkpoint and critic; Model is "<run>@<step>"
	// Endpoints judge each run's last checkpoint across runs (seeds),
	// against the same run untrained (step 0).
	Endpoints []*Endpoint `json:"endpoints"`
}

// Name implements Study.
func (r *PlasticityResult) Name() string { return "plasticity" }

// phaseBatch is one batch of every phase's activity.
type phaseBatch struct {
	wakeX, wakeZ, sleepX, sleepZ, topX *tensor.Tensor
}

// Plasticity measures, at each subject of each run (runs[i]: the
// checkpoints of run i, loaded one at a time), the cosine between the
// critic-parameter updates that the wake and the sleep phase ask for on
// their own (PhaseGradient), over o.GradBatches batches of o.GradBatch
// stimuli, beside the same cosine for label-free pseudo-phases (the
// permutation null). The cosine itself is a sanity check: the output
// bias's gradient is +1 in one phase and −1 in the other whatever the
// data, so it is negative by construction. The endpoint is its excess
// over the permutation null at each run's last checkpoint, judged across
// runs against the same run untrained.
func Plasticity(runs [][]func() (*Subject, error), test *mnist.Set, o Options) (*PlasticityResult, error) {
	o = o.withDefaults()
	if len(runs) == 0 {
		return nil, errors.New("probe: plasticity needs at least one run")
	}
	res := &PlasticityResult{Batches: o.GradBatches, BatchSize: o.GradBatch, Perms: o.GradPerms, Seed: o.Seed, Level: o.Level}
	type runEnd struct {
		name              string
		init, early, last map[string]float64 // critic → excess
		lastStep          int
	}
	var ends []runEnd
	var critics []string
	for _, load := range runs {
		end := runEnd{}
		err := eachCheckpoint("plasticity", load, func(li int, s *Subject) error {
			start := time.Now()
			p := measurePlasticity(s, test, o)
			res.Points = append(res.Points, p)
			ex := map[string]float64{}
			critics = critics[:0]
			for _, c := range Critics(s.Trainer.Model) {
				critics = append(critics, c.Name)
				model := fmt.Sprintf("%s@%d", s.Name, s.Trainer.Step)
				res.Effects = append(res.Effects,
					Effect{Model: model, Measure: MeasureWakeSleepCos, Layer: c.Name, Null: 0, Sign: -1, Interval: p.Stats[c.Name][PairWakeSleep]},
					Effect{Model: model, Measure: MeasurePhaseSpecific, Layer: c.Name, Null: 0, Sign: 1, Interval: p.Stats[c.Name][PairExcess]})
				ex[c.Name] = p.Stats[c.Name][PairExcess].Estimate
			}
			end.name = s.Name
			switch {
			case s.Trainer.Step == 0:
				end.init = ex
			case s.Trainer.Step <= EarlySteps && end.early == nil && end.last == nil && li < len(load)-1:
				end.early = ex
			default:
				end.last, end.lastStep = ex, s.Trainer.Step
			}
			fmt.Fprintf(o.Log, "probe: plasticity %s step %d: %s (%.1fs)\n", s.Name, s.Trainer.Step, fmtStats(p), time.Since(start).Seconds())
			return nil
		})
		if err != nil {
			return nil, err
		}
		ends = append(ends, end)
	}
	for _, c := range critics {
		var names []string
		var vals, ctl, ectl []float64
		for _, e := range ends {
			if e.last == nil {
				continue
			}
			names, vals = append(names, e.name), append(vals, e.last[c])
			u, v := nan, nan
			if e.init != nil {
				u = e.init[c]
			}
			switch {
			case e.early != nil:
				v = e.early[c]
			case e.lastStep <= EarlySteps: // a few-step run is its own control
				v = e.last[c]
			}
			ctl, ectl = append(ctl, u), append(ectl, v)
		}
		controls := map[string][]float64{ControlUntrained: ctl, ControlEarly: ectl}
		res.Endpoints = append(res.Endpoints, NewEndpoint("plasticity", MeasurePhaseSpecific, c, 0, 1, names, vals, controls))
	}
	Judge(res.Endpoints, o.Level)
	return res, nil
}

func fmtStats(p PlasticityPoint) string {
	out := ""
	for _, c := range sortedKeys(p.Stats) {
		out += fmt.Sprintf("%s cos(wake,sleep) %s; ", c, fmtCI(p.Stats[c][PairWakeSleep]))
	}
	return out
}

func measurePlasticity(s *Subject, test *mnist.Set, o Options) PlasticityPoint {
	tr := s.Trainer
	m := tr.Model
	critics := Critics(m)
	rng := rand.New(rand.NewPCG(o.Seed, gradientStream))
	B := min(o.GradBatch, test.N)
	batches := make([]phaseBatch, o.GradBatches)
	for b := range batches {
		idx := make([]int, B)
		for i := range idx {
			idx[i] = (b*B + i) % test.N
		}
		x := test.Batch(idx, m.DType(), tr.Config.PixelScale)
		z := m.Infer(ad.Const(x), rng)
		top := m.Generate(ad.Const(z.Value), rng)
		sz := m.Prior(B, rng)
		sx := m.Generate(sz, rng)
		batches[b] = phaseBatch{wakeX: x, wakeZ: z.Value, sleepX: sx.Value, sleepZ: sz.Value, topX: top.Value}
	}
	p := PlasticityPoint{Subject: s.Info(), Stats: map[string]map[string]Interval{}}
	prng := rand.New(rand.NewPCG(o.Seed, gradientStream+1))
	for _, c := range critics {
		bs, st := criticPlasticity(c, batches, o, prng)
		p.Batches = append(p.Batches, bs...)
		p.Stats[c.Name] = st
	}
	return p
}

// criticPlasticity measures one critic's phase updates on the batches:
// per batch the cosines of each pair and the permutation null, and their
// means with t-intervals over batches.
func criticPlasticity(c Critic, batches []phaseBatch, o Options, prng *rand.Rand) ([]PlasticityBatch, map[string]Interval) {
	var out []PlasticityBatch
	{
		var prevW, prevS []float64
		perPair := map[string][]float64{}
		for b, pb := range batches {
			gw := PhaseGradient(c, pb.wakeX, pb.wakeZ, 1)
			gs := PhaseGradient(c, pb.sleepX, pb.sleepZ, -1)
			mb := PlasticityBatch{Critic: c.Name, Batch: b, Cos: map[string]float64{}, ParamCos: map[string]float64{},
				OppositeSign: OppositeSignFraction(gw, gs), NormWake: norm(gw), NormSleep: norm(gs)}
			mb.Cos[PairWakeSleep] = Cosine(gw, gs)
			var null []float64
			for k := 0; k < o.GradPerms; k++ {
				ax, az, bx, bz := splitPhases(pb, prng)
				null = append(null, Cosine(PhaseGradient(c, ax, az, 1), PhaseGradient(c, bx, bz, -1)))
			}
			mb.Cos[PairPermuted] = Mean(null)
			mb.Cos[PairExcess] = mb.Cos[PairWakeSleep] - mb.Cos[PairPermuted]
			if c.TopDown && pb.topX != nil {
				mb.Cos[PairWakeTopDown] = Cosine(gw, PhaseGradient(c, pb.topX, pb.wakeZ, -1))
			}
			if prevW != nil {
				mb.Cos[PairWakeWake] = Cosine(gw, prevW)
				mb.Cos[PairSleepSleep] = Cosine(gs, prevS)
			}
			off := 0
			for _, prm := range c.Params {
				n := prm.V.Value.Len()
				mb.ParamCos[prm.Name] = Cosine(gw[off:off+n], gs[off:off+n])
				off += n
			}
			for k, v := range mb.Cos {
				perPair[k] = append(perPair[k], v)
			}
			prevW, prevS = gw, gs
			out = append(out, mb)
		}
		st := map[string]Interval{}
		for k, v := range perPair {
			st[k] = TInterval(v, o.Level)
		}
		return out, st
	}
}

// splitPhases pools a batch's wake and sleep activity and splits it at
// random into pseudo-phases of the sizes of wake and sleep.
func splitPhases(pb phaseBatch, rng *rand.Rand) (ax, az, bx, bz *tensor.Tensor) {
	nw, ns := pb.wakeX.Dim(0), pb.sleepX.Dim(0)
	perm := mnist.Permutation(rng, nw+ns)
	pick := func(w, sl *tensor.Tensor, idx []int) *tensor.Tensor {
		d := w.Dim(1)
		out := tensor.New(w.DType(), len(idx), d)
		wv, sv := w.Values(), sl.Values()
		for r, i := range idx {
			src := wv
			if i >= nw {
				src, i = sv, i-nw
			}
			for j := 0; j < d; j++ {
				out.SetAt(r*d+j, src[i*d+j])
			}
		}
		return out
	}
	a, b := perm[:nw], perm[nw:]
	return pick(pb.wakeX, pb.sleepX, a), pick(pb.wakeZ, pb.sleepZ, a), pick(pb.wakeX, pb.sleepX, b), pick(pb.wakeZ, pb.sleepZ, b)
}

func norm(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

// Findings implements Study: the endpoints, then per critic the sanity
// check (the sign switch, negative by construction) at each run's last
// checkpoint.
func (r *PlasticityResult) Findings() []Finding {
	var out []Finding
	for _, e := range r.Endpoints {
		out = append(out, e.Finding(fmt.Sprintf("critic %s plasticity depends on the phase beyond the built-in sign switch: %s", e.Layer, e.Measure)))
	}
	last := map[string]Effect{}
	var order []string
	for _, e := range r.Effects {
		if e.Measure != MeasureWakeSleepCos {
			continue
		}
		k := e.Layer + " " + strings.SplitN(e.Model, "@", 2)[0]
		if _, ok := last[k]; !ok {
			order = append(order, k)
		}
		last[k] = e
	}
	for _, k := range order {
		e := last[k]
		v := "sanity check passed"
		if e.Verdict() != Holds {
			v = "sanity check FAILED"
		}
		out = append(out, Finding{Study: r.Name(),
			Prediction: fmt.Sprintf("sanity check (true by construction, not a test): critic %s wake and sleep updates point apart, %s < 0", e.Layer, MeasureWakeSleepCos),
			Effect:     fmt.Sprintf("%s at %s (mean over %d batches, %g%% t-interval)", fmtCI(e.Interval), e.Model, r.Batches, 100*r.Level),
			Verdict:    v})
	}
	return out
}

// Write implements Study.
func (r *PlasticityResult) Write(dir string) error {
	if err := mkdir(dir); err != nil {
		return err
	}
	batches := newTable("model", "step", "critic", "batch", "pair", "cosine", "opposite_sign_fraction", "norm_wake", "norm_sleep")
	params := newTable("model", "step", "critic", "batch", "parameter", "cos_wake_sleep")
	stats := newTable("model", "step", "critic", "pair", "mean", "lo", "hi")
	for _, p := range r.Points {
		for _, b := range p.Batches {
			for _, pair := range []string{PairWakeSleep, PairPermuted, PairExcess, PairWakeTopDown, PairWakeWake, PairSleepSleep} {
				if v, ok := b.Cos[pair]; ok {
					batches.add(p.Subject.Name, p.Subject.Step, b.Critic, b.Batch, pair, v, b.OppositeSign, b.NormWake, b.NormSleep)
				}
			}
			for _, name := range sortedKeys(b.ParamCos) {
				params.add(p.Subject.Name, p.Subject.Step, b.Critic, b.Batch, name, b.ParamCos[name])
			}
		}
		for _, c := range sortedKeys(p.Stats) {
			for _, pair := range []string{PairWakeSleep, PairPermuted, PairExcess, PairWakeTopDown, PairWakeWake, PairSleepSleep} {
				if st, ok := p.Stats[c][pair]; ok {
					stats.add(p.Subject.Name, p.Subject.Step, c, pair, st.Estimate, st.Lo, st.Hi)
				}
			}
		}
	}
	for name, t := range map[string]*table{"plasticity-batches.csv": batches, "plasticity-params.csv": params,
		"plasticity.csv": stats, "plasticity-effects.csv": effectsCSV(r.Effects), "plasticity-endpoints.csv": endpointsCSV(r.Endpoints)} {
		if err := t.write(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	var panels []*imaging.Plot
	for _, c := range sortedKeys(r.Points[0].Stats) {
		p := &imaging.Plot{Title: ascii("Critic " + c + ": cosine of phase updates"), XLabel: "training step",
			YLabel: "cosine (mean over batches, 95% t-interval)", Width: 560, Height: 420}
		for k, pair := range []string{PairWakeSleep, PairPermuted, PairWakeTopDown, PairWakeWake, PairSleepSleep} {
			var x, y, lo, hi []float64
			for _, pt := range r.Points[:r.firstRunLen()] {
				if st, ok := pt.Stats[c][pair]; ok {
					x, y = append(x, float64(pt.Subject.Step)), append(y, st.Estimate)
					lo, hi = append(lo, st.Lo), append(hi, st.Hi)
				}
			}
			if len(x) == 0 {
				continue
			}
			col := seriesColor(k)
			span := x[len(x)-1] - x[0]
			x = dodge(x, k, 4, 0.008*span)
			p.Series = append(p.Series, imaging.Series{Label: "cos(" + pair + ")", X: x, Y: y, Color: col}, errorBars(x, lo, hi, 0.005*span, col))
		}
		p.Series = append(p.Series, imaging.Series{X: []float64{float64(r.Points[0].Subject.Step), float64(r.Points[r.firstRunLen()-1].Subject.Step)}, Y: []float64{0, 0}, Color: gray})
		panels = append(panels, p)
	}
	if err := savePanels(filepath.Join(dir, "plasticity.png"), panels...); err != nil {
		return err
	}

	var m md
	m.p("# Critic plasticity switches sign with the phase (Sec. 4.2)")
	m.p("Prediction: \"Connections onto local discriminatory interneurons should have a plasticity rule that switches polarity with the phase of processing.\"")
	m.p("## Definitions")
	m.p("For a critic with parameters θ, the update each phase asks for on its own is the ascent direction of that phase's half of the critic's objective (Eq. 4 / 7: the critic maximises E_wake[D] − E_sleep[D]):")
	m.p("    g_wake  = +∇θ mean_batch D(wake activity)      wake: x = MNIST test digits, z ~ q(z|x)\n    g_sleep = −∇θ mean_batch D(sleep activity)     sleep: z ~ N(0, I), x ~ p(x|z)")
	m.p("The prediction is cos(g_wake, g_sleep) < 0: the same synapses move in opposite directions in the two phases. Controls: cos(g_wake, g_wake') and cos(g_sleep, g_sleep') between consecutive batches of the same phase (how consistent one phase's update is). For D_x of the local model, whose oscillatory term (Eq. 7) pits the bottom-up phase against the top-down reconstruction x̂ ~ p(x|z), z ~ q(z|x), cos(g_wake, g_topdown) with g_topdown = −∇θ mean D_x(x̂) is shown too. Also recorded: the fraction of parameters whose two updates have opposite signs, and the cosine per parameter tensor (`plasticity-params.csv`).")
	m.p("Estimator: %d batches of %d stimuli per checkpoint (seed %d); mean over batches with a Student-t %g%% interval. Note that the gradient of the output layer's bias is +1 for wake and −1 for sleep whatever the data, and that for a critic that cannot tell the phases apart (aligned distributions) ∇ mean D(wake) ≈ ∇ mean D(sleep), so the cosine tends to −1 as the phases align: the sign switch is built into the objective, and the measurement shows how strongly it shows in the updates of a trained network.", r.Batches, r.BatchSize, r.Seed, 100*r.Level)
	m.p("## Verdicts over runs")
	m.p("The cosine itself is a sanity check, not a test: it is negative for any critic and any inputs, at step 0 too. The test asks whether the phase drives the critic's plasticity beyond that built-in mirror: the phase-label permutation null pools each batch's wake and sleep activity, splits it at random into pseudo-phases of the same sizes (%d splits per batch) and takes cos(+∇ mean D(A), −∇ mean D(B)); for label-free pseudo-phases the two halves ask for nearly mirrored updates, so the null sits near −1 by the same construction. The endpoint is cos(g_wake, g_sleep) minus that null at each run's last checkpoint (predicted > 0: wake and sleep activity move the critic's synapses differently), against the same run untrained (step 0; the untrained networks' phases differ most, so this control is demanding) and after %d steps (a run that is no longer is its own few-step control). The second half of the prediction, that the critic's effect on the *networks'* plasticity switches sign with the phase, has no synapse to test it on here: the inference network learns only from the wake phase and the generative network only from the generated (sleep and top-down) phases, so no network parameter receives the critic's signal in both phases.", r.perms(), EarlySteps)
	m.p(judgingText)
	m.endpointsTable(r.Endpoints)
	m.p("## Results")
	m.tableHead("run", "step", "critic", "cos(g_wake, g_sleep)", "permuted-label null", "excess over null", "cos(g_wake, g_topdown)", "control wake/wake'", "control sleep/sleep'", "opposite-sign fraction", "verdict")
	for _, p := range r.Points {
		for _, c := range sortedKeys(p.Stats) {
			st := p.Stats[c]
			cell := func(pair string) string {
				if v, ok := st[pair]; ok {
					return fmtCI(v)
				}
				return "—"
			}
			var opp []float64
			for _, b := range p.Batches {
				if b.Critic == c {
					opp = append(opp, b.OppositeSign)
				}
			}
			v := ""
			for _, e := range r.Effects {
				if e.Model == fmt.Sprintf("%s@%d", p.Subject.Name, p.Subject.Step) && e.Layer == c && e.Measure == MeasureWakeSleepCos {
					v = "sanity " + map[bool]string{true: "ok", false: "FAILED"}[e.Verdict() == Holds]
				}
			}
			m.row(p.Subject.Name, fmt.Sprint(p.Subject.Step), c, cell(PairWakeSleep), cell(PairPermuted), cell(PairExcess), cell(PairWakeTopDown), cell(PairWakeWake), cell(PairSleepSleep), fmtG(Mean(opp)), v)
		}
	}
	m.end()
	m.p("![plasticity](plasticity.png)")
	m.p("Files: `plasticity.csv` (per checkpoint), `plasticity-batches.csv`, `plasticity-params.csv`, `plasticity-effects.csv`, `%s`.", ResultFile)
	return writeStudy(dir, r, m.Bytes())
}

// firstRunLen returns the number of points of the first run (the plot's).
func (r *PlasticityResult) firstRunLen() int {
	for i, p := range r.Points {
		if p.Subject.Name != r.Points[0].Subject.Name {
			return i
		}
	}
	return len(r.Points)
}

// perms returns the permutations per batch used (from the batches).
func (r *PlasticityResult) perms() int { return r.Perms }

// sortedKeys returns the keys of m in increasing order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
