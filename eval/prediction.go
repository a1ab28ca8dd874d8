package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/data/movingmnist"
	mmexp "github.com/wakesleep/wakesleep/experiment/movingmnist"
	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/internal/atomicfile"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/tensor"
)

// This file scores Moving MNIST predictions (Sec. 5.3) on the fixed test
// set: per-frame MSE and SSIM with 95% intervals over sequences, for one
// sample, the mean of K samples and the best of K (the protocol of SAVP, Lee
// et al. 2018), beside repeating the last frame, black frames and a
// deterministic ConvLSTM (a `train movingmnist --deterministic` run);
// whether predicted digits keep their identity (the MNIST classifier on
// crops at each digit's true position); and the alignment of the encoder's
// latents in the wake and sleep phases.

// FrameScores are per-predicted-frame averages over test sequences, with the
// half-width of a 95% interval of each mean (1.96 standard errors over
// sequences, normal approximation).
type FrameScores struct {
	MSE    []float64 `json:"mse"`  // mean squared error per pixel, pixels in [0, 1]
	SSIM   []float64 `json:"ssim"` // structural similarity (Wang et al. 2004), L = 1
	MSECI  []float64 `json:"mse_ci95,omitempty"`
	SSIMCI []float64 `json:"ssim_ci95,omitempty"`
	// MeanMSECI and MeanSSIMCI are the intervals of the means over frames
	// (each sequence's mean over the horizon, then 1.96 standard errors).
	MeanMSECI  float64 `json:"mean_mse_ci95,omitempty"`
	MeanSSIMCI float64 `json:"mean_ssim_ci95,omitempty"`
}

// Mean returns the averages over the predicted frames.
func (f FrameScores) Mean() (mse, ssim float64) {
	for i := range f.MSE {
		mse += f.MSE[i]
		ssim += f.SSIM[i]
	}
	n := float64(len(f.MSE))
	return mse / n, ssim / n
}

// DigitIdentity says whether predicted digits are still the digits they
// were: for each predicted frame, the fraction of digits whose 28×28 crop at
// the digit's true position the MNIST classifier assigns to the digit's
// label. Truth is the same on the true frames: the ceiling (digits overlap
// and leave crops unclear).
type DigitIdentity struct {
	Truth         []float64 `json:"truth"`
	Model         []float64 `json:"model"`       // one sample
	MeanOfK       []float64 `json:"mean_of_k"`   // the pixel mean of the K samples
	RepeatLast    []float64 `json:"repeat_last"` // the last context frame
	Deterministic []float64 `json:"deterministic,omitempty"`
	Classifier    string    `json:"classifier"`
}

// PredictionEval is the prediction quality of a Moving MNIST model on the
// fixed test set, beside baselines.
type PredictionEval struct {
	Checkpoint string      `json:"checkpoint"`
	Step       int         `json:"step"`
	N          int         `json:"n"`       // test sequences (the first N of the fixed test set)
	Seed       uint64      `json:"seed"`    // model noise seed
	Context    int         `json:"context"` // frames given
	Horizon    int         `json:"horizon"` // frames predicted
	FramePix   int         `json:"frame_pixels"`
	K          int         `json:"k"`         // samples per sequence
	Model      FrameScores `json:"model"`     // the first sample
	MeanOfK    FrameScores `json:"mean_of_k"` // the pixel mean of the K samples, scored
	// BestOfK is, per sequence, the sample with the lowest MSE (for the MSE
	// rows) and the one with the highest SSIM (for the SSIM rows), each
	// averaged over the horizon: an optimistic score that rewards a model
	// whose samples cover the truth.
	BestOfK  FrameScores `json:"best_of_k"`
	Baseline FrameScores `json:"baseline"` // repeat the last context frame
	Blank    FrameScores `json:"blank"`    // predict black frames: what MSE gives a prediction that knows nothing
	// Deterministic scores the deterministic ConvLSTM baseline
	// (DeterministicRun), nil if none was given.
	Deterministic    *FrameScores `json:"deterministic,omitempty"`
	DeterministicRun string       `json:"deterministic_run,omitempty"`
	// Identity is nil without a classifier or for digits other than 28×28.
	Identity *DigitIdentity `json:"identity,omitempty"`
	// SleepAlignment compares the encoder's latents over the last context
	// frames (wake) with those of the sleep phase (dreams from z₀ ~ N(0, I))
	// over rounded units of z, with the noise floor; nil for a deterministic
	// model, which does not dream.
	SleepAlignment *AlignmentResult `json:"sleep_alignment,omitempty"`
	Time           time.Time        `json:"time"`
	Seconds        float64          `json:"seconds"`
	Provenance
}

