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
	cifardata "github.com/wakesleep/wakesleep/data/cifar10"
	cifarexp "github.com/wakesleep/wakesleep/experiment/cifar10"
	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/internal/atomicfile"
	"github.com/wakesleep/wakesleep/tensor"
)

// This file measures a CIFAR-10 run (Sec. 5.2): how much of a test image
// survives each depth of the hierarchy (reconstruction error, and whether
// the embedded CIFAR-10 classifier still sees the image's class), how close
// samples and reconstructions come to the data in the classifier's feature
// space (Fréchet distances, with the train-vs-test floor), how much of the
// label each layer's inferred z carries (linear probes, as PAD and BiGAN
// report), and how well the bottom-up activity of each layer matches its
// top-down activity (pattern KL divergences with a noise floor), and the
// colours of samples.

// Files WriteCIFAR10 puts in a report folder.
const (
	CIFAR10ReportFile = "cifar10.md"
	CIFAR10ResultFile = "cifar10.json"
	CIFAR10DepthPlot  = "cifar10-depth.png" // class agreement against depth (with a classifier)
)

// DepthScores are the measures of reconstructions through one depth.
type DepthScores struct {
	Depth int     `json:"depth"`
	MSE   float64 `json:"mse"`     // per pixel and channel, pixels in [0, 1]
	PSNR  float64 `json:"psnr_db"` // 10·log10(1/MSE), at most maxPSNR
	// Agreement of the classifier's view of the reconstructions with the
	// labels and with its view of the inputs (nil without a classifier).
	Agreement *Agreement `json:"agreement,omitempty"`
	// Frechet is the Fréchet distance of classifier features between the
	// reconstructions and the test images (−1 without a classifier).
	Frechet float64 `json:"frechet_to_test"`
}

// ChannelStats are the mean and standard deviation of each colour channel,
// pixels in [0, 1].
type ChannelStats struct {
	Mean [3]float64 `json:"mean"`
	Std  [3]float64 `json:"std"`
}

// ProbeScore is the test accuracy of a linear softmax probe of the labels
// on one layer's inferred activity (layer 0: the pixels).
type ProbeScore struct {
	Layer    int     `json:"layer"`
	Dims     int     `json:"dims"`     // features after pooling
	Pool     int     `json:"pool"`     // side of the average-pooling blocks
	Accuracy float64 `json:"accuracy"` // on the test images; chance 0.1
}

// LayerAlignment compares the bottom-up (wake: test images, z ~ q) and the
// top-down (sleep: z_L ~ N(0, I), z ~ p) activity of one layer (layer 0: x)
// as Alignment does: KL divergences in bits between pattern histograms of
// Units rounded units, with the wake-vs-wake control as the noise floor.
type LayerAlignment struct {
	Layer int              `json:"layer"`
	Units int              `json:"units"`
	Dims  int              `json:"dims"`
	Align *AlignmentResult `json:"alignment"`
}

// CIFAR10Result is the measure of a CIFAR-10 checkpoint.
type CIFAR10Result struct {
	Checkpoint string        `json:"checkpoint"`
	Step       int           `json:"step"`
	N          int           `json:"n"` // test images (evenly spaced over the test set) and samples
	Seed       uint64        `json:"seed"`
	Depths     []DepthScores `json:"depths"`
	Test       ChannelStats  `json:"test"`
	Samples    ChannelStats  `json:"samples"`
	// Classifier is the source of the CIFAR-10 classifier ("" if none) and
	// ClassifierTest the test accuracy recorded in its file.
	Classifier     string  `json:"classifier,omitempty"`
	ClassifierTest float64 `json:"classifier_test_accuracy,omitempty"`
	// Accuracy is the classifier's accuracy on the N test images: the
	// agreement a perfect reconstructor would score.
	Accuracy float64 `json:"accuracy,omitempty"`
	// SampleClasses are the classes the classifier sees in the samples.
	SampleClasses *ClassStats `json:"sample_classes,omitempty"`
	// FrechetSamples is the Fréchet distance of classifier features between
	// the samples and the test images, FrechetFloor that between N training
	// images and the test images (−1 without a classifier or training set).
	FrechetSamples float64 `json:"frechet_samples_test"`
	FrechetFloor   float64 `json:"frechet_train_test"`
	// Probes are linear probes of the labels on each layer's inferred
	// activity, trained on ProbeTrain training images (nil without a
	// training set).
	Probes     []ProbeScore `json:"probes,omitempty"`
	ProbeTrain int          `json:"probe_train,omitempty"`
	// Alignments compare wake and sleep activity layer by layer.
	Alignments []LayerAlignment `json:"alignments,omitempty"`
	Time       time.Time        `json:"time"`
	Seconds    float64          `json:"seconds"`
	Provenance
}

