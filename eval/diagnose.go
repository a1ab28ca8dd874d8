package eval

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/data/mnist"
	mnistexp "github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/objective"
	"github.com/wakesleep/wakesleep/tensor"
)

// Diagnosis is what `wakesleep diagnose` measures of an MNIST checkpoint:
// how much of the digit's identity the inferred latent carries, and which
// terms of the networks' loss drive the encoder and the decoder.
type Diagnosis struct {
	Checkpoint string `json:"checkpoint"`
	Step       int    `json:"step"`
	Provenance
	// ProbeZ is the test accuracy of a linear (softmax) classifier of the
	// digit labels trained on sampled z ~ q(z|x) of ProbeTrain training
	// digits and tested on ProbeTest test digits; ProbeZMean the same on the
	// noise-free latent (every Gaussian unit at its mean). Chance is ≈ 0.1.
	ProbeZ     float64 `json:"probe_z_accuracy"`
	ProbeZMean float64 `json:"probe_zmean_accuracy"`
	ProbeTrain int     `json:"probe_train"`
	ProbeTest  int     `json:"probe_test"`
	// ReconMean is the classifier's agreement of noise-free reconstructions
	// (means all the way down and up) with the digits' labels.
	ReconMean float64 `json:"recon_mean_agreement"`
	// Encoder and Decoder give, for each weighted term of the networks'
	// loss (objective.NetworkTerms), the L2 norm of its gradient with
	// respect to all inference (encoder) or generation (decoder)
	// parameters, averaged over Batches batches of BatchSize training digits.
	Encoder   map[string]float64 `json:"grad_norm_encoder"`
	Decoder   map[string]float64 `json:"grad_norm_decoder"`
	Batches   int                `json:"batches"`
	BatchSize int                `json:"batch_size"`
	// LatentStd is the mean σ of the inference network's first Gaussian
	// layer over the probe's test digits, and LatentMeanStd the standard
	// deviation across digits of its mean (signal against noise in z).
	LatentStd     float64 `json:"latent_sigma"`
	LatentMeanStd float64 `json:"latent_mean_spread"`
	// PixelStd and RecurPixelStd are the mean σ of the generation network's
	// first and recurrent Gaussian layers (the pixel noise) on the
	// noise-free reconstructions' path.
	PixelStd      float64 `json:"pixel_sigma"`
	RecurPixelStd float64 `json:"recur_pixel_sigma"`
}

// DiagnoseOptions configure Diagnose; zero values mean the defaults in brackets.
type DiagnoseOptions struct {
	ProbeTrain int         // training digits for the probe [5000]
	ProbeTest  int         // test digits for the probe [2000]
	Batches    int         // batches for the gradient norms [4]
	BatchSize  int         // [the run's batch size]
	Seed       uint64      // noise [1]
	Classifier *Classifier // for ReconMean [DefaultClassifier()]
}

