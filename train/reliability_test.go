package train

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/tensor"
)

// checkpointSteps returns the steps of the checkpoints in dir that load.
func checkpointSteps(t *testing.T, dir string) []int {
	t.Helper()
	var steps []int
	for s := 0; s <= 64; s++ {
		p := filepath.Join(dir, checkpoint.FileName(CheckpointPrefix, s))
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if err := checkpoint.Verify(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		steps = append(steps, s)
	}
	return steps
}

// wantGoodLatest checks that the newest checkpoint in dir is the one of step
// want, that it loads into a trainer and that every tensor in it is finite.
func wantGoodLatest(t *testing.T, dir string, want int) {
	t.Helper()
	path, step, err := checkpoint.Latest(dir, CheckpointPrefix)
	if err != nil || step != want {
		t.Fatalf("latest checkpoint %s step %d (%v), want step %d", path, step, err, want)
	}
	tr, _, err := LoadTrainer(path)
	if err != nil {
		t.Fatalf("last good checkpoint does not load: %v", err)
	}
	if tr.Step != want {
		t.Errorf("loaded step %d, want %d", tr.Step, want)
	}
	ts, _, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if name := nonFinite(ts); name != "" {
		t.Errorf("%s holds a non-finite %s", path, name)
	}
}

// poison sets one bias of the inference network to v, which reaches every
// loss term.
func poison(tr *Trainer, v float64) {
	tr.Model.Inference.First.Hidden.B.Value.SetAt(0, v)
}

// A NaN or Inf stops the run with an error naming the step and the term;
// the checkpoints written before stay, and the newest loads. An infinite
// bias makes a loss term NaN; a NaN bias does not reach the loss (ReLU
// maps NaN to 0) but is caught in the parameters after the update.
func TestNaNLossStopsRun(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want []string
	}{
		{math.Inf(1), []string{"step 4: critic loss (", " = NaN) is NaN or infinite"}},
		{math.NaN(), []string{"step 4: network parameter inference.first.hidden.bias after the update is NaN or infinite"}},
	} {
		v := tc.v
		dir := t.TempDir()
		cfg := tinyConfig(model.CriticLocal)
		cfg.CheckpointEvery = 2
		err := Run(context.Background(), cfg, RunOptions{Dir: dir, Train: fakeMNIST(64, 1), Test: fakeMNIST(40, 2),
			OnStep: func(tr *Trainer) {
				if tr.Step == 3 {
					poison(tr, v)
				}
			}})
		var ne *NumericError
		if !errors.As(err, &ne) || !errors.Is(err, ErrNumeric) {
			t.Fatalf("%g: got %v, want a *NumericError", v, err)
		}
		msg := err.Error()
		t.Log(msg)
		for _, want := range append(tc.want, "(last good checkpoint kept: "+filepath.Join(dir, "ckpt-00000002.safetensors")+", step 2)") {
			if !strings.Contains(msg, want) {
				t.Errorf("%g: message lacks %q: %s", v, want, msg)
			}
		}
		if ne.Step != 4 {
			t.Errorf("step %d, want 4", ne.Step)
		}
		if got := checkpointSteps(t, dir); len(got) != 1 || got[0] != 2 {
			t.Errorf("checkpoints at steps %v, want [2]", got)
		}
		wantGoodLatest(t, dir, 2)
	}
}

// An update that overflows (a finite gradient, an absurd learning rate)
// leaves parameters infinite: the run stops at that step, naming the
// parameter, and no checkpoint of it is written.
func TestOverflowingUpdateStopsRun(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(model.CriticGlobal)
	cfg.CheckpointEvery = 1
	err := Run(context.Background(), cfg, RunOptions{Dir: dir, Train: fakeMNIST(64, 1), Test: fakeMNIST(40, 2),
		OnStep: func(tr *Trainer) {
			if tr.Step == 2 {
				tr.Config.NetworkAdam.LearningRate = 1e39 // finite in float64, +Inf in float32
			}
		}})
	if !errors.Is(err, ErrNumeric) {
		t.Fatalf("got %v, want a numeric error", err)
	}
	t.Log(err)
	if msg := err.Error(); !strings.Contains(msg, "step 3: network parameter ") || !strings.Contains(msg, "after the update is NaN or infinite") {
		t.Errorf("message: %s", msg)
	}
	if got := checkpointSteps(t, dir); len(got) != 2 || got[1] != 2 {
		t.Errorf("checkpoints at steps %v, want [1 2]", got)
	}
	wantGoodLatest(t, dir, 2)
}

// Ctrl-C saves a checkpoint, but never one holding NaN or Inf: a trainer
// whose weights went bad is refused, and the previous checkpoint stays.
func TestInterruptNeverSavesNonFinite(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(model.CriticLocal)
	cfg.CheckpointEvery = 2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := Run(ctx, cfg, RunOptions{Dir: dir, Train: fakeMNIST(64, 1), Test: fakeMNIST(40, 2),
		OnStep: func(tr *Trainer) {
			if tr.Step == 3 {
				poison(tr, math.NaN())
				cancel()
			}
		}})
	if !errors.Is(err, ErrNumeric) || !strings.Contains(err.Error(), `checkpoint tensor model.inference.first.hidden.bias`) {
		t.Fatalf("got %v, want a numeric error naming the tensor", err)
	}
	t.Log(err)
	wantGoodLatest(t, dir, 2)
}

