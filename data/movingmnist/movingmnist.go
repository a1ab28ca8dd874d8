// Package movingmnist generates Moving MNIST: sequences of MNIST digits
// bouncing inside a square frame (Srivastava, Mansimov & Salakhutdinov 2015,
// "Unsupervised Learning of Video Representations using LSTMs", ICML; the
// data set of Sec. 5.3 of the paper).
//
// The generator reproduces the rules of Srivastava et al.'s own generator
// (BouncingMNISTDataHandler in their unsupervised-videos code, which made the
// published mnist_test_seq.npy). For each of Digits digits, independently:
//
//	position (x, y) ~ U[0, 1)², in units of the canvas C = FrameSize − DigitSize
//	direction θ ~ U[0, 2π);  velocity (vx, vy) = (cos θ, sin θ), speed fixed
//	for every frame t = 1 … Frames (a step is taken before the first frame):
//	    x ← x + StepLength·vx;  y ← y + StepLength·vy
//	    if x ≤ 0 { x = 0; vx = −vx };  if x ≥ 1 { x = 1; vx = −vx }   (same for y)
//	    top-left pixel of the digit = (⌊C·y⌋, ⌊C·x⌋)
//	frame = pixelwise max of the digits placed there (Combine "max"), or their
//	        sum clipped to 255 (Combine "sum")
//
// A bounce clamps the position onto the wall and reverses that velocity
// component (it does not mirror the overshoot): exactly Srivastava's rule.
// With the defaults (64×64 frames, 28×28 digits, StepLength 0.1) the canvas is
// 36 pixels and a digit moves 3.6 pixels a frame; the top-left corner stays in
// [0, 36], so every digit is always entirely inside the frame.
//
// Each sequence is a pure function of (seed, index): sequence i is drawn from
// its own PCG stream, so a training run can regenerate any batch on resume and
// the fixed test set (TestSet) is the same on every machine and Go version
// (random numbers are formed from Uint64 alone). Deviation from Srivastava's
// code: digits are drawn uniformly at random with replacement, not by walking
// a shuffled list, since a walk would tie sequence i to all sequences before
// it.
//
// The 10,000-sequence test file of Srivastava et al. is not available here;
// TestSet makes a fixed test set the same way from MNIST *test* digits with
// the seed TestSeed, and training uses MNIST *train* digits.
package movingmnist

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"

	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/tensor"
)

// Ways to combine overlapping digits.
const (
	CombineMax = "max" // pixelwise maximum (Srivastava et al.'s Overlap)
	CombineSum = "sum" // sum clipped to 255
)

// TestSeed is the seed of the fixed test set: sequence i of the test set is
// NewGenerator(MNIST test digits, DefaultConfig(), TestSeed).Sequence(i).
const TestSeed uint64 = 0x5EED_7E57

// Config describes the sequences. DefaultConfig gives the standard data set.
type Config struct {
	FrameSize  int     `json:"frame_size"`  // side of the square frame in pixels (64)
	Frames     int     `json:"frames"`      // frames per sequence (20)
	Digits     int     `json:"digits"`      // digits per sequence (2)
	StepLength float64 `json:"step_length"` // distance per frame as a fraction of the canvas (0.1)
	Combine    string  `json:"combine"`     // "max" or "sum"
}

// DefaultConfig returns Srivastava et al.'s setting: two digits in a 64×64
// frame for 20 frames, step 0.1 of the canvas, overlaps combined by max.
func DefaultConfig() Config {
	return Config{FrameSize: 64, Frames: 20, Digits: 2, StepLength: 0.1, Combine: CombineMax}
}

