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
	cifardata "github.com/wakesleep/wakesleep/data/cifar10"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

// CIFARClassifierConfig describes the CIFAR-10 classifier behind the
// CIFAR-10 quality measures and how it is trained.
// DefaultCIFARClassifierConfig gives the settings of the committed file.
type CIFARClassifierConfig struct {
	Channels     []int   `json:"channels"`      // channels of the 3×3 conv stages
	Epochs       int     `json:"epochs"`        // passes over the training images
	BatchSize    int     `json:"batch_size"`    // images per Adam step
	LearningRate float64 `json:"learning_rate"` // Adam's initial rate, cosine-annealed to 0
	WeightDecay  float64 `json:"weight_decay"`  // Adam's L2 weight decay
	CropPad      int     `json:"crop_pad"`      // augmentation: random crops of the image padded by this many pixels
	Flip         bool    `json:"flip"`          // augmentation: random horizontal flips
	TrainLimit   int     `json:"train_limit"`   // use only N training images, evenly spaced over the set (0: all)
	Seed         uint64  `json:"seed"`          // weights, data order and augmentation
}

// DefaultCIFARClassifierConfig returns the settings of the committed
// CIFAR-10 classifier (files/cifar10-classifier.safetensors).
func DefaultCIFARClassifierConfig() CIFARClassifierConfig {
	return CIFARClassifierConfig{
		Channels:     []int{32, 64, 128},
		Epochs:       2,
		BatchSize:    64,
		LearningRate: 2e-3,
		CropPad:      2,
		Flip:         true,
		Seed:         1,
	}
}

// Validate reports a setting out of range.
func (c CIFARClassifierConfig) Validate() error {
	if len(c.Channels) == 0 || len(c.Channels) > 5 {
		return fmt.Errorf("cifar10 classifier: %d conv stages, want 1 to 5 (each halves the 32×32 image but the last)", len(c.Channels))
	}
	for _, ch := range c.Channels {
		if ch <= 0 {
			return fmt.Errorf("cifar10 classifier: channels %d must be positive", ch)
		}
	}
	switch {
	case c.Epochs <= 0:
		return fmt.Errorf("cifar10 classifier: epochs %d must be positive", c.Epochs)
	case c.BatchSize < 2:
		return fmt.Errorf("cifar10 classifier: batch size %d must be at least 2 (batch normalisation)", c.BatchSize)
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 1):
		return fmt.Errorf("cifar10 classifier: learning rate %g must be positive and finite", c.LearningRate)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 1):
		return fmt.Errorf("cifar10 classifier: weight decay %g must be ≥ 0 and finite", c.WeightDecay)
	case c.CropPad < 0 || c.CropPad > 8:
		return fmt.Errorf("cifar10 classifier: crop padding %d must be in 0..8", c.CropPad)
	case c.TrainLimit < 0:
		return fmt.Errorf("cifar10 classifier: train limit %d must be ≥ 0", c.TrainLimit)
	}
	return nil
}

// CIFARClassifier is a small convolutional network over CIFAR-10 images:
//
//	x [B, 3, 32, 32] in [0, 1] − ½
//	→ per stage s: conv 3×3 (pad 1, no bias) → BatchNorm → ReLU → 2×2 average pool (not after the last)
//	→ global average pool [B, C_last] (the features) → linear → logits [B, 10]
//
// Features returns the pooled last stage, the representation in which the
// Fréchet distance and the linear probes' reference are measured.
type CIFARClassifier struct {
	Config CIFARClassifierConfig
	Convs  []*nn.Conv2d
	Norms  []*nn.BatchNorm
	Out    *nn.Linear
}

// NewCIFARClassifier returns an untrained classifier with PyTorch's default
// initialisation drawn from rng.
func NewCIFARClassifier(cfg CIFARClassifierConfig, rng *rand.Rand) (*CIFARClassifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &CIFARClassifier{Config: cfg}
	in := cifardata.Channels
	for _, ch := range cfg.Channels {
		conv := nn.NewConv2d(in, ch, 3, tensor.ConvParams{Stride: 1, Pad: 1}, tensor.Float32, rng)
		conv.B = nil // BatchNorm's β is the bias
		c.Convs = append(c.Convs, conv)
		c.Norms = append(c.Norms, nn.NewBatchNorm(ch, tensor.Float32))
		in = ch
	}
	c.Out = nn.NewLinear(in, cifardata.NumClasses, tensor.Float32, rng)
	return c, nil
}

// avgPool2 averages x [B, C, H, W] over 2×2 blocks: [B, C, H/2, W/2].
func avgPool2(x *ad.Var) *ad.Var {
	b, c, h, w := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	return ad.Mean(ad.Reshape(x, b, c, h/2, 2, w/2, 2), 3, 5)
}