// VideoPredictor is what EvaluatePrediction needs of a video model.
type VideoPredictor interface {
	// Predict returns the predictions [B, 1, S, S] of frames context …
	// context+horizon−1 given the first context of frames (closed loop) and
	// the latents [B·k, D] the encoder inferred from the last k context frames
	// (nil if the model has none to compare).
	Predict(frames []*tensor.Tensor, context, horizon int, rng *rand.Rand) (preds []*tensor.Tensor, wakeZ *tensor.Tensor)
	// Dream returns the latents [batch·k, D] of the sleep phase (nil: none).
	Dream(batch int, rng *rand.Rand) *tensor.Tensor
	// Stochastic reports whether predictions depend on rng.
	Stochastic() bool
}

type modelPredictor struct {
	m             *model.MovingMNIST
	sleepSteps    int
	deterministic bool
}

// PredictorOf returns t's model as a VideoPredictor: closed-loop Predict
// (mmexp.Predict's rollout), the latents of the last SleepSteps context
// frames, and the sleep phase's latents (Dream). A deterministic run
// predicts with every unit at its mean and does not dream.
func PredictorOf(t *mmexp.Trainer) VideoPredictor {
	return modelPredictor{m: t.Model.Frozen(), sleepSteps: t.Config.Objective.SleepSteps, deterministic: t.Config.Deterministic}
}

func (p modelPredictor) Stochastic() bool { return !p.deterministic }

func (p modelPredictor) Predict(frames []*tensor.Tensor, context, horizon int, rng *rand.Rand) ([]*tensor.Tensor, *tensor.Tensor) {
	if p.deterministic {
		rng = nil
	}
	xs := make([]*ad.Var, context)
	for i := range xs {
		xs[i] = ad.Const(frames[i])
	}
	r := p.m.Rollout(xs, context, horizon, false, rng)
	out := make([]*tensor.Tensor, horizon)
	for i := range out {
		out[i] = r.Pred[context+i].Value
	}
	if p.deterministic {
		return out, nil
	}
	k := min(p.sleepSteps, context)
	return out, rowsOf(r.Z[context-k : context])
}

func (p modelPredictor) Dream(batch int, rng *rand.Rand) *tensor.Tensor {
	if p.deterministic {
		return nil
	}
	_, zs := p.m.Dream(batch, p.sleepSteps, rng)
	return rowsOf(zs)
}

// rowsOf concatenates latents [B, …] into rows [Σ B, D] (float32).
func rowsOf(zs []*ad.Var) *tensor.Tensor {
	ts := make([]*tensor.Tensor, len(zs))
	for i, z := range zs {
		ts[i] = flat(z.Value)
	}
	return tensor.Concat(0, ts...)
}

// PredictionOptions configure EvaluatePrediction; zero values mean the
// defaults in brackets.
type PredictionOptions struct {
	N, Batch         int // test sequences [1000] and sequences per forward pass [32]
	Context, Horizon int // frames given and predicted (required)
	K                int // samples per sequence [5; 1 for a deterministic model]
	Seed             uint64
	// Classifier is the MNIST classifier of the identity measure (nil: not
	// measured); ClassifierInfo describes it.
	Classifier     *Classifier
	ClassifierInfo ClassifierInfo
	// Deterministic is the deterministic ConvLSTM baseline (nil: none), from
	// the run DeterministicRun.
	Deterministic    VideoPredictor
	DeterministicRun string
	// Alignment configures the sleep alignment of z [Draws 10, 4 units,
	// α = ½, seed 1]; XUnits is the number of units of z.
	Alignment AlignmentOptions
	Progress  io.Writer // progress lines (nil: none)
}