// CIFAR10Subject is what EvaluateCIFAR10 needs of a hierarchical model, in
// the model's pixel scale; cifarexp.Trainer gives one (CIFAR10SubjectOf).
type CIFAR10Subject interface {
	Layers() int
	// Wake returns [x, z₁, …, z_L] with z_k ~ q(z_k | z_{k−1}), bottom-up.
	Wake(x *tensor.Tensor, rng *rand.Rand) []*tensor.Tensor
	// Sleep returns [x, z₁, …, z_L] of n samples, z_L from the prior, top-down.
	Sleep(n int, rng *rand.Rand) []*tensor.Tensor
	// Reconstruct returns the image reconstructed through depth d.
	Reconstruct(x *tensor.Tensor, d int, rng *rand.Rand) *tensor.Tensor
}

type trainerSubject struct{ t *cifarexp.Trainer }

// CIFAR10SubjectOf returns t's model as a CIFAR10Subject; Reconstruct is
// cifarexp.ReconstructDepth (up to z_d and back down to E[x|z₁]).
func CIFAR10SubjectOf(t *cifarexp.Trainer) CIFAR10Subject { return trainerSubject{t} }

func (s trainerSubject) Layers() int { return s.t.Model.Layers() }
func (s trainerSubject) Wake(x *tensor.Tensor, rng *rand.Rand) []*tensor.Tensor {
	return values(s.t.Model.Infer(ad.Const(x), rng))
}
func (s trainerSubject) Sleep(n int, rng *rand.Rand) []*tensor.Tensor {
	return values(s.t.Model.Generate(s.t.Model.Prior(n, rng), rng))
}
func (s trainerSubject) Reconstruct(x *tensor.Tensor, d int, rng *rand.Rand) *tensor.Tensor {
	return cifarexp.ReconstructDepth(s.t.Model, x, d, rng).Value
}

func values(vs []*ad.Var) []*tensor.Tensor {
	out := make([]*tensor.Tensor, len(vs))
	for i, v := range vs {
		out[i] = v.Value
	}
	return out
}

// CIFAR10Options configure EvaluateCIFAR10; zero values mean the defaults
// in brackets.
type CIFAR10Options struct {
	N     int    // test images, evenly spaced over the test set, and samples [1000]
	Batch int    // images per forward pass [100]
	Seed  uint64 // the model's noise [1]
	// Classifier judges reconstructions and samples (nil: no classifier
	// measures); ClassifierInfo describes it.
	Classifier     *CIFARClassifier
	ClassifierInfo ClassifierInfo
	// Train, if given, gives the Fréchet floor (N training images against
	// the test images) and the linear probes' training images.
	Train *cifardata.Set
	// ProbeTrain is the number of training images of the probes [N].
	ProbeTrain int
	// Alignment configures the per-layer alignments [Draws 10, 4 units,
	// α = ½, seed 1]; XUnits is the number of units of each layer.
	Alignment AlignmentOptions
	// PixelScale is the model's pixel scaling [sym].
	PixelScale string
	// Log receives progress lines (nil: none).
	Log io.Writer
}