// A run killed before its first checkpoint (config.json only) resumes from
// step 0 and ends where an uninterrupted run does.
func TestResumeBeforeFirstCheckpoint(t *testing.T) {
	cfg := tinyConfig(model.CriticLocal)
	a, b := t.TempDir(), t.TempDir()
	if err := runTiny(t, cfg, a, false, 5); err != nil {
		t.Fatal(err)
	}
	if err := SaveConfig(filepath.Join(b, ConfigFile), cfg); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	err := Run(context.Background(), Config{Experiment: "mnist"}, RunOptions{Dir: b, Resume: true, Out: &log,
		Train: fakeMNIST(64, 1), Test: fakeMNIST(40, 2), MaxSteps: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "warning: "+b+" has no checkpoint yet") {
		t.Errorf("log: %s", log.String())
	}
	pa, pb := params(t, a), params(t, b)
	for k, va := range pa {
		for i := range va {
			if math.Float32bits(va[i]) != math.Float32bits(pb[k][i]) {
				t.Fatalf("%s[%d]: %v vs %v", k, i, va[i], pb[k][i])
			}
		}
	}
}

// Data that cannot feed the model are refused before the run folder is
// created; a test set smaller than the reconstruction grid is fine.
func TestRunChecksData(t *testing.T) {
	cfg := tinyConfig(model.CriticLocal)
	small := fakeMNIST(64, 1)
	small.Rows, small.Cols, small.Images = 10, 10, small.Images[:64*100]
	for _, tc := range []struct {
		opts RunOptions
		want string
	}{
		{RunOptions{Train: small}, "training images are 10×10, the model takes 784 pixels"},
		{RunOptions{Train: fakeMNIST(64, 1), Test: small}, "test images are 10×10"},
		{RunOptions{Train: fakeMNIST(15, 1)}, "batch size 16 × critic steps 1 exceeds the 15 training images"},
		{RunOptions{}, "no training data"},
	} {
		tc.opts.Dir = filepath.Join(t.TempDir(), "run")
		err := Run(context.Background(), cfg, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
		if _, err := os.Stat(tc.opts.Dir); !os.IsNotExist(err) {
			t.Errorf("refused run created its folder (%v)", err)
		}
	}
	if err := Run(context.Background(), cfg, RunOptions{Dir: t.TempDir(), Train: fakeMNIST(64, 1), Test: fakeMNIST(5, 2), MaxSteps: 4}); err != nil {
		t.Errorf("five test digits: %v", err)
	}
}

// Config.Validate refuses what would otherwise pass NaN comparisons or ask
// for absurd allocations.
func TestValidateRefusesNonFiniteAndAbsurd(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"gamma NaN":        func(c *Config) { c.Objective.Gamma = math.NaN() },
		"lambda Inf":       func(c *Config) { c.Objective.Lambda = math.Inf(1) },
		"recon weight NaN": func(c *Config) { c.Objective.ReconWeight = math.NaN() },
		"x_dim":            func(c *Config) { c.Model.XDim = 100 },
		"hidden":           func(c *Config) { c.Model.Hidden = 1 << 40 },
		"critic depth":     func(c *Config) { c.Model.CriticDepth = 1000 },
		"recurrent steps":  func(c *Config) { c.Model.RecurrentSteps = 1 << 20 },
	} {
		c := tinyConfig(model.CriticLocal)
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Resuming removes the temporary files of writes cut short by a kill, and
// nothing else.
func TestResumeRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(model.CriticLocal)
	if err := runTiny(t, cfg, dir, false, 2); err != nil {
		t.Fatal(err)
	}
	stale := []string{".ckpt-00000003.safetensors.tmp-123456", ".config.json.tmp-42", ".samples-epoch001.png.tmp-7"}
	for _, n := range append(slices.Clone(stale), "notes.txt", ".keep") {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := runTiny(t, Config{Experiment: "mnist"}, dir, true, 3); err != nil {
		t.Fatal(err)
	}
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(dir, n)); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", n, err)
		}
	}
	for _, n := range []string{"notes.txt", ".keep"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
}

// A run killed after an epoch's last checkpoint but before its pictures
// writes them when resumed, byte for byte as the uninterrupted run did.
func TestResumeWritesMissingPictures(t *testing.T) {
	dir := t.TempDir()
	if err := runTiny(t, tinyConfig(model.CriticLocal), dir, false, 8); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for _, n := range []string{"samples-epoch002.png", "recon-epoch002.png"} {
		p := filepath.Join(dir, n)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want[n] = b
		os.Remove(p)
	}
	if err := runTiny(t, Config{Experiment: "mnist"}, dir, true, 8); err != nil {
		t.Fatal(err)
	}
	for n, b := range want {
		got, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil || !slices.Equal(got, b) {
			t.Errorf("%s not rewritten as it was (%v)", n, err)
		}
	}
}

// A checkpoint whose critic optimizer state is damaged is refused and leaves
// the trainer exactly as it was, network optimizer included.
func TestRestoreFailureChangesNothing(t *testing.T) {
	a, err := NewTrainer(tinyConfig(model.CriticLocal))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.TrainStep(a.Batches(fakeMNIST(64, 1), 0)); err != nil {
		t.Fatal(err)
	}
	ts, meta, err := a.State()
	if err != nil {
		t.Fatal(err)
	}
	for k := range ts {
		if strings.HasPrefix(k, "critic.adam.m.") {
			delete(ts, k)
			break
		}
	}
	b, err := NewTrainer(tinyConfig(model.CriticLocal))
	if err != nil {
		t.Fatal(err)
	}
	before := b.Network.State()
	if err := b.Restore(ts, meta); err == nil {
		t.Fatal("restore with a missing critic moment succeeded")
	}
	if b.Network.Step != 0 || b.Step != 0 {
		t.Fatalf("network step %d, step %d after a failed restore", b.Network.Step, b.Step)
	}
	for k, v := range b.Network.State() {
		if tensor.Dot(v, v) != tensor.Dot(before[k], before[k]) {
			t.Fatalf("%s changed by a failed restore", k)
		}
	}
}