// forward returns the logits and the features for x [B, 3, 32, 32] in
// [0, 1]; training selects BatchNorm's batch statistics.
func (c *CIFARClassifier) forward(x *ad.Var, training bool) (logits, features *ad.Var) {
	h := ad.AddScalar(x, -0.5)
	for i, conv := range c.Convs {
		h = ad.ReLU(c.Norms[i].Forward(conv.Forward(h), training))
		if i < len(c.Convs)-1 {
			h = avgPool2(h)
		}
	}
	features = ad.Mean(h, 2, 3) // [B, C]
	return c.Out.Forward(features), features
}

// Parameters implements nn.Module ("conv1.weight", "bn1.weight", …, "fc.weight").
func (c *CIFARClassifier) Parameters() []*nn.Parameter {
	var ps []*nn.Parameter
	for i := range c.Convs {
		s := strconv.Itoa(i + 1)
		ps = append(ps, nn.Prefixed("conv"+s, c.Convs[i].Parameters())...)
		ps = append(ps, nn.Prefixed("bn"+s, c.Norms[i].Parameters())...)
	}
	return append(ps, nn.Prefixed("fc", c.Out.Parameters())...)
}

// Buffers returns the BatchNorm running statistics ("bn1.running_mean", …).
func (c *CIFARClassifier) Buffers() []*nn.Buffer {
	var bs []*nn.Buffer
	for i, n := range c.Norms {
		bs = append(bs, nn.PrefixedBuffers("bn"+strconv.Itoa(i+1), n.Buffers())...)
	}
	return bs
}

// cifarPixels is the size of one image, 3·32·32.
const cifarPixels = cifardata.ImageBytes

// Classify runs the classifier on x [N, 3, 32, 32] (pixels in [0, 1]; values
// outside are clamped) without recording gradients, BatchNorm in evaluation
// mode, and returns the softmax probabilities and, if features is set, the
// pooled features. Panics if x is not [N, 3, 32, 32].
func (c *CIFARClassifier) Classify(x *tensor.Tensor, features bool) *Outputs {
	if x.Rank() != 4 || x.Dim(1) != cifardata.Channels || x.Dim(2) != cifardata.Size || x.Dim(3) != cifardata.Size {
		panic(fmt.Sprintf("eval: CIFARClassifier.Classify wants [N, 3, 32, 32] images, got %v", x.Shape()))
	}
	n := x.Dim(0)
	out := &Outputs{Probs: make([][]float64, 0, n)}
	const batch = 250 // activations of the first stage: 250·32·32·32 floats, 33 MB
	for b := 0; b < n; b += batch {
		e := min(b+batch, n)
		xb := clamp01(tensor.Slice(x, 0, b, e).AsType(tensor.Float32))
		logits, feat := c.forward(ad.Const(xb), false)
		out.Probs = append(out.Probs, rows(logits.Value, true)...)
		if features {
			out.Features = append(out.Features, rows(feat.Value, false)...)
		}
	}
	return out
}

// Accuracy returns the fraction of set's images that c classifies correctly.
func (c *CIFARClassifier) Accuracy(set *cifardata.Set) float64 {
	x := set.Batch(seq(set.N), tensor.Float32, cifardata.ScaleUnit)
	return accuracyOf(c.Classify(x, false), set.Labels)
}

// augmentedCIFAR returns the images idx of set as [B, 3, 32, 32] in [0, 1],
// each a random 32×32 crop of the image zero-padded by pad pixels and, with
// flip, mirrored left to right with probability ½.
func augmentedCIFAR(set *cifardata.Set, idx []int, pad int, flip bool, rng *rand.Rand) *tensor.Tensor {
	const s = cifardata.Size
	out := tensor.New(tensor.Float32, len(idx), cifardata.Channels, s, s)
	d := out.Float32s()
	for b, i := range idx {
		dy, dx := 0, 0
		if pad > 0 {
			dy = rng.IntN(2*pad+1) - pad
			dx = rng.IntN(2*pad+1) - pad
		}
		mirror := flip && rng.IntN(2) == 1
		src := set.Image(i)
		for ch := 0; ch < cifardata.Channels; ch++ {
			plane := src[ch*s*s : (ch+1)*s*s]
			dst := d[(b*cifardata.Channels+ch)*s*s:]
			for y := 0; y < s; y++ {
				sy := y + dy
				if sy < 0 || sy >= s {
					continue
				}
				for x := 0; x < s; x++ {
					sx := x + dx
					if mirror {
						sx = s - 1 - x + dx
					}
					if sx < 0 || sx >= s {
						continue
					}
					dst[y*s+x] = float32(plane[sy*s+sx]) / 255
				}
			}
		}
	}
	return out
}