func (o CIFAR10Options) withDefaults() CIFAR10Options {
	if o.N == 0 {
		o.N = 1000
	}
	if o.Batch == 0 {
		o.Batch = 100
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.ProbeTrain == 0 {
		o.ProbeTrain = o.N
	}
	if o.Alignment.Draws == 0 {
		o.Alignment = AlignmentOptions{Draws: 10, XUnits: 4, Alpha: 0.5, Choice: UnitsUniform, Seed: 1}
	}
	if o.PixelScale == "" {
		o.PixelScale = cifardata.ScaleSym
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

// EvaluateCIFAR10 measures t's model on n test images (and the training
// images of o.Train): see CIFAR10Result and EvaluateSubject.
func EvaluateCIFAR10(t *cifarexp.Trainer, test *cifardata.Set, o CIFAR10Options) (*CIFAR10Result, error) {
	o.PixelScale = t.Config.PixelScale
	r, err := EvaluateSubject(CIFAR10SubjectOf(t), test, o)
	if err != nil {
		return nil, err
	}
	r.Step = t.Step
	return r, nil
}

// EvaluateSubject measures m on o.N test images evenly spaced over test
// (every class) and o.N samples, in batches of o.Batch, with noise seeded
// by o.Seed:
//
//   - through each depth d: the reconstruction's MSE and PSNR and, with a
//     classifier, its class agreement (AgreementOf) and the Fréchet distance
//     of its features to the test images';
//   - the colour statistics of the samples and, with a classifier, their
//     classes and Fréchet distance to the test images, beside the floor of
//     N training images;
//   - with a training set, a linear probe (LinearProbe) of the labels on
//     each layer's sampled z_k, average-pooled in blocks until at most 512
//     features remain, trained on ProbeTrain training images and tested on
//     the N test images (layer 0: the pixels, the reference);
//   - for each layer, Alignment of the wake activity (the test images'
//     z_k) against the sleep activity (the samples' z_k) over
//     o.Alignment.XUnits units drawn uniformly, with the noise floor.
func EvaluateSubject(m CIFAR10Subject, test *cifardata.Set, o CIFAR10Options) (*CIFAR10Result, error) {
	o = o.withDefaults()
	n, batch := o.N, o.Batch
	if n < 2 || n > test.N || batch <= 0 {
		return nil, fmt.Errorf("eval: %d of %d test images in batches of %d (need at least 2)", n, test.N, batch)
	}
	if o.Train != nil && (o.ProbeTrain < 2 || o.ProbeTrain > o.Train.N || n > o.Train.N) {
		return nil, fmt.Errorf("eval: %d probe and %d floor images of a training set of %d", o.ProbeTrain, n, o.Train.N)
	}
	if err := o.Alignment.Validate(); err != nil {
		return nil, err
	}
	if err := cifardata.ValidateScale(o.PixelScale); err != nil {
		return nil, err
	}
	start := time.Now()
	L := m.Layers()
	r := &CIFAR10Result{N: n, Seed: o.Seed, FrechetSamples: -1, FrechetFloor: -1}
	if c := o.Classifier; c != nil {
		r.Classifier, r.ClassifierTest = o.ClassifierInfo.Source, o.ClassifierInfo.TestAccuracy
	}
	unit := func(x *tensor.Tensor) *tensor.Tensor {
		if o.PixelScale == cifardata.ScaleSym {
			return tensor.Affine(x, 0.5, 0.5)
		}
		return x
	}
	sq := make([]float64, L+1)
	var testAcc, sampleAcc channelAcc
	rng := rand.New(rand.NewPCG(o.Seed, 0xC1FA))
	testIdx := cifardata.Spread(test.N, n)
	labels := make([]uint8, n)
	for i, j := range testIdx {
		labels[i] = test.Labels[j]
	}
	var testImgs, sampleImgs []*tensor.Tensor
	recons := make([][]*tensor.Tensor, L+1)
	wake := make([][]*tensor.Tensor, L+1)   // per layer, batches of [B, D_k]
	sleep := make([][]*tensor.Tensor, L+1)  // the same for the samples
	pooled := make([][]*tensor.Tensor, L+1) // wake activity pooled for the probes
	pools := make([]int, L+1)
	for lo := 0; lo < n; lo += batch {
		hi := min(n, lo+batch)
		x := test.Batch(testIdx[lo:hi], tensor.Float32, o.PixelScale)
		ux := unit(x)
		testAcc.add(ux)
		testImgs = append(testImgs, ux)
		for d := 1; d <= L; d++ {
			rc := unit(m.Reconstruct(x, d, rng))
			sq[d] += sumSquares(ux, rc)
			recons[d] = append(recons[d], rc)
		}
		zs := m.Wake(x, rng)
		ss := m.Sleep(hi-lo, rng)
		if len(zs) != L+1 || len(ss) != L+1 {
			return nil, fmt.Errorf("eval: wake gives %d layers, sleep %d, want %d", len(zs), len(ss), L+1)
		}
		for k := 0; k <= L; k++ {
			wake[k] = append(wake[k], flat(zs[k]))
			sleep[k] = append(sleep[k], flat(ss[k]))
			if o.Train != nil {
				pools[k] = poolFor(zs[k])
				pooled[k] = append(pooled[k], flat(avgPool(zs[k], pools[k])))
			}
		}
		us := unit(ss[0])
		sampleAcc.add(us)
		sampleImgs = append(sampleImgs, us)
		fmt.Fprintf(o.Log, "\rcifar10 eval: %d/%d test images", hi, n)
	}
	fmt.Fprintln(o.Log)
	per := float64(n * cifardata.ImageBytes)
	for d := 1; d <= L; d++ {
		mse := sq[d] / per
		r.Depths = append(r.Depths, DepthScores{Depth: d, MSE: mse, PSNR: psnr(mse), Frechet: -1})
	}
	r.Test, r.Samples = testAcc.stats(), sampleAcc.stats()

	if c := o.Classifier; c != nil {
		fmt.Fprintln(o.Log, "cifar10 eval: classifier measures")
		tx := tensor.Concat(0, testImgs...)
		testOut := c.Classify(tx, true)
		r.Accuracy = accuracyOf(testOut, labels)
		for d := 1; d <= L; d++ {
			ro := c.Classify(tensor.Concat(0, recons[d]...), true)
			a := AgreementOf(testOut, ro, labels)
			r.Depths[d-1].Agreement = &a
			fd, err := FrechetDistance(ro.Features, testOut.Features)
			if err != nil {
				return nil, err
			}
			r.Depths[d-1].Frechet = fd
		}
		so := c.Classify(tensor.Concat(0, sampleImgs...), true)
		cs := ClassStatsOf(so)
		r.SampleClasses = &cs
		fd, err := FrechetDistance(so.Features, testOut.Features)
		if err != nil {
			return nil, err
		}
		r.FrechetSamples = fd
		if o.Train != nil {
			tr := o.Train.Batch(cifardata.Spread(o.Train.N, n), tensor.Float32, cifardata.ScaleUnit)
			if r.FrechetFloor, err = FrechetDistance(c.Classify(tr, true).Features, testOut.Features); err != nil {
				return nil, err
			}
		}
	}

	if o.Train != nil {
		fmt.Fprintln(o.Log, "cifar10 eval: linear probes")
		r.ProbeTrain = o.ProbeTrain
		trIdx := cifardata.Spread(o.Train.N, o.ProbeTrain)
		trLabels := make([]uint8, len(trIdx))
		trPooled := make([][]*tensor.Tensor, L+1)
		for lo := 0; lo < len(trIdx); lo += batch {
			hi := min(len(trIdx), lo+batch)
			for i, j := range trIdx[lo:hi] {
				trLabels[lo+i] = o.Train.Labels[j]
			}
			zs := m.Wake(o.Train.Batch(trIdx[lo:hi], tensor.Float32, o.PixelScale), rng)
			for k := 0; k <= L; k++ {
				trPooled[k] = append(trPooled[k], flat(avgPool(zs[k], pools[k])))
			}
		}
		for k := 0; k <= L; k++ {
			te, tr := tensor.Concat(0, pooled[k]...), tensor.Concat(0, trPooled[k]...)
			acc := LinearProbe(tr, trLabels, te, labels)
			r.Probes = append(r.Probes, ProbeScore{Layer: k, Dims: te.Dim(1), Pool: pools[k], Accuracy: acc})
		}
	}

	fmt.Fprintln(o.Log, "cifar10 eval: alignments")
	for k := 0; k <= L; k++ {
		w, s := tensor.Concat(0, wake[k]...), tensor.Concat(0, sleep[k]...)
		a := o.Alignment
		a.ZUnits = 0
		a.Choice = UnitsUniform
		a.XUnits = min(a.XUnits, w.Dim(1))
		res, err := Alignment(Phase{X: w}, Phase{X: s}, a)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", k, err)
		}
		res.Scatter, res.ControlScatter = FrequencyPairs{}, FrequencyPairs{}
		res.Draws = nil
		r.Alignments = append(r.Alignments, LayerAlignment{Layer: k, Units: a.XUnits, Dims: w.Dim(1), Align: res})
	}
	r.Time = time.Now().UTC()
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}

// maxPSNR caps the PSNR of a perfect reconstruction (MSE 0), which JSON
// could not hold as +Inf.
const maxPSNR = 100

func psnr(mse float64) float64 { return math.Min(maxPSNR, 10*math.Log10(1/mse)) }

// flat reshapes x [B, …] to [B, rest] (float32, sharing storage if it is).
func flat(x *tensor.Tensor) *tensor.Tensor {
	return x.AsType(tensor.Float32).Reshape(x.Dim(0), -1)
}

// maxProbeDims bounds the features of a linear probe: LinearProbe's cost
// grows with them, and 512 keeps a probe of 1,000 images to seconds.
const maxProbeDims = 512

// poolFor returns the smallest power-of-two block side f dividing the
// spatial size of z [B, C, H, W] with C·(H/f)·(W/f) ≤ maxProbeDims (or
// the whole plane); 1 for z of another rank.
func poolFor(z *tensor.Tensor) int {
	if z.Rank() != 4 {
		return 1
	}
	c, h, w := z.Dim(1), z.Dim(2), z.Dim(3)
	f := 1
	for c*(h/f)*(w/f) > maxProbeDims && h%(2*f) == 0 && w%(2*f) == 0 {
		f *= 2
	}
	return f
}

// avgPool averages z [B, C, H, W] over f×f blocks (f = 1 or another rank:
// z itself).
func avgPool(z *tensor.Tensor, f int) *tensor.Tensor {
	if f <= 1 || z.Rank() != 4 {
		return z
	}
	b, c, h, w := z.Dim(0), z.Dim(1), z.Dim(2), z.Dim(3)
	oh, ow := h/f, w/f
	out := tensor.New(tensor.Float32, b, c, oh, ow)
	d := out.Float32s()
	inv := 1 / float64(f*f)
	for p := 0; p < b*c; p++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				var s float64
				for u := 0; u < f; u++ {
					for v := 0; v < f; v++ {
						s += z.At(p*h*w + (i*f+u)*w + j*f + v)
					}
				}
				d[p*oh*ow+i*ow+j] = float32(s * inv)
			}
		}
	}
	return out
}