// EvaluatePrediction scores closed-loop predictions of the first o.N
// sequences of test (the fixed test set) in batches of o.Batch sequences:
// for each predicted frame k = 1 … horizon, the mean over sequences (with a
// 95% interval) of the per-pixel MSE and of SSIM between prediction and
// truth, for the model's first sample, the mean of its K samples and the best
// of them (noise seeded by o.Seed), for the deterministic baseline if given,
// for x̂_{C+k} = x_C (the last context frame), and for black frames (MSE
// rewards a prediction for knowing nothing rather than for being wrong about
// where a digit is: this shows how far). With a classifier it measures digit
// identity (DigitIdentity), and for a model that dreams the sleep alignment
// of z.
func EvaluatePrediction(m VideoPredictor, test *movingmnist.Generator, o PredictionOptions) (*PredictionEval, error) {
	if o.N == 0 {
		o.N = 1000
	}
	if o.Batch == 0 {
		o.Batch = 32
	}
	if o.K == 0 {
		o.K = 5
		if !m.Stochastic() {
			o.K = 1
		}
	}
	if o.Alignment.Draws == 0 {
		o.Alignment = AlignmentOptions{Draws: 10, XUnits: 4, Alpha: 0.5, Choice: UnitsUniform, Seed: 1}
	}
	o.Alignment.ZUnits, o.Alignment.Choice = 0, UnitsUniform
	n, batch, context, horizon, K := o.N, o.Batch, o.Context, o.Horizon, o.K
	switch {
	case n < 2 || batch <= 0 || K < 1:
		return nil, fmt.Errorf("eval: %d sequences (at least 2) in batches of %d, %d samples each", n, batch, K)
	case context < 1 || horizon < 1 || context+horizon > test.Config.Frames:
		return nil, fmt.Errorf("eval: %d context and %d predicted frames of sequences of %d", context, horizon, test.Config.Frames)
	}
	if err := o.Alignment.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	s := test.Config.FrameSize
	r := &PredictionEval{N: n, Seed: o.Seed, Context: context, Horizon: horizon, K: K, FramePix: s * s}
	model1, meanK, bestK := newFrameAcc(horizon), newFrameAcc(horizon), newFrameAcc(horizon)
	base, blank, det := newFrameAcc(horizon), newFrameAcc(horizon), newFrameAcc(horizon)
	d := test.Digits.Rows
	var id *identityAcc
	if o.Classifier != nil && d*d == PixelDim {
		id = newIdentityAcc(horizon, o.Deterministic != nil)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0xE7A1))
	black := make([]float64, s*s)
	var wakeZ, sleepZ []*tensor.Tensor
	for lo := 0; lo < n; lo += batch {
		hi := min(n, lo+batch)
		idx := make([]uint64, hi-lo)
		for i := range idx {
			idx[i] = uint64(lo + i)
		}
		frames := test.Batch(idx, tensor.Float32)
		samples := make([][]*tensor.Tensor, K)
		for j := range samples {
			var wz *tensor.Tensor
			samples[j], wz = m.Predict(frames, context, horizon, rng)
			if j == 0 && wz != nil {
				if sz := m.Dream(hi-lo, rng); sz != nil {
					wakeZ, sleepZ = append(wakeZ, wz), append(sleepZ, sz)
				}
			}
		}
		var detPreds []*tensor.Tensor
		if o.Deterministic != nil {
			detPreds, _ = o.Deterministic.Predict(frames, context, horizon, rng)
		}
		for b := range idx {
			last := mmexp.FrameOf(frames[context-1], b)
			seqMSE := make([][]float64, K) // [sample][frame]
			seqSSIM := make([][]float64, K)
			means := make([][]float64, horizon)
			for j := 0; j < K; j++ {
				seqMSE[j], seqSSIM[j] = make([]float64, horizon), make([]float64, horizon)
			}
			mm, ms := make([]float64, horizon), make([]float64, horizon)
			bm, bs := make([]float64, horizon), make([]float64, horizon)
			km, ks := make([]float64, horizon), make([]float64, horizon)
			dm, ds := make([]float64, horizon), make([]float64, horizon)
			for k := 0; k < horizon; k++ {
				truth := mmexp.FrameOf(frames[context+k], b)
				mean := make([]float64, s*s)
				for j := 0; j < K; j++ {
					p := mmexp.FrameOf(samples[j][k], b)
					seqMSE[j][k], seqSSIM[j][k] = mse(p, truth), SSIM(p, truth, s, s, 1)
					for i, v := range p {
						mean[i] += v / float64(K)
					}
				}
				means[k] = mean
				mm[k], ms[k] = mse(mean, truth), SSIM(mean, truth, s, s, 1)
				bm[k], bs[k] = mse(last, truth), SSIM(last, truth, s, s, 1)
				km[k], ks[k] = mse(black, truth), SSIM(black, truth, s, s, 1)
				if detPreds != nil {
					p := mmexp.FrameOf(detPreds[k], b)
					dm[k], ds[k] = mse(p, truth), SSIM(p, truth, s, s, 1)
				}
			}
			model1.add(seqMSE[0], seqSSIM[0])
			meanK.add(mm, ms)
			base.add(bm, bs)
			blank.add(km, ks)
			if detPreds != nil {
				det.add(dm, ds)
			}
			bestM, bestS := 0, 0
			for j := 1; j < K; j++ {
				if avg(seqMSE[j]) < avg(seqMSE[bestM]) {
					bestM = j
				}
				if avg(seqSSIM[j]) > avg(seqSSIM[bestS]) {
					bestS = j
				}
			}
			bestK.add(seqMSE[bestM], seqSSIM[bestS])
			if id != nil {
				seq := test.Sequence(idx[b])
				frameOf := func(ts []*tensor.Tensor) func(k int) []float64 {
					return func(k int) []float64 { return mmexp.FrameOf(ts[k], b) }
				}
				views := []func(k int) []float64{
					func(k int) []float64 { return mmexp.FrameOf(frames[context+k], b) },
					frameOf(samples[0]),
					func(k int) []float64 { return means[k] },
					func(int) []float64 { return last },
				}
				if detPreds != nil {
					views = append(views, frameOf(detPreds))
				}
				id.add(seq, test.Digits, context, s, views)
			}
		}
		if id != nil {
			id.classify(o.Classifier)
		}
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "\revaluated %d/%d sequences", hi, n)
		}
	}
	if o.Progress != nil {
		fmt.Fprintln(o.Progress)
	}
	r.Model, r.MeanOfK, r.BestOfK = model1.scores(), meanK.scores(), bestK.scores()
	r.Baseline, r.Blank = base.scores(), blank.scores()
	if o.Deterministic != nil {
		ds := det.scores()
		r.Deterministic, r.DeterministicRun = &ds, o.DeterministicRun
	}
	if id != nil {
		r.Identity = id.result(o.ClassifierInfo.Source)
	}
	if len(wakeZ) > 0 {
		w, sl := tensor.Concat(0, wakeZ...), tensor.Concat(0, sleepZ...)
		a := o.Alignment
		a.XUnits = min(a.XUnits, w.Dim(1))
		res, err := Alignment(Phase{X: w}, Phase{X: sl}, a)
		if err != nil {
			return nil, fmt.Errorf("sleep alignment: %w", err)
		}
		res.Draws, res.Scatter, res.ControlScatter = nil, FrequencyPairs{}, FrequencyPairs{}
		r.SleepAlignment = res
	}
	r.Time = time.Now().UTC()
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}

