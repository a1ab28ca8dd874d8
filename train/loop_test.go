package train

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/data/mnist"
	"github.com/wakesleep/wakesleep/model"
)

// fakeMNIST returns n random 28×28 "digits" with labels.
func fakeMNIST(n int, seed uint64) *mnist.Set {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &mnist.Set{N: n, Rows: 28, Cols: 28, Images: make([]uint8, n*784), Labels: make([]uint8, n)}
	for i := range s.Images {
		if rng.IntN(4) == 0 {
			s.Images[i] = uint8(rng.IntN(256))
		}
	}
	for i := range s.Labels {
		s.Labels[i] = uint8(rng.IntN(10))
	}
	return s
}

// tinyConfig is the MNIST experiment with narrow layers, for fast tests.
func tinyConfig(critic string) Config {
	c := QuickConfig(critic)
	c.Model.Hidden, c.Model.CriticWidth, c.Model.ZDim = 32, 32, 8
	c.BatchSize = 16
	c.Epochs = 2
	c.LogEvery = 2
	return c
}

func runTiny(t *testing.T, cfg Config, dir string, resume bool, maxSteps int) error {
	t.Helper()
	return Run(context.Background(), cfg, RunOptions{Dir: dir, Resume: resume,
		Train: fakeMNIST(64, 1), Test: fakeMNIST(40, 2), MaxSteps: maxSteps})
}

func TestSmokeRun(t *testing.T) {
	for _, critic := range []string{model.CriticGlobal, model.CriticLocal} {
		t.Run(critic, func(t *testing.T) {
			dir := t.TempDir()
			if err := runTiny(t, tinyConfig(critic), dir, false, 0); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{ConfigFile, MetricsFile, "samples-epoch001.png", "samples-epoch002.png", "recon-epoch002.png", "ckpt-00000008.safetensors"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("missing %s: %v", f, err)
				}
			}
			// A second fresh run in the same folder is refused.
			if err := runTiny(t, tinyConfig(critic), dir, false, 0); !errors.Is(err, ErrRunExists) {
				t.Errorf("second run in the same folder: got %v, want ErrRunExists", err)
			}
		})
	}
}

func params(t *testing.T, dir string) map[string][]float32 {
	t.Helper()
	path, _, err := checkpoint.Latest(dir, CheckpointPrefix)
	if err != nil {
		t.Fatal(err)
	}
	ts, _, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for k, v := range ts {
		out[k] = v.Float32s()
	}
	return out
}

// N+M steps in one go give bit-identical parameters and optimizer state to N
// steps, stop, resume, M steps, across an epoch boundary.
func TestResumeIsBitIdentical(t *testing.T) {
	for _, critic := range []string{model.CriticGlobal, model.CriticLocal} {
		t.Run(critic, func(t *testing.T) {
			cfg := tinyConfig(critic)
			a, b := t.TempDir(), t.TempDir()
			if err := runTiny(t, cfg, a, false, 7); err != nil {
				t.Fatal(err)
			}
			if err := runTiny(t, cfg, b, false, 3); err != nil {
				t.Fatal(err)
			}
			if err := runTiny(t, Config{Experiment: "mnist"}, b, true, 7); err != nil {
				t.Fatal(err)
			}
			pa, pb := params(t, a), params(t, b)
			if len(pa) != len(pb) {
				t.Fatalf("%d tensors vs %d", len(pa), len(pb))
			}
			for k, va := range pa {
				vb := pb[k]
				for i := range va {
					if va[i] != vb[i] {
						t.Fatalf("%s[%d]: %v uninterrupted, %v resumed", k, i, va[i], vb[i])
					}
				}
			}
		})
	}
}

// Cancelling (Ctrl-C) saves a checkpoint of the last completed step.
func TestCancelSavesCheckpoint(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	err := Run(ctx, tinyConfig(model.CriticLocal), RunOptions{Dir: dir, Train: fakeMNIST(64, 1), Test: fakeMNIST(40, 2),
		OnStep: func(tr *Trainer) {
			if tr.Step == 3 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if _, step, err := checkpoint.Latest(dir, CheckpointPrefix); err != nil || step != 3 {
		t.Fatalf("latest checkpoint step %d (%v), want 3", step, err)
	}
}

// A corrupt newest checkpoint is refused with a message; the previous good
// one is used to resume.
func TestResumeFallsBackPastCorruptCheckpoint(t *testing.T) {
	dir := t.TempDir()
	if err := runTiny(t, tinyConfig(model.CriticLocal), dir, false, 0); err != nil {
		t.Fatal(err)
	}
	newest := filepath.Join(dir, "ckpt-00000008.safetensors")
	st, err := os.Stat(newest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(newest, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadTrainer(newest); err == nil {
		t.Fatal("a truncated checkpoint loaded")
	}
	var log strings.Builder
	err = Run(context.Background(), Config{Experiment: "mnist", Epochs: 3}, RunOptions{Dir: dir, Resume: true, Out: &log,
		Train: fakeMNIST(64, 1), Test: fakeMNIST(40, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "warning") || !strings.Contains(log.String(), "resumed "+filepath.Join(dir, "ckpt-00000004.safetensors")) {
		t.Errorf("log does not report the fallback:\n%s", log.String())
	}
	if _, step, err := checkpoint.Latest(dir, CheckpointPrefix); err != nil || step != 12 {
		t.Errorf("latest step %d (%v), want 12", step, err)
	}
}