// sumSquares is Σ (a−b)² with both clamped to [0, 1].
func sumSquares(a, b *tensor.Tensor) float64 {
	var s float64
	for i := 0; i < a.Len(); i++ {
		d := unitClamp(a.At(i)) - unitClamp(b.At(i))
		s += d * d
	}
	return s
}

func unitClamp(v float64) float64 { return math.Min(1, math.Max(0, v)) }

// channelAcc accumulates per-channel sums of images [B, 3, H, W].
type channelAcc struct{ n, s, ss [3]float64 }

func (c *channelAcc) add(x *tensor.Tensor) {
	hw := x.Dim(2) * x.Dim(3)
	for b := 0; b < x.Dim(0); b++ {
		for ch := 0; ch < 3; ch++ {
			base := (b*3 + ch) * hw
			for i := 0; i < hw; i++ {
				v := unitClamp(x.At(base + i))
				c.n[ch]++
				c.s[ch] += v
				c.ss[ch] += v * v
			}
		}
	}
}

func (c *channelAcc) stats() ChannelStats {
	var st ChannelStats
	for ch := range st.Mean {
		m := c.s[ch] / c.n[ch]
		st.Mean[ch] = m
		st.Std[ch] = math.Sqrt(math.Max(0, c.ss[ch]/c.n[ch]-m*m))
	}
	return st
}