// TrainCIFARClassifier trains a classifier on trainSet with Adam (β = 0.9,
// 0.999), a cosine-annealed learning rate, random crops and flips. Each
// epoch it writes the training loss and accuracy and, if testSet is given,
// the test accuracy to log (nil: silent); it stops with ctx's error when ctx
// is cancelled. The result is a deterministic function of cfg and the data
// for a given BLAS build and thread count.
func TrainCIFARClassifier(ctx context.Context, cfg CIFARClassifierConfig, trainSet, testSet *cifardata.Set, log io.Writer) (*CIFARClassifier, error) {
	if log == nil {
		log = io.Discard
	}
	c, err := NewCIFARClassifier(cfg, rand.New(rand.NewPCG(cfg.Seed, 0xC1A55)))
	if err != nil {
		return nil, err
	}
	if cfg.TrainLimit > 0 && cfg.TrainLimit < trainSet.N {
		trainSet = trainSet.Spread(cfg.TrainLimit)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xDA7A))
	right := 0 // training items classified right this epoch
	fit := classifierFit{Label: "cifar10 classifier", Params: c.Parameters(), LearningRate: cfg.LearningRate, WeightDecay: cfg.WeightDecay,
		Epochs: cfg.Epochs, BatchSize: cfg.BatchSize, N: trainSet.N, Labels: trainSet.Labels, Classes: cifardata.NumClasses, RNG: rng,
		Logits: func(idx []int) *ad.Var {
			x := augmentedCIFAR(trainSet, idx, cfg.CropPad, cfg.Flip, rng)
			logits, _ := c.forward(ad.Const(x), true)
			for b, row := range rows(logits.Value, false) {
				if argmax(row) == int(trainSet.Labels[idx[b]]) {
					right++
				}
			}
			return logits
		},
		EpochNote: func(seen int) string {
			note := fmt.Sprintf("  train accuracy %.4f", float64(right)/float64(seen))
			right = 0
			return note
		}}
	if testSet != nil {
		fit.TestAccuracy = func() float64 { return c.Accuracy(testSet) }
	}
	if err := fit.run(ctx, log); err != nil {
		return nil, err
	}
	return c, nil
}

// SaveCIFARClassifier writes c to path as safetensors (PyTorch's Conv2d,
// BatchNorm2d and Linear names) with metadata: the config, the test accuracy
// and the command that made it.
func SaveCIFARClassifier(path string, c *CIFARClassifier, testAccuracy float64, command string) error {
	return saveClassifierFile(path, c.Parameters(), c.Buffers(), metaCIFARClassifierConfig, c.Config, testAccuracy, command)
}

const metaCIFARClassifierConfig = "wakesleep.cifar10_classifier.config"

// LoadCIFARClassifier reads a classifier written by SaveCIFARClassifier.
func LoadCIFARClassifier(path string) (*CIFARClassifier, ClassifierInfo, error) {
	return loadClassifierFile(path, "cifar10 classifier", cifarClassifierFrom)
}

func cifarClassifierFrom(ts map[string]*tensor.Tensor, meta map[string]string) (*CIFARClassifier, ClassifierInfo, error) {
	var cfg CIFARClassifierConfig
	info, err := readClassifierMeta(meta, metaCIFARClassifierConfig, "CIFAR-10 classifier", &cfg)
	if err != nil {
		return nil, info, err
	}
	c, err := NewCIFARClassifier(cfg, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, info, err
	}
	if err := copyClassifierTensors(ts, c.Parameters(), c.Buffers()); err != nil {
		return nil, info, err
	}
	return c, info, nil
}

// EmbeddedCIFARClassifierFile is the committed CIFAR-10 classifier, relative
// to the repository root (see eval/files/README.md).
const EmbeddedCIFARClassifierFile = "eval/files/" + embeddedCIFARClassifierName

const embeddedCIFARClassifierName = "cifar10-classifier.safetensors"

// ErrNoCIFARClassifier is returned by CIFAR10Classifier in a build whose
// eval/files folder lacks the CIFAR-10 classifier.
var ErrNoCIFARClassifier = errors.New("this build embeds no CIFAR-10 classifier: run `wakesleep classifier train --dataset cifar10 --out " +
	EmbeddedCIFARClassifierFile + "` and rebuild")

// CIFAR10Classifier returns the embedded CIFAR-10 classifier, which judges
// the samples and reconstructions of CIFAR-10 runs.
func CIFAR10Classifier() (*CIFARClassifier, ClassifierInfo, error) {
	return embeddedClassifier(embeddedCIFARClassifierName, ErrNoCIFARClassifier, cifarClassifierFrom)
}
