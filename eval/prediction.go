package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/wakesleep/wakesleep/data/movingmnist"
	mmexp "github.com/wakesleep/wakesleep/experiment/movingmnist"
	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/internal/atomicfile"
	"github.com/wakesleep/wakesleep/model"
)

// This file scores Moving MNIST predictions (Sec. 5.3): per-frame MSE and
// SSIM of closed-loop predictions on the fixed test set, beside baselines.

// FrameScores are per-predicted-frame averages over test sequences.
type FrameScores struct {
	MSE  []float64 `json:"mse"`  // mean squared error per pixel, pixels in [0, 1]
	SSIM []float64 `json:"ssim"` // structural similarity (Wang et al. 2004), L = 1
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

// PredictionEval is the prediction quality of a Moving MNIST model on the
// fixed test set, beside the trivial baseline that repeats the last context
// frame.
type PredictionEval struct {
	Checkpoint string      `json:"checkpoint"`
	Step       int         `json:"step"`
	N          int         `json:"n"`       // test sequences (the first N of the fixed test set)
	Seed       uint64      `json:"seed"`    // model noise seed
	Context    int         `json:"context"` // frames given
	Horizon    int         `json:"horizon"` // frames predicted
	FramePix   int         `json:"frame_pixels"`
	Model      FrameScores `json:"model"`
	Baseline   FrameScores `json:"baseline"` // repeat the last context frame
	Blank      FrameScores `json:"blank"`    // predict black frames: what MSE gives a prediction that knows nothing
	Time       time.Time   `json:"time"`
	Seconds    float64     `json:"seconds"`
	Provenance
}

// EvaluatePrediction scores closed-loop predictions of the first n sequences
// of test (the fixed test set) in batches of batch sequences: for each
// predicted frame k = 1 … horizon, the mean over sequences of the per-pixel
// MSE and of SSIM between prediction and truth, for the model (one sample,
// noise seeded by seed), for the baseline x̂_{C+k} = x_C (the last context
// frame), and for black frames (MSE rewards a prediction for knowing nothing
// rather than for being wrong about where a digit is: this shows how far).
// Panics if n or batch is not positive.
func EvaluatePrediction(m *model.MovingMNIST, test *movingmnist.Generator, n, batch, context, horizon int, seed uint64, progress io.Writer) *PredictionEval {
	if n <= 0 || batch <= 0 {
		panic(fmt.Sprintf("eval: EvaluatePrediction of %d sequences in batches of %d", n, batch))
	}
	start := time.Now()
	r := &PredictionEval{N: n, Seed: seed, Context: context, Horizon: horizon,
		Model:    FrameScores{MSE: make([]float64, horizon), SSIM: make([]float64, horizon)},
		Baseline: FrameScores{MSE: make([]float64, horizon), SSIM: make([]float64, horizon)},
		Blank:    FrameScores{MSE: make([]float64, horizon), SSIM: make([]float64, horizon)}}
	rng := rand.New(rand.NewPCG(seed, 0xE7A1))
	s := test.Config.FrameSize
	r.FramePix = s * s
	black := make([]float64, s*s)
	for lo := 0; lo < n; lo += batch {
		hi := min(n, lo+batch)
		idx := make([]uint64, hi-lo)
		for i := range idx {
			idx[i] = uint64(lo + i)
		}
		frames := test.Batch(idx, m.DType())
		preds := mmexp.Predict(m, frames, context, horizon, rng)
		for b := range idx {
			last := mmexp.FrameOf(frames[context-1], b)
			for k := 0; k < horizon; k++ {
				truth := mmexp.FrameOf(frames[context+k], b)
				p := mmexp.FrameOf(preds[k], b)
				r.Model.MSE[k] += mse(p, truth)
				r.Model.SSIM[k] += SSIM(p, truth, s, s, 1)
				r.Baseline.MSE[k] += mse(last, truth)
				r.Baseline.SSIM[k] += SSIM(last, truth, s, s, 1)
				r.Blank.MSE[k] += mse(black, truth)
				r.Blank.SSIM[k] += SSIM(black, truth, s, s, 1)
			}
		}
		if progress != nil {
			fmt.Fprintf(progress, "\revaluated %d/%d sequences", hi, n)
		}
	}
	if progress != nil {
		fmt.Fprintln(progress)
	}
	for _, f := range []FrameScores{r.Model, r.Baseline, r.Blank} {
		for k := range f.MSE {
			f.MSE[k] /= float64(n)
			f.SSIM[k] /= float64(n)
		}
	}
	r.Time = time.Now().UTC()
	r.Seconds = time.Since(start).Seconds()
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
		file, what         string
		model, base, blank []float64
	}{
		{PredictionMSEPlot, "MSE per pixel", r.Model.MSE, r.Baseline.MSE, r.Blank.MSE},
		{PredictionSSIMPlot, "SSIM", r.Model.SSIM, r.Baseline.SSIM, r.Blank.SSIM},
	} {
		plot := &imaging.Plot{
			Title:  fmt.Sprintf("Moving MNIST prediction, %s (%d test sequences)", p.what, r.N),
			XLabel: "frame",
			YLabel: p.what,
			Series: []imaging.Series{
				{Label: "model", X: ks, Y: p.model},
				{Label: "repeat last frame", X: ks, Y: p.base},
				{Label: "black frame", X: ks, Y: p.blank},
			},
		}
		if err := plot.SavePNG(filepath.Join(dir, p.file)); err != nil {
			return err
		}
	}
	var md bytes.Buffer
	writePredictionMarkdown(&md, r)
	return atomicfile.WriteFile(filepath.Join(dir, PredictionReportFile), md.Bytes(), 0o644)
}