// depthPlot draws how much of the image's class survives each depth of the
// hierarchy: the reconstructions' class agreement against d, beside the
// classifier's accuracy on the inputs (a perfect reconstructor) and chance.
func depthPlot(r *CIFAR10Result) *imaging.Plot {
	var ds, agree, consist []float64
	var ticks []imaging.Tick
	for _, d := range r.Depths {
		ds = append(ds, float64(d.Depth))
		agree = append(agree, d.Agreement.Agreement)
		consist = append(consist, d.Agreement.Consistency)
		ticks = append(ticks, imaging.Tick{Value: float64(d.Depth), Label: fmt.Sprintf("z%d", d.Depth)})
	}
	flat := func(v float64) []float64 { return []float64{v, v} }
	ends := []float64{ds[0], ds[len(ds)-1]}
	return &imaging.Plot{
		Title:  fmt.Sprintf("CIFAR-10: class of x -> z_d -> x, step %d (%d test images)", r.Step, r.N),
		XLabel: "depth d of the reconstruction",
		YLabel: "fraction",
		XTicks: ticks,
		YLim:   [2]float64{0, 1},
		Series: []imaging.Series{
			{Label: "agreement with the label", X: ds, Y: agree},
			{Label: "same class as the input", X: ds, Y: consist},
			{Label: fmt.Sprintf("classifier on the inputs (%.2f)", r.Accuracy), X: ends, Y: flat(r.Accuracy), Thin: true},
			{Label: "chance (0.10)", X: ends, Y: flat(0.1), Thin: true},
		},
	}
}

