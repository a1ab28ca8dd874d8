package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

// ClassifierConfig describes the MNIST classifier that the quality metrics
// rest on and how it is trained. DefaultClassifierConfig gives the settings
// of the committed checkpoint.
type ClassifierConfig struct {
	Hidden       []int   `json:"hidden"`        // widths of the ReLU hidden layers
	Epochs       int     `json:"epochs"`        // passes over the 60,000 training digits
	BatchSize    int     `json:"batch_size"`    // digits per Adam step
	LearningRate float64 `json:"learning_rate"` // Adam's initial rate, cosine-annealed to 0
	WeightDecay  float64 `json:"weight_decay"`  // Adam's L2 weight decay
	MaxShift     int     `json:"max_shift"`     // augmentation: random shifts of up to this many pixels each way
	Dropout      float64 `json:"dropout"`       // drop probability on hidden units during training
	Seed         uint64  `json:"seed"`          // weights, data order, augmentation and dropout
}

// DefaultClassifierConfig returns the settings of the committed classifier
// (files/mnist-classifier.safetensors): an MLP 784-512-512-10 trained with
// shift augmentation and dropout.
func DefaultClassifierConfig() ClassifierConfig {
	return ClassifierConfig{
		Hidden:       []int{512, 512},
		Epochs:       30,
		BatchSize:    128,
		LearningRate: 1e-3,
		WeightDecay:  0,
		MaxShift:     2,
		Dropout:      0.2,
		Seed:         1,
	}
}

// Validate reports a setting out of range.
func (c ClassifierConfig) Validate() error {
	if len(c.Hidden) == 0 {
		return errors.New("classifier: needs at least one hidden layer")
	}
	for _, h := range c.Hidden {
		if h <= 0 {
			return fmt.Errorf("classifier: hidden width %d must be positive", h)
		}
	}
	switch {
	case c.Epochs <= 0:
		return fmt.Errorf("classifier: epochs %d must be positive", c.Epochs)
	case c.BatchSize <= 0:
		return fmt.Errorf("classifier: batch size %d must be positive", c.BatchSize)
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 1):
		return fmt.Errorf("classifier: learning rate %g must be positive and finite", c.LearningRate)
	case !(c.WeightDecay >= 0):
		return fmt.Errorf("classifier: weight decay %g must be ≥ 0", c.WeightDecay)
	case c.MaxShift < 0 || c.MaxShift > 8:
		return fmt.Errorf("classifier: max shift %d must be in 0..8", c.MaxShift)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("classifier: dropout %g must be in [0, 1)", c.Dropout)
	}
	return nil
}

// Classifier is a multilayer perceptron over MNIST digits:
//
//	x [B, 784] in [0, 1] → ReLU hidden layers → logits [B, 10]
//
// Features returns the last hidden layer, the representation in which the
// Fréchet distance is measured (as FID uses Inception's pool layer).
type Classifier struct {
	Config ClassifierConfig
	Layers []*nn.Linear // hidden layers then the output layer
}

// NewClassifier returns an untrained classifier with PyTorch's default
// initialisation drawn from rng.
func NewClassifier(cfg ClassifierConfig, rng *rand.Rand) (*Classifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Classifier{Config: cfg}
	in := PixelDim
	for _, h := range cfg.Hidden {
		c.Layers = append(c.Layers, nn.NewLinear(in, h, tensor.Float32, rng))
		in = h
	}
	c.Layers = append(c.Layers, nn.NewLinear(in, mnist.NumClasses, tensor.Float32, rng))
	return c, nil
}

// PixelDim is the number of pixels of an MNIST digit.
const PixelDim = 28 * 28