// Validate reports a configuration that cannot place digits of side
// digitSize.
func (c Config) Validate(digitSize int) error {
	switch {
	case c.Frames <= 0:
		return fmt.Errorf("movingmnist: frames %d must be positive", c.Frames)
	case c.Digits <= 0:
		return fmt.Errorf("movingmnist: digits %d must be positive", c.Digits)
	case digitSize <= 0 || c.FrameSize < digitSize:
		return fmt.Errorf("movingmnist: frame size %d must be at least the digit size %d", c.FrameSize, digitSize)
	case !(c.StepLength >= 0) || math.IsInf(c.StepLength, 0):
		return fmt.Errorf("movingmnist: step length %g must be non-negative and finite", c.StepLength)
	case c.Combine != CombineMax && c.Combine != CombineSum:
		return fmt.Errorf("movingmnist: combine %q must be %q or %q", c.Combine, CombineMax, CombineSum)
	}
	return nil
}

// Motion is one digit's continuous state: position in the unit box [0, 1]²
// (scaled to the canvas when drawn) and a unit velocity.
type Motion struct {
	X, Y   float64 // position, horizontal and vertical (down)
	VX, VY float64 // direction of motion, VX² + VY² = 1
}

// NewMotion draws a start position uniformly in [0, 1)² and a direction
// uniformly on the circle, in that order (x, y, θ).
func NewMotion(rng *rand.Rand) Motion {
	x, y := unitFloat(rng), unitFloat(rng)
	theta := 2 * math.Pi * unitFloat(rng)
	return Motion{X: x, Y: y, VX: math.Cos(theta), VY: math.Sin(theta)}
}

// Advance takes one step of the given length and bounces off the walls of
// the unit box by Srivastava et al.'s rule: a coordinate at or beyond a wall
// is set onto the wall and its velocity component reversed. It reports
// whether a bounce happened.
func (m *Motion) Advance(step float64) (bounced bool) {
	m.X += m.VX * step
	m.Y += m.VY * step
	bounce := func(p, v *float64) {
		if *p <= 0 {
			*p, *v = 0, -*v
			bounced = true
		}
		if *p >= 1 {
			*p, *v = 1, -*v
			bounced = true
		}
	}
	bounce(&m.X, &m.VX)
	bounce(&m.Y, &m.VY)
	return bounced
}

// Pixel returns the digit's top-left corner in a frame whose canvas (frame
// size minus digit size) is canvas pixels: (⌊canvas·Y⌋, ⌊canvas·X⌋).
func (m Motion) Pixel(canvas int) (top, left int) {
	return int(float64(canvas) * m.Y), int(float64(canvas) * m.X)
}

// Sequence is one generated video.
type Sequence struct {
	Frames []uint8 // [Frames, FrameSize, FrameSize] row-major, 0 background, 255 ink
	Digit  []int   // index into the digit set of each digit
	Top    [][]int // [digit][frame] top row of the digit
	Left   [][]int // [digit][frame] left column of the digit
}

// Generator makes sequences from a set of digit images.
type Generator struct {
	Digits *mnist.Set
	Config Config
	Seed   uint64
}

// NewGenerator returns a generator over digits, validating cfg against the
// digits' size. Digits must be square.
func NewGenerator(digits *mnist.Set, cfg Config, seed uint64) (*Generator, error) {
	if digits == nil || digits.N == 0 {
		return nil, fmt.Errorf("movingmnist: no digits")
	}
	if digits.Rows != digits.Cols {
		return nil, fmt.Errorf("movingmnist: digits of %d×%d, want square", digits.Rows, digits.Cols)
	}
	if err := cfg.Validate(digits.Rows); err != nil {
		return nil, err
	}
	return &Generator{Digits: digits, Config: cfg, Seed: seed}, nil
}