func writePredictionMarkdown(w io.Writer, r *PredictionEval) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	mm, ms := r.Model.Mean()
	bm, bs := r.Baseline.Mean()
	km, ks := r.Blank.Mean()
	p("# Moving MNIST prediction\n\n")
	p("| | |\n|---|---|\n")
	p("| checkpoint | `%s` |\n", r.Checkpoint)
	p("| step | %d |\n", r.Step)
	p("| test set | the first %d sequences of the fixed test set (MNIST test digits, seed %#x) |\n", r.N, movingmnist.TestSeed)
	p("| task | given frames 1–%d, predict frames %d–%d (closed loop: the model reads its own predictions) |\n", r.Context, r.Context+1, r.Context+r.Horizon)
	p("| model noise seed | %d (one sample of the stochastic model per sequence) |\n", r.Seed)
	p("| evaluated | %s (%.0f s) |\n", r.Time.Format("2006-01-02 15:04 UTC"), r.Seconds)
	r.Provenance.rows(w)
	p("\n")
	p("Baseline: repeat the last context frame. Black: predict an empty frame, a reference for what MSE gives a prediction that knows nothing (MSE favours blur and emptiness over sharp digits in slightly wrong places; SSIM less so). MSE is per pixel with pixels in [0, 1] (×%d for the per-frame sum of squares often quoted for Moving MNIST); SSIM after Wang et al. (2004), 11×11 Gaussian window σ = 1.5, L = 1, averaged over valid windows. Higher SSIM and lower MSE are better.\n\n", r.FramePix)
	p("| frame | MSE model | MSE repeat last | MSE black | SSIM model | SSIM repeat last | SSIM black |\n|---|---|---|---|---|---|---|\n")
	for k := 0; k < r.Horizon; k++ {
		p("| %d | %.5f | %.5f | %.5f | %.4f | %.4f | %.4f |\n", r.Context+k+1, r.Model.MSE[k], r.Baseline.MSE[k], r.Blank.MSE[k], r.Model.SSIM[k], r.Baseline.SSIM[k], r.Blank.SSIM[k])
	}
	p("| **mean** | **%.5f** | **%.5f** | **%.5f** | **%.4f** | **%.4f** | **%.4f** |\n\n", mm, bm, km, ms, bs, ks)
	p("Per-frame sum of squared errors (mean over frames): model %.1f, repeat last %.1f, black %.1f.\n\n", mm*float64(r.FramePix), bm*float64(r.FramePix), km*float64(r.FramePix))
	p("![MSE per frame](%s)\n\n![SSIM per frame](%s)\n", PredictionMSEPlot, PredictionSSIMPlot)
}
