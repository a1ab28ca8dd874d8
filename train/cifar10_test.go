package train

import (
	"context"
	"encoding/csv"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/data/cifar10"
	"github.com/wakesleep/wakesleep/tensor"
)

// tinyCIFAR10Run is the paper's run on the paper's geometry (5 stochastic
// layers, 32×32 images) with few channels, batch 4, 2 epochs of 4 steps.
func tinyCIFAR10Run() CIFAR10Config {
	c := QuickCIFAR10Config()
	c.Model.Channels = []int{4, 4, 4, 4, 4}
	c.Model.CriticChannels = []int{2, 2, 2, 2, 2, 2}
	c.BatchSize = 4
	c.TrainLimit = 0
	c.Epochs = 2
	c.LogEvery = 1
	return c
}

// fakeCIFAR returns n random images in 10 classes.
func fakeCIFAR(n int, seed uint64) *cifar10.Set {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &cifar10.Set{Images: make([]uint8, n*cifar10.ImageBytes), Labels: make([]uint8, n), Classes: cifar10.ClassNames[:], N: n}
	for i := range s.Images {
		s.Images[i] = uint8(rng.IntN(256))
	}
	for i := range s.Labels {
		s.Labels[i] = uint8(i % 10)
	}
	return s
}

// A smoke run of the whole experiment on tiny sizes: it writes the run
// folder the MNIST experiment writes, with finite metrics for every layer.
func TestCIFAR10SmokeRun(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyCIFAR10Run()
	err := RunCIFAR10(context.Background(), cfg, CIFAR10RunOptions{Dir: dir, Train: fakeCIFAR(16, 1), Test: fakeCIFAR(8, 2)})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ConfigFile, MetricsFile, "ckpt-00000008.safetensors", "ckpt-00000004.safetensors",
		"samples-epoch001.png", "recon-epoch001.png", "recon-mean-epoch001.png", "recon1-epoch001.png", "samples-epoch002.png", "recon-epoch002.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
	}
	rows := readCSV(t, filepath.Join(dir, MetricsFile))
	if len(rows) != 1+8 {
		t.Fatalf("%d metric rows, want a header and 8", len(rows))
	}
	head := strings.Join(rows[0], ",")
	for _, col := range []string{"critic_x/ws", "critic_z5/osc", "critic_z3/gp", "net/recon_x", "net/recon_z4", "net/osc_z5", "net/loss"} {
		if !strings.Contains(head, col) {
			t.Errorf("metrics lack column %s: %s", col, head)
		}
	}
	for _, r := range rows[1:] {
		for j, v := range r {
			if f, err := strconv.ParseFloat(v, 64); err != nil || f != f {
				t.Fatalf("column %s = %q", rows[0][j], v)
			}
		}
	}
	// The checkpoint loads back into a trainer at its step.
	tr, _, err := LoadCIFAR10Trainer(dir, nil)
	if err != nil || tr.Step != 8 {
		t.Fatalf("load: step %v, %v", tr, err)
	}
	// The folder holds a run: a second fresh start is refused.
	if err := RunCIFAR10(context.Background(), cfg, CIFAR10RunOptions{Dir: dir, Train: fakeCIFAR(16, 1)}); !errors.Is(err, ErrRunExists) {
		t.Fatalf("second run: %v", err)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// A run stopped after 3 steps and resumed to 6 ends bit-identical to one
// that ran 6 steps at once (state, optimizers, noise stream and data order
// all come back from the checkpoint).
func TestCIFAR10Resume(t *testing.T) {
	cfg := tinyCIFAR10Run()
	cfg.CheckpointEvery = 1
	train, test := fakeCIFAR(16, 3), fakeCIFAR(4, 4)
	whole, parts := t.TempDir(), t.TempDir()
	if err := RunCIFAR10(context.Background(), cfg, CIFAR10RunOptions{Dir: whole, Train: train, Test: test, MaxSteps: 6}); err != nil {
		t.Fatal(err)
	}
	if err := RunCIFAR10(context.Background(), cfg, CIFAR10RunOptions{Dir: parts, Train: train, Test: test, MaxSteps: 3}); err != nil {
		t.Fatal(err)
	}
	if err := RunCIFAR10(context.Background(), CIFAR10Config{}, CIFAR10RunOptions{Dir: parts, Resume: true, Train: train, Test: test, MaxSteps: 6}); err != nil {
		t.Fatal(err)
	}
	a, _, err := checkpoint.Load(filepath.Join(whole, "ckpt-00000006.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := checkpoint.Load(filepath.Join(parts, "ckpt-00000006.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d and %d tensors", len(a), len(b))
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !tensor.SameShape(v.Shape(), w.Shape()) {
			t.Fatalf("tensor %s differs in shape", k)
		}
		for i := 0; i < v.Len(); i++ {
			if v.At(i) != w.At(i) {
				t.Fatalf("tensor %s element %d: %g whole, %g resumed", k, i, v.At(i), w.At(i))
			}
		}
	}
	if rows := readCSV(t, filepath.Join(parts, MetricsFile)); len(rows) != 7 {
		t.Fatalf("resumed metrics: %d rows, want 7", len(rows))
	}
}

func TestCIFAR10RunRefusals(t *testing.T) {
	ctx := context.Background()
	cfg := tinyCIFAR10Run()
	// Resume of a folder with no run.
	if err := RunCIFAR10(ctx, cfg, CIFAR10RunOptions{Dir: t.TempDir(), Resume: true, Train: fakeCIFAR(8, 1)}); err == nil || !strings.Contains(err.Error(), "nothing to resume") {
		t.Errorf("resume of an empty folder: %v", err)
	}
	// Too few images for a batch.
	cfg.BatchSize = 9
	if err := RunCIFAR10(ctx, cfg, CIFAR10RunOptions{Dir: t.TempDir(), Train: fakeCIFAR(8, 1)}); err == nil || !strings.Contains(err.Error(), "exceeds the 8 training images") {
		t.Errorf("small set: %v", err)
	}
	// A folder holding an MNIST run is not resumed as CIFAR-10.
	dir := t.TempDir()
	if err := SaveConfig(filepath.Join(dir, ConfigFile), QuickConfig("local")); err != nil {
		t.Fatal(err)
	}
	if err := RunCIFAR10(ctx, cfg, CIFAR10RunOptions{Dir: dir, Resume: true, Train: fakeCIFAR(8, 1)}); err == nil || !strings.Contains(err.Error(), `holds a "mnist" run`) {
		t.Errorf("mnist folder: %v", err)
	}
}

func TestCIFAR10ConfigValidate(t *testing.T) {
	if err := PaperCIFAR10Config().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*CIFAR10Config){
		"experiment": func(c *CIFAR10Config) { c.Experiment = "mnist" },
		"image size": func(c *CIFAR10Config) { c.Model.ImageSize = 64 },
		"scale":      func(c *CIFAR10Config) { c.PixelScale = "bytes" },
		"gamma":      func(c *CIFAR10Config) { c.Objective.Gamma = 2 },
		"batch":      func(c *CIFAR10Config) { c.BatchSize = 0 },
		"pictures":   func(c *CIFAR10Config) { c.PictureEvery = -1 },
	} {
		c := PaperCIFAR10Config()
		edit(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
