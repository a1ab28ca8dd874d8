package eval

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/data/mnist"
	mnistexp "github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/tensor"
)

// Model is what Evaluate needs of a trained model: the bottom-up (wake)
// pass, the top-down pass and the prior. *model.MNIST implements it. Inputs
// are float32 unless the model also has a method DType() tensor.DType.
type Model interface {
	Infer(x *ad.Var, rng *rand.Rand) *ad.Var    // z ~ q(z|x): [B, X] → [B, Z]
	Generate(z *ad.Var, rng *rand.Rand) *ad.Var // x ~ p(x|z): [B, Z] → [B, X]
	Prior(batch int, rng *rand.Rand) *ad.Var    // z ~ p(z): [batch, Z]
}

// Options configure Evaluate. The zero value of a field means its default,
// given in brackets; a nil *Options means all defaults.
type Options struct {
	// N is the number of wake samples (the first N test digits with their
	// inferred latents) and of sleep samples [10000, the whole test set].
	N int
	// Seed drives the model's noise during evaluation [1]. The alignments'
	// unit draws have their own seeds.
	Seed uint64
	// Alignments are the wake/sleep alignments to compute, the headline
	// one first [DefaultAlignments(): the paper's 8 + 8 units, then 4 + 2].
	Alignments []AlignmentOptions
	// Classifier judges samples and reconstructions [DefaultClassifier()].
	Classifier *Classifier
	// ClassifierInfo describes Classifier for the report (set by
	// DefaultClassifier or LoadClassifier).
	ClassifierInfo ClassifierInfo
	// Batch is the number of samples per forward pass of the model [500].
	Batch int
	// Log receives progress lines (nil: none).
	Log io.Writer
}

func (o *Options) withDefaults() (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	if r.N == 0 {
		r.N = 10000
	}
	if r.Seed == 0 {
		r.Seed = 1
	}
	if r.Batch == 0 {
		r.Batch = 500
	}
	if r.Log == nil {
		r.Log = io.Discard
	}
	if r.N < 2 {
		return r, fmt.Errorf("eval: n %d must be at least 2", r.N)
	}
	if r.Batch < 1 {
		return r, fmt.Errorf("eval: batch %d must be positive", r.Batch)
	}
	if r.Alignments == nil {
		r.Alignments = DefaultAlignments()
	}
	if len(r.Alignments) == 0 {
		return r, errors.New("eval: no alignment to compute")
	}
	for _, a := range r.Alignments {
		if err := a.Validate(); err != nil {
			return r, err
		}
	}
	if r.Classifier == nil {
		c, info, err := DefaultClassifier()
		if err != nil {
			return r, err
		}
		r.Classifier, r.ClassifierInfo = c, info
	}
	return r, nil
}

// Data are the MNIST sets Evaluate reads. Test is required; Train, if given,
// yields a reference Fréchet distance between N training and N test digits
// (the floor that sampling noise and the train/test shift alone produce).
type Data struct {
	Test, Train *mnist.Set
}

// Frechet holds Fréchet distances between Gaussian fits of classifier
// features (the last hidden layer).
type Frechet struct {
	SleepTest float64 `json:"sleep_test"` // sleep samples vs test digits
	ReconTest float64 `json:"recon_test"` // reconstructions vs test digits
	// TrainTest is training vs test digits (N of each): the floor; -1 when
	// no training set was given.
	TrainTest float64 `json:"train_test"`
}

