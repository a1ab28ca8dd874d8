package probe

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/tensor"
)

// Kinds of stimulus condition.
const (
	KindFamiliar = "familiar"  // MNIST test digits
	KindNovel    = "novel"     // Fashion-MNIST test images
	KindNoise    = "noise"     // MNIST digits with pixel noise σ = Level
	KindRotation = "rotation"  // MNIST digits rotated by Level degrees
	KindSleep    = "own sleep" // the model's own sleep samples x ~ p(x|z), z ~ N(0, I): zero surprise
)

// OwnSleep is the name of the zero-surprise condition.
const OwnSleep = "own-sleep"

// Condition is one set of stimuli.
type Condition struct {
	Name  string  `json:"name"` // "mnist", "fashion", "noise=0.1", "rotation=15"
	Kind  string  `json:"kind"`
	Level float64 `json:"level"` // σ or degrees; 0 for familiar and novel
}

// Stimuli are the conditions shared by every model, built once: MNIST test
// digits (familiar), Fashion-MNIST test images (novel), and the digits
// with graded pixel noise and rotation. Level 0 of each grade is the
// familiar condition itself.
type Stimuli struct {
	Conditions []Condition
	Images     []*Images   // one per condition
	Distortion [][]float64 // per image: mean squared difference from the clean digit (nil for familiar and novel)
}

// stream constants of the seeded generators (arbitrary, fixed).
const (
	noiseStream     = 0x4015E
	respondStream   = 0xC1C1E
	bootstrapStream = 0xB0075
	gradientStream  = 0x6AAD
	alignStream     = 0xE7A1 // as eval.Evaluate, so the alignments match `wakesleep eval`
	silenceStream   = 0x51E7
)

// MakeStimuli builds the conditions from the first o.N images of each set.
func MakeStimuli(d Data, o Options) (*Stimuli, error) {
	o = o.withDefaults()
	if d.Test == nil {
		return nil, errors.New("probe: no MNIST test set")
	}
	if d.Novel == nil {
		return nil, errors.New("probe: no novel (Fashion-MNIST) test set")
	}
	if d.Test.Rows != d.Novel.Rows || d.Test.Cols != d.Novel.Cols {
		return nil, fmt.Errorf("probe: familiar images are %d×%d, novel %d×%d", d.Test.Rows, d.Test.Cols, d.Novel.Rows, d.Novel.Cols)
	}
	n := min(o.N, d.Test.N, d.Novel.N)
	clean := FromSet(d.Test, n)
	st := &Stimuli{}
	add := func(c Condition, im *Images, dist []float64) {
		st.Conditions = append(st.Conditions, c)
		st.Images = append(st.Images, im)
		st.Distortion = append(st.Distortion, dist)
	}
	add(Condition{"mnist", KindFamiliar, 0}, clean, nil)
	add(Condition{"fashion", KindNovel, 0}, FromSet(d.Novel, n), nil)
	rng := rand.New(rand.NewPCG(o.Seed, noiseStream))
	for _, s := range o.Noise {
		if s == 0 {
			continue
		}
		im := clean.AddNoise(s, rng)
		add(Condition{"noise=" + strconv.FormatFloat(s, 'g', -1, 64), KindNoise, s}, im, MeanSquaredDiff(im, clean))
	}
	for _, a := range o.Angles {
		if a == 0 {
			continue
		}
		im := clean.Rotate(a)
		add(Condition{"rotation=" + strconv.FormatFloat(a, 'g', -1, 64), KindRotation, a}, im, MeanSquaredDiff(im, clean))
	}
	return st, nil
}

// Response is what one model does with one condition's stimuli, per
// stimulus.
type Response struct {
	Condition
	AmpX []float64 // oscillation amplitude of x (= reconstruction error), [0, 1] pixels²
	AmpZ []float64 // oscillation amplitude of z
	// RetestZ is mean (z − z'')², z'' ~ q(z|x) a second bottom-up pass on
	// the same stimulus: the floor of AmpZ set by inference noise alone.
	RetestZ []float64
	// RetestX is ½ mean (x̂ − x̂'')², x̂'' ~ p(x|z) a second top-down pass
	// from the same z: the floor of AmpX set by generation noise alone.
	RetestX []float64
	Scores  map[string][]float64 // critic name → output on the bottom-up activity (x, z ~ q(z|x))
	// Trivial detectors, functions of the stimulus alone: pixel energy
	// mean x², the norm ‖x‖ and the error of the mean-image reconstructor
	// mean (x − x̄)², x̄ the mean familiar image (in [0, 1] pixels).
	Energy, Norm, MeanImage []float64
	// Distortion is the mean squared difference of each stimulus from its
	// clean digit (noise and rotation; nil otherwise).
	Distortion []float64
}