// Diagnose measures tr's model (an MNIST trainer) on the given data.
func Diagnose(tr *mnistexp.Trainer, trainSet, testSet *mnist.Set, o DiagnoseOptions) (*Diagnosis, error) {
	if trainSet == nil || testSet == nil {
		return nil, errors.New("diagnose: need the training and the test set")
	}
	if o.ProbeTrain == 0 {
		o.ProbeTrain = 5000
	}
	if o.ProbeTest == 0 {
		o.ProbeTest = 2000
	}
	if o.Batches == 0 {
		o.Batches = 4
	}
	if o.BatchSize == 0 {
		o.BatchSize = tr.Config.BatchSize
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.ProbeTrain < 10 || o.ProbeTrain > trainSet.N || o.ProbeTest < 10 || o.ProbeTest > testSet.N {
		return nil, fmt.Errorf("diagnose: probe sizes %d/%d must be in 10..%d/%d", o.ProbeTrain, o.ProbeTest, trainSet.N, testSet.N)
	}
	if o.Batches < 1 || o.BatchSize < 2 || o.Batches*o.BatchSize > trainSet.N {
		return nil, fmt.Errorf("diagnose: %d batches of %d do not fit %d training digits", o.Batches, o.BatchSize, trainSet.N)
	}
	m := tr.Model
	scale := tr.Config.PixelScale
	rng := rand.New(rand.NewPCG(o.Seed, 0xD1A6))
	d := &Diagnosis{Step: tr.Step, ProbeTrain: o.ProbeTrain, ProbeTest: o.ProbeTest,
		Batches: o.Batches, BatchSize: o.BatchSize,
		Encoder: map[string]float64{}, Decoder: map[string]float64{}}

	// Latents of the probe's digits, sampled and noise-free.
	latents := func(set *mnist.Set, n int) (z, zm *tensor.Tensor) {
		var zs, zms []*tensor.Tensor
		for b := 0; b < n; b += 500 {
			x := ad.Const(set.Batch(seq(min(b+500, n))[b:], m.DType(), scale))
			zs = append(zs, m.Infer(x, rng).Value)
			zms = append(zms, m.InferMean(x).Value)
		}
		return tensor.Concat(0, zs...), tensor.Concat(0, zms...)
	}
	trZ, trZM := latents(trainSet, o.ProbeTrain)
	teZ, teZM := latents(testSet, o.ProbeTest)
	d.ProbeZ = LinearProbe(trZ, trainSet.Labels[:o.ProbeTrain], teZ, testSet.Labels[:o.ProbeTest])
	d.ProbeZMean = LinearProbe(trZM, trainSet.Labels[:o.ProbeTrain], teZM, testSet.Labels[:o.ProbeTest])

	// Signal against noise in the first inference layer.
	xTest := ad.Const(testSet.Batch(seq(o.ProbeTest), m.DType(), scale))
	mean, std := m.Inference.First.Moments(xTest)
	d.LatentStd = meanOf(std.Value)
	d.LatentMeanStd = columnSpread(mean.Value)

	// Noise-free reconstructions, judged by the classifier.
	c := o.Classifier
	if c == nil {
		var err error
		if c, _, err = DefaultClassifier(); err != nil {
			return nil, err
		}
	}
	zm := ad.Const(teZM) // the noise-free latents of the same test digits, from the probe
	px, pstd := m.Generator.First.Moments(zm)
	d.PixelStd = meanOf(pstd.Value)
	_, rstd := m.Generator.Recur.Moments(px)
	d.RecurPixelStd = meanOf(rstd.Value)
	recon := m.GenerateMean(zm).Value
	out := c.Classify(toUnit(recon, scale), false)
	hits := 0
	for i, p := range out.Predicted() {
		if p == int(testSet.Labels[i]) {
			hits++
		}
	}
	d.ReconMean = float64(hits) / float64(o.ProbeTest)

	// Gradient norm of each weighted loss term at the encoder and decoder.
	enc := nn.Vars(nn.Prefixed("inference", m.Inference.Parameters()))
	dec := nn.Vars(nn.Prefixed("generator", m.Generator.Parameters()))
	order := mnist.Permutation(rng, trainSet.N)
	for b := 0; b < o.Batches; b++ {
		x := ad.Const(trainSet.Batch(order[b*o.BatchSize:(b+1)*o.BatchSize], m.DType(), scale))
		ph := objective.RunPhases(m, x, tr.Config.Objective, rng)
		terms, _ := objective.NetworkTerms(m, ph, tr.Config.Objective)
		for _, t := range terms {
			d.Encoder[t.Name] += gradNorm(t.Value, enc) / float64(o.Batches)
			d.Decoder[t.Name] += gradNorm(t.Value, dec) / float64(o.Batches)
		}
	}
	return d, nil
}

// gradNorm is ‖∂y/∂wrt‖₂ over all of wrt (0 where y does not depend on them).
func gradNorm(y *ad.Var, wrt []*ad.Var) float64 {
	s := 0.0
	for _, g := range ad.Grad(y, wrt, nil) {
		if g == nil {
			continue
		}
		for i := 0; i < g.Value.Len(); i++ {
			v := g.Value.At(i)
			s += v * v
		}
	}
	return math.Sqrt(s)
}

func meanOf(t *tensor.Tensor) float64 {
	s := 0.0
	for i := 0; i < t.Len(); i++ {
		s += t.At(i)
	}
	return s / float64(t.Len())
}

// columnStats returns each column's mean and standard deviation across the
// rows of x [N, D].
func columnStats(x *tensor.Tensor) (mu, sd []float64) {
	n, dim := x.Dim(0), x.Dim(1)
	mu, sd = make([]float64, dim), make([]float64, dim)
	for j := 0; j < dim; j++ {
		s, s2 := 0.0, 0.0
		for i := 0; i < n; i++ {
			v := x.At(i*dim + j)
			s += v
			s2 += v * v
		}
		mu[j] = s / float64(n)
		sd[j] = math.Sqrt(math.Max(0, s2/float64(n)-mu[j]*mu[j]))
	}
	return mu, sd
}

// columnSpread is the mean over columns of each column's standard deviation
// across rows, for x [N, D].
func columnSpread(x *tensor.Tensor) float64 {
	_, sd := columnStats(x)
	total := 0.0
	for _, v := range sd {
		total += v
	}
	return total / float64(len(sd))
}

// LinearProbe trains a softmax regression of labels on the rows of feats
// (standardised with the training rows' mean and std; L2 penalty 1e-4; 500
// full-batch Adam steps from zero, so the result is deterministic) and
// returns its accuracy on the test rows.
func LinearProbe(trainF *tensor.Tensor, trainY []uint8, testF *tensor.Tensor, testY []uint8) float64 {
	n, dim := trainF.Dim(0), trainF.Dim(1)
	const classes = 10
	mu, sd := columnStats(trainF)
	for j := range sd {
		sd[j] += 1e-6
	}
	std := func(f *tensor.Tensor) [][]float64 {
		rows := make([][]float64, f.Dim(0))
		for i := range rows {
			r := make([]float64, dim+1)
			for j := 0; j < dim; j++ {
				r[j] = (f.At(i*dim+j) - mu[j]) / sd[j]
			}
			r[dim] = 1 // bias
			rows[i] = r
		}
		return rows
	}
	xs, ts := std(trainF), std(testF)
	w := make([]float64, classes*(dim+1))
	g := make([]float64, len(w))
	m1 := make([]float64, len(w))
	m2 := make([]float64, len(w))
	p := make([]float64, classes)
	const lr, b1, b2, l2 = 0.05, 0.9, 0.999, 1e-4
	for it := 1; it <= 500; it++ {
		for k := range g {
			g[k] = l2 * w[k]
		}
		for i, r := range xs {
			logits(w, r, p)
			softmax(p)
			p[trainY[i]] -= 1
			for c := 0; c < classes; c++ {
				gc := p[c] / float64(n)
				row := g[c*(dim+1) : (c+1)*(dim+1)]
				for j, v := range r {
					row[j] += gc * v
				}
			}
		}
		c1, c2 := 1-math.Pow(b1, float64(it)), 1-math.Pow(b2, float64(it))
		for k := range w {
			m1[k] = b1*m1[k] + (1-b1)*g[k]
			m2[k] = b2*m2[k] + (1-b2)*g[k]*g[k]
			w[k] -= lr * (m1[k] / c1) / (math.Sqrt(m2[k]/c2) + 1e-8)
		}
	}
	hits := 0
	for i, r := range ts {
		logits(w, r, p)
		if argmax(p) == int(testY[i]) {
			hits++
		}
	}
	return float64(hits) / float64(len(ts))
}

func logits(w, r, out []float64) {
	d := len(r)
	for c := range out {
		s := 0.0
		for j, v := range r {
			s += w[c*d+j] * v
		}
		out[c] = s
	}
}