// Result is everything Evaluate measures, with where it came from. It is
// saved as eval.json.
type Result struct {
	Checkpoint string    `json:"checkpoint"` // file evaluated ("" if not from a file)
	Step       int       `json:"step"`       // training step of the checkpoint
	Epoch      int       `json:"epoch"`      // completed epochs (0 if unknown)
	Algorithm  string    `json:"algorithm"`  // critic kind: "global" or "local"
	Gamma      float64   `json:"gamma"`      // γ of Eq. 8
	PixelScale string    `json:"pixel_scale"`
	N          int       `json:"n"`    // wake and sleep samples
	Seed       uint64    `json:"seed"` // model noise during evaluation
	Time       time.Time `json:"time"`
	Provenance

	Classifier     string  `json:"classifier"`               // its source
	ClassifierTest float64 `json:"classifier_test_accuracy"` // recorded in its file
	// ClassifierFeatures is the width of the feature layer of the Fréchet distances.
	ClassifierFeatures int `json:"classifier_features"`

	// Alignments, one per Options.Alignments entry, the headline first.
	Alignments     []*AlignmentResult `json:"alignments"`
	Reconstruction Agreement          `json:"reconstruction"`
	Sleep          ClassStats         `json:"sleep"` // classes of sleep samples
	// SleepMean: classes of E[x | z] for the same prior draws z, every
	// stochastic unit at its mean (the model without sampling noise; nil
	// for a model that has no such mean).
	SleepMean *ClassStats `json:"sleep_mean,omitempty"`
	Test      ClassStats  `json:"test"` // classes of the N test digits, for reference
	Frechet   Frechet     `json:"frechet"`
}