// Responses are one model's responses to every condition.
type Responses struct {
	Subject Info
	Critics []string    // critic names, in order
	Conds   []*Response // as Stimuli.Conditions, then OwnSleep
	// Untrained are the responses of the same model at step 0 (built from
	// its config and seed), the control every effect must beat; nil if
	// not measured.
	Untrained *Responses
	// Early are the responses of the same model after EarlySteps training
	// steps (Early): the few-step control; nil if not measured.
	Early *Responses
}

// Respond runs one oscillation cycle (RunCycle) on every condition's
// stimuli and records the amplitudes and the critics' outputs on the
// bottom-up phase (x, z ~ q(z|x)). The model's noise comes from a PCG
// seeded with o.Seed, so the responses are deterministic.
func Respond(s *Subject, st *Stimuli, o Options) *Responses {
	o = o.withDefaults()
	m := s.Trainer.Model
	scale := s.Trainer.Config.PixelScale
	critics := Critics(m)
	r := &Responses{Subject: s.Info()}
	for _, c := range critics {
		r.Critics = append(r.Critics, c.Name)
	}
	rng := rand.New(rand.NewPCG(o.Seed, respondStream))
	start := time.Now()
	var mean []float64 // the mean image of the set the model learned
	for k, cond := range st.Conditions {
		if cond.Name == r.Subject.Familiar() {
			mean = meanImage(st.Images[k].Pix)
		}
	}
	respond := func(cond Condition, x *tensor.Tensor, dist []float64) {
		cyc := RunCycle(m, x, o.Batch, rng)
		resp := &Response{Condition: cond, Scores: map[string][]float64{}, Distortion: dist}
		resp.AmpX, resp.AmpZ = Amplitudes(x, cyc, scale)
		resp.RetestZ = RowMeanSquares(cyc.Z, cyc.ZRetest, 1)
		f := 0.5
		if scale == mnist.ScaleSym {
			f = 0.125
		}
		resp.RetestX = RowMeanSquares(cyc.XHat, cyc.XRetest, f)
		resp.Energy, resp.Norm, resp.MeanImage = trivialDetectors(x, scale, mean)
		for _, c := range critics {
			resp.Scores[c.Name] = c.Scores(x, cyc.Z, o.Batch)
		}
		r.Conds = append(r.Conds, resp)
	}
	for k, cond := range st.Conditions {
		respond(cond, st.Images[k].Tensor(m.DType(), scale), st.Distortion[k])
	}
	// Zero surprise: the model's own sleep samples, as many as the stimuli.
	n := st.Images[0].N()
	var sx []*tensor.Tensor
	for b := 0; b < n; b += o.Batch {
		sx = append(sx, m.Generate(m.Prior(min(b+o.Batch, n)-b, rng), rng).Value)
	}
	respond(Condition{OwnSleep, KindSleep, 0}, tensor.Concat(0, sx...), nil)
	fmt.Fprintf(o.Log, "probe: %s (step %d): %d conditions × %d stimuli (%.1fs)\n",
		s.Name, s.Trainer.Step, len(st.Conditions), st.Images[0].N(), time.Since(start).Seconds())
	return r
}

// meanImage returns the pixelwise mean of images.
func meanImage(pix [][]float64) []float64 {
	out := make([]float64, len(pix[0]))
	for _, p := range pix {
		for j, v := range p {
			out[j] += v
		}
	}
	for j := range out {
		out[j] /= float64(len(pix))
	}
	return out
}

// trivialDetectors returns, per row of x [N, X] in the model's pixel scale,
// the pixel energy mean x², the norm ‖x‖ and mean (x − mean)², all in
// [0, 1] pixel units; mean nil gives no mean-image errors.
func trivialDetectors(x *tensor.Tensor, scale string, mean []float64) (energy, norm, meanErr []float64) {
	n, d := x.Dim(0), x.Dim(1)
	v := x.Values()
	energy, norm = make([]float64, n), make([]float64, n)
	if mean != nil {
		meanErr = make([]float64, n)
	}
	for i := 0; i < n; i++ {
		var e, me float64
		for j, p := range v[i*d : (i+1)*d] {
			if scale == mnist.ScaleSym {
				p = (p + 1) / 2
			}
			e += p * p
			if mean != nil {
				me += (p - mean[j]) * (p - mean[j])
			}
		}
		energy[i], norm[i] = e/float64(d), math.Sqrt(e)
		if mean != nil {
			meanErr[i] = me / float64(d)
		}
	}
	return energy, norm, meanErr
}