// WriteCIFAR10 writes r into dir (created if needed): cifar10.md and
// cifar10.json.
func WriteCIFAR10(dir string, r *CIFAR10Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cifar10 report: %w", err)
	}
	r.stamp()
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, CIFAR10ResultFile), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if r.Classifier != "" && len(r.Depths) > 0 {
		if err := depthPlot(r).SavePNG(filepath.Join(dir, CIFAR10DepthPlot)); err != nil {
			return err
		}
	}
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# CIFAR-10 evaluation\n\n| | |\n|---|---|\n")
	p("| checkpoint | `%s` |\n| step | %d |\n| test images | %d, evenly spaced over the test set (every class) |\n", r.Checkpoint, r.Step, r.N)
	p("| noise seed | %d |\n| evaluated | %s (%.0f s) |\n", r.Seed, r.Time.Format("2006-01-02 15:04 UTC"), r.Seconds)
	r.Provenance.rows(&b)
	p("\n")
	p("Reconstruction through depth d: x → z₁ → … → z_d sampled bottom-up, z_{d−1} … z₁ sampled top-down, then the mean image E[x | z₁]. MSE per pixel and channel with pixels in [0, 1]; lower is better.\n\n")
	if r.Classifier != "" {
		p("Classifier: `%s` (test accuracy %.4f recorded in its file; %.4f on these %d images, the agreement a perfect reconstructor scores). Agreement: the fraction of reconstructions classified as the input's label; consistency: as the classifier sees the input. FD: Fréchet distance of the classifier's pooled features, reconstructions against the test images.\n\n",
			r.Classifier, r.ClassifierTest, r.Accuracy, r.N)
		p("| depth | MSE | PSNR (dB) | agreement | consistency | FD to test |\n|---|---|---|---|---|---|\n")
		for _, d := range r.Depths {
			p("| %d | %.5f | %.2f | %.3f | %.3f | %.2f |\n", d.Depth, d.MSE, d.PSNR, d.Agreement.Agreement, d.Agreement.Consistency, d.Frechet)
		}
		p("\n![class agreement against depth](%s)\n", CIFAR10DepthPlot)
		p("\nSamples (z_L ~ N(0, I), sampled top-down): FD to the test images %.2f; %d training images against the test images (the floor): %s. Classes the classifier sees in the samples: entropy %.2f bits (uniform: 3.32), mean confidence %.3f.\n\n",
			r.FrechetSamples, r.N, floorText(r.FrechetFloor), r.SampleClasses.EntropyBits, r.SampleClasses.MeanConfidence)
	} else {
		p("No CIFAR-10 classifier: class agreement and Fréchet distances are not measured.\n\n")
		p("| depth | MSE | PSNR (dB) |\n|---|---|---|\n")
		for _, d := range r.Depths {
			p("| %d | %.5f | %.2f |\n", d.Depth, d.MSE, d.PSNR)
		}
		p("\n")
	}
	if len(r.Probes) > 0 {
		p("Linear probes: softmax regression of the labels on each layer's sampled activity (z ~ q bottom-up; layer 0 is the pixels), average-pooled in blocks of the given side to at most %d features, trained on %d training images, accuracy on the %d test images (chance 0.10):\n\n", maxProbeDims, r.ProbeTrain, r.N)
		p("| layer | features | pool | probe accuracy |\n|---|---|---|---|\n")
		for _, pr := range r.Probes {
			p("| %s | %d | %d | %.3f |\n", layerName(pr.Layer), pr.Dims, pr.Pool, pr.Accuracy)
		}
		p("\n")
	}
	if len(r.Alignments) > 0 {
		a0 := r.Alignments[0].Align
		p("Alignment of each layer: bottom-up activity of the test images (wake) against top-down activity of the samples (sleep), rounded to integers, pattern histograms over %d units drawn uniformly from the layer, %d draws, halves of %d; KL in bits, mean ± std over draws. The control (wake half against wake half) is the noise floor: a layer is as aligned as the estimator can tell when KL(wake‖sleep) is within the control's spread.\n\n", r.Alignments[0].Units, a0.Options.Draws, a0.HalfN)
		p("| layer | units of | KL(wake‖sleep) | KL(sleep‖wake) | control (wake) | control (sleep) | missing mass wake |\n|---|---|---|---|---|---|---|\n")
		for _, la := range r.Alignments {
			a := la.Align
			p("| %s | %d | %s | %s | %s | %s | %.2f |\n", layerName(la.Layer), la.Dims, pm(a.WakeSleep), pm(a.SleepWake), pm(a.Control), pm(a.SleepControl), a.WakeMissing.Mean)
		}
		p("\n")
	}
	p("Colour statistics of %d samples (z_L ~ N(0, I), sampled top-down) beside the test images:\n\n| | mean R | mean G | mean B | std R | std G | std B |\n|---|---|---|---|---|---|---|\n", r.N)
	for _, row := range []struct {
		name string
		s    ChannelStats
	}{{"test", r.Test}, {"samples", r.Samples}} {
		p("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", row.name, row.s.Mean[0], row.s.Mean[1], row.s.Mean[2], row.s.Std[0], row.s.Std[1], row.s.Std[2])
	}
	return atomicfile.WriteFile(filepath.Join(dir, CIFAR10ReportFile), b.Bytes(), 0o644)
}

// floorText prints a Fréchet floor, or says why there is none.
func floorText(fd float64) string {
	if fd < 0 {
		return "not measured (no training set)"
	}
	return fmt.Sprintf("%.2f", fd)
}

// layerName names layer k of the hierarchy: x for 0, else z_k.
func layerName(k int) string {
	if k == 0 {
		return "x"
	}
	return fmt.Sprintf("z%d", k)
}