// Evaluate runs model m (pixels scaled as pixelScale, mnist.ScaleUnit or
// mnist.ScaleSym) on the first N test digits and on N prior samples and
// measures:
//
//   - wake: x = test digit, z ~ q(z|x); reconstruction x̂ ~ p(x|z) of that z;
//   - sleep: z ~ N(0, I), x ~ p(x|z);
//   - Alignment of wake and sleep for each of opts.Alignments (x in the
//     model's own scale);
//   - the classifier's Agreement on digits and reconstructions, ClassStats of
//     sleep samples and test digits, and Fréchet distances of sleep samples
//     and of reconstructions to test digits (and of training to test digits,
//     if data.Train is given).
//
// The classifier sees pixels mapped to [0, 1] and clamped there, as the
// images are shown. Model noise comes from a PCG seeded with opts.Seed, so
// the result is deterministic.
func Evaluate(m Model, pixelScale string, data Data, opts *Options) (*Result, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := mnist.ValidateScale(pixelScale); err != nil {
		return nil, err
	}
	if data.Test == nil {
		return nil, errors.New("eval: no test set")
	}
	if o.N > data.Test.N {
		return nil, fmt.Errorf("eval: n %d exceeds the %d test digits", o.N, data.Test.N)
	}
	idx := seq(o.N)
	labels := make([]uint8, o.N)
	copy(labels, data.Test.Labels[:o.N])
	log := o.Log
	start := time.Now()

	// Wake, reconstruction and sleep phases, in batches, from one noise stream.
	rng := rand.New(rand.NewPCG(o.Seed, 0xE7A1))
	dt := tensor.Float32
	if d, ok := m.(interface{ DType() tensor.DType }); ok {
		dt = d.DType()
	}
	x := data.Test.Batch(idx, dt, pixelScale) // [N, 784], model scale
	var wakeZ, recon, sleepX, sleepZ, sleepMeanX []*tensor.Tensor
	meaner, hasMean := m.(interface{ GenerateMean(*ad.Var) *ad.Var })
	for b := 0; b < o.N; b += o.Batch {
		e := min(b+o.Batch, o.N)
		z := m.Infer(ad.Const(tensor.Slice(x, 0, b, e)), rng)
		wakeZ = append(wakeZ, z.Value)
		recon = append(recon, m.Generate(ad.Detach(z), rng).Value)
	}
	for b := 0; b < o.N; b += o.Batch {
		e := min(b+o.Batch, o.N)
		z := m.Prior(e-b, rng)
		sleepZ = append(sleepZ, z.Value)
		sleepX = append(sleepX, m.Generate(z, rng).Value)
		if hasMean {
			sleepMeanX = append(sleepMeanX, meaner.GenerateMean(z).Value)
		}
	}
	wake := Phase{X: x, Z: tensor.Concat(0, wakeZ...)}
	sleep := Phase{X: tensor.Concat(0, sleepX...), Z: tensor.Concat(0, sleepZ...)}
	reconX := tensor.Concat(0, recon...)
	fmt.Fprintf(log, "eval: ran the model on %d digits and %d prior samples (%.1fs)\n", o.N, o.N, time.Since(start).Seconds())

	res := &Result{N: o.N, Seed: o.Seed, PixelScale: pixelScale, Time: time.Now().UTC().Truncate(time.Second),
		Classifier: o.ClassifierInfo.Source, ClassifierTest: o.ClassifierInfo.TestAccuracy}
	for _, ao := range o.Alignments {
		a, err := Alignment(wake, sleep, ao)
		if err != nil {
			return nil, err
		}
		res.Alignments = append(res.Alignments, a)
		fmt.Fprintf(log, "eval: alignment %s over %d draws: KL(wake‖sleep) %.3f ± %.3f bits, control %.3f ± %.3f, missing mass %.2f\n",
			ao.Label(), ao.Draws, a.WakeSleep.Mean, a.WakeSleep.Std, a.Control.Mean, a.Control.Std, a.WakeMissing.Mean)
	}

	c := o.Classifier
	testOut := c.Classify(toUnit(x, pixelScale), true)
	reconOut := c.Classify(toUnit(reconX, pixelScale), true)
	sleepOut := c.Classify(toUnit(sleep.X, pixelScale), true)
	res.ClassifierFeatures = len(testOut.Features[0])
	res.Reconstruction = AgreementOf(testOut, reconOut, labels)
	res.Sleep = ClassStatsOf(sleepOut)
	if hasMean {
		s := ClassStatsOf(c.Classify(toUnit(tensor.Concat(0, sleepMeanX...), pixelScale), false))
		res.SleepMean = &s
	}
	res.Test = ClassStatsOf(testOut)
	testFit, err := FitGaussian(testOut.Features)
	if err != nil {
		return nil, err
	}
	fd := func(feats [][]float64) (float64, error) {
		g, err := FitGaussian(feats)
		if err != nil {
			return 0, err
		}
		return FrechetGaussians(g, testFit)
	}
	if res.Frechet.SleepTest, err = fd(sleepOut.Features); err != nil {
		return nil, err
	}
	if res.Frechet.ReconTest, err = fd(reconOut.Features); err != nil {
		return nil, err
	}
	res.Frechet.TrainTest = -1
	if data.Train != nil {
		n := min(o.N, data.Train.N)
		trainOut := c.Classify(data.Train.Batch(seq(n), tensor.Float32, mnist.ScaleUnit), true)
		if res.Frechet.TrainTest, err = fd(trainOut.Features); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(log, "eval: reconstruction agreement %.4f (classifier accuracy %.4f); sleep confidence %.3f; FD sleep/test %.2f (%.1fs)\n",
		res.Reconstruction.Agreement, res.Reconstruction.Accuracy, res.Sleep.MeanConfidence, res.Frechet.SleepTest, time.Since(start).Seconds())
	return res, nil
}

// toUnit maps pixels of the given scale to [0, 1] (a copy; the classifier
// clamps what falls outside).
func toUnit(x *tensor.Tensor, scale string) *tensor.Tensor {
	if scale == mnist.ScaleSym {
		return tensor.Affine(x, 0.5, 0.5)
	}
	return x
}

// EvaluateTrainer evaluates a trainer's model (as loaded by
// mnistexp.LoadTrainer) and records its step, epoch, algorithm and the
// checkpoint file in the result.
func EvaluateTrainer(tr *mnistexp.Trainer, checkpointPath string, data Data, opts *Options) (*Result, error) {
	res, err := Evaluate(tr.Model, tr.Config.PixelScale, data, opts)
	if err != nil {
		return nil, err
	}
	res.Checkpoint = checkpointPath
	res.Step = tr.Step
	res.Algorithm = tr.Config.Model.Critic
	res.Gamma = tr.Config.Objective.Gamma
	if data.Train != nil {
		if per := tr.StepsPerEpoch(data.Train.N); per > 0 {
			res.Epoch = tr.Step / per
		}
	}
	return res, nil
}