// Find returns the response to the named condition, or nil.
func (r *Responses) Find(name string) *Response {
	for _, c := range r.Conds {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Grade returns the responses of a graded kind (KindNoise or KindRotation)
// by level, the familiar condition as level 0 first.
func (r *Responses) Grade(kind string) []*Response {
	out := []*Response{}
	if f := r.Find("mnist"); f != nil {
		z := *f
		z.Kind, z.Level = kind, 0
		z.Distortion = make([]float64, len(f.AmpX))
		out = append(out, &z)
	}
	for _, c := range r.Conds {
		if c.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

// layerValues returns a response's per-stimulus values of a layer: "x",
// "z", or a critic's name.
func (c *Response) layerValues(layer string) []float64 {
	switch layer {
	case "x":
		return c.AmpX
	case "z":
		return c.AmpZ
	case "z-retest":
		return c.RetestZ
	case "x-retest":
		return c.RetestX
	case "x-excess":
		return retestExcess(c.AmpX, c.RetestX)
	case ControlEnergy:
		return c.Energy
	case ControlNorm:
		return c.Norm
	case ControlMeanImage:
		return c.MeanImage
	case "z-excess":
		return retestExcess(c.AmpZ, c.RetestZ)
	}
	return c.Scores[layer]
}

// retestExcess returns amp − retest, stimulus by stimulus.
func retestExcess(amp, retest []float64) []float64 {
	ex := make([]float64, len(amp))
	for i := range ex {
		ex[i] = amp[i] - retest[i]
	}
	return ex
}

// GradedSpearman returns Spearman's correlation between the surprise level
// and the per-stimulus values of a graded series (one value per stimulus
// and level, all levels holding the same stimuli), with a cluster bootstrap
// interval: stimuli are resampled, each keeping its values at every level,
// so that the pairing of levels within a stimulus is respected.
func GradedSpearman(levels []float64, values [][]float64, b int, level float64, rng *rand.Rand) Interval {
	n := len(values[0])
	// Item k·n + i is stimulus i at level k; a resample weights each item
	// by how often its stimulus was drawn.
	lv := make([]float64, 0, n*len(levels))
	vv := make([]float64, 0, n*len(levels))
	for k, l := range levels {
		for i := 0; i < n; i++ {
			lv = append(lv, l)
			vv = append(vv, values[k][i])
		}
	}
	lord, vord := sortedIndex(lv), sortedIndex(vv)
	w := make([]float64, len(lv))
	rl, rv := make([]float64, len(lv)), make([]float64, len(lv))
	return Bootstrap(n, func(idx []int) float64 {
		clear(w)
		for _, i := range idx {
			for k := range levels {
				w[k*n+i]++
			}
		}
		weightedMidranks(lv, lord, w, rl)
		weightedMidranks(vv, vord, w, rv)
		return weightedPearson(rl, rv, w)
	}, b, level, rng)
}

// RatioOfMeans returns mean(a)/mean(b) with a stratified bootstrap interval.
func RatioOfMeans(a, b []float64, nb int, level float64, rng *rand.Rand) Interval {
	return Bootstrap2(len(a), len(b), func(i1, i2 []int) float64 {
		s1, s2 := 0.0, 0.0
		for _, i := range i1 {
			s1 += a[i]
		}
		for _, i := range i2 {
			s2 += b[i]
		}
		return (s1 / float64(len(i1))) / (s2 / float64(len(i2)))
	}, nb, level, rng)
}

// DiffOfMeans returns mean(a) − mean(b) with a stratified bootstrap interval.
func DiffOfMeans(a, b []float64, nb int, level float64, rng *rand.Rand) Interval {
	return Bootstrap2(len(a), len(b), func(i1, i2 []int) float64 {
		s1, s2 := 0.0, 0.0
		for _, i := range i1 {
			s1 += a[i]
		}
		for _, i := range i2 {
			s2 += b[i]
		}
		return s1/float64(len(i1)) - s2/float64(len(i2))
	}, nb, level, rng)
}