// Sequence returns sequence index: a pure function of (g.Seed, index). For
// each digit in turn it draws the digit's index in the set, then its Motion.
func (g *Generator) Sequence(index uint64) *Sequence {
	c := g.Config
	rng := rand.New(rand.NewPCG(g.Seed, index))
	d := g.Digits.Rows
	canvas := c.FrameSize - d
	s := &Sequence{
		Frames: make([]uint8, c.Frames*c.FrameSize*c.FrameSize),
		Digit:  make([]int, c.Digits),
		Top:    make([][]int, c.Digits),
		Left:   make([][]int, c.Digits),
	}
	for k := 0; k < c.Digits; k++ {
		s.Digit[k] = int(bounded(rng, uint64(g.Digits.N)))
		m := NewMotion(rng)
		s.Top[k] = make([]int, c.Frames)
		s.Left[k] = make([]int, c.Frames)
		for t := 0; t < c.Frames; t++ {
			m.Advance(c.StepLength)
			s.Top[k][t], s.Left[k][t] = m.Pixel(canvas)
		}
	}
	for t := 0; t < c.Frames; t++ {
		frame := s.Frames[t*c.FrameSize*c.FrameSize : (t+1)*c.FrameSize*c.FrameSize]
		for k := 0; k < c.Digits; k++ {
			img := g.Digits.Images[s.Digit[k]*d*d : (s.Digit[k]+1)*d*d]
			top, left := s.Top[k][t], s.Left[k][t]
			for r := 0; r < d; r++ {
				row := frame[(top+r)*c.FrameSize+left : (top+r)*c.FrameSize+left+d]
				src := img[r*d : (r+1)*d]
				for j, p := range src {
					row[j] = combine(c.Combine, row[j], p)
				}
			}
		}
	}
	return s
}

func combine(how string, a, b uint8) uint8 {
	if how == CombineSum {
		if s := int(a) + int(b); s < 255 {
			return uint8(s)
		}
		return 255
	}
	return max(a, b)
}

// Batch returns sequences idx as Frames tensors, one per time step, each
// [len(idx), 1, FrameSize, FrameSize] of type dt with pixels p/255 in [0, 1].
func (g *Generator) Batch(idx []uint64, dt tensor.DType) []*tensor.Tensor {
	seqs := make([]*Sequence, len(idx))
	for i, j := range idx {
		seqs[i] = g.Sequence(j)
	}
	return Frames(seqs, g.Config.FrameSize, dt)
}

// Frames turns sequences of equal length and frame size into one tensor per
// time step, [len(seqs), 1, size, size] with pixels p/255. Panics if the
// sequences differ in length or there are none.
func Frames(seqs []*Sequence, size int, dt tensor.DType) []*tensor.Tensor {
	if len(seqs) == 0 {
		panic("movingmnist: Frames of no sequences")
	}
	hw := size * size
	n := len(seqs[0].Frames) / hw
	out := make([]*tensor.Tensor, n)
	for t := range out {
		x := tensor.New(dt, len(seqs), 1, size, size)
		for b, s := range seqs {
			if len(s.Frames) != n*hw {
				panic(fmt.Sprintf("movingmnist: sequence %d has %d pixels, want %d", b, len(s.Frames), n*hw))
			}
			src := s.Frames[t*hw : (t+1)*hw]
			for i, p := range src {
				x.SetAt(b*hw+i, float64(p)/255)
			}
		}
		out[t] = x
	}
	return out
}

// TestSet returns the generator of the fixed test set: MNIST test digits,
// the default configuration and TestSeed. Its sequence i is the same for any
// number of sequences one evaluates.
func TestSet(testDigits *mnist.Set) (*Generator, error) {
	return NewGenerator(testDigits, DefaultConfig(), TestSeed)
}

// unitFloat returns a uniform float64 in [0, 1) from the top 53 bits of one
// Uint64, independent of math/rand's own (unpromised) Float64 algorithm.
func unitFloat(rng *rand.Rand) float64 {
	return float64(rng.Uint64()>>11) / (1 << 53)
}

// bounded returns a uniform value in [0, n) by Lemire's multiply-shift method
// with rejection (as data/mnist.Permutation), from Uint64 alone.
func bounded(rng *rand.Rand, n uint64) uint64 {
	hi, lo := bits.Mul64(rng.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(rng.Uint64(), n)
		}
	}
	return hi
}
