package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	cifardata "github.com/wakesleep/wakesleep/data/cifar10"
	cifarexp "github.com/wakesleep/wakesleep/experiment/cifar10"
	"github.com/wakesleep/wakesleep/internal/atomicfile"
	"github.com/wakesleep/wakesleep/tensor"
)

// This file measures a CIFAR-10 run (Sec. 5.2): how well the hierarchy
// reconstructs test images through each depth, and whether its samples have
// the colours of the data. There is no CIFAR-10 classifier here, so no
// classifier-feature distances.

// Files WriteCIFAR10 puts in a report folder.
const (
	CIFAR10ReportFile = "cifar10.md"
	CIFAR10ResultFile = "cifar10.json"
)

// DepthScores are the reconstruction errors through one depth.
type DepthScores struct {
	Depth int     `json:"depth"`
	MSE   float64 `json:"mse"`     // per pixel and channel, pixels in [0, 1]
	PSNR  float64 `json:"psnr_db"` // 10·log10(1/MSE)
}

// ChannelStats are the mean and standard deviation of each colour channel,
// pixels in [0, 1].
type ChannelStats struct {
	Mean [3]float64 `json:"mean"`
	Std  [3]float64 `json:"std"`
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
	Time       time.Time     `json:"time"`
	Seconds    float64       `json:"seconds"`
	Provenance
}

// EvaluateCIFAR10 reconstructs n test images through every depth of the
// hierarchy (cifarexp.ReconstructDepth: up to z_d and back down to E[x|z₁])
// and draws n samples, in batches of batch, with noise seeded by seed.
func EvaluateCIFAR10(t *cifarexp.Trainer, test *cifardata.Set, n, batch int, seed uint64) (*CIFAR10Result, error) {
	if n <= 0 || n > test.N || batch <= 0 {
		return nil, fmt.Errorf("eval: %d of %d test images in batches of %d", n, test.N, batch)
	}
	start := time.Now()
	L := t.Model.Layers()
	r := &CIFAR10Result{N: n, Seed: seed, Step: t.Step}
	sq := make([]float64, L+1)
	var testAcc, sampleAcc channelAcc
	rng := rand.New(rand.NewPCG(seed, 0xC1FA))
	scale := t.Config.PixelScale
	unit := func(x *tensor.Tensor) *tensor.Tensor {
		if scale == cifardata.ScaleSym {
			return tensor.Affine(x, 0.5, 0.5)
		}
		return x
	}
	for lo := 0; lo < n; lo += batch {
		hi := min(n, lo+batch)
		idx := make([]int, hi-lo)
		for i := range idx {
			idx[i] = (lo + i) * test.N / n
		}
		x := test.Batch(idx, t.Model.DType(), scale)
		ux := unit(x)
		testAcc.add(ux)
		for d := 1; d <= L; d++ {
			sq[d] += sumSquares(ux, unit(cifarexp.ReconstructDepth(t.Model, x, d, rng).Value))
		}
		s := t.Model.Generate(t.Model.Prior(hi-lo, rng), rng)[0]
		sampleAcc.add(unit(s.Value))
	}
	per := float64(n * cifardata.ImageBytes)
	for d := 1; d <= L; d++ {
		m := sq[d] / per
		r.Depths = append(r.Depths, DepthScores{Depth: d, MSE: m, PSNR: 10 * math.Log10(1/m)})
	}
	r.Test, r.Samples = testAcc.stats(), sampleAcc.stats()
	r.Time = time.Now().UTC()
	r.Seconds = time.Since(start).Seconds()
	return r, nil
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
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# CIFAR-10 evaluation\n\n| | |\n|---|---|\n")
	p("| checkpoint | `%s` |\n| step | %d |\n| test images | %d, evenly spaced over the test set (every class) |\n", r.Checkpoint, r.Step, r.N)
	p("| noise seed | %d |\n| evaluated | %s (%.0f s) |\n", r.Seed, r.Time.Format("2006-01-02 15:04 UTC"), r.Seconds)
	r.Provenance.rows(&b)
	p("\n")
	p("Reconstruction through depth d: x → z₁ → … → z_d sampled bottom-up, z_{d−1} … z₁ sampled top-down, then the mean image E[x | z₁]. MSE per pixel and channel with pixels in [0, 1]; lower is better.\n\n")
	p("| depth | MSE | PSNR (dB) |\n|---|---|---|\n")
	for _, d := range r.Depths {
		p("| %d | %.5f | %.2f |\n", d.Depth, d.MSE, d.PSNR)
	}
	p("\nColour statistics of %d samples (z_L ~ N(0, I), sampled top-down) beside the test images:\n\n| | mean R | mean G | mean B | std R | std G | std B |\n|---|---|---|---|---|---|---|\n", r.N)
	for _, row := range []struct {
		name string
		s    ChannelStats
	}{{"test", r.Test}, {"samples", r.Samples}} {
		p("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", row.name, row.s.Mean[0], row.s.Mean[1], row.s.Mean[2], row.s.Std[0], row.s.Std[1], row.s.Std[2])
	}
	return atomicfile.WriteFile(filepath.Join(dir, CIFAR10ReportFile), b.Bytes(), 0o644)
}