// forward returns the logits and the last hidden layer for x [B, 784]. With
// a non-nil rng, inverted dropout with the configured rate is applied to
// every hidden layer (training mode).
func (c *Classifier) forward(x *ad.Var, rng *rand.Rand) (logits, features *ad.Var) {
	h := x
	for _, l := range c.Layers[:len(c.Layers)-1] {
		h = ad.ReLU(l.Forward(h))
		features = h
		if rng != nil && c.Config.Dropout > 0 {
			h = ad.Mul(h, ad.Const(dropoutMask(rng, h.Shape(), c.Config.Dropout)))
		}
	}
	return c.Layers[len(c.Layers)-1].Forward(h), features
}

// dropoutMask returns a float32 mask of 0 (probability p) and 1/(1−p).
func dropoutMask(rng *rand.Rand, shape []int, p float64) *tensor.Tensor {
	m := tensor.New(tensor.Float32, shape...)
	keep := float32(1 / (1 - p))
	d := m.Float32s()
	for i := range d {
		if rng.Float64() >= p {
			d[i] = keep
		}
	}
	return m
}

// Parameters implements nn.Module ("fc1.weight", …).
func (c *Classifier) Parameters() []*nn.Parameter {
	var ps []*nn.Parameter
	for i, l := range c.Layers {
		ps = append(ps, nn.Prefixed("fc"+strconv.Itoa(i+1), l.Parameters())...)
	}
	return ps
}

// Outputs are the classifier's answers for a set of images.
type Outputs struct {
	Probs    [][]float64 // [N][10] softmax probabilities
	Features [][]float64 // [N][F] last hidden layer (nil unless asked for)
}

// Predicted returns the arg-max class of each image.
func (o *Outputs) Predicted() []int {
	p := make([]int, len(o.Probs))
	for i, row := range o.Probs {
		p[i] = argmax(row)
	}
	return p
}

func argmax(v []float64) int {
	best := 0
	for k := range v {
		if v[k] > v[best] {
			best = k
		}
	}
	return best
}

// rows returns the rows of m [N, K] as float64 slices, each through softmax
// if asked.
func rows(m *tensor.Tensor, soft bool) [][]float64 {
	n, k := m.Dim(0), m.Dim(1)
	out := make([][]float64, n)
	for i := range out {
		row := make([]float64, k)
		for j := range row {
			row[j] = m.At(i*k + j)
		}
		if soft {
			softmax(row)
		}
		out[i] = row
	}
	return out
}

// accuracyOf is the fraction of outputs whose arg-max is the label.
func accuracyOf(o *Outputs, labels []uint8) float64 {
	right := 0
	for i, p := range o.Predicted() {
		if p == int(labels[i]) {
			right++
		}
	}
	return float64(right) / float64(len(labels))
}

// evalBatch is the batch size of inference passes: large enough for BLAS to
// be efficient, small enough to keep memory modest.
const evalBatch = 1000

// Classify runs the classifier on x [N, 784] (pixels in [0, 1]; values outside
// are clamped, as they are when shown as an image) without recording
// gradients, and returns the softmax probabilities and, if features is set,
// the last hidden layer of every image. Panics if x is not [N, 784].
func (c *Classifier) Classify(x *tensor.Tensor, features bool) *Outputs {
	if x.Rank() != 2 || x.Dim(1) != PixelDim {
		panic(fmt.Sprintf("eval: Classify wants [N, %d] images, got %v", PixelDim, x.Shape()))
	}
	n := x.Dim(0)
	out := &Outputs{Probs: make([][]float64, 0, n)}
	for b := 0; b < n; b += evalBatch {
		e := min(b+evalBatch, n)
		xb := clamp01(tensor.Slice(x, 0, b, e).AsType(tensor.Float32))
		logits, feat := c.forward(ad.Const(xb), nil)
		out.Probs = append(out.Probs, rows(logits.Value, true)...)
		if features {
			out.Features = append(out.Features, rows(feat.Value, false)...)
		}
	}
	return out
}