func avg(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// ci95 is the half-width of the normal-approximation 95% interval of the
// mean of n values with sum s and sum of squares ss: 1.96·sd/√n (sample
// standard deviation, n−1); 0 for fewer than two values.
func ci95(s, ss float64, n int) float64 {
	if n < 2 {
		return 0
	}
	m := s / float64(n)
	v := math.Max(0, (ss-float64(n)*m*m)/float64(n-1))
	return 1.96 * math.Sqrt(v/float64(n))
}

// frameAcc accumulates per-frame scores of sequences.
type frameAcc struct {
	n            int
	m, mm, s, ss []float64 // sums and sums of squares per frame
	seqM, seqMM  float64   // of each sequence's mean MSE over frames
	seqS, seqSS  float64
}

func newFrameAcc(h int) *frameAcc {
	return &frameAcc{m: make([]float64, h), mm: make([]float64, h), s: make([]float64, h), ss: make([]float64, h)}
}

func (a *frameAcc) add(mse, ssim []float64) {
	a.n++
	for k := range mse {
		a.m[k] += mse[k]
		a.mm[k] += mse[k] * mse[k]
		a.s[k] += ssim[k]
		a.ss[k] += ssim[k] * ssim[k]
	}
	pm, ps := avg(mse), avg(ssim)
	a.seqM += pm
	a.seqMM += pm * pm
	a.seqS += ps
	a.seqSS += ps * ps
}

func (a *frameAcc) scores() FrameScores {
	h := len(a.m)
	f := FrameScores{MSE: make([]float64, h), SSIM: make([]float64, h), MSECI: make([]float64, h), SSIMCI: make([]float64, h)}
	n := float64(a.n)
	for k := 0; k < h; k++ {
		f.MSE[k], f.SSIM[k] = a.m[k]/n, a.s[k]/n
		f.MSECI[k], f.SSIMCI[k] = ci95(a.m[k], a.mm[k], a.n), ci95(a.s[k], a.ss[k], a.n)
	}
	f.MeanMSECI, f.MeanSSIMCI = ci95(a.seqM, a.seqMM, a.n), ci95(a.seqS, a.seqSS, a.n)
	return f
}

// identityAcc collects digit crops of one batch for the classifier and
// counts its verdicts.
type identityAcc struct {
	views  int
	crops  [][]float32 // per view, crops of this batch (784 each)
	labels []uint8     // the digit of each crop
	frames []int       // its predicted-frame index
	hits   [][]int     // [view][frame]
	total  []int       // [frame]
}

func newIdentityAcc(horizon int, det bool) *identityAcc {
	v := 4
	if det {
		v = 5
	}
	a := &identityAcc{views: v, crops: make([][]float32, v), hits: make([][]int, v), total: make([]int, horizon)}
	for i := range a.hits {
		a.hits[i] = make([]int, horizon)
	}
	return a
}

// add crops every digit of seq out of each view of each predicted frame k
// (view(k): a frame of s×s values) at the digit's true position in frame
// context+k.
func (a *identityAcc) add(seq *movingmnist.Sequence, digits *mnist.Set, context, s int, views []func(k int) []float64) {
	d := digits.Rows
	for k := range a.total {
		for v, view := range views {
			f := view(k)
			for j := range seq.Digit {
				top, left := seq.Top[j][context+k], seq.Left[j][context+k]
				for y := 0; y < d; y++ {
					for x := 0; x < d; x++ {
						a.crops[v] = append(a.crops[v], float32(f[(top+y)*s+left+x]))
					}
				}
			}
		}
		for j := range seq.Digit {
			a.labels = append(a.labels, digits.Labels[seq.Digit[j]])
			a.frames = append(a.frames, k)
		}
	}
}

// classify runs c on the collected crops, counts hits and starts afresh.
func (a *identityAcc) classify(c *Classifier) {
	if len(a.labels) == 0 {
		return
	}
	for v := range a.crops {
		x := tensor.New(tensor.Float32, len(a.labels), PixelDim)
		copy(x.Float32s(), a.crops[v])
		for i, p := range c.Classify(x, false).Predicted() {
			if p == int(a.labels[i]) {
				a.hits[v][a.frames[i]]++
			}
		}
		a.crops[v] = a.crops[v][:0]
	}
	for _, k := range a.frames {
		a.total[k]++
	}
	a.labels, a.frames = a.labels[:0], a.frames[:0]
}

func (a *identityAcc) result(source string) *DigitIdentity {
	frac := func(v int) []float64 {
		out := make([]float64, len(a.total))
		for k, t := range a.total {
			out[k] = float64(a.hits[v][k]) / float64(t)
		}
		return out
	}
	r := &DigitIdentity{Truth: frac(0), Model: frac(1), MeanOfK: frac(2), RepeatLast: frac(3), Classifier: source}
	if a.views == 5 {
		r.Deterministic = frac(4)
	}
	return r
}

func mse(a, b []float64) float64 {
	var s float64
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return s / float64(len(a))
}

// Files WritePredictionEval puts in a report folder.
const (
	PredictionReportFile = "prediction.md"
	PredictionResultFile = "prediction.json"
	PredictionMSEPlot    = "prediction-mse.png"
	PredictionSSIMPlot   = "prediction-ssim.png"
)

// WritePredictionEval writes r into dir (created if needed): prediction.md,
// prediction.json and two plots of the per-frame scores.
func WritePredictionEval(dir string, r *PredictionEval) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("prediction report: %w", err)
	}
	r.stamp()
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, PredictionResultFile), append(js, '\n'), 0o644); err != nil {
		return err
	}
	ks := make([]float64, r.Horizon)
	for k := range ks {
		ks[k] = float64(r.Context + k + 1)
	}
	for _, p := range []struct {
		file, what string
		pick       func(FrameScores) []float64
	}{
		{PredictionMSEPlot, "MSE per pixel", func(f FrameScores) []float64 { return f.MSE }},
		{PredictionSSIMPlot, "SSIM", func(f FrameScores) []float64 { return f.SSIM }},
	} {
		var series []imaging.Series
		for _, m := range r.methods() {
			series = append(series, imaging.Series{Label: m.name, X: ks, Y: p.pick(m.f)})
		}
		plot := &imaging.Plot{
			Title:  fmt.Sprintf("Moving MNIST prediction, %s (%d test sequences)", p.what, r.N),
			XLabel: "frame",
			YLabel: p.what,
			Series: series,
		}
		if err := plot.SavePNG(filepath.Join(dir, p.file)); err != nil {
			return err
		}
	}
	var md bytes.Buffer
	writePredictionMarkdown(&md, r)
	return atomicfile.WriteFile(filepath.Join(dir, PredictionReportFile), md.Bytes(), 0o644)
}

// method is a named row of scores.
type method struct {
	name string
	f    FrameScores
}

// methods lists the scored predictions: the model's (one sample, mean and
// best of K when K > 1), the deterministic baseline's, and the trivial ones.
func (r *PredictionEval) methods() []method {
	ms := []method{{"model (1 sample)", r.Model}}
	if r.K > 1 {
		ms = append(ms, method{fmt.Sprintf("mean of %d", r.K), r.MeanOfK}, method{fmt.Sprintf("best of %d", r.K), r.BestOfK})
	}
	if r.Deterministic != nil {
		ms = append(ms, method{"deterministic ConvLSTM", *r.Deterministic})
	}
	return append(ms, method{"repeat last frame", r.Baseline}, method{"black frame", r.Blank})
}

// withCI prints a value with its interval, if it has one.
func withCI(v float64, ci []float64, k int, format string) string {
	if k < len(ci) {
		return fmt.Sprintf(format+" ± "+format, v, ci[k])
	}
	return fmt.Sprintf(format, v)
}

func writePredictionMarkdown(w io.Writer, r *PredictionEval) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# Moving MNIST prediction\n\n")
	p("| | |\n|---|---|\n")
	p("| checkpoint | `%s` |\n", r.Checkpoint)
	p("| step | %d |\n", r.Step)
	p("| test set | the first %d sequences of the fixed test set (MNIST test digits, seed %#x) |\n", r.N, movingmnist.TestSeed)
	p("| task | given frames 1–%d, predict frames %d–%d (closed loop: the model reads its own predictions) |\n", r.Context, r.Context+1, r.Context+r.Horizon)
	p("| model noise seed | %d; %d sample(s) per sequence |\n", r.Seed, r.K)
	if r.DeterministicRun != "" {
		p("| deterministic baseline | `%s` |\n", r.DeterministicRun)
	}
	p("| evaluated | %s (%.0f s) |\n", r.Time.Format("2006-01-02 15:04 UTC"), r.Seconds)
	r.Provenance.rows(w)
	p("\n")
	p("Each score is the mean over sequences ± the half-width of its 95%% interval (1.96 standard errors). The model's first sample; the pixel mean of its K samples; the best of K per sequence (lowest MSE, or highest SSIM, over the horizon: the SAVP protocol, optimistic by design); a deterministic ConvLSTM of the same size trained on the pixel MSE (`train movingmnist --deterministic`), if given; repeating the last context frame; and black frames, a reference for what MSE gives a prediction that knows nothing (MSE favours blur and emptiness over sharp digits in slightly wrong places; SSIM less so). MSE is per pixel with pixels in [0, 1] (×%d for the per-frame sum of squares often quoted for Moving MNIST); SSIM after Wang et al. (2004), 11×11 Gaussian window σ = 1.5, L = 1, averaged over valid windows. Lower MSE and higher SSIM are better.\n\n", r.FramePix)
	ms := r.methods()
	for _, metric := range []struct {
		name   string
		format string
		v, ci  func(FrameScores) []float64
		meanCI func(FrameScores) float64
		mean   func(FrameScores) float64
	}{
		{"MSE", "%.5f", func(f FrameScores) []float64 { return f.MSE }, func(f FrameScores) []float64 { return f.MSECI },
			func(f FrameScores) float64 { return f.MeanMSECI }, func(f FrameScores) float64 { m, _ := f.Mean(); return m }},
		{"SSIM", "%.4f", func(f FrameScores) []float64 { return f.SSIM }, func(f FrameScores) []float64 { return f.SSIMCI },
			func(f FrameScores) float64 { return f.MeanSSIMCI }, func(f FrameScores) float64 { _, s := f.Mean(); return s }},
	} {
		p("%s per frame:\n\n| frame |", metric.name)
		for _, m := range ms {
			p(" %s |", m.name)
		}
		p("\n|---|")
		for range ms {
			p("---|")
		}
		p("\n")
		for k := 0; k < r.Horizon; k++ {
			p("| %d |", r.Context+k+1)
			for _, m := range ms {
				p(" %s |", withCI(metric.v(m.f)[k], metric.ci(m.f), k, metric.format))
			}
			p("\n")
		}
		p("| **mean** |")
		for _, m := range ms {
			p(" **%s** |", withCI(metric.mean(m.f), []float64{metric.meanCI(m.f)}, 0, metric.format))
		}
		p("\n\n")
	}
	mm, _ := r.Model.Mean()
	bm, _ := r.Baseline.Mean()
	km, _ := r.Blank.Mean()
	p("Per-frame sum of squared errors (mean over frames): model %.1f, repeat last %.1f, black %.1f.\n\n", mm*float64(r.FramePix), bm*float64(r.FramePix), km*float64(r.FramePix))
	if id := r.Identity; id != nil {
		p("Digit identity: the fraction of digits whose 28×28 crop at the digit's true position the MNIST classifier (`%s`) assigns to the digit's label. On the true frames this is the ceiling (digits overlap).\n\n", id.Classifier)
		p("| frame | true frames | model (1 sample) | mean of %d | repeat last frame |", r.K)
		if id.Deterministic != nil {
			p(" deterministic ConvLSTM |")
		}
		p("\n|---|---|---|---|---|")
		if id.Deterministic != nil {
			p("---|")
		}
		p("\n")
		for k := 0; k < r.Horizon; k++ {
			p("| %d | %.3f | %.3f | %.3f | %.3f |", r.Context+k+1, id.Truth[k], id.Model[k], id.MeanOfK[k], id.RepeatLast[k])
			if id.Deterministic != nil {
				p(" %.3f |", id.Deterministic[k])
			}
			p("\n")
		}
		p("| **mean** | **%.3f** | **%.3f** | **%.3f** | **%.3f** |", avg(id.Truth), avg(id.Model), avg(id.MeanOfK), avg(id.RepeatLast))
		if id.Deterministic != nil {
			p(" **%.3f** |", avg(id.Deterministic))
		}
		p("\n\n")
	}
	if a := r.SleepAlignment; a != nil {
		p("Sleep-phase alignment of z: the encoder's latents over the last context frames of the test sequences (wake) against the latents of the sleep phase (z₀ ~ N(0, I), then decoder and encoder in turn), rounded to integers, patterns over %d units of z drawn uniformly, %d draws, halves of %d; KL in bits, mean ± std over draws.\n\n", a.Options.XUnits, a.Options.Draws, a.HalfN)
		p("| KL(wake‖sleep) | KL(sleep‖wake) | control (wake) | control (sleep) | missing mass wake |\n|---|---|---|---|---|\n")
		p("| %s | %s | %s | %s | %.2f |\n\n", pm(a.WakeSleep), pm(a.SleepWake), pm(a.Control), pm(a.SleepControl), a.WakeMissing.Mean)
		p("The control (wake half against wake half) is the noise floor: the phases are as aligned as the estimator can tell when KL(wake‖sleep) is within its spread.\n\n")
	}
	p("![MSE per frame](%s)\n\n![SSIM per frame](%s)\n", PredictionMSEPlot, PredictionSSIMPlot)
}