// clamp01 clamps x into [0, 1] in place and returns it.
func clamp01(x *tensor.Tensor) *tensor.Tensor {
	d := x.Float32s()
	for i, v := range d {
		if v < 0 || v != v { // NaN counts as background
			d[i] = 0
		} else if v > 1 {
			d[i] = 1
		}
	}
	return x
}

// softmax replaces v by its softmax, computed stably.
func softmax(v []float64) {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	var s float64
	for i, x := range v {
		v[i] = math.Exp(x - m)
		s += v[i]
	}
	for i := range v {
		v[i] /= s
	}
}

// Accuracy returns the fraction of set's images that c classifies correctly.
func (c *Classifier) Accuracy(set *mnist.Set) float64 {
	x := set.Batch(seq(set.N), tensor.Float32, mnist.ScaleUnit)
	return accuracyOf(c.Classify(x, false), set.Labels[:set.N])
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// crossEntropy returns the mean cross-entropy of logits [B, K] against the
// one-hot labels [B, K], through the log-sum-exp with its maximum subtracted
// (a constant: the gradient does not depend on it).
//
//	L = −(1/B) Σ_b Σ_k y_bk · (ℓ_bk − m_b − log Σ_j exp(ℓ_bj − m_b))
func crossEntropy(logits *ad.Var, onehot *tensor.Tensor) *ad.Var {
	m, _ := tensor.MaxAxis(logits.Value, 1)       // [B, 1]
	shifted := ad.Sub(logits, ad.Const(m))        // [B, K]
	lse := ad.Log(ad.SumKeep(ad.Exp(shifted), 1)) // [B, 1]
	logp := ad.Sub(shifted, lse)                  // [B, K]
	return ad.Scale(ad.Sum(ad.Mul(logp, ad.Const(onehot))), -1/float64(logits.Dim(0)))
}

// augmentedBatch returns the digits idx of set as [B, 784] in [0, 1], each
// shifted by a random integer offset in [−shift, shift]² (zero fill).
func augmentedBatch(set *mnist.Set, idx []int, shift int, rng *rand.Rand) *tensor.Tensor {
	out := tensor.New(tensor.Float32, len(idx), PixelDim)
	d := out.Float32s()
	r, c := set.Rows, set.Cols
	for b, i := range idx {
		dy, dx := 0, 0
		if shift > 0 {
			dy = rng.IntN(2*shift+1) - shift
			dx = rng.IntN(2*shift+1) - shift
		}
		src := set.Images[i*r*c : (i+1)*r*c]
		dst := d[b*PixelDim : (b+1)*PixelDim]
		for y := 0; y < r; y++ {
			sy := y - dy
			if sy < 0 || sy >= r {
				continue
			}
			for x := 0; x < c; x++ {
				sx := x - dx
				if sx < 0 || sx >= c {
					continue
				}
				dst[y*c+x] = float32(src[sy*c+sx]) / 255
			}
		}
	}
	return out
}

// TrainClassifier trains a classifier on trainSet with Adam (β = 0.9, 0.999),
// a cosine-annealed learning rate, random shifts and dropout. Each epoch it
// writes the training loss and, if testSet is given, the test accuracy to
// log (nil: silent); it stops with ctx's error when ctx is cancelled. The result is a deterministic function of cfg and the
// data for a given BLAS build and thread count.
func TrainClassifier(ctx context.Context, cfg ClassifierConfig, trainSet, testSet *mnist.Set, log io.Writer) (*Classifier, error) {
	if log == nil {
		log = io.Discard
	}
	if trainSet.Rows*trainSet.Cols != PixelDim {
		return nil, fmt.Errorf("classifier: images are %d×%d, want 28×28", trainSet.Rows, trainSet.Cols)
	}
	c, err := NewClassifier(cfg, rand.New(rand.NewPCG(cfg.Seed, 0xC1A55)))
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xDA7A))
	fit := classifierFit{Label: "classifier", Params: c.Parameters(), LearningRate: cfg.LearningRate, WeightDecay: cfg.WeightDecay,
		Epochs: cfg.Epochs, BatchSize: cfg.BatchSize, N: trainSet.N, Labels: trainSet.Labels, Classes: mnist.NumClasses, RNG: rng,
		Logits: func(idx []int) *ad.Var {
			x := augmentedBatch(trainSet, idx, cfg.MaxShift, rng)
			logits, _ := c.forward(ad.Const(x), rng)
			return logits
		}}
	if testSet != nil {
		fit.TestAccuracy = func() float64 { return c.Accuracy(testSet) }
	}
	if err := fit.run(ctx, log); err != nil {
		return nil, err
	}
	return c, nil
}

// Checkpoint metadata keys of a classifier file.
const (
	metaClassifierConfig   = "wakesleep.classifier.config"
	metaClassifierAccuracy = "wakesleep.classifier.test_accuracy"
	metaClassifierCommand  = "wakesleep.classifier.command"
)

// SaveClassifier writes c to path as safetensors: tensors "fc<i>.weight" and
// "fc<i>.bias" (PyTorch's Linear layout) and metadata with the config, the
// test accuracy and the command that made it.
func SaveClassifier(path string, c *Classifier, testAccuracy float64, command string) error {
	return saveClassifierFile(path, c.Parameters(), nil, metaClassifierConfig, c.Config, testAccuracy, command)
}

// ClassifierInfo is what a classifier file says about itself.
type ClassifierInfo struct {
	Source       string  // file path, or "embedded"
	TestAccuracy float64 // recorded when it was saved
	Command      string  // the command that made it
}

// LoadClassifier reads a classifier written by SaveClassifier.
func LoadClassifier(path string) (*Classifier, ClassifierInfo, error) {
	return loadClassifierFile(path, "classifier", classifierFrom)
}

func classifierFrom(ts map[string]*tensor.Tensor, meta map[string]string) (*Classifier, ClassifierInfo, error) {
	var cfg ClassifierConfig
	info, err := readClassifierMeta(meta, metaClassifierConfig, "classifier", &cfg)
	if err != nil {
		return nil, info, err
	}
	c, err := NewClassifier(cfg, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, info, err
	}
	if err := copyClassifierTensors(ts, c.Parameters(), nil); err != nil {
		return nil, info, err
	}
	return c, info, nil
}

// EmbeddedClassifierFile is where the committed classifier lives, relative to
// the repository root; `wakesleep classifier train --out <this file>` remakes it.
const EmbeddedClassifierFile = "eval/files/" + embeddedClassifierName

const embeddedClassifierName = "mnist-classifier.safetensors"

// ErrNoEmbeddedClassifier is returned by DefaultClassifier in a build whose
// eval/files folder lacks the classifier checkpoint.
var ErrNoEmbeddedClassifier = errors.New("this build embeds no MNIST classifier: run `wakesleep classifier train --out " +
	EmbeddedClassifierFile + "` from the repository root and rebuild, or pass --classifier")

// DefaultClassifier returns the classifier embedded in the binary (the
// committed eval/files/mnist-classifier.safetensors).
func DefaultClassifier() (*Classifier, ClassifierInfo, error) {
	return embeddedClassifier(embeddedClassifierName, ErrNoEmbeddedClassifier, classifierFrom)
}

// EmbeddedFashionClassifierFile is the committed Fashion-MNIST classifier,
// relative to the repository root (see eval/files/README.md).
const EmbeddedFashionClassifierFile = "eval/files/" + embeddedFashionClassifierName

const embeddedFashionClassifierName = "fashion-mnist-classifier.safetensors"

// FashionClassifier returns the embedded Fashion-MNIST classifier, which
// judges the samples and reconstructions of Fashion-MNIST runs.
func FashionClassifier() (*Classifier, ClassifierInfo, error) {
	return embeddedClassifier(embeddedFashionClassifierName,
		errors.New("this build embeds no Fashion-MNIST classifier: pass --classifier"), classifierFrom)
}
